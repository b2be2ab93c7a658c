"""The tail screen: a topic's records as they arrive, with pause/resume, jump (offset, time,
end, beginning), a filter box, and a detail pane (JSON pretty-printed, text, or hex).

Data: `MessageService.tail()` from core. The tail consumes in the background into a bounded
ring buffer (core); this screen redraws from the ring at most `FRAME_EVERY` seconds, so a
burst of thousands of records costs one redraw and key presses stay immediate. Only the rows
shown are decoded, and only the highlighted record in full.

Order: newest first, by record timestamp across every partition (a consumer returns
partitions in blocks, so arrival order would put a record written 30 s ago above one
written now). While the cursor is on the first row the view follows the newest record;
moving it down pauses the view (the tail keeps reading, the info line counts what arrived)
and `End` (or going back to the first row) returns to the newest. The detail pane always
shows the highlighted row.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Static

from kafkaops.console.base import DataScreen
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.expr.filter import compile_filter
from kafkaops.core.expr.model import FilterError
from kafkaops.core.messages.display import Decoded, decode_value, hexdump, preview, text_or_none
from kafkaops.core.messages.model import Message, StartAt, TailStats
from kafkaops.core.messages.service import MessageService
from kafkaops.core.messages.tail import RingBuffer, Tail
from kafkaops.core.messages.times import parse_time
from kafkaops.core.untrusted import printable

ViewMode = Literal["auto", "text", "hex"]
VIEW_MODES: tuple[ViewMode, ...] = ("auto", "text", "hex")
ROWS_SHOWN = 300
COLUMNS = ("P", "Offset", "Time", "Key", "Value")


def parse_jump(text: str) -> StartAt:
    """What the jump box accepts: end, beginning, an offset (negative: from the end), or a
    time (10m, 2h, an ISO time)."""
    t = text.strip().lower()
    if t in ("end", "latest", "$"):
        return StartAt.end()
    if t in ("beginning", "begin", "start", "earliest", "0"):
        return StartAt.beginning() if t != "0" else StartAt.at_offset(0)
    if t.lstrip("-").isdigit() and len(t.lstrip("-")) < 10:
        return StartAt.at_offset(int(t))
    return StartAt.at_time(parse_time(text))


def render_detail(m: Message, mode: ViewMode) -> Text:
    """The detail pane: position, time, key, headers, then the value in the chosen view."""
    out = Text()
    ts = datetime.fromtimestamp(m.timestamp / 1000).isoformat(sep=" ", timespec="milliseconds")
    out.append(f"{m.topic}  partition {m.partition}  offset {m.offset}\n", style="bold")
    out.append(f"timestamp  {ts}  ({m.timestamp})\n")
    key = text_or_none(m.key)
    if m.key is None:
        out.append("key        (null)\n")
    elif key is not None:
        out.append(f"key        {printable(key)}\n")
    else:
        out.append(f"key        ({len(m.key)} bytes, not text) {m.key[:32].hex(' ')}\n")
    if m.headers:
        out.append("headers\n")
        for name, raw in m.headers:
            out.append(f"  {printable(name)}: {header_text(raw)}\n")
    else:
        out.append("headers    (none)\n")
    value = m.value
    if m.framed is not None:  # Confluent-framed: which schema decoded it, or why not
        out.append(f"schema     {printable(m.framed.describe())}\n",
                   style="red" if m.framed.error is not None else "")
        if mode == "hex":
            value = m.framed.raw  # the bytes as on the topic, frame included
    decoded = _value_view(value, mode)
    label = {"json": "JSON", "text": "text", "binary": "binary, shown as hex",
             "empty": "empty", "null": "null (tombstone)"}[decoded.kind]
    size = f"{decoded.size:,} bytes" + (", shown in part" if decoded.truncated else "")
    out.append(f"\nvalue ({label}, {size})\n", style="bold")
    out.append(decoded.text)
    return out


def header_text(raw: bytes | None) -> str:
    """A header value for the detail pane. Text shows as text; binary values (Spring's
    kafka_dlt-original-partition is a 4-byte int, -offset an 8-byte long) would print as
    invisible control characters, so 4 and 8 bytes show as the big-endian integer and any
    other binary value as hex."""
    if raw is None:
        return "(null)"
    text = text_or_none(raw)
    if text is not None and all(c.isprintable() or c in "\t\n\r" for c in text):
        # several lines stay lines (a stack trace header); ESC, CR and the rest are escaped
        return printable(text, multiline=True)
    if len(raw) in (4, 8):
        return f"{int.from_bytes(raw, 'big', signed=True)} ({len(raw)}-byte integer)"
    return f"({len(raw)} bytes) {raw[:32].hex(' ')}"


def _value_view(raw: bytes | None, mode: ViewMode) -> Decoded:
    if mode == "auto" or raw is None or not raw:
        return decode_value(raw)
    if mode == "hex":
        return Decoded("binary", hexdump(raw), len(raw), len(raw) > 256 * 1024)
    text = printable(raw[: 256 * 1024].decode("utf-8", errors="replace"), multiline=True)
    return Decoded("text", text, len(raw), len(raw) > 256 * 1024)


def newest_first(msgs: Iterable[Message], n: int) -> list[Message]:
    """The `n` records with the newest timestamps, newest first (within a partition and a
    timestamp, the higher offset first)."""
    return heapq.nlargest(n, msgs, key=lambda m: (m.timestamp, m.partition, m.offset))


class TailTable(DataTable[Any]):
    """The record list: `End` means "back to the newest record" (the first row), not the
    table's last row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end", "screen.newest", "Newest", show=False),
    ]


def row_cells(m: Message) -> tuple[Text, Text, str, Text, Text]:
    ts = datetime.fromtimestamp(m.timestamp / 1000).strftime("%H:%M:%S.%f")[:-3]
    key = text_or_none(m.key)
    key_txt = "-" if m.key is None else (key if key is not None else f"<{len(m.key)} bytes>")
    # Text, not str: a str cell is read as console markup, and this text is the record's
    return (Text(str(m.partition), justify="right"), Text(f"{m.offset:,}", justify="right"), ts,
            Text(preview(key_txt.encode(), 24)), Text(preview(m.value, 160)))


class MessagesScreen(DataScreen):
    """`MessagesScreen(topic, partitions=None, start=StartAt.end(back=50))`."""

    CSS_PATH = "messages.tcss"
    AUTO_FOCUS = "#messages"  # not the (hidden) filter box: keys must reach the screen
    REFRESH_EVERY = 1.0
    FRAME_EVERY = 0.25
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause/resume"),
        Binding("g", "jump", "Jump"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("v", "cycle_view", "View"),
        Binding("p", "compose", "Produce"),
        Binding("e", "edit_copy", "Edit copy"),
        Binding("Y", "copy_json", "Copy JSON"),
        Binding("escape", "back", "Back"),
    ]
    HELP_KEYS = (
        ("enter / ↑↓", "show a record in the detail pane (moving down pauses the view)"),
        ("end", "back to the newest record, following new ones"),
        ("Y", "copy the highlighted record as JSON to the clipboard (OSC 52: works over SSH)"),
        ("e", "open the highlighted record in the compose dialog to produce an edited copy"),
    )

    def __init__(self, topic: str, *, partitions: list[int] | None = None,
                 start: StartAt | None = None, buffer_records: int = 5000) -> None:
        super().__init__()
        self.topic = topic
        self.partitions = partitions
        self.start_at = start or StartAt.end(back=50)
        self.title = f"Messages › {topic}"
        self.tail: Tail | None = None
        self.view_mode: ViewMode = "auto"
        self._buffer = RingBuffer(max_records=buffer_records)
        self._drawn_version = -1
        self._shown: dict[str, Message] = {}
        self._selected: Message | None = None
        self._follow = True
        self._frozen_at = 0  # records appended when the view paused (for "n new")
        self._filter_text = ""

    # ------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        yield Static(id="tail-info")
        yield Input(placeholder='filter, e.g. status == "failed" (Enter applies, empty clears)',
                    id="tail-filter")
        yield Input(placeholder="jump to: end, beginning, an offset (-100: from the end), 10m, "
                    "2h, 2026-11-25T14:00:00Z", id="tail-jump")
        with Horizontal(id="tail-body"):
            yield TailTable(id="messages", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail-pane"):
                yield Static("select a record", id="detail")

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#messages", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self.query_one("#tail-filter", Input).display = False
        self.query_one("#tail-jump", Input).display = False
        self.set_interval(self.FRAME_EVERY, self._draw)

    async def on_unmount(self) -> None:
        if self.tail is not None:
            await self.tail.stop()

    # ------------------------------------------------------------ data

    async def load(self) -> TailStats:
        """First call: start the tail. Later calls: its counters (and a restart if it died)."""
        if self.tail is None:
            svc = MessageService(await self.services.connection(),
                                 decoder=self.services.schema_decoder())
            tail = svc.tail(self.topic, partitions=self.partitions, start=self.start_at,
                            buffer=self._buffer)
            await tail.start()
            tail.run()
            self.tail = tail
        elif self.tail.error is not None:
            error = self.tail.error
            await self.tail.restart(self.tail.start_at, clear=False)
            raise KafkaOpsError(error)
        return self.tail.stats()

    def show(self, data: TailStats) -> None:
        self._show_info(data)

    def _show_info(self, stats: TailStats | None = None) -> None:
        tail = self.tail
        if tail is None:
            return
        stats = stats or tail.stats()
        where = f" where {self._filter_text}" if self._filter_text else ""
        info = Text()
        if stats.paused:
            info.append(" [paused] ", style="reverse bold")
        elif not self._follow:
            new = self._buffer.appended - self._frozen_at
            info.append(f" paused, {new:,} new (End: newest) ", style="reverse bold yellow")
        else:
            info.append(" live, newest first ", style="bold green")
        info.append(f"  from {tail.start_at.describe()}{where} · read {stats.read:,} · "
                    f"matched {stats.matched:,} · kept {len(self._buffer):,} · view "
                    f"{self.view_mode}")
        if stats.notice:
            info.append(f"\n {stats.notice}", style="yellow")
        self.query_one("#tail-info", Static).update(info)

    def _draw(self) -> None:
        """Redraw the table from the ring when it changed (bursts collapse into one frame):
        the newest records by timestamp, newest first, the cursor on the first. A paused
        view (the cursor moved down) is not redrawn; its info line counts what arrived."""
        if self.tail is None:
            return
        if not self._follow:
            if self._buffer.appended != self._frozen_at:
                self._show_info()
            return
        if self._buffer.version == self._drawn_version or self.tail.paused:
            return
        self._drawn_version = self._buffer.version
        table: DataTable[Any] = self.query_one("#messages", DataTable)
        msgs = newest_first(self._buffer.latest(), ROWS_SHOWN)
        table.clear()
        self._shown = {}
        for m in msgs:
            key = f"{m.partition}:{m.offset}"
            self._shown[key] = m
            table.add_row(*row_cells(m), key=key)
        if table.row_count:
            table.move_cursor(row=0, animate=False, scroll=True)
        self._show_row(0)
        self._show_info()

    def _show_row(self, row: int) -> None:
        """The detail pane shows the record of this row (the highlighted one)."""
        table: DataTable[Any] = self.query_one("#messages", DataTable)
        if not 0 <= row < table.row_count:
            return
        key = str(table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value)
        msg = self._shown.get(key)
        if msg is not None and msg is not self._selected:
            self._selected = msg
            self._show_detail()

    def _selected_key(self) -> str | None:
        table: DataTable[Any] = self.query_one("#messages", DataTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:
            return None

    @on(DataTable.RowHighlighted, "#messages")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        # read the cursor as it is now, not as the event saw it: a redraw may have come
        # between (the detail pane must name the row that is highlighted)
        row = self.query_one("#messages", DataTable).cursor_row
        # redraws put the cursor on the first row, so any other row is the user's doing:
        # the view pauses there; back on the first row it follows the newest again
        if row > 0 and self._follow:
            self._follow = False
            self._frozen_at = self._buffer.appended
            self._show_info()
        elif row == 0 and not self._follow:
            self.action_newest()
            return
        self._show_row(row)

    def action_newest(self) -> None:
        """Back to the newest record, following new ones."""
        self._follow = True
        self._drawn_version = -1
        self._draw()

    def _show_detail(self) -> None:
        if self._selected is not None:
            self.query_one("#detail", Static).update(render_detail(self._selected,
                                                                   self.view_mode))

    # ------------------------------------------------------------ actions

    def action_toggle_pause(self) -> None:
        if self.tail is None:
            return
        if self.tail.paused:
            self.tail.resume()
        else:
            self.tail.pause()
        self._show_info()

    def action_cycle_view(self) -> None:
        self.view_mode = VIEW_MODES[(VIEW_MODES.index(self.view_mode) + 1) % len(VIEW_MODES)]
        self._show_detail()
        self._show_info()

    def action_compose(self) -> None:
        from kafkaops.console.compose import ComposeScreen

        self.app.push_screen(ComposeScreen(self.topic))

    def action_edit_copy(self) -> None:
        from kafkaops.console.compose import ComposeScreen

        if self._selected is None:
            self.set_status("no record highlighted: nothing to edit", "error", hold=5)
            return
        try:
            dialog = ComposeScreen.from_message(self._selected)
        except KafkaOpsError as e:
            self.set_status(str(e), "error", hold=10)
            return
        self.app.push_screen(dialog)

    def action_copy_json(self) -> None:
        """The highlighted record as `tail --json` writes it (pretty), to the clipboard:
        Textual sends it to the terminal as OSC 52, so it lands on the clipboard of the
        machine the terminal runs on, over SSH too."""
        from kafkaops.core.messages.display import message_json
        from kafkaops.core.records import json_bytes

        m = self._selected
        if m is None:
            self.set_status("no record highlighted: nothing to copy", "error", hold=5)
            return
        text = json_bytes(message_json(m), pretty=True).decode("utf-8")
        self.app.copy_to_clipboard(text)
        self.set_status(f"copied partition {m.partition} offset {m.offset} as JSON "
                        f"({len(text.encode('utf-8')):,} bytes) to the clipboard", hold=5)

    def action_filter(self) -> None:
        box = self.query_one("#tail-filter", Input)
        box.display = True
        box.value = self._filter_text
        box.focus()

    def action_jump(self) -> None:
        box = self.query_one("#tail-jump", Input)
        box.display = True
        box.value = ""
        box.focus()

    def action_back(self) -> None:
        for box_id in ("#tail-filter", "#tail-jump"):
            box = self.query_one(box_id, Input)
            if box.display:
                box.display = False
                self.query_one("#messages", DataTable).focus()
                return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    @on(Input.Submitted, "#tail-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            where = compile_filter(text) if text else None
        except FilterError as e:
            self.set_status(str(e).replace("\n", "  "), "error", hold=10)
            return
        event.input.display = False
        self.query_one("#messages", DataTable).focus()
        self._filter_text = text
        self._restart(None, where)

    @on(Input.Submitted, "#tail-jump")
    def _jump_submitted(self, event: Input.Submitted) -> None:
        try:
            start = parse_jump(event.value)
        except KafkaOpsError as e:
            self.set_status(str(e), "error", hold=10)
            return
        event.input.display = False
        self.query_one("#messages", DataTable).focus()
        self._restart(start, "keep")

    def _restart(self, start: StartAt | None, where: Any) -> None:
        self._follow = True
        self._selected = None
        self.query_one("#detail", Static).update("select a record")
        self.run_worker(self._do_restart(start, where), group="tail-restart", exclusive=True,
                        exit_on_error=False)

    async def _do_restart(self, start: StartAt | None, where: Any) -> None:
        tail = self.tail
        if tail is None:
            return
        try:
            await tail.restart(start or tail.start_at, where=where)
        except KafkaOpsError as e:
            self.set_status(f"error: {e}", "error")
            return
        self._drawn_version = -1
        self.set_status(f"now reading from {tail.start_at.describe()}"
                        + (f" where {self._filter_text}" if self._filter_text else ""))
        self._show_info()
