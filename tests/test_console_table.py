"""QuickTable (console/table.py) draws the cells it takes exactly as Textual's DataTable does:
the same segments and styles, cell by cell, on plain, zebra, cursor and hovered rows, with
styled and unstyled text, left and right justified. No broker needed."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from kafkaops.console.table import QuickTable

from .test_console_shell import screen_text

ROWS = [
    (Text("orders", justify="left"), Text("12", justify="right"),
     Text("ok", style="", justify="right")),
    (Text("payments.dlq", justify="left"), Text("1,234,567", justify="right"),
     Text("1 under-replicated", style="yellow", justify="right")),
    (Text("_internal", justify="left"), Text("-", justify="right"),
     Text("2 offline", style="bold red", justify="right")),
    (Text.assemble(("mixed", "italic"), " spans", justify="left"), Text("7", justify="right"),
     Text("ok", justify="right")),
    # not drawn by QuickTable (DataTable's own way): a plain str, a cut cell, a centred one
    ("plain string", Text("x" * 40, justify="right"), Text("mid", justify="center")),
]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield QuickTable(id="t", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(QuickTable)
        table.add_column(Text("Topic"), key="name")
        table.add_column(Text("Count", justify="right"), key="count", width=12)
        table.add_column(Text("Health", justify="right"), key="health")
        for i, row in enumerate(ROWS):
            table.add_row(*row, key=str(i))


def _both(table: QuickTable, row: int, column: int, width: int, **kw: Any) -> tuple[Any, Any]:
    from rich.style import Style

    base = Style(bgcolor="grey11") if row % 2 else Style()
    table._cell_render_cache.clear()
    quick = table._render_cell(row, column, base, width, **kw)
    table._cell_render_cache.clear()
    reference = DataTable._render_cell(table, row, column, base, width, **kw)
    return quick, reference


async def test_quick_cells_are_datatables_cells() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(QuickTable)
        quick_drawn = 0
        for row in range(len(ROWS)):
            for column, col in enumerate(table.ordered_columns):
                width = col.get_render_width(table)
                for kw in ({}, {"cursor": True}, {"hover": True}):
                    assert table._quick_lines(row, column, table._row_locations.get_key(row),
                                              table.rich_style, width, False, False) is not None \
                        or row == len(ROWS) - 1
                    quick, reference = _both(table, row, column, width, **kw)
                    assert quick == reference, (row, column, kw)
                    quick_drawn += row < len(ROWS) - 1
        assert quick_drawn == 3 * 3 * (len(ROWS) - 1)
        # and on screen, as the user sees it
        text = screen_text(app)  # type: ignore[arg-type]
        assert "payments.dlq" in text and "1,234,567" in text and "2 offline" in text
