"""Consumer lag in the console: every consumer group with its state, members, total lag,
age of its oldest unread record, status, trend and ETA (`LagScreen`), and one group's
partitions with a sparkline of its lag over the last minutes (`GroupLagScreen`).

Data: `Services.lag()` (core/lag/service.py), the one lag engine of the cluster, so the console,
the alerts and the bot judge status on the same window of snapshots. Polls come from
`DataScreen`: in a worker, never overlapping, only while the screen is visible.

Opening: `self.app.push_screen(LagScreen())`; Enter on a group opens `GroupLagScreen(group)`;
`o` there opens the offset reset dialog (console/offsets.py) for the highlighted topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from kafkaops.console.base import DataScreen
from kafkaops.core.lag.model import (
    NOT_REPORTED,
    GroupLag,
    GroupMember,
    LagSnapshot,
    PartitionLag,
    group_basis,
    status_basis,
)
from kafkaops.core.lag.status import LagPolicy, PartitionState, Status, age, eta_text
from kafkaops.core.untrusted import printable

STATUS_STYLE = {
    Status.OK: "green",
    Status.WARN: "bold yellow",
    Status.REWIND: "bold cyan",
    Status.STALL: "bold magenta",
    Status.STOP: "bold red",
    Status.ERR: "bold red",
    Status.DATA_LOSS: "bold white on red",
    Status.UNKNOWN: "dim",
    Status.WARMING_UP: "dim italic",
}

BARS = "▁▂▃▄▅▆▇█"

SORTS = ("status", "lag", "name")
SORT_WORDS = {
    "status": "worst status first",
    "lag": "oldest unread record first",
    "name": "name A-Z",
}


def status_text(status: Status) -> Text:
    return Text(status.label, style=STATUS_STYLE[status])


def stale_text(screen: DataScreen, was: str) -> Text | None:
    """While the screen's cluster does not answer: a verdict cell as UNKNOWN with what it
    was and how long ago; None while the data is current."""
    words = screen.unknown_was(was)
    return None if words is None else Text(words, style="dim")


def sparkline(values: Sequence[int | None], width: int) -> str:
    """The last `width` values as block characters, newest on the right, scaled from 0 to
    the largest; unknown values are blank. All zero draws the lowest bar."""
    values = list(values)[-width:] if width > 0 else []
    known = [v for v in values if v is not None]
    top = max(known, default=0)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif top <= 0:
            out.append(BARS[0])
        else:
            out.append(BARS[min(len(BARS) - 1, round(v / top * (len(BARS) - 1)))])
    return "".join(out)


def sort_groups(groups: Sequence[GroupLag], key: str) -> list[GroupLag]:
    """Groups in display order: by worst status (then oldest unread record), by lag time,
    or by name."""
    if key == "name":
        return sorted(groups, key=lambda g: g.group)
    if key == "lag":
        return sorted(groups, key=lambda g: (-(g.lag_seconds or 0.0), -(g.lag or 0), g.group))
    return sorted(groups, key=lambda g: (-g.status.severity, -(g.lag_seconds or 0.0), g.group))


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def topics_cell(g: GroupLag, limit: int = 3) -> str:
    names = [t.topic for t in g.topics]
    if len(names) <= limit:
        return ", ".join(names) or "-"
    return ", ".join(names[:limit]) + f" +{len(names) - limit}"


def member_line(m: GroupMember) -> str:
    client = m.client_id or NOT_REPORTED
    host = m.client_host or NOT_REPORTED
    if m.assignment is None:
        assigned = NOT_REPORTED
    else:
        by_topic: dict[str, list[int]] = {}
        for tp in m.assignment:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        assigned = "; ".join(f"{t} [{','.join(map(str, sorted(ps)))}]"
                             for t, ps in sorted(by_topic.items())) or "nothing"
    return f"{m.member_id}  client id: {client} · host: {host} · assigned: {assigned}"


class LagScreen(DataScreen):
    """Every consumer group: state, members, total lag, lag time, status, trend, ETA."""

    CSS_PATH = "lag.tcss"
    SHOWS_STALE = True
    TITLE = "Consumer lag"
    AUTO_FOCUS = "#lag-groups"
    REFRESH_EVERY = 5.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Partitions"),
        Binding("s", "sort_next", "Sort"),
        Binding("o", "reset_offsets", "Reset offsets"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "open the highlighted group: partitions, sparkline, members"),
        ("s", "sort by worst status, by oldest unread record, by name"),
        ("o", "plan an offset reset of the highlighted group (its topic; with several, "
              "pick the topic on the group's partitions)"),
    )
    COLUMNS: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("Group", False), ("State", False), ("Members", True), ("Lag", True),
        ("Lag time", True), ("Status", False), ("Trend", False), ("ETA", True),
        ("Topics", False),
    )

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: LagSnapshot | None = None
        self.sort_key = "status"
        self._order: list[str] = []
        self._cells: dict[str, tuple[str, ...]] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("", id="lag-summary")
        yield DataTable(id="lag-groups", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#lag-groups", DataTable)
        for label, numeric in self.COLUMNS:
            table.add_column(Text(label, justify="right" if numeric else "left"), key=label)

    async def load(self) -> LagSnapshot:
        return await (await self.services.lag()).snapshot()

    def show(self, data: LagSnapshot) -> None:
        self.snapshot = data
        self._render_rows()

    def _row(self, g: GroupLag) -> tuple[Text, ...]:
        cells = (
            Text(printable(g.group)), Text(printable(g.state)),
            Text(count(g.member_count), justify="right"),
            Text(count(g.lag), justify="right"), Text(age(g.lag_seconds), justify="right"),
            stale_text(self, g.status.label) or status_text(g.status),
            Text(g.trend.value if g.trend else "-"),
            Text(eta_text(g.eta_seconds, g.lag, g.trend), justify="right"),
            Text(topics_cell(g)),
        )
        return cells

    def _render_rows(self) -> None:
        """Fill the table. When the same groups are shown in the same order (most polls)
        only changed cells are written: rebuilding measures every cell again."""
        snap = self.snapshot
        if snap is None:
            return
        table: DataTable[Any] = self.query_one("#lag-groups", DataTable)
        groups = sort_groups(snap.groups, self.sort_key)
        rows = {g.group: self._row(g) for g in groups}
        plain = {k: tuple(c.plain for c in v) for k, v in rows.items()}
        order = [g.group for g in groups]
        if order == self._order:
            keys = [label for label, _ in self.COLUMNS]
            for name in order:
                old = self._cells.get(name, ())
                for i, key in enumerate(keys):
                    if i >= len(old) or plain[name][i] != old[i]:
                        width = cell_len(plain[name][i])
                        table.update_cell(name, key, rows[name][i],
                                          update_width=width > table.columns[ColumnKey(key)]
                                          .content_width)
        else:
            current = self.highlighted_group()
            table.clear()
            for name in order:
                table.add_row(*rows[name], key=name)
            if current in rows:
                table.move_cursor(row=order.index(current), animate=False)
        self._order, self._cells = order, plain
        self._summarise(snap)

    def _summarise(self, snap: LagSnapshot) -> None:
        if not snap.groups:
            self.query_one("#lag-summary", Static).update(
                f"no consumer groups on cluster {snap.cluster!r}")
            return
        bad: dict[Status, int] = {}
        for g in snap.groups:
            if g.status is not Status.OK:
                bad[g.status] = bad.get(g.status, 0) + 1
        words: list[str | Text] = [f"{len(snap.groups)} groups"]
        if self.stale_since is not None:
            # the cluster does not answer: no verdict is current, whatever the last one was
            words.append(Text(f"status UNKNOWN: no answer for {self.stale_age()}",
                              style="bold yellow"))
        elif bad.get(Status.WARMING_UP) == len(snap.groups):
            # all warming up: the basis below says so, with what is still needed
            words.append(Text("no status yet", style=STATUS_STYLE[Status.WARMING_UP]))
        elif bad:
            parts = [status_text(s) + Text(f" {n}") for s, n in
                     sorted(bad.items(), key=lambda kv: -kv[0].severity)]
            words.append(Text(" ").join(parts))
        else:
            words.append(status_text(Status.OK) + Text(" all"))
        words.append(status_basis(snap))
        words.append(f"{snap.request_count} requests, {snap.elapsed:.2f}s")
        words.append(f"sorted by {SORT_WORDS[self.sort_key]} (s) · Enter: partitions")
        self.query_one("#lag-summary", Static).update(
            Text(" · ").join(w if isinstance(w, Text) else Text(w) for w in words))

    def highlighted_group(self) -> str | None:
        table: DataTable[Any] = self.query_one("#lag-groups", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_sort_next(self) -> None:
        self.sort_key = SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)]
        self._render_rows()

    @on(DataTable.RowSelected, "#lag-groups")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        group = self.highlighted_group()
        if group is not None:
            self.app.push_screen(GroupLagScreen(group))

    def action_reset_offsets(self) -> None:
        """The offset reset dialog for the highlighted group's topic; a group on several
        topics opens its partitions, where `o` resets the highlighted row's topic."""
        name = self.highlighted_group()
        g = self.snapshot.group(name) if self.snapshot is not None and name else None
        if g is None:
            self.notify("no group highlighted", severity="warning")
            return
        topics = [t.topic for t in g.topics]
        if len(topics) == 1:
            from kafkaops.console.offsets import OffsetResetScreen

            self.app.push_screen(OffsetResetScreen(g.group, topics[0]),
                                 lambda _result: self.refresh_data())
            return
        self.app.push_screen(GroupLagScreen(g.group))
        if topics:
            self.notify(f"{printable(g.group)} reads {len(topics)} topics: highlight a "
                        "partition of the one to reset, then o", severity="information")
        else:
            self.notify("the group has no committed offsets to reset", severity="warning")


class GroupLagScreen(DataScreen):
    """One group: summary, a sparkline of its total lag, its partitions and members."""

    CSS_PATH = "lag.tcss"
    SHOWS_STALE = True
    AUTO_FOCUS = "#group-partitions"
    REFRESH_EVERY = 5.0
    SPARK_WIDTH = 60
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "reset_offsets", "Reset offsets"),
        Binding("X", "delete_group", "Delete group", show=False),
        Binding("escape", "back", "Back"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("o", "reset the group's offsets on the highlighted partition's topic (plan first)"),
        ("X", "delete this group when it has no members (plan first)"),
        ("esc", "back to every group"),
    )
    COLUMNS: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("Topic", False), ("Partition", True), ("Committed", True), ("End", True),
        ("Lag", True), ("Lag time", True), ("Status", False), ("Trend", False),
        ("ETA", True), ("Consumer", False),
    )

    def __init__(self, group: str) -> None:
        super().__init__()
        self.group = group
        self.title = f"Group {group}"
        self.lag: GroupLag | None = None
        self.series: list[tuple[float, int | None]] = []
        self.policy: LagPolicy | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="group-summary")
        yield Static("", id="group-spark")
        yield DataTable(id="group-partitions", cursor_type="row", zebra_stripes=True)
        yield Static("", id="group-members")

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#group-partitions", DataTable)
        for label, numeric in self.COLUMNS:
            table.add_column(Text(label, justify="right" if numeric else "left"), key=label)

    async def load(self) -> tuple[GroupLag | None, list[tuple[float, int | None]]]:
        svc = await self.services.lag()
        snap = await svc.snapshot([self.group])
        self.policy = snap.policy
        return snap.group(self.group), svc.series(self.group)

    def show(self, data: tuple[GroupLag | None, list[tuple[float, int | None]]]) -> None:
        self.lag, self.series = data
        g = self.lag
        summary = self.query_one("#group-summary", Static)
        if g is None:
            summary.update(f"group {self.group!r}: no answer")
            return
        if not g.partitions and not g.members:
            summary.update(Text(
                f"group {self.group!r} has no members and no committed offsets "
                "(it may not exist, or has not committed yet)", style="bold"))
        else:
            summary.update(self._summary(g))
        self.query_one("#group-spark", Static).update(self._spark())
        self._fill(g)
        self.query_one("#group-members", Static).update(self._members(g))

    def _summary(self, g: GroupLag) -> Text:
        parts: list[Text] = [
            Text.assemble(("state ", "dim"), g.state),
            Text.assemble(("members ", "dim"), count(g.member_count)),
            Text.assemble(("lag ", "dim"), count(g.lag)),
            Text.assemble(("oldest unread ", "dim"), age(g.lag_seconds)),
            Text.assemble(("status ", "dim"),
                          stale_text(self, g.status.label) or status_text(g.status)),
            Text.assemble(("trend ", "dim"), g.trend.value if g.trend else "-"),
            Text.assemble(("ETA ", "dim"), eta_text(g.eta_seconds, g.lag, g.trend)),
            Text(group_basis(g, self.policy), style="dim"),
        ]
        out = Text(" · ").join(parts)
        if g.data_loss:
            lost = sum(p.lost or 0 for p in g.partitions)
            out.append(f"\nDATA LOSS: {lost:,} records were deleted by retention before "
                       "this group read them", style="bold white on red")
        if g.error:
            out.append(f"\n{g.error}", style="bold red")
        return out

    def _spark(self) -> Text:
        values = [v for _, v in self.series]
        if not values:
            return Text("")
        span = self.series[-1][0] - self.series[0][0]
        known = [v for v in values if v is not None]
        line = sparkline(values, self.SPARK_WIDTH)
        return Text.assemble(
            (f"lag over {age(span) if span else 'the last refresh'}: ", "dim"), (line, "bold"),
            f"  now {count(values[-1])} · peak {count(max(known) if known else None)}",
        )

    def _row(self, p: PartitionLag) -> tuple[Text, ...]:
        stale = stale_text(self, p.status.label)
        if stale is not None:
            status = stale
        elif p.state is PartitionState.NO_OFFSET:
            status = Text("no offset", style="dim")
        elif p.state is PartitionState.DATA_LOSS:
            status = Text(f"DATA LOSS ({p.lost:,} lost)", style=STATUS_STYLE[Status.DATA_LOSS])
        elif p.state is not PartitionState.OK:
            status = Text(f"{p.status.label} ({p.state.value})", style=STATUS_STYLE[p.status])
        else:
            status = status_text(p.status)
        return (
            Text(p.topic), Text(str(p.partition), justify="right"),
            Text("no offset" if p.committed is None else f"{p.committed:,}", justify="right"),
            Text(count(p.end), justify="right"), Text(count(p.lag), justify="right"),
            Text(age(p.lag_seconds), justify="right"), status,
            Text(p.trend.value if p.trend else "-"),
            Text(eta_text(p.eta_seconds, p.lag, p.trend), justify="right"),
            Text(printable(p.member) if p.member
                 else NOT_REPORTED if self.lag and self.lag.members else "-"),
        )

    def _fill(self, g: GroupLag) -> None:
        table: DataTable[Any] = self.query_one("#group-partitions", DataTable)
        cursor = table.cursor_row
        table.clear()
        for p in g.partitions:
            table.add_row(*self._row(p), key=f"{p.topic}\x00{p.partition}")
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)

    def _members(self, g: GroupLag) -> Text:
        if g.members is None:
            return Text("members: could not describe the group", style="dim")
        if not g.members:
            return Text("members: none (nobody is consuming; lag behind it is STOP)",
                        style="dim")
        lines = [f"members ({len(g.members)}):"] + [f"  {printable(member_line(m))}"
                                                     for m in g.members]
        return Text("\n".join(lines))

    def highlighted_topic(self) -> str | None:
        table: DataTable[Any] = self.query_one("#group-partitions", DataTable)
        if not table.row_count:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return key.split("\x00", 1)[0]

    def action_reset_offsets(self) -> None:
        topic = self.highlighted_topic()
        if topic is None:
            self.notify("no partition to reset: the group has no committed offsets",
                        severity="warning")
            return
        from kafkaops.console.offsets import OffsetResetScreen

        def done(result: object) -> None:
            if result is not None:
                self.refresh_data()

        self.app.push_screen(OffsetResetScreen(self.group, topic), done)

    def action_delete_group(self) -> None:
        from kafkaops.console.admin import delete_group

        def done(result: object) -> None:
            if result is not None and self.app.screen is self:
                self.app.pop_screen()  # the group is gone: back to every group
            else:
                self.refresh_data()

        self.app.push_screen(delete_group(self.group), done)

    def action_back(self) -> None:
        self.app.pop_screen()

