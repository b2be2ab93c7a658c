"""Admin changes in Slack (core/admin): the plan as the confirmation's summary, and what
was read back after Confirm. Written for a phone: the state now and each change as a line
(`retention.ms`: 600000 → *3600000*), never a column table. Pure functions."""

from __future__ import annotations

from kafkaops.bot.render.common import MAX_SECTION_TEXT, Block, Message, clip, context, esc, section
from kafkaops.core.admin.plans import AdminPlan, AdminResult

#: changes listed one by one; the rest are counted
MAX_CHANGES = 20


def _bullets(title: str, lines: list[str]) -> Block:
    return section(clip(f"*{title}*\n" + "\n".join(lines), MAX_SECTION_TEXT))


def render_admin_plan(plan: AdminPlan) -> Message:
    blocks: list[Block] = [section(f"*{esc(plan.title)}*")]
    if plan.state:
        blocks.append(_bullets("Now", [f"• {esc(s)}" for s in plan.state]))
    lines = [f"• `{esc(c.item)}`: {esc(c.before)} → *{esc(c.after)}*"
             for c in plan.changes[:MAX_CHANGES]]
    if len(plan.changes) > MAX_CHANGES:
        lines.append(f"… and {len(plan.changes) - MAX_CHANGES} more")
    blocks.append(_bullets("Will change", lines))
    blocks += [section(clip(f":warning: {esc(w)}", MAX_SECTION_TEXT)) for w in plan.warnings]
    blocks.append(context("on Confirm the state must still be as planned, or nothing is changed"))
    return Message(plan.summary(), tuple(blocks))


def render_admin_result(result: AdminResult) -> Message:
    plan = result.plan
    mark = ":white_check_mark:" if result.verified else ":warning:"
    head = (f"{mark} {esc(plan.title)}: done" if result.verified else
            f"{mark} {esc(plan.title)}: applied, but the cluster does not show what the "
            "plan said")
    blocks: list[Block] = [section(head)]
    if result.read_back:
        blocks.append(_bullets("Read back", [f"• {esc(s)}" for s in result.read_back]))
    return Message(f"{plan.title}: {'done' if result.verified else 'not as planned'}",
                   tuple(blocks))


def render_nothing_to_change(text: str) -> Message:
    return Message(text, (section(esc(text)),))
