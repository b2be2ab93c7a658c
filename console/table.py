"""`QuickTable`: Textual's DataTable, drawing its plain one-line cells without Rich's layout
machinery.

DataTable draws each cell through `Console.render_lines(Styled(Padding(cell)))`: a padding,
a wrap, a justify and two line splits per cell, which for the topic list's 9 columns and ~46
visible rows was most of the CPU of painting it the first time (docs/benchmarks.md, "console
start"). A cell that is a `Text` on one line, left- or right-justified and fitting its column,
is drawn here with the same steps done directly: the same segments, styles and cache
(tests/test_console_table.py compares both ways cell by cell). Every other cell (headers,
labels, wrapped or cut text, other renderables) goes through DataTable's own path.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

_NEWLINE = Text("\n")
_NULL = Style.null()


class QuickTable(DataTable[Any]):
    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> Any:
        if row_index < self.fixed_rows or column_index < self.fixed_columns:
            # headers, row labels and fixed cells: DataTable's way (-1 is below any count)
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor,
               self._update_count, self._pseudo_class_state)
        cache = self._cell_render_cache
        if key in cache:
            return cache[key]
        lines = self._quick_lines(row_index, column_index, row_key, base_style, width, cursor,
                                  hover)
        if lines is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        cache[key] = lines
        return lines

    def _quick_lines(self, row_index: int, column_index: int, row_key: Any, base_style: Style,
                     width: int, cursor: bool, hover: bool) -> list[list[Segment]] | None:
        """The cell's lines as DataTable would draw them, or None when this cell is not
        one drawn here."""
        row = self.rows.get(row_key)
        if row is None or row.height != 1:
            return None
        cell = self._get_row_renderables(row_index).cells[column_index]
        pad = self.cell_padding
        inner = width - 2 * pad
        if (not isinstance(cell, Text) or cell.justify not in ("left", "right")
                or "\n" in cell.plain or "\t" in cell.plain or inner < 0
                or cell.cell_len > inner):
            return None
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index})
        pre_style += component_style
        line = cell.copy()
        if cell.justify == "right":
            line.rstrip()
            line.pad_left(inner - line.cell_len)
        else:
            line.pad_right(inner - line.cell_len)
        side = [Segment(" " * pad, _NULL)] if pad else []
        segments = [*side, *_NEWLINE.join([line]).render(self.app.console), *side]
        return [list(Segment.apply_style(segments, pre_style, post_style))]
