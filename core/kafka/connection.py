"""Connections to one Kafka cluster, and the few wire-level reads aiokafka does not offer.

`KafkaConnection` owns one `AIOKafkaClient` (metadata, ListOffsets, Fetch, sent batched
per leader) and one `AIOKafkaAdminClient` (topics, configs, groups) that sends through that
same client: one bootstrap, one connection per broker. Both are created in `start()`,
inside the running loop. Nothing from aiokafka leaves core: callers get plain
dicts keyed by `TopicPartition` (core's own, in records.py) and core records.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors, unreachable
from kafkaops.core.records import (
    BrokerInfo,
    MetadataSnapshot,
    PartitionInfo,
    TopicMetadata,
    TopicPartition,
)

LATEST = -1
EARLIEST = -2


class KafkaConnection:
    """One cluster's clients. `async with KafkaConnection(name, cfg) as conn: ...`"""

    def __init__(self, name: str, cfg: ClusterConfig) -> None:
        self.name = name
        self.config = cfg
        self._client: Any = None
        self._admin: Any = None
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("KafkaConnection used before start()")
        return self._client

    @property
    def admin(self) -> Any:
        if self._admin is None:
            raise RuntimeError("KafkaConnection used before start()")
        return self._admin

    async def start(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            self._client = await stack.enter_async_context(clients.client(self))
            self._admin = clients.admin_on(self._client, self)
            self._stack = stack.pop_all()

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        self._client = self._admin = None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> KafkaConnection:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.asynccontextmanager
    async def producer(self, **options: Any) -> AsyncIterator[Any]:
        """A started aiokafka producer with this cluster's settings (and `options`), stopped
        on the way out whatever happens. It never creates a topic by asking for its
        metadata (see `clients.reader_clients`): a record for a topic deleted meanwhile fails
        instead of recreating the topic with default settings."""
        async with clients.producer(self, reader=True, **options) as producer:
            yield producer

    def any_node(self) -> int:
        """A broker to send a request to (ClusterUnreachable when none is known)."""
        node: int | None = self.client.get_random_node()
        if node is None:
            raise unreachable(self.name, self.config, "no broker known")
        return node

    async def ping(self) -> None:
        """One small request (Metadata for no topic) to any broker: ClusterUnreachable when
        it fails. Its answer is not applied to the client's view of partition leaders (an
        answer naming no topic would empty it). Callers bound the wait (core/kafka/reach.py)."""
        from aiokafka.protocol.metadata import MetadataRequest

        with map_kafka_errors(self):
            await self.client.send(self.any_node(), MetadataRequest([], False))

    # ------------------------------------------------------------ metadata

    async def metadata(self, topics: list[str] | None = None) -> MetadataSnapshot:
        """One Metadata request (all topics, or the named ones), as core's own record.

        The answer also refreshes the client's view of partition leaders.
        """
        from aiokafka.protocol.metadata import MetadataRequest

        with map_kafka_errors(self):
            resp = await self.client.send(self.any_node(), MetadataRequest(topics, False))
        self.client.cluster.update_metadata(resp)
        obj = resp.to_object()
        controller_id = obj.get("controller_id")
        brokers = tuple(
            BrokerInfo(
                b["node_id"], b["host"], b["port"], b.get("rack"), b["node_id"] == controller_id
            )
            for b in sorted(obj["brokers"], key=lambda b: b["node_id"])
        )
        out: dict[str, TopicMetadata] = {}
        for t in obj["topics"]:
            if t["error_code"] != 0:
                continue
            name = t["topic"]
            parts = tuple(
                PartitionInfo(
                    partition=p["partition"],
                    leader=p["leader"] if p["leader"] >= 0 else None,
                    replicas=tuple(p["replicas"]),
                    isr=tuple(p["isr"]),
                )
                for p in sorted(t["partitions"], key=lambda p: p["partition"])
            )
            out[name] = TopicMetadata(
                name, bool(t.get("is_internal")) or name.startswith("_"), parts
            )
        return MetadataSnapshot(obj.get("cluster_id"), controller_id, brokers, out)

    async def leaders(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[int, list[TopicPartition]]:
        """Partitions grouped by the node that leads them (partitions with no leader left out)."""
        from aiokafka.structs import TopicPartition as AkTP

        tps = list(partitions)
        # The client's view holds only the topics of the last Metadata answer (a request for
        # some topics replaces the whole view), so ask for this call's topics when one of its
        # partitions is unknown; no await comes between that answer and the lookups below.
        if any(self.client.cluster.leader_for_partition(AkTP(tp.topic, tp.partition)) is None
               for tp in tps):
            await self.metadata(sorted({tp.topic for tp in tps}))
        cluster = self.client.cluster
        by_node: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in tps:
            leader = cluster.leader_for_partition(AkTP(tp.topic, tp.partition))
            if leader is not None and leader >= 0:
                by_node[leader].append(tp)
        return by_node

    # ------------------------------------------------------------ offsets

    async def list_offsets(
        self, partitions: Iterable[TopicPartition], timestamp: int
    ) -> dict[TopicPartition, int]:
        """ListOffsets, one request per leader, sent together. -1 latest, -2 earliest,
        else the first offset whose timestamp is >= `timestamp` (ms); -1 when none is."""
        from aiokafka.protocol.offset import OffsetRequest

        by_node = await self.leaders(partitions)

        async def ask(node: int, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            topics: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for tp in tps:
                topics[tp.topic].append((tp.partition, timestamp))
            req = OffsetRequest(-1, 0, list(topics.items()))
            resp = await self.client.send(node, req)
            out: dict[TopicPartition, int] = {}
            for topic, parts in resp.topics:
                for part in parts:
                    # v1+: (partition, error_code, timestamp, offset[, leader_epoch])
                    partition, error_code, offset = part[0], part[1], part[3]
                    if error_code == 0:
                        out[TopicPartition(topic, partition)] = offset
            return out

        results = await self._per_node(by_node, ask)
        return {k: v for r in results for k, v in r.items()}

    async def high_watermarks(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, tuple[int, int]]:
        """True (log start, log end) offsets of each partition.

        Tansu gap: ListOffsets(latest) answers the base offset of the last
        record batch + 1, short of the true end whenever producers batch. The high watermark
        in a Fetch response is right on Tansu and on Apache Kafka, so: ListOffsets(latest),
        then one Fetch per leader from (that answer - 1) for every non-empty partition, with
        max_bytes=1 so almost nothing but the high watermark comes back.
        """
        from aiokafka.protocol.fetch import FetchRequest

        tps = list(partitions)
        latest, earliest = await asyncio.gather(
            self.list_offsets(tps, LATEST), self.list_offsets(tps, EARLIEST)
        )
        result: dict[TopicPartition, tuple[int, int]] = {
            tp: (earliest.get(tp, 0), latest[tp]) for tp in tps if tp in latest
        }
        nonempty = [tp for tp, end in latest.items() if end > 0]
        by_node = await self.leaders(nonempty)

        async def fetch(node: int, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            topics: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            for tp in tps:
                topics[tp.topic].append((tp.partition, max(latest[tp] - 1, 0), 1))
            req = FetchRequest(100, 1, 1, 0, list(topics.items()))
            resp = await self.client.send(node, req)
            out: dict[TopicPartition, int] = {}
            for topic, parts in resp.topics:
                for part in parts:
                    partition, error_code, highwater = part[0], part[1], part[2]
                    if error_code == 0:
                        out[TopicPartition(topic, partition)] = highwater
            return out

        for hw in await self._per_node(by_node, fetch):
            for tp, end in hw.items():
                start, listed = result[tp]
                result[tp] = (start, max(end, listed))
        return result

    async def _per_node(self, by_node: dict[int, list[TopicPartition]], fn: Any) -> list[Any]:
        with map_kafka_errors(self):
            return list(await asyncio.gather(*(fn(n, tps) for n, tps in by_node.items())))
