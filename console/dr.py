"""The DR screen: a MirrorMaker 2 pair's replication, RPO and active cluster, and on `p` the
failover plan with its pre-checks (`n` moves to the next pair).

Data: `DrService.status()` and `FailoverService.plan()` (core/dr.py, core/failover.py), the
same calls `kafkaops dr status` and `kafkaops failover plan` make, so the numbers match.
A `DataScreen`: the header, the status line, polls that never overlap and the back-off when
a cluster does not answer come from console/base.py; the plan is made again in its own
worker after each status load while it is shown. The screen only reads: running a failover
takes a confirmation with the whole plan, which the CLI (`kafkaops failover execute`) and
Slack (`/kafka failover execute`) give.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.message import Message
from textual.widgets import DataTable, Static

from kafkaops.console.base import DataScreen
from kafkaops.core.dr import DrService, DrStatus, fmt_age
from kafkaops.core.errors import KafkaOpsError

TOPIC_COLUMNS = ("Topic", "Remote topic", "Partitions", "Source end", "Target end", "Lag",
                 "Lag time", "State")
GROUP_COLUMNS = ("Group", "Partitions", "Checkpoint age", "Oldest partition", "Moves")


def _verdict(ok: bool | None) -> str:
    if ok is None:
        return "[yellow]UNKNOWN[/]"
    return "[green]OK[/]" if ok else "[b red]BEYOND RPO[/]"


def summary_lines(s: DrStatus) -> list[str]:
    """The facts block above the tables, as Textual markup."""
    hb = next((h for h in s.heartbeats if h.age_seconds is not None), None)
    lines = [
        f"Pair          [b]{escape(s.pair)}[/]  {escape(s.source)} → {escape(s.target)}  "
        f"(MM2 {escape(s.source_alias)} → {escape(s.target_alias)}, {s.policy} policy)",
        f"Active        [b]{escape(s.active)}[/] (epoch {s.epoch})",
        f"RPO           estimate {fmt_age(s.rpo_estimate_seconds)} / target "
        f"{fmt_age(s.rpo_seconds)}  {_verdict(s.rpo_ok)}  [dim]{escape(s.rpo_basis)}[/]",
        f"Heartbeat     {fmt_age(s.heartbeat_age_seconds)} old"
        + (f" [dim]({escape(hb.topic)} on {escape(s.target)})[/]" if hb else " (none found)")
        + f"  {_verdict(s.heartbeat_ok)}",
    ]
    if s.failover is not None:
        f = s.failover
        lines.append(
            f"Last {f.direction}  {escape(f.run_id)} {escape(f.source)} → {escape(f.target)}, "
            f"[b]{f.state}[/], {f.groups_done}/{f.groups_total} groups, by {escape(f.by)}"
        )
    return lines


def plan_lines(plan: Any) -> list[str]:
    """The failover plan panel: pre-checks and what each group gets."""
    marks = {"ok": "[green]ok[/]  ", "warn": "[yellow]WARN[/]", "fail": "[b red]FAIL[/]"}
    out = [
        f"[b]{plan.direction} plan[/]  {escape(plan.source)} → {escape(plan.target)} "
        f"(epoch {plan.epoch} → {plan.new_epoch})",
    ]
    out += [f"  {marks[c.status]} {escape(c.name)}: {escape(c.detail)}" for c in plan.prechecks]
    for g in plan.groups:
        parts = ", ".join(
            f"{escape(p.topic)}/{p.partition} → {p.offset if p.offset is not None else '-'}"
            for p in g.partitions
        )
        out.append(f"  group {escape(g.group)}: {g.action} ({parts})")
    verdict = (
        "pre-checks passed" if plan.allowed
        else "pre-checks FAILED: execute refuses unless --force" if plan.forceable
        else "pre-checks FAILED: execute refuses"
    )
    out.append(f"  {verdict}. Run it with `kafkaops failover execute --pair "
               f"{escape(plan.pair)}` or /kafka failover execute.")
    return out


class DrScreen(DataScreen):
    """DR status of one pair (the first in config unless `pair` is given); `p` shows the
    failover plan under it, `n` moves to the next pair."""

    TITLE = "DR"
    REFRESH_EVERY = 5.0
    CSS_PATH = "dr.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_plan", "Failover plan"),
        Binding("n", "next_pair", "Next pair"),
    ]

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

    def __init__(self, pair: str | None = None) -> None:
        super().__init__()
        self.pair_name = pair
        self.show_plan = False
        self.last: DrStatus | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="dr-summary")
        yield Static("[b]Replicated topics[/]", classes="section")
        yield DataTable(id="dr-topics", cursor_type="row", zebra_stripes=True)
        yield Static("[b]Consumer groups (MM2 checkpoints)[/]", classes="section")
        yield DataTable(id="dr-groups", cursor_type="row", zebra_stripes=True)
        yield Static("", id="dr-problems")
        yield Static("", id="dr-plan")

    def on_mount(self) -> None:
        topics: DataTable[Any] = self.query_one("#dr-topics", DataTable)
        for label in TOPIC_COLUMNS:
            topics.add_column(label, key=label)
        groups: DataTable[Any] = self.query_one("#dr-groups", DataTable)
        for label in GROUP_COLUMNS:
            groups.add_column(label, key=label)
        self.query_one("#dr-plan", Static).display = False

    # ------------------------------------------------------------ loading

    async def load(self) -> DrStatus:
        return await DrService(self.services).status(self.pair_name)

    def action_toggle_plan(self) -> None:
        self.show_plan = not self.show_plan
        panel = self.query_one("#dr-plan", Static)
        panel.display = self.show_plan
        if self.show_plan:
            panel.update("loading the failover plan…")
            self._load_plan()
        else:
            self.workers.cancel_group(self, "dr-plan")

    def action_next_pair(self) -> None:
        pairs = [p.name for p in self.services.config.dr.pairs]
        if len(pairs) < 2:
            self.notify("only one DR pair is configured", severity="information")
            return
        current = self.last.pair if self.last else pairs[0]
        self.pair_name = pairs[(pairs.index(current) + 1) % len(pairs)]
        if self.show_plan:
            self.query_one("#dr-plan", Static).update("loading the failover plan…")
        self.refresh_data()

    @work(exclusive=True, group="dr-plan", exit_on_error=False)
    async def _load_plan(self) -> None:
        from kafkaops.core.failover import FailoverService, direction_for

        try:
            svc = FailoverService(self.services)
            pair = svc.dr.pair(self.pair_name)
            view = await svc.control.read(pair)
            plan = await svc.plan(pair, direction=direction_for(view, pair))
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
        self.query_one("#dr-summary", Static).update("\n".join(summary_lines(s)))
        topics: DataTable[Any] = self.query_one("#dr-topics", DataTable)
        topics.clear()
        for t in s.topics:
            state = {"ok": "[green]ok[/]", "behind": "[b red]behind[/]"}.get(
                t.state, f"[yellow]{t.state}[/]")
            topics.add_row(
                t.topic, t.remote_topic, str(t.partitions), _num(t.source_end),
                _num(t.target_end), _num(t.lag_messages), fmt_age(t.lag_seconds), state,
                key=t.topic,
            )
        groups: DataTable[Any] = self.query_one("#dr-groups", DataTable)
        groups.clear()
        for g in s.groups:
            groups.add_row(
                g.group, str(g.partitions), fmt_age(g.age_seconds),
                fmt_age(g.oldest_partition_age_seconds), "yes" if g.moves_on_failover else "no",
                key=g.group,
            )
        problems = self.query_one("#dr-problems", Static)
        problems.update(
            "\n".join(f"[yellow]![/] {escape(p)}" for p in s.problems) if s.problems else ""
        )
        if self.show_plan:
            self._load_plan()  # the plan follows the status it was made from

    @on(PlanLoaded)
    def _plan_loaded(self, message: PlanLoaded) -> None:
        message.stop()
        if self.show_plan:
            self.query_one("#dr-plan", Static).update("\n".join(plan_lines(message.plan)))

    @on(PlanFailed)
    def _plan_failed(self, message: PlanFailed) -> None:
        message.stop()
        if self.show_plan:
            self.query_one("#dr-plan", Static).update(
                f"[b red]failover plan: error:[/] {escape(message.error)}. It is made again "
                f"with the next refresh (r tries now)."
            )


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"
