"""Usage arithmetic, pure: batches read off the log (every codec, cut short, hostile), the
estimates and their intervals, sums per team, movers, samples signed and checked, and the
chargeback whose totals add up."""

from __future__ import annotations

import csv
import io
import math
from decimal import Decimal

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from kafkaops.core.config import CostsConfig, TeamConfig
from kafkaops.core.untrusted import UntrustedData
from kafkaops.core.usage import batches as batches_mod
from kafkaops.core.usage.batches import Batch, estimate, merge, read_batches
from kafkaops.core.usage.chargeback import bill, csv_rows, month_bounds
from kafkaops.core.usage.history import Sample, TopicSample, decode, encode
from kafkaops.core.usage.logread import LogRead
from kafkaops.core.usage.model import Amount, TopicUsage
from kafkaops.core.usage.summary import add, movers, range_amounts, shown, teams_of

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch(base: int, values: list[bytes], *, codec: str = "none", key: bytes | None = b"k",
          headers: list[tuple[str, bytes]] | None = None, ts: int = 1_000) -> bytes:
    b = DefaultRecordBatchBuilder(2, CODECS[codec], 0, -1, -1, -1, 10_000_000)
    for i, v in enumerate(values):
        b.append(i, timestamp=ts + i, key=key, value=v, headers=headers or [])
    raw = bytearray(b.build())
    raw[0:8] = base.to_bytes(8, "big")  # the broker assigns the base offset
    return bytes(raw)


@pytest.mark.parametrize("codec", list(CODECS))
def test_every_codec_is_measured(codec: str) -> None:
    values = [b"x" * 200 for _ in range(10)]
    raw = batch(5, values, codec=codec, headers=[("h", b"hv")])
    (b,) = read_batches(raw)
    assert (b.base_offset, b.last_offset, b.records, b.codec) == (5, 14, 10, codec)
    assert b.stored_bytes == len(raw)
    assert b.payload_bytes == 10 * (1 + 200 + 1 + 2)  # key, value, header key and value
    assert b.first_ts == 1_000 and b.max_ts == 1_009
    if codec == "none":
        assert b.inflated_bytes == b.stored_bytes
    else:
        assert b.inflated_bytes is not None and b.inflated_bytes > 3 * b.stored_bytes


def test_null_keys_and_values_count_nothing() -> None:
    (b,) = read_batches(batch(0, [b"", b"abc"], key=None))
    assert b.payload_bytes == 3


def test_a_batch_cut_short_and_what_follows_are_left_out() -> None:
    raw = batch(0, [b"a" * 50] * 3) + batch(3, [b"b" * 50] * 3)
    assert [b.base_offset for b in read_batches(raw)] == [0, 3]
    assert [b.base_offset for b in read_batches(raw[:-1])] == [0]
    assert read_batches(raw[:30]) == []


@pytest.mark.parametrize("junk", [b"", b"\x00" * 10, b"\xff" * 200, b"\x00" * 61,
                                  bytes(range(256)) * 3])
def test_garbage_never_raises(junk: bytes) -> None:
    assert isinstance(read_batches(junk), list)


def test_a_corrupt_compressed_body_is_measured_by_its_header() -> None:
    raw = bytearray(batch(0, [b"z" * 300] * 5, codec="gzip"))
    raw[70:90] = b"\x00" * 20  # inside the compressed records
    (b,) = read_batches(bytes(raw))
    assert b.records == 5 and b.stored_bytes == len(raw)
    assert b.payload_bytes is None and b.inflated_bytes is None


def test_a_decompression_bomb_stops_at_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches_mod, "MAX_INFLATED", 100_000)
    raw = batch(0, [b"\x00" * 400_000], codec="gzip")
    (b,) = read_batches(raw)
    assert b.inflated_bytes is None and b.stored_bytes == len(raw)


def test_records_lying_about_their_lengths() -> None:
    raw = bytearray(batch(0, [b"v" * 20, b"w" * 20]))
    raw[61] = 0x7E  # the first record says it is 63 bytes long: past the batch's end
    (b,) = read_batches(bytes(raw))
    assert b.payload_bytes is None and b.records == 2


def fake(base: int, records: int, stored: int, payload: int | None = None) -> Batch:
    return Batch(base, base + records - 1, records, stored, stored, payload or stored, "none",
                 0, 0)


def test_an_exact_estimate_has_no_interval() -> None:
    e = estimate([fake(0, 10, 1000), fake(10, 10, 1100)], complete=True)
    assert (e.records, e.stored_bytes, e.relative_error) == (20, 2100, 0.0)
    assert e.bytes_per_record == 105


def test_sampled_estimates_state_an_interval_that_shrinks_with_more_batches() -> None:
    few = estimate([fake(i * 10, 10, 1000 + 50 * (i % 3)) for i in range(3)], complete=False)
    many = estimate([fake(i * 10, 10, 1000 + 50 * (i % 3)) for i in range(30)], complete=False)
    assert 0 < many.relative_error < few.relative_error < 0.5
    assert estimate([fake(0, 10, 100)], complete=False).relative_error == 1.0
    assert math.isinf(estimate([], complete=False).relative_error)
    both = merge([few, many])
    assert both.records == few.records + many.records


def test_range_amounts_exact_where_read_and_estimated_where_not() -> None:
    read = LogRead()
    read.add([fake(0, 10, 1000), fake(10, 10, 1000)])          # [0, 20) read whole
    read.add([fake(50, 10, 1200), fake(60, 10, 1200)])         # [50, 70) read whole
    stored, payload = range_amounts(read, 0, 20, None)
    assert stored == Amount(2000.0, 0.0, "log", "every batch read") and payload.exact
    stored, _ = range_amounts(read, 0, 70, None)
    # 40 offsets were read (4,400 bytes); the 30 between are 30 x (4,400 / 40) = 3,300
    assert stored.value == pytest.approx(4400 + 3300)
    assert 0 < stored.error < stored.value and "30 of 70 records estimated" in stored.detail
    unknown, _ = range_amounts(LogRead(), 0, 5, None)
    assert unknown.value is None and unknown.source == "unknown"
    assert range_amounts(read, 5, 5, None)[0] == Amount.zero()


def test_sums_add_values_and_errors_as_independent() -> None:
    total = add([Amount(100.0, 3.0, "log", "x"), Amount(50.0, 4.0, "log", "y"), Amount.zero()])
    assert (total.value, total.error) == (150.0, 5.0)
    assert add([Amount(1.0, 0, "log", "a"), Amount.unknown("no batch")]).value is None
    assert shown(Amount(4_560_000.0, 136_800.0, "log", "")) == "4.56 MB ±3%"
    assert shown(Amount(4_560_000.0, 0, "log", "")) == "4.56 MB"
    # a small interval is still an interval: never "±0%"
    assert shown(Amount(4_560_000.0, 13_680.0, "log", "")) == "4.56 MB ±0.3%"
    assert shown(Amount(4_560_000.0, 45.0, "log", "")) == "4.56 MB ±<0.1%"


def usage(topic: str, team: str, now: float, before: float) -> TopicUsage:
    return TopicUsage(topic, team, False, 1, 3, 10, Amount(now, 0, "log", ""),
                      Amount(now, 0, "log", ""), 10, 10, Amount(now, 0, "log", ""), 10,
                      Amount(before, 0, "log", ""), False, None, None, None, None, (), (),
                      (1, 2))


def test_teams_sum_their_topics_and_movers_rank_by_change() -> None:
    topics = [usage("a", "pay", 1000, 100), usage("b", "pay", 10, 10),
              usage("c", "unowned", 50, 500)]
    teams = teams_of(topics, {"pay": "#p", "ops": None}, ["pay", "ops"])
    assert [(t.team, t.topics, t.bytes_in.value, t.buckets) for t in teams] == [
        ("pay", 2, 1010.0, (2, 4)), ("ops", 0, 0.0, ()), ("unowned", 1, 50.0, (1, 2))]
    assert teams[0].bytes_stored_replicated.value == 3 * 1010.0
    got = [(m.kind, m.name, m.change) for m in movers(topics, teams)]
    assert got == [("team", "pay", 900.0), ("team", "unowned", -450.0),
                   ("topic", "a", 900.0), ("topic", "c", -450.0)]


# ---------------------------------------------------------------- samples and the bill

KEY = b"sample-key"


def sample(at: float, rows: list[tuple[str, int, int, float]], cluster: str = "primary"
           ) -> Sample:
    """rows: (topic, replicas, end offsets, stored bytes); 100 bytes a record produced."""
    return Sample(cluster, at, "test", tuple(
        TopicSample(t, rf, end, 0, stored, 0.0, end, end * 100.0) for t, rf, end, stored in rows
    ), True)


def test_samples_round_trip_signed() -> None:
    s = sample(1_794_300_000.0, [("orders", 3, 10, 1000.0)])
    key, value = encode(s, KEY)
    assert key == b"primary|" + s.hour.encode()
    back = decode(value, KEY)
    assert back.topics == s.topics and back.signed


@pytest.mark.parametrize("tamper", [
    lambda v: v.replace(b'"orders",3,10', b'"orders",3,99'),   # an altered figure
    lambda v: v.replace(b'"sig":"', b'"sig":"0'),              # a broken signature
    lambda v: v[: v.index(b',"sig"')] + b"}",                   # the signature removed
])
def test_forged_or_altered_samples_are_refused(tamper) -> None:  # noqa: ANN001
    _, value = encode(sample(1_794_300_000.0, [("orders", 3, 10, 1000.0)]), KEY)
    with pytest.raises(UntrustedData):
        decode(tamper(value), KEY)
    _, unsigned = encode(sample(1_794_300_000.0, [("orders", 3, 10, 1000.0)]), None)
    with pytest.raises(UntrustedData, match="signature"):
        decode(unsigned, KEY)


@pytest.mark.parametrize("value", [
    b"{}", b"[]", b'{"v":1}', b"not json", b'{"v":1,"cluster":"p","at":-5,"by":"x","topics":[]}',
    b'{"v":1,"cluster":"p","at":1e9,"by":"x","topics":[["t",1,-1,0,null,0,0,null]]}',
    b'{"v":1,"cluster":"p","at":1e9,"by":"x","topics":[["t",true,1,0,null,0,0,null]]}',
    b'{"v":1,"cluster":"p","at":1e9,"by":"x","topics":[["' + b"t" * 300 + b'",1,1,0,1,0,0,1]]}',
    b"[" * 100 + b"]" * 100,
])
def test_malformed_samples_are_refused(value: bytes) -> None:
    with pytest.raises(UntrustedData):
        decode(value, None)


def test_month_bounds() -> None:
    start, end = month_bounds("2026-11")
    assert (end - start) / 3600 == 720
    assert (month_bounds("2024-02")[1] - month_bounds("2024-02")[0]) / 86400 == 29
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01", "0001-01"):
        with pytest.raises(ValueError):
            month_bounds(bad)


TEAMS = {"payments": TeamConfig(match=["orders*"]), "platform": TeamConfig(match=["logs*"])}
COSTS = CostsConfig(storage_gb_month=0.10, ingress_gb=0.02, currency="EUR")


def test_the_bill_shows_its_arithmetic_and_totals_add_up() -> None:
    start, _ = month_bounds("2026-11")
    hour = 3600.0
    samples = [
        sample(start - hour / 2, [("orders.a", 3, 0, 0.0)]),                  # before the month
        sample(start + hour / 2, [("orders.a", 3, 1_000_000, 2e9), ("logs.x", 1, 10, 5e8)]),
        sample(start + 1.5 * hour, [("orders.a", 3, 3_000_000, 4e9), ("logs.x", 1, 30, 5e8),
                                    ("misc", 2, 5, 1e9)]),
        sample(start + 1.6 * hour, [("orders.a", 3, 9, 9e9)], cluster="dr"),  # another cluster
    ]
    b = bill(samples, "2026-11", cluster="primary", teams=TEAMS, costs=COSTS)
    rows = {(r.kind, r.team, r.topic): r for r in b.rows}
    a = rows[("topic", "payments", "orders.a")]
    # storage: 2e9 x 3 replicas for 1 h, then 4e9 x 3 for 65 min (the last sample's hour and
    # the grace for the next): (6 + 13) GB-hours over 720 hours
    assert a.storage_gb_month == (Decimal(6 + 12 * 3900 / 3600) / 720).quantize(Decimal("1e-9"))
    assert a.storage_cost == (a.storage_gb_month * Decimal("0.1")).quantize(Decimal("1e-6"))
    # ingress: 1,000,000 records across the month's start, half of them in it, then 2,000,000
    assert a.ingress_gb == Decimal("0.25")  # (500,000 + 2,000,000) x 100 bytes
    assert a.ingress_cost == Decimal("0.005000")
    assert a.total_cost == a.storage_cost + a.ingress_cost
    assert rows[("topic", "unowned", "misc")].ingress_gb == 0  # first seen: growth unknown
    for team in ("payments", "platform", "unowned"):
        mine = [r for r in b.rows if r.kind == "topic" and r.team == team]
        total = rows[("team", team, "")]
        assert total.total_cost == sum((r.total_cost for r in mine), Decimal(0))
        assert total.storage_gb_month == sum((r.storage_gb_month for r in mine), Decimal(0))
    grand = rows[("total", "", "")]
    assert grand.total_cost == sum((r.total_cost for r in b.rows if r.kind == "team"), Decimal(0))
    assert b.samples == 2 and b.currency == "EUR"
    assert b.hours_sampled == Decimal("2.08")  # 1 h + 65 min


def test_the_csv_parses_and_its_columns_sum_to_the_totals() -> None:
    start, _ = month_bounds("2026-11")
    samples = [sample(start + i * 3600, [("orders.a", 3, 1000 * i, 1e9 + i * 1e7),
                                         ("logs.b", 1, 77 * i, 3e8)]) for i in range(24)]
    b = bill(samples, "2026-11", cluster="primary", teams=TEAMS, costs=COSTS)
    text = io.StringIO()
    csv.writer(text).writerows(csv_rows(b))
    rows = list(csv.DictReader(io.StringIO(text.getvalue())))
    topics = [r for r in rows if r["row"] == "topic"]
    (total,) = [r for r in rows if r["row"] == "total"]
    for col in ("storage_gb_month", "storage_cost", "ingress_gb", "ingress_cost", "total_cost"):
        assert sum(Decimal(r[col]) for r in topics) == Decimal(total[col])
    for r in topics:
        assert Decimal(r["storage_cost"]) == (Decimal(r["storage_gb_month"]) * Decimal(
            r["storage_price_per_gb_month"])).quantize(Decimal("1e-6"))
        assert Decimal(r["total_cost"]) == Decimal(r["storage_cost"]) + Decimal(r["ingress_cost"])
        assert "E" not in r["storage_gb_month"] and r["currency"] == "EUR"


def test_the_last_sample_does_not_stand_for_time_to_come() -> None:
    start, _ = month_bounds("2026-11")
    s = [sample(start + 3600, [("orders.a", 1, 1, 3.6e12)])]
    b = bill(s, "2026-11", cluster="primary", teams=TEAMS, costs=COSTS, now=start + 3600 + 360)
    (r,) = [r for r in b.rows if r.kind == "topic"]
    assert r.storage_gb_month == (Decimal(3600) * Decimal("0.1") / 720).quantize(Decimal("1e-9"))


def test_a_recreated_topic_counts_its_new_records() -> None:
    start, _ = month_bounds("2026-11")
    s = [sample(start + 10, [("orders.a", 1, 500, 0.0)]),
         sample(start + 3610, [("orders.a", 1, 40, 0.0)])]
    b = bill(s, "2026-11", cluster="primary", teams=TEAMS, costs=COSTS)
    (r,) = [r for r in b.rows if r.kind == "topic"]
    assert r.ingress_gb == Decimal("0.000004000")  # 40 records x 100 bytes
