"""A consumer group's committed offsets, read and written from outside the group; the one
implementation for offsets resets (core/offsets) and DR failover (core/dr).

- `find_coordinator`: the node id of the group's coordinator (FindCoordinator), `send`: a
  request to it;
- `committed_offsets`: the group's offset per named partition (OffsetFetch);
- `commit_offsets`: offsets committed with generation -1 and no member id, as Kafka's admin
  `alterConsumerGroupOffsets` does (the coordinator refuses while the group has members:
  OffsetsRefused with `busy`);
- `group_members`: a group's state and member count.

Each takes the coordinator when the caller has looked it up already (a reset reads and
commits through the same one), else looks it up.

Tansu gap handled here: committed offsets are always fetched for named partitions (OffsetFetch
for "all partitions" fails to decode), also right on Apache Kafka. The requests are built here
rather than through aiokafka's admin `list_consumer_group_offsets`, which reports a
partition's error with the response's top-level code and ignores the top-level error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from kafkaops.core.errors import KafkaOpsError, UsageError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition

#: Kafka error codes OffsetCommit answers when the group is not empty (or is rebalancing)
GROUP_BUSY = {
    22: "ILLEGAL_GENERATION",
    25: "UNKNOWN_MEMBER_ID",
    27: "REBALANCE_IN_PROGRESS",
}
#: names of the error codes the group requests answer, for messages
ERROR_NAMES = {
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    16: "NOT_COORDINATOR",
    24: "INVALID_GROUP_ID",
    29: "TOPIC_AUTHORIZATION_FAILED",
    30: "GROUP_AUTHORIZATION_FAILED",
    **GROUP_BUSY,
}
_RETRIABLE = (14, 15, 16)


def error_name(code: int) -> str:
    return ERROR_NAMES.get(code, f"error code {code}")


class OffsetsRefused(KafkaOpsError):
    """The coordinator refused a commit of a group's offsets. `failed`: (topic, partition,
    error code) of each refused partition; `busy`: the group has members (or is
    rebalancing), in which case the coordinator refused the commit as a whole."""

    def __init__(self, message: str, failed: Sequence[tuple[str, int, int]]) -> None:
        super().__init__(message)
        self.failed = tuple(failed)
        self.busy = any(code in GROUP_BUSY for _, _, code in self.failed)


async def send(conn: KafkaConnection, node: int, request: Any) -> Any:
    """A request to one broker (a group's coordinator), its errors mapped to core's."""
    with map_kafka_errors(conn):
        return await conn.client.send(node, request)


async def find_coordinator(conn: KafkaConnection, group: str) -> int:
    """Node id of the group's coordinator (FindCoordinator)."""
    if not group or not group.strip():
        raise UsageError("consumer group id is empty")
    with map_kafka_errors(conn):
        return int(await conn.client.coordinator_lookup(0, group))


async def committed_offsets(
    conn: KafkaConnection,
    group: str,
    partitions: Sequence[TopicPartition],
    coordinator: int | None = None,
) -> dict[TopicPartition, int | None]:
    """The group's committed offset per named partition (None: no offset). Raises
    KafkaOpsError when the coordinator answers an error (retriable while it loads or moves).

    Named partitions only: OffsetFetch for all partitions of a group is broken on Tansu."""
    from aiokafka.protocol.commit import OffsetFetchRequest

    if not partitions:
        return {}
    by_topic: dict[str, list[int]] = defaultdict(list)
    for tp in partitions:
        by_topic[tp.topic].append(tp.partition)
    node = coordinator if coordinator is not None else await find_coordinator(conn, group)
    resp = await send(conn, node, OffsetFetchRequest(group, list(by_topic.items())))
    top_error = getattr(resp, "error_code", 0)
    if top_error:
        raise KafkaOpsError(
            f"cannot read committed offsets of group {group!r} on cluster {conn.name!r}: "
            f"{error_name(top_error)}",
            retriable=top_error in _RETRIABLE,
        )
    out: dict[TopicPartition, int | None] = {tp: None for tp in partitions}
    for topic, parts in resp.topics:
        for partition, offset, _meta, error_code in parts:
            if error_code:
                raise KafkaOpsError(
                    f"cannot read committed offset of group {group!r} on {topic}[{partition}] "
                    f"on cluster {conn.name!r}: {error_name(error_code)}",
                    retriable=error_code in _RETRIABLE,
                )
            tp = TopicPartition(topic, partition)
            if tp in out:
                out[tp] = offset if offset >= 0 else None
    return out


async def group_members(conn: KafkaConnection, group: str) -> tuple[str, int]:
    """(state, member count) of a group; ("Dead", 0) when it does not exist.

    One group per DescribeGroups request: with three or more groups aiokafka cannot decode
    the answer (the embedded broker shows it); one per request is right on every broker."""
    with map_kafka_errors(conn):
        resp = await conn.admin.describe_consumer_groups([group])
    for r in resp:
        for g in r.groups:
            error_code, gid, state = g[0], g[1], g[2]
            members = g[-1]
            if gid == group:
                if error_code == 69:  # GROUP_ID_NOT_FOUND
                    return "Dead", 0
                if error_code:
                    return f"unknown (error {error_code})", 0
                return (state or "Dead"), len(members or ())
    return "Dead", 0


async def commit_offsets(
    conn: KafkaConnection,
    group: str,
    offsets: Mapping[TopicPartition, int],
    coordinator: int | None = None,
) -> None:
    """Commit offsets for a group from outside it (generation -1, no member id), as Kafka's
    admin alterConsumerGroupOffsets does. The coordinator accepts it only while the group is
    empty (else UNKNOWN_MEMBER_ID for the whole commit), so a consumer joining between the
    caller's check and the commit makes it fail, not half-apply. Raises OffsetsRefused
    naming the partitions refused."""
    from aiokafka.protocol.commit import OffsetCommitRequest

    if not offsets:
        return
    by_topic: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for tp, off in sorted(offsets.items()):
        by_topic[tp.topic].append((tp.partition, off, ""))
    node = coordinator if coordinator is not None else await find_coordinator(conn, group)
    req = OffsetCommitRequest(group, -1, "", -1, list(by_topic.items()))
    resp = await send(conn, node, req)
    failed = [(topic, partition, code)
              for topic, parts in resp.topics for partition, code in parts if code]
    if not failed:
        return
    busy = next((code for _, _, code in failed if code in GROUP_BUSY), None)
    if busy is not None:
        raise OffsetsRefused(
            f"cluster {conn.name!r} refused offsets for group {group!r}: the group has "
            f"members (the coordinator answered {GROUP_BUSY[busy]}); a group with active "
            "members cannot be moved: stop its consumers first. The coordinator refuses such "
            "a commit as a whole: nothing was changed.", failed)
    shown = ", ".join(f"{t}[{p}]: {error_name(c)}" for t, p, c in failed[:5])
    raise OffsetsRefused(
        f"cluster {conn.name!r} refused offsets for group {group!r} on {len(failed)} "
        f"partition(s): {shown}. Read the group's offsets back to see what changed.", failed)
