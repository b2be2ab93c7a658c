"""Admin changes in Slack (core/admin): the plan as the confirmation's summary, and what
was read back after Confirm. Pure functions."""

from __future__ import annotations

from kafkaops.bot.render.common import Block, Message, code_sections, context, esc, section
from kafkaops.core.admin.plans import AdminPlan, AdminResult


def render_admin_plan(plan: AdminPlan) -> Message:
    lines = plan.lines()
    blocks: list[Block] = [
        section(f"*{esc(plan.title)}*"),
        *code_sections(["plan", *lines[2:]], max_blocks=4),
        context("on Confirm the state must still be as planned, or nothing is changed"),
    ]
    return Message(plan.summary(), tuple(blocks))


def render_admin_result(result: AdminResult) -> Message:
    plan = result.plan
    mark = ":white_check_mark:" if result.verified else ":warning:"
    head = (f"{mark} {esc(plan.title)}: done" if result.verified else
            f"{mark} {esc(plan.title)}: applied, but the cluster does not show what the "
            "plan said")
    return Message(f"{plan.title}: {'done' if result.verified else 'not as planned'}", (
        section(head), *code_sections(["read back", *result.read_back], max_blocks=2)))


def render_nothing_to_change(text: str) -> Message:
    return Message(text, (section(esc(text)),))
