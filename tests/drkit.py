"""Shared set-up for the DR tests: a pair with its own MM2 aliases on the two embedded
clusters, a topic with records, consumer groups at known offsets, and the demo replicator.

The brokers are shared by the whole session, so every world uses fresh aliases (MM2's keys
and internal topic names carry them), fresh topics and fresh groups.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.config import Config, parse_config
from kafkaops.core.dr.mm2_formats import (
    Checkpoint,
    Heartbeat,
    OffsetSync,
    encode_checkpoint,
    encode_heartbeat,
    encode_offset_sync,
)
from kafkaops.core.kafka.groups import commit_offsets
from kafkaops.core.kafka.topicio import COMPACTED, Writer, ensure_topics
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services
from kafkaops.demo.replicator import DemoReplicator


def tag() -> str:
    return uuid.uuid4().hex[:8]


def dr_config(
    config_data: Mapping[str, Any], *pairs: Mapping[str, Any],
    clusters: Mapping[str, Any] | None = None,
) -> Config:
    data = {**config_data, "dr": {"pairs": list(pairs)}}
    if clusters:
        data["clusters"] = {**config_data["clusters"], **clusters}
    return parse_config(data, "<dr test config>")


def pair(name: str, east: str, west: str, groups: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "primary": "primary", "secondary": "dr", "primary_alias": east,
            "secondary_alias": west, "groups": list(groups), **extra}


async def produce_to(
    services: Services, cluster: str, topic: str, partition: int, count: int, *,
    timestamp_ms: int | None = None, prefix: bytes = b"r",
) -> list[int]:
    conn = await services.connection(cluster)
    async with Writer(conn) as w:
        return await w.send(
            topic,
            [(None, prefix + str(i).encode(), timestamp_ms, ()) for i in range(count)],
            partition=partition,
        )


async def create_topic(services: Services, cluster: str, topic: str, partitions: int) -> None:
    await ensure_topics(await services.connection(cluster), {topic: (partitions, {})})


async def committed_by_consumer(
    bootstrap: str, group: str, tps: Sequence[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """Committed offsets as a real consumer of the group sees them (`committed()`)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AkTP

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: await consumer.committed(AkTP(tp.topic, tp.partition)) for tp in tps}
    finally:
        await consumer.stop()


@dataclass
class World:
    """One pair on the embedded clusters: topic `topic` (2 partitions: 20 and 5 records)
    replicated east -> west; groups committed at 15 / 5 on the primary."""

    config: Config
    services: Services
    name: str
    east: str
    west: str
    topic: str
    groups: list[str]
    tag: str = ""
    replicator: DemoReplicator | None = None
    pair_data: dict[str, Any] | None = None

    def config_data(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """YAML data of this world's config (for a config file the CLI reads)."""
        return {**base, "dr": {"pairs": [self.pair_data]}}

    @property
    def remote(self) -> str:
        return f"{self.east}.{self.topic}"

    def tps(self, topic: str | None = None) -> list[TopicPartition]:
        return [TopicPartition(topic or self.topic, p) for p in (0, 1)]


async def make_world(
    config_data: Mapping[str, Any], *, groups: int = 1, offsets: Sequence[int] = (15, 5),
    offset_lag_max: int = 5, replicate: bool = True, heartbeats: bool = True,
    rpo: str = "60s", **pair_extra: Any,
) -> World:
    t = tag()
    east, west = f"east-{t}", f"west-{t}"
    name = f"pair-{t}"
    topic = f"orders-{t}"
    group_names = [f"g{i}-{t}" for i in range(groups)]
    pair_data = pair(name, east, west, [f"g*-{t}"], rpo=rpo, **pair_extra)
    config = dr_config(config_data, pair_data)
    services = Services(config)
    await create_topic(services, "primary", topic, 2)
    await produce_to(services, "primary", topic, 0, 20)
    await produce_to(services, "primary", topic, 1, 5)
    conn = await services.connection("primary")
    for g in group_names:
        await commit_offsets(conn, g, {TopicPartition(topic, 0): offsets[0],
                                       TopicPartition(topic, 1): offsets[1]})
    world = World(config, services, name, east, west, topic, group_names, t,
                  pair_data=pair_data)
    if replicate:
        rep = DemoReplicator(services, name, topics=[topic], offset_lag_max=offset_lag_max,
                             replicate_heartbeats=heartbeats)
        await rep.start(background=False)
        await rep.sync_now(heartbeats=heartbeats)
        world.replicator = rep
    return world


async def close_world(world: World) -> None:
    if world.replicator is not None:
        await world.replicator.stop()
    await world.services.close()


async def write_heartbeats(
    services: Services, cluster: str, topic: str, beats: Sequence[Heartbeat]
) -> None:
    conn = await services.connection(cluster)
    await ensure_topics(conn, {topic: (1, COMPACTED)})
    async with Writer(conn) as w:
        await w.send(topic, [(*encode_heartbeat(h), h.timestamp, ()) for h in beats])


async def write_checkpoints(
    services: Services, cluster: str, topic: str, cps: Sequence[tuple[Checkpoint, int]]
) -> None:
    conn = await services.connection(cluster)
    await ensure_topics(conn, {topic: (1, COMPACTED)})
    async with Writer(conn) as w:
        await w.send(topic, [(*encode_checkpoint(c), ts, ()) for c, ts in cps])


async def write_syncs(
    services: Services, cluster: str, topic: str, syncs: Sequence[OffsetSync]
) -> None:
    conn = await services.connection(cluster)
    await ensure_topics(conn, {topic: (1, COMPACTED)})
    async with Writer(conn) as w:
        await w.send(topic, [encode_offset_sync(s) for s in syncs])


def now_ms() -> int:
    return int(time.time() * 1000)


async def wait_for(predicate: Any, *, within: float = 20.0, every: float = 0.1) -> Any:
    """Poll an async predicate until it returns something truthy (or fail at the deadline)."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {within}s (last: {last!r})")
