"""A consumer group's state on the wire, through the cluster's shared connection: its
state and members (DescribeGroups, ListGroups), the commit of an empty group's offsets (a
group that gained members is GroupActive), a topic's partitions, and the first offset at a
time. The coordinator lookup and the committed offsets' read and write are
core/kafka/groups.py's, shared with DR failover.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from kafkaops.core.errors import KafkaOpsError, NotFound, UsageError
from kafkaops.core.kafka import groups
from kafkaops.core.kafka.groups import (
    GROUP_BUSY,
    OffsetsRefused,
    error_name,
    find_coordinator,
    send,
)
from kafkaops.core.offsets.model import GroupActive, GroupMember
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection


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


async def describe_group(
    conn: KafkaConnection, group: str, coordinator: int | None = None
) -> tuple[str, tuple[GroupMember, ...]]:
    """(state, members) of one group. One group per DescribeGroups request: Tansu cannot
    answer three or more in one (docs/broker-notes.md); valid on Apache Kafka too."""
    from aiokafka.protocol.admin import DescribeGroupsRequest

    node = coordinator if coordinator is not None else await find_coordinator(conn, group)
    resp = await send(conn, node, DescribeGroupsRequest([group]))
    g = resp.to_object()["groups"][0]
    if g["error_code"] not in (0, 69):  # 69 GROUP_ID_NOT_FOUND: newer brokers, no group
        raise KafkaOpsError(
            f"cannot describe group {group!r} on cluster {conn.name!r}: "
            f"{error_name(g['error_code'])}"
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

    resp = await send(conn, coordinator, ListGroupsRequest())
    return any(g[0] == group for g in resp.groups)


async def commit_offsets(
    conn: KafkaConnection,
    group: str,
    offsets: Mapping[TopicPartition, int],
    coordinator: int | None = None,
) -> None:
    """Commit offsets for a group that has no members (core/kafka/groups.py); a group that
    gained members since the plan is GroupActive."""
    try:
        await groups.commit_offsets(conn, group, offsets, coordinator)
    except OffsetsRefused as e:
        if not e.busy:
            raise
        code = next(c for _, _, c in e.failed if c in GROUP_BUSY)
        raise GroupActive(
            f"group {group!r} gained members while the reset was being applied (the "
            f"coordinator answered {GROUP_BUSY[code]}); stop its consumers and make a "
            "new plan. The coordinator refuses such a commit as a whole: nothing was changed.",
            (),
        ) from None


async def offsets_for_time(
    conn: KafkaConnection, topic: str, partitions: list[int], ms: int
) -> dict[int, int]:
    """First offset whose record timestamp is >= ms per partition (log end when none is).

    Tansu gap: ListOffsets with a timestamp answers the log start whatever the time, so
    core/messages/service.py checks the broker's answer by reading record timestamps and bisects
    when it is wrong; on Apache Kafka the answer is right and costs two reads.
    """
    from kafkaops.core.messages.model import StartAt
    from kafkaops.core.messages.service import MessageService

    found = await MessageService(conn).resolve_start(topic, partitions, StartAt.at_time(ms))
    return {tp.partition: off for tp, off in found.items()}
