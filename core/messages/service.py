"""Messages on a topic: `MessageService(conn)` checks a topic and its partitions, resolves
start positions to offsets (an offset, N back from the end, a point in time: bisected by
reading records where the broker cannot say), reads ranges (`read`, `scan`) and opens a
`Tail` (core/messages/tail.py). Readers use a consumer with no group that commits nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from kafkaops.core.errors import KafkaOpsError, NotFound, UsageError
from kafkaops.core.expr.filter import Filter
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import LATEST, KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.messages.model import Message, StartAt, to_message
from kafkaops.core.messages.tail import RingBuffer, Tail
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.schema.decoder import SchemaDecoder


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
