"""Cluster status, the topic list and one topic, as Block Kit. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
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
                f"{ov.topic_count:,} topics ({ov.internal_topic_count:,} internal), "
                f"{ov.partition_count:,} partitions"
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


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def render_topics(
    cluster: str,
    topics: Sequence[TopicSummary],
    *,
    name_filter: str | None,
    hidden_internal: int = 0,
) -> Message:
    what = f" matching `{esc(name_filter)}`" if name_filter else ""
    if not topics:
        text = f"No topics on {cluster}{' match ' + repr(name_filter) if name_filter else ''}."
        return Message(text, (section(f"No topics on *{esc(cluster)}*{what}."),))
    rows = [
        (
            t.name,
            t.partitions,
            t.replication_factor,
            human_ms(t.retention_ms),
            t.cleanup_policy,
            t.messages,
            _topic_health(t),
        )
        for t in topics
    ]
    lines = text_table(
        ["TOPIC", "PARTS", "RF", "RETENTION", "CLEANUP", "MESSAGES", "HEALTH"],
        rows,
        right=(1, 2, 5),
    )
    blocks: list[Block] = [
        header(f"Topics on {cluster}"),
        context(
            f"{len(topics):,} topic{'s' if len(topics) != 1 else ''}{what}"
            + (f" · {hidden_internal:,} internal hidden" if hidden_internal else "")
            + f" · `-` in RETENTION or CLEANUP: {NOT_REPORTED}"
        ),
    ]
    bad = [t for t in topics if t.offline_partitions or t.under_replicated]
    if bad:
        names = ", ".join(f"`{esc(t.name)}` ({_topic_health(t)})" for t in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        blocks.append(section(f":warning: {names}{more}"))
    blocks += code_sections(lines, max_blocks=8)
    return Message(f"{len(topics)} topics on {cluster}", tuple(blocks))


def _topic_health(t: TopicSummary) -> str:
    parts = []
    if t.offline_partitions:
        parts.append(f"{t.offline_partitions} offline")
    if t.under_replicated:
        parts.append(f"{t.under_replicated} under-repl")
    return ", ".join(parts) or "ok"


def render_topic(cluster: str, d: TopicDetail) -> Message:
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
    lines = text_table(
        ["PART", "LEADER", "REPLICAS", "ISR", "EARLIEST", "LATEST", "MESSAGES"],
        [
            (
                p.partition,
                p.leader if p.leader is not None else "OFFLINE",
                p.replicas,
                p.isr,
                p.earliest,
                p.latest,
                p.messages,
            )
            for p in d.partitions
        ],
        right=(0, 4, 5, 6),
    )
    blocks += code_sections(lines, max_blocks=6)
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
        f"topic {s.name} on {cluster}: {s.partitions} partitions, RF {s.replication_factor}, "
        f"{fmt(s.messages)} messages, {_topic_health(s)}"
    )
    return Message(text, tuple(blocks))
