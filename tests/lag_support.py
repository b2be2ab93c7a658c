"""Test data for consumer lag, made and read with real aiokafka clients (never with the code
under test): topics with known records and timestamps written in multi-record batches,
groups stopped at known committed offsets, and live groups whose members commit on cue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AkTP

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService

from .conftest import unique

STEP_MS = 1000
"""Record k of a partition has timestamp base + k * STEP_MS."""


@dataclass(frozen=True)
class LagTopic:
    name: str
    """Topic name."""
    counts: dict[int, int]
    """Records per partition (the true log end offsets)."""
    base_ms: int
    """Timestamp of record 0 of every partition."""

    def ts(self, k: int) -> int:
        """Timestamp (ms) of the record at offset k."""
        return self.base_ms + k * STEP_MS


async def make_topic(bootstrap: str, counts: dict[int, int], *, partitions: int | None = None,
                     compression: str | None = None, age_s: int = 3600) -> LagTopic:
    """Create a topic and write counts[p] records to partition p, all sent before any is
    awaited with linger, so they travel in multi-record batches (Tansu's ListOffsets then
    answers short of the end: the engine must not be fooled)."""
    name = unique("lag")
    async with KafkaConnection("setup", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics(
            [NewTopicSpec(name, partitions or max(counts) + 1)])
    base = (int(time.time()) - age_s) * 1000
    await produce_more(bootstrap, LagTopic(name, counts, base), counts, start={},
                       compression=compression)
    return LagTopic(name, dict(counts), base)


async def produce_more(bootstrap: str, topic: LagTopic, counts: dict[int, int], *,
                       start: dict[int, int] | None = None,
                       compression: str | None = None) -> None:
    """Append counts[p] records to partition p, record k stamped topic.ts(k)."""
    start = topic.counts if start is None else start
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=100,
                                compression_type=compression)
    await producer.start()
    try:
        futures = []
        for p, n in counts.items():
            first = start.get(p, 0)
            for k in range(first, first + n):
                futures.append(await producer.send(
                    topic.name, f"r{k}".encode(), partition=p, timestamp_ms=topic.ts(k)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def stopped_group(bootstrap: str, topic: str, offsets: dict[int, int]) -> str:
    """A new group whose committed offsets are `offsets` and that has no members: a real
    consumer commits them on manually assigned partitions (never joining) and closes."""
    group = unique("grp")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([AkTP(topic, p) for p in offsets])
        await consumer.commit({AkTP(topic, p): off for p, off in offsets.items()})
    finally:
        await consumer.stop()
    return group


class LiveGroup:
    """A group with a member: a consumer subscribed to the topic that never commits on its
    own; `commit()` commits what the test says."""

    def __init__(self, consumer: AIOKafkaConsumer, group: str, topic: str) -> None:
        self.consumer = consumer
        self.group = group
        self.topic = topic

    async def commit(self, offsets: dict[int, int]) -> None:
        await self.consumer.commit(
            {AkTP(self.topic, p): off for p, off in offsets.items()})


@asynccontextmanager
async def live_group(bootstrap: str, topic: str, offsets: dict[int, int] | None = None,
                     ) -> AsyncIterator[LiveGroup]:
    group = unique("live")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                session_timeout_ms=10_000, heartbeat_interval_ms=500)
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise AssertionError(f"{group} got no partitions of {topic} within 30 s")
            await consumer.getmany(timeout_ms=200, max_records=1)
        live = LiveGroup(consumer, group, topic)
        if offsets:
            await live.commit(offsets)
        yield live
    finally:
        await leave(bootstrap, consumer, group)


async def leave(bootstrap: str, consumer: AIOKafkaConsumer, group: str) -> None:
    """Stop a consumer so that it leaves its group, as Java and librdkafka clients do.

    Tansu gaps: its generations start at 0 and aiokafka sends LeaveGroup only above 0, and
    Tansu never expires a member whose heartbeats stopped. So send LeaveGroup ourselves when
    aiokafka skipped it (reading aiokafka's coordinator state, read only).
    """
    from aiokafka import AIOKafkaClient
    from aiokafka.protocol.group import LeaveGroupRequest

    coordinator = getattr(consumer, "_coordinator", None)
    generation = getattr(coordinator, "generation", None)
    member_id = getattr(coordinator, "member_id", "")
    node_id = getattr(coordinator, "coordinator_id", None)
    await consumer.stop()
    if generation == 0 and member_id and node_id is not None:
        client = AIOKafkaClient(bootstrap_servers=bootstrap)
        try:
            await client.bootstrap()
            await client.send(node_id, LeaveGroupRequest(group, member_id))
        finally:
            await client.close()
