"""Disaster recovery in Slack: a failover run's steps, its result, a resume, a conflict, a
stop. Pure functions of core's FailoverResult (core/dr/outcome.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from kafkaops.bot.render.common import (
    Block,
    Message,
    context,
    esc,
    header,
    plural,
    section,
    who,
)
from kafkaops.bot.render.dr import line_sections, slash, when
from kafkaops.core.dr.outcome import FailoverResult

_STEP = {
    "done": ":white_check_mark:",
    "skipped": ":warning:",
    "left": ":heavy_minus_sign:",
    "intent": ":hourglass_flowing_sand:",
    "planned": ":white_circle:",
}


def _offsets(offsets: Sequence[object]) -> str:
    return " ".join(
        f"{o.topic}/{o.partition}={o.offset}" for o in offsets  # type: ignore[attr-defined]
    ) or "-"


def run_lines(r: FailoverResult, command: str) -> list[str]:
    """Each step in the order it runs: fence, each group, activate, mark the old cluster,
    complete."""
    steps = {s.name: s for s in r.steps}
    lines: list[str] = [f":white_check_mark: *start*: run `{esc(r.run_id)}` recorded on "
                        f"`{esc(r.target)}` by {who(r.by)} at {when(r.started_at)}"]

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
