# mypy: disallow-subclassing-any=False
# (aiokafka ships no type information: its protocol classes are Any to mypy, and this
# module's whole point is to extend them)
"""Group requests aiokafka lacks: OffsetFetch v8, FindCoordinator v4, DescribeGroups v5
(why each: core/kafka/wire.py).
"""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any, ClassVar

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactBytes,
    Int8,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

from kafkaops.core.kafka.wire import I16, I32, STR, cstring, rest, skip_tags, uvarint

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
            ("group_id", STR),
            ("topics", CompactArray(
                ("name", STR),
                ("partitions", CompactArray(
                    ("partition_index", Int32),
                    ("committed_offset", Int64),
                    ("committed_leader_epoch", Int32),
                    ("metadata", STR),
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
        buf = rest(data)
        part = cls._PART.unpack_from
        i16 = I16.unpack_from
        throttle = I32.unpack_from(buf, 0)[0]
        pos = 4
        ngroups, pos = uvarint(buf, pos)
        groups: list[GroupCommitted] = []
        for _ in range(max(ngroups - 1, 0)):
            group, pos = cstring(buf, pos)
            rows: list[CommittedRow] = []
            ntopics, pos = uvarint(buf, pos)
            for _ in range(max(ntopics - 1, 0)):
                topic, pos = cstring(buf, pos)
                nparts, pos = uvarint(buf, pos)
                for _ in range(max(nparts - 1, 0)):
                    partition, offset, _epoch = part(buf, pos)
                    pos += 16
                    mlen, pos = uvarint(buf, pos)
                    if mlen > 1:
                        pos += mlen - 1
                    error = i16(buf, pos)[0]
                    pos += 2
                    pos = pos + 1 if buf[pos] == 0 else skip_tags(buf, pos)
                    rows.append((topic or "", partition, offset, error))
                pos = skip_tags(buf, pos)
            error = i16(buf, pos)[0]
            pos = skip_tags(buf, pos + 2)
            groups.append((group or "", error, rows))
        return cls(throttle, groups, {})


class OffsetFetchRequestV8(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 8
    RESPONSE_TYPE = OffsetFetchResponseV8
    SCHEMA = Schema(
        ("groups", CompactArray(
            ("group_id", STR),
            ("topics", CompactArray(
                ("name", STR),
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
            ("key", STR),
            ("node_id", Int32),
            ("host", STR),
            ("port", Int32),
            ("error_code", Int16),
            ("error_message", STR),
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
        ("coordinator_keys", CompactArray(STR)),
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
            ("group_id", STR),
            ("group_state", STR),
            ("protocol_type", STR),
            ("protocol_data", STR),
            ("members", CompactArray(
                ("member_id", STR),
                ("group_instance_id", STR),
                ("client_id", STR),
                ("client_host", STR),
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
        ("groups", CompactArray(STR)),
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
