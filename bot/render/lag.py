"""Consumer lag in Slack: the groups that need attention, and one group partition by
partition. Pure functions of core's lag records (core/lag/service.py).

Written for a phone: one short section per group (two lines), ten to a page with Next,
each with the next action as a button (a stopped group that is behind: Plan reset, which
opens the offset-reset form; any other: Details).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from kafkaops.bot.render.common import (
    Block,
    Message,
    button,
    context,
    esc,
    fields,
    header,
    human_seconds,
    page_of,
    pager,
    plural,
    row,
    run_button,
    run_words,
    section,
)
from kafkaops.core.lag.model import GroupLag, LagSnapshot, PartitionLag, group_basis, status_basis
from kafkaops.core.lag.status import PartitionState, Status

#: the button that opens the offset-reset form for a group (bot/commands/offsets.py)
RESET_ACTION = "kafkaops.reset.open"
_EMOJI = {
    Status.OK: ":large_green_circle:",
    Status.UNKNOWN: ":white_circle:",
    Status.WARN: ":large_yellow_circle:",
    Status.REWIND: ":large_orange_circle:",
    Status.STALL: ":large_orange_circle:",
    Status.STOP: ":red_circle:",
    Status.ERR: ":red_circle:",
    Status.DATA_LOSS: ":rotating_light:",
    Status.WARMING_UP: ":hourglass_flowing_sand:",
}
Again = Callable[[int], str] | None


def _eta(seconds: float | None, trend: object) -> str:
    if seconds is None:
        return "not catching up" if trend is not None else "catch-up unknown"
    return "caught up" if seconds == 0 else f"caught up in {human_seconds(seconds)}"


def _lag(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def attention_order(groups: Sequence[GroupLag]) -> list[GroupLag]:
    """Worst first: status severity, then age of the oldest unread record, then records."""
    return sorted(
        groups,
        key=lambda g: (-g.status.severity, -(g.lag_seconds or 0.0), -(g.lag or 0), g.group),
    )


def needs_reset(g: GroupLag) -> bool:
    """A group a reset may help: behind, and stopped (a reset needs no members)."""
    return g.status.severity > Status.OK.severity and g.member_count == 0 and bool(g.lag)


def reset_button(cluster: str, group: str) -> Block:
    """Plan reset: opens the offset-reset form for the group (pickers, then the plan and
    Confirm); the value is checked again when clicked."""
    value = json.dumps({"cluster": cluster, "group": group}, separators=(",", ":"))
    return button("Plan reset", RESET_ACTION, value)


def _behind(g: GroupLag) -> str:
    if g.lag_seconds is None:
        return "age unknown"
    return f"{human_seconds(g.lag_seconds)} behind"


def _members(g: GroupLag) -> str:
    n = g.member_count
    return "members not reported" if n is None else plural(n, "member")


def group_row(cluster: str, g: GroupLag, n: int, command: str) -> Block:
    title = (f"{_EMOJI[g.status]} *{esc(g.group)}* · *{g.status.label}* · lag "
             f"{_lag(g.lag)} · {_behind(g)}")
    trend = g.trend.value if g.trend else "trend unknown"
    detail = f"{esc(g.state)} · {_members(g)} · {trend} · {_eta(g.eta_seconds, g.trend)}"
    if needs_reset(g):
        accessory = reset_button(cluster, g.group)
    else:
        accessory = run_button("Details", run_words(["lag", "--cluster", cluster], g.group), n)
    return row(f"{title}\n{detail}", accessory)


def render_lag_overview(snap: LagSnapshot, *, match: str | None = None, page: int = 1,
                        again: Again = None, command: str = "/kafka") -> Message:
    what = f" matching `{esc(match)}`" if match else ""
    if not snap.groups:
        return Message(
            f"no consumer groups on {snap.cluster}",
            (section(f"No consumer groups{what} on *{esc(snap.cluster)}*."),),
        )
    ordered = attention_order(snap.groups)
    shown, start = page_of(ordered, page)
    counts: dict[str, int] = {}
    for g in snap.groups:
        counts[g.status.label] = counts.get(g.status.label, 0) + 1
    tally = ", ".join(
        f"{n} {label}"
        for label, n in sorted(counts.items(), key=lambda kv: -Status.parse(kv[0]).severity)
    )
    blocks: list[Block] = [
        header(f"Consumer lag on {snap.cluster}"),
        context(f"{plural(len(snap.groups), 'group')}{what}: {tally} · worst first"),
        *[group_row(snap.cluster, g, start + i, command) for i, g in enumerate(shown)],
        *pager(len(ordered), page, again, noun="groups"),
        context(status_basis(snap)),
    ]
    worst = ordered[0]
    text = (
        f"lag on {snap.cluster}: {tally}; worst {worst.group} {worst.status.label} "
        f"lag {_lag(worst.lag)} ({human_seconds(worst.lag_seconds)})"
    )
    return Message(text, tuple(blocks))


def _partition_state(p: PartitionLag) -> str:
    if p.state is PartitionState.DATA_LOSS:
        return f"DATA LOSS ({_lag(p.lost)} lost)"
    if p.state is not PartitionState.OK:
        return p.state.value
    return p.status.label


def _partition_line(p: PartitionLag) -> str:
    where = f"`{esc(p.topic)}[{p.partition}]`"
    if p.committed is None:
        return f"{where} no offset committed · end {_lag(p.end)}"
    age = "" if p.lag_seconds is None else f" ({human_seconds(p.lag_seconds)})"
    trend = f", {p.trend.value}" if p.trend else ""
    return (f"{where} lag *{_lag(p.lag)}*{age} · {_partition_state(p)}{trend}\n"
            f"      committed {p.committed:,} of {_lag(p.end)}")


def render_group_lag(snap: LagSnapshot, g: GroupLag, *, page: int = 1, again: Again = None,
                     command: str = "/kafka") -> Message:
    """One group: its verdict, then its partitions (worst first, ten to a page)."""
    blocks: list[Block] = [
        header(f"Lag of {g.group}"),
        section(
            f"{_EMOJI[g.status]} *{esc(g.group)}* is *{g.status.label}* on "
            f"{esc(snap.cluster)}: lag {_lag(g.lag)} record{'' if g.lag == 1 else 's'}, "
            "oldest unread record "
            f"{human_seconds(g.lag_seconds)} old"
            + (
                "\n:rotating_light: records were deleted before the group read them"
                if g.data_loss
                else ""
            )
            + (f"\n:warning: {esc(g.error)}" if g.error else "")
        ),
        fields(
            [
                ("Group state", esc(g.state)),
                ("Members", _members(g)),
                ("Trend", g.trend.value if g.trend else "-"),
                ("Catch-up", _eta(g.eta_seconds, g.trend)),
            ]
        ),
    ]
    worst_first = sorted(g.partitions, key=lambda p: (-p.status.severity, -(p.lag or 0),
                                                      p.topic, p.partition))
    shown, _ = page_of(worst_first, page)
    if shown:
        blocks.append(section("\n".join(_partition_line(p) for p in shown)))
    blocks += pager(len(worst_first), page, again, noun="partitions")
    buttons = []
    if needs_reset(g):
        buttons.append(reset_button(snap.cluster, g.group))
    refresh = run_button("Refresh", run_words(["lag", "--cluster", snap.cluster], g.group), 0)
    if refresh is not None:
        buttons.append(refresh)
    blocks.append({"type": "actions", "block_id": "kafkaops.lag.next", "elements": buttons})
    blocks.append(context(group_basis(g, snap.policy)))
    text = (
        f"{g.group}: {g.status.label}, lag {_lag(g.lag)}, "
        f"{human_seconds(g.lag_seconds)} behind, state {g.state}"
    )
    return Message(text, tuple(blocks))
