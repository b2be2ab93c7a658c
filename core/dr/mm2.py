"""MirrorMaker 2's own records and rules, as pure functions: no I/O here.

Everything follows docs/mm2-formats.md (apache/kafka `connect/mirror*`, field lists
unchanged since 2.4.0):

- the three record layouts: `Heartbeat` (topic `heartbeats`), `Checkpoint`
  (`<source>.checkpoints.internal`, on the target) and `OffsetSync`
  (`mm2-offset-syncs.<target>.internal`, on the source), encoded with Kafka's protocol
  `Type`s: big-endian ints, INT16-length-prefixed UTF-8 strings, fields in declaration
  order, no framing; Heartbeat and Checkpoint values start with an INT16 version, OffsetSync
  values do not;
- the default (`<source><sep><topic>`) and identity replication policies, with a custom
  separator and the internal-topic separator switch;
- offset translation exactly as MM2 does it: `OffsetSyncStore` is a line-by-line port of
  the Java store (64 syncs per partition, invariants B and C), so lagging groups translate
  to the same numbers MM2 writes into its checkpoints; `remote_consumer_offsets` is
  `RemoteClusterUtils.translateOffsets` (last checkpoint per partition in log order wins);
- the rules the demo replicator needs to write like MM2: when an offset sync is sent
  (`OffsetSyncWriter`, `offset.lag.max`) and when a checkpoint is emitted.

Decoding is as lenient as Java's (any version is read with the V0 layout, trailing bytes
are ignored, malformed UTF-8 becomes U+FFFD) and raises `Mm2FormatError` where Java would
throw (short buffers, negative lengths, null keys or values): readers skip such records
and count them.
"""

from __future__ import annotations

import fnmatch
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from kafkaops.core.errors import ConfigError, KafkaOpsError
from kafkaops.core.records import TopicPartition

HEARTBEATS_TOPIC = "heartbeats"
#: `offset.lag.max`: an offset sync is sent at once when translation would be this stale
DEFAULT_OFFSET_LAG_MAX = 100
#: `OffsetSyncStore.SYNCS_PER_PARTITION` (Long.SIZE)
SYNCS_PER_PARTITION = 64
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


# ---------------------------------------------------------------- replication policies


class DefaultReplicationPolicy:
    """`DefaultReplicationPolicy`: remote topics are `<source><separator><topic>`."""

    name: Literal["default", "identity"] = "default"

    def __init__(self, separator: str = ".", *, internal_topic_separator: bool = True) -> None:
        if not separator:
            raise ConfigError("replication policy separator must not be empty")
        self.separator = separator
        #: separator of the internal topics' names (`internal.topic.separator.enabled`)
        self.internal_separator = separator if internal_topic_separator else "."

    def __repr__(self) -> str:
        return f"{type(self).__name__}(separator={self.separator!r})"

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        return source_alias + self.separator + topic

    def topic_source(self, topic: str) -> str | None:
        """The alias a remote topic came from, None for a local topic.

        Java splits with `Pattern.split`, which drops trailing empty strings."""
        parts = topic.split(self.separator)
        while parts and parts[-1] == "":
            parts.pop()
        return parts[0] if len(parts) >= 2 else None

    def upstream_topic(self, topic: str) -> str | None:
        source = self.topic_source(topic)
        if source is None:
            return None
        return topic[len(source) + len(self.separator) :]

    def original_topic(self, topic: str) -> str:
        """The name at the first hop: `upstream_topic` applied until it stops changing."""
        while True:
            upstream = self.upstream_topic(topic)
            if upstream is None or upstream == topic:
                return topic
            topic = upstream

    def heartbeats_topic(self) -> str:
        return HEARTBEATS_TOPIC

    def offset_syncs_topic(self, alias: str) -> str:
        sep = self.internal_separator
        return f"mm2-offset-syncs{sep}{alias}{sep}internal"

    def checkpoints_topic(self, alias: str) -> str:
        sep = self.internal_separator
        return f"{alias}{sep}checkpoints{sep}internal"

    def is_heartbeats_topic(self, topic: str) -> bool:
        return self.original_topic(topic) == HEARTBEATS_TOPIC

    def is_checkpoints_topic(self, topic: str) -> bool:
        sep = self.internal_separator
        return topic.endswith(f"{sep}checkpoints{sep}internal")

    def is_mm2_internal_topic(self, topic: str) -> bool:
        return topic.endswith(f"{self.internal_separator}internal")

    def is_internal_topic(self, topic: str) -> bool:
        return (
            self.is_mm2_internal_topic(topic)
            or topic.startswith(("__", "."))
            or topic.endswith(("-internal", ".internal"))
        )

    def is_cycle(self, topic: str, target_alias: str) -> bool:
        """True when replicating `topic` to `target_alias` would send it back where it came
        from (MirrorSourceConnector.isCycle)."""
        seen = 0
        while True:
            source = self.topic_source(topic)
            if source is None:
                return False
            if source == target_alias:
                return True
            upstream = self.upstream_topic(topic)
            if upstream is None or upstream == topic or seen > 1000:
                return False
            topic, seen = upstream, seen + 1

    def checkpoint_topic_name(self, source_alias: str, target_alias: str, topic: str) -> str:
        """The target-side name a checkpoint carries for upstream `topic`
        (MirrorCheckpointTask.renameTopicPartition)."""
        if self.topic_source(topic) == target_alias:
            return self.original_topic(topic)
        return self.format_remote_topic(source_alias, topic)


class IdentityReplicationPolicy(DefaultReplicationPolicy):
    """`IdentityReplicationPolicy`: remote topics keep their names, except heartbeat-like
    topics (names ending in `heartbeats`), which follow the default policy."""

    name: Literal["default", "identity"] = "identity"

    def __init__(
        self,
        separator: str = ".",
        *,
        internal_topic_separator: bool = True,
        source_alias: str | None = None,
    ) -> None:
        super().__init__(separator, internal_topic_separator=internal_topic_separator)
        #: `source.cluster.alias`: what topic_source answers for any non-heartbeat topic
        self.source_alias = source_alias

    def _looks_like_heartbeat(self, topic: str) -> bool:
        return topic.endswith(HEARTBEATS_TOPIC)

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        if self._looks_like_heartbeat(topic):
            return super().format_remote_topic(source_alias, topic)
        return topic

    def topic_source(self, topic: str) -> str | None:
        if self._looks_like_heartbeat(topic):
            return super().topic_source(topic)
        return self.source_alias

    def upstream_topic(self, topic: str) -> str | None:
        if self._looks_like_heartbeat(topic):
            return super().upstream_topic(topic)
        return topic


ReplicationPolicy = DefaultReplicationPolicy


def replication_policy(
    kind: str,
    separator: str = ".",
    *,
    internal_topic_separator: bool = True,
    source_alias: str | None = None,
) -> DefaultReplicationPolicy:
    """The policy named in config (`default` or `identity`)."""
    if kind == "default":
        return DefaultReplicationPolicy(
            separator, internal_topic_separator=internal_topic_separator
        )
    if kind == "identity":
        return IdentityReplicationPolicy(
            separator, internal_topic_separator=internal_topic_separator, source_alias=source_alias
        )
    raise ConfigError(f"replication_policy: expected default or identity, got {kind!r}")


# ---------------------------------------------------------------- offset translation


def _long(value: int) -> int:
    """Wrap to a signed 64-bit value, as Java's long arithmetic does."""
    return (value + (1 << 63)) % (1 << 64) - (1 << 63)


def _invariant_b(i_sync: OffsetSync, j_sync: OffsetSync, i: int, j: int) -> bool:
    bound = _long(j_sync.upstream_offset + _long(1 << j) - _long(1 << i))
    return i_sync is j_sync or bound < 0 or i_sync.upstream_offset <= bound


def _invariant_c(i_sync: OffsetSync, j_sync: OffsetSync, i: int) -> bool:
    bound = _long(j_sync.upstream_offset + (1 << max(i - 2, 0)))
    return i_sync is j_sync or (bound >= 0 and i_sync.upstream_offset >= bound)


class OffsetSyncStore:
    """MM2's `OffsetSyncStore`: per source partition, the latest sync in slot 0 and older
    ones at roughly exponential spacing in slots 1..63; translation as MM2 does it.

    Feed it the offset-syncs topic in log order: `load(records)` is the initial read to
    the end (during which, if `clear_during_initial_read`, every sync replaces the whole
    array, as MM2 does when its checkpoints topic could not be read), `add(sync)` is a sync
    read afterwards.
    """

    def __init__(self, *, clear_during_initial_read: bool = False) -> None:
        self._syncs: dict[TopicPartition, list[OffsetSync]] = {}
        self._clear_during_initial_read = clear_during_initial_read
        self.read_to_end = False
        """True once the initial read finished; translation answers nothing before."""

    def load(self, syncs: Iterable[OffsetSync]) -> OffsetSyncStore:
        self.read_to_end = not self._clear_during_initial_read
        for sync in syncs:
            self._handle(sync)
        self.read_to_end = True
        return self

    def add(self, sync: OffsetSync) -> None:
        self._handle(sync)

    def partitions(self) -> list[TopicPartition]:
        return sorted(self._syncs)

    def latest(self, tp: TopicPartition) -> OffsetSync | None:
        """The newest sync of a source partition (slot 0)."""
        syncs = self._syncs.get(tp)
        return syncs[0] if syncs else None

    def slots(self, tp: TopicPartition) -> list[OffsetSync]:
        """The 64 slots as MM2 holds them (for tests and diagnostics)."""
        return list(self._syncs.get(tp, []))

    def distinct(self, tp: TopicPartition) -> list[OffsetSync]:
        """The distinct retained syncs, newest first."""
        out: list[OffsetSync] = []
        for s in self._syncs.get(tp, []):
            if not out or s is not out[-1]:
                out.append(s)
        return out

    def _handle(self, sync: OffsetSync) -> None:
        tp = sync.topic_partition
        syncs = self._syncs.get(tp)
        if syncs is None:
            self._syncs[tp] = [sync] * SYNCS_PER_PARTITION
            return
        mutable = list(syncs)
        self._update_sync_array(mutable, syncs, sync)
        self._syncs[tp] = mutable

    def _update_sync_array(
        self, syncs: list[OffsetSync], original: list[OffsetSync], offset_sync: OffsetSync
    ) -> None:
        upstream_offset = offset_sync.upstream_offset
        # an upstream rewind (or the initial read, when asked) invalidates every older sync
        if not self.read_to_end or syncs[0].upstream_offset > upstream_offset:
            for i in range(SYNCS_PER_PARTITION):
                syncs[i] = offset_sync
            return
        replacement = offset_sync
        replacement_index = 0
        syncs[0] = replacement  # invariant A: slot 0 is always the latest sync
        for current in range(1, SYNCS_PER_PARTITION):
            previous = current - 1
            while True:
                old_value = original[replacement_index]
                is_recent = _invariant_b(syncs[previous], old_value, previous, current)
                separated_from_previous = _invariant_c(syncs[previous], old_value, previous)
                nxt = current + 1
                separated_from_next = nxt >= SYNCS_PER_PARTITION or _invariant_c(
                    old_value, syncs[nxt], current
                )
                next_replacement = replacement_index + 1
                duplicate = (
                    next_replacement < SYNCS_PER_PARTITION
                    and old_value is original[next_replacement]
                )
                promote = is_recent and separated_from_previous and separated_from_next
                if promote:
                    replacement = old_value
                skip_old_value = duplicate or not separated_from_previous
                if promote or skip_old_value:
                    replacement_index += 1
                if not (replacement_index < current and skip_old_value):
                    break
            if _invariant_b(syncs[previous], syncs[current], previous, current):
                break  # invariant B holds here, so it holds for every later slot
            syncs[current] = replacement

    def lookup(self, tp: TopicPartition, upstream_offset: int) -> OffsetSync | None:
        """The sync translation would use: the newest with upstream <= offset, else the
        oldest retained one."""
        syncs = self._syncs.get(tp)
        if not syncs:
            return None
        for s in syncs:
            if s.upstream_offset <= upstream_offset:
                return s
        return syncs[SYNCS_PER_PARTITION - 1]

    def translate_downstream(self, tp: TopicPartition, upstream_offset: int) -> int | None:
        """MM2's translation of a group's committed source offset to the target.

        None: no translation (no syncs for the partition, or the initial read is not
        done): MM2 emits no checkpoint. -1: the group is behind every retained sync: MM2
        drops the checkpoint. Otherwise the sync's downstream offset, +1 when the group is
        past the sync (never more: records after a sync may or may not be replicated)."""
        if not self.read_to_end:
            return None
        sync = self.lookup(tp, upstream_offset)
        if sync is None:
            return None
        if sync.upstream_offset > upstream_offset:
            return -1
        step = 0 if upstream_offset == sync.upstream_offset else 1
        return sync.downstream_offset + step


def translate_upstream(syncs: Iterable[OffsetSync], downstream_offset: int) -> int | None:
    """The reverse of MM2's translation, for failback (kafkaops' rule, not MM2's).

    Given every sync of one partition (source -> target) and a group's committed offset on
    the target, the source offset to resume from: the sync with the largest downstream
    offset <= the group's, then its upstream offset, +1 when the group is past it. Like
    MM2's rule this never skips a record the group has not read; it may re-read some.
    None when the group is behind every sync."""
    best: OffsetSync | None = None
    for s in syncs:
        if s.downstream_offset <= downstream_offset and (
            best is None or s.downstream_offset >= best.downstream_offset
        ):
            best = s
    if best is None:
        return None
    return best.upstream_offset + (0 if downstream_offset == best.downstream_offset else 1)


def remote_consumer_offsets(
    checkpoints: Iterable[Checkpoint], group: str
) -> dict[TopicPartition, Checkpoint]:
    """`RemoteClusterUtils.translateOffsets`: the group's checkpoints read in log order,
    the last one per partition wins (not the largest). The topic names are already the
    target's, ready to commit there."""
    out: dict[TopicPartition, Checkpoint] = {}
    for cp in checkpoints:
        if cp.group == group:
            out[cp.topic_partition] = cp
    return out


# ---------------------------------------------------------------- writing like MM2


@dataclass
class _PartitionState:
    max_offset_lag: int
    previous_upstream: int = -1
    previous_downstream: int = -1
    last_sync_downstream: int = -1
    should_sync: bool = False

    def update(self, upstream: int, downstream: int) -> bool:
        no_previous_sync = self.last_sync_downstream == -1
        # translation goes 1 past the last sync, hence the +1
        too_stale = downstream - (self.last_sync_downstream + 1) >= self.max_offset_lag
        skipped_upstream = upstream - self.previous_upstream != 1
        truncated_downstream = downstream < self.previous_downstream
        if no_previous_sync or too_stale or skipped_upstream or truncated_downstream:
            self.last_sync_downstream = downstream
            self.should_sync = True
        self.previous_upstream = upstream
        self.previous_downstream = downstream
        return self.should_sync


@dataclass
class OffsetSyncWriter:
    """When MM2's source task sends an offset sync (`OffsetSyncWriter`).

    `record_replicated(tp, upstream, downstream)` after each record the target acked;
    `take_pending()` gives the syncs to send now; `commit()` (MM2: every
    `offset.flush.interval.ms`) moves the delayed latest sync per partition to pending, so
    a quiet topic still gets a sync for its last record."""

    max_offset_lag: int = DEFAULT_OFFSET_LAG_MAX
    _states: dict[TopicPartition, _PartitionState] = field(default_factory=dict)
    _pending: dict[TopicPartition, OffsetSync] = field(default_factory=dict)
    _delayed: dict[TopicPartition, OffsetSync] = field(default_factory=dict)

    def record_replicated(self, tp: TopicPartition, upstream: int, downstream: int) -> None:
        state = self._states.setdefault(tp, _PartitionState(self.max_offset_lag))
        sync = OffsetSync(tp.topic, tp.partition, upstream, downstream)
        if state.update(upstream, downstream):
            self._delayed.pop(tp, None)
            self._pending[tp] = sync
            state.should_sync = False
        else:
            self._delayed[tp] = sync

    def commit(self) -> None:
        self._pending.update(self._delayed)
        self._delayed.clear()

    def take_pending(self) -> list[OffsetSync]:
        out = list(self._pending.values())
        self._pending.clear()
        return out


def checkpoint_is_newer(previous: Checkpoint | None, new: Checkpoint) -> bool:
    """MirrorCheckpointTask's test before emitting: the first checkpoint, a rewind upstream,
    or a downstream offset that went up. Anything else is a repeat and is skipped."""
    if previous is None:
        return True
    return (
        new.upstream_offset < previous.upstream_offset
        or new.downstream_offset > previous.downstream_offset
    )


def group_matches(group: str, patterns: Iterable[str]) -> bool:
    """A consumer group against config glob patterns (`orders-*`); no patterns: all."""
    pats = list(patterns)
    return not pats or any(fnmatch.fnmatchcase(group, p) for p in pats)


def latest_checkpoints(
    checkpoints: Iterable[tuple[Checkpoint, int]],
) -> Mapping[str, dict[TopicPartition, tuple[Checkpoint, int]]]:
    """Per group, per partition: the last checkpoint in log order with its record
    timestamp (ms). Input: (checkpoint, timestamp) pairs in log order."""
    out: dict[str, dict[TopicPartition, tuple[Checkpoint, int]]] = {}
    for cp, ts in checkpoints:
        out.setdefault(cp.group, {})[cp.topic_partition] = (cp, ts)
    return out
