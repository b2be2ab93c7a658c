"""`kafkaops connect ...` run as a separate process against the real Connect worker: what a
person or a script sees (text, --json, exit codes, stderr lines), every change confirmed
(--yes; refused without a terminal), audited, refused on a read-only cluster, and nothing
written when nothing changes."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.demo.connect_worker import ConnectWorker
from kafkaops.demo.embedded import free_port
from tests.conftest import KAFKAOPS, cli_env, produce, unique
from tests.connect_support import (
    connect_config,
    file_sink,
    put_connector,
    static_server,
    status,
    wait_state,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data(config_data: dict, connect_worker: ConnectWorker) -> dict:
    return connect_config(config_data, connect_worker.url)


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def kafkaops(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, in a process of its own, with no terminal (stdin closed)."""
    return await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(cfg), "connect", *args],
        capture_output=True, text=True, env=cli_env(), timeout=120, stdin=subprocess.DEVNULL)


async def audit_targets(data: dict, target: str) -> list[tuple[str, str, str, str]]:
    async with Services(parse_config(data, "<t>")) as s:
        records = await (await s.audit()).records()
    return [(r.action, r.face, r.result, r.actor) for r in records if r.target == target]


async def test_list_shows_every_connector_with_state_tasks_and_sink_lag(
        data: dict, tmp_path: Path, connect_trio) -> None:
    _, src, good, bad = connect_trio
    cfg = write(tmp_path, data)
    r = await kafkaops(cfg, "list", "--json")
    assert r.returncode == 0, r.stderr
    listing = json.loads(r.stdout)
    by = {c["name"]: c for c in listing["connectors"]}
    assert listing["worker"]["version"] == "3.9.0"
    assert [t["state"] for t in by[bad]["tasks"]] == ["FAILED"]
    assert listing["lag"][good]["group"] == f"connect-{good}"
    text = await kafkaops(cfg, "list")
    assert text.returncode == 0, text.stderr
    url = data["clusters"]["primary"]["connect"][0]["url"]
    assert text.stdout.startswith(
        f"Connect ingest (cluster primary) at {url} · Kafka Connect 3.9.0 · 1 worker")
    row = next(ln for ln in text.stdout.splitlines() if ln.startswith(bad))
    assert row.split()[1:5] == ["sink", "RUNNING", "1", "FAILED"]
    assert "task 0: org.apache.kafka.connect.errors.ConnectException: Couldn't find" in row
    assert next(ln for ln in text.stdout.splitlines() if ln.startswith(src)).split()[1:5] \
        == ["source", "RUNNING", "1", "RUNNING"]


async def test_status_json_shows_the_failed_tasks_trace(data: dict, tmp_path: Path,
                                                        connect_trio) -> None:
    bad = connect_trio[3]
    r = await kafkaops(write(tmp_path, data), "status", bad, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    (task,) = doc["connector"]["tasks"]
    assert (task["id"], task["state"]) == (0, "FAILED")
    assert "Caused by: java.nio.file.NoSuchFileException" in task["trace"]
    assert doc["task_counts"] == {"FAILED": 1} and doc["connect"] == "ingest"
    assert doc["problem"].startswith("task 0: org.apache.kafka.connect.errors.ConnectException")
    text = await kafkaops(write(tmp_path, data), "status", bad)
    assert "Task 0: FAILED on 127.0.0.1:" in text.stdout
    assert "\tat org.apache.kafka.connect.file.FileStreamSinkTask.start" in text.stdout


async def test_config_is_redacted(data: dict, tmp_path: Path, connect_trio) -> None:
    r = await kafkaops(write(tmp_path, data), "config", connect_trio[2], "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["consumer.override.sasl.jaas.config"] == "***"
    assert "hunter2" not in r.stdout


async def test_restart_failed_only_yes_brings_back_a_fixed_sink(
        data: dict, tmp_path: Path, connect_worker: ConnectWorker, bootstrap: str) -> None:
    topic, bad = unique("lines"), unique("bad")
    await produce(bootstrap, topic, [b'"a"'])
    await put_connector(connect_worker.url, bad, file_sink(tmp_path / "missing" / "o.txt",
                                                           topic))
    await wait_state(connect_worker.url, bad, "RUNNING", ["FAILED"])
    cfg = write(tmp_path, data)
    # while the cause is there: it is restarted, fails again, and the exit code says so
    again = await kafkaops(cfg, "restart", bad, "--failed-only", "--yes")
    assert again.returncode == 1
    assert f"kafkaops: {bad} still has failed work after the restart: task 0 FAILED again: " \
           "org.apache.kafka.connect.errors.ConnectException" in again.stderr
    (tmp_path / "missing").mkdir()
    r = await kafkaops(cfg, "restart", bad, "--failed-only", "--yes")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == [
        f"Restart failed task(s) 0 of {bad}; running tasks are left alone.",
        "Now: RUNNING, tasks 1 FAILED"]
    assert f"Done: {bad} is RUNNING, tasks 1 RUNNING" in r.stdout
    reported = await status(connect_worker.url, bad)
    assert [t["state"] for t in reported["tasks"]] == ["RUNNING"]
    audit = await audit_targets(data, f"ingest/{bad}")
    assert [(a, f, res) for a, f, res, _ in audit] == [("connect.restart", "cli", "ok")] * 2
    assert audit[0][3].endswith("@" + __import__("socket").gethostname())


async def test_a_change_without_a_terminal_or_yes_changes_nothing(
        data: dict, tmp_path: Path, connect_worker: ConnectWorker, connect_trio) -> None:
    good = connect_trio[2]
    r = await kafkaops(write(tmp_path, data), "pause", good)
    assert r.returncode == 2
    assert f"Pause {good}: RUNNING → PAUSED." in r.stdout
    assert "not a terminal and --yes not given: nothing was changed" in r.stderr
    assert (await status(connect_worker.url, good))["connector"]["state"] == "RUNNING"
    assert await audit_targets(data, f"ingest/{good}") == []


async def test_pause_json_reports_the_state_after(data: dict, tmp_path: Path,
                                                  connect_worker: ConnectWorker) -> None:
    name = unique("pz")
    await put_connector(connect_worker.url, name, file_sink(tmp_path / "o.txt", unique("t")))
    await wait_state(connect_worker.url, name, "RUNNING", ["RUNNING"])
    r = await kafkaops(write(tmp_path, data), "pause", name, "--yes", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["state_before"], doc["state_after"], doc["applied"]) == ("RUNNING", "PAUSED",
                                                                         True)
    assert [t["state"] for t in doc["tasks_after"]] == ["PAUSED"]
    assert (await status(connect_worker.url, name))["connector"]["state"] == "PAUSED"


async def test_nothing_to_change_says_so_and_writes_nothing(data: dict, tmp_path: Path,
                                                             connect_trio) -> None:
    good = connect_trio[2]
    r = await kafkaops(write(tmp_path, data), "resume", good, "--yes")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (f"Nothing to change: {good} is RUNNING, not paused or stopped: "
                                "resume changes nothing. Nothing was written.")
    j = await kafkaops(write(tmp_path, data), "restart", good, "--failed-only", "--json")
    assert j.returncode == 0 and json.loads(j.stdout)["applied"] is False
    assert await audit_targets(data, f"ingest/{good}") == []


async def test_offsets_reset_is_refused_while_running(data: dict, tmp_path: Path,
                                                      connect_trio) -> None:
    src = connect_trio[1]
    cfg = write(tmp_path, data)
    r = await kafkaops(cfg, "offsets", src, "--json")
    assert r.returncode == 0, r.stderr
    (offset,) = json.loads(r.stdout)["offsets"]
    assert offset["partition"] == {"filename": str(connect_trio[0] / "in.txt")}
    refused = await kafkaops(cfg, "offsets", src, "--reset", "--yes")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"kafkaops: cannot reset-offsets: {src} is RUNNING: offsets can only be reset while it "
        f"is STOPPED (stop it first: `kafkaops connect stop {src}`); nothing was changed")


async def test_read_only_cluster_refuses_before_asking(data: dict, tmp_path: Path,
                                                       connect_worker: ConnectWorker,
                                                       connect_trio) -> None:
    data["clusters"]["primary"]["read_only"] = True
    r = await kafkaops(write(tmp_path, data), "stop", connect_trio[2], "--yes")
    assert r.returncode == 1
    assert r.stderr.startswith("kafkaops: cluster 'primary' is read-only")
    assert r.stdout == ""
    assert (await status(connect_worker.url, connect_trio[2]))["connector"]["state"] == "RUNNING"


@pytest.mark.parametrize(("args", "message"), [
    (["status", "nope"], "Connector nope not found"),
    (["restart", "nope", "--yes"], "Connector nope not found"),
])
async def test_an_unknown_connector_is_one_line(data: dict, tmp_path: Path, args: list[str],
                                                message: str) -> None:
    r = await kafkaops(write(tmp_path, data), *args)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("kafkaops: Connect 'ingest' (cluster primary) at http://")
    assert message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["list", "--connect", "other"], "has no Connect cluster named 'other' (configured: "
                                     "ingest)"),
    (["restart", "x", "--task", "-1"], "task must be 0 or more"),
    (["restart", "x", "--task", "one"], "task must be a number"),
    (["restart", "x", "--task", "1", "--failed-only"], "not allowed with argument"),
    (["pause"], "the following arguments are required: NAME"),
])
def test_bad_usage_exits_2_with_one_line(data: dict, tmp_path: Path, args: list[str],
                                         message: str, capsys) -> None:
    from kafkaops.cli.main import run as cli

    try:
        code = cli(["--config", str(write(tmp_path, data)), "connect", *args])
    except SystemExit as e:  # argparse's own exit
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


async def test_workers_that_do_not_answer_or_are_not_connect(config_data: dict,
                                                             tmp_path: Path) -> None:
    down = connect_config(config_data, f"http://127.0.0.1:{free_port()}")
    r = await kafkaops(write(tmp_path, down), "list")
    assert r.returncode == 1
    assert r.stderr.startswith("kafkaops: Connect 'ingest' (cluster primary) at http://127.0.0.1:")
    assert "is unreachable (connection refused)" in r.stderr
    async with static_server(200, "<html>hi</html>", "text/html") as web:
        r = await kafkaops(write(tmp_path, connect_config(config_data, web.url)), "list")
    assert r.returncode == 2
    assert "with text/html; charset=utf-8, not JSON" in r.stderr
    bare = await kafkaops(write(tmp_path, config_data), "list")
    assert bare.returncode == 2
    assert "cluster 'primary' has no Kafka Connect configured" in bare.stderr
