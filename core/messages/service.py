"""Messages on a topic: tail and browse, seek by offset or time, and decoding for display.

- `Message`: core's record of one Kafka record (raw bytes; decoding happens on demand).
- `decode_value`, `hexdump`, `message_json`, `preview`: pure functions for the faces.
- `StartAt` + `parse_time`: where a tail starts (end, N back, an offset, a point in time).
- `MessageService(conn)`: resolves start positions to offsets, reads ranges (`read`, `scan`)
  and opens a `Tail`.
- `Tail`: a live read of one topic. `async for batch in tail.stream()` for the CLI; or
  `tail.run()` in the background, filling a bounded `RingBuffer` that a screen polls, with
  pause/resume and restart from another position.

Speed: records travel as aiokafka returns them until a face asks for one: the filter runs
on the raw records (its byte prefilter first), the ring buffer stores them as they are, and
only what is shown is turned into a `Message` and decoded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from kafkaops.core.errors import KafkaOpsError, NotFound, UsageError
from kafkaops.core.expr.filter import Filter
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import LATEST, KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.kafka.logwatch import LogWatch
from kafkaops.core.records import TopicPartition
from kafkaops.core.tasks import cancel_and_wait
from kafkaops.core.untrusted import parse_json, printable

if TYPE_CHECKING:
    from kafkaops.core.schema.decoder import SchemaDecoder
    from kafkaops.core.schema.records import FramedValue

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


class Message(NamedTuple):
    """One Kafka record as core hands it to a face. Bytes as they are on the topic."""

    topic: str
    """Topic name."""
    partition: int
    """Partition number."""
    offset: int
    """Offset in the partition."""
    timestamp: int
    """Record timestamp, ms since the epoch (CreateTime or LogAppendTime)."""
    key: bytes | None
    """Key bytes; None for a null key."""
    value: bytes | None
    """Value bytes; None for a tombstone."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Headers in order; names may repeat."""
    framed: FramedValue | None = None
    """Set when the value is Confluent-framed and was read through a schema registry
    (core/schema): `value` then holds the decoded value as JSON, unless `framed.error` says
    why it could not be decoded (then `value` is as on the topic; `framed.raw` always is)."""


def to_message(rec: Any) -> Message:
    """aiokafka's ConsumerRecord (or anything with the same attributes) to a Message."""
    if type(rec) is Message:
        return rec
    return Message(rec.topic, rec.partition, rec.offset, rec.timestamp, rec.key, rec.value,
                   tuple(rec.headers or ()))


# ---------------------------------------------------------------- decoding for display


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


# ---------------------------------------------------------------- where to start


@dataclass(frozen=True)
class StartAt:
    """Where a tail starts in each partition."""

    kind: Literal["end", "beginning", "offset", "time"]
    """end: new records only (minus `back`); beginning: the log start; offset; time."""
    offset: int | None = None
    """kind=offset: the offset; negative counts back from the end, as kcat's -o -N."""
    time_ms: int | None = None
    """kind=time: the first record at or after this time (ms since the epoch)."""
    back: int = 0
    """kind=end: also show this many records before the end of each partition."""

    @classmethod
    def end(cls, back: int = 0) -> StartAt:
        return cls("end", back=back)

    @classmethod
    def beginning(cls) -> StartAt:
        return cls("beginning")

    @classmethod
    def at_offset(cls, offset: int) -> StartAt:
        return cls("offset", offset=offset)

    @classmethod
    def at_time(cls, time_ms: int) -> StartAt:
        return cls("time", time_ms=time_ms)

    def describe(self) -> str:
        if self.kind == "end":
            return "the end" + (f" (last {self.back} per partition)" if self.back else "")
        if self.kind == "offset":
            return f"offset {self.offset}"
        if self.kind == "time":
            assert self.time_ms is not None
            return "time " + datetime.fromtimestamp(self.time_ms / 1000).isoformat(
                sep=" ", timespec="seconds")
        return "the beginning"


_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*(?:ago)?\s*$")
_AGO_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


#: the last millisecond of the year 9999: later times are typing mistakes (and overflow
#: the 64-bit timestamps of the Kafka protocol)
MAX_TIME_MS = 253_402_300_799_999


def parse_time(text: str, *, now_ms: int | None = None) -> int:
    """`10m` / `2h` / `1d` (that long ago), an ISO time (`2026-11-25T14:00:00Z`,
    `2026-11-25 14:00`; without a zone it is local time) or epoch milliseconds -> epoch ms."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    shown = text if len(text) <= 40 else text[:39] + "…"
    m = _AGO.match(text)
    t = text.strip()
    try:
        if m:
            ms = now_ms - int(float(m.group(1)) * _AGO_UNITS[m.group(2)] * 1000)
        elif t.isdigit() and 10 <= len(t) <= 30:
            ms = int(t) if len(t) >= 13 else int(t) * 1000
        else:
            dt = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.astimezone()  # local time, as `date` would read it
            ms = int(dt.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise UsageError(
            f"cannot read time {shown!r}: use a duration ago (10m, 2h, 1d) or an ISO time "
            "such as 2026-11-25T14:00:00Z"
        ) from None
    if not 0 <= ms <= MAX_TIME_MS:
        raise UsageError(f"time {shown!r} is out of range: give a time between 1970 and 9999")
    return ms


# ---------------------------------------------------------------- bounded buffer


class RingBuffer:
    """The newest records of a tail, bounded by count and by bytes, whatever the rate.

    Holds records as they came (aiokafka's, inside core); `latest()` turns only the ones
    asked for into Messages.
    """

    def __init__(self, max_records: int = 5000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._items: deque[Any] = deque()
        self._bytes = 0
        #: records appended since the start (also those already evicted)
        self.appended = 0
        #: bumps on every change, so a view can skip redrawing when nothing happened
        self.version = 0

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _size(rec: Any) -> int:
        return (len(rec.value) if rec.value else 0) + (len(rec.key) if rec.key else 0) + 64

    def extend(self, records: Sequence[Any]) -> None:
        if not records:
            return
        self.appended += len(records)
        self.version += 1
        if len(records) > self.max_records:
            records = records[-self.max_records:]
        items = self._items
        size = self._size
        items.extend(records)
        self._bytes += sum(size(r) for r in records)
        while len(items) > self.max_records or (self._bytes > self.max_bytes and len(items) > 1):
            self._bytes -= size(items.popleft())

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0
        self.appended = 0
        self.version += 1

    def latest(self, n: int | None = None) -> list[Message]:
        """The newest n records (all when n is None), oldest first."""
        items = self._items
        if n is None or n >= len(items):
            chosen: Iterable[Any] = list(items)
        else:
            chosen = [items[i] for i in range(len(items) - n, len(items))]
        return [to_message(r) for r in chosen]

    @property
    def size_bytes(self) -> int:
        return self._bytes


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class TailStats:
    """Counters a tail view shows."""

    read: int
    """Records read from the topic since the tail (re)started."""
    matched: int
    """Of those, records that passed the filter (all of them without a filter)."""
    paused: bool
    """Fetching is paused."""
    positions: dict[int, int]
    """Next offset to read per partition."""
    error: str | None = None
    """Why the tail stopped, when it stopped on an error."""
    notice: str | None = None
    """The last thing the tail noticed about the log itself (a new log after a broker
    restart, a truncated partition, the topic gone), in words."""


class MessageService:
    """Reads messages through a started connection (one per cluster)."""

    def __init__(self, conn: KafkaConnection, *, decoder: SchemaDecoder | None = None) -> None:
        self.conn = conn
        #: decodes Confluent-framed values (core/schema) for display and filters; None: raw
        self.decoder = decoder

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partitions; NotFound names the topic and cluster when it does not exist."""
        meta = await self.conn.metadata([topic])
        if topic not in meta.topics:
            raise NotFound(
                f"topic {topic!r} not found on cluster {self.conn.name!r} "
                "— check the name with `kafkaops topics`"
            )
        return [p.partition for p in meta.topics[topic].partitions]

    async def _check_partitions(self, topic: str, partitions: Iterable[int] | None) -> list[int]:
        known = await self.partitions(topic)
        if partitions is None:
            return known
        chosen = list(partitions)
        bad = [p for p in chosen if p not in known]
        if bad:
            raise UsageError(
                f"topic {topic!r} has no partition {bad[0]} (it has {len(known)}: "
                f"0..{len(known) - 1})"
            )
        return chosen

    def _consumer(self, **extra: Any) -> Any:
        """A reader's consumer context: no group, nothing committed."""
        opts: dict[str, Any] = dict(
            group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        opts.update(extra)
        return clients.consumer(self.conn, **opts)

    async def resolve_start(
        self, topic: str, partitions: Iterable[int] | None, start: StartAt
    ) -> dict[TopicPartition, int]:
        """The offset each partition starts at; also the bounds used (log start, end)."""
        parts = await self._check_partitions(topic, partitions)
        tps = [TopicPartition(topic, p) for p in parts]
        water = await self.conn.high_watermarks(tps)
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            lo, hi = water.get(tp, (0, 0))
            if start.kind == "end":
                out[tp] = max(lo, hi - start.back)
            elif start.kind == "beginning":
                out[tp] = lo
            elif start.kind == "offset":
                assert start.offset is not None
                want = start.offset if start.offset >= 0 else hi + start.offset
                out[tp] = min(max(want, lo), hi)
        if start.kind == "time":
            assert start.time_ms is not None
            out = await self._offsets_for_time(tps, water, start.time_ms)
        return out

    async def _offsets_for_time(
        self, tps: list[TopicPartition], water: dict[TopicPartition, tuple[int, int]], ts: int
    ) -> dict[TopicPartition, int]:
        """First offset whose record timestamp is >= ts, per partition (the end when none is).

        Tansu gap: ListOffsets with a timestamp answers the log start offset whatever the
        time. So its answer is only a first guess: we read the record there and the one
        before it, and bisect by reading records when the guess is not the boundary. On
        Apache Kafka the guess is right and costs two single-record reads.
        """
        guess = await self.conn.list_offsets(tps, ts)
        lo = {tp: water[tp][0] for tp in tps if tp in water}
        hi = {tp: water[tp][1] for tp in tps if tp in water}
        reader = self._consumer(max_partition_fetch_bytes=64 * 1024, fetch_max_wait_ms=100)
        async with reader as consumer:
            from aiokafka.structs import TopicPartition as AkTP

            consumer.assign([AkTP(tp.topic, tp.partition) for tp in lo])
            rounds = 0
            while True:
                active = [tp for tp in lo if lo[tp] < hi[tp]]
                if not active:
                    break
                probes: dict[TopicPartition, int] = {}
                for tp in active:
                    g = guess.get(tp, LATEST)
                    if rounds == 0 and lo[tp] <= g < hi[tp]:
                        probes[tp] = g
                    elif rounds == 1:
                        probes[tp] = hi[tp] - 1
                    else:
                        probes[tp] = (lo[tp] + hi[tp]) // 2
                seen = await self._probe(consumer, probes)
                for tp, mid in probes.items():
                    found = seen.get(tp)
                    if found is None or found[0] >= hi[tp]:
                        hi[tp] = mid  # nothing readable in [mid, hi)
                    elif found[1] >= ts:
                        hi[tp] = found[0]
                    else:
                        lo[tp] = found[0] + 1
                rounds += 1
                if rounds > 200:  # pragma: no cover - bisecting 2^64 offsets takes 64
                    raise KafkaOpsError("could not find the offset for that time: giving up")
        return {tp: hi[tp] for tp in lo}

    @staticmethod
    async def _probe(consumer: Any, probes: dict[TopicPartition, int]) -> dict[
            TopicPartition, tuple[int, int]]:
        """(offset, timestamp) of the first record at or after each probed offset."""
        from aiokafka.structs import TopicPartition as AkTP

        aks = {AkTP(tp.topic, tp.partition): tp for tp in probes}
        for ak, tp in aks.items():
            consumer.seek(ak, probes[tp])
        out: dict[TopicPartition, tuple[int, int]] = {}
        deadline = time.monotonic() + 3.0
        while len(out) < len(aks) and time.monotonic() < deadline:
            waiting = [ak for ak, tp in aks.items() if tp not in out]
            batch = await consumer.getmany(*waiting, timeout_ms=300, max_records=len(waiting))
            for ak, recs in batch.items():
                if recs and aks[ak] not in out:
                    out[aks[ak]] = (recs[0].offset, recs[0].timestamp)
                    consumer.pause(ak)
        consumer.resume(*aks)
        return out

    async def read(
        self, topic: str, *, partitions: Iterable[int] | None = None,
        start: StartAt | None = None, limit: int | None = None, where: Filter | None = None,
    ) -> list[Message]:
        """Records from `start` (default: the beginning) up to the end as it was when called."""
        out: list[Message] = []
        async for batch in self.scan(topic, partitions=partitions, start=start, where=where):
            out.extend(batch)
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    async def scan(
        self, topic: str, *, partitions: Iterable[int] | None = None,
        start: StartAt | None = None, where: Filter | None = None,
        stop_offsets: dict[TopicPartition, int] | None = None,
    ) -> AsyncIterator[list[Message]]:
        """Batches of records from `start` up to the end offsets as they were when called
        (or `stop_offsets`), then stop. Records that do not pass `where` are left out."""
        parts = await self._check_partitions(topic, partitions)
        tps = [TopicPartition(topic, p) for p in parts]
        begin = await self.resolve_start(topic, parts, start or StartAt.beginning())
        if stop_offsets is None:
            water = await self.conn.high_watermarks(tps)
            stop_offsets = {tp: water[tp][1] for tp in tps if tp in water}
        todo = {tp: stop_offsets[tp] for tp in tps if begin.get(tp, 0) < stop_offsets.get(tp, 0)}
        if not todo:
            return
        from aiokafka.structs import TopicPartition as AkTP

        async with self._consumer() as consumer:
            consumer.assign([AkTP(tp.topic, tp.partition) for tp in todo])
            for tp in todo:
                consumer.seek(AkTP(tp.topic, tp.partition), begin[tp])
            idle_since = time.monotonic()
            while todo:
                with map_kafka_errors(self.conn):
                    batch = await consumer.getmany(timeout_ms=500)
                if not batch:
                    if time.monotonic() - idle_since > 10:
                        raise KafkaOpsError(
                            f"reading {topic!r} on cluster {self.conn.name!r} stalled: no "
                            "records for 10 s before reaching the end offsets", retriable=True)
                    continue
                idle_since = time.monotonic()
                for ak, recs in batch.items():
                    tp = TopicPartition(ak.topic, ak.partition)
                    stop = todo.get(tp)
                    if stop is None:
                        continue
                    recs = [r for r in recs if r.offset < stop]
                    if (recs and recs[-1].offset >= stop - 1) or not recs:
                        todo.pop(tp, None)
                        consumer.pause(ak)
                    if self.decoder is not None:
                        recs = await self.decoder.decode_records(recs)
                    if where is not None:
                        recs = await where.select_async(recs)
                    if recs:
                        yield [to_message(r) for r in recs]

    def tail(
        self, topic: str, *, partitions: Iterable[int] | None = None,
        start: StartAt | None = None, where: Filter | None = None,
        buffer: RingBuffer | None = None, on_notice: Callable[[str], None] | None = None,
    ) -> Tail:
        return Tail(self, topic, partitions=partitions, start=start or StartAt.end(),
                    where=where, buffer=buffer, on_notice=on_notice)


class Tail:
    """A live read of one topic (all partitions or some), from a start position, forever.

    CLI: `async with tail: async for batch in tail.stream(): ...`
    Console: `await tail.start(); task = tail.run()`; read `tail.buffer.latest(n)` and
    `tail.stats()`; `pause()`, `resume()`, `await tail.restart(StartAt...)`.

    The log under a tail can be replaced (a broker that came back empty, a topic deleted and
    created again) or cut short (an unclean leader election). The consumer alone would wait,
    silently, until the new log passes the old position (kafkaops.core.kafka.logwatch). The tail
    notices instead, tells `on_notice` (and `stats().notice`) in words, and goes on:
    - a new log (new topic id, or an end below the position on a broker without topic
      ids): from its start, so every record written since is shown; the ring buffer drops
      the old log's records (their offsets would collide with the new log's);
    - the same log cut short (same topic id, end below the position): from its new end;
    - an offset out of range that the consumer reset: from where it was reset to;
    - the topic gone: said once; the tail waits for it and reads it from its start when it
      exists again (a reader never creates the topic it reads).
    """

    def __init__(
        self, service: MessageService, topic: str, *, partitions: Iterable[int] | None,
        start: StartAt, where: Filter | None, buffer: RingBuffer | None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.topic = topic
        self.partitions = list(partitions) if partitions is not None else None
        self.start_at = start
        self.filter = where
        self.buffer = buffer if buffer is not None else RingBuffer()
        self.read_count = 0
        self.matched_count = 0
        self.error: str | None = None
        self._consumer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._aks: list[Any] = []
        self._next: dict[int, int] = {}
        self._paused = False
        self._task: asyncio.Task[None] | None = None
        self.on_notice = on_notice
        self.notice: str | None = None
        self._watch: LogWatch | None = None
        self._gone = False
        self._suspect: set[int] = set()
        self._checked = 0.0

    async def start(self) -> None:
        """Check the topic, resolve the start offsets and start the consumer."""
        from aiokafka.structs import TopicPartition as AkTP

        begin = await self.service.resolve_start(self.topic, self.partitions, self.start_at)
        consumer: Any = None
        # aiokafka offers no public way to send a request over a consumer's connections;
        # its client is `_client` (LogWatch asks the topic's id through it)
        watch = LogWatch(lambda: consumer._client, self.topic, gap=1.5)
        async with contextlib.AsyncExitStack() as stack:
            consumer = await stack.enter_async_context(self.service._consumer(
                reader=True,  # a tail never creates the topic it reads
                created=lambda made: watch.follow_connections(made._client)))
            self._aks = [AkTP(tp.topic, tp.partition) for tp in begin]
            consumer.assign(self._aks)
            for ak in self._aks:
                consumer.seek(ak, begin[TopicPartition(ak.topic, ak.partition)])
            self._next = {tp.partition: off for tp, off in begin.items()}
            self._gone = False
            self._suspect = set()
            await watch.identity()  # the log this tail reads
            self._consumer, self._watch = consumer, watch
            self._clients = stack.pop_all()

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._consumer = self._clients, None, None
            if stack is not None:
                await stack.aclose()

    async def __aenter__(self) -> Tail:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def batches(self, *, filter_in_thread: bool = True) -> AsyncIterator[list[Any]]:
        """Raw record batches that passed the filter (records stay aiokafka's: inside core).

        The filter runs in a worker thread (Filter.select_async) so that an event loop
        serving a screen or Slack acks keeps its turn; `filter_in_thread=False` runs it on
        the loop, for a caller whose loop serves nothing else (`tail --json`): each batch
        then skips two thread hand-offs, which on a busy machine wait for the scheduler."""
        if self._consumer is None:
            raise RuntimeError("Tail used before start()")
        flt = self.filter
        decoder = self.service.decoder
        nxt = self._next
        while True:
            with map_kafka_errors(self.service.conn):
                batch = await self._consumer.getmany(timeout_ms=250, max_records=10_000)
                batch = await self._check_log(batch)
            for recs in batch.values():
                if not recs:
                    continue
                self.read_count += len(recs)
                part = recs[-1].partition
                if recs[0].offset < nxt.get(part, 0):
                    self._say(f"partition {part} of {self.topic} went back from offset "
                              f"{nxt[part]} to {recs[0].offset} (offset out of range: the log "
                              "was cut short or created again); continuing from there")
                nxt[part] = recs[-1].offset + 1
                if decoder is not None:
                    recs = await decoder.decode_records(recs)
                if flt is not None:
                    recs = await flt.select_async(recs) if filter_in_thread else flt.select(recs)
                if recs:
                    self.matched_count += len(recs)
                    yield recs
            if not batch:
                yield []  # lets a caller notice the tail is idle (and stop if it wants)

    # ------------------------------------------------------------ the log under the tail

    def _say(self, text: str) -> None:
        self.notice = text
        if self.on_notice is not None:
            self.on_notice(text)

    async def _check_log(self, batch: dict[Any, Any]) -> dict[Any, Any]:
        """Is the log still the one being read? (class docstring; kafkaops.core.kafka.logwatch)
        Returns the batch to use: empty when it came from a log that was replaced."""
        consumer, watch = self._consumer, self._watch
        assert watch is not None
        stamps = {ak: consumer.last_poll_timestamp(ak) for ak in self._aks}
        answered = max((s for s in stamps.values() if s is not None), default=None)
        due = watch.due(answered / 1000 if answered is not None else None, bool(batch))
        ask = due or (self._gone and watch.since_check() >= 1.0)
        if ask and await self._settle(await watch.identity()):
            return {}
        if time.monotonic() - self._checked < 0.25:
            return batch
        self._checked = time.monotonic()
        behind: list[tuple[Any, int, int]] = []
        for ak in self._aks:
            high = consumer.highwater(ak)
            position = self._next.get(ak.partition, 0)
            if ak in batch or high is None or high >= position:
                if self._suspect:
                    self._suspect.discard(ak.partition)
                    watch.behind(ak.partition, None, position, None)
                continue
            if ak.partition not in self._suspect:  # first sight: a new topic id settles it
                self._suspect.add(ak.partition)
                if await self._settle(await watch.identity()):
                    return {}
            if watch.behind(ak.partition, high, position, stamps.get(ak)):
                behind.append((ak, position, high))
        if behind:
            same = (await watch.identity()) == "same"
            for ak, position, high in behind:
                self._suspect.discard(ak.partition)
                if same:  # the same log, cut short: what is below its end was read
                    consumer.seek(ak, high)
                    self._next[ak.partition] = high
                    self._say(f"partition {ak.partition} of {self.topic} was cut short: its "
                              f"end went back from offset {position} to {high}; records "
                              f"{high}..{position - 1} are gone; continuing from {high}")
                else:
                    await consumer.seek_to_beginning(ak)
                    start = await consumer.position(ak)
                    self._next[ak.partition] = start
                    self.buffer.clear()  # its offsets would collide with the new log's
                    self._say(f"partition {ak.partition} of {self.topic} went back: its end "
                              f"is offset {high}, below offset {position} already read (the "
                              "broker restarted empty or the topic was recreated); reading it "
                              f"from its start (offset {start})")
        return batch

    async def _settle(self, seen: str) -> bool:
        """Act on what the topic's id says; True when this round's records are to be
        dropped (they came from a log that is gone or was replaced)."""
        cluster = self.service.conn.name
        if seen == "gone":
            if not self._gone:
                self._gone = True
                self._say(f"topic {self.topic} no longer exists on cluster {cluster!r} "
                          "(deleted, or the broker restarted empty); waiting for it to exist "
                          "again")
            return True
        if seen == "same" and self._gone:
            self._gone = False
            self._say(f"topic {self.topic} is back on cluster {cluster!r} (the same log); "
                      "continuing")
        elif seen == "new":
            was_gone, self._gone = self._gone, False
            await self._from_start(
                f"topic {self.topic} {'exists again' if was_gone else 'was created again'} "
                f"on cluster {cluster!r} (a new log: the broker restarted empty or the topic "
                "was recreated); reading it from its start")
            return True
        return False

    async def _from_start(self, text: str) -> None:
        consumer = self._consumer
        await consumer.seek_to_beginning(*self._aks)
        for ak in self._aks:
            self._next[ak.partition] = await consumer.position(ak)
        self._suspect.clear()
        self.buffer.clear()  # records of the old log: their offsets mean nothing now
        self._say(text)

    async def stream(self, limit: int | None = None) -> AsyncIterator[list[Message]]:
        """Batches of Messages that passed the filter; stops after `limit` of them."""
        left = limit
        async for recs in self.batches():
            if not recs:
                continue
            if left is not None:
                recs = recs[:left]
                left -= len(recs)
            yield [to_message(r) for r in recs]
            if left is not None and left <= 0:
                return

    async def json_stream(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """`stream()` as `tail --json` prints it: each batch as JSON lines (json_lines),
        encoded straight from the records as they came. For a process that only prints
        them: the filter runs on the event loop (see `batches`)."""
        left = limit
        async for recs in self.batches(filter_in_thread=False):
            if not recs:
                continue
            if left is not None:
                recs = recs[:left]
                left -= len(recs)
            yield json_lines(recs)
            if left is not None and left <= 0:
                return

    def run(self) -> asyncio.Task[None]:
        """Consume in the background into `self.buffer` until stopped."""

        async def loop() -> None:
            try:
                async for recs in self.batches():
                    self.buffer.extend(recs)
            except KafkaOpsError as e:
                self.error = str(e)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # surfaced in stats(); the screen shows it
                self.error = f"tail stopped: {type(e).__name__}: {e}"

        self._task = asyncio.get_running_loop().create_task(loop())
        return self._task

    def pause(self) -> None:
        if self._consumer is not None:
            self._consumer.pause(*self._aks)
        self._paused = True

    def resume(self) -> None:
        if self._consumer is not None:
            self._consumer.resume(*self._aks)
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    async def restart(self, start: StartAt, *, where: Filter | None | Literal["keep"] = "keep",
                      clear: bool = True) -> None:
        """Jump: stop, then start again from another position (and filter)."""
        running = self._task is not None
        await self.stop()
        self.start_at = start
        if where != "keep":
            self.filter = where
        if clear:
            self.buffer.clear()
        self.read_count = self.matched_count = 0
        self.error = None
        await self.start()
        if self._paused:
            self.pause()
        if running:
            self.run()

    def stats(self) -> TailStats:
        return TailStats(self.read_count, self.matched_count, self._paused, dict(self._next),
                         self.error, self.notice)
