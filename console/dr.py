"""The DR screen: a MirrorMaker 2 pair's replication, RPO and active cluster; on `p` the
failover plan with its pre-checks, and `e` to execute it (`n` moves to the next pair).

Data: `DrService.status()` and `FailoverService.plan()` / `execute()` (core/dr/status.py,
core/dr/failover.py), the same calls `kafkaops dr status` and `kafkaops failover plan|execute`
make, so the numbers match. A `DataScreen`: the header, the status line, polls that never
overlap and the back-off come from console/base.py. The status says which cluster answered:
one that did not makes its values UNKNOWN (with the time of its last answer), never OK, and
the header names it (not the console's own cluster). The plan is made again in its own
worker after each status load while it is shown; it replaces the tables (so it fits 100x30)
and scrolls with the keyboard.

Executing: `e` on a shown plan checks the cluster is writable and the pre-checks passed (a
failed pre-check refuses here; `kafkaops failover execute --force` is the way to override
one) and asks for confirmation (opening on Cancel). Then the plan is made again: groups
still consuming on the source move on while a person reads (MM2 checkpoints too), so the
offsets are translated afresh, but if anything the person confirmed changed (direction,
clusters, epoch, which groups move, which checks fail) nothing runs and the new plan is
shown. Core's execute gets that fresh plan, so what runs is exactly it (a change in the
milliseconds between is core's conflict, changing nothing). Core audits every step with
face `console`; the panel shows each step as it is recorded.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import DataTable, Static

from kafkaops.console.base import DataScreen
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.core.capabilities import in_console_words
from kafkaops.core.dr.model import DrStatus
from kafkaops.core.dr.rpo import answer_text, fmt_age, rpo_verdict
from kafkaops.core.dr.status import DrService
from kafkaops.core.errors import Conflict, KafkaOpsError
from kafkaops.core.kafka.reach import answering
from kafkaops.core.untrusted import printable

#: the verdict and the lag next to the name, the long remote name last: at 100 columns the
#: state was cut off the right edge
TOPIC_COLUMNS = ("Topic", "State", "Lag", "Lag time", "Partitions", "Source end", "Target end",
                 "Remote topic")
GROUP_COLUMNS = ("Group", "Partitions", "Checkpoint age", "Oldest partition", "Moves")


def _verdict(word: str) -> str:
    """A verdict in colour: green only for OK."""
    if word == "OK":
        return "[green]OK[/]"
    if word == "BEYOND RPO":
        return "[b red]BEYOND RPO[/]"
    return f"[b yellow]{escape(word)}[/]"


def summary_lines(s: DrStatus, now: float | None = None) -> list[str]:
    """The facts block above the tables, as Textual markup."""
    hb = next((h for h in s.heartbeats if h.age_seconds is not None), None)
    lines = [
        f"Pair          [b]{escape(s.pair)}[/]  {escape(s.source)} → {escape(s.target)}  "
        f"(MM2 {escape(s.source_alias)} → {escape(s.target_alias)}, {s.policy} policy)",
        f"Active        [b]{escape(s.active)}[/] (epoch {s.epoch})",
    ]
    for i, c in enumerate(s.clusters):
        words = escape(answer_text(c, now))
        lines.append(f"{'Clusters' if i == 0 else '':<14}"
                     + (words if c.answered else f"[b red]{words}[/]"))
    lines.append(
        f"RPO           estimate {fmt_age(s.rpo_estimate_seconds)} / target "
        f"{fmt_age(s.rpo_seconds)}  {_verdict(rpo_verdict(s))}  [dim]{escape(s.rpo_basis)}[/]")
    if hb is None and not s.target_reachable:
        lines.append(f"Heartbeat     {_verdict('UNKNOWN')}: {escape(s.target)} did not answer")
    else:
        word = "UNKNOWN" if s.heartbeat_ok is None else "OK" if s.heartbeat_ok else "BEYOND RPO"
        lines.append(
            f"Heartbeat     {fmt_age(s.heartbeat_age_seconds)} old"
            + (f" [dim]({escape(hb.topic)} on {escape(s.target)})[/]" if hb else " (none found)")
            + f"  {_verdict(word)}")
    if s.failover is not None:
        f = s.failover
        lines.append(
            f"Last {f.direction}  {escape(f.run_id)} {escape(f.source)} → {escape(f.target)}, "
            f"[b]{f.state}[/], {f.groups_done}/{f.groups_total} groups, by {escape(f.by)}"
        )
    return lines


def plan_lines(plan: Any) -> list[str]:
    """The failover plan panel: pre-checks, what each group gets, the steps, the verdict."""
    marks = {"ok": "[green]ok[/]  ", "warn": "[yellow]WARN[/]", "fail": "[b red]FAIL[/]"}
    out = [
        f"[b]{plan.direction} plan[/]  {escape(plan.source)} → {escape(plan.target)} "
        f"(epoch {plan.epoch} → {plan.new_epoch})",
        "[b]Pre-checks[/]",
    ]
    out += [f"  {marks[c.status]} {escape(c.name)}: {escape(c.detail)}" for c in plan.prechecks]
    out.append("[b]Groups[/]" if plan.groups else "[b]Groups[/]  none to move")
    for g in plan.groups:
        out.append(f"  {escape(g.group)}: {g.action}"
                   + (f" ({escape(g.reason)})" if g.action == "leave" and g.reason else ""))
        out += [
            f"    {escape(p.topic)}/{p.partition} → "
            f"{p.offset if p.offset is not None else '-'}"
            + (f", re-reads {p.reprocess:,}" if p.reprocess else "")
            for p in g.partitions
        ]
    out.append("[b]Steps[/]")
    out += [f"  {i}. {escape(step)}" for i, step in enumerate(plan.steps, 1)]
    if plan.allowed:
        verdict = "[b green]pre-checks passed[/]: e executes it (after a confirmation)"
    elif plan.forceable:
        verdict = ("[b red]pre-checks FAILED[/]: the console refuses; "
                   f"`kafkaops failover execute --pair {escape(plan.pair)} --force` overrides")
    else:
        verdict = "[b red]pre-checks FAILED[/]: execute refuses, even with --force"
    out.append(verdict)
    return out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def confirm_text(plan: Any, cluster_names: str) -> str:
    moving, warns = plan.moving, plan.warned
    lines = [
        f"{plan.direction.capitalize()} pair {plan.pair}: make {plan.target} the active cluster "
        f"(epoch {plan.epoch} → {plan.new_epoch}) instead of {plan.source}.",
        "",
        f"{_count(len(moving), 'group')} get their translated offsets committed on "
        f"{plan.target}; {len(plan.left)} left as they are.",
    ]
    if warns:
        # what is being accepted, not only where: the dialog scrolls (PageUp/PageDown)
        lines += ["", f"{_count(len(warns), 'warning')} you accept by going ahead:"]
        lines += [f"  {c.name}: {c.detail}" for c in warns]
    lines += ["", "Offsets are translated again the moment you confirm (groups still consuming "
              f"on {plan.source} move on meanwhile); if anything else changed, nothing runs.",
              f"{len(plan.steps)} steps, each recorded so that `kafkaops failover resume` "
              "can finish a run that stops half-way.",
              f"Clusters {cluster_names}. Every step is written to the audit trail."]
    return "\n".join(lines)


class ConfirmFailoverScreen(ConfirmScreen):
    """Run this failover? Opens on Cancel; y (or Tab to the yes button, Enter) goes ahead."""

    def __init__(self, plan: Any, clusters: str) -> None:
        super().__init__(confirm_text(plan, clusters),
                         yes_label=f"Execute {plan.direction}", yes_variant="error")
        self.plan = plan


class DrScreen(DataScreen):
    """DR status of one pair (the first in config unless `pair` is given); `p` shows the
    failover plan in place of the tables, `e` executes it, `n` moves to the next pair."""

    TITLE = "DR"
    REFRESH_EVERY = 5.0
    CSS_PATH = "dr.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_plan", "Plan"),
        Binding("e", "execute", "Execute", show=False),
        Binding("n", "next_pair", "Next pair"),
        Binding("j", "scroll_plan(1)", "Down", show=False),
        Binding("k", "scroll_plan(-1)", "Up", show=False),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("p", "the failover plan (again: back to the tables)"),
        ("↑↓ j k PgUp PgDn Home End", "scroll the plan"),
        ("e", "execute the plan shown: confirmation, audit, progress per step"),
    )

    class PlanLoaded(Message):
        """A failover plan load finished."""

        def __init__(self, plan: Any) -> None:
            super().__init__()
            self.plan = plan

    class PlanFailed(Message):
        """A failover plan could not be made; `error` is for the plan panel."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class RunProgressed(Message):
        """A failover run recorded a step (or finished, or failed)."""

        def __init__(self, line: str, *, done: bool = False) -> None:
            super().__init__()
            self.line = line
            self.done = done

    def __init__(self, pair: str | None = None) -> None:
        super().__init__()
        self.pair_name = pair
        self.show_plan = False
        self.last: DrStatus | None = None
        self.plan: Any = None
        self.running = False
        self._plan_text: list[str] = []
        self._progress: list[str] = []
        self._note = ""  # the answer to the last `e` (refused, cancelled), under the plan

    def compose_body(self) -> ComposeResult:
        yield Static("", id="dr-summary")
        with Vertical(id="dr-tables"):
            yield Static("[b]Replicated topics[/]", classes="section", id="dr-topics-title")
            yield DataTable(id="dr-topics", cursor_type="row", zebra_stripes=True)
            yield Static("[b]Consumer groups (MM2 checkpoints)[/]", classes="section",
                         id="dr-groups-title")
            yield DataTable(id="dr-groups", cursor_type="row", zebra_stripes=True)
            yield Static("", id="dr-problems")
        with VerticalScroll(id="dr-plan-box", can_focus=True):
            yield Static("", id="dr-plan")

    def on_mount(self) -> None:
        topics: DataTable[Any] = self.query_one("#dr-topics", DataTable)
        for label in TOPIC_COLUMNS:
            topics.add_column(label, key=label)
        groups: DataTable[Any] = self.query_one("#dr-groups", DataTable)
        for label in GROUP_COLUMNS:
            groups.add_column(label, key=label)
        self.query_one("#dr-plan-box").display = False
        # "last answer 14:02:40, 42s ago" counts on between polls, as the header does
        self.set_interval(1.0, self._show_summary)

    def _show_summary(self) -> None:
        if self.last is not None:
            self.query_one("#dr-summary", Static).update("\n".join(summary_lines(self.last)))

    # ------------------------------------------------------------ loading

    def depends_on(self) -> list[str]:
        return []  # the status reads both clusters itself and says which one answered

    def reached(self, data: DrStatus) -> dict[str, str | None]:
        return {c.cluster: None if c.answered else (c.error or "no answer")
                for c in data.clusters}

    async def load(self) -> DrStatus:
        return await DrService(self.services).status(self.pair_name)

    def action_toggle_plan(self) -> None:
        self.show_plan = not self.show_plan
        box = self.query_one("#dr-plan-box", VerticalScroll)
        box.display = self.show_plan
        self.query_one("#dr-tables").display = not self.show_plan
        if self.show_plan:
            if not self.running:
                self._progress = []  # a finished run's steps give way to a fresh plan
                self._note = ""
                box.anchor(False)
                box.scroll_home(animate=False)
                self._set_plan(["loading the failover plan…"])
                self._load_plan()
            box.focus()
        elif not self.running:
            self.workers.cancel_group(self, "dr-plan")

    def action_scroll_plan(self, lines: int) -> None:
        if self.show_plan:
            self.query_one("#dr-plan-box", VerticalScroll).scroll_relative(
                y=lines, animate=False)

    def action_next_pair(self) -> None:
        if self.running:
            self.notify("a failover is running: wait for it to finish", severity="warning")
            return
        pairs = [p.name for p in self.services.config.dr.pairs]
        if len(pairs) < 2:
            self.notify("only one DR pair is configured", severity="information")
            return
        current = self.last.pair if self.last else pairs[0]
        self.pair_name = pairs[(pairs.index(current) + 1) % len(pairs)]
        self.plan = None
        self._progress = []
        if self.show_plan:
            self._set_plan(["loading the failover plan…"])
        self.refresh_data()

    @work(exclusive=True, group="dr-plan", exit_on_error=False)
    async def _load_plan(self) -> None:
        from kafkaops.core.dr.failover import FailoverService
        from kafkaops.core.dr.plan import direction_for

        try:
            svc = FailoverService(self.services)
            pair = svc.dr.pair(self.pair_name)

            async def make() -> Any:
                view = await svc.control.read(pair)
                return await svc.plan(pair, direction=direction_for(view, pair))

            # both clusters must answer: a frozen one fails the plan within seconds
            plan = await answering(self.services, [pair.primary, pair.secondary], make)
        except KafkaOpsError as e:
            self.post_message(self.PlanFailed(str(e)))
        except Exception as e:  # a bug must not take the console down
            self.post_message(self.PlanFailed(f"{type(e).__name__}: {e}"))
        else:
            self.post_message(self.PlanLoaded(plan))

    # ------------------------------------------------------------ showing

    def show(self, data: DrStatus) -> None:
        s = data
        self.last = s
        self._show_summary()
        topics: DataTable[Any] = self.query_one("#dr-topics", DataTable)
        topics.clear()
        for t in s.topics:
            state = {"ok": "[green]ok[/]", "behind": "[b red]behind[/]"}.get(
                t.state, f"[yellow]{t.state}[/]")
            topics.add_row(
                t.topic, state, _num(t.lag_messages), fmt_age(t.lag_seconds),
                str(t.partitions), _num(t.source_end), _num(t.target_end), t.remote_topic,
                key=t.topic,
            )
        # a table left empty because its cluster did not answer says so: not "none"
        self.query_one("#dr-topics-title", Static).update(
            "[b]Replicated topics[/]" + ("" if s.source_reachable or s.topics else
                                        f"  [b yellow]UNKNOWN[/]: {escape(s.source)} did not "
                                        "answer"))
        self.query_one("#dr-groups-title", Static).update(
            "[b]Consumer groups (MM2 checkpoints)[/]" + (
                "" if s.target_reachable else
                f"  [b yellow]UNKNOWN[/]: {escape(s.target)} did not answer"))
        groups: DataTable[Any] = self.query_one("#dr-groups", DataTable)
        groups.clear()
        for g in s.groups:
            groups.add_row(
                g.group, str(g.partitions), fmt_age(g.age_seconds),
                fmt_age(g.oldest_partition_age_seconds), "yes" if g.moves_on_failover else "no",
                key=g.group,
            )
        problems = self.query_one("#dr-problems", Static)
        # problems quote what the topics hold (ignored records' offsets, cluster answers)
        problems.update("\n".join(f"[yellow]![/] {escape(printable(p))}" for p in s.problems))
        if self.show_plan and not self.running and not self._progress:
            self._load_plan()  # the plan follows the status it was made from

    def _set_plan(self, lines: list[str]) -> None:
        self._plan_text = lines
        note = [self._note] if self._note else []
        self.query_one("#dr-plan", Static).update("\n".join(lines + note))

    def _show_progress(self) -> None:
        """A run's steps replace the plan it ran (kept until p is pressed again); the panel
        stays on the newest step, also when the summary above grows, until scrolled."""
        self.query_one("#dr-plan", Static).update("\n".join(self._progress))
        box = self.query_one("#dr-plan-box", VerticalScroll)
        box.anchor()
        box.scroll_end(animate=False)

    @on(PlanLoaded)
    def _plan_loaded(self, message: PlanLoaded) -> None:
        message.stop()
        if self.show_plan and not self.running and not self._progress:
            self.plan = message.plan
            self._set_plan(plan_lines(message.plan))

    @on(PlanFailed)
    def _plan_failed(self, message: PlanFailed) -> None:
        message.stop()
        if self.show_plan and not self.running and not self._progress:
            self.plan = None
            self._set_plan([
                f"[b red]failover plan: error:[/] {escape(in_console_words(message.error))}. "
                "It is made again "
                f"with the next refresh (r tries now)."
            ])

    # ------------------------------------------------------------ executing

    def action_execute(self) -> None:
        plan = self.plan
        if self.running:
            self.notify("a failover is already running", severity="warning")
            return
        if not self.show_plan or plan is None:
            self.notify("p shows the plan first; e executes the plan shown",
                        severity="information")
            return
        try:
            self.services.require_writable(plan.target, f"{plan.direction} onto it")
        except KafkaOpsError as e:
            self._say(f"[b red]refused:[/] {escape(str(e))}")
            return
        if not plan.allowed:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in plan.failed)
            self._say(f"[b red]refused: pre-checks failed[/] ({escape(failed)}); nothing was "
                      "changed")
            return
        self._execute(plan)

    def _say(self, line: str) -> None:
        """An answer to `e` (a refusal, a cancel) under the plan, kept there while the plan
        is made again on each refresh."""
        self._note = line
        self._set_plan(self._plan_text)
        self.query_one("#dr-plan-box", VerticalScroll).scroll_end(animate=False)

    @work(exclusive=True, group="dr-run", exit_on_error=False)
    async def _execute(self, plan: Any) -> None:
        from kafkaops.core.audit.log import local_actor
        from kafkaops.core.dr.failover import FailoverService

        clusters = f"{plan.source} → {plan.target}"
        yes = await self.app.push_screen_wait(ConfirmFailoverScreen(plan, clusters))
        if not yes:
            self._say(f"{plan.direction} cancelled: nothing was changed")
            return
        # translate again now: while the person read the plan, groups still consuming on
        # the source moved on (MM2 checkpoints too), and core refuses a plan that differs
        # from the fresh one. What was confirmed (the plan's fingerprint: clusters, epoch,
        # the groups and what happens to each, the checks that failed) must still hold.
        try:
            fresh = await self._plan_now(plan)
        except KafkaOpsError as e:
            self._say(f"[b red]not run:[/] the plan could not be made again: {escape(str(e))}; "
                      "nothing was changed")
            return
        if fresh.fingerprint != plan.fingerprint or not fresh.allowed:
            self.plan = fresh
            self._note = ("[b yellow]not run: the plan changed since it was shown[/] (above: "
                          "the new one); nothing was changed. e asks again.")
            self._set_plan(plan_lines(fresh))
            return
        plan = fresh
        self.running = True
        self._note = ""
        self.workers.cancel_group(self, "dr-plan")
        self._progress = []
        self.post_message(self.RunProgressed(
            f"[b]{plan.direction} running[/] (started {time.strftime('%H:%M:%S')}):"))

        def progress(point: str) -> None:
            step, _, group = point.partition(":")
            if step == "before" or (step == "after" and not group.startswith("mark-source:")):
                return  # the audit's points around each step: the step's own line says it
            words = {
                "start": "run recorded",
                "fence": f"{plan.source} fenced (stood down)",
                "intent": f"group {group}: intent recorded",
                "committed": f"group {group}: offsets committed on {plan.target}",
                "group": f"group {group}: done",
                "activate": f"{plan.target} active at epoch {plan.new_epoch}",
                "after": f"{plan.source}'s control topic names {plan.target} active",
                "complete": "run completed",
            }.get(step, point)
            self.post_message(self.RunProgressed(f"  [green]✓[/] {escape(words)}"))

        try:
            result = await FailoverService(self.services).execute(
                plan.pair, direction=plan.direction, actor=local_actor(), face="console",
                hook=progress, plan=plan)
        except Conflict as e:
            self.post_message(self.RunProgressed(
                f"[b red]not run:[/] {escape(str(e))}", done=True))
        except KafkaOpsError as e:
            self.post_message(self.RunProgressed(
                f"[b red]{plan.direction} stopped:[/] {escape(str(e))}. `kafkaops failover "
                "resume` continues a run that started.", done=True))
        except Exception as e:  # a bug must not take the console down
            self.post_message(self.RunProgressed(
                f"[b red]{plan.direction} stopped:[/] {type(e).__name__}: {escape(str(e))}",
                done=True))
        else:
            self.post_message(self.RunProgressed(
                f"[b green]{result.direction} {result.state}[/]: active now {result.active} "
                f"(epoch {result.epoch}), run {escape(result.run_id)}", done=True))

    async def _plan_now(self, shown: Any) -> Any:
        from kafkaops.core.dr.failover import FailoverService

        svc = FailoverService(self.services)
        pair = svc.dr.pair(shown.pair)
        return await answering(self.services, [pair.primary, pair.secondary],
                               lambda: svc.plan(pair, direction=shown.direction))

    @on(RunProgressed)
    def _run_progressed(self, message: RunProgressed) -> None:
        message.stop()
        self._progress.append(message.line)
        if message.done:
            self._progress.append("[dim]p twice: the plan from here[/]")
            self.running = False
            self.plan = None
            self.refresh_data()
        self._show_progress()


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"
