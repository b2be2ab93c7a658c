"""`kafkaops demo` with Kafka Connect: with Java it runs a real worker on its primary with a
FileStream source feeding a topic, a healthy sink and one that fails, which the CLI and the
console show from the demo's own config; its JVM stops with the demo. Without Java the
demo runs on and says Connect is off, and why."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.connect import ConnectScreen
from kafkaops.core.config import load_config
from kafkaops.core.services import Services
from kafkaops.demo import connect_install as install
from tests.conftest import KAFKAOPS, cli_env
from tests.test_connect_console import row_of, wait_until
from tests.test_demo import _read_until

ROOT = Path(__file__).resolve().parent.parent
SOURCE, HEALTHY, FAILING = "logs-file-source", "logs-archive-sink", "logs-warehouse-sink"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, *args], capture_output=True, text=True, env=cli_env(),
                          timeout=120)


def jvm_children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z" and b"ConnectDistributed" in cmd:
            out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def _console_shows(cfg: Path) -> None:
    async with Services(load_config(cfg)) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.press("C")
            await wait_until(pilot, lambda: isinstance(app.screen, ConnectScreen)
                             and row_of(app.screen, FAILING), "the demo's connectors")
            assert row_of(app.screen, FAILING)[3] == "1 FAILED"
            assert row_of(app.screen, HEALTHY)[3] == "1 RUNNING"


def _connectors(cfg: Path) -> dict | None:
    """The demo's connectors by name, once the failing sink's task is FAILED."""
    r = run("--config", str(cfg), "connect", "list", "--json")
    assert r.returncode == 0, r.stderr
    by = {c["name"]: c for c in json.loads(r.stdout)["connectors"]}
    tasks = [t["state"] for t in by.get(FAILING, {}).get("tasks", [])]
    return by if tasks == ["FAILED"] else None


@pytest.mark.skipif(install.find_java() is None, reason=f"needs Java: {install.missing()}")
def test_the_demo_runs_connect_with_a_healthy_and_a_failed_connector(
        tmp_path: Path, connect_worker: object) -> None:
    # (connect_worker: the session's worker makes sure the jars are installed)
    cfg = tmp_path / "demo.yaml"
    proc = subprocess.Popen([KAFKAOPS, "demo", "--headless", "--rate", "20",
                             "--config-out", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    with proc:
        try:
            out = _read_until(proc, "(ready in", 180)
            assert "Kafka Connect at http://127.0.0.1:" in out and "(starting)" in out
            assert f"kafkaops --config {cfg} connect list" in out
            (jvm,) = jvm_children(proc.pid)
            deadline = time.monotonic() + 60
            while (by := _connectors(cfg)) is None:
                assert time.monotonic() < deadline, "the failing sink never failed"
                time.sleep(0.5)
            assert [t["state"] for t in by[SOURCE]["tasks"]] == ["RUNNING"]
            assert [t["state"] for t in by[HEALTHY]["tasks"]] == ["RUNNING"]
            status = run("--config", str(cfg), "connect", "status", FAILING, "--json")
            assert "NoSuchFileException: /nonexistent/kafkaops-demo/warehouse.log" in json.loads(
                status.stdout)["connector"]["tasks"][0]["trace"]
            asyncio.run(_console_shows(cfg))  # the console on the demo's config shows them
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(60)
    assert rc == 0
    deadline = time.monotonic() + 20
    while alive(jvm) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(jvm), "the demo's Connect worker outlived the demo"
    assert not cfg.exists()


def test_without_java_the_demo_says_connect_is_off(tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env().items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java on it
    cfg = tmp_path / "demo.yaml"
    r = subprocess.run([KAFKAOPS, "demo", "--headless", "--rate", "20", "--duration", "1",
                        "--config-out", str(cfg)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Kafka Connect off: Java was not found (no `java` on PATH and no $JAVA_HOME)" \
        in r.stdout
    assert "connect list" not in r.stdout
