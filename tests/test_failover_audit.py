"""Every failover step is audited as an intent before it acts and an outcome after. A run
killed between any two of those records leaves a trail that `audit verify` reconciles: the
intent with no outcome is reported as such, and `resume` records what happened to it, after
which the trail verifies clean and the run ends exactly as an uninterrupted one."""

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
from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env, unique
from .drkit import World, close_world, make_world, pair
from .test_failover_resume import REFERENCE, final_state, fresh_pair


@pytest.fixture(scope="module")
async def world(config_data: dict[str, Any]) -> Any:
    w = await make_world(config_data, groups=0)
    yield w
    await close_world(w)


class Kill(BaseException):
    """Stands in for SIGKILL inside a step: not an Exception, so no handler records an
    outcome on its way out (a killed process writes nothing more)."""


async def new_pair(w: World, data: dict[str, Any]) -> tuple[Services, str, dict[str, str]]:
    """A fresh pair (test_failover_resume.fresh_pair) with a fresh heartbeat: this module's
    runs take longer than the pair's RPO, and a stale heartbeat fails the pre-checks."""
    assert w.replicator is not None
    await w.replicator.sync_now(flush=False, checkpoints=False)
    return await fresh_pair(w, data)


def with_own_audit_topic(config_data: dict[str, Any]) -> dict[str, Any]:
    """This test's own audit topic, so `verify` sees only its own trail."""
    return {**config_data, "audit": {**config_data["audit"], "topic": unique("audit")}}


#: (point, the audited step left open by a kill there: action suffix, target key)
#: `a`/`b` stand for the two groups, `src`/`tgt` for the pair's clusters
POINTS = [
    ("before:start:{pair}@dr", "start"),
    ("after:start:{pair}@dr", "start"),
    ("before:fence:primary@dr", "fence"),
    ("after:fence:primary@dr", "fence"),
    ("before:fence:primary@primary", "fence"),
    ("after:fence:primary@primary", "fence"),
    ("before:commit-offsets:{a}@dr", "commit-offsets"),
    ("after:commit-offsets:{a}@dr", "commit-offsets"),
    ("before:commit-offsets:{b}@dr", "commit-offsets"),
    ("after:commit-offsets:{b}@dr", "commit-offsets"),
    ("before:activate:dr@dr", "activate"),
    ("after:activate:dr@dr", "activate"),
    ("before:mark-source:primary@primary", "mark-source"),
    ("after:mark-source:primary@primary", "mark-source"),
    ("before:complete:{pair}@dr", "complete"),
    ("after:complete:{pair}@dr", "complete"),
]


@pytest.mark.parametrize(("point", "step"), POINTS, ids=[p for p, _ in POINTS])
async def test_killed_between_intent_and_outcome_verify_reports_it_resume_reconciles(
    world: World, config_data: dict[str, Any], clusters: Any, point: str, step: str,
) -> None:
    data = with_own_audit_topic(config_data)
    services, name, groups = await new_pair(world, data)
    at = point.format(pair=name, a=groups["a"], b=groups["b"])

    def kill(where: str) -> None:
        if where == at:
            raise Kill(where)

    try:
        with pytest.raises(Kill):
            await FailoverService(services).execute(name, hook=kill)
    finally:
        await services.close()
    async with Services(services.config) as fresh:
        trail = await fresh.audit("dr")
        report = await trail.verify()
        # exactly one finding: this step's intent, reported as having no outcome
        assert [(p.kind, p.message.split(" (")[0]) for p in report.problems] == [
            ("no-outcome", f"change {(await trail.open_intents())[0].id}")]
        assert f".{step} " in report.problems[0].message
        svc = FailoverService(fresh)
        if point.startswith("before:start"):
            # nothing was recorded in _kafkaops.control: no run to resume, but the intent is
            # closed with what happened (nothing)
            with pytest.raises(NotFound, match="closed audit intents .* nothing was changed"):
                await svc.resume(name)
            assert (await trail.verify()).ok
            (closed,) = [r for r in await trail.records() if r.action.endswith(".start")]
            assert closed.result == "interrupted"
            return
        result = await svc.resume(name)
        assert result.state == "completed"
        after = await trail.verify()
        assert after.ok, after.problems
        assert await trail.open_intents() == []
        state = await final_state(fresh, name, groups, world, clusters.bootstrap("dr"),
                                  result.run_id)
        # the closing outcome says what resume found: a commit that had landed counts once
        outcome = [r for r in await trail.records()
                   if r.action.endswith(f".{step}") and r.params.get("run_id") == result.run_id
                   and r.params.get("closed_by")]
    assert state == REFERENCE
    assert len(outcome) == 1
    expected = "ok" if point.startswith("after:") else "interrupted"
    if step in ("fence", "activate", "mark-source") and point.startswith("after:"):
        expected = "interrupted"  # not recorded in the run yet: resume writes it again
    assert outcome[0].result == expected, outcome[0]


async def test_cli_killed_between_a_commit_and_its_outcome_then_verify_and_resume(
    world: World, config_data: dict[str, Any], clusters: Any, tmp_path: Path,
) -> None:
    """The same with the real CLI and SIGKILL: the commit landed, its outcome was never
    written; `audit verify` exits 1 naming the open intent; `failover resume` records
    that the commit had landed (not committing again); `audit verify` exits 0."""
    data = with_own_audit_topic(config_data)
    services, name, groups = await new_pair(world, data)
    await services.close()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({**data, "dr": {"pairs": [pair(
        name, world.east, world.west, services.config.dr.pairs[0].groups)]}}))
    env = {**cli_env(), "KAFKAOPS_FAILOVER_STOP_AT": f"after:commit-offsets:{groups['a']}@dr"}
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS, "--config", str(cfg), "failover", "execute", "--pair", name, "--yes",
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert b"stopped at after:commit-offsets:" in line, line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KAFKAOPS, "--config", str(cfg), *args], env=cli_env(),
                              capture_output=True, text=True, timeout=120)

    verify = await asyncio.to_thread(run, "-c", "dr", "audit", "verify")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "no-outcome" in verify.stdout and "commit-offsets" in verify.stdout
    assert groups["a"] in verify.stdout
    resumed = await asyncio.to_thread(run, "failover", "resume", "--pair", name, "--yes",
                                      "--json")
    assert resumed.returncode == 0, resumed.stderr
    done = json.loads(resumed.stdout)
    verify = await asyncio.to_thread(run, "-c", "dr", "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    listed = await asyncio.to_thread(run, "-c", "dr", "audit", "--json")
    rows = [r for r in json.loads(listed.stdout)
            if r["action"] == "dr.failover.commit-offsets" and r["target"] == groups["a"]]
    assert [r["result"] for r in rows] == ["ok"]  # committed once; resume found it had landed
    assert rows[0]["params"]["closed_by"] and "had landed" in json.dumps(rows[0]["detail"])
    async with Services(services.config) as fresh:
        state = await final_state(fresh, name, groups, world, clusters.bootstrap("dr"),
                                  done["run_id"])
    assert {k: state[k] for k in ("offsets", "commits")} == {
        k: REFERENCE[k] for k in ("offsets", "commits")}
