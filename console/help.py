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

#: Textual's own bindings on every screen (focus next/previous, copy), hidden in its footer
_TEXTUAL_SCREEN_ACTIONS = {b.action for b in Screen.BINDINGS if isinstance(b, Binding)}


def help_text(screen: Screen[Any]) -> Group:
    """The keys of `screen`, then the keys that work everywhere, then the screens (from
    NAV) and their keys."""
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
    explained = {key for key, _ in getattr(screen, "HELP_KEYS", ())}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if active.node is app or key in nav_keys:
            continue  # screen keys, ? and q: listed under Screens and Everywhere
        # the screen's own keys, also those the footer leaves out for room (r, S, ...), but
        # not Textual's hidden focus and copy keys every screen has
        own = active.node is screen and b.action not in _TEXTUAL_SCREEN_ACTIONS
        if not (b.show or own) or not b.description or b.description in seen:
            continue
        if app.get_key_display(b) in explained:
            continue  # the screen's HELP_KEYS say more about this key, below
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

    # this screen's keys first: what the person who pressed ? here most likely looks for
    return Group(
        Text("kafkaops console", style="bold"),
        heading(f"On this screen ({screen.title or type(screen).__name__})"),
        keys,
        heading("Everywhere"),
        everywhere,
        heading("Screens: each key works from anywhere"),
        screens,
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
