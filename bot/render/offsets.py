"""Offset resets in Slack: the plan (the confirmation's summary) and the read-back result."""

from __future__ import annotations

from kafkaops.bot.render.common import Block, Message, code_sections, context, esc, section
from kafkaops.bot.render.common import text_table as table
from kafkaops.core.offsets.service import ResetPlan, ResetResult


def _off(v: int | None) -> str:
    return "no offset" if v is None else f"{v:,}"


def render_reset_plan(plan: ResetPlan) -> Message:
    lines = table(
        ["PART", "COMMITTED", "NEW", "LOG START", "LOG END", "MOVE", "NOTE"],
        [
            (
                p.partition,
                _off(p.current),
                "unchanged" if p.new is None else f"{p.new:,}",
                p.log_start,
                p.log_end,
                p.move,
                p.note,
            )
            for p in plan.partitions
        ],
        right=(0, 1, 2, 3, 4),
    )
    n = len(plan.changing)
    blocks: list[Block] = [
        section(
            f"reset group `{esc(plan.group)}` on `{esc(plan.topic)}` "
            f"{esc(plan.target.describe())}\n"
            f"*{n}* partition{'s' if n != 1 else ''} change: replays *{plan.total_replay:,}*, "
            f"skips *{plan.total_skip:,}* record{'s' if plan.total_skip != 1 else ''}"
        ),
        *code_sections(lines, max_blocks=4),
        context(
            f"group state {esc(plan.group_state)} · on Confirm the group must still be empty "
            "and its offsets and the log as planned, or nothing is changed"
        ),
    ]
    return Message(plan.summary(), tuple(blocks))


def render_nothing_to_reset(plan: ResetPlan) -> Message:
    return Message(
        plan.summary(),
        (
            section(
                f"{esc(plan.nothing_to_change())} (`{esc(plan.group)}` on "
                f"`{esc(plan.topic)}`). Nothing was changed."
            ),
            *code_sections(
                table(
                    ["PART", "COMMITTED", "NOTE"],
                    [(p.partition, _off(p.current), p.note) for p in plan.partitions],
                ),
                max_blocks=2,
            ),
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
    lines = table(
        ["PART", "BEFORE", "COMMITTED NOW"],
        [(c.partition, _off(before.get(c.partition)), _off(c.committed)) for c in result.checks],
        right=(0, 1, 2),
    )
    return Message(
        f"group {plan.group} reset {'verified' if result.verified else 'NOT verified'}",
        (section(head), *code_sections(lines, max_blocks=3), context("audited")),
    )
