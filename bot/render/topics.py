"""Cluster status, the topic list and one topic, as Block Kit. Pure functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafkaops.bot.render.common import (
    Block,
    Message,
    code_sections,
    context,
    esc,
    fields,
    fmt,
    header,
    human_ms,
    page_of,
    pager,
    plural,
    row,
    run_button,
    run_words,
    section,
    text_table,
)
from kafkaops.core.records import NOT_REPORTED, ClusterOverview, TopicDetail, TopicSummary


@dataclass(frozen=True)
class ClusterStatus:
    """One configured cluster as `status` saw it: its overview, or why there is none."""

    name: str
    """Cluster name from config."""
    overview: ClusterOverview | None
    """The overview, None when the cluster could not be read."""
    error: str | None = None
    """Why the overview is missing (e.g. unreachable), as core worded it."""


def _health(ov: ClusterOverview) -> tuple[str, str]:
    """(emoji, words) for a cluster's partition health."""
    problems = []
    if ov.offline_partitions:
        problems.append(f"{ov.offline_partitions:,} offline")
    if ov.under_replicated_partitions:
        problems.append(f"{ov.under_replicated_partitions:,} under-replicated")
    noun = "partition" if ov.offline_partitions + ov.under_replicated_partitions == 1 else (
        "partitions"
    )
    if ov.offline_partitions:
        return ":red_circle:", ", ".join(problems) + f" {noun}"
    if problems:
        return ":large_orange_circle:", ", ".join(problems) + f" {noun}"
    return ":large_green_circle:", "all partitions online and in sync"


def render_status(statuses: Sequence[ClusterStatus]) -> Message:
    blocks: list[Block] = [header("Kafka status")]
    summary = []
    for st in statuses:
        ov = st.overview
        if ov is None:
            blocks.append(section(f":black_circle: *{esc(st.name)}*: {esc(st.error or 'unknown')}"))
            summary.append(f"{st.name}: {st.error or 'unknown'}")
            continue
        emoji, words = _health(ov)
        ro = "  _(read-only)_" if ov.read_only else ""
        blocks.append(
            section(
                f"{emoji} *{esc(ov.name)}*{ro}: {words}\n"
                f"{plural(len(ov.brokers), 'broker')}, "
                f"{plural(ov.topic_count, 'topic')} ({ov.internal_topic_count:,} internal), "
                f"{plural(ov.partition_count, 'partition')}"
            )
        )
        brokers = ", ".join(
            f"{b.node_id} `{esc(b.host)}:{b.port}`{' (controller)' if b.is_controller else ''}"
            for b in ov.brokers
        )
        blocks.append(
            context(
                f"brokers: {brokers or 'none reported'}",
                f"cluster id `{esc(ov.cluster_id or '-')}` · "
                f"bootstrap `{esc(ov.bootstrap_servers)}`",
            )
        )
        summary.append(
            f"{ov.name}: {plural(len(ov.brokers), 'broker')}, {ov.offline_partitions} offline, "
            f"{ov.under_replicated_partitions} under-replicated"
        )
    if not statuses:
        blocks.append(section("No clusters are configured."))
    return Message("Kafka status: " + "; ".join(summary), tuple(blocks))


def render_topics(
    cluster: str,
    topics: Sequence[TopicSummary],
    *,
    name_filter: str | None,
    hidden_internal: int = 0,
    page: int = 1,
    again: Callable[[int], str] | None = None,
) -> Message:
    """Topics, ten to a page: unhealthy ones first, then by name; each with its shape on
    one line and what it keeps on the next, and a Details button."""
    what = f" matching `{esc(name_filter)}`" if name_filter else ""
    if not topics:
        text = f"No topics on {cluster}{' match ' + repr(name_filter) if name_filter else ''}."
        return Message(text, (section(f"No topics on *{esc(cluster)}*{what}."),))
    ordered = sorted(topics, key=lambda t: (-(t.offline_partitions * 2 + bool(t.under_replicated)),
                                            t.name))
    shown, start = page_of(ordered, page)
    blocks: list[Block] = [
        header(f"Topics on {cluster}"),
        context(
            f"{plural(len(topics), 'topic')}{what}"
            + (f" · {hidden_internal:,} internal hidden (`--internal` shows them)"
               if hidden_internal else "")
            + " · unhealthy first"
        ),
    ]
    for i, t in enumerate(shown):
        mark = ":red_circle:" if t.offline_partitions else (
            ":large_orange_circle:" if t.under_replicated else ":large_green_circle:")
        keeps = ", ".join(x for x in (
            f"retention {human_ms(t.retention_ms)}" if t.retention_ms else "",
            esc(t.cleanup_policy) if t.cleanup_policy else "") if x) or (
            f"retention: {NOT_REPORTED}")
        blocks.append(row(
            f"{mark} *{esc(t.name)}* · {plural(t.partitions, 'partition')} · RF "
            f"{t.replication_factor} · {_health_words(t)}\n"
            f"{_messages(t.messages)} · {keeps}",
            run_button("Details", run_words(["topic", "--cluster", cluster], t.name),
                       start + i)))
    blocks += pager(len(ordered), page, again, noun="topics")
    return Message(f"{plural(len(topics), 'topic')} on {cluster}", tuple(blocks))


def _messages(n: int | None) -> str:
    return "messages kept: not known" if n is None else plural(n, "message") + " kept"


def _health_words(t: TopicSummary) -> str:
    return "healthy" if not (t.offline_partitions or t.under_replicated) else _topic_health(t)


def _topic_health(t: TopicSummary) -> str:
    parts = []
    if t.offline_partitions:
        parts.append(f"{t.offline_partitions} offline")
    if t.under_replicated:
        parts.append(f"{t.under_replicated} under-repl")
    return ", ".join(parts) or "ok"


def render_topic(cluster: str, d: TopicDetail, *, page: int = 1,
                 again: Callable[[int], str] | None = None) -> Message:
    s = d.summary
    blocks: list[Block] = [
        header(f"Topic {s.name}"),
        fields(
            [
                ("Cluster", esc(cluster)),
                ("Partitions", fmt(s.partitions)),
                ("Replication factor", fmt(s.replication_factor)),
                ("Messages kept", fmt(s.messages)),
                ("Retention", esc(human_ms(s.retention_ms) or NOT_REPORTED)),
                ("Cleanup policy", esc(s.cleanup_policy or NOT_REPORTED)),
                ("Compression", esc(s.compression or NOT_REPORTED)),
                ("Health", _topic_health(s)),
            ]
        ),
    ]
    parts = sorted(d.partitions, key=lambda p: (p.leader is not None, len(p.isr) >= len(
        p.replicas), p.partition))  # offline, then under-replicated, first
    shown, _ = page_of(parts, page)
    lines = text_table(
        ["P", "LEADER", "ISR", "EARLIEST", "LATEST", "MESSAGES"],
        [
            (
                p.partition,
                p.leader if p.leader is not None else "OFFLINE",
                ",".join(str(r) for r in p.isr) + ("" if len(p.isr) >= len(p.replicas) else
                                                   f" of {len(p.replicas)}"),
                p.earliest,
                p.latest,
                p.messages,
            )
            for p in shown
        ],
        right=(0, 3, 4, 5),
    )
    blocks += code_sections(lines, max_blocks=2)
    blocks += pager(len(parts), page, again, noun="partitions")
    if d.configs:
        cfg = "\n".join(
            f"`{esc(c.name)}` = `{esc(c.value if c.value is not None else '(hidden)')}`"
            f" _({esc(c.source)})_"
            for c in d.configs
        )
        blocks.append(section("*Configs*\n" + cfg))
    else:
        blocks.append(section("*Configs*\nnone reported"))
    blocks.append(context(f"Configs not listed: {NOT_REPORTED}"))
    text = (
        f"topic {s.name} on {cluster}: {plural(s.partitions, 'partition')}, RF "
        f"{s.replication_factor}, "
        f"{fmt(s.messages)} messages, {_topic_health(s)}"
    )
    return Message(text, tuple(blocks))
