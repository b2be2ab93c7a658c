# mypy: disallow-subclassing-any=False
# (aiokafka ships no type information: its protocol classes are Any to mypy, and this
# module's whole point is to extend them)
"""Metadata decoded lean (`LagMetadata`, v5) and topic ids (`TopicIds`, v12) (why:
core/kafka/wire.py).
"""

from __future__ import annotations

import struct
from io import BytesIO

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.metadata import MetadataRequest_v5, MetadataResponse_v5
from aiokafka.protocol.types import (
    AbstractType,
    Boolean,
    CompactArray,
    Int32,
    Schema,
    TaggedFields,
)

from kafkaops.core.kafka.wire import I16, I32, STR, cstring, rest, skip_tags, uvarint

# ---------------------------------------------------------------- Metadata v5, decoded lean

#: topic -> (internal, [(partition, leader node id or -1)])
Topology = dict[str, tuple[bool, list[tuple[int, int]]]]


class LagMetadataResponse(Response):
    """Only what the lag engine needs (partitions and their leaders), decoded without
    building aiokafka's structs: 10,000 partitions in a few milliseconds."""

    API_KEY = 3
    API_VERSION = 5
    SCHEMA = MetadataResponse_v5.SCHEMA
    topics: Topology

    @classmethod
    def decode(cls, data: BytesIO | bytes) -> LagMetadataResponse:
        buf = rest(data)
        i16 = I16.unpack_from
        i32 = I32.unpack_from
        part = struct.Struct(">hiii").unpack_from

        def string(pos: int) -> tuple[str | None, int]:
            n = i16(buf, pos)[0]
            pos += 2
            if n < 0:
                return None, pos
            return buf[pos:pos + n].decode("utf-8"), pos + n

        throttle = i32(buf, 0)[0]
        pos = 4
        nbrokers = i32(buf, pos)[0]
        pos += 4
        brokers = []
        for _ in range(max(nbrokers, 0)):
            node = i32(buf, pos)[0]
            host, pos = string(pos + 4)
            port = i32(buf, pos)[0]
            rack, pos = string(pos + 4)
            brokers.append((node, host, port, rack))
        cluster_id, pos = string(pos)
        controller = i32(buf, pos)[0]
        pos += 4
        ntopics = i32(buf, pos)[0]
        pos += 4
        topics: Topology = {}
        for _ in range(max(ntopics, 0)):
            error = i16(buf, pos)[0]
            name, pos = string(pos + 2)
            internal = buf[pos] != 0
            pos += 1
            nparts = i32(buf, pos)[0]
            pos += 4
            parts = []
            for _ in range(max(nparts, 0)):
                _perr, partition, leader, nreplicas = part(buf, pos)
                pos += 14 + 4 * max(nreplicas, 0)
                nisr = i32(buf, pos)[0]
                pos += 4 + 4 * max(nisr, 0)
                noffline = i32(buf, pos)[0]
                pos += 4 + 4 * max(noffline, 0)
                parts.append((partition, leader))
            if error == 0 and name is not None:
                topics[name] = (internal, parts)
        return cls(throttle, brokers, cluster_id, controller, topics)


class LagMetadataRequestV5(MetadataRequest_v5):
    RESPONSE_TYPE = LagMetadataResponse


class LagMetadata(Request[LagMetadataRequestV5]):
    """Metadata of every topic (or the named ones), for partitions and leaders only."""

    API_KEY = 3

    def __init__(self, topics: list[str] | None = None) -> None:
        self.topics = topics

    def build(self, request_struct_class: type[LagMetadataRequestV5]) -> LagMetadataRequestV5:
        return request_struct_class(self.topics, False)


# ---------------------------------------------------------------- Metadata v12: topic ids

#: topic -> (topic id as 32 hex digits, partition count); topics in error are left out
TopicIdMap = dict[str, tuple[str, int]]


class _Uuid(AbstractType[bytes]):
    """Kafka's UUID: 16 raw bytes."""

    @classmethod
    def encode(cls, value: bytes) -> bytes:
        return value

    @classmethod
    def decode(cls, data: BytesIO) -> bytes:
        return data.read(16)


class TopicIdsResponse(Response):
    """Each named topic's id (KIP-516: a topic deleted and created again gets a new id)
    and partition count, decoded straight from the flexible v12 layout."""

    API_KEY = 3
    API_VERSION = 12
    SCHEMA = Schema(("throttle_time_ms", Int32))  # decode() below reads the rest
    topics: TopicIdMap

    @classmethod
    def decode(cls, data: BytesIO | bytes) -> TopicIdsResponse:
        buf = rest(data)
        pos = 4  # throttle_time_ms
        nbrokers, pos = uvarint(buf, pos)
        for _ in range(max(nbrokers - 1, 0)):
            pos += 4  # node_id
            _, pos = cstring(buf, pos)  # host
            pos += 4  # port
            _, pos = cstring(buf, pos)  # rack
            pos = skip_tags(buf, pos)
        _, pos = cstring(buf, pos)  # cluster_id
        pos += 4  # controller_id
        ntopics, pos = uvarint(buf, pos)
        topics: TopicIdMap = {}
        for _ in range(max(ntopics - 1, 0)):
            error = I16.unpack_from(buf, pos)[0]
            name, pos = cstring(buf, pos + 2)
            topic_id = buf[pos:pos + 16].hex()
            pos += 17  # id, is_internal
            nparts, pos = uvarint(buf, pos)
            for _ in range(max(nparts - 1, 0)):
                pos += 2 + 4 + 4 + 4  # error, partition, leader, leader epoch
                for _ in range(3):  # replicas, isr, offline replicas
                    n, pos = uvarint(buf, pos)
                    pos += 4 * max(n - 1, 0)
                pos = skip_tags(buf, pos)
            pos += 4  # topic_authorized_operations
            pos = skip_tags(buf, pos)
            if error == 0 and name is not None:
                topics[name] = (topic_id, max(nparts - 1, 0))
        obj = cls(0)
        obj.topics = topics
        return obj


class TopicIdsRequestV12(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 3
    API_VERSION = 12
    RESPONSE_TYPE = TopicIdsResponse
    SCHEMA = Schema(
        ("topics", CompactArray(("topic_id", _Uuid), ("name", STR), ("tags", TaggedFields))),
        ("allow_auto_topic_creation", Boolean),
        ("include_topic_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class TopicIds(Request[TopicIdsRequestV12]):
    """Metadata v12 for the named topics, never creating one: their ids and partition
    counts. Brokers before Kafka 2.8 lack v10+ (`unsupported()` recognises the refusal)."""

    API_KEY = 3

    def __init__(self, topics: list[str]) -> None:
        self.topics = topics

    def build(self, request_struct_class: type[TopicIdsRequestV12]) -> TopicIdsRequestV12:
        return request_struct_class([(bytes(16), t, {}) for t in self.topics], False, False, {})
