"""MirrorMaker 2's three record layouts, encoded and decoded: pure, no I/O.

Everything follows docs/mm2-formats.md (apache/kafka `connect/mirror*`, field lists
unchanged since 2.4.0): `Heartbeat` (topic `heartbeats`), `Checkpoint`
(`<source>.checkpoints.internal`, on the target) and `OffsetSync`
(`mm2-offset-syncs.<target>.internal`, on the source), encoded with Kafka's protocol
`Type`s: big-endian ints, INT16-length-prefixed UTF-8 strings, fields in declaration
order, no framing; Heartbeat and Checkpoint values start with an INT16 version, OffsetSync
values do not.

Decoding is as lenient as Java's (any version is read with the V0 layout, trailing bytes
are ignored, malformed UTF-8 becomes U+FFFD) and raises `Mm2FormatError` where Java would
throw (short buffers, negative lengths, null keys or values): readers (core/dr/mm2_io.py)
skip such records and count them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.records import TopicPartition

HEARTBEATS_TOPIC = "heartbeats"
_STRING_MAX = 32767  # Short.MAX_VALUE: Type.STRING's length limit


class Mm2FormatError(KafkaOpsError):
    """Bytes that are not a valid MirrorMaker 2 record (Java would throw SchemaException)."""


# ---------------------------------------------------------------- primitives


def _string(value: str) -> bytes:
    # Java's String.getBytes(UTF_8) writes an unpaired surrogate as '?'
    data = value.encode("utf-8", errors="replace")
    if len(data) > _STRING_MAX:
        raise Mm2FormatError(
            f"string of {len(data)} bytes is longer than MM2's limit of {_STRING_MAX}"
        )
    return struct.pack(">h", len(data)) + data


class _Reader:
    """Reads Kafka protocol types from a buffer, as `Schema.read` does."""

    def __init__(self, data: bytes | None, what: str) -> None:
        if data is None:
            raise Mm2FormatError(f"{what} is null (a tombstone): MM2 cannot read it either")
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def _take(self, n: int, field_name: str) -> bytes:
        if self.pos + n > len(self.data):
            raise Mm2FormatError(
                f"{self.what}: {len(self.data)} bytes end before field {field_name!r} "
                f"(needs {n} bytes at position {self.pos})"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int16(self, name: str) -> int:
        value: int = struct.unpack(">h", self._take(2, name))[0]
        return value

    def int32(self, name: str) -> int:
        value: int = struct.unpack(">i", self._take(4, name))[0]
        return value

    def int64(self, name: str) -> int:
        value: int = struct.unpack(">q", self._take(8, name))[0]
        return value

    def string(self, name: str) -> str:
        length = self.int16(name)
        if length < 0:
            raise Mm2FormatError(f"{self.what}: field {name!r} has negative length {length}")
        return self._take(length, name).decode("utf-8", errors="replace")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Heartbeat:
    """One MM2 heartbeat: the flow source -> target was alive at `timestamp`."""

    source: str
    """sourceClusterAlias."""
    target: str
    """targetClusterAlias."""
    timestamp: int
    """Milliseconds since the epoch when the heartbeat was emitted."""


@dataclass(frozen=True, eq=True)
class Checkpoint:
    """A consumer group's committed offset on the source, translated for the target."""

    group: str
    """Consumer group id (the same on both clusters)."""
    topic: str
    """Target-side topic name, already renamed by the replication policy."""
    partition: int
    """Partition."""
    upstream_offset: int
    """The group's committed offset on the source cluster."""
    downstream_offset: int
    """The translated offset on the target cluster (the protocol field is `offset`)."""
    metadata: str = ""
    """The committed OffsetAndMetadata.metadata ("" when none)."""

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


@dataclass(frozen=True, eq=False)
class OffsetSync:
    """Source offset `upstream_offset` of `topic`/`partition` is `downstream_offset` on the
    target. Compared by identity, as the Java store compares its array slots."""

    topic: str
    """Source (upstream) topic name, not renamed."""
    partition: int
    """Partition."""
    upstream_offset: int
    """Offset of the replicated record in the source partition."""
    downstream_offset: int
    """Offset the same record got in the target partition."""

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def same(self, other: OffsetSync) -> bool:
        """Equal by value (the dataclass compares by identity)."""
        return (self.topic, self.partition, self.upstream_offset, self.downstream_offset) == (
            other.topic,
            other.partition,
            other.upstream_offset,
            other.downstream_offset,
        )


def encode_heartbeat(hb: Heartbeat) -> tuple[bytes, bytes]:
    """(key, value): key = source, target; value = version 0, timestamp."""
    return _string(hb.source) + _string(hb.target), struct.pack(">hq", 0, hb.timestamp)


def decode_heartbeat(key: bytes | None, value: bytes | None) -> Heartbeat:
    k = _Reader(key, "heartbeat key")
    source, target = k.string("sourceClusterAlias"), k.string("targetClusterAlias")
    v = _Reader(value, "heartbeat value")
    v.int16("version")  # any version is read as V0, as Java does
    return Heartbeat(source, target, v.int64("timestamp"))


def encode_checkpoint(cp: Checkpoint) -> tuple[bytes, bytes]:
    """(key, value): key = group, topic, partition; value = version 0, upstream, downstream,
    metadata."""
    key = _string(cp.group) + _string(cp.topic) + struct.pack(">i", cp.partition)
    value = struct.pack(">hqq", 0, cp.upstream_offset, cp.downstream_offset) + _string(
        cp.metadata
    )
    return key, value


def decode_checkpoint(key: bytes | None, value: bytes | None) -> Checkpoint:
    k = _Reader(key, "checkpoint key")
    group, topic, partition = k.string("group"), k.string("topic"), k.int32("partition")
    v = _Reader(value, "checkpoint value")
    v.int16("version")
    upstream, downstream = v.int64("upstreamOffset"), v.int64("offset")
    return Checkpoint(group, topic, partition, upstream, downstream, v.string("metadata"))


def encode_offset_sync(sync: OffsetSync) -> tuple[bytes, bytes]:
    """(key, value): key = topic, partition; value = upstream, downstream (no version)."""
    key = _string(sync.topic) + struct.pack(">i", sync.partition)
    return key, struct.pack(">qq", sync.upstream_offset, sync.downstream_offset)


def decode_offset_sync(key: bytes | None, value: bytes | None) -> OffsetSync:
    k = _Reader(key, "offset sync key")
    topic, partition = k.string("topic"), k.int32("partition")
    v = _Reader(value, "offset sync value")
    return OffsetSync(topic, partition, v.int64("upstreamOffset"), v.int64("offset"))


