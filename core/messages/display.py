"""Records shown to people and printed as JSON: `decode_value` (pretty JSON, text or a hex
dump, bounded), `hexdump`, `preview` (one line for a list), `text_or_none`, `message_json`
(the `tail --json` object) and `json_lines` (its hot path, straight from the records as
aiokafka returns them). Pure; control characters are made printable here or by the face.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from kafkaops.core.messages.model import Message, to_message
from kafkaops.core.untrusted import parse_json, printable

try:
    import orjson

    def _json_pretty(data: Any) -> str:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")

    def _json_dumps(data: Any) -> bytes:
        return orjson.dumps(data)
except ImportError:  # pragma: no cover - orjson is a dependency
    import json

    def _json_pretty(data: Any) -> str:
        return json.dumps(data, indent=2, ensure_ascii=False)

    def _json_dumps(data: Any) -> bytes:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Decoded:
    kind: Literal["json", "text", "binary", "empty", "null"]
    """json: valid JSON; text: UTF-8 that is not JSON; binary: not UTF-8; empty: zero bytes;
    null: no value at all (a tombstone)."""
    text: str
    """What to show: JSON pretty-printed, the text, or a hex dump."""
    size: int
    """Size of the raw bytes."""
    truncated: bool = False
    """The display stops before the end (see `limit` of decode_value)."""


DISPLAY_LIMIT = 256 * 1024


def decode_value(raw: bytes | None, *, limit: int = DISPLAY_LIMIT) -> Decoded:
    """How to show a key or value: pretty JSON when it is JSON, text when UTF-8, else hex.

    At most `limit` bytes are shown (a 1 MB value stays usable); JSON beyond the limit is
    shown as text, not parsed.
    """
    if raw is None:
        return Decoded("null", "(null)", 0)
    size = len(raw)
    if size == 0:
        return Decoded("empty", "(empty)", 0)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Decoded("binary", hexdump(raw, limit=limit), size, size > limit)
    stripped = text.lstrip()
    if size <= limit and (stripped[:1] in ("{", "[", '"') or stripped[:1].isdigit()):
        try:
            pretty = _json_pretty(parse_json(raw, max_bytes=None, exact=False))
            return Decoded("json", printable(pretty, multiline=True), size)
        except ValueError:
            pass
    if size > limit:
        return Decoded("text", printable(text[:limit], multiline=True), size, True)
    return Decoded("text", printable(text, multiline=True), size)


def hexdump(raw: bytes, *, limit: int = DISPLAY_LIMIT, width: int = 16) -> str:
    """Offset, hex bytes and printable ASCII, 16 bytes a line (as `hexdump -C`)."""
    lines = []
    shown = raw[:limit]
    for i in range(0, len(shown), width):
        chunk = shown[i:i + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{i:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    if len(raw) > limit:
        lines.append(f"... {len(raw) - limit:,} more bytes not shown")
    return "\n".join(lines)


def text_or_none(raw: bytes | None) -> str | None:
    """The bytes as text when they are UTF-8, else None."""
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def preview(raw: bytes | None, width: int = 120) -> str:
    """One line for a list: the text with line breaks folded, or a note for other bytes."""
    if raw is None:
        return "(null)"
    if not raw:
        return "(empty)"
    head = raw[: width * 4]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # not just a character cut at the end of the slice
            return f"({len(raw):,} bytes, not text) " + raw[:width // 3].hex(" ")
        text = head[: e.start].decode("utf-8")
    text = printable(" ".join(text.split()))
    return text[:width] + ("…" if len(text) > width or len(raw) > len(head) else "")


def message_json(msg: Message) -> dict[str, Any]:
    """The `tail --json` line: topic, partition, offset, timestamp (ms), key, headers, value.

    Key and value are text when their bytes are UTF-8; otherwise null, with the bytes in
    key_base64 / value_base64. Headers are an object name -> text (null when not UTF-8,
    with the bytes in headers_base64); a name that repeats holds a list of its values.
    """
    out: dict[str, Any] = {
        "topic": msg.topic, "partition": msg.partition, "offset": msg.offset,
        "timestamp": msg.timestamp,
    }
    key = text_or_none(msg.key)
    out["key"] = key
    if key is None and msg.key is not None:
        out["key_base64"] = base64.b64encode(msg.key).decode("ascii")
    headers: dict[str, Any] = {}
    binary: dict[str, Any] = {}
    for name, raw in msg.headers:
        text = text_or_none(raw)
        _add_repeat(headers, name, text)
        if text is None and raw is not None:
            _add_repeat(binary, name, base64.b64encode(raw).decode("ascii"))
    out["headers"] = headers
    if binary:
        out["headers_base64"] = binary
    # a framed value that could not be decoded is binary, even when its bytes read as UTF-8
    undecoded = msg.framed is not None and msg.framed.error is not None
    value = None if undecoded else text_or_none(msg.value)
    out["value"] = value
    if value is None and msg.value is not None:
        out["value_base64"] = base64.b64encode(msg.value).decode("ascii")
    if msg.framed is not None:  # schema: {id, subject, version, type[, error]}
        out["schema"] = msg.framed.to_json()
    return out


def json_lines(records: Iterable[Any]) -> bytes:
    """`message_json` of each record (a Message, or a record as aiokafka returns it inside
    core), one JSON object per line, newline-terminated; b"" for no records.

    The `tail --json` hot path: a record with no headers, no decoded schema value and UTF-8
    key and value (nearly all of them) is encoded straight from its attributes by orjson,
    in the same field order message_json uses; any other goes through message_json.
    Control characters are escaped by the CLI's writer, as for all JSON output.
    """
    dumps = _json_dumps
    out = []
    for r in records:
        key, value = r.key, r.value
        # a Message may carry a decoded framed value (its "schema" goes in the line)
        if not r.headers and (type(r) is not Message or r.framed is None):
            try:
                out.append(dumps({
                    "topic": r.topic, "partition": r.partition, "offset": r.offset,
                    "timestamp": r.timestamp,
                    "key": None if key is None else key.decode("utf-8"),
                    "headers": {},
                    "value": None if value is None else value.decode("utf-8"),
                }))
                continue
            except UnicodeDecodeError:
                pass
        out.append(dumps(message_json(to_message(r))))
    if not out:
        return b""
    out.append(b"")
    return b"\n".join(out)


def _add_repeat(d: dict[str, Any], name: str, value: Any) -> None:
    if name not in d:
        d[name] = value
    elif isinstance(d[name], list):
        d[name].append(value)
    else:
        d[name] = [d[name], value]
