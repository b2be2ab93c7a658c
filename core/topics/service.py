"""Clusters and topics: the overview, the topic list and one topic's detail.

`TopicService` reads through a started `KafkaConnection`. Metadata, offsets and configs are
fetched with a handful of batched requests, whatever the number of topics.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kafkaops.core.errors import KafkaOpsError, NotFound, Refused, UsageError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import (
    SUMMARY_CONFIGS,
    ClusterOverview,
    ConfigEntry,
    TopicDetail,
    TopicMetadata,
    TopicPartition,
    TopicSummary,
)

# DescribeConfigs `config_source` codes (KIP-226)
_CONFIG_SOURCES = {
    1: "topic",
    2: "broker (dynamic)",
    3: "cluster default (dynamic)",
    4: "broker (static)",
    5: "default",
    6: "logger",
}


@dataclass(frozen=True)
class NewTopicSpec:
    """A topic to create."""

    name: str
    """Topic name."""
    partitions: int = 1
    """Partition count."""
    replication_factor: int = 1
    """Replicas per partition."""
    configs: Mapping[str, str] | None = None
    """Topic configs, e.g. {"cleanup.policy": "compact"}."""


def _summary(
    topic: TopicMetadata,
    water: Mapping[TopicPartition, tuple[int, int]],
    configs: Iterable[ConfigEntry],
) -> TopicSummary:
    by_name = {c.name: c.value for c in configs}
    parts = topic.partitions
    ends = [water.get(TopicPartition(topic.name, p.partition)) for p in parts]
    known = [e for e in ends if e is not None]
    return TopicSummary(
        name=topic.name,
        partitions=len(parts),
        replication_factor=max((len(p.replicas) for p in parts), default=0),
        internal=topic.internal,
        end_offsets_total=sum(e for _, e in known) if known else None,
        messages=sum(max(e - s, 0) for s, e in known) if known else None,
        retention_ms=by_name.get("retention.ms"),
        cleanup_policy=by_name.get("cleanup.policy"),
        compression=by_name.get("compression.type"),
        offline_partitions=sum(1 for p in parts if p.leader is None),
        under_replicated=sum(1 for p in parts if len(p.isr) < len(p.replicas)),
    )


class TopicService:
    def __init__(self, conn: KafkaConnection) -> None:
        self.conn = conn

    async def overview(self) -> ClusterOverview:
        meta = await self.conn.metadata()
        parts = [p for t in meta.topics.values() for p in t.partitions]
        return ClusterOverview(
            name=self.conn.name,
            bootstrap_servers=self.conn.config.bootstrap_servers,
            cluster_id=meta.cluster_id,
            controller_id=meta.controller_id,
            brokers=meta.brokers,
            topic_count=len(meta.topics),
            internal_topic_count=sum(1 for t in meta.topics.values() if t.internal),
            partition_count=len(parts),
            offline_partitions=sum(1 for p in parts if p.leader is None),
            under_replicated_partitions=sum(1 for p in parts if len(p.isr) < len(p.replicas)),
            read_only=self.conn.config.read_only,
        )

    async def list_topics(self, *, offsets: bool = True) -> list[TopicSummary]:
        """Every topic with its partition count, configs shown as columns and end offsets."""
        meta = await self.conn.metadata()
        topics = sorted(meta.topics.values(), key=lambda t: t.name)
        tps = [TopicPartition(t.name, p.partition) for t in topics for p in t.partitions]
        water, configs = await asyncio.gather(
            self.conn.high_watermarks(tps) if offsets and tps else _none(),
            self.configs([t.name for t in topics], SUMMARY_CONFIGS),
        )
        return [_summary(t, water or {}, configs.get(t.name, ())) for t in topics]

    async def topic_detail(self, topic: str) -> TopicDetail:
        meta = await self.conn.metadata([topic])
        if topic not in meta.topics:
            raise NotFound(f"topic {topic!r} not found on cluster {self.conn.name!r}")
        tmeta = meta.topics[topic]
        tps = [TopicPartition(topic, p.partition) for p in tmeta.partitions]
        water, configs = await asyncio.gather(
            self.conn.high_watermarks(tps), self.configs([topic], None)
        )
        rows = tuple(
            dataclasses.replace(
                p,
                earliest=water.get(TopicPartition(topic, p.partition), (None, None))[0],
                latest=water.get(TopicPartition(topic, p.partition), (None, None))[1],
            )
            for p in tmeta.partitions
        )
        entries = configs.get(topic, ())
        return TopicDetail(_summary(tmeta, water, entries), rows, tuple(entries))

    async def configs(
        self, topics: list[str], names: Iterable[str] | None
    ) -> dict[str, tuple[ConfigEntry, ...]]:
        """Configs the broker reports per topic, in one DescribeConfigs request.

        Tansu gaps (docs/broker-notes.md): only configs set explicitly at creation are reported,
        none of the defaults, and a request that names the configs it wants closes the
        connection. So we ask for all of a topic's configs (valid on Apache Kafka too),
        keep the wanted ones here, and never make a default up.
        """
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        if not topics:
            return {}
        wanted = set(names) if names is not None else None
        resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        with map_kafka_errors(self.conn):
            responses = await self.conn.admin.describe_configs(resources)
        out: dict[str, tuple[ConfigEntry, ...]] = {}
        for resp in responses:
            for res in resp.to_object()["resources"]:
                rows = []
                for entry in res["config_entries"]:
                    key = entry["config_names"]
                    if wanted is not None and key not in wanted:
                        continue
                    source = _CONFIG_SOURCES.get(entry.get("config_source", 1), "topic")
                    value = None if entry.get("is_sensitive") else entry["config_value"]
                    rows.append(ConfigEntry(key, value, source))
                out[res["resource_name"]] = tuple(sorted(rows, key=lambda c: c.name))
        return out

    # ------------------------------------------------------------ changes

    async def create_topics(self, specs: Iterable[NewTopicSpec], *, exist_ok: bool = True) -> None:
        """Create topics (used by the demo and by kafkaops' own control topics)."""
        from aiokafka.admin import NewTopic

        if self.conn.config.read_only:
            raise Refused(f"cluster {self.conn.name!r} is read-only; not creating topics")
        new = [
            NewTopic(
                s.name, s.partitions, s.replication_factor, topic_configs=dict(s.configs or {})
            )
            for s in specs
        ]
        if not new:
            return
        with map_kafka_errors(self.conn, doing="create topics"):
            resp = await self.conn.admin.create_topics(new)
        for item in resp.topic_errors:
            name, code = item[0], item[1]
            if code == 36 and exist_ok:  # TOPIC_ALREADY_EXISTS
                continue
            if code != 0:
                msg = item[2] if len(item) > 2 and item[2] else f"error code {code}"
                if code == 37:
                    raise UsageError(f"cannot create topic {name!r}: invalid partitions ({msg})")
                raise KafkaOpsError(f"cannot create topic {name!r}: {msg}")


async def _none() -> None:
    return None
