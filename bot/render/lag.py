"""Consumer lag in Slack: the groups that need attention, and one group partition by
partition. Pure functions of core's lag records (core/lag/service.py)."""

from __future__ import annotations

from collections.abc import Sequence

from kafkaops.bot.render.common import (
    Block,
    Message,
    code_sections,
    context,
    esc,
    fields,
    header,
    human_seconds,
    section,
    text_table,
)
from kafkaops.core.lag.service import GroupLag, LagSnapshot, PartitionLag
from kafkaops.core.lag.status import PartitionState, Status

_EMOJI = {
    Status.OK: ":large_green_circle:",
    Status.UNKNOWN: ":white_circle:",
    Status.WARN: ":large_yellow_circle:",
    Status.REWIND: ":large_orange_circle:",
    Status.STALL: ":large_orange_circle:",
    Status.STOP: ":red_circle:",
    Status.ERR: ":red_circle:",
    Status.DATA_LOSS: ":rotating_light:",
}


def _eta(seconds: float | None, trend: object) -> str:
    if seconds is None:
        return "not catching up" if trend is not None else "-"
    return "caught up" if seconds == 0 else human_seconds(seconds)


def _lag(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def attention_order(groups: Sequence[GroupLag]) -> list[GroupLag]:
    """Worst first: status severity, then age of the oldest unread record, then records."""
    return sorted(
        groups,
        key=lambda g: (-g.status.severity, -(g.lag_seconds or 0.0), -(g.lag or 0), g.group),
    )


def render_lag_overview(snap: LagSnapshot, *, top: int = 15, match: str | None = None) -> Message:
    what = f" matching `{esc(match)}`" if match else ""
    if not snap.groups:
        return Message(
            f"no consumer groups on {snap.cluster}",
            (section(f"No consumer groups{what} on *{esc(snap.cluster)}*."),),
        )
    ordered = attention_order(snap.groups)
    shown = ordered[:top]
    lines = text_table(
        ["GROUP", "STATUS", "STATE", "MEMBERS", "LAG", "LAG TIME", "TREND", "CATCH-UP"],
        [
            (
                g.group,
                g.status.label,
                g.state,
                g.member_count,
                _lag(g.lag),
                human_seconds(g.lag_seconds),
                g.trend.value if g.trend else "-",
                _eta(g.eta_seconds, g.trend),
            )
            for g in shown
        ],
        right=(3, 4, 5),
    )
    counts: dict[str, int] = {}
    for g in snap.groups:
        counts[g.status.label] = counts.get(g.status.label, 0) + 1
    tally = ", ".join(
        f"{n} {label}"
        for label, n in sorted(counts.items(), key=lambda kv: -Status.parse(kv[0]).severity)
    )
    more = (
        f"… {len(ordered) - top} more groups, all in better shape; `lag GROUP` for one"
        if len(ordered) > top
        else ""
    )
    blocks: list[Block] = [
        header(f"Consumer lag on {snap.cluster}"),
        context(f"{len(snap.groups)} groups{what}: {tally} · worst first"),
        *code_sections(lines, more=more, max_blocks=4),
        context(_window_note(snap.groups)),
    ]
    worst = ordered[0]
    text = (
        f"lag on {snap.cluster}: {tally}; worst {worst.group} {worst.status.label} "
        f"lag {_lag(worst.lag)} ({human_seconds(worst.lag_seconds)})"
    )
    return Message(text, tuple(blocks))


def _window_note(groups: Sequence[GroupLag]) -> str:
    samples = max((g.samples for g in groups), default=0)
    if samples <= 1:
        return (
            "status from one snapshot: only STOP and DATA LOSS can be told yet; WARN, ERR, "
            "STALL need a few snapshots over time (ask again in a minute)"
        )
    window = max((g.window_seconds for g in groups), default=0.0)
    return f"status judged over {samples} snapshots spanning {human_seconds(window)}"


def _partition_state(p: PartitionLag) -> str:
    if p.state is PartitionState.DATA_LOSS:
        return f"DATA LOSS ({_lag(p.lost)} lost)"
    if p.state is not PartitionState.OK:
        return p.state.value
    return p.status.label


def render_group_lag(snap: LagSnapshot, g: GroupLag) -> Message:
    members = "not reported" if g.members is None else str(len(g.members))
    blocks: list[Block] = [
        header(f"Lag of {g.group}"),
        section(
            f"{_EMOJI[g.status]} *{esc(g.group)}* is *{g.status.label}* on "
            f"{esc(snap.cluster)}: lag {_lag(g.lag)} records, oldest unread record "
            f"{human_seconds(g.lag_seconds)} old"
            + (
                " · :rotating_light: records were deleted before the group read them"
                if g.data_loss
                else ""
            )
            + (f"\n:warning: {esc(g.error)}" if g.error else "")
        ),
        fields(
            [
                ("Group state", esc(g.state)),
                ("Members", members),
                ("Trend", g.trend.value if g.trend else "-"),
                ("Catch-up", _eta(g.eta_seconds, g.trend)),
            ]
        ),
    ]
    lines = text_table(
        ["TOPIC", "P", "COMMITTED", "END", "LAG", "LAG TIME", "STATUS", "CATCH-UP"],
        [
            (
                p.topic,
                p.partition,
                "no offset" if p.committed is None else f"{p.committed:,}",
                _lag(p.end),
                _lag(p.lag),
                human_seconds(p.lag_seconds),
                _partition_state(p),
                _eta(p.eta_seconds, p.trend),
            )
            for p in g.partitions
        ],
        right=(1, 2, 3, 4, 5),
    )
    blocks += code_sections(lines, max_blocks=6)
    blocks.append(context(_window_note([g])))
    text = (
        f"{g.group}: {g.status.label}, lag {_lag(g.lag)}, "
        f"{human_seconds(g.lag_seconds)} behind, state {g.state}"
    )
    return Message(text, tuple(blocks))
