"""A consumer group's committed offsets, read and written from outside the group.

- `committed_offsets`: the group's offset per named partition (OffsetFetch through the
  admin client);
- `commit_offsets`: offsets committed with generation -1 and no member id, as Kafka's admin
  `alterConsumerGroupOffsets` does (the broker refuses while the group has members);
- `group_members`: a group's state and member count.

Tansu gap handled here: committed offsets are always fetched for
named partitions (OffsetFetch for "all partitions" fails to decode), also right on Apache
Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition


async def committed_offsets(
    conn: KafkaConnection, group: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """The group's committed offset per named partition (None: no offset).

    Named partitions only: OffsetFetch for all partitions of a group is broken on Tansu."""
    from aiokafka.structs import TopicPartition as AkTP

    if not partitions:
        return {}
    with map_kafka_errors(conn):
        got = await conn.admin.list_consumer_group_offsets(
            group, partitions=[AkTP(tp.topic, tp.partition) for tp in partitions]
        )
    out: dict[TopicPartition, int | None] = {tp: None for tp in partitions}
    for ak, om in got.items():
        tp = TopicPartition(ak.topic, ak.partition)
        if tp in out:
            out[tp] = om.offset if om.offset >= 0 else None
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
    conn: KafkaConnection, group: str, offsets: Mapping[TopicPartition, int]
) -> None:
    """Commit offsets for a group from outside it (generation -1, no member id), as
    Kafka's admin alterConsumerGroupOffsets does. The broker refuses while the group has
    active members. Raises KafkaOpsError naming the partitions that failed."""
    from aiokafka.errors import for_code
    from aiokafka.protocol.commit import OffsetCommitRequest

    if not offsets:
        return
    by_topic: dict[str, list[tuple[int, int, str]]] = {}
    for tp, off in sorted(offsets.items()):
        by_topic.setdefault(tp.topic, []).append((tp.partition, off, ""))
    with map_kafka_errors(conn):
        coordinator = await conn.admin.find_coordinator(group)
        req = OffsetCommitRequest(group, -1, "", -1, list(by_topic.items()))
        resp = await conn.client.send(coordinator, req)
    failed = []
    for topic, parts in resp.topics:
        for partition, code in parts:
            if code:
                failed.append(f"{topic}/{partition}: {for_code(code).__name__}")
    if failed:
        raise KafkaOpsError(
            f"cluster {conn.name!r} refused offsets for group {group!r}: " + ", ".join(failed)
            + " (a group with active members cannot be moved: stop its consumers first)"
        )
