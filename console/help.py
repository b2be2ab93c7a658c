"""The help screen (`?`): every screen and its key, and the keys of the screen it was opened
from, read from the live bindings so it never goes out of date."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from kafkaops.console.app import NAV


def help_text(screen: Screen[Any]) -> Group:
    """Screens (from NAV), then the keys shown on `screen`, then the keys that work
    everywhere."""
    app = screen.app
    nav_keys = {e.key for e in NAV}

    def grid() -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        return table

    screens = grid()
    screens.add_column()
    for e in NAV:
        here = " (open)" if e.mode == app.current_mode else ""
        screens.add_row(e.key, e.title + here, e.description)

    keys = grid()
    seen = set()
    for key, active in screen.active_bindings.items():
        b = active.binding
        # the screen's own keys, also those the footer leaves out for room (r, S, ...)
        own = active.node is screen
        if key in nav_keys or not (b.show or own) or not b.description or b.description in seen:
            continue
        seen.add(b.description)
        keys.add_row(app.get_key_display(b), b.description)
    for key, what in getattr(screen, "HELP_KEYS", ()):
        keys.add_row(key, what)

    everywhere = grid()
    everywhere.add_row("ctrl+p", "command palette: go to a screen, open a topic or a consumer "
                       "group by name, refresh now, theme")
    everywhere.add_row("?", "this help (Esc closes it)")
    everywhere.add_row("q", "quit")

    def heading(words: str) -> Text:
        return Text("\n" + words, style="bold underline")

    return Group(
        Text("kafkaops console", style="bold"),
        heading("Screens: each key works from anywhere"),
        screens,
        heading(f"On this screen ({screen.title or type(screen).__name__})"),
        keys,
        heading("Everywhere"),
        everywhere,
        Text(
            "\nData refreshes by itself; the header says whether the cluster answers (and names "
            "any other cluster the screen reads that does not). A cluster that gives no answer "
            "within a few seconds is unreachable: the console keeps the last data it had, says "
            "how old it is, shows what depends on it as UNKNOWN (never OK), and retries with "
            "growing pauses (r retries now). Lag statuses read \"warming up\" until there "
            "are enough snapshots to judge."
        ),
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", key_display="?"),
        Binding("q", "dismiss", "Close"),
    ]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self._text = help_text(under)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(self._text, id="help-text")
