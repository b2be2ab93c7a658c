# mypy: disallow-subclassing-any=False
# (aiokafka ships no type information: its protocol classes are Any to mypy, and this
# module's whole point is to extend them)
"""Kafka requests aiokafka 0.14 does not offer, built from its own protocol building blocks,
with hand-written decoders for the answers that get large.

Why each one is here:
- `OffsetFetchV8`: committed offsets of many groups in one request (KIP-709, Kafka 3.0+).
  aiokafka implements OffsetFetch only up to v3, one group per request.
- `FindCoordinatorV4`: the coordinators of many groups in one request (KIP-699).
- `DescribeGroupsV5`: many groups in one request. aiokafka's DescribeGroups v3 decodes the
  answer with the v2 layout (it lacks `authorized_operations`), so with three or more
  groups the decoder drifts and fails; that is the "Tansu cannot describe 3+ groups" symptom
  in BROKER_NOTES.md. The flexible v5 layout below decodes any number of groups.
- `LagFetch`: a Fetch (v11) whose answer is decoded straight into (partition, error, high
  watermark, log start, records) tuples, several times faster than aiokafka's generic
  decoder on 10,000 partitions.
- `LagMetadata`: Metadata (v5) decoded into partitions and leaders only, for the same reason.

Each `Request` here offers a single version. `conn.send()` raises NotImplementedError or
IncompatibleBrokerVersion (before anything is written) when the broker does not support it;
`unsupported()` recognises that, and callers fall back to aiokafka's older requests.

Nothing here leaves core: callers in core turn the tuples into core records.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from io import BytesIO
from typing import Any, ClassVar

from aiokafka.errors import IncompatibleBrokerVersion
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.fetch import FetchRequest_v11, FetchResponse_v11
from aiokafka.protocol.metadata import MetadataRequest_v5, MetadataResponse_v5
from aiokafka.protocol.types import (
    AbstractType,
    Boolean,
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

_STR = CompactString("utf-8")

#: error codes the lag engine looks at (Kafka protocol)
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
GROUP_AUTHORIZATION_FAILED = 30
GROUP_ID_NOT_FOUND = 69

ERROR_NAMES = {
    OFFSET_OUT_OF_RANGE: "offset out of range",
    UNKNOWN_TOPIC_OR_PARTITION: "unknown topic or partition",
    NOT_LEADER_OR_FOLLOWER: "not the leader",
    COORDINATOR_LOAD_IN_PROGRESS: "coordinator still loading",
    COORDINATOR_NOT_AVAILABLE: "coordinator not available",
    NOT_COORDINATOR: "not the coordinator",
    GROUP_AUTHORIZATION_FAILED: "not authorised to read the group",
    GROUP_ID_NOT_FOUND: "group not found",
}


def error_text(code: int) -> str:
    return ERROR_NAMES.get(code, f"Kafka error code {code}")


def unsupported(err: BaseException) -> bool:
    """True when `send()` refused a request because the broker lacks that API version."""
    return isinstance(err, IncompatibleBrokerVersion | NotImplementedError)


# ---------------------------------------------------------------- compact decoding helpers


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result, shift = b & 0x7F, 7
    while True:
        pos += 1
        b = buf[pos]
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos + 1
        shift += 7


def _zigzag(buf: bytes, pos: int) -> tuple[int, int]:
    n, pos = _uvarint(buf, pos)
    return (n >> 1) ^ -(n & 1), pos


def _cstring(buf: bytes, pos: int) -> tuple[str | None, int]:
    n, pos = _uvarint(buf, pos)
    if n == 0:
        return None, pos
    end = pos + n - 1
    return buf[pos:end].decode("utf-8"), end


def _skip_tags(buf: bytes, pos: int) -> int:
    n, pos = _uvarint(buf, pos)
    for _ in range(n):
        _, pos = _uvarint(buf, pos)
        size, pos = _uvarint(buf, pos)
        pos += size
    return pos


def _rest(data: BytesIO | bytes) -> bytes:
    return data if isinstance(data, bytes) else data.read()


_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


# ---------------------------------------------------------------- OffsetFetch v8 (KIP-709)

#: (topic, partition, committed offset or -1, error code)
CommittedRow = tuple[str, int, int, int]
#: (group, group error code, rows)
GroupCommitted = tuple[str, int, list[CommittedRow]]


class OffsetFetchResponseV8(Response):
    API_KEY = 9
    API_VERSION = 8
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("groups", CompactArray(
            ("group_id", _STR),
            ("topics", CompactArray(
                ("name", _STR),
                ("partitions", CompactArray(
                    ("partition_index", Int32),
                    ("committed_offset", Int64),
                    ("committed_leader_epoch", Int32),
                    ("metadata", _STR),
                    ("error_code", Int16),
                    ("tags", TaggedFields),
                )),
                ("tags", TaggedFields),
            )),
            ("error_code", Int16),
            ("tags", TaggedFields),
        )),
        ("tags", TaggedFields),
    )
    groups: list[GroupCommitted]

    _PART: ClassVar[struct.Struct] = struct.Struct(">iqi")

    @classmethod
    def decode(cls, data: BytesIO | bytes) -> OffsetFetchResponseV8:
        # 50,000 partition entries take ~0.4 s through aiokafka's generic decoder and a
        # tenth of that here; the layout is the SCHEMA above.
        buf = _rest(data)
        part = cls._PART.unpack_from
        i16 = _I16.unpack_from
        throttle = _I32.unpack_from(buf, 0)[0]
        pos = 4
        ngroups, pos = _uvarint(buf, pos)
        groups: list[GroupCommitted] = []
        for _ in range(max(ngroups - 1, 0)):
            group, pos = _cstring(buf, pos)
            rows: list[CommittedRow] = []
            ntopics, pos = _uvarint(buf, pos)
            for _ in range(max(ntopics - 1, 0)):
                topic, pos = _cstring(buf, pos)
                nparts, pos = _uvarint(buf, pos)
                for _ in range(max(nparts - 1, 0)):
                    partition, offset, _epoch = part(buf, pos)
                    pos += 16
                    mlen, pos = _uvarint(buf, pos)
                    if mlen > 1:
                        pos += mlen - 1
                    error = i16(buf, pos)[0]
                    pos += 2
                    pos = pos + 1 if buf[pos] == 0 else _skip_tags(buf, pos)
                    rows.append((topic or "", partition, offset, error))
                pos = _skip_tags(buf, pos)
            error = i16(buf, pos)[0]
            pos = _skip_tags(buf, pos + 2)
            groups.append((group or "", error, rows))
        return cls(throttle, groups, {})


class OffsetFetchRequestV8(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 8
    RESPONSE_TYPE = OffsetFetchResponseV8
    SCHEMA = Schema(
        ("groups", CompactArray(
            ("group_id", _STR),
            ("topics", CompactArray(
                ("name", _STR),
                ("partition_indexes", CompactArray(Int32)),
                ("tags", TaggedFields),
            )),
            ("tags", TaggedFields),
        )),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


class OffsetFetchV8(Request[OffsetFetchRequestV8]):
    """Committed offsets of several groups. `topics=None` for a group asks for every
    partition it has committed (valid in v8, unlike Tansu's broken v2/v3 null topics)."""

    API_KEY = 9

    def __init__(self, groups: list[tuple[str, list[tuple[str, list[int]]] | None]]) -> None:
        self.groups = groups

    def build(self, request_struct_class: type[OffsetFetchRequestV8]) -> OffsetFetchRequestV8:
        groups: list[Any] = [
            (g, None if topics is None else [(t, parts, {}) for t, parts in topics], {})
            for g, topics in self.groups
        ]
        return request_struct_class(groups, False, {})


# ---------------------------------------------------------------- FindCoordinator v4 (KIP-699)

#: (key, node id, error code, error message)
CoordinatorRow = tuple[str, int, int, str | None]


class FindCoordinatorResponseV4(Response):
    API_KEY = 10
    API_VERSION = 4
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("coordinators", CompactArray(
            ("key", _STR),
            ("node_id", Int32),
            ("host", _STR),
            ("port", Int32),
            ("error_code", Int16),
            ("error_message", _STR),
            ("tags", TaggedFields),
        )),
        ("tags", TaggedFields),
    )
    coordinators: list[Any]

    def rows(self) -> list[CoordinatorRow]:
        return [(c[0], c[1], c[4], c[5]) for c in self.coordinators]


class FindCoordinatorRequestV4(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 10
    API_VERSION = 4
    RESPONSE_TYPE = FindCoordinatorResponseV4
    SCHEMA = Schema(
        ("key_type", Int8),
        ("coordinator_keys", CompactArray(_STR)),
        ("tags", TaggedFields),
    )


class FindCoordinatorV4(Request[FindCoordinatorRequestV4]):
    """Group coordinators for many groups at once (key_type 0 = group)."""

    API_KEY = 10

    def __init__(self, groups: list[str]) -> None:
        self.groups = groups

    def build(
        self, request_struct_class: type[FindCoordinatorRequestV4]
    ) -> FindCoordinatorRequestV4:
        return request_struct_class(0, self.groups, {})


# ---------------------------------------------------------------- DescribeGroups v5

#: (member id, client id, client host, assignment bytes)
MemberRow = tuple[str, str, str, bytes]
#: (error code, group, state, protocol type, members)
GroupRow = tuple[int, str, str, str, list[MemberRow]]


class DescribeGroupsResponseV5(Response):
    API_KEY = 15
    API_VERSION = 5
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("groups", CompactArray(
            ("error_code", Int16),
            ("group_id", _STR),
            ("group_state", _STR),
            ("protocol_type", _STR),
            ("protocol_data", _STR),
            ("members", CompactArray(
                ("member_id", _STR),
                ("group_instance_id", _STR),
                ("client_id", _STR),
                ("client_host", _STR),
                ("member_metadata", CompactBytes),
                ("member_assignment", CompactBytes),
                ("tags", TaggedFields),
            )),
            ("authorized_operations", Int32),
            ("tags", TaggedFields),
        )),
        ("tags", TaggedFields),
    )
    groups: list[Any]

    def rows(self) -> list[GroupRow]:
        return [
            (g[0], g[1], g[2] or "", g[3] or "",
             [(m[0] or "", m[2] or "", m[3] or "", m[5] or b"") for m in g[5]])
            for g in self.groups
        ]


class DescribeGroupsRequestV5(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 15
    API_VERSION = 5
    RESPONSE_TYPE = DescribeGroupsResponseV5
    SCHEMA = Schema(
        ("groups", CompactArray(_STR)),
        ("include_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class DescribeGroupsV5(Request[DescribeGroupsRequestV5]):
    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self.groups = groups

    def build(
        self, request_struct_class: type[DescribeGroupsRequestV5]
    ) -> DescribeGroupsRequestV5:
        return request_struct_class(self.groups, False, {})


def decode_assignment(data: bytes) -> list[tuple[str, int]] | None:
    """A consumer-protocol member assignment as (topic, partition) pairs; None when empty or
    not the consumer protocol (Tansu reports it empty)."""
    if not data:
        return None
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    try:
        decoded = ConsumerProtocolMemberAssignment.decode(data)
    except Exception:  # noqa: BLE001 - another protocol's bytes: we only show what we can read
        return None
    return [(t, p) for t, parts in decoded.assignment for p in parts]


# ---------------------------------------------------------------- Fetch v11, decoded for lag

#: (partition, error code, high watermark, log start offset or -1, record bytes)
FetchedPartition = tuple[int, int, int, int, memoryview]
#: (topic, partitions)
FetchedTopic = tuple[str, list[FetchedPartition]]


class LagFetchResponse(Response):
    API_KEY = 1
    API_VERSION = 11
    SCHEMA = FetchResponse_v11.SCHEMA
    topics: list[FetchedTopic]

    _PART: ClassVar[struct.Struct] = struct.Struct(">ihqqqi")

    @classmethod
    def decode(cls, data: BytesIO | bytes) -> LagFetchResponse:
        buf = _rest(data)
        view = memoryview(buf)
        i32 = _I32.unpack_from
        part = cls._PART.unpack_from
        throttle, error, session = struct.unpack_from(">ihi", buf, 0)
        pos = 10
        ntopics = i32(buf, pos)[0]
        pos += 4
        topics: list[FetchedTopic] = []
        for _ in range(max(ntopics, 0)):
            tlen = _I16.unpack_from(buf, pos)[0]
            pos += 2
            topic = buf[pos:pos + tlen].decode("utf-8")
            pos += tlen
            nparts = i32(buf, pos)[0]
            pos += 4
            parts: list[FetchedPartition] = []
            for _ in range(max(nparts, 0)):
                partition, perr, hw, _lso, log_start, naborted = part(buf, pos)
                pos += 34
                if naborted > 0:
                    pos += 16 * naborted
                pos += 4  # preferred_read_replica
                size = i32(buf, pos)[0]
                pos += 4
                if size > 0:
                    records = view[pos:pos + size]
                    pos += size
                else:
                    records = view[0:0]
                parts.append((partition, perr, hw, log_start, records))
            topics.append((topic, parts))
        return cls(throttle, error, session, topics)


class LagFetchRequestV11(FetchRequest_v11):
    RESPONSE_TYPE = LagFetchResponse


class LagFetch(Request[LagFetchRequestV11]):
    """Fetch from given offsets, for high watermarks, log start offsets and the timestamp of
    the record at each offset. `topics`: [(topic, [(partition, offset, max_bytes)])]."""

    API_KEY = 1

    def __init__(self, max_wait_ms: int, min_bytes: int, max_bytes: int,
                 topics: list[tuple[str, list[tuple[int, int, int]]]]) -> None:
        self.max_wait_ms = max_wait_ms
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes
        self.topics = topics

    def build(self, request_struct_class: type[LagFetchRequestV11]) -> LagFetchRequestV11:
        topics = [
            (t, [(p, -1, offset, -1, max_bytes) for p, offset, max_bytes in parts])
            for t, parts in self.topics
        ]
        # replica -1 (a consumer), read_uncommitted (the high watermark, as
        # kafka-consumer-groups reports), no fetch session, no forgotten topics, no rack
        return request_struct_class(
            -1, self.max_wait_ms, self.min_bytes, self.max_bytes, 0, 0, -1, topics, [], ""
        )


def fetched_from_aiokafka(resp: Any) -> list[FetchedTopic]:
    """The same tuples from an answer decoded by aiokafka (the fallback for brokers without
    Fetch v11). Versions before v5 carry no log start offset: -1."""
    out: list[FetchedTopic] = []
    for topic, parts in resp.topics:
        rows: list[FetchedPartition] = []
        for p in parts:
            log_start = p[4] if len(p) > 6 else -1
            records = p[-1] or b""
            rows.append((p[0], p[1], p[2], log_start, memoryview(records)))
        out.append((topic, rows))
    return out


# ---------------------------------------------------------------- record timestamps

_BATCH = struct.Struct(">qiibIhiqqqhii")  # the 61-byte v2 record batch header
_LOG_APPEND_TIME = 0x08
_CONTROL = 0x20
_COMPRESSION = 0x07


def record_timestamp(records: memoryview | bytes, offset: int) -> int | None:
    """Timestamp (ms) of the first data record at or after `offset`; see record_timestamps."""
    return record_timestamps(records, [offset]).get(offset)


def record_timestamps(records: memoryview | bytes, offsets: Sequence[int]) -> dict[int, int]:
    """Timestamp (ms) of the first data record at or after each offset, for the offsets the
    fetched record bytes reach (the others are left out).

    A Fetch from offset N answers from the start of the batch holding N, and Tansu goes on
    with every later batch, so one answer can serve several groups' offsets on a partition.
    Batches holding no wanted offset are skipped by their header; the wanted records are
    found by walking their batch (compressed batches are opened with aiokafka's reader).
    Control batches (transaction markers) are not data and are skipped. When the broker cut
    a batch short (its max_bytes), the batch's first timestamp stands in: producers fill a
    batch within linger.ms, so that overstates the age by at most the batch's time span.
    """
    buf = bytes(records) if isinstance(records, memoryview) else records
    targets = sorted(set(offsets))
    out: dict[int, int] = {}
    size = len(buf)
    pos = 0
    i = 0
    while pos + 17 <= size and i < len(targets):
        base, length = struct.unpack_from(">qi", buf, pos)
        magic = buf[pos + 16]
        end = pos + 12 + length
        if magic < 2:
            out.update(_legacy_timestamps(buf[pos:], targets[i:]))
            break
        if pos + 61 > size:
            break
        (_, _, _, _, _, attrs, last_delta, first_ts, max_ts,
         _, _, _, count) = _BATCH.unpack_from(buf, pos)
        last = base + last_delta
        if last < targets[i] or attrs & _CONTROL:
            pos = end
            continue
        j = i
        while j < len(targets) and targets[j] <= last:
            j += 1
        mine = targets[i:j]
        i = j
        if attrs & _LOG_APPEND_TIME:
            out.update((t, int(max_ts)) for t in mine)
        elif end > size:
            out.update((t, int(first_ts)) for t in mine)
        elif attrs & _COMPRESSION:
            out.update(_compressed_timestamps(buf[pos:end], mine))
        else:
            k = 0
            rpos = pos + 61
            for _ in range(count):
                length_r, rpos = _zigzag(buf, rpos)
                start = rpos
                ts_delta, p = _zigzag(buf, rpos + 1)  # after the record's attributes byte
                off_delta, p = _zigzag(buf, p)
                while k < len(mine) and mine[k] <= base + off_delta:
                    out[mine[k]] = int(first_ts + ts_delta)
                    k += 1
                if k == len(mine):
                    break
                rpos = start + length_r
        pos = end
    return out


def _compressed_timestamps(batch: bytes, targets: list[int]) -> dict[int, int]:
    from aiokafka.record.default_records import DefaultRecordBatch

    out: dict[int, int] = {}
    k = 0
    try:
        for rec in DefaultRecordBatch(batch):
            while k < len(targets) and targets[k] <= rec.offset:
                out[targets[k]] = int(rec.timestamp)
                k += 1
            if k == len(targets):
                break
    except Exception:  # noqa: BLE001 - a codec we cannot open: those ages stay unknown
        return out
    return out


def _legacy_timestamps(buf: bytes, targets: list[int]) -> dict[int, int]:
    """Message format v0/v1 (Kafka before 0.11): v0 has no timestamps at all."""
    from aiokafka.record.memory_records import MemoryRecords

    out: dict[int, int] = {}
    k = 0
    try:
        records = MemoryRecords(buf)
        while records.has_next() and k < len(targets):
            batch = records.next_batch()
            if batch is None:
                break
            for rec in batch:
                while k < len(targets) and targets[k] <= rec.offset:
                    ts = rec.timestamp
                    if ts is not None and ts >= 0:
                        out[targets[k]] = int(ts)
                    k += 1
    except Exception:  # noqa: BLE001 - truncated legacy message sets: ages unknown
        return out
    return out


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
        buf = _rest(data)
        i16 = _I16.unpack_from
        i32 = _I32.unpack_from
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
        buf = _rest(data)
        pos = 4  # throttle_time_ms
        nbrokers, pos = _uvarint(buf, pos)
        for _ in range(max(nbrokers - 1, 0)):
            pos += 4  # node_id
            _, pos = _cstring(buf, pos)  # host
            pos += 4  # port
            _, pos = _cstring(buf, pos)  # rack
            pos = _skip_tags(buf, pos)
        _, pos = _cstring(buf, pos)  # cluster_id
        pos += 4  # controller_id
        ntopics, pos = _uvarint(buf, pos)
        topics: TopicIdMap = {}
        for _ in range(max(ntopics - 1, 0)):
            error = _I16.unpack_from(buf, pos)[0]
            name, pos = _cstring(buf, pos + 2)
            topic_id = buf[pos:pos + 16].hex()
            pos += 17  # id, is_internal
            nparts, pos = _uvarint(buf, pos)
            for _ in range(max(nparts - 1, 0)):
                pos += 2 + 4 + 4 + 4  # error, partition, leader, leader epoch
                for _ in range(3):  # replicas, isr, offline replicas
                    n, pos = _uvarint(buf, pos)
                    pos += 4 * max(n - 1, 0)
                pos = _skip_tags(buf, pos)
            pos += 4  # topic_authorized_operations
            pos = _skip_tags(buf, pos)
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
        ("topics", CompactArray(("topic_id", _Uuid), ("name", _STR), ("tags", TaggedFields))),
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
