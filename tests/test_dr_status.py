"""DR status against the two embedded clusters: the demo replicator writes MM2's topics and
records, and DrService reads replication lag, checkpoint and heartbeat ages, the RPO
estimate and the active cluster back from them."""

from __future__ import annotations

from typing import Any

import pytest

from kafkaops.core.dr.mm2_formats import (
    Checkpoint,
    Heartbeat,
    OffsetSync,
    decode_checkpoint,
    decode_offset_sync,
)
from kafkaops.core.dr.rpo import (
    fmt_age,
    lag_messages,
    lag_seconds,
    replication_position,
    rpo_estimate,
    rpo_verdict,
    signals,
)
from kafkaops.core.dr.status import DrService
from kafkaops.core.errors import ConfigError
from kafkaops.core.kafka.topicio import read_partition
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services
from kafkaops.demo.replicator import DemoReplicator

from .drkit import (
    close_world,
    create_topic,
    dr_config,
    make_world,
    now_ms,
    pair,
    produce_to,
    tag,
    write_checkpoints,
    write_heartbeats,
    write_syncs,
)

# ---------------------------------------------------------------- pure maths


@pytest.mark.parametrize(
    ("start", "end", "target_end", "sync", "position", "method"),
    [
        (0, 20, 20, (19, 19), 20, "offset-sync"),
        (0, 20, 13, (12, 12), 13, "offset-sync"),
        (0, 120, 30, (100, 10), 120, "offset-sync"),  # target started later: offsets differ
        (0, 120, 15, (100, 10), 105, "offset-sync"),
        (0, 20, 5, (12, 12), 12, "offset-sync"),  # target truncated below the sync
        (0, 20, 20, None, 20, "end-offsets"),
        (5, 20, 2, None, 5, "end-offsets"),
        (0, 20, None, None, None, "none"),
    ],
)
def test_replication_position(
    start: int, end: int, target_end: int | None, sync: tuple[int, int] | None,
    position: int | None, method: str,
) -> None:
    s = OffsetSync("t", 0, *sync) if sync else None
    assert replication_position(start, end, target_end, s) == (position, method)


@pytest.mark.parametrize(
    ("start", "end", "position", "lag"),
    [(0, 20, 20, 0), (0, 20, 13, 7), (10, 20, 5, 10), (0, 20, None, None), (0, 5, 9, 0)],
)
def test_lag_messages(start: int, end: int, position: int | None, lag: int | None) -> None:
    assert lag_messages(start, end, position) == lag


def test_lag_seconds_and_rpo_estimate() -> None:
    assert lag_seconds(0, None, 10_000) == 0.0
    assert lag_seconds(3, 4_000, 10_000) == 6.0
    assert lag_seconds(3, None, 10_000) is None
    assert lag_seconds(None, 1, 2) is None
    assert rpo_estimate(True, 4.0, 100.0)[0] == 4.0
    est, why = rpo_estimate(False, None, 100.0)
    assert est == 100.0 and "source unreachable" in why
    assert rpo_estimate(True, None, None)[0] is None
    assert [fmt_age(x) for x in (None, 0.42, 12, 210, 9000, 400000)] == [
        "-", "0.4s", "12s", "3.5m", "2.5h", "4.6d"]


def test_an_rpo_from_the_heartbeat_alone_is_unconfirmed_with_both_clusters_answering() -> None:
    """After a failover with nothing replicated back (the demo), the flow's heartbeat is
    fresh but no topic's lag was measured: the RPO is not OK, whatever the heartbeat says."""
    from .test_bot_dr import _status

    est, why = rpo_estimate(True, None, 0.7)
    s = _status(rpo_ok=True, rpo_estimate_seconds=est, rpo_basis=why, topics=(),
                max_lag_messages=None, max_lag_seconds=None, problems=())
    assert rpo_verdict(s) == "UNCONFIRMED (replication lag unknown)"
    est, why = rpo_estimate(True, 0.4, 0.7)
    measured = _status(rpo_ok=True, rpo_estimate_seconds=est, rpo_basis=why, problems=())
    assert rpo_verdict(measured) == "OK"


# ---------------------------------------------------------------- with the brokers


@pytest.mark.parametrize(
    ("policy", "separator"), [("default", "."), ("default", "__"), ("identity", ".")]
)
async def test_replicator_writes_mm2_records_and_status_reads_them(
    config_data: dict[str, Any], policy: str, separator: str
) -> None:
    w = await make_world(config_data, replication_policy=policy, separator=separator)
    try:
        st = await DrService(w.services).status(w.name)
        remote = w.topic if policy == "identity" else f"{w.east}{separator}{w.topic}"
        assert (st.active, st.epoch, st.source, st.target) == ("primary", 0, "primary", "dr")
        assert [t.topic for t in st.topics] == [w.topic]
        t = st.topics[0]
        assert t.remote_topic == remote
        assert (t.partitions, t.source_end, t.target_end) == (2, 25, 25)
        assert (t.lag_messages, t.lag_seconds, t.state) == (0, 0.0, "ok")
        assert [r.last_sync for r in t.rows] == [(19, 19), (4, 4)]
        assert st.rpo_estimate_seconds == 0.0 and st.rpo_ok is True
        assert st.heartbeat_ok is True and st.heartbeat_age_seconds is not None
        assert st.heartbeat_age_seconds < 60
        [g] = st.groups
        assert (g.group, g.partitions, g.moves_on_failover) == (w.groups[0], 2, True)
        assert g.age_seconds is not None and g.age_seconds < 60
        assert st.problems == ()

        # the bytes on the topics are MM2's layouts, under MM2's topic names
        dr = await w.services.connection("dr")
        isep = separator
        recs, info = await read_partition(dr, f"{w.east}{isep}checkpoints{isep}internal")
        assert info.exists
        cps = {decode_checkpoint(r.key, r.value) for r in recs}
        assert Checkpoint(w.groups[0], remote, 0, 15, 13) in cps  # 15 -> sync 12->12, +1
        assert Checkpoint(w.groups[0], remote, 1, 5, 5) in cps
        primary = await w.services.connection("primary")
        recs, _ = await read_partition(primary, f"mm2-offset-syncs{isep}{w.west}{isep}internal")
        syncs = [decode_offset_sync(r.key, r.value) for r in recs]
        p0 = [(s.upstream_offset, s.downstream_offset) for s in syncs
              if s.topic == w.topic and s.partition == 0]
        # offset.lag.max=5: the first record, then every 6 downstream offsets, then the flush
        assert p0 == [(0, 0), (6, 6), (12, 12), (18, 18), (19, 19)]
    finally:
        await close_world(w)


async def test_lag_in_messages_and_seconds_from_record_timestamps(
    config_data: dict[str, Any],
) -> None:
    w = await make_world(config_data, rpo="60s")
    try:
        assert w.replicator is not None
        two_minutes_ago = now_ms() - 120_000
        await produce_to(w.services, "primary", w.topic, 0, 7, timestamp_ms=two_minutes_ago)
        st = await DrService(w.services).status(w.name)
        t = st.topics[0]
        assert (t.source_end, t.target_end, t.lag_messages) == (32, 25, 7)
        assert t.rows[0].lag_messages == 7 and t.rows[1].lag_messages == 0
        assert t.lag_seconds is not None and 119 <= t.lag_seconds < 600
        assert t.state == "behind"
        assert st.rpo_ok is False and st.max_lag_messages == 7
        assert st.rpo_estimate_seconds == t.lag_seconds
        [sig] = await DrService(w.services).signals()
        assert (sig.pair, sig.lag_beyond_rpo, sig.heartbeat_stale) == (w.name, True, False)
        assert sig.replication_lag_messages == 7
        assert sig.replication_lag_seconds is not None and sig.replication_lag_seconds >= 119

        await w.replicator.sync_now()
        st = await DrService(w.services).status(w.name)
        assert (st.topics[0].lag_messages, st.topics[0].state, st.rpo_ok) == (0, "ok", True)
        assert signals(st).lag_beyond_rpo is False
    finally:
        await close_world(w)


async def test_status_from_hand_written_mm2_records_with_a_stale_heartbeat(
    config_data: dict[str, Any],
) -> None:
    """MM2's topics laid out by hand (identity policy): no replicator involved."""
    t = tag()
    east, west, topic, group = f"e-{t}", f"w-{t}", f"pay-{t}", f"billing-{t}"
    config = dr_config(config_data, pair("hand", east, west, ["billing-*"],
                                         replication_policy="identity", rpo="5m"))
    async with Services(config) as services:
        await create_topic(services, "primary", topic, 1)
        await create_topic(services, "dr", topic, 1)
        await produce_to(services, "primary", topic, 0, 10)
        await produce_to(services, "dr", topic, 0, 10)
        await write_syncs(services, "primary", f"mm2-offset-syncs.{west}.internal",
                          [OffsetSync(topic, 0, 0, 0), OffsetSync(topic, 0, 9, 9)])
        await write_checkpoints(services, "dr", f"{east}.checkpoints.internal",
                                [(Checkpoint(group, topic, 0, 8, 8), now_ms() - 30_000)])
        hour_ago = now_ms() - 3_600_000
        await write_heartbeats(services, "dr", "heartbeats", [Heartbeat(east, west, hour_ago)])

        st = await DrService(services).status("hand")
        assert [t.topic for t in st.topics] == [topic]
        assert (st.topics[0].remote_topic, st.topics[0].lag_messages) == (topic, 0)
        assert st.heartbeat_age_seconds is not None
        assert 3599 <= st.heartbeat_age_seconds < 4000
        assert st.heartbeat_ok is False and signals(st).heartbeat_stale is True
        assert st.heartbeats[0].at is None  # no replicated heartbeats topic
        assert (st.heartbeats[1].source, st.heartbeats[1].target) == (east, west)
        [g] = st.groups
        assert g.group == group and g.age_seconds is not None and 29 <= g.age_seconds < 300
        # replication itself is current, so the RPO estimate is the lag (0), heartbeat aside
        assert st.rpo_estimate_seconds == 0.0


async def test_status_when_the_source_is_unreachable(config_data: dict[str, Any]) -> None:
    t = tag()
    east, west = f"e-{t}", f"w-{t}"
    config = dr_config(
        config_data,
        {"name": "down", "primary": "gone", "secondary": "dr", "primary_alias": east,
         "secondary_alias": west},
        clusters={"gone": {"bootstrap_servers": "127.0.0.1:1", "request_timeout": "2s"}},
    )
    async with Services(config) as services:
        beat = now_ms() - 90_000
        await write_heartbeats(services, "dr", f"{east}.heartbeats", [Heartbeat(west, east, beat)])
        st = await DrService(services).status("down")
        assert st.source_reachable is False and st.target_reachable is True
        assert st.heartbeat_age_seconds is not None and 89 <= st.heartbeat_age_seconds < 300
        assert st.rpo_estimate_seconds == st.heartbeat_age_seconds
        assert "source unreachable" in st.rpo_basis
        assert st.rpo_ok is False  # 90 s of heartbeat silence against the default 60 s RPO
        assert any("'gone' unreachable" in p for p in st.problems)


async def test_unknown_pair_and_no_pairs_are_config_errors(
    config_data: dict[str, Any], services: Services
) -> None:
    with pytest.raises(ConfigError, match="no DR pairs configured"):
        await DrService(services).status()
    config = dr_config(config_data, pair("main", "a", "b", []))
    async with Services(config) as s2:
        with pytest.raises(ConfigError, match=r"no DR pair named 'nope' \(configured: main\)"):
            await DrService(s2).status("nope")


async def test_replicator_refuses_a_read_only_target(config_data: dict[str, Any]) -> None:
    config = dr_config(
        config_data, pair("ro", "a", "b", []),
        clusters={"dr": {**config_data["clusters"]["dr"], "read_only": True}},
    )
    async with Services(config) as services:
        rep = DemoReplicator(services, "ro", topics=["x"])
        with pytest.raises(Exception, match="read-only"):
            await rep.start(background=False)


async def test_background_replicator_keeps_up(config_data: dict[str, Any]) -> None:
    from .drkit import wait_for

    w = await make_world(config_data, replicate=False)
    ready: list[Services] = []
    # as `kafkaops demo` builds it: before the demo's Services exist
    rep = DemoReplicator(lambda: ready[0], w.name, topics=[w.topic], poll_interval=0.05,
                         heartbeat_interval=0.2, checkpoint_interval=0.2, flush_interval=0.2)
    ready.append(w.services)
    w.replicator = rep
    try:
        await rep.start()

        async def caught_up() -> Any:
            st = await DrService(w.services).status(w.name)
            return st.topics and st.topics[0].lag_messages == 0 and st.groups and st
        st = await wait_for(caught_up)
        assert st.topics[0].target_end == 25
        stats = rep.stats()
        assert stats.records >= 25 and stats.checkpoints >= 2 and stats.errors == 0
        assert w.topic in stats.topics
        tp = TopicPartition(w.topic, 0)
        assert rep.offset_syncs_written(tp)[0].upstream_offset == 19
    finally:
        await close_world(w)
