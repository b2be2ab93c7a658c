"""A consumer group's state on the wire, through the cluster's shared connection: its
coordinator, state and members (DescribeGroups, ListGroups), its committed offsets
(OffsetFetch), the commit of an empty group's offsets (OffsetCommit), a topic's partitions,
and the first offset at a time. Module functions so other core code can use them; aiokafka's
request types stay here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kafkaops.core.errors import KafkaOpsError, NotFound, UsageError
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.offsets.model import GroupActive, GroupMember
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection

# Kafka error codes OffsetCommit answers when the group is not empty (or is rebalancing)
_GROUP_BUSY = {
    22: "ILLEGAL_GENERATION",
    25: "UNKNOWN_MEMBER_ID",
    27: "REBALANCE_IN_PROGRESS",
}
_ERROR_NAMES = {
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    16: "NOT_COORDINATOR",
    24: "INVALID_GROUP_ID",
    29: "TOPIC_AUTHORIZATION_FAILED",
    30: "GROUP_AUTHORIZATION_FAILED",
    **_GROUP_BUSY,
}


async def topic_partitions(
    conn: KafkaConnection, topic: str, wanted: Iterable[int] | None
) -> list[int]:
    """The topic's partitions (all, or `wanted` after checking each exists)."""
    meta = await conn.metadata([topic])
    if topic not in meta.topics:
        raise NotFound(
            f"topic {topic!r} not found on cluster {conn.name!r} — check the name with "
            "`kafkaops topics`. Nothing was changed."
        )
    known = [p.partition for p in meta.topics[topic].partitions]
    if wanted is None:
        return known
    chosen = sorted(set(wanted))
    bad = [p for p in chosen if p not in known]
    if bad:
        raise UsageError(
            f"topic {topic!r} has no partition {', '.join(map(str, bad))} (it has "
            f"{len(known)}: 0..{len(known) - 1}). Nothing was changed."
        )
    return chosen


async def _send(conn: KafkaConnection, node: int, request: Any) -> Any:
    with map_kafka_errors(conn):
        return await conn.client.send(node, request)


async def find_coordinator(conn: KafkaConnection, group: str) -> int:
    """Node id of the group's coordinator (FindCoordinator)."""
    if not group or not group.strip():
        raise UsageError("consumer group id is empty")
    with map_kafka_errors(conn):
        return int(await conn.client.coordinator_lookup(0, group))


async def describe_group(
    conn: KafkaConnection, group: str, coordinator: int | None = None
) -> tuple[str, tuple[GroupMember, ...]]:
    """(state, members) of one group. One group per DescribeGroups request: Tansu cannot
    answer three or more in one (docs/broker-notes.md); valid on Apache Kafka too."""
    from aiokafka.protocol.admin import DescribeGroupsRequest

    node = coordinator if coordinator is not None else await find_coordinator(conn, group)
    resp = await _send(conn, node, DescribeGroupsRequest([group]))
    g = resp.to_object()["groups"][0]
    if g["error_code"] not in (0, 69):  # 69 GROUP_ID_NOT_FOUND: newer brokers, no group
        raise KafkaOpsError(
            f"cannot describe group {group!r} on cluster {conn.name!r}: "
            f"{_ERROR_NAMES.get(g['error_code'], 'error code ' + str(g['error_code']))}"
        )
    # Tansu gap: client_id and client_host come back empty; show "not reported"
    members = tuple(
        GroupMember(m["member_id"], m.get("client_id") or None, m.get("client_host") or None)
        for m in g["members"]
    )
    return (g["state"] or "Dead"), members


async def group_listed(conn: KafkaConnection, group: str, coordinator: int) -> bool:
    """True when the coordinator lists the group (ListGroups). Tansu answers DescribeGroups
    for a group that never existed with state Empty (Apache Kafka says Dead), so existence
    is read from the coordinator's list, which both brokers fill for groups that only hold
    committed offsets too."""
    from aiokafka.protocol.admin import ListGroupsRequest

    resp = await _send(conn, coordinator, ListGroupsRequest())
    return any(g[0] == group for g in resp.groups)


async def committed_offsets(
    conn: KafkaConnection,
    group: str,
    partitions: Sequence[TopicPartition],
    coordinator: int | None = None,
) -> dict[TopicPartition, int | None]:
    """The group's committed offset per partition; None where it has none.

    Tansu gap: OffsetFetch for "all partitions" (null topics) cannot be decoded, so the
    partitions are always named; that is valid on Apache Kafka too.
    """
    from aiokafka.protocol.commit import OffsetFetchRequest

    by_topic: dict[str, list[int]] = defaultdict(list)
    for tp in partitions:
        by_topic[tp.topic].append(tp.partition)
    node = coordinator if coordinator is not None else await find_coordinator(conn, group)
    resp = await _send(conn, node, OffsetFetchRequest(group, list(by_topic.items())))
    top_error = getattr(resp, "error_code", 0)
    if top_error:
        raise KafkaOpsError(
            f"cannot read committed offsets of group {group!r}: "
            f"{_ERROR_NAMES.get(top_error, f'error code {top_error}')}",
            retriable=top_error in (14, 15, 16),
        )
    out: dict[TopicPartition, int | None] = {tp: None for tp in partitions}
    for topic, parts in resp.topics:
        for partition, offset, _meta, error_code in parts:
            if error_code:
                raise KafkaOpsError(
                    f"cannot read committed offset of group {group!r} on {topic}[{partition}]: "
                    f"{_ERROR_NAMES.get(error_code, f'error code {error_code}')}"
                )
            out[TopicPartition(topic, partition)] = offset if offset >= 0 else None
    return out


async def commit_offsets(
    conn: KafkaConnection,
    group: str,
    offsets: Mapping[TopicPartition, int],
    coordinator: int | None = None,
) -> None:
    """Commit offsets for a group that has no members: OffsetCommit with generation -1 and
    an empty member id, as Apache Kafka's AdminClient.alterConsumerGroupOffsets does. The
    coordinator accepts it only while the group is empty (else UNKNOWN_MEMBER_ID), so a
    consumer joining between our check and the commit makes it fail, not half-apply."""
    from aiokafka.protocol.commit import OffsetCommitRequest

    by_topic: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for tp, off in sorted(offsets.items()):
        by_topic[tp.topic].append((tp.partition, off, ""))
    node = coordinator if coordinator is not None else await find_coordinator(conn, group)
    req = OffsetCommitRequest(group, -1, "", -1, list(by_topic.items()))
    resp = await _send(conn, node, req)
    failed = [
        (topic, partition, code)
        for topic, parts in resp.topics
        for partition, code in parts
        if code
    ]
    if not failed:
        return
    if any(code in _GROUP_BUSY for _, _, code in failed):
        raise GroupActive(
            f"group {group!r} gained members while the reset was being applied (the "
            f"coordinator answered {_GROUP_BUSY[failed[0][2]]}); stop its consumers and make a "
            "new plan. The coordinator refuses such a commit as a whole: nothing was changed.",
            (),
        )
    shown = ", ".join(
        f"{t}[{p}]: {_ERROR_NAMES.get(c, f'error code {c}')}" for t, p, c in failed[:5]
    )
    raise KafkaOpsError(
        f"commit of offsets for group {group!r} failed on {len(failed)} partition(s): "
        f"{shown}. Read the group's offsets back (`kafkaops offsets reset --dry-run`) to see "
        "what changed."
    )


async def offsets_for_time(
    conn: KafkaConnection, topic: str, partitions: list[int], ms: int
) -> dict[int, int]:
    """First offset whose record timestamp is >= ms per partition (log end when none is).

    Tansu gap: ListOffsets with a timestamp answers the log start whatever the time, so
    core/messages/service.py checks the broker's answer by reading record timestamps and bisects
    when it is wrong; on Apache Kafka the answer is right and costs two reads.
    """
    from kafkaops.core.messages.service import MessageService, StartAt

    found = await MessageService(conn).resolve_start(topic, partitions, StartAt.at_time(ms))
    return {tp.partition: off for tp, off in found.items()}
