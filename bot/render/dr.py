"""Disaster recovery in Slack: DR status per pair, the failover plan (which is also the
confirmation's summary), refusals, and a run's steps. Pure functions of core's records
(core/dr/status.py, core/dr/failover.py).

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
from kafkaops.core.dr.outcome import FailoverResult
from kafkaops.core.dr.plan import FailoverPlan, GroupPlan, PlanWords, Precheck
from kafkaops.core.dr.rpo import answer_text, fmt_age, rpo_verdict

_CHECK = {"ok": ":white_check_mark:", "warn": ":warning:", "fail": ":x:"}
_SEVERITY = {"fail": 0, "warn": 1, "ok": 2}
_STEP = {
    "done": ":white_check_mark:",
    "skipped": ":warning:",
    "left": ":heavy_minus_sign:",
    "intent": ":hourglass_flowing_sand:",
    "planned": ":white_circle:",
}
#: room kept under Slack's 50 blocks for what the confirmation prompt adds around a plan
_PROMPT_BLOCKS = 4


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


def _when(ts: float) -> str:
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
            f"{f.groups_done}/{f.groups_total} groups, by {who(f.by)} at {_when(f.started_at)}",
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


# ---------------------------------------------------------------- failover plan


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


# ---------------------------------------------------------------- a run


def _offsets(offsets: Sequence[object]) -> str:
    return " ".join(
        f"{o.topic}/{o.partition}={o.offset}" for o in offsets  # type: ignore[attr-defined]
    ) or "-"


def run_lines(r: FailoverResult, command: str) -> list[str]:
    """Each step in the order it runs: fence, each group, activate, mark the old cluster,
    complete."""
    steps = {s.name: s for s in r.steps}
    lines: list[str] = [f":white_check_mark: *start*: run `{esc(r.run_id)}` recorded on "
                        f"`{esc(r.target)}` by {who(r.by)} at {_when(r.started_at)}"]

    def step(name: str) -> None:
        s = steps.get(name)
        if s is None:
            lines.append(f":white_circle: *{name}*: not yet")
        else:
            lines.append(f"{_STEP.get(s.status, ':grey_question:')} *{name}*: {esc(s.status)}, "
                         f"{esc(slash(s.detail, command))}")

    step("fence")
    for g in r.groups:
        detail = f", {esc(slash(g.detail, command))}" if g.detail else ""
        lines.append(
            f"{_STEP.get(g.status, ':grey_question:')} *group {esc(g.group)}*: {esc(g.status)}"
            f"{detail} · `{esc(_offsets(g.offsets))}`"
        )
    step("activate")
    if "mark-source" in steps:
        step("mark-source")
    for name, s in steps.items():  # anything core adds later is still shown
        if name not in ("fence", "activate", "mark-source"):
            lines.append(f"{_STEP.get(s.status, ':grey_question:')} *{esc(name)}*: "
                         f"{esc(s.status)}, {esc(slash(s.detail, command))}")
    if r.state == "completed":
        lines.append(":white_check_mark: *complete*")
    elif r.state == "running":
        lines.append(":hourglass_flowing_sand: *complete*: not yet")
    else:
        lines.append(f":heavy_multiplication_x: *{esc(r.state)}*")
    return lines


def render_result(
    r: FailoverResult, *, command: str = "/kafka", resume_hint: bool = True,
) -> Message:
    """A run's state, step by step (what execute, resume and status return). An unfinished
    run says how to finish it (`resume_hint`)."""
    mark = {"completed": ":white_check_mark:", "running": ":hourglass_flowing_sand:"}.get(
        r.state, ":heavy_multiplication_x:")
    forced = " (forced over failed pre-checks)" if r.force else ""
    blocks: list[Block] = [
        header(f"{r.direction.capitalize()} of pair {r.pair}: {r.state}"),
        section(
            f"{mark} *{esc(r.direction)}* `{esc(r.run_id)}` of pair `{esc(r.pair)}`: "
            f"`{esc(r.source)}` → `{esc(r.target)}`, *{esc(r.state)}*{forced}\n"
            f"Active cluster now: *{esc(r.active)}* (epoch {r.epoch})"
        ),
        *line_sections(run_lines(r, command), max_blocks=6, more="steps"),
    ]
    if r.state == "running" and resume_hint:
        blocks.append(section(
            f":warning: Not finished: `{esc(command)} {r.direction} resume --pair "
            f"{esc(r.pair)}` continues from where it stopped (no group is committed twice or "
            "skipped)."
        ))
    done = sum(1 for g in r.groups if g.status == "done")
    text = (
        f"{r.direction} {r.run_id} of {r.pair}: {r.source} -> {r.target}, {r.state}; "
        f"{done} of {plural(len(r.groups), 'group')} moved; active {r.active} (epoch {r.epoch})"
    )
    return Message(text, tuple(blocks))


def render_no_run(pair: str, *, command: str = "/kafka") -> Message:
    return Message(
        f"no failover or failback has run for pair {pair}",
        (section(
            f"No failover or failback has run for pair `{esc(pair)}`. `{esc(command)} dr "
            f"--pair {esc(pair)}` shows its replication and active cluster."
        ),),
    )


def render_nothing_to_resume(pair: str, latest: FailoverResult | None,
                             *, command: str = "/kafka") -> Message:
    what = (
        f"the newest run `{esc(latest.run_id)}` ({esc(latest.direction)}) is "
        f"{esc(latest.state)} and both clusters record it"
        if latest is not None
        else "no failover or failback has run"
    )
    return Message(
        f"nothing to resume for pair {pair}",
        (section(f"Nothing to resume for pair `{esc(pair)}`: {what}. Nothing was changed."),),
    )


def render_resume_summary(
    r: FailoverResult, stale: Sequence[str], *, command: str = "/kafka"
) -> Message:
    """The confirmation summary of a resume: where the run stands and what resume does."""
    if r.state == "running":
        todo = [g.group for g in r.groups if g.status not in ("done", "left")]
        what = (
            f"Resume continues {esc(r.direction)} `{esc(r.run_id)}` from its records: "
            f"{len(todo)} group{'s' if len(todo) != 1 else ''} still to move"
            + (f" ({esc(', '.join(todo[:5]))}{'…' if len(todo) > 5 else ''})" if todo else "")
            + ", with the offsets frozen when it started; a group whose commit had landed is "
            "not committed again."
        )
    else:
        where = ", ".join(stale) or r.source
        what = (
            f"The run is {esc(r.state)}, but `{esc(where)}` was not marked at the time: resume "
            "writes the fence and the new active record there now."
        )
    res = render_result(r, command=command, resume_hint=False)
    return Message(f"resume {r.run_id}: {res.text}", (section(what), *res.blocks[1:]))


def render_conflict(pair: str, direction: str, problem: str, *, command: str = "/kafka") -> Message:
    """The plan changed between the prompt and the click: nothing was run."""
    return Message(
        f"{direction} of {pair} not run: {problem}",
        (
            section(
                f":warning: *{esc(direction)}* of pair `{esc(pair)}` was *not run*: "
                f"{esc(slash(problem, command))}"
            ),
            context(
                f"`{esc(command)} {direction} execute --pair {esc(pair)}` shows the new plan "
                "to confirm."
            ),
        ),
    )


def render_stopped(
    pair: str, direction: str, problem: str, latest: FailoverResult | None,
    *, command: str = "/kafka",
) -> Message:
    """A run that failed part-way: the error, and where the run stands now."""
    head = f":x: *{esc(direction)}* of pair `{esc(pair)}` stopped: {esc(slash(problem, command))}"
    if latest is not None and latest.state == "running":
        res = render_result(latest, command=command)
        return Message(f"{direction} of {pair} stopped: {problem}; {res.text}",
                       (section(head), *res.blocks[1:]))
    return Message(
        f"{direction} of {pair} failed: {problem}",
        (
            section(head),
            context(f"No run was left unfinished. `{esc(command)} dr --pair {esc(pair)}` and "
                    f"`{esc(command)} {direction} status --pair {esc(pair)}` show where the "
                    "pair stands."),
        ),
    )


def render_refused_on_confirm(
    pair: str, direction: str, problem: str, *, command: str = "/kafka"
) -> Message:
    """Core refused when the confirmed run started (a guardrail); nothing was changed."""
    return Message(
        f"{direction} of {pair} refused: {problem}",
        (
            section(f":no_entry: *{esc(direction)}* of pair `{esc(pair)}` *refused*:\n"
                    f"{esc(slash(problem, command))}"),
            context("Nothing was changed."),
        ),
    )
