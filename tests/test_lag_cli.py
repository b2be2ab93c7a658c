"""`kafkaops lag` through the installed command against the real broker: JSON equal to the
true end minus the committed offset for every partition, "no offset", time lag, the text
tables, --fail-on exit codes over one snapshot and over a window, and bad input."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from kafkaops.core.lag.status import age

from .conftest import KAFKAOPS, cli_env, unique
from .lag_support import LagTopic, live_group, make_topic, stopped_group

COUNTS = {0: 30, 1: 20, 2: 10}


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(config), "lag", *args],
                          capture_output=True, text=True, env=cli_env(), timeout=90,
                          stdin=subprocess.DEVNULL)


async def kafkaops(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run, config, *args)


@pytest.fixture(scope="module")
async def topic(bootstrap: str) -> LagTopic:
    return await make_topic(bootstrap, COUNTS)


async def test_json_rows_are_end_minus_committed(config_file, bootstrap, topic):
    group = await stopped_group(bootstrap, topic.name, {0: 7, 1: 20})
    done = await kafkaops(config_file, "--group", group, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    rows = [(r["group"], r["topic"], r["partition"], r["committed"], r["end"], r["lag"],
             r["status"], r["state"]) for r in data["partitions"]]
    assert rows == [
        (group, topic.name, 0, 7, 30, 23, "STOP", "ok"),
        (group, topic.name, 1, 20, 20, 0, "OK", "ok"),
        (group, topic.name, 2, None, 10, None, "UNKNOWN", "no offset"),
    ]
    seconds = [r["lag_seconds"] for r in data["partitions"]]
    assert seconds[0] == pytest.approx(data["taken_at"] - topic.ts(7) / 1000, abs=0.002)
    assert seconds[1:] == [0.0, None]
    (g,) = data["groups"]
    assert (g["group"], g["state"], g["member_count"], g["lag"], g["status"]) == (
        group, "Empty", 0, 23, "STOP")
    assert "partitions" not in g and g["topics"][0]["lag"] == 23
    assert data["status_basis"].startswith("status from one snapshot (window 5m00s, no "
                                           "warm-up, changes at once)")
    assert data["policy"] == {"window": 300.0, "warmup": 0.0, "min_samples": 3, "hold": 0.0,
                              "stall_seconds": 60.0}


async def test_text_tables(config_file, bootstrap, topic):
    group = await stopped_group(bootstrap, topic.name, {0: 7, 1: 20})
    done = await kafkaops(config_file, "-g", group)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG",
                                "LAG", "TIME", "STATUS", "TREND", "ETA", "NOTE"]
    assert lines[1].split()[:6] == [group, topic.name, "0", "7", "30", "23"]
    waited = time.time() - topic.ts(7) / 1000  # the record at offset 7 is next to read
    assert lines[1].split()[6] in {age(waited - d) for d in (0, 1, 2)} and "STOP" in lines[1]
    assert lines[3].split()[:5] == [group, topic.name, "2", "no", "offset"]
    assert lines[3].rstrip().endswith("no offset")
    summary = next(i for i, line in enumerate(lines) if line.startswith("GROUP  ") and i > 0)
    assert lines[summary + 1].split()[:4] == [group, "Empty", "0", "23"]
    assert "status from one snapshot" in done.stdout

    done = await kafkaops(config_file, "-g", group, "--summary")
    assert done.stdout.splitlines()[0].split()[:3] == ["GROUP", "STATE", "MEMBERS"]
    assert topic.name not in done.stdout


async def test_fail_on_stop_over_one_snapshot(config_file, bootstrap, topic):
    stopped = await stopped_group(bootstrap, topic.name, {0: 7})
    caught_up = await stopped_group(bootstrap, topic.name, dict(COUNTS))
    # STOP and DATA_LOSS are told by one snapshot: no window is taken
    done = await kafkaops(config_file, "-g", stopped, "-g", caught_up,
                          "--fail-on", "STOP,DATA_LOSS")
    assert done.returncode == 1
    assert f"--fail-on matched: {stopped} STOP" in done.stderr and caught_up not in done.stderr
    done = await kafkaops(config_file, "-g", caught_up, "--fail-on", "STOP,DATA_LOSS")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def lag_config(tmp_path: Path, config_data: dict, **lag: str) -> Path:
    """A config file with its own `lag:` rules."""
    path = tmp_path / "lag.yaml"
    path.write_text(yaml.safe_dump({**config_data, "lag": lag}))
    return path


async def test_fail_on_stall_over_a_window(config_data, tmp_path, bootstrap):
    t = await make_topic(bootstrap, {0: 10})
    cfg = lag_config(tmp_path, config_data, warmup="0s", hold="0s", stall="2s")
    async with live_group(bootstrap, t.name, {0: 4}) as live:
        done = await kafkaops(cfg, "-g", live.group, "--window", "2s",
                              "--fail-on", "STALL", "--json")
    assert done.returncode == 1, done.stderr
    assert f"{live.group} STALL" in done.stderr
    data = json.loads(done.stdout)
    g = data["groups"][0]
    assert (g["status"], g["member_count"], g["lag"]) == ("STALL", 1, 6)
    assert g["samples"] >= 3 and g["window_seconds"] >= 2
    assert data["status_basis"].startswith(f"status over {g['samples']} snapshots")


async def test_missing_group_is_an_error(config_file):
    name = unique("nosuch")
    done = await kafkaops(config_file, "-g", name)
    assert done.returncode == 1 and done.stdout == ""
    assert f"consumer group {name!r} not found" in done.stderr


async def test_window_status_without_window_takes_one(config_file):
    name = unique("nosuch")
    done = await kafkaops(config_file, "-g", name, "--fail-on", "err")
    assert "ERR can only be told over time: taking snapshots for 10s" in done.stderr
    assert done.returncode == 1 and "not found" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "BROKEN"], "unknown lag status 'BROKEN'"),
        (["--fail-on", ","], "name at least one status"),
        (["--window", "soon"], "a duration such as 10s"),
        (["--window", "1s"], "a window under 2s cannot show a trend"),
    ],
)
async def test_bad_usage(config_file, args, message):
    done = await kafkaops(config_file, *args)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""


async def test_one_snapshot_is_warming_up_and_a_window_judges(config_data, tmp_path, bootstrap,
                                                               topic):
    """With a warm-up (30s by default, 3s here) one snapshot judges nothing: STOP, like WARN,
    waits for snapshots over the warm-up; DATA LOSS would not."""
    stopped = await stopped_group(bootstrap, topic.name, {0: 7})
    cfg = lag_config(tmp_path, config_data, warmup="3s", hold="30s")
    done = await kafkaops(cfg, "-g", stopped, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {r["status"] for r in data["partitions"]} == {"WARMING_UP", "UNKNOWN"}
    assert data["groups"][0]["status"] == "WARMING_UP"
    assert data["status_basis"] == (
        "warming up: 1 snapshot in 0s; a status needs 3 over 3s (window 5m00s, warm-up 3s, "
        "changes held 30s); --window 3s waits for a status")
    text = await kafkaops(cfg, "-g", stopped)
    assert "warming up" in text.stdout and "STOP" not in text.stdout

    # --fail-on STOP takes the warm-up's window by itself, then judges
    done = await kafkaops(cfg, "-g", stopped, "--fail-on", "STOP")
    assert "STOP can only be told over time: taking snapshots for 3s" in done.stderr
    assert done.returncode == 1 and f"--fail-on matched: {stopped} STOP" in done.stderr
    assert "status over" in done.stdout and "warm-up 3s" in done.stdout

    # a window that ends before the warm-up could judge nothing: refused
    done = await kafkaops(cfg, "-g", stopped, "--window", "2s")
    assert done.returncode == 2 and done.stdout == ""
    assert "--window 2s ends before the warm-up (3s, config lag.warmup)" in done.stderr
