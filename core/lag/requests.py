"""The wire requests of a lag snapshot (steps 1 and 2 of core/lag/service.py's docstring):
partitions and leaders (Metadata), the groups (ListGroups), their coordinators
(FindCoordinator), committed offsets (OffsetFetch) and descriptions (DescribeGroups), and the
true log start and end of each partition (Fetch). Each request takes the lean form of
core/kafka/wire_*.py, or aiokafka's own where a broker is too old for it (remembered per
broker). `Requests` counts what a snapshot sent, by Kafka API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from typing import Any

from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import is_kafka_error, kafka_error, map_kafka_errors, unreachable
from kafkaops.core.kafka.wire_metadata import Topology
from kafkaops.core.lag.model import Committed, GroupInfo, GroupMember
from kafkaops.core.records import TopicPartition

#: groups per OffsetFetch v8 / DescribeGroups v5 request (several requests go out together)
GROUPS_PER_REQUEST = 100
#: wait for at most this long when a Fetch finds nothing new (caught-up partitions)
FETCH_WAIT_MS = 5


class Requests:
    """Requests sent for one snapshot, by Kafka API."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n


class LagRequests:
    """Sends a snapshot's requests over the connection's client; caches each group's
    coordinator (found again when it moves) and which brokers need the older requests."""

    def __init__(self, conn: KafkaConnection) -> None:
        self.conn = conn
        self._coordinators: dict[str, int] = {}
        self._legacy: set[tuple[int, str]] = set()

    async def send(self, node: int, request: Any, req: Requests, kind: str) -> Any:
        req.add(kind)
        return await self.conn.client.send(node, request)

    async def metadata(self, req: Requests) -> Topology:
        """Partitions and leaders of every topic: Metadata v5 decoded lean, or the
        connection's own metadata() where the broker lacks v5."""
        from kafkaops.core.kafka.wire import unsupported
        from kafkaops.core.kafka.wire_metadata import LagMetadata

        node = self.conn.any_node()
        if (node, "Metadata") not in self._legacy:
            with map_kafka_errors(self.conn):
                try:
                    resp = await self.send(node, LagMetadata(), req, "Metadata")
                except Exception as e:
                    if not unsupported(e):
                        raise
                    self._legacy.add((node, "Metadata"))
                else:
                    topology: Topology = resp.topics
                    return topology
        req.add("Metadata")
        meta = await self.conn.metadata()
        return {
            t.name: (t.internal, [(p.partition, -1 if p.leader is None else p.leader)
                                  for p in t.partitions])
            for t in meta.topics.values()
        }

    async def topic_ids(self, topics: list[str], req: Requests) -> dict[str, str] | None:
        """Each topic's id (Metadata v12), None when the broker has no topic ids."""
        from kafkaops.core.kafka.logwatch import topic_ids

        req.add("Metadata")
        with map_kafka_errors(self.conn):
            found = await topic_ids(self.conn.client, topics)
        if found is None:
            return None
        return {t: i for t, (i, _) in found.items() if i.strip("0")}  # all zeros: no id

    def broker_ids(self) -> list[int]:
        return sorted(b.nodeId for b in self.conn.client.cluster.brokers())

    async def list_groups(self, req: Requests) -> list[str]:
        from aiokafka.protocol.admin import ListGroupsRequest

        async def ask(node: int) -> list[str]:
            resp = await self.send(node, ListGroupsRequest(), req, "ListGroups")
            # simple consumers that only commit have an empty protocol type; Connect
            # workers ("connect") and others commit no offsets
            return [g[0] for g in resp.groups if g[1] in ("consumer", "")]

        nodes = self.broker_ids()
        if not nodes:
            raise unreachable(self.conn.name, self.conn.config, "no broker known")
        results = await asyncio.gather(*(ask(n) for n in nodes), return_exceptions=True)
        names: set[str] = set()
        failures = 0
        for r in results:
            if isinstance(r, BaseException):
                if not is_kafka_error(r):
                    raise r
                failures += 1
            else:
                names.update(r)
        if failures == len(nodes):
            first = next(r for r in results if isinstance(r, BaseException))
            raise kafka_error(first, self.conn) or first
        return sorted(names)

    async def find_coordinators(
        self, groups: list[str], req: Requests
    ) -> tuple[dict[int, list[str]], dict[str, str]]:
        """Groups by coordinator node, and errors for groups without one. Cached."""
        from aiokafka.protocol.coordination import FindCoordinatorRequest

        from kafkaops.core.kafka.wire import error_text, unsupported
        from kafkaops.core.kafka.wire_groups import FindCoordinatorV4

        errors: dict[str, str] = {}
        unknown = [g for g in groups if g not in self._coordinators]
        if unknown:
            node = self.conn.any_node()
            with map_kafka_errors(self.conn):
                try:
                    resp = await self.send(node, FindCoordinatorV4(unknown), req,
                                            "FindCoordinator")
                    rows = resp.rows()
                except Exception as e:
                    if not unsupported(e):
                        raise
                    # brokers before Kafka 2.8 find one coordinator per request
                    answers = await asyncio.gather(*(
                        self.send(node, FindCoordinatorRequest(g, 0), req, "FindCoordinator")
                        for g in unknown
                    ))
                    rows = [(g, a.coordinator_id, a.error_code, None)
                            for g, a in zip(unknown, answers, strict=True)]
            for group, node_id, code, message in rows:
                if code == 0:
                    self._coordinators[group] = node_id
                else:
                    errors[group] = f"no coordinator: {message or error_text(code)}"
        by_node: dict[int, list[str]] = defaultdict(list)
        for g in groups:
            if g in self._coordinators:
                by_node[self._coordinators[g]].append(g)
        return by_node, errors

    async def read_groups(
        self, by_node: dict[int, list[str]], meta_task: Awaitable[Topology],
        req: Requests,
    ) -> tuple[dict[str, Committed], dict[str, GroupInfo]]:
        """Committed offsets and descriptions of the groups, every coordinator at once."""
        from kafkaops.core.kafka.wire import (
            COORDINATOR_LOAD_IN_PROGRESS,
            COORDINATOR_NOT_AVAILABLE,
            NOT_COORDINATOR,
            error_text,
        )

        committed: dict[str, Committed] = {}
        infos: dict[str, GroupInfo] = {}
        jobs: list[Awaitable[Any]] = []
        kinds: list[tuple[str, list[str]]] = []
        for node, groups in by_node.items():
            for i in range(0, len(groups), GROUPS_PER_REQUEST):
                chunk = groups[i:i + GROUPS_PER_REQUEST]
                jobs.append(self._offsets(node, chunk, meta_task, req))
                kinds.append(("offsets", chunk))
                jobs.append(self._describe(node, chunk, req))
                kinds.append(("describe", chunk))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        offset_errors: dict[str, str] = {}
        for (kind, chunk), result in zip(kinds, results, strict=True):
            if isinstance(result, BaseException):
                if not (is_kafka_error(result) or isinstance(result, KafkaOpsError)):
                    raise result
                for g in chunk:
                    self._coordinators.pop(g, None)
                    if kind == "offsets":
                        offset_errors[g] = f"cannot read committed offsets: {result}"
                continue
            if kind == "offsets":
                for g, (code, offsets) in result.items():
                    if code == 0:
                        committed[g] = offsets
                    else:
                        if code in (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
                                    COORDINATOR_LOAD_IN_PROGRESS):
                            self._coordinators.pop(g, None)  # found again next time
                        offset_errors[g] = f"cannot read committed offsets: {error_text(code)}"
            else:
                infos.update(result)
        for g, err in offset_errors.items():
            info = infos.get(g, GroupInfo("unknown", "", None, None))
            infos[g] = info._replace(error=err)
        if all(isinstance(r, BaseException) for r in results) and results:
            first = next(r for r in results if isinstance(r, BaseException))
            raise kafka_error(first, self.conn) or first
        return committed, infos

    async def _offsets(
        self, node: int, groups: list[str], meta_task: Awaitable[Topology],
        req: Requests,
    ) -> dict[str, tuple[int, Committed]]:
        from aiokafka.protocol.commit import OffsetFetchRequest

        from kafkaops.core.kafka.wire import unsupported
        from kafkaops.core.kafka.wire_groups import OffsetFetchV8

        if (node, "OffsetFetch") not in self._legacy:
            try:
                resp = await self.send(node, OffsetFetchV8([(g, None) for g in groups]), req,
                                        "OffsetFetch")
            except Exception as e:
                if not unsupported(e):
                    raise
                self._legacy.add((node, "OffsetFetch"))
            else:
                out: dict[str, tuple[int, Committed]] = {}
                for group, code, rows in resp.groups:
                    out[group] = (code, {
                        (t, p): off for t, p, off, err in rows
                        if err == 0 and off >= 0
                    })
                return out
        # Brokers before Kafka 3.0 lack v8. Their v2/v3 "all partitions" form is broken on
        # Tansu (docs/broker-notes.md), so name the partitions: every partition in the metadata.
        # Valid on every Kafka version; costlier, and only taken on old brokers.
        meta = await meta_task
        named = [(t, [p for p, _ in parts]) for t, (internal, parts) in meta.items()
                 if not internal]

        async def one(group: str) -> tuple[str, tuple[int, Committed]]:
            resp = await self.send(node, OffsetFetchRequest(group, named), req, "OffsetFetch")
            code = getattr(resp, "error_code", 0)
            offsets = {
                (topic, p[0]): p[1]
                for topic, parts in resp.topics for p in parts if p[3] == 0 and p[1] >= 0
            }
            return group, (code, offsets)

        return dict(await asyncio.gather(*(one(g) for g in groups)))

    async def _describe(self, node: int, groups: list[str],
                        req: Requests) -> dict[str, GroupInfo]:
        from aiokafka.protocol.admin import DescribeGroupsRequest

        from kafkaops.core.kafka.wire import error_text, unsupported
        from kafkaops.core.kafka.wire_groups import DescribeGroupsV5

        rows: list[Any] = []
        if (node, "DescribeGroups") not in self._legacy:
            try:
                resp = await self.send(node, DescribeGroupsV5(groups), req, "DescribeGroups")
                rows = resp.rows()
            except Exception as e:
                if not unsupported(e):
                    raise
                self._legacy.add((node, "DescribeGroups"))
        if (node, "DescribeGroups") in self._legacy:
            # before Kafka 2.4: aiokafka's own request, one group each (its v3 decoder
            # cannot read answers about more than two groups)
            answers = await asyncio.gather(*(
                self.send(node, DescribeGroupsRequest([g]), req, "DescribeGroups")
                for g in groups
            ))
            rows = [
                (g[0], g[1], g[2], g[3], [(m[0], m[1], m[2], m[4]) for m in g[5]])
                for a in answers for g in a.groups
            ]
        out: dict[str, GroupInfo] = {}
        for code, group, state, protocol_type, members in rows:
            if code != 0:
                out[group] = GroupInfo("unknown", protocol_type, None,
                                        f"cannot describe the group: {error_text(code)}")
                continue
            out[group] = GroupInfo(
                state or "unknown", protocol_type,
                tuple(_member(m, protocol_type) for m in members), None,
            )
        return out

    # ------------------------------------------------------------ log start and end

    async def ends(
        self, wanted: set[TopicPartition], anchors: dict[TopicPartition, int],
        leaders: dict[TopicPartition, int], req: Requests,
    ) -> dict[TopicPartition, tuple[int, int]]:
        """(log start, true log end) of each partition: one Fetch per leader.

        Each partition is fetched from the most advanced group's committed offset (any
        offset inside the log will do), with max_bytes=1 so the answer carries little more
        than the high watermark and log start offset. Apache Kafka refuses an offset outside
        the log (OFFSET_OUT_OF_RANGE, no watermark); those few partitions, and partitions
        whose leader did not answer, are read again by ListOffsets + Fetch
        (KafkaConnection.high_watermarks).
        """

        from kafkaops.core.kafka.wire_fetch import LagFetch

        by_leader = _by_leader(wanted, leaders)
        water: dict[TopicPartition, tuple[int, int]] = {}
        retry: list[TopicPartition] = []

        async def ask(node: int, tps: list[TopicPartition]) -> None:
            topics: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            for tp in tps:
                topics[tp.topic].append((tp.partition, max(anchors.get(tp, 0), 0), 1))
            try:
                with map_kafka_errors(self.conn):
                    resp = await self.fetch(
                        node, LagFetch(FETCH_WAIT_MS, 1, 1, list(topics.items())), req)
            except KafkaOpsError:
                retry.extend(tps)
                return
            for topic, parts in resp:
                for partition, error, hw, log_start, _records in parts:
                    tp = TopicPartition(topic, partition)
                    if error == 0 and hw >= 0:
                        water[tp] = (log_start, hw)
                    else:
                        retry.append(tp)

        await asyncio.gather(*(ask(n, tps) for n, tps in by_leader.items()))
        if retry:
            req.add("ListOffsets+Fetch (fallback)")
            # partitions still unanswered show "end unknown" this time
            with contextlib.suppress(ClusterUnreachable):
                water.update(await self.conn.high_watermarks(retry))
        return water

    async def fetch(self, node: int, request: Any, req: Requests) -> list[Any]:
        """A LagFetch, or aiokafka's own Fetch where the broker lacks v11 (before 2.3)."""
        from aiokafka.protocol.fetch import FetchRequest

        from kafkaops.core.kafka.wire import unsupported
        from kafkaops.core.kafka.wire_fetch import fetched_from_aiokafka

        if (node, "Fetch") not in self._legacy:
            try:
                resp = await self.send(node, request, req, "Fetch")
                return list(resp.topics)
            except Exception as e:
                if not unsupported(e):
                    raise
                self._legacy.add((node, "Fetch"))
        old = FetchRequest(request.max_wait_ms, request.min_bytes, request.max_bytes, 0,
                           request.topics)
        return fetched_from_aiokafka(await self.send(node, old, req, "Fetch"))


def _member(row: tuple[str, str, str, bytes], protocol_type: str) -> GroupMember:
    from kafkaops.core.kafka.wire_groups import decode_assignment

    member_id, client_id, host, assignment = row
    pairs = decode_assignment(assignment) if protocol_type in ("consumer", "") else None
    return GroupMember(
        member_id=member_id,
        client_id=client_id or None,
        client_host=host or None,
        assignment=None if pairs is None else tuple(TopicPartition(t, p) for t, p in pairs),
    )



def _by_leader(tps: Iterable[TopicPartition],
               leaders: dict[TopicPartition, int]) -> dict[int, list[TopicPartition]]:
    """Partitions by leader node; partitions without a leader are left out (end unknown)."""
    out: dict[int, list[TopicPartition]] = defaultdict(list)
    for tp in tps:
        leader = leaders.get(tp)
        if leader is not None:
            out[leader].append(tp)
    return out
