"""Compliance: every topic checked against the policies of config, each violation with the
rule, the value found and the fix; values the broker does not report are UNKNOWN, never
compliant. `F` fixes the highlighted topic's configs: the plan, a confirmation (Cancel
focused), then core's audited apply, which is refused on a read-only cluster and fails
with a clear message where the broker cannot change topic configs (the embedded one).

Data: `PolicyService.check()` from core (metadata and configs, two requests).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from kafkaops.console.base import DataScreen
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.core.audit.log import local_actor
from kafkaops.core.audit.trails import note_refusal
from kafkaops.core.capabilities import in_console_words
from kafkaops.core.errors import KafkaOpsError, Refused
from kafkaops.core.policy.model import Finding, FixPlan, PolicyReport
from kafkaops.core.policy.service import ACTION, PolicyService
from kafkaops.core.textfmt import plural
from kafkaops.core.untrusted import printable

COLUMNS = ("Topic", "Team", "Policy", "Rule", "Status", "Found", "Fix")


def fix_text(plan: FixPlan) -> Text:
    text = Text()
    text.append(f"Change the configs of topic {printable(plan.topic)} on {plan.cluster}\n\n",
                style="bold")
    for c in plan.changes:
        before = "not reported" if c.before is None else c.before
        text.append(f"  {c.config}: {printable(before)} -> {c.after}   ({c.policy})\n")
    for f in plan.not_fixable:
        text.append(f"  not a config change: {f.rule}: {printable(f.fix_command)}\n",
                    style="dim")
    text.append("\nWritten to the audit trail.", style="dim")
    return text


class ComplianceScreen(DataScreen):
    CSS_PATH = "usage.tcss"
    SHOWS_STALE = True
    TITLE = "Compliance"
    REFRESH_EVERY = 30.0
    AUTO_FOCUS = "#compliance-findings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("F", "fix", "Fix topic"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._findings: list[Finding] = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="compliance-summary")
        yield Static(id="compliance-result")
        yield DataTable(id="compliance-findings", cursor_type="row", zebra_stripes=True)
        yield Static(id="compliance-detail")

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#compliance-findings", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)

    async def load(self) -> PolicyReport | None:
        if not self.services.config.policies:
            return None
        return await PolicyService(self.services).check()

    def show(self, data: PolicyReport | None) -> None:
        summary = self.query_one("#compliance-summary", Static)
        table: DataTable[Any] = self.query_one("#compliance-findings", DataTable)
        cursor = table.cursor_row
        table.clear()
        if data is None:
            self._findings = []
            summary.update("no policies in config: add policies: (see config.example.yaml)")
            return
        v, u = len(data.violations), len(data.unknown)
        under = (f"{plural(data.topics, 'topic')} under "
                 f"{plural(len(data.policies), 'policy', 'policies')}")
        words = Text.assemble(
            (plural(v, "violation"), "bold red" if v else "bold green"),
            ", ",
            (f"{u} unknown", "bold yellow" if u else ""),
            f" (not reported by the broker: never taken as compliant) · "
            f"{under} · F fixes the highlighted topic")
        if self.stale_since is not None:
            # the cluster does not answer: the last check is history, not a verdict
            words = Text.assemble((f"UNKNOWN now: no answer for {self.stale_age()}; "
                                   f"the last check found {plural(v, 'violation')}, {u} unknown",
                                   "bold yellow"), f" · {under}")
        elif not data.findings:
            words = Text.assemble(("every topic complies", "bold green"), f" · {under}")
        summary.update(words)
        for i, f in enumerate(data.findings):
            status = (Text("VIOLATION", style="bold red") if f.status == "violation"
                      else Text("UNKNOWN", style="yellow"))
            table.add_row(Text(printable(f.topic)), Text(f.team), Text(printable(f.policy)),
                          Text(printable(f.rule)), status, Text(printable(f.found_shown)),
                          Text(printable(f.fix_command)), key=f"{i}:{f.topic}")
        self._findings = list(data.findings)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
            self._detail(table.cursor_row)

    @on(DataTable.RowHighlighted, "#compliance-findings")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, row: int) -> None:
        """The highlighted finding in full (the table's columns are cut on a narrow screen)."""
        box = self.query_one("#compliance-detail", Static)
        if not 0 <= row < len(self._findings):
            box.update("")
            return
        f = self._findings[row]
        box.update(Text(printable(
            f"{f.topic} ({f.team}): {f.policy}: {f.rule}; found {f.found_shown} "
            f"({f.status}) · fix: {f.fix_command}")))

    def _topic(self) -> str | None:
        table: DataTable[Any] = self.query_one("#compliance-findings", DataTable)
        if not table.row_count:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return key.partition(":")[2]

    def result_line(self, text: str, *, error: bool = False) -> None:
        self.query_one("#compliance-result", Static).update(
            Text(printable(in_console_words(text)), style="bold red" if error else "bold"))

    def action_fix(self) -> None:
        topic = self._topic()
        if topic is None:
            self.result_line("no violation highlighted", error=True)
            return
        try:
            self.services.require_writable(None, f"change configs of topic {topic}")
        except KafkaOpsError as e:
            self.result_line(f"refused: {e}", error=True)
            if isinstance(e, Refused):  # on an audit trail too, as from every face
                self.run_worker(note_refusal(self.services, e, actor=local_actor(),
                                             face="console", action=ACTION, target=topic),
                                group="audit-refusal", exit_on_error=False)
            return
        self._fix_worker(topic)

    @work(exclusive=True, group="compliance-fix", exit_on_error=False)
    async def _fix_worker(self, topic: str) -> None:
        svc = PolicyService(self.services)
        try:
            plan = await svc.plan_fix(topic)
        except KafkaOpsError as e:
            self.result_line(f"cannot plan a fix: {e}", error=True)
            return
        if not plan.changes:
            why = "; ".join(f"{f.rule}: {f.fix_command}" for f in plan.not_fixable)
            self.result_line(f"{topic}: no topic config to change" + (f" ({why})" if why else ""))
            return
        yes = await self.app.push_screen_wait(ConfirmScreen(
            fix_text(plan), yes_label="Change configs", yes_variant="error", yes_key=False))
        if not yes:
            self.result_line(f"fix of {topic} cancelled: nothing was changed")
            return
        self.result_line(f"changing configs of {topic}…")
        try:
            await svc.apply_fix(plan, actor=local_actor(), face="console")
        except KafkaOpsError as e:
            self.result_line(f"fix failed: {e}", error=True)
            return
        self.result_line(f"fixed {topic}: " + ", ".join(f"{c.config}={c.after}"
                                                        for c in plan.changes))
        self.refresh_data()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        if event.worker.group == "compliance-fix" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.result_line(f"fix failed: {type(error).__name__}: {error}", error=True)
