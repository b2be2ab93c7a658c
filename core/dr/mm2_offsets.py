"""MirrorMaker 2's offset rules, as pure functions: translation and when MM2 writes.

- offset translation exactly as MM2 does it: `OffsetSyncStore` is a line-by-line port of
  the Java store (64 syncs per partition, invariants B and C), so lagging groups translate
  to the same numbers MM2 writes into its checkpoints; `remote_consumer_offsets` is
  `RemoteClusterUtils.translateOffsets` (last checkpoint per partition in log order wins);
  `translate_upstream` is kafkaops' own reverse rule for failback;
- the rules the demo replicator needs to write like MM2: when an offset sync is sent
  (`OffsetSyncWriter`, `offset.lag.max`) and when a checkpoint is emitted
  (`checkpoint_is_newer`);
- which groups a pair moves (`group_matches`) and each group's newest checkpoints
  (`latest_checkpoints`).

See docs/mm2-formats.md.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafkaops.core.dr.mm2_formats import Checkpoint, OffsetSync
from kafkaops.core.records import TopicPartition

#: `offset.lag.max`: an offset sync is sent at once when translation would be this stale
DEFAULT_OFFSET_LAG_MAX = 100
#: `OffsetSyncStore.SYNCS_PER_PARTITION` (Long.SIZE)
SYNCS_PER_PARTITION = 64



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
