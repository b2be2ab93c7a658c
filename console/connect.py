"""Kafka Connect in the console: every connector of the cluster's Connect clusters with its
state, task counts by state, type and sink lag (`ConnectScreen`); one connector's tasks with
their traces (scrollable) and its config (`ConnectorScreen`).

Data: core/connect's `ConnectService`, one per Connect cluster of the console's Kafka cluster,
kept for the screen's life. A worker that does not answer never takes the screen (or the
header's Kafka state) down: its connectors stay listed with the state it last reported,
marked UNKNOWN with the age of that answer, never a stale RUNNING.

Changes (restart all / failed only / one task, pause, resume, stop, delete) are planned
from the state now, shown in a dialog whose Cancel has the focus (Enter alone never goes
ahead), and applied through core, which audits them and refuses them on a read-only
cluster. A change that changes nothing says so and opens no dialog.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from kafkaops.console.base import DataScreen, clock
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.core.audit.log import local_actor
from kafkaops.core.capabilities import in_console_words
from kafkaops.core.connect.model import (
    ChangePlan,
    ChangeRequest,
    ConnectListing,
    Connector,
    SinkLag,
    TaskStatus,
)
from kafkaops.core.connect.rules import counts_text, problem
from kafkaops.core.connect.service import ConnectService
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.lag.status import age
from kafkaops.core.untrusted import printable

STATE_STYLE = {
    "RUNNING": "green", "FAILED": "bold white on red", "PAUSED": "bold yellow",
    "STOPPED": "bold yellow", "RESTARTING": "cyan", "UNASSIGNED": "cyan", "UNKNOWN": "dim",
    "DELETED": "dim",
}
LAG_STYLE = {"OK": "green", "WARN": "bold yellow", "STOP": "bold red", "ERR": "bold red",
             "STALL": "bold magenta", "DATA_LOSS": "bold white on red", "UNKNOWN": "dim"}
YES_LABEL = {"restart": "Restart", "pause": "Pause", "resume": "Resume", "stop": "Stop",
             "delete": "Delete"}


def state_text(state: str) -> Text:
    return Text(printable(state), style=STATE_STYLE.get(state, ""))


def counts_cell(c: Connector) -> Text:
    """"1 FAILED, 2 RUNNING", the failed part in red."""
    text = Text()
    for i, part in enumerate(counts_text(c.task_counts).split(", ")):
        if i:
            text.append(", ")
        text.append(printable(part), style=STATE_STYLE.get(part.split(" ", 1)[-1], ""))
    return text


def lag_cells(c: Connector, lag: SinkLag | None, error: str | None) -> tuple[Text, Text]:
    if c.type != "sink":
        return Text(""), Text("")
    if lag is None or lag.lag is None:
        return Text("unknown", style="dim", justify="right"), Text("UNKNOWN", style="dim")
    when = f" ({age(lag.lag_seconds)})" if lag.lag_seconds else ""
    return (Text(f"{lag.lag:,}{when}", justify="right"),
            Text(lag.status, style=LAG_STYLE.get(lag.status, "")))


@dataclass
class ConnectView:
    """What the screen knows about one Connect cluster: its last answer and, when the
    latest read failed, why and since when."""

    name: str
    """Connect cluster name."""
    listing: ConnectListing | None = None
    """The last listing read (None before the first answer)."""
    error: str | None = None
    """Why the latest read failed; None when it succeeded."""
    failing_since: float | None = None
    """Wall clock of the first failed read in a row."""
    read_at: float | None = None
    """Wall clock of the last answer."""

    def unreachable_line(self, now: float) -> str:
        last = (f"last answer {clock(self.read_at)} ({age(now - self.read_at)} ago)"
                if self.read_at else "no answer yet")
        since = age(now - (self.failing_since or now))
        return printable(f"Connect {self.name} not answering for {since} ({last}): "
                         f"{self.error}")


@dataclass
class Loaded:
    views: list[ConnectView] = field(default_factory=list)


class ConnectBase(DataScreen):
    """What both Connect screens share: one ConnectService per Connect cluster, and the
    change actions (plan, confirm with Cancel focused, apply, show the outcome)."""

    CSS_PATH = "connect.tcss"

    def __init__(self) -> None:
        super().__init__()
        self._connects: dict[str, ConnectService] = {}

    def connect_service(self, name: str | None = None) -> ConnectService:
        entries = self.services.cluster_config().connect
        key = name or (entries[0].name if entries else "")
        svc = self._connects.get(key)
        if svc is None:
            svc = self._connects[key] = ConnectService(self.services, None, name)
        return svc

    async def on_unmount(self) -> None:
        services, self._connects = list(self._connects.values()), {}
        await asyncio.gather(*(s.aclose() for s in services), return_exceptions=True)

    def target(self) -> tuple[str, str, int | None] | None:
        """(connect, connector, highlighted task) the action keys act on."""
        return None

    def result_line(self, text: str, *, error: bool = False) -> None:
        """The outcome of the last change (kept until the next one; polls do not clear it)."""
        box = self.query_one("#connect-result", Static)
        box.update(Text(printable(in_console_words(text)),
                        style="bold red" if error else "bold"))

    def action_change(self, action: str, scope: str = "") -> None:
        target = self.target()
        if target is None:
            self.result_line("no connector highlighted", error=True)
            return
        connect, connector, task = target
        if scope == "task" and task is None:
            self.result_line("highlight a task first", error=True)
            return
        try:
            self.services.require_writable(None, f"{action} connector {connector!r}")
        except KafkaOpsError as e:
            self.result_line(f"refused: {e}", error=True)
            return
        request = ChangeRequest(action, connector,  # type: ignore[arg-type]
                                task=task if scope == "task" else None,
                                failed_only=scope == "failed")
        self._change_worker(connect, request)

    @work(exclusive=True, group="connect-change", exit_on_error=False)
    async def _change_worker(self, connect: str, request: ChangeRequest) -> None:
        svc = self.connect_service(connect)
        try:
            plan = await svc.plan(request)
        except KafkaOpsError as e:
            self.result_line(f"cannot {request.action}: {e}", error=True)
            return
        if plan.noop:
            self.result_line(f"nothing to change: {plan.noop}")
            return
        if plan.blocked:
            self.result_line(f"cannot {request.action}: {plan.blocked}", error=True)
            return
        yes = await self.app.push_screen_wait(ConfirmScreen(
            confirm_text(plan), yes_label=YES_LABEL.get(request.action, "Go ahead"),
            yes_variant="error", yes_key=False))
        if not yes:
            self.result_line(f"{request.action} cancelled: nothing was changed")
            return
        self.result_line(f"{request.action} {request.connector}…")

        def retrying(note: str) -> None:
            self.result_line(note)

        try:
            result = await svc.apply(plan, actor=local_actor(), face="console",
                                     on_retry=retrying)
        except KafkaOpsError as e:
            self.result_line(f"{request.action} failed: {e}", error=True)
            return
        counts: dict[str, int] = {}
        for t in result.tasks:
            counts[t.state] = counts.get(t.state, 0) + 1
        done = (f"{request.connector} deleted" if result.state == "DELETED" else
                f"{request.action} done: {request.connector} is {result.state}, tasks "
                f"{counts_text(counts)}")
        failed_again = request.action == "restart" and any(
            t.state == "FAILED" and (t.id in plan.targets or not plan.targets)
            for t in result.tasks)
        line = done + (" (failed again)" if failed_again else "")
        self.result_line(line, error=failed_again)
        if not self.after_change(result.state, line):
            self.refresh_data()

    def after_change(self, state: str, line: str) -> bool:
        """Hook after a change; True when the screen handled it (the detail screen closes
        itself when its connector was deleted)."""
        return False

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        # what escapes the change worker (not a core error): say it, never fail silently
        if event.worker.group == "connect-change" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.result_line(f"change failed: {type(error).__name__}: {error}", error=True)


def confirm_text(plan: ChangePlan) -> Text:
    counts: dict[str, int] = {}
    for t in plan.tasks:
        counts[t.state] = counts.get(t.state, 0) + 1
    text = Text()
    text.append(f"{plan.request.action.capitalize()} on Connect {plan.connect} "
                f"(cluster {plan.cluster})\n\n", style="bold")
    text.append(printable(plan.will) + "\n\n")
    text.append(f"Now: {plan.state}, tasks {counts_text(counts)}\n")
    text.append("Written to the audit trail.", style="dim")
    return text


CHANGE_BINDINGS: list[BindingType] = [
    Binding("F", "change('restart', 'failed')", "Restart failed"),
    Binding("R", "change('restart')", "Restart all"),
    Binding("p", "change('pause')", "Pause"),
    Binding("u", "change('resume')", "Resume"),
    Binding("x", "change('stop')", "Stop"),
    Binding("delete", "change('delete')", "Delete", key_display="del"),
]
CHANGE_HELP: tuple[tuple[str, str], ...] = (
    ("F", "restart what failed (the connector if FAILED, its failed tasks)"),
    ("R", "restart the connector and all its tasks"),
    ("p / u", "pause / resume the connector"),
    ("x", "stop the connector (tasks shut down; offsets can then be reset from the CLI)"),
    ("del", "delete the connector (its offsets stay)"),
)


class ConnectScreen(ConnectBase):
    """Every connector: state, tasks by state, type, sink lag, the first problem."""

    TITLE = "Connect"
    AUTO_FOCUS = "#connect-table"
    REFRESH_EVERY = 5.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Tasks"), *CHANGE_BINDINGS]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "the highlighted connector's tasks, traces and config"), *CHANGE_HELP)

    def __init__(self) -> None:
        super().__init__()
        self.connect_views: dict[str, ConnectView] = {}
        self._rows: dict[str, tuple[str, str]] = {}  # row key -> (connect, connector)

    def compose_body(self) -> ComposeResult:
        yield Static(id="connect-summary")
        yield Static(id="connect-result")
        yield DataTable(id="connect-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#connect-table", DataTable)
        for label in ("Connector", "Type", "State", "Tasks", "Sink lag", "Lag status",
                      "Connect", "Problem"):
            table.add_column(label, key=label)

    async def load(self) -> Loaded:
        entries = self.services.cluster_config().connect
        if not entries:
            return Loaded()

        async def one(name: str) -> tuple[str, ConnectListing | None, str | None]:
            try:
                return name, await self.connect_service(name).listing(), None
            except KafkaOpsError as e:
                return name, None, str(e)

        return Loaded([ConnectView(n, listing, err) for n, listing, err in
                       await asyncio.gather(*(one(e.name) for e in entries))])

    def show(self, data: Loaded) -> None:
        now = time.time()
        for fresh in data.views:
            view = self.connect_views.setdefault(fresh.name, ConnectView(fresh.name))
            if fresh.listing is not None:
                view.listing, view.error, view.failing_since = fresh.listing, None, None
                view.read_at = fresh.listing.read_at
            else:
                view.error = fresh.error
                view.failing_since = view.failing_since or now
        self._redraw(now)

    def _redraw(self, now: float) -> None:
        table: DataTable[Any] = self.query_one("#connect-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        self._rows.clear()
        lines: list[Text] = []
        if not self.connect_views:
            cluster = self.services.cluster_name
            lines.append(Text(f"No Kafka Connect configured for cluster {cluster}: add "
                              f"clusters.{cluster}.connect: [{{name, url}}] to "
                              f"{self.services.config.source}"))
        for view in self.connect_views.values():
            lst = view.listing
            if view.error is not None:
                lines.append(Text(view.unreachable_line(now), style="bold red"))
            if lst is None:
                continue
            failed = sum(1 for c in lst.connectors if c.failed)
            workers = len(lst.workers)
            lines.append(Text.assemble(
                (f"Connect {view.name}", "bold"),
                f" · Kafka Connect {lst.worker.version} · {workers} worker"
                f"{'s' if workers != 1 else ''} · {len(lst.connectors)} connectors",
                (f" · {failed} failing" if failed else "", "bold red")))
            if lst.lag_error and view.error is None:
                lines.append(Text(printable(f"sink lag unknown: {lst.lag_error}"),
                                  style="yellow"))
            stale = view.error is not None
            for c in sorted(lst.connectors, key=lambda c: (not c.failed, c.name)):
                key = f"{view.name}/{c.name}"
                self._rows[key] = (view.name, c.name)
                name = Text(printable(c.name))
                if stale:
                    was = f"UNKNOWN · was {c.state} {age(now - (view.read_at or now))} ago"
                    table.add_row(name, printable(c.type), Text(printable(was), style="dim"),
                                  Text(counts_text(c.task_counts), style="dim"),
                                  Text("unknown", style="dim"), Text("UNKNOWN", style="dim"),
                                  view.name, "", key=key)
                    continue
                lag_cell, status_cell = lag_cells(c, lst.lag.get(c.name), lst.lag_error)
                table.add_row(name, printable(c.type), state_text(c.state), counts_cell(c),
                              lag_cell, status_cell, view.name, printable(problem(c)[:120]),
                              key=key)
        self.query_one("#connect-summary", Static).update(Text("\n").join(lines))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)

    def target(self) -> tuple[str, str, int | None] | None:
        table: DataTable[Any] = self.query_one("#connect-table", DataTable)
        if not table.row_count:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        connect, connector = self._rows[key]
        return connect, connector, None

    @on(DataTable.RowSelected, "#connect-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        target = self.target()
        if target is not None:
            self.app.push_screen(ConnectorScreen(target[0], target[1]))


class ConnectorScreen(ConnectBase):
    """One connector: state, tasks (highlight one for its trace), config (v)."""

    TITLE = "Connect › connector"
    AUTO_FOCUS = "#connector-tasks"
    REFRESH_EVERY = 5.0
    BINDINGS: ClassVar[list[BindingType]] = [
        *CHANGE_BINDINGS,
        Binding("T", "change('restart', 'task')", "Restart task"),
        Binding("v", "toggle_view", "Trace/config"),
        Binding("escape", "back", "Back"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("up / down", "highlight a task: its trace shows below (scroll it with the mouse, "
                      "or focus it with tab and use the arrow keys)"),
        ("T", "restart the highlighted task"), *CHANGE_HELP,
        ("v", "show the config (secrets redacted) instead of the trace, and back"),
    )

    def __init__(self, connect: str, connector: str) -> None:
        super().__init__()
        self.connect_name = connect
        self.connector_name = connector
        self.title = f"Connect › {connector}"
        self.current: Connector | None = None
        self.cview = ConnectView(connect)
        self.showing = "trace"

    def compose_body(self) -> ComposeResult:
        yield Static(id="connector-head")
        yield Static(id="connect-result")
        yield DataTable(id="connector-tasks", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="connector-pane"):
            yield Static(id="connector-detail", markup=False)

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#connector-tasks", DataTable)
        for label in ("Task", "State", "Worker", "Problem"):
            table.add_column(label, key=label)

    async def load(self) -> tuple[Connector | None, SinkLag | None, str | None, str | None]:
        try:
            svc = self.connect_service(self.connect_name)
            c, lag, lag_error = await svc.detail(self.connector_name)
        except KafkaOpsError as e:
            return None, None, None, str(e)
        return c, lag, lag_error, None

    def show(self, data: tuple[Connector | None, SinkLag | None, str | None, str | None]) -> None:
        c, lag, lag_error, error = data
        now = time.time()
        if c is not None:
            self.current, self.cview.error, self.cview.failing_since = c, None, None
            self.cview.read_at = now
        else:
            self.cview.error = error
            self.cview.failing_since = self.cview.failing_since or now
        self._redraw(now, lag, lag_error)

    def _redraw(self, now: float, lag: SinkLag | None, lag_error: str | None) -> None:
        c = self.current
        head = self.query_one("#connector-head", Static)
        table: DataTable[Any] = self.query_one("#connector-tasks", DataTable)
        if c is None:
            head.update(Text(self.cview.unreachable_line(now), style="bold red"))
            return
        stale = self.cview.error is not None
        short = c.class_name.rsplit(".", 1)[-1] or "?"
        lines = [Text.assemble((printable(c.name), "bold"),
                               printable(f" · {c.type} · {short} · Connect {self.connect_name}"))]
        if stale:
            lines.append(Text(self.cview.unreachable_line(now), style="bold red"))
            lines.append(Text(printable(f"State UNKNOWN · was {c.state} "
                                        f"{age(now - (self.cview.read_at or now))} ago"),
                              style="dim"))
        else:
            lines.append(Text.assemble("State ", state_text(c.state),
                                       printable(f" on {c.worker_id or '?'} · tasks "),
                                       counts_cell(c)))
            if c.group is not None:
                if lag is not None and lag.lag is not None:
                    lines.append(Text(printable(f"Sink lag {lag.lag:,} records "
                                                f"({age(lag.lag_seconds)}) {lag.status} · "
                                                f"group {c.group}")))
                else:
                    why = lag_error or (lag.error if lag else None)
                    lines.append(Text(printable(f"Sink lag unknown · group {c.group}"
                                                + (f" ({why})" if why else "")), style="dim"))
        head.update(Text("\n").join(lines))
        cursor = table.cursor_row
        table.clear()
        for t in c.tasks:
            state = (Text(printable(f"UNKNOWN · was {t.state}"), style="dim") if stale
                     else state_text(t.state))
            table.add_row(str(t.id), state, Text(printable(t.worker_id or "-")),
                          Text(printable((problem_of(t) if not stale else "")[:100])),
                          key=str(t.id))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
        self._show_pane()

    def _highlighted_task(self) -> TaskStatus | None:
        table: DataTable[Any] = self.query_one("#connector-tasks", DataTable)
        if self.current is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.current.task(int(str(key)))

    @on(DataTable.RowHighlighted, "#connector-tasks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_pane()

    def _show_pane(self) -> None:
        pane = self.query_one("#connector-detail", Static)
        c = self.current
        if c is None:
            return
        if self.showing == "config":
            width = max((len(k) for k in c.config), default=0)
            pane.update(Text("Config (secrets redacted)\n\n", style="bold") + Text(
                "\n".join(printable(f"{k.ljust(width)}  {v}") for k, v in c.config.items())))
            return
        text = Text()
        if c.trace:
            text.append("Connector trace\n", style="bold")
            text.append(printable(c.trace.rstrip(), multiline=True) + "\n\n")
        t = self._highlighted_task()
        if t is not None:
            text.append(f"Task {t.id} · {t.state}\n", style="bold")
            text.append(printable(t.trace.rstrip(), multiline=True) if t.trace
                        else "no trace (the task has not failed)")
        elif not c.trace:
            text.append("no tasks" if not c.tasks else "")
        pane.update(text)

    def action_toggle_view(self) -> None:
        self.showing = "config" if self.showing == "trace" else "trace"
        self._show_pane()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def target(self) -> tuple[str, str, int | None] | None:
        t = self._highlighted_task()
        return self.connect_name, self.connector_name, t.id if t is not None else None

    def after_change(self, state: str, line: str) -> bool:
        if state != "DELETED":
            return False
        self.app.pop_screen()
        below = self.app.screen
        if isinstance(below, ConnectBase):
            below.result_line(line)
            below.refresh_data()
        return True


def problem_of(t: TaskStatus) -> str:
    from kafkaops.core.connect.rules import trace_headline

    return trace_headline(t.trace) if t.state == "FAILED" else ""

