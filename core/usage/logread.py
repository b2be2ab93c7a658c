"""Reads of the log itself for usage: offsets by record time, and record batches.

- `offsets_at`: the first offset whose record time is at or after a moment, per partition
  (ListOffsets with a timestamp). Tansu gaps: when no record is that recent it answers
  offset 0 with timestamp -1 (Apache Kafka answers -1 and -1), so the timestamp is what
  says "none" here; and it indexes batches by the time it received them, not by their
  record times (a record produced with an old timestamp counts as new). So where a
  partition's log was read whole, the boundaries are taken from the batches' own record
  times instead (`LogRead.first_at`, what Apache Kafka's time index answers); the broker's
  answer is used where the log was sampled.
- `read_log`: record batches of offset ranges, within a byte budget. Each partition is
  read from its log start as far as its share of the budget goes; when that does not reach
  the end, a few more Fetches sample batches spread over the rest and at the window starts,
  so every range gets batches of its own. Which ranges were read whole is reported, so a
  figure says whether it is exact or estimated.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition
from kafkaops.core.usage.batches import Batch, read_batches

T = TypeVar("T")

#: bytes of log one usage measurement reads at most (what a 2-core laptop reads in well
#: under a second from a local broker; a large cluster gets sampled estimates)
DEFAULT_BUDGET = 32 * 1024 * 1024
#: the smallest and largest share of the budget one partition's first read gets
MIN_SHARE = 16 * 1024
MAX_SHARE = 4 * 1024 * 1024
#: extra Fetches per partition that does not fit its share, and bytes each asks for
SAMPLES = 8
SAMPLE_BYTES = 32 * 1024
#: the largest single batch read again whole when a share cut it short
MAX_BATCH = 16 * 1024 * 1024
#: how long a Fetch may take. Tansu 0.6 fills an answer only for as long as this (later
#: partitions come back empty although they hold records); Apache Kafka answers at once
#: when any record is there (min_bytes 1) and stops at the request's max_bytes. Either
#: way, a partition answered empty below its end was not served, and is asked again.
FETCH_WAIT_MS = 500
#: bytes one Fetch answer may hold, over all its partitions
FETCH_MAX_BYTES = 64 * 1024 * 1024


async def per_leader(conn: KafkaConnection, tps: Iterable[TopicPartition],
                     ask: Callable[[int, list[TopicPartition]], Awaitable[dict[TopicPartition, T]]]
                     ) -> dict[TopicPartition, T]:
    """`ask(node, partitions)` for each leader, together; answers merged. Kafka errors are
    ClusterUnreachable naming the cluster."""
    by_node = await conn.leaders(tps)
    with map_kafka_errors(conn):
        parts = await asyncio.gather(*(ask(n, list(p)) for n, p in by_node.items()))
    return {k: v for d in parts for k, v in d.items()}


async def offsets_at(conn: KafkaConnection, tps: Iterable[TopicPartition], ts_ms: int
                     ) -> dict[TopicPartition, int | None]:
    """First offset with a record time >= ts_ms per partition; None when no record is that
    recent (see the module docstring for the Tansu gap)."""
    from aiokafka.protocol.offset import OffsetRequest

    async def ask(node: int, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        topics: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for tp in tps:
            topics[tp.topic].append((tp.partition, ts_ms))
        resp = await conn.client.send(node, OffsetRequest(-1, 0, list(topics.items())))
        out: dict[TopicPartition, int | None] = {}
        for topic, parts in resp.topics:
            for part in parts:
                partition, error, timestamp, offset = part[0], part[1], part[2], part[3]
                if error == 0:
                    out[TopicPartition(topic, partition)] = (
                        None if timestamp < 0 or offset < 0 else offset)
        return out

    return await per_leader(conn, list(tps), ask)


@dataclass
class LogRead:
    """What was read of one partition."""

    batches: dict[int, Batch] = field(default_factory=dict)
    """Batches by base offset."""
    covered: list[tuple[int, int]] = field(default_factory=list)
    """Offset ranges [lo, hi) every batch of which was read, merged and in order."""

    def add(self, found: list[Batch]) -> None:
        """Batches one Fetch returned: they follow each other, so they cover a range."""
        runs: list[tuple[int, int]] = []
        for b in found:
            self.batches.setdefault(b.base_offset, b)
            if runs and runs[-1][1] == b.base_offset:
                runs[-1] = (runs[-1][0], b.last_offset + 1)
            else:
                runs.append((b.base_offset, b.last_offset + 1))
        merged = sorted(self.covered + runs)
        self.covered = []
        for lo, hi in merged:
            if self.covered and lo <= self.covered[-1][1]:
                self.covered[-1] = (self.covered[-1][0], max(hi, self.covered[-1][1]))
            else:
                self.covered.append((lo, hi))

    def covered_in(self, lo: int, hi: int) -> int:
        """Offsets of [lo, hi) inside what was read whole."""
        return sum(max(0, min(hi, b) - max(lo, a)) for a, b in self.covered)

    def complete(self, lo: int, hi: int) -> bool:
        """Every batch of [lo, hi) was read."""
        return hi <= lo or self.covered_in(lo, hi) >= hi - lo

    def end_of_cover(self, at: int) -> int:
        """Where the range read whole that holds `at` ends (`at` when none holds it)."""
        return next((b for a, b in self.covered if a <= at < b), at)

    def in_range(self, lo: int, hi: int) -> list[Batch]:
        return [b for b in self.batches.values() if lo <= b.base_offset < hi]

    def first_at(self, ts_ms: int, end: int) -> int:
        """The first offset whose batch holds a record time >= ts_ms (`end` when none
        does), from the batches read: what Apache Kafka's time index answers, for a
        partition read whole."""
        for base in sorted(self.batches):
            if self.batches[base].max_ts >= ts_ms:
                return base
        return end

    def batch_start(self, offset: int) -> int:
        """The base offset of the batch read that holds `offset` (else `offset`): Apache
        Kafka answers ListOffsets at record granularity, and a range measured from inside
        a batch would count its records but not its bytes."""
        for b in self.batches.values():
            if b.base_offset < offset <= b.last_offset:
                return b.base_offset
        return offset


@dataclass(frozen=True)
class ReadStats:
    fetches: int
    """Fetch requests sent."""
    bytes_read: int
    """Log bytes received."""


async def read_log(conn: KafkaConnection,
                   logs: Mapping[TopicPartition, tuple[int, int]],
                   marks: Mapping[TopicPartition, Iterable[int]] | None = None,
                   *, budget: int = DEFAULT_BUDGET) -> tuple[dict[TopicPartition, LogRead],
                                                              ReadStats]:
    """Batches of each partition's [start, end): read from start within its share of
    `budget`, then sampled (at `marks`, e.g. window starts, and spread evenly) where the
    share did not reach the end."""
    wanted = {tp: se for tp, se in logs.items() if se[1] > se[0]}
    reads = {tp: LogRead() for tp in logs}
    if not wanted:
        return reads, ReadStats(0, 0)
    share = max(min(MIN_SHARE, budget), min(MAX_SHARE, budget // max(len(wanted), 1)))
    fetches = 0
    got = 0

    async def fetch(points: dict[TopicPartition, list[tuple[int, int]]]) -> None:
        nonlocal fetches, got
        from kafkaops.core.kafka.wire_fetch import LagFetch

        async def ask(node: int, tps: list[TopicPartition]) -> dict[TopicPartition, bytes]:
            nonlocal fetches
            topics: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            for tp in tps:
                offset, size = points[tp][0]
                topics[tp.topic].append((tp.partition, offset, size))
            fetches += 1
            resp = await conn.client.send(node, LagFetch(FETCH_WAIT_MS, 1, FETCH_MAX_BYTES,
                                                         list(topics.items())))
            out: dict[TopicPartition, bytes] = {}
            for topic, parts in resp.topics:
                for partition, error, _hw, _start, records in parts:
                    if error == 0:
                        out[TopicPartition(topic, partition)] = bytes(records)
            return out

        # one offset per partition per request: a Fetch names each partition once
        while points:
            answers: dict[TopicPartition, bytes] = await per_leader(conn, list(points), ask)
            retry: dict[TopicPartition, list[tuple[int, int]]] = {}
            unserved: dict[TopicPartition, list[tuple[int, int]]] = {}
            for tp, raw in answers.items():
                got += len(raw)
                if not raw and points[tp][0][0] < wanted[tp][1]:
                    unserved[tp] = [points[tp][0]]  # not answered this time (see FETCH_WAIT_MS)
                    continue
                found = read_batches(raw)
                reads[tp].add(found)
                need = cut_batch_size(raw) if not found else None
                if need is not None and points[tp][0][1] < need <= MAX_BATCH:
                    retry[tp] = [(points[tp][0][0], need)]
            if len(unserved) < len(answers):  # the round served someone: ask the rest again
                retry.update(unserved)
            points = {tp: rest[1:] for tp, rest in points.items() if len(rest) > 1}
            for tp, again in retry.items():
                points[tp] = again + points.get(tp, [])

    await fetch({tp: [(se[0], share)] for tp, se in wanted.items()})
    more: dict[TopicPartition, list[tuple[int, int]]] = {}
    for tp, (start, end) in wanted.items():
        r = reads[tp]
        lo = r.end_of_cover(start)
        if lo >= end:
            continue
        spots = {lo + (end - lo) * i // SAMPLES for i in range(SAMPLES)}
        spots |= {m for m in (marks or {}).get(tp, ()) if lo < m < end}
        more[tp] = [(o, SAMPLE_BYTES) for o in sorted(spots)]
    # a sample inside what an earlier sample already read whole is not fetched again
    while more:
        now = {tp: [pts[0]] for tp, pts in more.items()}
        await fetch(now)
        more = {tp: [p for p in pts[1:] if not reads[tp].complete(p[0], p[0] + 1)]
                for tp, pts in more.items()}
        more = {tp: pts for tp, pts in more.items() if pts}
    return reads, ReadStats(fetches, got)


def cut_batch_size(raw: bytes) -> int | None:
    """The size of the first batch when the fetched bytes hold only part of it (a batch
    bigger than the partition's share: Kafka returns a whole oversized batch only for the
    first partition of an answer), else None."""
    if len(raw) < 12:
        return None
    size = 12 + int.from_bytes(raw[8:12], "big", signed=True)
    return size if size > len(raw) else None
