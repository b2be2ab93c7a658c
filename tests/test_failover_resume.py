"""A failover killed after any step and finished by `resume` ends exactly where an
uninterrupted run does, with every group's offsets committed once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.core.dr.failover import FailoverService
from kafkaops.core.errors import NotFound
from kafkaops.core.kafka.groups import commit_offsets
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env
from .drkit import World, close_world, committed_by_consumer, dr_config, make_world, pair, tag

ROOT = Path(__file__).resolve().parent.parent

# where each group stands on the primary, and MM2's translation of it on dr. With
# offset.lag.max=5 the syncs of partition 0 are 0, 6, 12, 18 and 19 (the flush), of which
# MM2's store keeps 19, 18, 12 and 0 (exponential spacing drops 6): so 15 -> 12+1 = 13 and
# 7 -> 0+1 = 1. Partition 1 has 0 and 4: 5 -> 4+1 = 5, 2 -> 0+1 = 1.
OFFSETS = {"a": (15, 5), "b": (7, 2)}
EXPECTED = {"a": (13, 5), "b": (1, 1)}


class Crash(Exception):
    """Stands in for the process dying at a step."""


@pytest.fixture(scope="module")
async def world(config_data: dict[str, Any]) -> Any:
    w = await make_world(config_data, groups=0)
    yield w
    await close_world(w)


async def fresh_pair(w: World, config_data: dict[str, Any]) -> tuple[Services, str, dict[str, str]]:
    """A new pair over the same replication, with two fresh groups at OFFSETS."""
    t = tag()
    # named so that the world's replicator (groups g*-<world tag>) checkpoints them too
    groups = {k: f"g{k}-{t}-{w.tag}" for k in OFFSETS}
    name = f"run-{t}"
    config = dr_config(config_data, pair(name, w.east, w.west, [f"g*-{t}-{w.tag}"]))
    services = Services(config)
    primary = await services.connection("primary")
    for k, g in groups.items():
        await commit_offsets(primary, g, {TopicPartition(w.topic, 0): OFFSETS[k][0],
                                          TopicPartition(w.topic, 1): OFFSETS[k][1]})
    assert w.replicator is not None
    await w.replicator.checkpoint_now()
    return services, name, groups


async def final_state(
    services: Services, name: str, groups: dict[str, str], w: World, dr_bootstrap: str,
    run_id: str,
) -> dict[str, Any]:
    offsets = {}
    tps = [TopicPartition(w.remote, 0), TopicPartition(w.remote, 1)]
    for k, g in groups.items():
        got = await committed_by_consumer(dr_bootstrap, g, tps)
        offsets[k] = (got[tps[0]], got[tps[1]])
    status = await FailoverService(services).status(name)
    assert status is not None
    log = await services.audit("dr")
    commits: dict[str, int] = {}
    for r in await log.records():
        if r.params.get("run_id") == run_id and r.action.endswith("commit-offsets") \
                and r.result == "ok":
            commits[r.target] = commits.get(r.target, 0) + 1
    return {
        "offsets": offsets,
        "state": status.state,
        "active": (status.active, status.epoch),
        "groups": sorted((k, next(x.status for x in status.groups if x.group == g))
                         for k, g in groups.items()),
        "commits": {k: commits.get(g, 0) for k, g in groups.items()},
        "steps": sorted(s.name for s in status.steps),
    }


#: where an uninterrupted run ends: what every interrupted-and-resumed run must match
REFERENCE = {
    "offsets": EXPECTED,
    "state": "completed",
    "active": ("dr", 1),
    "groups": [("a", "done"), ("b", "done")],
    "commits": {"a": 1, "b": 1},  # each group's offsets committed exactly once
    "steps": ["activate", "fence", "mark-source"],
}


async def test_uninterrupted_run(
    world: World, config_data: dict[str, Any], clusters: Any,
) -> None:
    services, name, groups = await fresh_pair(world, config_data)
    try:
        result = await FailoverService(services).execute(name)
        state = await final_state(services, name, groups, world, clusters.bootstrap("dr"),
                                  result.run_id)
    finally:
        await services.close()
    assert state == REFERENCE


@pytest.mark.parametrize(
    "point",
    ["start", "fence", "intent:a", "committed:a", "group:a", "intent:b", "committed:b",
     "group:b", "activate", "complete"],
)
async def test_killed_after_a_step_resume_finishes_like_an_uninterrupted_run(
    world: World, config_data: dict[str, Any], clusters: Any, point: str,
) -> None:
    services, name, groups = await fresh_pair(world, config_data)
    step, _, key = point.partition(":")
    real = f"{step}:{groups[key]}" if key else step

    def crash(at: str) -> None:
        if at == real:
            raise Crash(at)

    try:
        with pytest.raises(Crash):
            await FailoverService(services).execute(name, hook=crash)
    finally:
        await services.close()
    # a new process picks it up
    async with Services(services.config) as fresh:
        svc = FailoverService(fresh)
        before = await svc.status(name)
        assert before is not None
        if point == "complete":
            assert before.state == "completed"
            with pytest.raises(NotFound, match="no unfinished failover"):
                await svc.resume(name)
        else:
            assert before.state == "running"
            after = await svc.resume(name)
            assert after.run_id == before.run_id and after.state == "completed"
        state = await final_state(fresh, name, groups, world, clusters.bootstrap("dr"),
                                  before.run_id)
    assert state == REFERENCE


async def test_resume_never_rewinds_a_group_that_moved_on_after_the_commit(
    world: World, config_data: dict[str, Any], clusters: Any,
) -> None:
    services, name, groups = await fresh_pair(world, config_data)
    target = groups["a"]

    def crash(at: str) -> None:
        if at == f"committed:{target}":
            raise Crash(at)

    try:
        with pytest.raises(Crash):
            await FailoverService(services).execute(name, hook=crash)
        # its consumers started on dr and committed further before anyone resumed
        dr = await services.connection("dr")
        await commit_offsets(dr, target, {TopicPartition(world.remote, 0): 16})
        result = await FailoverService(services).resume(name)
        [a] = [g for g in result.groups if g.group == target]
        assert a.status == "done" and "not committed again" in a.detail
        got = await committed_by_consumer(clusters.bootstrap("dr"), target,
                                          [TopicPartition(world.remote, 0)])
        assert got == {TopicPartition(world.remote, 0): 16}
        state = await final_state(services, name, groups, world, clusters.bootstrap("dr"),
                                  result.run_id)
        assert state["commits"] == {"a": 1, "b": 1}
        assert state["offsets"]["b"] == EXPECTED["b"]
    finally:
        await services.close()


async def test_cli_process_killed_mid_failover_then_resumed(
    world: World, config_data: dict[str, Any], clusters: Any, tmp_path: Path,
) -> None:
    services, name, groups = await fresh_pair(world, config_data)
    await services.close()
    data = {**config_data, "dr": {"pairs": [pair(name, world.east, world.west,
                                                  services.config.dr.pairs[0].groups)]}}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data))
    env = {**cli_env(), "KAFKAOPS_FAILOVER_STOP_AT": f"committed:{groups['a']}"}
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS, "--config", str(cfg), "failover", "execute", "--pair", name, "--yes",
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert b"stopped at committed:" in line, line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KAFKAOPS, "--config", str(cfg), *args], env=cli_env(),
                              capture_output=True, text=True, timeout=90)

    status = await asyncio.to_thread(run, "failover", "status", "--pair", name, "--json")
    assert status.returncode == 0, status.stderr
    running = json.loads(status.stdout)
    assert running["state"] == "running"
    assert {g["group"]: g["status"] for g in running["groups"]}[groups["a"]] == "intent"

    resumed = await asyncio.to_thread(run, "failover", "resume", "--pair", name, "--yes",
                                      "--json")
    assert resumed.returncode == 0, resumed.stderr
    done = json.loads(resumed.stdout)
    assert (done["state"], done["active"], done["epoch"]) == ("completed", "dr", 1)
    async with Services(services.config) as fresh:
        state = await final_state(fresh, name, groups, world, clusters.bootstrap("dr"),
                                  done["run_id"])
    got = {k: v for k, v in state.items() if k in ("offsets", "commits")}
    assert got == {"offsets": EXPECTED, "commits": {"a": 1, "b": 1}}
