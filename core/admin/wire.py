# mypy: disallow-subclassing-any=False
# (aiokafka ships no type information: its protocol classes are Any to mypy)
"""The admin requests, sent through a cluster's shared `KafkaConnection`.

aiokafka 0.14 lacks IncrementalAlterConfigs (KIP-339) and DeleteGroups in its admin client,
so both are built here from its protocol building blocks; CreateTopics, DeleteTopics,
CreatePartitions and AlterConfigs go through its admin client. Every Kafka or socket error
becomes one of core's errors here, with the cluster's name; nothing from aiokafka leaves.

Whether a broker offers an API is read from what it said in ApiVersions (`supports`),
never by trying: Tansu ignores `validate_only` (a "validating" CreateTopics creates the
topic, a "validating" IncrementalAlterConfigs changes the config; measured on Tansu 0.6),
so a dry run cannot be asked of the broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import MetadataSnapshot

#: Kafka protocol error codes admin answers carry, as words for messages
ERRORS = {
    3: "unknown topic or partition",
    7: "request timed out",
    29: "not authorised for the topic",
    30: "not authorised for the group",
    31: "not authorised for the cluster",
    36: "topic already exists",
    37: "invalid number of partitions",
    38: "invalid replication factor",
    39: "invalid replica assignment",
    40: "invalid config",
    41: "not the controller",
    42: "invalid request",
    44: "refused by the cluster's policy",
    68: "the group is not empty",
    69: "group not found",
    73: "topic deletion is disabled on the cluster",
    87: "invalid partitions",
}
UNKNOWN_TOPIC = 3
TOPIC_EXISTS = 36
NON_EMPTY_GROUP = 68
GROUP_NOT_FOUND = 69

# config_operation of IncrementalAlterConfigs
SET, DELETE = 0, 1
TOPIC_RESOURCE = 2


def error_words(code: int, message: str | None = None) -> str:
    words = ERRORS.get(code, f"Kafka error code {code}")
    return f"{words} ({message})" if message and message not in words else words


class AdminRequestFailed(KafkaOpsError):
    """The broker answered an admin request with an error code. Nothing may have changed
    (the message says what the broker said)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- IncrementalAlterConfigs


class IncrementalAlterConfigsResponseV0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(
            ("error_code", Int16),
            ("error_message", String("utf-8")),
            ("resource_type", Int8),
            ("resource_name", String("utf-8")),
        )),
    )


class IncrementalAlterConfigsRequestV0(RequestStruct):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponseV0
    SCHEMA = Schema(
        ("resources", Array(
            ("resource_type", Int8),
            ("resource_name", String("utf-8")),
            ("configs", Array(
                ("name", String("utf-8")),
                ("config_operation", Int8),
                ("value", String("utf-8")),
            )),
        )),
        ("validate_only", Boolean),
    )


class IncrementalAlterConfigs(Request[IncrementalAlterConfigsRequestV0]):
    """SET / DELETE of single topic configs; every other config of the topic is left as it
    is (AlterConfigs, by contrast, replaces the whole set)."""

    API_KEY = 44

    def __init__(self, topic: str, ops: Sequence[tuple[str, int, str | None]]) -> None:
        self.topic = topic
        self.ops = list(ops)

    def build(self, request_struct_class: type[IncrementalAlterConfigsRequestV0]
              ) -> IncrementalAlterConfigsRequestV0:
        return request_struct_class([(TOPIC_RESOURCE, self.topic, self.ops)], False)


# ---------------------------------------------------------------- what a broker offers


class _Negotiated(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a probe once aiokafka chose a version: the broker offers the API."""


def _probe(request_class: type[Any]) -> Any:
    """An instance of `request_class` that is never sent: aiokafka negotiates its version
    from the broker's ApiVersions answer and then calls `build`, which raises _Negotiated
    before a byte is written; a broker without the API makes aiokafka raise
    IncompatibleBrokerVersion (or NotImplementedError) at that same point."""

    class Probe(request_class):
        def __init__(self) -> None:
            pass

        def build(self, request_struct_class: type[Any]) -> Any:
            raise _Negotiated(request_struct_class.API_VERSION)

    return Probe()


async def supports(conn: KafkaConnection, request_class: type[Any], node: int | None = None
                   ) -> bool:
    """True when the broker (`node`, else any) offers the API of `request_class` in a
    version aiokafka can send."""
    from kafkaops.core.kafka.wire import unsupported

    with map_kafka_errors(conn):
        try:
            await conn.client.send(node if node is not None else conn.any_node(),
                                   _probe(request_class))
        except _Negotiated:
            return True
        except Exception as e:
            if unsupported(e):
                return False
            raise
    return True  # pragma: no cover - the probe always raises


async def send(conn: KafkaConnection, node: int, request: Any) -> Any:
    with map_kafka_errors(conn):
        return await conn.client.send(node, request)


def controller(conn: KafkaConnection, meta: MetadataSnapshot) -> int:
    """Node id of the controller in `meta` (admin requests go there), else any broker."""
    if meta.controller_id is not None and meta.controller_id >= 0:
        return meta.controller_id
    return conn.any_node()


# ---------------------------------------------------------------- topics


async def create_topic(conn: KafkaConnection, node: int, name: str, partitions: int,
                       replication_factor: int, configs: Mapping[str, str]) -> None:
    from aiokafka.protocol.admin import CreateTopicsRequest

    req = CreateTopicsRequest(
        [(name, partitions, replication_factor, [], sorted(configs.items()))],
        int(conn.config.request_timeout * 1000), False)
    resp = await send(conn, node, req)
    for item in resp.topic_errors:
        code = item[1]
        message = item[2] if len(item) > 2 else None
        if code:
            raise AdminRequestFailed(
                f"cluster {conn.name!r} refused to create topic {name!r}: "
                f"{error_words(code, message)}", code)


async def delete_topic(conn: KafkaConnection, node: int, name: str) -> None:
    from aiokafka.protocol.admin import DeleteTopicsRequest

    req = DeleteTopicsRequest([name], int(conn.config.request_timeout * 1000))
    resp = await send(conn, node, req)
    for topic, code, *_ in resp.topic_error_codes:
        if code:
            raise AdminRequestFailed(
                f"cluster {conn.name!r} refused to delete topic {topic!r}: "
                f"{error_words(code)}", code)


async def create_partitions(conn: KafkaConnection, node: int, name: str, total: int) -> None:
    from aiokafka.protocol.admin import CreatePartitionsRequest

    req = CreatePartitionsRequest([(name, (total, None))],
                                  int(conn.config.request_timeout * 1000), False)
    resp = await send(conn, node, req)
    for topic, code, message in resp.topic_errors:
        if code:
            raise AdminRequestFailed(
                f"cluster {conn.name!r} refused to grow topic {topic!r} to {total} "
                f"partitions: {error_words(code, message)}", code)


async def alter_configs_incremental(conn: KafkaConnection, node: int, topic: str,
                                    sets: Mapping[str, str], deletes: Sequence[str]) -> None:
    ops: list[tuple[str, int, str | None]] = [(k, SET, v) for k, v in sorted(sets.items())]
    ops += [(k, DELETE, None) for k in sorted(deletes)]
    resp = await send(conn, node, IncrementalAlterConfigs(topic, ops))
    for code, message, _type, name in resp.responses:
        if code:
            raise AdminRequestFailed(
                f"cluster {conn.name!r} refused to change the configs of topic {name!r}: "
                f"{error_words(code, message)}", code)


async def alter_configs_whole(conn: KafkaConnection, node: int, topic: str,
                              configs: Mapping[str, str]) -> None:
    """AlterConfigs: the topic's configs become exactly `configs` (any config not named
    goes back to its default)."""
    from aiokafka.protocol.admin import AlterConfigsRequest

    req = AlterConfigsRequest([(TOPIC_RESOURCE, topic, sorted(configs.items()))], False)
    resp = await send(conn, node, req)
    for code, message, _type, name in resp.resources:
        if code:
            raise AdminRequestFailed(
                f"cluster {conn.name!r} refused to change the configs of topic {name!r}: "
                f"{error_words(code, message)}", code)


# ---------------------------------------------------------------- groups


async def delete_group(conn: KafkaConnection, coordinator: int, group: str) -> None:
    from aiokafka.protocol.admin import DeleteGroupsRequest

    resp = await send(conn, coordinator, DeleteGroupsRequest([group]))
    for name, code in resp.results:
        if code:
            raise AdminRequestFailed(
                f"cluster {conn.name!r} refused to delete group {name!r}: "
                f"{error_words(code)}", code)


async def list_groups(conn: KafkaConnection, node: int) -> list[str]:
    from aiokafka.protocol.admin import ListGroupsRequest

    resp = await send(conn, node, ListGroupsRequest())
    return [g[0] for g in resp.groups]


async def describe_broker_configs(conn: KafkaConnection, node_ids: Sequence[int]
                                  ) -> dict[int, list[dict[str, Any]]]:
    """Each broker's configs as DescribeConfigs reports them (one request per broker, to
    that broker, as Kafka wants for broker resources)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    resources = [ConfigResource(ConfigResourceType.BROKER, str(n)) for n in node_ids]
    with map_kafka_errors(conn):
        responses = await conn.admin.describe_configs(resources)
    out: dict[int, list[dict[str, Any]]] = {}
    for resp in responses:
        for res in resp.to_object()["resources"]:
            if res["error_code"]:
                raise AdminRequestFailed(
                    f"cannot read the configs of broker {res['resource_name']} on cluster "
                    f"{conn.name!r}: {error_words(res['error_code'], res['error_message'])}",
                    res["error_code"])
            out[int(res["resource_name"])] = list(res["config_entries"])
    return out
