"""Records of reading a topic: `Message` (one Kafka record as core hands it to a face, raw
bytes), `StartAt` (where a read or tail starts in each partition) and `TailStats` (the
counters a tail view shows). Frozen; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from kafkaops.core.schema.records import FramedValue


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
