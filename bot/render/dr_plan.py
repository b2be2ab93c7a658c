"""Disaster recovery in Slack: the failover plan (which is also the confirmation's summary)
and its refusal. Pure functions of core's FailoverPlan (core/dr/plan.py).
"""

from __future__ import annotations

from kafkaops.bot.render.common import (
    MAX_BLOCKS,
    Block,
    Message,
    context,
    esc,
    header,
    plural,
    section,
)
from kafkaops.bot.render.dr import line_sections, slash
from kafkaops.core.dr.plan import FailoverPlan, GroupPlan, PlanWords, Precheck
from kafkaops.core.dr.rpo import fmt_age

_CHECK = {"ok": ":white_check_mark:", "warn": ":warning:", "fail": ":x:"}
_SEVERITY = {"fail": 0, "warn": 1, "ok": 2}
#: room kept under Slack's 50 blocks for what the confirmation prompt adds around a plan
_PROMPT_BLOCKS = 4


def _check_line(c: Precheck, command: str) -> str:
    never = " _(--force cannot override this)_" if c.status == "fail" and not c.overridable else ""
    mark = _CHECK.get(c.status, c.status)
    return f"{mark} *{esc(c.name)}*: {esc(slash(c.detail, command))}{never}"


def _group_line(g: GroupPlan, target: str) -> str:
    if g.action == "leave":
        return f":heavy_minus_sign: *{esc(g.group)}*: *not moved*: {esc(g.reason)}"
    reread = "?" if g.reprocess is None else f"{g.reprocess:,}"
    cp = (
        f" · newest checkpoint {fmt_age(g.checkpoint_age_seconds)} old"
        if g.checkpoint_age_seconds is not None
        else " · no checkpoint"
    )
    return (
        f":arrow_right: *{esc(g.group)}*: offsets of {plural(len(g.offsets), 'partition')} "
        "committed on "
        f"`{esc(target)}`, about *{reread}* records read again{cp}"
    )


def _commit_cell(offset: int | None, out_of_range: bool) -> str:
    if offset is not None:
        return f"{offset:,}"
    return "past log end" if out_of_range else "not translated"


def _partition_lines(g: GroupPlan, limit: int = 10) -> list[str]:
    """Each partition of a moving group: what is committed on the target and why."""
    out = []
    for p in g.partitions[:limit]:
        cp = (f"checkpoint {p.checkpoint[0]:,}→{p.checkpoint[1]:,}, "
              f"{fmt_age(p.checkpoint_age_seconds)} old" if p.checkpoint else "no checkpoint")
        log = (f" · target log {p.target_start:,}–{p.target_end:,}"
               if p.target_end is not None and p.target_start is not None else "")
        reread = "" if p.reprocess is None else f" · re-read {p.reprocess:,}"
        source = "" if p.source_offset is None else f"source {p.source_offset:,} → "
        out.append(f"      `{esc(p.topic)}[{p.partition}]` {source}commit "
                   f"*{_commit_cell(p.offset, p.out_of_range)}* ({cp}){log}{reread}")
    if len(g.partitions) > limit:
        out.append(f"      … {len(g.partitions) - limit} more partitions")
    return out


#: the plan's own words (FailoverPlan.describe) in Slack mrkdwn
SLACK_PLAN_WORDS = PlanWords(
    text=esc, code=lambda s: f"`{esc(s)}`", em=lambda s: f"*{esc(s)}*",
    strong=lambda s: f"*{s}*", arrow="→",
    mark=lambda status: {"ok": ":white_check_mark: ", "warn": ":warning: ",
                         "fail": ":x: "}.get(status, ""),
)


def plan_verdict(plan: FailoverPlan, *, force: bool = False) -> str:
    """The plan's verdict (FailoverPlan.verdict): never says the pre-checks passed when one
    of them warns."""
    return plan.verdict(SLACK_PLAN_WORDS, force=force)


#: warnings a confirmation prompt lists (the rest are counted; the full plan has them all)
PROMPT_WARNINGS = 5


def render_prompt_summary(plan: FailoverPlan, *, force: bool = False,
                          command: str = "/kafka") -> Message:
    """What a failover's Confirm prompt says, short enough that Confirm is in view on a
    phone: each warning once, at the top; what moves; how much is read again; the RPO.
    Every group's offsets and each step are in the full plan (the Full plan button)."""
    problems = sorted((c for c in plan.prechecks if c.status in ("fail", "warn")),
                      key=lambda c: _SEVERITY.get(c.status, 0))
    blocks: list[Block] = []
    if problems:
        head = (plan_verdict(plan, force=force) if plan.failed else
                f":warning: *{len(problems)} warning{'s' * (len(problems) != 1)}*")
        lines = [_check_line(c, command) for c in problems[:PROMPT_WARNINGS]]
        if len(problems) > PROMPT_WARNINGS:
            lines.append(f"… {len(problems) - PROMPT_WARNINGS} more in the full plan")
        blocks.append(section("\n".join([head, *lines])))
    headline, moves, numbers, _ = plan.describe(SLACK_PLAN_WORDS, force=force)
    blocks.append(section(f"{headline}\n{moves}\n{numbers}"))
    if not problems:
        blocks.append(context(plan.verdict(SLACK_PLAN_WORDS)))
    blocks.append(context(
        "Confirm runs every step of the plan, each audited with you as actor; if the plan "
        "has changed by then, nothing runs. *Full plan*: every group's offsets and each "
        "step."))
    reread, _ = plan.reread
    text = (f"{plan.direction} of {plan.pair}: {plan.target} becomes active instead of "
            f"{plan.source}; {plural(len(plan.moving), 'group')} move, about "
            f"{plural(reread, 'record')} read again"
            + (f"; {plural(len(problems), 'warning')}" if problems else ""))
    return Message(text, tuple(blocks))


def render_plan(
    plan: FailoverPlan, *, command: str = "/kafka", prompt: bool = False, force: bool = False
) -> Message:
    """The plan: pre-checks, per group translated offsets and records read again, groups
    that cannot be moved, and the steps. `prompt`: it is shown inside a prompt or a modal
    (which has its own title and buttons)."""
    flag = f" --pair {plan.pair}"
    blocks: list[Block] = []
    if not prompt:
        blocks.append(header(f"{plan.direction.capitalize()} plan for pair {plan.pair}"))
    # what is wrong first: failures, then warnings; the verdict after them
    checks = sorted(plan.prechecks, key=lambda c: _SEVERITY.get(c.status, 0))
    bad = [c for c in checks if c.status in ("fail", "warn")]
    if bad:
        blocks += line_sections([_check_line(c, command) for c in bad], max_blocks=3,
                                more="pre-checks")
    blocks.append(section(
        f"*{esc(plan.direction)}* of pair `{esc(plan.pair)}`: `{esc(plan.source)}` → "
        f"`{esc(plan.target)}` · epoch {plan.epoch} → {plan.new_epoch}\nRPO target "
        f"{fmt_age(plan.rpo_seconds)} · heartbeat {fmt_age(plan.heartbeat_age_seconds)} old · "
        f"replication lag {fmt_age(plan.replication_lag_seconds)}\n"
        + plan_verdict(plan, force=force)
    ))
    passed = [c for c in checks if c.status not in ("fail", "warn")]
    if passed:
        blocks += line_sections([_check_line(c, command) for c in passed], max_blocks=2,
                                more="pre-checks")
    if plan.groups:
        items = ["\n".join([_group_line(g, plan.target),
                             *(_partition_lines(g) if g.action == "move" else [])])
                 for g in plan.groups]
        blocks.append(section("*Consumer groups*"))
        blocks += line_sections(items, max_blocks=6, more="groups")
        notes = [
            f"• `{esc(g.group)}` {esc(p.topic)}/{p.partition}: {esc(p.note)}"
            for g in plan.groups
            for p in g.partitions
            if p.note
        ]
        if notes:
            blocks += line_sections(notes, max_blocks=2, more="notes")
    else:
        blocks.append(section("_No consumer groups to move (none match the pair's `groups`)._"))
    blocks.append(section("*Steps*"))
    blocks += line_sections(
        [f"{i}. {esc(s)}" for i, s in enumerate(plan.steps, 1)], max_blocks=3, more="steps"
    )
    if prompt:
        tail = (
            "Confirm runs these steps (each one audited, with you as actor). If the plan has "
            "changed by then (offsets moved on, a check changed), nothing is run and you are "
            "told so."
        )
    elif plan.allowed or plan.forceable:
        how = "" if plan.allowed else " --force"
        tail = (
            f"`{esc(command)} {plan.direction} execute{esc(flag)}{how}` shows this plan again "
            "with Confirm / Cancel. Nothing has been changed."
        )
    else:
        tail = "Nothing has been changed."
    blocks.append(context(tail))
    budget = MAX_BLOCKS - (_PROMPT_BLOCKS if prompt else 0)
    if len(blocks) > budget:  # keep the verdict and the steps' context; drop middle detail
        blocks = blocks[: budget - 2] + [
            section("… more of the plan than one Slack message holds: "
                    f"`kafkaops {plan.direction} plan{flag}` in a terminal shows all of it"),
            blocks[-1],
        ]
    failed = ", ".join(c.name for c in plan.failed) or "none"
    text = (
        f"{plan.direction} plan for {plan.pair}: {plan.source} -> {plan.target}, "
        f"{plural(len(plan.groups), 'group')}, failed pre-checks: {failed}"
    )
    return Message(text, tuple(blocks))


def render_refused(plan: FailoverPlan, *, force: bool, command: str = "/kafka") -> Message:
    """Execute refused before asking for confirmation: the failed checks, what to do."""
    hard = [c for c in plan.failed if not c.overridable]
    shown = sorted(plan.failed, key=lambda c: c.overridable)  # what --force cannot fix first
    if hard:
        hint = (
            f"{'These' if len(hard) > 1 else 'This'} cannot be overridden with `--force`"
            + (" (it was given)." if force else ".")
        )
    else:
        hint = (
            f"`{esc(command)} {plan.direction} execute --pair {esc(plan.pair)} --force` goes "
            "ahead anyway (data within the failed checks may be lost or read again)."
        )
    blocks: list[Block] = [
        section(
            f":no_entry: *{esc(plan.direction)}* of pair `{esc(plan.pair)}` "
            f"(`{esc(plan.source)}` → `{esc(plan.target)}`) *refused*. Nothing was changed."
        ),
        *line_sections([_check_line(c, command) for c in shown], max_blocks=4, more="checks"),
        context(
            f"{hint} `{esc(command)} {plan.direction} plan --pair {esc(plan.pair)}` shows "
            "the whole plan."
        ),
    ]
    text = (
        f"{plan.direction} of {plan.pair} refused, nothing was changed: "
        + "; ".join(f"{c.name}: {c.detail}" for c in shown)
    )
    return Message(text, tuple(blocks))
