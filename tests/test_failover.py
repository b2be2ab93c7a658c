"""Failover and failback on the two embedded clusters: the plan's pre-checks, what a refused
failover leaves untouched, and committed offsets on the target equal to MM2's translation."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.core.dr.control import ControlStore
from kafkaops.core.dr.failover import FailoverService
from kafkaops.core.dr.mm2_formats import Checkpoint, Heartbeat, OffsetSync
from kafkaops.core.dr.mm2_io import read_checkpoints, read_offset_syncs
from kafkaops.core.dr.mm2_offsets import OffsetSyncStore, remote_consumer_offsets
from kafkaops.core.dr.plan import bound_offset, decide_forward, reprocess_estimate, target_position
from kafkaops.core.dr.status import DrService
from kafkaops.core.errors import Conflict, Refused
from kafkaops.core.kafka.groups import commit_offsets, group_members
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env
from .drkit import (
    close_world,
    committed_by_consumer,
    create_topic,
    dr_config,
    make_world,
    now_ms,
    pair,
    produce_to,
    tag,
    wait_for,
    write_checkpoints,
    write_heartbeats,
    write_syncs,
)

# ---------------------------------------------------------------- pure decisions


@pytest.mark.parametrize(
    ("n", "reachable", "by_syncs", "cp", "expected", "method"),
    [
        (15, True, 13, None, 13, "offset-sync"),
        (15, True, 13, (15, 13), 13, "checkpoint"),  # the same: what MM2 would return
        (15, True, 13, (14, 12), 13, "offset-sync"),  # newer than the checkpoint
        (7, True, 1, (6, 6), 6, "checkpoint"),  # MM2 dropped the sync; its checkpoint stands
        (15, True, -1, (10, 8), 8, "checkpoint"),  # behind every sync: the checkpoint
        (15, True, -1, (20, 18), None, "none"),  # checkpoint newer than the group: rewound
        (15, True, None, None, None, "none"),
        (None, True, None, (10, 8), None, "none"),  # no offset on the source
        (None, False, None, (10, 8), 8, "checkpoint"),  # source down: the last checkpoint
        (None, False, None, None, None, "none"),
    ],
)
def test_decide_forward(
    n: int | None, reachable: bool, by_syncs: int | None, cp: tuple[int, int] | None,
    expected: int | None, method: str,
) -> None:
    checkpoint = Checkpoint("g", "t", 0, *cp) if cp else None
    got, how, _ = decide_forward(n, reachable, by_syncs, checkpoint)
    assert (got, how) == (expected, method)


@pytest.mark.parametrize(
    ("translated", "start", "end", "offset", "invalid"),
    [
        (13, 0, 20, 13, False),
        (20, 0, 20, 20, False),  # the log end: nothing left to read, valid
        (21, 0, 20, None, True),  # past the end: an MM2 bug, never committed
        (3, 5, 20, 5, False),  # below the log start: raised to it
        (None, 0, 20, None, False),
        (4, None, None, None, True),  # no such partition on the target
    ],
)
def test_bound_offset(
    translated: int | None, start: int | None, end: int | None, offset: int | None,
    invalid: bool,
) -> None:
    got, note, bad = bound_offset(translated, start, end)
    assert (got, bad) == (offset, invalid)
    assert bool(note) == (translated is not None and (bad or got != translated))


def test_reprocess_and_position() -> None:
    store = OffsetSyncStore().load([OffsetSync("t", 0, 0, 0), OffsetSync("t", 0, 12, 12)])
    tp = TopicPartition("t", 0)
    assert target_position(store, tp, 15) == 15
    assert reprocess_estimate(13, 15, 20) == 2
    assert reprocess_estimate(13, 25, 20) == 7  # not past the log end
    assert reprocess_estimate(None, 15, 20) is None
    assert reprocess_estimate(13, None, 20) is None


# ---------------------------------------------------------------- with the brokers


async def audit_steps(services: Services, run_id: str) -> list[tuple[str, str, str]]:
    log = await services.audit("dr")
    return [(r.action, r.target, r.result) for r in await log.records()
            if r.params.get("run_id") == run_id]


async def test_failover_commits_mm2_translation_of_the_group_offsets(
    config_data: dict[str, Any], bootstrap: str, clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        svc = FailoverService(w.services)
        plan = await svc.plan(w.name)
        assert plan.allowed, plan.prechecks
        [g] = plan.groups
        p0, p1 = g.partitions
        assert (p0.topic, p0.source_offset, p0.translated, p0.method) == (w.remote, 15, 13,
                                                                          "checkpoint")
        assert p0.checkpoint == (15, 13) and p0.reprocess == 2 and p0.offset == 13
        assert (p1.source_offset, p1.offset, p1.reprocess) == (5, 5, 0)
        assert (p0.target_start, p0.target_end) == (0, 20)

        # MM2's translation of N: its own OffsetSyncStore over the syncs it wrote, and the
        # checkpoint RemoteClusterUtils.translateOffsets would return
        primary = await w.services.connection("primary")
        dr = await w.services.connection("dr")
        syncs, _ = await read_offset_syncs(primary, f"mm2-offset-syncs.{w.west}.internal")
        store = OffsetSyncStore().load(syncs)
        expected = {
            TopicPartition(w.remote, 0): store.translate_downstream(TopicPartition(w.topic, 0), 15),
            TopicPartition(w.remote, 1): store.translate_downstream(TopicPartition(w.topic, 1), 5),
        }
        cps, _ = await read_checkpoints(dr, f"{w.east}.checkpoints.internal")
        by_mm2 = remote_consumer_offsets((c for c, _ in cps), w.groups[0])
        assert {tp: c.downstream_offset for tp, c in by_mm2.items()} == expected == {
            TopicPartition(w.remote, 0): 13, TopicPartition(w.remote, 1): 5}

        result = await svc.execute(w.name, actor="alice@test", face="cli")
        assert (result.state, result.active, result.epoch) == ("completed", "dr", 1)
        assert [(x.group, x.status) for x in result.groups] == [(w.groups[0], "done")]
        got = await committed_by_consumer(clusters.bootstrap("dr"), w.groups[0], list(expected))
        assert got == expected

        st = await DrService(w.services).status(w.name)
        assert (st.active, st.epoch, st.source, st.target) == ("dr", 1, "dr", "primary")
        steps = await audit_steps(w.services, result.run_id)
        assert [a for a, _, r in steps if r == "ok"] == [
            "dr.failover.start", "dr.failover.fence", "dr.failover.fence",
            "dr.failover.commit-offsets", "dr.failover.activate", "dr.failover.mark-source",
            "dr.failover.complete"]
        # a second failover has nothing to do and says so
        again = await svc.plan(w.name)
        assert not again.allowed and not again.forceable
        with pytest.raises(Refused, match="already the active cluster"):
            await svc.execute(w.name, force=True)
    finally:
        await close_world(w)


async def test_stale_heartbeat_refuses_unless_forced_and_changes_nothing(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data, heartbeats=False)
    try:
        old = now_ms() - 600_000  # ten minutes: beyond the 60 s RPO
        await write_heartbeats(w.services, "dr", f"{w.east}.heartbeats",
                               [Heartbeat(w.west, w.east, old)])
        await write_heartbeats(w.services, "dr", "heartbeats", [Heartbeat(w.east, w.west, old)])
        svc = FailoverService(w.services)
        plan = await svc.plan(w.name)
        [hb] = [c for c in plan.prechecks if c.name == "heartbeat"]
        assert hb.status == "fail" and "beyond the RPO" in hb.detail
        assert not plan.allowed and plan.forceable
        tps = [TopicPartition(w.remote, 0), TopicPartition(w.remote, 1)]

        with pytest.raises(Refused, match="heartbeat") as refused:
            await svc.execute(w.name)
        assert "--force" in str(refused.value)
        # nothing changed: no offsets on dr, no run, primary still active
        assert await committed_by_consumer(clusters.bootstrap("dr"), w.groups[0], tps) == {
            tp: None for tp in tps}
        view = await ControlStore(w.services.connection).read(
            w.services.config.dr.pairs[0])
        assert (view.active.cluster, view.active.epoch, view.latest_run()) == ("primary", 0, None)

        result = await svc.execute(w.name, force=True)
        assert result.state == "completed" and result.force is True
        got = await committed_by_consumer(clusters.bootstrap("dr"), w.groups[0], tps)
        assert got == {tps[0]: 13, tps[1]: 5}
    finally:
        await close_world(w)


async def test_read_only_target_refuses_even_with_force(config_data: dict[str, Any]) -> None:
    w = await make_world(config_data)
    try:
        ro = dr_config(
            config_data, pair(w.name, w.east, w.west, w.config.dr.pairs[0].groups),
            clusters={"dr": {**config_data["clusters"]["dr"], "read_only": True}},
        )
        async with Services(ro) as services:
            svc = FailoverService(services)
            plan = await svc.plan(w.name)
            [c] = [c for c in plan.prechecks if c.name == "target writable"]
            assert c.status == "fail" and not c.overridable and not plan.forceable
            with pytest.raises(Refused, match="read-only"):
                await svc.execute(w.name, force=True)
            view = await svc.control.read(services.config.dr.pairs[0])
            assert view.active.cluster == "primary" and view.latest_run() is None
    finally:
        await close_world(w)


async def test_translation_past_the_log_end_is_never_committed(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    """An offset sync claiming a target offset far past the remote log's end (the kind of
    MM2 bug that shipped): the group is not moved, with or without --force."""
    t = tag()
    east, west, topic, group = f"e-{t}", f"w-{t}", f"bad-{t}", f"g-{t}"
    config = dr_config(config_data, pair("bad", east, west, ["g-*"],
                                         replication_policy="identity"))
    async with Services(config) as services:
        for cluster in ("primary", "dr"):
            await create_topic(services, cluster, topic, 1)
            await produce_to(services, cluster, topic, 0, 20)
        await write_syncs(services, "primary", f"mm2-offset-syncs.{west}.internal",
                          [OffsetSync(topic, 0, 10, 500)])
        await write_heartbeats(services, "dr", "heartbeats", [Heartbeat(east, west, now_ms())])
        await commit_offsets(await services.connection("primary"), group,
                             {TopicPartition(topic, 0): 15})
        svc = FailoverService(services)
        plan = await svc.plan("bad")
        [g] = plan.groups
        assert g.action == "leave" and "past the log end 20" in g.reason
        assert g.partitions[0].translated == 501 and g.partitions[0].offset is None
        [check] = [c for c in plan.prechecks if c.name == f"group {group}"]
        assert check.status == "fail"
        result = await svc.execute("bad", force=True)
        assert [(x.group, x.status) for x in result.groups] == [(group, "left")]
        got = await committed_by_consumer(clusters.bootstrap("dr"), group,
                                          [TopicPartition(topic, 0)])
        assert got == {TopicPartition(topic, 0): None}


async def test_group_with_members_on_the_target_is_refused(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    from aiokafka import AIOKafkaConsumer

    w = await make_world(config_data)
    consumer = AIOKafkaConsumer(w.remote, bootstrap_servers=clusters.bootstrap("dr"),
                                group_id=w.groups[0], enable_auto_commit=False)
    try:
        await consumer.start()
        dr = await w.services.connection("dr")

        async def joined() -> bool:
            return (await group_members(dr, w.groups[0]))[1] > 0
        await wait_for(joined)
        svc = FailoverService(w.services)
        plan = await svc.plan(w.name)
        [g] = plan.groups
        assert g.action == "leave" and "1 active member on 'dr'" in g.reason
        with pytest.raises(Refused, match="1 active member on"):
            await svc.execute(w.name)
    finally:
        await consumer.stop()
        await close_world(w)


async def test_failback_moves_groups_back_from_where_they_got_on_dr(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        svc = FailoverService(w.services)
        await svc.execute(w.name)
        # on dr the application read on: 18 on partition 0, still 5 on partition 1
        dr = await w.services.connection("dr")
        await commit_offsets(dr, w.groups[0], {TopicPartition(w.remote, 0): 18})
        plan = await svc.plan(w.name, direction="failback")
        assert (plan.source, plan.target, plan.epoch, plan.new_epoch) == ("dr", "primary", 1, 2)
        [g] = plan.groups
        rows = {(p.topic, p.partition): p for p in g.partitions}
        # back through the primary -> dr offset syncs: 18 is exactly the sync 18->18
        assert rows[(w.topic, 0)].offset == 18
        assert rows[(w.topic, 0)].method == "reverse-offset-sync"
        assert rows[(w.topic, 1)].offset == 5
        # nothing replicates dr -> primary here, so the lag pre-check fails: --force
        assert not plan.allowed and plan.forceable
        result = await svc.execute(w.name, direction="failback", force=True)
        assert (result.state, result.active, result.epoch) == ("completed", "primary", 2)
        got = await committed_by_consumer(clusters.bootstrap("primary"), w.groups[0],
                                          w.tps())
        assert got == {TopicPartition(w.topic, 0): 18, TopicPartition(w.topic, 1): 5}
        st = await DrService(w.services).status(w.name)
        assert (st.active, st.epoch, st.failover and st.failover.direction) == (
            "primary", 2, "failback")
    finally:
        await close_world(w)


async def test_two_failovers_at_once_one_wins(config_data: dict[str, Any]) -> None:
    w = await make_world(config_data)
    other = Services(w.config)
    try:
        results = await asyncio.gather(
            FailoverService(w.services).execute(w.name, actor="one"),
            FailoverService(other).execute(w.name, actor="two"),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], Conflict | Refused), lost[0]
        steps = await audit_steps(w.services, won[0].run_id)
        assert [a for a, _, r in steps if r == "ok"].count("dr.failover.commit-offsets") == 1
        view = await ControlStore(w.services.connection).read(w.services.config.dr.pairs[0])
        assert (view.active.cluster, view.active.epoch) == ("dr", 1)
    finally:
        await other.close()
        await close_world(w)



async def test_failover_with_the_primary_down_then_marking_it_when_it_is_back(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    """The primary is gone: offsets come from MM2's checkpoints on dr, the old primary
    cannot be fenced, and `resume` marks it once it answers again."""
    t = tag()
    east, west, group = f"e-{t}", f"w-{t}", f"g-{t}"
    remote = f"{east}.orders-{t}"
    down = {"gone": {"bootstrap_servers": "127.0.0.1:1", "request_timeout": "2s"}}
    spec = {"name": "outage", "primary": "gone", "secondary": "dr", "primary_alias": east,
            "secondary_alias": west, "groups": ["g-*"]}
    config = dr_config(config_data, spec, clusters=down)
    async with Services(config) as services:
        await create_topic(services, "dr", remote, 1)
        await produce_to(services, "dr", remote, 0, 20)
        await write_checkpoints(services, "dr", f"{east}.checkpoints.internal",
                                [(Checkpoint(group, remote, 0, 15, 13), now_ms() - 10_000)])
        await write_heartbeats(services, "dr", f"{east}.heartbeats",
                               [Heartbeat(west, east, now_ms() - 5_000)])
        svc = FailoverService(services)
        plan = await svc.plan("outage")
        checks = {c.name: c.status for c in plan.prechecks}
        assert checks["source reachable"] == "warn" and checks["heartbeat"] == "ok"
        assert checks["replication lag"] == "warn" and plan.allowed
        [g] = plan.groups
        [p] = g.partitions
        assert (p.method, p.checkpoint, p.offset, p.source_offset) == ("checkpoint", (15, 13),
                                                                       13, None)
        result = await svc.execute("outage")
        assert (result.state, result.active, result.epoch) == ("completed", "dr", 1)
        steps = {s.name: s.status for s in result.steps}
        assert steps == {"fence": "skipped", "activate": "done", "mark-source": "skipped"}
        got = await committed_by_consumer(clusters.bootstrap("dr"), group,
                                          [TopicPartition(remote, 0)])
        assert got == {TopicPartition(remote, 0): 13}

    # the primary answers again (same cluster name, now reachable)
    back = dr_config(config_data, spec,
                     clusters={"gone": {"bootstrap_servers": clusters.bootstrap("primary")}})
    async with Services(back) as services:
        st = await DrService(services).status("outage")
        assert st.active == "dr" and st.stale_control_copies == ("gone",)
        marked = await FailoverService(services).resume("outage")
        assert {s.name: s.status for s in marked.steps}["mark-source"] == "done"
        view = await ControlStore(services.connection).read(services.config.dr.pairs[0])
        assert view.stale_copies() == []
        assert view.logs["gone"].active is not None and view.logs["gone"].active.epoch == 1
        assert view.logs["gone"].fence is not None and view.logs["gone"].fence.cluster == "gone"


async def test_offsets_that_moved_on_since_the_plan_was_shown_do_not_refuse(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    """The fingerprint covers the decision (which groups move, which partitions get an
    offset, the epoch, failed checks), not offsets that move every second: a group whose
    consumers still run on the source is moved with its offsets as they are when the run
    starts."""
    w = await make_world(config_data)
    try:
        svc = FailoverService(w.services)
        shown = await svc.plan(w.name)
        assert shown.fingerprint == (await svc.plan(w.name)).fingerprint  # stable
        # the group's consumers were still running on the primary and moved on
        primary = await w.services.connection("primary")
        await commit_offsets(primary, w.groups[0], {TopicPartition(w.topic, 0): 19})
        result = await svc.execute(w.name, fingerprint=shown.fingerprint)
        assert result.state == "completed"
        tps = [TopicPartition(w.remote, 0), TopicPartition(w.remote, 1)]
        got = await committed_by_consumer(clusters.bootstrap("dr"), w.groups[0], tps)
        assert got == {tps[0]: 19, tps[1]: 5}  # the newer offsets (19 is a sync: exact)
    finally:
        await close_world(w)


async def test_execute_refuses_when_the_decision_changed_since_it_was_shown(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        svc = FailoverService(w.services)
        shown = await svc.plan(w.name)
        # another group of the pair started consuming on the primary: it would be moved too
        late = f"glate-{w.tag}"
        primary = await w.services.connection("primary")
        await commit_offsets(primary, late, {TopicPartition(w.topic, 0): 12})
        with pytest.raises(Conflict, match="plan changed since it was shown"):
            await svc.execute(w.name, fingerprint=shown.fingerprint)
        tps = [TopicPartition(w.remote, 0), TopicPartition(w.remote, 1)]
        for g in (w.groups[0], late):  # nothing was changed
            assert await committed_by_consumer(clusters.bootstrap("dr"), g, tps) == {
                tp: None for tp in tps}
        fresh = await svc.plan(w.name)
        assert {g.group for g in fresh.groups} == {w.groups[0], late}
        result = await svc.execute(w.name, fingerprint=fresh.fingerprint)
        assert result.state == "completed"
    finally:
        await close_world(w)


async def test_cli_execute_goes_ahead_while_a_producer_and_a_consumer_are_active(
    config_data: dict[str, Any], clusters: Any, tmp_path: Path,
) -> None:
    """`failover execute --yes` shows the plan, then runs it; with records flowing and the
    group committing on the source all the while, the plan's offsets move between the two,
    and that is no reason to refuse (exit 3). (Timing decides whether they move in that
    window: before the fix this failed in about 2 runs of 3; the test above shows the same
    deterministically.)"""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition as AkTP

    from kafkaops.demo.replicator import DemoReplicator

    w = await make_world(config_data)
    assert w.replicator is not None
    await w.replicator.stop()
    rep = DemoReplicator(w.services, w.name, topics=[w.topic], offset_lag_max=5,
                         poll_interval=0.05, checkpoint_interval=0.1, flush_interval=0.05)
    await rep.start()  # replicating in the background: offset syncs and checkpoints move
    producer = AIOKafkaProducer(bootstrap_servers=clusters.bootstrap("primary"))
    consumer = AIOKafkaConsumer(w.topic, bootstrap_servers=clusters.bootstrap("primary"),
                                group_id=w.groups[0], auto_commit_interval_ms=20,
                                fetch_max_wait_ms=20)
    await producer.start()
    await consumer.start()
    committed: list[int] = []

    async def produce_forever() -> None:
        i = 0
        while True:
            await producer.send_and_wait(w.topic, b"r%d" % i, partition=i % 2)
            i += 1
            await asyncio.sleep(0.005)

    async def consume_forever() -> None:
        tp = TopicPartition(w.topic, 0)
        while True:
            await consumer.getmany(timeout_ms=20)
            got = await consumer.committed(AkTP(tp.topic, tp.partition))
            if got is not None:
                committed.append(got)

    tasks = [asyncio.create_task(produce_forever()), asyncio.create_task(consume_forever())]
    try:
        # the group is consuming and committing beyond where it stood
        await wait_for(lambda: _true(len(set(committed)) >= 3), within=30)
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump(w.config_data(config_data)))
        out = await asyncio.to_thread(
            subprocess.run, [KAFKAOPS, "--config", str(cfg), "failover", "execute", "--pair",
                             w.name, "--yes", "--json"],
            env=cli_env(), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        assert json.loads(out.stdout)["state"] == "completed"
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
        await rep.stop()
        await close_world(w)


async def _true(value: bool) -> bool:
    return value