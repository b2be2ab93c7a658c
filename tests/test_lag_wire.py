"""The wire-level pieces of the lag engine as tables: the hand-written decoders read what
aiokafka's own encoders write, and record timestamps are found inside plain, compressed,
truncated, control and log-append-time record batches."""

from __future__ import annotations

import struct

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from kafkaops.core.kafka.wire_fetch import (
    LagFetch,
    LagFetchRequestV11,
    LagFetchResponse,
    record_timestamp,
    record_timestamps,
)
from kafkaops.core.kafka.wire_groups import (
    DescribeGroupsResponseV5,
    OffsetFetchResponseV8,
    decode_assignment,
)
from kafkaops.core.kafka.wire_metadata import LagMetadataResponse

GZIP, LZ4 = 1, 3


def batch(base: int, timestamps: list[int], *, compression: int = 0, control: bool = False,
          log_append_time: int | None = None) -> bytes:
    """A v2 record batch of one record per timestamp, offsets base, base+1, ..."""
    builder = DefaultRecordBatchBuilder(2, compression, 0, -1, -1, -1, 1 << 20)
    for i, ts in enumerate(timestamps):
        builder.append(i, ts, None, b"value-%d" % i, [])
    buf = bytearray(builder.build())
    struct.pack_into(">q", buf, 0, base)
    attrs = struct.unpack_from(">h", buf, 21)[0]
    if control:
        attrs |= 0x20
    if log_append_time is not None:
        attrs |= 0x08
        struct.pack_into(">q", buf, 35, log_append_time)
    struct.pack_into(">h", buf, 21, attrs)
    return bytes(buf)


TWO = batch(0, [100, 200, 300, 400]) + batch(4, [500, 600, 700])

CASES = [
    ("first record", TWO, [0], {0: 100}),
    ("middle of a batch", TWO, [2], {2: 300}),
    ("several groups' offsets in one answer", TWO, [1, 5, 3], {1: 200, 3: 400, 5: 600}),
    ("past the records fetched", TWO, [7, 9], {}),
    ("offset compacted away: the next record", batch(10, [900, 950]), [7], {7: 900}),
    ("gzip batch", batch(0, [10, 20, 30, 40], compression=GZIP), [2], {2: 30}),
    ("lz4 batch", batch(20, [10, 20, 30], compression=LZ4), [21, 22], {21: 20, 22: 30}),
    ("batch cut short by max_bytes: its first timestamp stands in",
     batch(0, [100, 200, 300])[:70], [2], {2: 100}),
    ("header cut short: nothing", batch(0, [100, 200])[:40], [0], {}),
    ("transaction marker skipped", batch(3, [999], control=True) + batch(4, [400]), [3],
     {3: 400}),
    ("log append time", batch(0, [1, 2, 3], log_append_time=5000), [1], {1: 5000}),
    ("no records", b"", [0], {}),
]


@pytest.mark.parametrize(("name", "records", "offsets", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_record_timestamps(name, records, offsets, expected):
    assert record_timestamps(memoryview(records), offsets) == expected
    for offset in offsets:
        assert record_timestamp(records, offset) == expected.get(offset)


def test_offset_fetch_v8_decoder_reads_what_aiokafka_writes():
    data = OffsetFetchResponseV8.SCHEMA.encode((
        7,
        [
            ("orders", [("t1", [(0, 5, -1, None, 0, {}), (1, -1, -1, "meta", 0, {}),
                                (2, 9, 3, "", 88, {})], {})], 0, {}),
            ("empty", [], 0, {}),
            ("refused", [], 30, {1: b"x"}),
        ],
        {},
    ))
    resp = OffsetFetchResponseV8.decode(data)
    assert resp.groups == [
        ("orders", 0, [("t1", 0, 5, 0), ("t1", 1, -1, 0), ("t1", 2, 9, 88)]),
        ("empty", 0, []),
        ("refused", 30, []),
    ]


def test_fetch_v11_decoder_reads_what_aiokafka_writes():
    records = batch(0, [1, 2])
    data = LagFetchResponse.SCHEMA.encode((
        0, 0, 0,
        [("t", [(0, 0, 30, 30, 4, [(1, 2), (3, 4)], -1, records),
                (1, 1, -1, -1, -1, None, -1, None)])],
    ))
    resp = LagFetchResponse.decode(data)
    (topic, parts), = resp.topics
    assert topic == "t"
    assert [(p, e, hw, start, bytes(r)) for p, e, hw, start, r in parts] == [
        (0, 0, 30, 4, records), (1, 1, -1, -1, b"")]


@pytest.mark.parametrize("topics", [
    [],
    [("orders", [(0, 7, 16384)])],
    [("orders", [(0, 7, 1), (3, 0, 1), (11, 1 << 40, 1)]), ("pay-ments.é", [(2, 5, 1)])],
], ids=["none", "one", "several"])
def test_fetch_v11_encoder_writes_what_aiokafka_writes(topics):
    request = LagFetch(100, 1, 4096, topics).build(LagFetchRequestV11)
    generic = LagFetchRequestV11.SCHEMA.encode(
        [request.__dict__[name] for name in LagFetchRequestV11.SCHEMA.names])
    assert request.encode() == generic


def test_metadata_v5_decoder_reads_what_aiokafka_writes():
    data = LagMetadataResponse.SCHEMA.encode((
        0,
        [(111, "127.0.0.1", 9092, None), (112, "h2", 9093, "rack-a")],
        "cluster",
        111,
        [
            (0, "orders", False, [(0, 0, 111, [111, 112], [111], []),
                                  (0, 1, -1, [112], [], [112])]),
            (0, "__consumer_offsets", True, [(0, 0, 112, [112], [112], [])]),
            (3, "gone", False, []),
        ],
    ))
    resp = LagMetadataResponse.decode(data)
    assert resp.topics == {
        "orders": (False, [(0, 111), (1, -1)]),
        "__consumer_offsets": (True, [(0, 112)]),
    }


def test_describe_groups_v5_many_groups():
    data = DescribeGroupsResponseV5.SCHEMA.encode((
        0,
        [(0, f"g{i}", "Stable", "consumer", "range",
          [(f"m{i}", None, "client", "/10.0.0.1", b"", b"", {})], -1, {}) for i in range(5)],
        {},
    ))
    rows = DescribeGroupsResponseV5.decode(data).rows()
    assert [r[1] for r in rows] == [f"g{i}" for i in range(5)]
    assert rows[3] == (0, "g3", "Stable", "consumer", [("m3", "client", "/10.0.0.1", b"")])


def test_decode_assignment():
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    data = ConsumerProtocolMemberAssignment(0, [("orders", [0, 2]), ("audit", [1])], b"").encode()
    assert decode_assignment(data) == [("orders", 0), ("orders", 2), ("audit", 1)]
    assert decode_assignment(b"") is None  # Tansu: not reported
    assert decode_assignment(b"\x00") is None  # not the consumer protocol
