"""Disaster recovery in Slack: DR status per pair, and the helpers the failover plan
(bot/render/dr_plan.py) and a run's steps (bot/render/dr_run.py) share. Pure functions
of core's records (core/dr/status.py, core/dr/failover.py).

Ages are formatted with core's `fmt_age`, the one formatter the CLI and the console use, so
`/kafka dr` shows exactly what `kafkaops dr status` shows. Core's messages name CLI commands
(`kafkaops failover resume`); every one of them exists as `/kafka ...` too, so in Slack they
are shown with the slash command instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from kafkaops.bot.render.common import (
    MAX_BLOCKS,
    MAX_SECTION_TEXT,
    Block,
    Message,
    context,
    divider,
    esc,
    fields,
    header,
    page_of,
    pager,
    plural,
    section,
    who,
)
from kafkaops.core.capabilities import in_slack_words
from kafkaops.core.dr.model import DrStatus
from kafkaops.core.dr.rpo import answer_text, fmt_age, rpo_verdict

# ---------------------------------------------------------------- small helpers


def verdict(ok: bool | None) -> str:
    """The words `kafkaops dr status` uses."""
    return "OK" if ok else ("UNKNOWN" if ok is None else "BEYOND RPO")


def slash(text: str, command: str) -> str:
    """Core's advice names CLI commands (`kafkaops failover resume`); in Slack they are
    given in Slack's words (core/capabilities.py)."""
    return in_slack_words(text, command)


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def when(ts: float) -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    fallback = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{fallback}>"


def line_sections(lines: Sequence[str], *, max_blocks: int, more: str = "items") -> list[Block]:
    """mrkdwn lines packed into as few sections as fit (3,000 characters each); beyond
    `max_blocks` sections the rest are counted, not dropped silently."""
    budget = MAX_SECTION_TEXT - 60
    chunks: list[list[str]] = [[]]
    size = 0
    for ln in lines:
        ln = ln if len(ln) <= budget else ln[: budget - 1] + "…"
        if chunks[-1] and size + len(ln) + 1 > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(ln)
        size += len(ln) + 1
    chunks = [c for c in chunks if c]
    left_out = 0
    if len(chunks) > max_blocks:
        left_out = sum(len(c) for c in chunks[max_blocks:])
        chunks = chunks[:max_blocks]
    blocks = [section("\n".join(c)) for c in chunks]
    if left_out and blocks:
        last = blocks[-1]["text"]["text"]
        blocks[-1] = section(f"{last}\n… {left_out:,} more {more} not shown")
    return blocks


# ---------------------------------------------------------------- DR status


def _status_emoji(s: DrStatus) -> str:
    if s.rpo_ok is False or s.heartbeat_ok is False or not s.target_reachable:
        return ":red_circle:"
    if s.rpo_ok is None or s.heartbeat_ok is None:
        return ":white_circle:"
    if not s.source_reachable:  # never green while a cluster of the pair does not answer
        return ":large_yellow_circle:"
    if rpo_verdict(s) != "OK":  # an estimate not measured on the data
        return ":large_yellow_circle:"
    if s.problems:
        return ":large_yellow_circle:"
    return ":large_green_circle:"


def status_line(s: DrStatus) -> str:
    """One line per pair: what the notification text and the overflow list show."""
    return (
        f"DR {s.pair}: active {s.active} (epoch {s.epoch}), RPO estimate "
        f"{fmt_age(s.rpo_estimate_seconds)} / target {fmt_age(s.rpo_seconds)} "
        f"{rpo_verdict(s)}, heartbeat {fmt_age(s.heartbeat_age_seconds)} old "
        f"{verdict(s.heartbeat_ok)}"
        + "".join(f"; {answer_text(c)}" for c in s.unreachable())
    )


def _pair_blocks(s: DrStatus, command: str, page: int = 1) -> list[Block]:
    hb = next((h for h in s.heartbeats if h.age_seconds is not None), None)
    heartbeat = (
        f"{fmt_age(s.heartbeat_age_seconds)} old · *{verdict(s.heartbeat_ok)}*\n"
        f"`{esc(hb.topic)}` on {esc(s.target)}"
        if hb
        else f"*UNKNOWN*: {esc(s.target)} did not answer" if not s.target_reachable
        else "none found · *UNKNOWN*"
    )
    pairs = [
        (
            "RPO estimate",
            f"{fmt_age(s.rpo_estimate_seconds)} / target {fmt_age(s.rpo_seconds)} · "
            f"*{esc(rpo_verdict(s))}*",
        ),
        ("Heartbeat", heartbeat),
        (
            "Worst replication lag",
            f"{_num(s.max_lag_messages)} record{'' if s.max_lag_messages == 1 else 's'} · "
            f"{fmt_age(s.max_lag_seconds)}",
        ),
        (
            "Reachable",
            "\n".join(esc(answer_text(c)) for c in s.clusters) if s.clusters else
            f"{esc(s.source)}: {'yes' if s.source_reachable else '*NO*'} · "
            f"{esc(s.target)}: {'yes' if s.target_reachable else '*NO*'}",
        ),
    ]
    if s.failover is not None:
        f = s.failover
        pairs.append((
            f"Last {f.direction}",
            f"`{esc(f.run_id)}` {esc(f.source)} → {esc(f.target)}, *{esc(f.state)}*, "
            f"{f.groups_done}/{f.groups_total} groups, by {who(f.by)} at {when(f.started_at)}",
        ))
    blocks: list[Block] = [
        header(f"DR pair {s.pair}"),
        section(
            f"{_status_emoji(s)} active cluster *{esc(s.active)}* (epoch {s.epoch}) · "
            f"replicating `{esc(s.source)}` → `{esc(s.target)}` (MM2 `{esc(s.source_alias)}` → "
            f"`{esc(s.target_alias)}`, {esc(s.policy)} policy)"
        ),
        fields(pairs),
    ]
    if s.topics:
        worst = sorted(s.topics, key=lambda t: (-(t.lag_seconds or 0), -(t.lag_messages or 0),
                                                t.topic))
        shown, _ = page_of(worst, page)
        lines = [f"`{esc(t.topic)}` → `{esc(t.remote_topic)}` · *{esc(t.state)}*\n"
                 f"      lag {_num(t.lag_messages)} ({fmt_age(t.lag_seconds)}) · ends "
                 f"{_num(t.source_end)} → {_num(t.target_end)} · "
                 f"{plural(t.partitions, 'partition')}"
                 for t in shown]
        blocks.append(section("*Replicated topics*, most behind first\n" + "\n".join(lines)))
        blocks += pager(len(worst), page, None, noun="topics")
    else:
        blocks.append(section("_No replicated topics found._"))
    if s.groups:
        oldest = sorted(s.groups, key=lambda g: (-(g.age_seconds or 0), g.group))
        shown_g, _ = page_of(oldest, page)
        lines = [f"*{esc(g.group)}* · {plural(g.partitions, 'partition')} · checkpoint "
                 f"{fmt_age(g.age_seconds)} old (oldest partition "
                 f"{fmt_age(g.oldest_partition_age_seconds)}) · "
                 + ("moves on failover" if g.moves_on_failover else "*stays*")
                 for g in shown_g]
        blocks.append(section("*Consumer groups' checkpoints*, oldest first\n"
                              + "\n".join(lines)))
        blocks += pager(len(oldest), page, None, noun="groups")
    else:
        blocks.append(section("_No MM2 checkpoints for any group._"))
    if s.problems:
        blocks += line_sections(
            [f":warning: {esc(slash(p, command))}" for p in s.problems],
            max_blocks=2,
            more="problems",
        )
    blocks.append(context(
        f"RPO estimate: {esc(s.rpo_basis)} · `{esc(command)} failover plan --pair "
        f"{esc(s.pair)}` shows what a failover would do"
    ))
    return blocks


def render_dr_status(statuses: Sequence[DrStatus], *, command: str = "/kafka",
                     page: int = 1) -> Message:
    """`/kafka dr`: each pair's active cluster, RPO, heartbeat, per topic lag and per group
    checkpoint age. Pairs that do not fit in one message are listed in one line each."""
    if not statuses:
        return Message(
            "no DR pairs configured",
            (section("No DR pairs are configured: add one under `dr: pairs:` in the config "
                     "(name, primary, secondary; see config.example.yaml)."),),
        )
    blocks: list[Block] = []
    left: list[DrStatus] = []
    for s in statuses:
        pb = _pair_blocks(s, command, page)
        extra = 1 if blocks else 0  # the divider
        if left or len(blocks) + extra + len(pb) > MAX_BLOCKS - 2:
            left.append(s)
            continue
        if blocks:
            blocks.append(divider())
        blocks += pb
    if left:
        blocks.append(section(
            "*More pairs* (`" + esc(command) + " dr --pair NAME` for one):\n"
            + "\n".join(f"{_status_emoji(s)} {esc(status_line(s))}" for s in left)
        ))
    return Message("; ".join(status_line(s) for s in statuses), tuple(blocks))
