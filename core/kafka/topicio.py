"""Generic topic I/O on one cluster, with short-lived clients from core/kafka/clients.py:

- `read_records`: records of chosen partitions between two offsets, with one short-lived
  consumer (no group, nothing committed); `read_partition`: one partition up to its end now;
- `record_timestamps`: the timestamp of the record at an offset (for lag in seconds);
- `partitions_of`: partition counts of existing topics;
- `Writer`: a producer that waits for every acknowledgement;
- `ensure_topics`: create the topics that do not exist yet and wait until metadata shows
  them.

Readers of MirrorMaker 2's topics are in core/dr/mm2_io.py; a group's committed offsets,
read and written from outside the group, in core/kafka/groups.py.

Tansu gap handled here: end offsets come from
`KafkaConnection.high_watermarks` (ListOffsets(latest) is short after batched produces),
which is also right on Apache Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.errors import KafkaOpsError, NotFound
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition

#: how long a read of an internal topic may take before it reports what it has
READ_TIMEOUT = 15.0


@dataclass(frozen=True)
class RawRecord:
    """One record as read, bytes untouched."""

    offset: int
    """Offset in its partition."""
    timestamp: int
    """Record timestamp, ms since the epoch."""
    key: bytes | None
    """Key bytes."""
    value: bytes | None
    """Value bytes; None for a tombstone."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Record headers."""


@dataclass(frozen=True)
class TopicRead:
    """What reading one partition of an internal topic found."""

    topic: str
    """Topic read."""
    exists: bool
    """False when the topic does not exist on the cluster."""
    end_offset: int = 0
    """Its true end offset when read."""
    complete: bool = True
    """False when the read stopped at the deadline before the end."""
    skipped: int = 0
    """Records that did not decode (MM2 skips them too)."""


def _consumer(conn: KafkaConnection, **extra: Any) -> Any:
    """A short-lived reader's consumer context: no group, nothing committed."""
    opts: dict[str, Any] = dict(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    opts.update(extra)
    return clients.consumer(conn, **opts)


async def partitions_of(conn: KafkaConnection, topics: Iterable[str]) -> dict[str, int]:
    """Partition counts of the topics that exist (the others are left out). Also refreshes
    the connection's view of their leaders, which `high_watermarks` needs."""
    names = sorted(set(topics))
    if not names:
        return {}
    meta = await conn.metadata(names)
    return {n: len(meta.topics[n].partitions) for n in names if n in meta.topics}


async def read_records(
    conn: KafkaConnection,
    ranges: Mapping[TopicPartition, tuple[int, int]],
    *,
    wait: float = READ_TIMEOUT,
    limit: int | None = None,
) -> tuple[dict[TopicPartition, list[RawRecord]], set[TopicPartition]]:
    """Records of each partition from `start` up to (not including) `end`, waiting at most
    `wait` seconds.

    Returns the records and the partitions whose read did not reach `end` by the deadline.
    A start below the log start reads from the log start. With `limit`, a partition is done
    once it has that many records.
    """
    from aiokafka.structs import TopicPartition as AkTP

    wanted = {tp: (s, e) for tp, (s, e) in ranges.items() if e > s}
    out: dict[TopicPartition, list[RawRecord]] = {tp: [] for tp in ranges}
    if not wanted:
        return out, set()
    async with _consumer(conn) as consumer:
        with map_kafka_errors(conn):
            aks = {AkTP(tp.topic, tp.partition): tp for tp in wanted}
            consumer.assign(list(aks))
            for ak, tp in aks.items():
                consumer.seek(ak, wanted[tp][0])
            pending = set(aks)
            deadline = time.monotonic() + wait
            while pending and time.monotonic() < deadline:
                batch = await consumer.getmany(*pending, timeout_ms=200)
                for ak, recs in batch.items():
                    tp = aks[ak]
                    end = wanted[tp][1]
                    for r in recs:
                        if r.offset >= end:
                            break
                        out[tp].append(RawRecord(r.offset, r.timestamp, r.key, r.value,
                                                 tuple(r.headers or ())))
                for ak in list(pending):
                    full = limit is not None and len(out[aks[ak]]) >= limit
                    if full or await consumer.position(ak) >= wanted[aks[ak]][1]:
                        pending.discard(ak)
                        consumer.pause(ak)
    return out, {aks[ak] for ak in pending}


async def read_partition(
    conn: KafkaConnection, topic: str, partition: int = 0, *, tail: int | None = None,
    wait: float = READ_TIMEOUT,
) -> tuple[list[RawRecord], TopicRead]:
    """All records of one partition (or its last `tail` offsets) up to its end now."""
    counts = await partitions_of(conn, [topic])
    if topic not in counts:
        return [], TopicRead(topic, exists=False)
    tp = TopicPartition(topic, partition)
    water = await conn.high_watermarks([tp])
    start, end = water.get(tp, (0, 0))
    if tail is not None:
        start = max(start, end - tail)
    records, incomplete = await read_records(conn, {tp: (start, end)}, wait=wait)
    return records[tp], TopicRead(topic, True, end, complete=not incomplete)


async def record_timestamps(
    conn: KafkaConnection, positions: Mapping[TopicPartition, int], *, wait: float = 5.0
) -> dict[TopicPartition, int]:
    """Timestamp (ms) of the record at each offset (or the first after it, if that one is
    gone); partitions with nothing there are left out."""
    wanted = {tp: off for tp, off in positions.items() if off >= 0}
    if not wanted:
        return {}
    # a record missing at exactly `off` (compaction, a transaction marker) is looked for
    # further on, up to the partition's end
    water = await conn.high_watermarks(list(wanted))
    ranges = {tp: (off, water[tp][1]) for tp, off in wanted.items() if tp in water}
    records, _ = await read_records(conn, ranges, wait=wait, limit=1)
    return {tp: recs[0].timestamp for tp, recs in records.items() if recs}


# ---------------------------------------------------------------- writing


class Writer:
    """A producer for one cluster that waits for every acknowledgement (acks=all)."""

    def __init__(self, conn: KafkaConnection) -> None:
        self.conn = conn
        self._producer: Any = None
        self._stack: contextlib.AsyncExitStack | None = None

    async def start(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            self._producer = await stack.enter_async_context(
                clients.producer(self.conn, acks="all", linger_ms=5))
            self._stack = stack.pop_all()

    async def stop(self) -> None:
        stack, self._stack, self._producer = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> Writer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(
        self,
        topic: str,
        records: Sequence[tuple[bytes | None, bytes | None]]
        | Sequence[tuple[bytes | None, bytes | None, int | None, Sequence[tuple[str, bytes]]]],
        *,
        partition: int | None = 0,
    ) -> list[int]:
        """Produce (key, value[, timestamp_ms, headers]) records in order to one partition
        and wait for all of them; returns their offsets."""
        if self._producer is None:
            raise RuntimeError("Writer used before start()")
        with map_kafka_errors(self.conn, doing=f"write to {topic!r}"):
            futures = []
            for rec in records:
                key, value = rec[0], rec[1]
                ts = rec[2] if len(rec) > 2 else None
                headers = list(rec[3]) if len(rec) > 3 else None
                futures.append(
                    await self._producer.send(
                        topic, value, key=key, partition=partition, timestamp_ms=ts,
                        headers=headers,
                    )
                )
            # the producer's own expiry does not cover every stall (a broker frozen with
            # the request in flight, a starved machine): never wait for acks without a bound
            limit = float(self.conn.config.request_timeout) + 5.0
            try:
                async with asyncio.timeout(limit):
                    metas = await asyncio.gather(*futures)
            except TimeoutError:
                raise KafkaOpsError(
                    f"cluster {self.conn.name!r} did not acknowledge the write to {topic!r} "
                    f"within {limit:g} s; try again", retriable=True,
                ) from None
        return [m.offset for m in metas]


async def ensure_topics(
    conn: KafkaConnection, specs: Mapping[str, tuple[int, Mapping[str, str]]]
) -> None:
    """Create the topics that do not exist yet: name -> (partitions, configs)."""
    from kafkaops.core.topics.service import NewTopicSpec, TopicService

    existing = await partitions_of(conn, specs)
    missing = [
        NewTopicSpec(name, parts, 1, dict(cfg))
        for name, (parts, cfg) in specs.items()
        if name not in existing
    ]
    if missing:
        await TopicService(conn).create_topics(missing, exist_ok=True)
        # wait until metadata knows them (and their leaders), so writes find a leader
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            have = await partitions_of(conn, [s.name for s in missing])
            if len(have) == len(missing):
                return
            await asyncio.sleep(0.05)
        raise NotFound(
            f"topics {[s.name for s in missing]} were created on cluster {conn.name!r} "
            "but do not appear in its metadata"
        )


COMPACTED = {"cleanup.policy": "compact"}
