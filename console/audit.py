"""The audit trail: who changed what, when, from where (newest first), each record's
parameters and outcome, and `v` to verify the trail's signatures and chains.

Data: `AuditLog.records()` and `AuditLog.verify()` from core (`self.services.audit()`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from kafkaops.console.base import DataScreen
from kafkaops.core.audit.model import AuditRecord, VerifyReport
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.textfmt import plural
from kafkaops.core.untrusted import printable

COLUMNS = ("Time", "Actor", "Face", "Action", "Target", "Result", "Offset")
RESULT_STYLE = {"ok": "green", "error": "bold red", "refused": "yellow",
                "interrupted": "bold yellow"}


def record_detail(r: AuditRecord) -> Text:
    t = Text()
    when = datetime.fromtimestamp(r.time / 1000).isoformat(sep=" ", timespec="seconds")
    t.append(f"{r.action} {r.target}\n", style="bold")
    t.append(f"when       {when}\nwho        {r.actor} via {r.face}\n"
             f"cluster    {r.cluster}\nresult     ")
    t.append(r.result, style=RESULT_STYLE.get(r.result, ""))
    if r.error:
        t.append(f": {r.error}")
    t.append(f"\nrecord     partition {r.partition} offset {r.offset} · writer {r.writer} "
             f"seq {r.seq} · id {r.id}\n\n")
    t.append("parameters\n", style="bold")
    t.append(json.dumps(r.params, indent=2, ensure_ascii=False, default=str) + "\n")
    if r.detail is not None:
        t.append("\noutcome\n", style="bold")
        t.append(json.dumps(r.detail, indent=2, ensure_ascii=False, default=str))
    return t


def verify_text(report: VerifyReport) -> Text:
    head = (f"head offset {report.head_offset} sig {report.head_sig[:16]}…"
            if report.head_sig else "empty trail")
    summary = (f"{report.records:,} records from offset {report.log_start}, "
               f"{plural(report.writers, 'writer')}; {head}")
    if report.ok:
        return Text(f"✓ trail verified: {summary}")
    bad = plural(len(report.problems), 'bad record')
    t = Text(f"✗ trail FAILED verification: {bad}; {summary}\n",
             style="bold")
    for p in report.problems:
        t.append(f"  partition {p.partition} offset {p.offset}: {p.kind}: {p.message}\n")
    return t


class AuditScreen(DataScreen):
    """The newest audit records; Enter or ↑↓ shows one; v verifies the whole trail."""

    CSS_PATH = "messages.tcss"
    AUTO_FOCUS = "#audit-records"
    REFRESH_EVERY = 10.0
    LIMIT = 500
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "verify", "Verify"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.title = "Audit trail"
        self._records: dict[str, AuditRecord] = {}
        self._bad: set[int] = set()

    def compose_body(self) -> ComposeResult:
        yield Static(id="audit-summary")
        yield Static(id="audit-verify")
        with Horizontal(id="audit-body"):
            yield DataTable(id="audit-records", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="audit-detail-pane"):
                yield Static("select a record", id="audit-detail")

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#audit-records", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self.query_one("#audit-verify", Static).display = False

    async def load(self) -> tuple[str, list[AuditRecord]]:
        log = await self.services.audit()
        return log.topic, await log.records(limit=self.LIMIT)

    def show(self, data: tuple[str, list[AuditRecord]]) -> None:
        topic, records = data
        self._records = {str(r.offset): r for r in reversed(records)}
        self._redraw()
        self.query_one("#audit-summary", Static).update(Text(
            f"{topic} on {self.services.cluster_name}: newest {plural(len(records), 'record')} · "
            "v verifies signatures and sequences"))

    def _redraw(self) -> None:
        table: DataTable[Any] = self.query_one("#audit-records", DataTable)
        cursor = table.cursor_row
        table.clear()
        for key, r in self._records.items():
            when = datetime.fromtimestamp(r.time / 1000).strftime("%Y-%m-%d %H:%M:%S")
            result = Text(r.result, style=RESULT_STYLE.get(r.result, ""))
            offset = Text(("⚠ " if r.offset in self._bad else "") + str(r.offset),
                          justify="right", style="bold red" if r.offset in self._bad else "")
            table.add_row(when, *(Text(printable(x)) for x in (r.actor, r.face, r.action,
                                                               r.target)),
                          result, offset, key=key)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)

    @on(DataTable.RowHighlighted, "#audit-records")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        r = self._records.get(str(event.row_key.value)) if event.row_key else None
        if r is not None:
            self.query_one("#audit-detail", Static).update(record_detail(r))

    def action_verify(self) -> None:
        box = self.query_one("#audit-verify", Static)
        box.display = True
        box.update("verifying…")
        self._verify_worker()

    @work(exclusive=True, group="verify", exit_on_error=False)
    async def _verify_worker(self) -> None:
        box = self.query_one("#audit-verify", Static)
        try:
            report = await (await self.services.audit()).verify()
        except KafkaOpsError as e:
            box.update(Text(f"cannot verify: {e}", style="bold red"))
            box.set_classes("verify-failed")
            return
        box.update(verify_text(report))
        box.set_classes("verify-ok" if report.ok else "verify-failed")
        self._bad = {p.offset for p in report.problems}
        self._redraw()
