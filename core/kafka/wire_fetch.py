# mypy: disallow-subclassing-any=False
# (aiokafka ships no type information: its protocol classes are Any to mypy, and this
# module's whole point is to extend them)
"""Fetch v11 decoded for lag (`LagFetch`) and record timestamps read from raw record
batches (why: core/kafka/wire.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from io import BytesIO
from typing import Any, ClassVar

from aiokafka.protocol.api import Request, Response
from aiokafka.protocol.fetch import FetchRequest_v11, FetchResponse_v11

from kafkaops.core.kafka.wire import I16, I32, rest, zigzag

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
        buf = rest(data)
        view = memoryview(buf)
        i32 = I32.unpack_from
        part = cls._PART.unpack_from
        throttle, error, session = struct.unpack_from(">ihi", buf, 0)
        pos = 10
        ntopics = i32(buf, pos)[0]
        pos += 4
        topics: list[FetchedTopic] = []
        for _ in range(max(ntopics, 0)):
            tlen = I16.unpack_from(buf, pos)[0]
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

    _HEAD: ClassVar[struct.Struct] = struct.Struct(">iiiibiii")
    _PART: ClassVar[struct.Struct] = struct.Struct(">iiqqi")

    def encode(self) -> bytes:
        """The same bytes as aiokafka's generic encoder (tests/test_lag_wire.py), written
        with one struct call per partition: a lag snapshot's Fetch for the ends names
        every partition (10,000: 0.07 s of CPU the generic way, a few ms this way)."""
        d = self.__dict__
        out = bytearray(self._HEAD.pack(
            d["replica_id"], d["max_wait_time"], d["min_bytes"], d["max_bytes"],
            d["isolation_level"], d["session_id"], d["session_epoch"], len(d["topics"])))
        part = self._PART.pack
        for topic, partitions in d["topics"]:
            name = topic.encode("utf-8")
            out += I16.pack(len(name)) + name + I32.pack(len(partitions))
            for p in partitions:
                out += part(*p)
        if d["forgotten_topics_data"]:  # never sent by LagFetch: the generic way
            generic: bytes = super().encode()
            return generic
        rack = (d["rack_id"] or "").encode("utf-8")
        out += I32.pack(0) + I16.pack(len(rack)) + rack
        return bytes(out)


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
                length_r, rpos = zigzag(buf, rpos)
                start = rpos
                ts_delta, p = zigzag(buf, rpos + 1)  # after the record's attributes byte
                off_delta, p = zigzag(buf, p)
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
