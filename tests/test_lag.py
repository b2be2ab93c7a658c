"""The lag engine against the real broker: exact lag per partition from groups with known
committed offsets over records written in batches, "no offset", an offset beyond the end,
lag in seconds from known record timestamps (plain and compressed batches), group state
and members, statuses judged over snapshots (STOP, STALL, ERR, REWIND, WARN, OK), missing
groups, and the handful of requests a snapshot costs.

Data loss (committed offset below the log start) cannot be produced here: Tansu closes the
connection on DeleteRecords and keeps every record in memory, so the log start never moves.
classify() and judge_single() cover it in test_lag_status.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import NotFound
from kafkaops.core.kafka.connection import LATEST, KafkaConnection
from kafkaops.core.lag.model import GroupLag, PartitionLag
from kafkaops.core.lag.service import LagService
from kafkaops.core.lag.status import LagPolicy, PartitionState, Status, Trend
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services

from .conftest import unique
from .lag_support import (
    LagTopic,
    live_group,
    make_topic,
    produce_more,
    stopped_group,
)

COUNTS = {0: 30, 1: 20, 2: 10}
#: judged from the first snapshot, no hysteresis: these tests are about the judging itself
#: (the warm-up and the hysteresis are in test_lag_warmup.py)
AT_ONCE = LagPolicy(warmup=0, hold=0)


@pytest.fixture(scope="module")
async def topic(bootstrap: str) -> LagTopic:
    return await make_topic(bootstrap, COUNTS)


@pytest.fixture(scope="module")
async def conn(bootstrap: str) -> AsyncIterator[KafkaConnection]:
    async with KafkaConnection("primary", ClusterConfig(bootstrap)) as c:
        yield c


def part(g: GroupLag, p: int) -> PartitionLag:
    return next(x for x in g.partitions if x.partition == p)


async def test_records_were_batched_so_listoffsets_is_short(conn, topic):
    """The precondition that gives the next tests their teeth: with these batches Tansu's
    ListOffsets(latest) answers short of the true end, so an engine using it would fail."""
    listed = await conn.list_offsets([TopicPartition(topic.name, p) for p in COUNTS], LATEST)
    assert any(listed[TopicPartition(topic.name, p)] < n for p, n in COUNTS.items()), listed


async def test_exact_lag_no_offset_and_time_lag(conn, bootstrap, topic):
    group = await stopped_group(bootstrap, topic.name, {0: 7, 1: 20})
    snap = await LagService(conn, policy=AT_ONCE).snapshot([group])
    g = snap.group(group)
    assert g is not None
    rows = [(p.partition, p.committed, p.end, p.lag, p.state) for p in g.partitions]
    assert rows == [
        (0, 7, 30, 23, PartitionState.OK),
        (1, 20, 20, 0, PartitionState.OK),
        (2, None, 10, None, PartitionState.NO_OFFSET),  # not lag = log end
    ]
    # the record at offset 7 is the next one the group reads; its age is the lag time
    expected = snap.taken_at - topic.ts(7) / 1000
    assert part(g, 0).lag_seconds == pytest.approx(expected, abs=0.002)
    assert part(g, 1).lag_seconds == 0.0 and part(g, 2).lag_seconds is None
    assert g.lag == 23 and g.lag_seconds == part(g, 0).lag_seconds
    # a stopped group stays visible with its lag, and lag behind no members is STOP
    assert (g.state, g.member_count, g.status) == ("Empty", 0, Status.STOP)
    assert [p.status for p in g.partitions] == [Status.STOP, Status.OK, Status.UNKNOWN]
    assert [(t.topic, t.lag, t.partitions) for t in g.topics] == [(topic.name, 23, 3)]
    assert g.samples == 1 and g.error is None


async def test_caught_up_group_is_ok_with_zero_seconds(conn, bootstrap, topic):
    group = await stopped_group(bootstrap, topic.name, dict(COUNTS))
    g = (await LagService(conn, policy=AT_ONCE).snapshot([group])).group(group)
    assert g is not None
    assert [(p.lag, p.lag_seconds, p.status) for p in g.partitions] == [(0, 0.0, Status.OK)] * 3
    assert (g.lag, g.lag_seconds, g.status) == (0, 0.0, Status.OK)


async def test_offset_beyond_the_end_is_not_lag(conn, bootstrap, topic):
    group = await stopped_group(bootstrap, topic.name, {2: 50})
    g = (await LagService(conn, policy=AT_ONCE).snapshot([group])).group(group)
    assert g is not None
    p = part(g, 2)
    assert (p.committed, p.end, p.lag, p.state, p.status) == (
        50, 10, None, PartitionState.AHEAD, Status.UNKNOWN)
    assert g.status is Status.UNKNOWN and g.lag is None


@pytest.mark.parametrize("compression", ["gzip", "lz4"])
async def test_time_lag_inside_compressed_batches(conn, bootstrap, compression):
    t = await make_topic(bootstrap, {0: 40}, compression=compression, age_s=600)
    group = await stopped_group(bootstrap, t.name, {0: 13})
    snap = await LagService(conn, policy=AT_ONCE).snapshot([group])
    p = part(snap.group(group), 0)
    assert (p.lag, p.end) == (27, 40)
    assert p.lag_seconds == pytest.approx(snap.taken_at - t.ts(13) / 1000, abs=0.002)


async def test_time_lag_can_be_skipped(conn, bootstrap, topic):
    group = await stopped_group(bootstrap, topic.name, {0: 7, 1: 20})
    g = (await LagService(conn, policy=AT_ONCE).snapshot([group], time_lag=False)).group(group)
    assert [p.lag_seconds for p in g.partitions] == [None, 0.0, None]


async def test_many_groups_in_a_handful_of_requests(conn, bootstrap, topic):
    groups = [await stopped_group(bootstrap, topic.name, {0: k, 1: k}) for k in range(5)]
    svc = LagService(conn, policy=AT_ONCE)
    snap = await svc.snapshot(groups)
    # every group described in ONE DescribeGroups request (v5; aiokafka's v3 could not
    # decode three or more) and read in ONE OffsetFetch (v8)
    assert [g.state for g in snap.groups] == ["Empty"] * 5
    assert [part(snap.group(g), 0).lag for g in groups] == [30, 29, 28, 27, 26]
    assert snap.requests["DescribeGroups"] == 1 and snap.requests["OffsetFetch"] == 1
    assert snap.requests["Metadata"] == 1 and snap.requests["FindCoordinator"] == 1
    assert snap.request_count <= 8, snap.requests
    again = await svc.snapshot(groups)  # coordinators and record timestamps are cached
    assert "FindCoordinator" not in again.requests and again.requests["Fetch"] == 1


async def test_record_timestamps_read_in_small_fetches_of_one_topic(conn, bootstrap):
    """Every lagging partition's age comes from a Fetch of at most 16 partitions of a single
    topic: on Tansu a Fetch's cost grows faster than its partitions, and mixing topics in
    one costs it a metadata lookup per topic (docs/benchmarks.md, lag). 40 partitions of
    each of two topics: 3 Fetches per topic for the ages, plus the one for the ends."""
    a = await make_topic(bootstrap, {p: 2 for p in range(40)})
    b = await make_topic(bootstrap, {p: 2 for p in range(40)})
    ga = await stopped_group(bootstrap, a.name, {p: 0 for p in range(40)})
    gb = await stopped_group(bootstrap, b.name, {p: 1 for p in range(40)})
    snap = await LagService(conn).snapshot([ga, gb])
    for group, topic, offset in ((ga, a, 0), (gb, b, 1)):
        g = snap.group(group)
        assert g is not None and len(g.partitions) == 40
        for p in g.partitions:
            assert p.lag == 2 - offset
            assert p.lag_seconds == pytest.approx(
                snap.taken_at - topic.ts(offset) / 1000, abs=0.002), (group, p.partition)
    assert snap.requests["Fetch"] == 1 + 3 + 3, snap.requests


async def test_every_group_listed_when_none_named(conn, bootstrap, topic):
    group = await stopped_group(bootstrap, topic.name, {0: 1})
    snap = await LagService(conn, policy=AT_ONCE).snapshot()
    g = snap.group(group)
    assert g is not None and part(g, 0).lag == 29 and g.status is Status.STOP
    assert snap.requests["ListGroups"] >= 1


async def test_missing_group(conn):
    name = unique("nosuch")
    with pytest.raises(NotFound, match=name):
        await LagService(conn, policy=AT_ONCE).snapshot([name], missing_ok=False)
    g = (await LagService(conn, policy=AT_ONCE).snapshot([name])).group(name)
    assert g is not None and g.partitions == () and g.status is Status.UNKNOWN


def window(stall: float = 0.5) -> LagPolicy:
    # no tolerance for commit jitter: these windows last a fraction of a second, and the
    # tolerance itself is covered by test_lag_status.py
    return LagPolicy(window=120, stall_seconds=stall, growth_tolerance=0, warmup=0, hold=0)


async def wait_past(seconds: float, first_at: float) -> None:
    await asyncio.sleep(max(0.0, first_at + seconds - time.time()))


async def test_live_group_stall_err_then_stop_when_it_leaves(conn, bootstrap):
    t = await make_topic(bootstrap, {0: 10})
    async with live_group(bootstrap, t.name, {0: 3}) as live:
        # a member, its state; Tansu reports no client id, host or assignment (Kafka does),
        # and only what was reported is shown
        svc = LagService(conn, policy=window(0.5))
        first = await svc.snapshot([live.group])
        g = first.group(live.group)
        assert g is not None and g.state == "Stable" and g.member_count == 1
        assert g.members[0].member_id
        assert (part(g, 0).lag, part(g, 0).status) == (7, Status.OK)  # alive: not STOP

        # the offset stands still with records waiting: STALL
        await wait_past(0.6, first.taken_at)
        g = (await svc.snapshot([live.group])).group(live.group)
        assert (g.status, g.samples, part(g, 0).lag) == (Status.STALL, 2, 7)

        # ... and records keep arriving that nobody consumes: ERR
        svc = LagService(conn, policy=window(0.5))
        first = await svc.snapshot([live.group])
        await produce_more(bootstrap, t, {0: 5})
        await wait_past(0.6, first.taken_at)
        g = (await svc.snapshot([live.group])).group(live.group)
        assert (g.status, g.trend, part(g, 0).lag) == (Status.ERR, Trend.GROWING, 12)
        assert part(g, 0).eta_seconds is None  # not catching up
    # the consumer left: lag behind a group without members is STOP at once
    g = (await svc.snapshot([live.group])).group(live.group)
    assert (g.member_count, g.state, g.status) == (0, "Empty", Status.STOP)


async def test_rewind_warn_draining_and_keeping_up(conn, bootstrap):
    t = await make_topic(bootstrap, {0: 20})
    async with live_group(bootstrap, t.name, {0: 12}) as live:
        svc = LagService(conn, policy=window(60))
        await svc.snapshot([live.group])
        await live.commit({0: 5})
        g = (await svc.snapshot([live.group])).group(live.group)
        assert (g.status, part(g, 0).committed) == (Status.REWIND, 5)

        svc = LagService(conn, policy=window(60))
        await svc.snapshot([live.group])  # lag 15
        await produce_more(bootstrap, t, {0: 10})
        t = LagTopic(t.name, {0: 30}, t.base_ms)
        await live.commit({0: 8})
        g = (await svc.snapshot([live.group])).group(live.group)  # lag 22: moving, behind
        assert (g.status, g.trend, part(g, 0).lag) == (Status.WARN, Trend.GROWING, 22)

        svc = LagService(conn, policy=window(60))
        first = await svc.snapshot([live.group])  # lag 22
        await wait_past(0.5, first.taken_at)
        await live.commit({0: 19})
        snap = await svc.snapshot([live.group])  # lag 11: draining at 11 records / span
        p = part(snap.group(live.group), 0)
        assert (p.status, p.trend, p.lag) == (Status.OK, Trend.DRAINING, 11)
        span = snap.taken_at - first.taken_at
        assert p.consume_rate == pytest.approx(11 / span)
        assert p.eta_seconds == pytest.approx(11 / (11 / span))

        svc = LagService(conn, policy=window(60))
        await live.commit({0: 30})
        await svc.snapshot([live.group])
        await produce_more(bootstrap, t, {0: 4})
        await live.commit({0: 34})
        g = (await svc.snapshot([live.group])).group(live.group)
        assert (g.status, g.lag, g.lag_seconds, g.eta_seconds) == (Status.OK, 0, 0.0, 0.0)


async def test_services_share_one_lag_engine(config):
    async with Services(config) as services:
        a = await services.lag()
        assert a is await services.lag()
        await services.drop()
        b = await services.lag()
        assert b is not a and b.history is a.history  # reconnected, same window
