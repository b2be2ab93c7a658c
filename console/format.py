"""How the console writes values: pure functions, tested with tables.

`None` means the broker did not report a value; it is shown as "-", never as a made-up
default.
"""

from __future__ import annotations

from collections.abc import Iterable

MISSING = "-"

_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))


def count(value: int | None) -> str:
    """An integer with thousands separators; "-" when unknown."""
    return MISSING if value is None else f"{value:,}"


def plural(n: int, word: str) -> str:
    """ "1 partition", "3 partitions"."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def text(value: str | None) -> str:
    return MISSING if value is None or value == "" else value


def duration_ms(value: str | None) -> str:
    """A *.ms config as people read it: 7d, 36h, 90m, 1500ms, infinite; "-" when unknown.

    Values that are not whole units keep the next smaller unit (36h, not 1.5d); a value
    that is not a number is shown as reported.
    """
    if value is None or value == "":
        return MISSING
    try:
        ms = int(value)
    except ValueError:
        return value
    if ms < 0:
        return "infinite"
    if ms == 0:
        return "0ms"
    for unit, size in _UNITS:
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def duration_ms_long(value: str | None) -> str:
    """A *.ms config with its raw value beside the readable one: "604800000 (7d)"."""
    short = duration_ms(value)
    if value is None or short in (value, MISSING):
        return short
    return f"{value} ({short})"


def node_list(nodes: Iterable[int]) -> str:
    """Broker ids as "111, 112"; "-" for none."""
    items = [str(n) for n in nodes]
    return ", ".join(items) if items else MISSING


def matches(name: str, query: str) -> bool:
    """Incremental search: every word of `query` occurs in `name`, ignoring case."""
    lowered = name.lower()
    return all(word in lowered for word in query.lower().split())
