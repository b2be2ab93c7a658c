"""Plain-text formatting every face shares: cells, aligned tables, retention as people
read it. Pure functions, no UI imports (the CLI prints these tables; the bot puts them in
code blocks, since Slack messages have no table block)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kafkaops.core.untrusted import printable


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 flag`, `2 flags`, `1,204 records`: a count with its noun as people say it (every
    face writes counts this way, never `record(s)`)."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def fmt(value: object) -> str:
    """A cell: '-' for unknown, thousands separators for counts, yes/no for flags. Text is
    escaped (core/untrusted.printable): a cell is one line, and may come from a record."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return printable(",".join(str(v) for v in value)) or "-"
    return printable(str(value))


_INT = "{:,}".format


def _column(values: Sequence[object]) -> list[str]:
    """A column's cells as text, as fmt() writes them: a column of one type (most are) is
    converted in one pass without a call per cell (a table of 50,000 rows spends its time
    here)."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return list(values)  # type: ignore[arg-type]
    if kinds <= {int}:
        return list(map(_INT, values))
    if kinds <= {str, type(None)}:
        return ["-" if v is None else v for v in values]  # type: ignore[misc]
    if kinds <= {int, type(None)}:
        return ["-" if v is None else _INT(v) for v in values]
    return [fmt(v) for v in values]


def text_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, right: Iterable[int] = ()
) -> list[str]:
    """Aligned monospaced lines, header first; columns listed in `right` are right-aligned."""
    rows = list(rows)
    right_set = set(right)
    if any(len(row) != len(headers) for row in rows):
        return _ragged_table(headers, rows, right_set)
    columns = [_column(col) for col in zip(*rows, strict=True)] if rows else []
    widths = [len(h) for h in headers]
    for i, col in enumerate(columns):
        widths[i] = max(widths[i], max(map(len, col)))
    # one format string for every line: the padding is done by str.format, in C
    template = "  ".join(
        f"{{:{'>' if i in right_set else '<'}{w}}}" for i, w in enumerate(widths))
    lines = [template.format(*headers).rstrip()]
    lines += [template.format(*row).rstrip() for row in zip(*columns, strict=True)]
    return lines


def _ragged_table(
    headers: Sequence[str], rows: list[Sequence[object]], right: set[int]
) -> list[str]:
    """text_table for rows that do not all have one cell per header."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            if i < len(widths):
                widths[i] = max(widths[i], len(c))
            else:
                widths.append(len(c))

    def line(row: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                 for i, c in enumerate(row)]
        return "  ".join(parts).rstrip()

    return [line(list(headers))] + [line(r) for r in cells]


def human_ms(value: str | None) -> str | None:
    """retention.ms as people read it: 7d, 12h, infinite."""
    if value is None:
        return None
    try:
        ms = int(value)
    except ValueError:
        return value
    if ms < 0:
        return "infinite"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
