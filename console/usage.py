"""Usage: what each team and topic produced over a window and stores now, with a sparkline
of each team's records over the window (12 slices, from the log's time index), the change
against the window before, and the top movers. `w` picks the window (15m, 1h, 6h, 24h).

Data: `UsageService.measure()` from core: the log itself, exact where every batch was read
and estimated (±, the 95% interval) where it was sampled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from kafkaops.console.base import DataScreen
from kafkaops.console.format import duration_ms
from kafkaops.core.textfmt import plural
from kafkaops.core.untrusted import printable
from kafkaops.core.usage.model import Amount, UsageReport
from kafkaops.core.usage.service import UsageService
from kafkaops.core.usage.summary import human_bytes, shown

WINDOWS = (900.0, 3600.0, 6 * 3600.0, 86400.0)
SLICES = 12
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[int]) -> str:
    """One character per value, scaled to the largest (all zero: a flat line)."""
    top = max(values, default=0)
    if not top:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(len(_BARS) - 1, round(v / top * (len(_BARS) - 1)))] if v else " "
                   for v in values)


def window_words(seconds: float) -> str:
    return {900.0: "15m", 3600.0: "1h", 21600.0: "6h", 86400.0: "24h"}.get(seconds,
                                                                          f"{seconds:g}s")


def change(before: Amount, now: Amount) -> Text:
    if before.value is None or now.value is None:
        return Text("unknown", style="yellow")
    if not before.value:
        return Text("new" if now.value else "-")
    ratio = (now.value - before.value) / before.value
    style = "bold red" if ratio >= 2 else "green" if ratio < 0 else ""
    return Text(f"{ratio:+.0%}", style=style, justify="right")


def right(value: str) -> Text:
    return Text(value, justify="right")


class UsageScreen(DataScreen):
    CSS_PATH = "usage.tcss"
    TITLE = "Usage"
    REFRESH_EVERY = 30.0
    AUTO_FOCUS = "#usage-teams"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "window", "Window"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.window = 3600.0

    def compose_body(self) -> ComposeResult:
        yield Static(id="usage-summary")
        yield DataTable(id="usage-teams", cursor_type="row", zebra_stripes=True)
        yield Static("[b]Topics[/]", classes="section")
        yield DataTable(id="usage-topics", cursor_type="row", zebra_stripes=True)
        yield Static(id="usage-movers")

    def on_mount(self) -> None:
        teams: DataTable[Any] = self.query_one("#usage-teams", DataTable)
        for label in ("Team", "Topics", "Records in", "Bytes in", "Bytes/s", "Stored",
                      "Change", f"Records in, {SLICES} slices"):
            teams.add_column(label, key=label)
        topics: DataTable[Any] = self.query_one("#usage-topics", DataTable)
        for label in ("Topic", "Team", "Bytes in", "Stored", "Retention", "Compression",
                      "Ratio", "Change", "Groups"):
            topics.add_column(label, key=label)

    def action_window(self) -> None:
        i = WINDOWS.index(self.window) if self.window in WINDOWS else 0
        self.window = WINDOWS[(i + 1) % len(WINDOWS)]
        self.set_status(f"window {window_words(self.window)}: loading…", hold=1.0)
        self.refresh_data()

    async def load(self) -> UsageReport:
        return await UsageService(self.services).measure(self.window, buckets=SLICES)

    def show(self, data: UsageReport) -> None:
        if data.window != self.window:
            return  # a load for the window before `w` was pressed
        w = data.window
        estimated = sum(1 for t in data.topics if t.bytes_in.error or t.bytes_stored.error)
        source = ("exact: every batch read" if not estimated
                  else f"{plural(estimated, 'topic')} estimated from sampled batches, ± 95%")
        self.query_one("#usage-summary", Static).update(Text(
            f"last {window_words(w)} (w: window) · {len(data.topics)} topics, "
            f"{len(data.teams)} owners · bytes as stored (compressed where produced so) · "
            f"from the log itself ({source}; read {human_bytes(data.bytes_read)})"))
        teams: DataTable[Any] = self.query_one("#usage-teams", DataTable)
        cursor = teams.cursor_row
        teams.clear()
        for t in data.teams:
            rate = None if t.bytes_in.value is None else t.bytes_in.value / w
            teams.add_row(
                Text(printable(t.team), style="dim" if t.team == "unowned" else "bold"),
                right(f"{t.topics:,}"), right(f"{t.records_in:,}"), right(shown(t.bytes_in)),
                right(human_bytes(rate) + "/s"), right(shown(t.bytes_stored)),
                change(t.bytes_in_previous, t.bytes_in),
                Text(sparkline(t.buckets), style="cyan"), key=t.team)
        if teams.row_count:
            teams.move_cursor(row=min(cursor, teams.row_count - 1), animate=False)
        topics: DataTable[Any] = self.query_one("#usage-topics", DataTable)
        tcursor = topics.cursor_row
        topics.clear()
        for u in sorted(data.topics, key=lambda u: -(u.bytes_in.value or 0)):
            groups = ("unknown" if u.groups is None else ", ".join(u.groups[:3]) or "-")
            topics.add_row(
                Text(printable(u.topic)), Text(u.team), right(shown(u.bytes_in)),
                right(shown(u.bytes_stored)),
                duration_ms(u.retention_ms) if u.retention_ms is not None else "not reported",
                Text(printable(u.compression or "not reported")),
                right("-" if u.compression_ratio is None else f"{u.compression_ratio:.1f}x"),
                change(u.bytes_in_previous, u.bytes_in), Text(printable(groups)),
                key=u.topic)
        if topics.row_count:
            topics.move_cursor(row=min(tcursor, topics.row_count - 1), animate=False)
        movers = [f"{m.kind} {m.name} {human_bytes(m.before)} -> {human_bytes(m.now)}"
                  for m in data.movers[:6]]
        self.query_one("#usage-movers", Static).update(Text(printable(
            "Top movers against the window before: " + ("; ".join(movers) or "none"))))
