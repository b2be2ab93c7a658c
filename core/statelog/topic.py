"""A compare-and-set log kept on partition 0 of one topic, folded on demand.

`Follower` folds the partition from where it left off up to its end now (what every replica
has written so far), minding a log start moved by retention and reads that stop short.
`CasTopic` adds the writer's side: `put` a record (acknowledged by the broker), or
`propose` one and read the log back past it to learn whether it won. Used by pending
confirmations and the request ledger (kafkaops.core.confirmations); the flags' live reader
(kafkaops.core.flags.store) follows its topic continuously instead, with the same fold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.topicio import (
    RawRecord,
    Writer,
    ensure_topics,
    partitions_of,
    read_records,
)
from kafkaops.core.records import TopicPartition
from kafkaops.core.statelog.fold import CasFold, Decision, Invalid, Proposal
from kafkaops.core.statelog.outcomes import Outcomes

if TYPE_CHECKING:
    from kafkaops.core.services import Services

S = TypeVar("S")

#: reads one record as a write of the log: (key, the write or why it is not one); None for a
#: record that belongs to no key (no key, or one that is not text)
Reader = Callable[[RawRecord], "tuple[str, Proposal[S] | Invalid] | None"]


class Follower:
    """Folds partition 0 of a topic on one cluster, from where it left off to its end."""

    def __init__(self, services: Services, cluster: str, topic: str) -> None:
        self.services = services
        self.cluster = cluster
        self.tp = TopicPartition(topic, 0)
        self.next = 0  # next offset to fold
        self._lock = asyncio.Lock()

    async def catch_up(self, apply: Callable[[RawRecord], object]) -> None:
        async with self._lock:
            conn = await self.services.connection(self.cluster)
            if self.tp.topic not in await partitions_of(conn, [self.tp.topic]):
                return
            start, end = (await conn.high_watermarks([self.tp])).get(self.tp, (0, 0))
            if self.next < start:
                self.next = start  # older records were removed by retention
            if end <= self.next:
                return
            got, incomplete = await read_records(conn, {self.tp: (self.next, end)})
            for r in got[self.tp]:
                if r.offset < self.next:  # never fold a record twice, nor out of order
                    continue
                apply(r)
                self.next = r.offset + 1
            if incomplete:
                raise KafkaOpsError(
                    f"could not read {self.tp.topic} on cluster {self.cluster!r} to its "
                    "end in time; nothing was done, try again",
                    retriable=True,
                )
            self.next = max(self.next, end)


class CasTopic(Generic[S]):
    """One cluster's compare-and-set log on `topic` (created with `config` when missing).

    Keeps one producer for its writes, closed with the services."""

    def __init__(
        self,
        services: Services,
        cluster: str,
        topic: str,
        config: Mapping[str, str],
        read: Reader[S],
        fold: CasFold[S],
    ) -> None:
        self.services = services
        self.cluster = cluster
        self.topic = topic
        self.config = dict(config)
        self.read = read
        self.fold = fold
        self.outcomes: Outcomes[Decision[S]] = Outcomes()
        #: called with each decision the fold makes (after it is made)
        self.listeners: list[Callable[[Decision[S]], object]] = []
        self._follower = Follower(services, cluster, topic)
        self._ready = False
        self._writer: Writer | None = None
        self._writer_lock = asyncio.Lock()

    @property
    def next_offset(self) -> int:
        """Offset of the next record to fold."""
        return self._follower.next

    async def catch_up(self) -> None:
        """Fold the topic up to its end now."""
        await self._follower.catch_up(self._apply)

    def _apply(self, r: RawRecord) -> None:
        got = self.read(r)
        if got is None:
            return
        decision = self.fold.apply(r.offset, *got)
        for listener in self.listeners:
            listener(decision)
        self.outcomes.settle(decision.write_id, decision)

    async def put(self, key: str, value: bytes) -> int:
        """Write one record; returns its offset once the broker acknowledged it."""
        conn = await self.services.connection(self.cluster)
        if not self._ready:
            await ensure_topics(conn, {self.topic: (1, self.config)})
            self._ready = True
        async with self._writer_lock:
            writer = self._writer
            if writer is None or writer.conn is not conn:
                if writer is not None:
                    await writer.stop()
                writer = Writer(conn)
                await writer.start()
                if self._writer is None:
                    self.services.on_close(self.close)
                self._writer = writer
        try:
            (offset,) = await writer.send(self.topic, [(key.encode("utf-8"), value)],
                                          partition=0)
        except BaseException:
            if self._writer is writer:  # the next write starts a fresh producer
                self._writer = None
                self._ready = False
                await writer.stop()
            raise
        return offset

    async def propose(self, key: str, value: bytes, write_id: str, *, unknown: str = ""
                      ) -> Decision[S]:
        """Write a record carrying `write_id` and read the log back past it: the fold's
        decision on it (applied: this write won). KafkaOpsError when the record was
        written but not read back: its outcome is unknown (`unknown`: where to look)."""
        fut = self.outcomes.expect(write_id)
        try:
            offset = await self.put(key, value)
            if self.next_offset <= offset:
                await self.catch_up()
        finally:
            self.outcomes.forget(write_id)
        if not fut.done() or fut.cancelled():
            raise KafkaOpsError(
                f"wrote to {self.topic} on cluster {self.cluster!r} but did not read the "
                "write back; the outcome is unknown" + (f", {unknown}" if unknown else ""),
                retriable=True)
        return fut.result()

    async def close(self) -> None:
        """Stop the producer (the services do this when they close)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.stop()
