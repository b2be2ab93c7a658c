"""Alerts in the console: what fires now and what resolved lately (`AlertsScreen`, key `!`).

Data: the alerts topic (`_kafkaops.alerts`, `AlertLog.read_book()` in core/alerts/log.py),
where the evaluators of `kafkaops bot` / `kafkaops alerts run` publish firing and resolved
events: the same source as `kafkaops alerts list` and the Slack messages, so the console
never disagrees with them. The console only reads; it never evaluates nor publishes. Each
load hands the book to the header's count (console/base.py `AlertWatch`), so both agree.

Values are those the evaluator saw when the alert fired (or resolved); Enter opens the live
view of what the alert is about: a group's lag (console/lag.py `GroupLagScreen`), a topic's
detail, the DR screen or the cluster overview.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from kafkaops.console.base import SEVERITIES, DataScreen, alert_watch
from kafkaops.core.alerts.book import AlertBook, AlertView
from kafkaops.core.alerts.config import alerts_cluster
from kafkaops.core.alerts.log import AlertLog
from kafkaops.core.alerts.metrics import show_value
from kafkaops.core.alerts.model import Subject
from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError
from kafkaops.core.lag.status import age
from kafkaops.core.textfmt import plural
from kafkaops.core.untrusted import printable

#: resolved alerts stay listed this long after they resolved (a night's shift and then some)
RECENT_SECONDS = 24 * 3600

SEVERITY_STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "cyan"}

COLUMNS: tuple[str, ...] = ("State", "Severity", "Rule", "Target", "Since", "For", "Value",
                            "Condition", "Channel", "Slack")


@dataclass(frozen=True)
class AlertRow:
    """One line of the alerts table."""

    alert_id: str
    """Stable alert id: the row key."""
    state: Literal["firing", "resolved"]
    """What the topic says now."""
    severity: str
    """critical, warning or info."""
    rule: str
    """Rule name."""
    subject: Subject
    """What the alert is about (cluster, group, topic or DR pair)."""
    fired_at: float
    """When the alert fired (epoch seconds)."""
    resolved_at: float | None
    """When it resolved (None while firing)."""
    value: str
    """The metrics its condition read, as the evaluator saw them: "lag 8"."""
    condition: str
    """The rule's condition as written: the threshold ("lag > 5")."""
    channel: str
    """Slack channel the rule posts to."""
    slack: str
    """Where the Slack side is: posted, not posted yet, snoozed until 15:03, closed."""


def target_text(s: Subject) -> str:
    """What an alert is about, shortest first: "group g", "group g · topic t", "topic t",
    "DR pair p", "cluster c"; the cluster is added when it is not the console's."""
    if s.pair is not None:
        return f"DR pair {s.pair}"
    if s.connector is not None:
        return f"connector {s.connector} ({s.connect})"
    if s.group is not None and s.topic is not None:
        return f"group {s.group} · topic {s.topic}"
    if s.group is not None:
        return f"group {s.group}"
    if s.topic is not None:
        return f"topic {s.topic}"
    return f"cluster {s.cluster}"


def values_text(values: Any) -> str:
    if not isinstance(values, dict) or not values:
        return "-"
    return ", ".join(f"{m} {show_value(m, v)}" for m, v in values.items())


def since_text(at: float, now: float) -> str:
    """Local time of an event: 14:03:22 today, "Mar 05 14:03" on another day."""
    when, today = time.localtime(at), time.localtime(now)
    if when[:3] == today[:3]:
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%b %d %H:%M", when)


def for_text(row: AlertRow, now: float) -> str:
    """How long it fired: "12m04s" while firing, "12m04s, resolved 3m10s ago" after."""
    if row.resolved_at is None:
        return age(max(0.0, now - row.fired_at))
    return (f"{age(max(0.0, row.resolved_at - row.fired_at))}, "
            f"resolved {age(max(0.0, now - row.resolved_at))} ago")


def _slack(v: AlertView, now: float) -> str:
    if v.state == "resolved":
        if ("resolved", v.seq) in v.delivered:
            return "closed"
        return "not closed yet" if ("firing", v.seq) in v.delivered else "not posted"
    if v.snoozed_until is not None and v.snoozed_until > now:
        return f"snoozed until {since_text(v.snoozed_until, now)}"
    return "posted" if ("firing", v.seq) in v.delivered else "not posted yet"


def alert_rows(book: AlertBook, now: float, *,
               recent: float = RECENT_SECONDS) -> list[AlertRow]:
    """Firing alerts, worst severity first then oldest first; then the alerts that resolved
    within `recent` seconds, newest first."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    firing: list[AlertRow] = []
    resolved: list[AlertRow] = []
    for v in book.alerts.values():
        ev = v.event
        first = v.firing or ev
        resolved_at = ev.at if v.state == "resolved" else None
        if resolved_at is not None and now - resolved_at > recent:
            continue
        row = AlertRow(
            v.alert_id, v.state, ev.severity or first.severity, ev.rule, ev.subject,
            v.fired_at, resolved_at, values_text(ev.values), ev.when or first.when,
            ev.channel, _slack(v, now))
        (firing if resolved_at is None else resolved).append(row)
    firing.sort(key=lambda r: (rank.get(r.severity, -1), r.fired_at, r.rule))
    resolved.sort(key=lambda r: (-(r.resolved_at or 0.0), r.rule))
    return firing + resolved


def severity_text(severity: str) -> Text:
    return Text(severity, style=SEVERITY_STYLE.get(severity, "bold red"))


def state_text(row: AlertRow) -> Text:
    if row.state == "firing":
        return Text("▲ FIRING", style=SEVERITY_STYLE.get(row.severity, "bold red"))
    return Text("✓ resolved", style="green")


def summary_text(rows: Sequence[AlertRow], *, rules: int, topic: str, cluster: str,
                 own_cluster: str, source: str) -> Text:
    """The line above the table: counts per severity, what was read, where."""
    firing = [r for r in rows if r.state == "firing"]
    out = Text()
    if firing:
        out.append(f"{len(firing)} firing", style="bold")
        counts = [(s, sum(1 for r in firing if r.severity == s)) for s in SEVERITIES]
        parts = [severity_text(s) + Text(f" {n}") for s, n in counts if n]
        if parts:
            out.append(" (")
            out.append(Text(", ").join(parts))
            out.append(")")
    else:
        out.append("no alerts firing", style="bold green")
    out.append(f" · {len(rows) - len(firing)} resolved in the last {RECENT_SECONDS / 3600:g}h")
    where = f"{topic!r}" + (f" on cluster {cluster!r}" if cluster != own_cluster else "")
    out.append(f" · read from {where}")
    if rules:
        out.append(f" · {plural(rules, 'metric rule')} in config")
    else:
        out.append(f"\nno metric alert rules in {source} (alerts.rules with when:); this "
                   "lists what other kafkaops processes published", style="yellow")
    out.append("\nValue: what the evaluator measured when the alert fired or resolved. "
               "Enter: the live view of its target.", style="dim")
    return out


class AlertsScreen(DataScreen):
    """Alerts firing and recently resolved, from the alerts topic."""

    TITLE = "Alerts"
    AUTO_FOCUS = "#alerts-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open target"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "open what the highlighted alert is about: a group's lag, a topic, DR"),
    )
    DEFAULT_CSS = """
    #alerts-summary {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[AlertRow] = []

    def compose_body(self) -> ComposeResult:
        yield Static("", id="alerts-summary")
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        # alerts change at most once per evaluation: read the topic at that pace (each read
        # is of the whole topic), between 1 s and 30 s
        interval = float(self.services.config.alerts.interval)
        self.REFRESH_EVERY = max(1.0, min(30.0, interval))  # type: ignore[misc]
        table: DataTable[Any] = self.query_one("#alerts-table", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)

    async def load(self) -> AlertBook:
        log = AlertLog(self.services, by="console")
        try:
            return await log.read_book()
        except ClusterUnreachable as e:
            if log.cluster == self.services.cluster_name:
                raise  # the console's own cluster: the base class backs off and reconnects
            # another cluster holds the alerts topic: say so here, but the header's
            # connection state is about the console's cluster, which may be fine
            await self.services.drop(log.cluster)
            raise KafkaOpsError(f"alerts cluster {log.cluster!r} unreachable: {e}",
                                retriable=True) from None

    def show(self, data: AlertBook) -> None:
        watch = alert_watch(cast(Any, self.app))
        if watch is not None:
            watch.accept(data)  # the header counts what this screen lists
        now = time.time()
        self.rows = alert_rows(data, now)
        table: DataTable[Any] = self.query_one("#alerts-table", DataTable)
        current = self.highlighted()
        table.clear()
        for r in self.rows:
            table.add_row(
                state_text(r), severity_text(r.severity), Text(printable(r.rule)),
                Text(printable(target_text(r.subject) + self._elsewhere(r.subject))),
                Text(since_text(r.fired_at, now)), Text(for_text(r, now)),
                Text(printable(r.value)), Text(printable(r.condition)),
                Text(printable(r.channel)), Text(r.slack), key=r.alert_id)
        keys = [r.alert_id for r in self.rows]
        if current is not None and current.alert_id in keys:
            table.move_cursor(row=keys.index(current.alert_id), animate=False)
        services = self.services
        self.query_one("#alerts-summary", Static).update(summary_text(
            self.rows, rules=sum(1 for r in services.config.alerts.rules if r.when is not None),
            topic=services.config.alerts.topic, cluster=alerts_cluster(services.config),
            own_cluster=services.cluster_name, source=services.config.source))

    def _elsewhere(self, s: Subject) -> str:
        if s.cluster is not None and s.cluster != self.services.cluster_name:
            return f" (on {s.cluster})"
        return ""

    def highlighted(self) -> AlertRow | None:
        table: DataTable[Any] = self.query_one("#alerts-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.rows if r.alert_id == key), None)

    @on(DataTable.RowSelected, "#alerts-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        s = row.subject
        here = self.services.cluster_name
        if s.pair is not None:
            cast(Any, self.app).action_goto("dr")
            return
        if s.cluster is not None and s.cluster != here:
            screen = ("connect" if s.connector is not None else "lag" if s.group is not None
                      else "topics")
            self.notify(f"this alert is about cluster {s.cluster!r}; the console shows {here!r}. "
                        f"Open it with: kafkaops -c {s.cluster} console --screen {screen}",
                        severity="warning", timeout=10)
            return
        if s.connector is not None and s.connect is not None:
            from kafkaops.console.connect import ConnectorScreen

            self.app.push_screen(ConnectorScreen(s.connect, s.connector))
        elif s.group is not None:
            from kafkaops.console.lag import GroupLagScreen

            self.app.push_screen(GroupLagScreen(s.group))
        elif s.topic is not None:
            from kafkaops.console.topic_detail import TopicDetailScreen

            self.app.push_screen(TopicDetailScreen(s.topic))
        else:
            cast(Any, self.app).action_goto("overview")

