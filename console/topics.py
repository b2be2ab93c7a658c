"""The topic list: every topic with partitions, replication, retention, cleanup policy,
compression, end offsets, records kept and health; incremental search, sorting, internal
topics hidden or shown; Enter opens the topic's detail.

Data: `TopicService.list_topics()` (one metadata request, batched offsets and configs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey

from kafkaops.console import format as fmt
from kafkaops.console.base import DataScreen
from kafkaops.console.table import QuickTable
from kafkaops.core.records import TopicSummary


def _retention_order(t: TopicSummary) -> float | None:
    """retention.ms for sorting: infinite (-1) sorts as the longest; unknown as missing."""
    if t.retention_ms is None:
        return None
    try:
        ms = int(t.retention_ms)
    except ValueError:
        return None
    return float("inf") if ms < 0 else float(ms)


def _health(t: TopicSummary) -> str:
    parts = []
    if t.offline_partitions:
        parts.append(f"{t.offline_partitions} offline")
    if t.under_replicated:
        parts.append(f"{t.under_replicated} under-replicated")
    return ", ".join(parts) or "ok"


@dataclass(frozen=True)
class Column:
    """One column of the topic list."""

    key: str
    """Column key in the table, and the name `sort_topics` takes."""
    label: str
    """Header label."""
    cell: Callable[[TopicSummary], str]
    """The cell's text."""
    order: Callable[[TopicSummary], Any]
    """Sort value; None sorts last whatever the direction."""
    numeric: bool = False
    """Right-aligned, and sorted largest first when first chosen."""


COLUMNS: tuple[Column, ...] = (
    Column("name", "Topic", lambda t: t.name, lambda t: t.name),
    Column("partitions", "Partitions", lambda t: fmt.count(t.partitions),
           lambda t: t.partitions, numeric=True),
    Column("rf", "RF", lambda t: fmt.count(t.replication_factor),
           lambda t: t.replication_factor, numeric=True),
    Column("retention", "Retention", lambda t: fmt.duration_ms(t.retention_ms),
           _retention_order, numeric=True),
    Column("cleanup", "Cleanup", lambda t: fmt.text(t.cleanup_policy),
           lambda t: t.cleanup_policy),
    Column("compression", "Compression", lambda t: fmt.text(t.compression),
           lambda t: t.compression),
    Column("end", "End offsets", lambda t: fmt.count(t.end_offsets_total),
           lambda t: t.end_offsets_total, numeric=True),
    Column("messages", "Messages", lambda t: fmt.count(t.messages),
           lambda t: t.messages, numeric=True),
    Column("health", "Health", _health,
           lambda t: (t.offline_partitions, t.under_replicated), numeric=True),
)
COLUMN = {c.key: c for c in COLUMNS}


def sort_topics(
    topics: Sequence[TopicSummary], column: str, descending: bool
) -> list[TopicSummary]:
    """Topics ordered by a column; unknown values ("-") last in either direction, ties by name."""
    order = COLUMN[column].order
    by_name = sorted(topics, key=lambda t: t.name)
    known = [t for t in by_name if order(t) is not None]
    unknown = [t for t in by_name if order(t) is None]
    return sorted(known, key=order, reverse=descending) + unknown


def visible_topics(
    topics: Sequence[TopicSummary],
    *,
    query: str = "",
    show_internal: bool = False,
    column: str = "name",
    descending: bool = False,
) -> list[TopicSummary]:
    """What the table shows: internal topics dropped unless asked for, the search applied,
    sorted."""
    kept = [
        t for t in topics
        if (show_internal or not t.internal) and fmt.matches(t.name, query)
    ]
    return sort_topics(kept, column, descending)


class TopicsScreen(DataScreen):
    TITLE = "Topics"
    SHOWS_STALE = True
    REFRESH_EVERY = 5.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("s", "sort_next", "Sort"),
        Binding("S", "sort_reverse", "Reverse", show=False),  # s says it: "sorted by ... (s, S)"
        Binding("i", "toggle_internal", "Internal"),
        Binding("m", "messages", "Messages"),
        Binding("n", "create_topic", "New topic"),
        Binding("p", "produce", "Produce"),
        Binding("X", "delete_topic", "Delete", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "open the highlighted topic: partitions, offsets, configs"),
        ("m", "tail the highlighted topic's messages"),
        ("X", "delete the highlighted topic (plan first; type its name to confirm)"),
        ("click", "a column header sorts by it; again reverses"),
        ("esc", "clear the search"),
    )

    search: reactive[str] = reactive("", init=False)
    """The incremental search text."""
    show_internal: reactive[bool] = reactive(False, init=False)
    """Show topics flagged internal or named with a leading underscore."""
    sort_column: reactive[str] = reactive("name", init=False)
    """Key of the column rows are sorted by (see COLUMNS)."""
    descending: reactive[bool] = reactive(False, init=False)
    """Sort direction."""

    def __init__(self) -> None:
        super().__init__()
        self.topics: list[TopicSummary] = []
        self._have_data = False  # not `_loaded`: DataScreen's handler has that name
        # what the table holds now, to write only what changed (see _render_rows)
        self._labels: tuple[str, ...] = ()
        self._order: list[str] = []
        self._cells: dict[str, tuple[str, ...]] = {}
        self._render_seconds = 0.0
        self._render_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="topics-summary")
        table: DataTable[Any] = QuickTable(id="topics", cursor_type="row", zebra_stripes=True)
        yield table
        yield Input(placeholder="search topic names (Enter: keep, Esc: clear)", id="search")

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self._render_rows()

    async def load(self) -> list[TopicSummary]:
        return await (await self.services.topics()).list_topics()

    def show(self, data: list[TopicSummary]) -> None:
        self.topics = data
        self._have_data = True
        self._render_rows()

    # ------------------------------------------------------------ rendering

    def _render_rows(self) -> None:
        """Fill the table from `self.topics` and the view state.

        When the same topics are shown in the same order with the same columns (a poll
        where only offsets moved), only the cells that changed are written: rebuilding the
        table measures every cell, which is what costs time with thousands of topics.
        """
        started = time.perf_counter()
        table = self.query_one("#topics", DataTable)
        rows = visible_topics(
            self.topics, query=self.search, show_internal=self.show_internal,
            column=self.sort_column, descending=self.descending,
        )
        arrow = " ▼" if self.descending else " ▲"
        labels = tuple(c.label + (arrow if c.key == self.sort_column else "") for c in COLUMNS)
        cells = {t.name: self._texts(t) for t in rows}
        order = [t.name for t in rows]
        if labels == self._labels and order == self._order:
            widths = [table.columns[ColumnKey(c.key)].content_width for c in COLUMNS]
            for t in rows:
                old = self._cells[t.name]
                for i, col in enumerate(COLUMNS):
                    if cells[t.name][i] != old[i]:
                        # widen when needed, never narrow: narrowing re-measures the column
                        width = cell_len(cells[t.name][i])
                        table.update_cell(t.name, col.key, self._cell(col, t, cells[t.name][i]),
                                          update_width=width > widths[i])
                        widths[i] = max(widths[i], width)
        else:
            current = self.highlighted_topic()
            table.clear(columns=True)
            for col, label in zip(COLUMNS, labels, strict=True):
                table.add_column(Text(label, justify="right" if col.numeric else "left"),
                                 key=col.key)
            for t in rows:
                table.add_row(*(self._cell(col, t, v) for col, v in zip(COLUMNS, cells[t.name],
                                                                     strict=True)), key=t.name)
            if current is not None and current in cells:
                table.move_cursor(row=table.get_row_index(current), animate=False)
        self._labels, self._order, self._cells = labels, order, cells
        self._summarise(len(rows))
        self._render_seconds = time.perf_counter() - started

    def _render_soon(self) -> None:
        """Render for a keystroke: at once while renders are quick, else collapse a burst of
        keystrokes into one render after it (so typing stays fluid with thousands of topics)."""
        if self._render_seconds < 0.03:
            self._render_rows()
        elif self._render_timer is None:
            def later() -> None:
                self._render_timer = None
                self._render_rows()

            self._render_timer = self.set_timer(max(0.05, self._render_seconds), later)

    def _texts(self, t: TopicSummary) -> tuple[str, ...]:
        """A row's cells as text; while the cluster does not answer, the health verdict is
        UNKNOWN with what it was and how long ago."""
        texts = tuple(c.cell(t) for c in COLUMNS)
        if self.stale_since is None:
            return texts
        return tuple((self.unknown_was(v) or v) if c.key == "health" else v
                     for c, v in zip(COLUMNS, texts, strict=True))

    def _cell(self, col: Column, t: TopicSummary, value: str) -> Text:
        style = ""
        if col.key == "health" and self.stale_since is not None:
            style = "dim"
        elif col.key == "health" and value != "ok":
            style = "bold red" if t.offline_partitions else "yellow"
        return Text(value, style=style, justify="right" if col.numeric else "left")

    def _summarise(self, shown: int) -> None:
        if not self._have_data:
            self.query_one("#topics-summary", Static).update("")
            return
        internal = sum(1 for t in self.topics if t.internal)
        words = [f"{shown} of {len(self.topics)} topics"]
        if internal:
            words.append(
                f"{internal} internal shown (i hides)" if self.show_internal
                else f"{internal} internal hidden (i shows)"
            )
        if self.search:
            words.append(f'search "{self.search}"' + ("" if shown else ": no topic matches"))
        direction = "largest first" if self.descending else "smallest first"
        if self.sort_column == "name":
            direction = "Z-A" if self.descending else "A-Z"
        words.append(f"sorted by {COLUMN[self.sort_column].label.lower()}, {direction} (s, S)")
        self.query_one("#topics-summary", Static).update(Text(" · ".join(words)))

    def highlighted_topic(self) -> str | None:
        """Name of the topic under the cursor, None when the table is empty."""
        table = self.query_one("#topics", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def watch_search(self) -> None:
        self._render_soon()

    def watch_show_internal(self) -> None:
        self._render_rows()

    def watch_sort_column(self) -> None:
        self._render_rows()

    def watch_descending(self) -> None:
        self._render_rows()

    # ------------------------------------------------------------ actions

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        search.value = ""
        search.display = False
        self.search = ""
        self.query_one("#topics", DataTable).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self.query_one("#topics", DataTable).focus()

    def sort_by(self, column: str) -> None:
        """Sort by a column; choosing the sorted column again reverses the order."""
        if column == self.sort_column:
            self.descending = not self.descending
            return
        # set without its watcher, so the table is rendered once, by sort_column's
        self.set_reactive(TopicsScreen.descending, COLUMN[column].numeric)
        self.sort_column = column

    def action_sort_next(self) -> None:
        keys = [c.key for c in COLUMNS]
        self.sort_by(keys[(keys.index(self.sort_column) + 1) % len(keys)])

    def action_sort_reverse(self) -> None:
        self.descending = not self.descending

    def action_toggle_internal(self) -> None:
        self.show_internal = not self.show_internal

    @on(DataTable.HeaderSelected, "#topics")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def action_messages(self) -> None:
        from kafkaops.console.messages import MessagesScreen

        table = self.query_one("#topics", DataTable)
        if table.row_count == 0:
            return
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        self.app.push_screen(MessagesScreen(str(row_key.value)))

    def action_create_topic(self) -> None:
        from kafkaops.console.admin import create_topic

        self.app.push_screen(create_topic(), lambda _: self.refresh_data())

    def action_produce(self) -> None:
        from kafkaops.console.compose import ComposeScreen

        topic = self.highlighted_topic()
        if topic is not None:
            self.app.push_screen(ComposeScreen(topic), lambda _: self.refresh_data())

    def action_delete_topic(self) -> None:
        from kafkaops.console.admin import delete_topic

        topic = self.highlighted_topic()
        if topic is not None:
            self.app.push_screen(delete_topic(topic), lambda _: self.refresh_data())

    @on(DataTable.RowSelected, "#topics")
    def _open_topic(self, event: DataTable.RowSelected) -> None:
        from kafkaops.console.topic_detail import TopicDetailScreen

        self.app.push_screen(TopicDetailScreen(str(event.row_key.value)))
