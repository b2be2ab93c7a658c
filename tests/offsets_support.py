"""Test data for offset resets: a topic with known records and groups stopped at known
committed offsets, made and read with real aiokafka clients (not with the code under test).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AkTP

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService

from .conftest import unique

RECORDS = 30
"""Records in partitions 0 and 1 (partition 2 stays empty)."""
STEP_MS = 60_000
"""Record k of a partition has timestamp base + k * STEP_MS."""


@dataclass(frozen=True)
class KnownTopic:
    name: str
    """Topic name: 3 partitions; 0 and 1 hold RECORDS records each, 2 is empty."""
    base_ms: int
    """Timestamp of record 0 of partitions 0 and 1."""

    def ts(self, k: float) -> int:
        """Timestamp of record k (fractions fall between two records)."""
        return self.base_ms + int(k * STEP_MS)


async def make_known_topic(bootstrap: str) -> KnownTopic:
    """Create the topic and produce in batches of 10 with linger, with explicit timestamps,
    so Tansu's ListOffsets(latest) gap (21 instead of 30) would show if it were used."""
    name = unique("reset")
    async with KafkaConnection("setup", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec(name, 3)])
    base = (int(time.time()) - 7200) * 1000
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for partition in (0, 1):
            for batch in range(RECORDS // 10):
                futures = [
                    await producer.send(
                        name, f"r{k}".encode(), partition=partition,
                        timestamp_ms=base + k * STEP_MS,
                    )
                    for k in range(batch * 10, batch * 10 + 10)
                ]
                await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return KnownTopic(name, base)


async def stopped_group(bootstrap: str, topic: str, offsets: dict[int, int]) -> str:
    """A new group whose committed offsets are `offsets`, with no members: a real consumer
    commits them with manually assigned partitions (it never joins) and is closed."""
    group = unique("grp")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([AkTP(topic, p) for p in offsets])
        await consumer.commit({AkTP(topic, p): off for p, off in offsets.items()})
    finally:
        await consumer.stop()
    return group


async def commit_as_consumer(bootstrap: str, group: str, topic: str, offsets: dict[int, int]
                             ) -> None:
    """Commit offsets for an existing group, as its own (stopped) consumer would."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([AkTP(topic, p) for p in offsets])
        await consumer.commit({AkTP(topic, p): off for p, off in offsets.items()})
    finally:
        await consumer.stop()


async def read_committed(
    bootstrap: str, group: str, topic: str, partitions: tuple[int, ...] = (0, 1, 2)
) -> dict[int, int | None]:
    """The group's committed offsets as a plain consumer sees them (None: no offset)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {p: await consumer.committed(AkTP(topic, p)) for p in partitions}
    finally:
        await consumer.stop()


async def joined_consumer(bootstrap: str, group: str, topic: str, client_id: str
                          ) -> AIOKafkaConsumer:
    """A consumer that subscribed and holds an assignment: an active member. The caller
    stops it."""
    # Tansu completes a join after half the session timeout (5 s with the default 10 s);
    # a short one keeps the test fast. The running consumer heartbeats, so it stays a member.
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        session_timeout_ms=2000, heartbeat_interval_ms=300,
    )
    await consumer.start()
    deadline = time.monotonic() + 20
    while not consumer.assignment():
        if time.monotonic() > deadline:
            await consumer.stop()
            raise AssertionError("the consumer did not get an assignment within 20 s")
        await consumer.getmany(timeout_ms=200)
    return consumer
