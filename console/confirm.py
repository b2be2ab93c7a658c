"""One yes/no dialog for every risky action in the console (replay, flag change, reset).

`ConfirmScreen(summary, yes_label=...)` dismisses with True only on the yes button (or `y`
where allowed); `n`, Esc and the cancel button dismiss with False. The dialog always opens
with the focus on Cancel, so an Enter meant for what came before it (the Enter that
submitted a rollout box, a key held down) cancels rather than goes ahead: going ahead takes
`y` or a deliberate move to the yes button (Tab, or the arrow keys) and Enter there.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen #confirm-box {
        width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmScreen #confirm-scroll { height: auto; max-height: 70vh; margin-bottom: 1; }
    ConfirmScreen #confirm-summary { height: auto; }
    ConfirmScreen #confirm-buttons { height: auto; align-horizontal: right; }
    ConfirmScreen #confirm-buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Go ahead", show=False),
        Binding("n", "answer(False)", "Cancel"),
        Binding("escape", "answer(False)", "Cancel"),
        Binding("left,right", "app.focus_next", "Other button", show=False),
        Binding("pageup", "scroll_summary(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_summary(1)", "Scroll down", show=False),
    ]

    def __init__(self, summary: str | Text, *, yes_label: str = "Go ahead",
                 yes_variant: str = "warning", yes_key: bool = True) -> None:
        super().__init__()
        self.summary = summary
        self.yes_label = yes_label
        self.yes_variant = yes_variant
        self.yes_key = yes_key

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            text = self.summary if isinstance(self.summary, Text) else Text(self.summary)
            # a long summary scrolls; the buttons stay on screen
            with VerticalScroll(id="confirm-scroll", can_focus=False):
                yield Static(text, id="confirm-summary")
            with Horizontal(id="confirm-buttons"):
                yes = f"{self.yes_label} (y)" if self.yes_key else self.yes_label
                yield Button(yes, id="confirm-yes", variant=self.yes_variant)  # type: ignore[arg-type]
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_scroll_summary(self, pages: int) -> None:
        box = self.query_one("#confirm-scroll", VerticalScroll)
        if pages > 0:
            box.scroll_page_down(animate=False)
        else:
            box.scroll_page_up(animate=False)

    def action_answer(self, yes: bool) -> None:
        if yes and not self.yes_key:
            return
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
