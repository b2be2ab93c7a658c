"""Offset resets in Slack: the plan (the confirmation's summary) and the read-back result."""

from __future__ import annotations

from typing import Any

from kafkaops.bot.render.common import (
    PAGE_SIZE,
    Block,
    Message,
    clause,
    context,
    esc,
    section,
)
from kafkaops.core.offsets.model import ResetPlan, ResetResult


def _off(v: int | None) -> str:
    return "no offset" if v is None else f"{v:,}"


def _partition_line(p: Any) -> str:
    """One partition of a plan: where it is, where it goes, what that replays or skips."""
    new = "unchanged" if p.new is None else f"*{p.new:,}*"
    line = (f"`P{p.partition}` {_off(p.current)} → {new} · {esc(p.move)} · log "
            f"{p.log_start:,}–{p.log_end:,}")
    return line + (f"\n      {esc(p.note)}" if p.note else "")


def render_reset_plan(plan: ResetPlan) -> Message:
    n = len(plan.changing)
    shown = list(plan.partitions[:PAGE_SIZE])
    more = (f"\n… {len(plan.partitions) - PAGE_SIZE} more partitions"
            if len(plan.partitions) > PAGE_SIZE else "")
    blocks: list[Block] = [
        section(
            f"reset group `{esc(plan.group)}` on `{esc(plan.topic)}` "
            f"{esc(plan.target.describe())}\n"
            f"*{n}* partition{'s' if n != 1 else ''} change: replays *{plan.total_replay:,}*, "
            f"skips *{plan.total_skip:,}* record{'s' if plan.total_skip != 1 else ''}"
        ),
        section("\n".join(_partition_line(p) for p in shown) + more),
        context(
            f"group state {esc(plan.group_state)} · on Confirm the group must still be empty "
            "and its offsets and the log as planned, or nothing is changed"
        ),
    ]
    return Message(plan.summary(), tuple(blocks))


def render_nothing_to_reset(plan: ResetPlan) -> Message:
    lines = [f"`P{p.partition}` {_off(p.current)}" + (f" · {esc(p.note)}" if p.note else "")
             for p in plan.partitions[:PAGE_SIZE]]
    return Message(
        plan.summary(),
        (
            section(
                f"{esc(clause(plan.nothing_to_change()))} (`{esc(plan.group)}` on "
                f"`{esc(plan.topic)}`). Nothing was changed."
            ),
            section("\n".join(lines)),
        ),
    )


def render_reset_result(result: ResetResult) -> Message:
    plan = result.plan
    if result.verified:
        head = (
            f":white_check_mark: group `{esc(plan.group)}` on `{esc(plan.topic)}` reset "
            f"{esc(plan.target.describe())}; the committed offsets read back match the plan"
        )
    else:
        bad = ", ".join(
            f"partition {c.partition}: planned {_off(c.planned)}, committed {_off(c.committed)}"
            for c in result.mismatches
        )
        head = (
            f":warning: group `{esc(plan.group)}` reset, but the offsets read back do NOT "
            f"match the plan: {esc(bad)}"
        )
    before = {p.partition: p.current for p in plan.partitions}
    lines = [f"`P{c.partition}` {_off(before.get(c.partition))} → committed now "
             f"*{_off(c.committed)}*" for c in result.checks[:PAGE_SIZE]]
    return Message(
        f"group {plan.group} reset {'verified' if result.verified else 'NOT verified'}",
        (section(head), section("\n".join(lines)), context("audited")),
    )
