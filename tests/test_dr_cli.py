"""`kafkaops dr status`, `kafkaops failover ...` and `kafkaops failback ...` as a script and
a person use them: the installed command in a subprocess, reading a config file."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kafkaops.core.dr.mm2_formats import Heartbeat
from kafkaops.core.dr.status import DrService
from kafkaops.core.records import TopicPartition

from .conftest import KAFKAOPS, cli_env
from .drkit import World, close_world, committed_by_consumer, make_world, now_ms, write_heartbeats

ROOT = Path(__file__).resolve().parent.parent


def config_file(tmp_path: Path, w: World, config_data: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(w.config_data(config_data)))
    return path


async def kafkaops(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KAFKAOPS, "--config", str(cfg), *args], env=cli_env(), capture_output=True,
            text=True, timeout=90, stdin=subprocess.DEVNULL,
        )
    return await asyncio.to_thread(run)


async def test_dr_status_json_and_table_show_the_same_numbers_as_core(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    w = await make_world(config_data)
    try:
        cfg = config_file(tmp_path, w, config_data)
        out = await kafkaops(cfg, "dr", "status", "--pair", w.name, "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        core = await DrService(w.services).status(w.name)
        assert (data["active"], data["epoch"], data["rpo_ok"]) == ("primary", 0, True)
        [topic] = data["topics"]
        assert topic["topic"] == core.topics[0].topic == w.topic
        assert (topic["source_end"], topic["target_end"], topic["lag_messages"]) == (25, 25, 0)
        assert [r["last_sync"] for r in topic["rows"]] == [[19, 19], [4, 4]]
        assert [g["group"] for g in data["groups"]] == [w.groups[0]]

        text = await kafkaops(cfg, "dr", "status", "--pair", w.name, "--partitions")
        assert text.returncode == 0, text.stderr
        assert f"DR pair {w.name}: primary -> dr" in text.stdout
        assert "active      primary (epoch 0)" in text.stdout
        assert w.remote in text.stdout and "19->19" in text.stdout
        assert w.groups[0] in text.stdout
    finally:
        await close_world(w)


async def test_failover_plan_execute_status_and_failback_from_the_cli(
    config_data: dict[str, Any], tmp_path: Path, clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        cfg = config_file(tmp_path, w, config_data)
        plan = await kafkaops(cfg, "failover", "plan", "--pair", w.name, "--json")
        assert plan.returncode == 0, plan.stderr
        p = json.loads(plan.stdout)
        assert p["allowed"] is True and p["source"] == "primary" and p["target"] == "dr"
        offsets = {(x["topic"], x["partition"]): x["offset"]
                   for x in p["groups"][0]["partitions"]}
        assert offsets == {(w.remote, 0): 13, (w.remote, 1): 5}

        # no terminal and no --yes: refused, nothing changed
        asked = await kafkaops(cfg, "failover", "execute", "--pair", w.name)
        assert asked.returncode == 2 and "nothing was changed" in asked.stderr
        tps = [TopicPartition(w.remote, 0), TopicPartition(w.remote, 1)]
        dr = clusters.bootstrap("dr")
        assert await committed_by_consumer(dr, w.groups[0], tps) == {tp: None for tp in tps}

        done = await kafkaops(cfg, "failover", "execute", "--pair", w.name, "--yes", "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert (result["state"], result["active"], result["epoch"]) == ("completed", "dr", 1)
        assert result["groups"][0]["offsets"] == [
            {"topic": w.remote, "partition": 0, "offset": 13},
            {"topic": w.remote, "partition": 1, "offset": 5}]
        assert await committed_by_consumer(dr, w.groups[0], tps) == {tps[0]: 13, tps[1]: 5}

        status = await kafkaops(cfg, "failover", "status", "--pair", w.name)
        assert status.returncode == 0, status.stderr
        assert f"{result['run_id']} of pair {w.name}: primary -> dr, completed" in status.stdout
        assert "active now: dr (epoch 1)" in status.stdout

        # going again is refused, and the message says what to do instead
        again = await kafkaops(cfg, "failover", "execute", "--pair", w.name, "--yes", "--force")
        assert again.returncode == 1 and "kafkaops failback" in again.stderr

        back = await kafkaops(cfg, "failback", "plan", "--pair", w.name)
        assert back.returncode == 0, back.stderr
        assert "failback plan for pair" in back.stdout and "dr -> primary" in back.stdout
        assert "refuses unless --force" in back.stdout  # nothing replicates dr -> primary
    finally:
        await close_world(w)


async def test_refused_failover_exits_1_naming_the_failed_checks(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    w = await make_world(config_data, heartbeats=False)
    try:
        old = now_ms() - 900_000
        await write_heartbeats(w.services, "dr", "heartbeats", [Heartbeat(w.east, w.west, old)])
        cfg = config_file(tmp_path, w, config_data)
        out = await kafkaops(cfg, "failover", "execute", "--pair", w.name, "--yes")
        assert out.returncode == 1
        assert "refused; nothing was changed" in out.stderr
        assert "heartbeat" in out.stderr and "--force" in out.stderr
        assert "[FAIL] heartbeat" in out.stdout  # the plan was shown first
        status = await kafkaops(cfg, "failover", "status", "--pair", w.name, "--json")
        assert json.loads(status.stdout) is None
    finally:
        await close_world(w)


async def test_bad_pair_and_missing_subcommand_are_usage_errors(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    w = await make_world(config_data, replicate=False)
    try:
        cfg = config_file(tmp_path, w, config_data)
        out = await kafkaops(cfg, "dr", "status", "--pair", "nope")
        assert out.returncode == 2
        assert f"no DR pair named 'nope' (configured: {w.name})" in out.stderr
        out = await kafkaops(cfg, "failover")
        assert out.returncode == 2 and "plan" in out.stderr
    finally:
        await close_world(w)
