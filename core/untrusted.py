"""Handling what others can write: bounded JSON parsing and escaping text for display.

Every topic kafkaops reads can be written by anyone with produce rights, so a record's
value is untrusted input. Two rules, each in one function here:

- `parse_json`: every reader of such a topic parses through it. It refuses values that
  are too large or nested too deeply (a 100,000-deep array would make the standard
  library raise RecursionError, and deep data breaks any later recursive use: dumps,
  repr, comparisons) with `UntrustedData`, a ValueError, so a reader reports the record
  by topic and offset and goes on with the next one.
- `printable`: text from records (and anything else that did not come from us) passes
  through it before it reaches a terminal or Slack. Control characters (ESC starts the
  sequences that move the cursor, set the window title or write to the clipboard), NUL,
  DEL, C1 controls and the Unicode bidi controls (which reorder what a reader sees) are
  shown as visible escapes (`\\x1b`, `\\u202e`) instead of being written raw; a line
  break inside a single-line field becomes `\\n`, so a key cannot print a forged line.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

#: largest value parse_json accepts by default (Kafka's default record size limit is 1 MiB)
MAX_JSON_BYTES = 1 << 20
#: deepest nesting parse_json accepts by default; kafkaops' own records are a few levels deep
MAX_JSON_DEPTH = 64


class UntrustedData(ValueError):
    """A value that is not acceptable JSON: not JSON at all, too large, or too deep."""


class NotJson(UntrustedData):
    """A value that is not JSON at all (as opposed to JSON too large or too deep)."""


def parse_json(raw: bytes | bytearray | memoryview | str | None, *,
               max_bytes: int | None = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH,
               exact: bool = True) -> Any:
    """The JSON data of `raw`, or UntrustedData saying why not.

    orjson parses first: it is linear, has its own nesting limit (1,024) and never
    recurses in Python, so nothing it is given can crash the caller. The depth is then
    checked against `max_depth`. With `exact` (the default) the value is parsed again by
    the standard library, whose results other code relies on (integers beyond 64 bits
    stay integers, which a signature over re-serialized data needs); `exact=False` keeps
    orjson's result, for hot paths such as filters.
    """
    if raw is None:
        raise UntrustedData("no value (a tombstone)")
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    if max_bytes is not None and len(raw) > max_bytes:
        raise UntrustedData(f"value of {len(raw):,} bytes is larger than the {max_bytes:,} "
                            "allowed")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if "depth limit" in str(e):  # orjson's own limit (1,024) is above ours
            raise UntrustedData(f"JSON nested deeper than {max_depth} levels") from None
        raise NotJson(f"not JSON ({e})") from None
    if not _within_depth(raw, data, max_depth):
        raise UntrustedData(f"JSON nested deeper than {max_depth} levels")
    if not exact:
        return data
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:  # pragma: no cover - orjson accepted it
        raise UntrustedData(f"not JSON ({e})") from None


def check_depth(data: Any, max_depth: int = MAX_JSON_DEPTH, what: str = "value") -> Any:
    """`data` (already parsed, e.g. from a config file) when it nests at most `max_depth`
    levels, else UntrustedData. Walks iteratively: no recursion however deep it is."""
    if not _walk_within(data, max_depth):
        raise UntrustedData(f"{what} is nested deeper than {max_depth} levels")
    return data


def _within_depth(raw: bytes | bytearray | str, data: Any, limit: int) -> bool:
    # Each level opens a bracket, so few brackets means shallow; only values with many
    # brackets are walked.
    if isinstance(raw, str):
        opened = raw.count("[") + raw.count("{")
    else:
        opened = raw.count(b"[") + raw.count(b"{")
    return opened <= limit or _walk_within(data, limit)


def _walk_within(data: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return False
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list | tuple))
    return True


# ---------------------------------------------------------------- text for terminals and Slack

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _escape(cp: int) -> str:
    if cp in (0x0A, 0x09, 0x0D):
        return {0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"}[cp]
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


_ALL_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI, 0x2028, 0x2029]
#: one line: every control character escaped, line breaks and tabs included
_ONE_LINE = {cp: _escape(cp) for cp in _ALL_CONTROLS}
#: several lines: \n and \t kept, \r escaped (it would let a line overwrite itself)
_MULTI_LINE = {cp: esc for cp, esc in _ONE_LINE.items() if cp not in (0x0A, 0x09)}


def printable(text: str, *, multiline: bool = False) -> str:
    """`text` with every control character shown as a visible escape, so it can be written
    to a terminal or a chat message as is. `multiline` keeps line feeds and tabs (a pretty
    printed JSON value, a multi-line message); without it the text stays on one line."""
    return text.translate(_MULTI_LINE if multiline else _ONE_LINE)


#: JSON text: the encoder escapes C0 controls itself; these it leaves raw
_JSON_EXTRA = {cp: f"\\u{cp:04x}" for cp in [0x7F, *range(0x80, 0xA0), *_BIDI, 0x2028, 0x2029]}


def printable_json(text: str) -> str:
    """JSON text (from json.dumps) with the control characters the encoder leaves raw (DEL,
    C1, bidi, line separators) written as \\u escapes: the same JSON data, safe to print."""
    return text.translate(_JSON_EXTRA)


#: the same characters as UTF-8 bytes, for JSON already encoded (orjson writes them raw too)
_JSON_EXTRA_BYTES = {chr(cp).encode(): esc.encode() for cp, esc in _JSON_EXTRA.items()}
_JSON_EXTRA_RE = re.compile(b"|".join(re.escape(k) for k in _JSON_EXTRA_BYTES))
#: the first bytes of those characters: most output has none, and `in` is a fast scan
_JSON_EXTRA_LEADS = tuple(sorted({k[:1] for k in _JSON_EXTRA_BYTES}))


def printable_json_bytes(data: bytes) -> bytes:
    """`printable_json` for UTF-8 JSON bytes (what orjson returns): the same escapes, and
    the bytes themselves, untouched, when they hold none of those characters."""
    if not any(lead in data for lead in _JSON_EXTRA_LEADS):
        return data
    return _JSON_EXTRA_RE.sub(lambda m: _JSON_EXTRA_BYTES[m.group()], data)


def is_printable(text: str, *, multiline: bool = False) -> bool:
    """True when `printable` would leave `text` unchanged."""
    table = _MULTI_LINE if multiline else _ONE_LINE
    return not any(ord(c) in table for c in text)
