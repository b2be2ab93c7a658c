"""Embedded brokers start, answer Kafka, and never outlive their owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from kafkaops.demo.embedded import EmbeddedClusters, answers_kafka

# SIGINT as a terminal's Ctrl-C gives it: a child inherits an ignored SIGINT from its parent,
# and a test worker's may be ignored (two full runs saw the SIGINT case wait out its bound)
OWNER = """
import signal, sys, time
from kafkaops.demo.embedded import EmbeddedClusters, install_signal_handlers
signal.signal(signal.SIGINT, signal.default_int_handler)
install_signal_handlers()
clusters = EmbeddedClusters(["primary", "dr"]).start()
print(clusters.bootstrap("primary"), clusters.bootstrap("dr"), flush=True)
if sys.argv[1] == "raise":
    with clusters:
        raise RuntimeError("boom")
with clusters:
    time.sleep(120)
"""


def tansu_pids(port: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "tansu" in cmd and f"127.0.0.1:{port}" in cmd:
            pids.append(int(pid))
    return pids


def wait_gone(ports: list[str], deadline_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        left = [p for port in ports for p in tansu_pids(port)]
        if not left:
            return []
        time.sleep(0.05)
    return left


def marked_pids(marker: str) -> list[int]:
    """Live tansu processes whose environment carries `marker` (every broker an owner
    started inherits it, printed or not)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if f"KAFKAOPS_TEST_OWNER={marker}".encode() in env and state != "Z" and b"tansu" in cmd:
            found.append(int(pid))
    return found


def start_owner(mode: str, marker: str = "") -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, KAFKAOPS_TEST_OWNER=marker),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    addrs = line.split()
    assert len(addrs) == 2, proc.stderr.read() if proc.stderr else line
    ports = [a.rsplit(":", 1)[1] for a in addrs]
    return proc, ports


def test_two_clusters_answer_kafka_and_stop() -> None:
    with EmbeddedClusters(["a", "b"]) as c:
        ports = [str(c.brokers[n].port) for n in ("a", "b")]
        assert ports[0] != ports[1]
        for n in ("a", "b"):
            host, port = c.bootstrap(n).split(":")
            assert answers_kafka(host, int(port))
        assert all(tansu_pids(p) for p in ports)
    assert wait_gone(ports) == []


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL", "raise"])
def test_no_broker_outlives_its_owner(how: str) -> None:
    marker = uuid.uuid4().hex
    proc, ports = start_owner("raise" if how == "raise" else "sleep", marker)
    try:
        if how != "raise":
            assert all(tansu_pids(p) for p in ports)
            assert len(marked_pids(marker)) == 2  # the marker does find the owner's brokers
            proc.send_signal(getattr(signal, how))
        # waits and closes the pipes; the bound only keeps a hang from hanging the suite (a
        # full run on 2 cores once took more than 20 s here)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # failed above: leave no owner behind for later tests
            proc.kill()
            proc.communicate()
    assert wait_gone(ports) == [], f"tansu left running after {how}"
    # and no other broker it started (one half-started when it died, say) either
    deadline = time.monotonic() + 10
    while marked_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked_pids(marker) == [], f"a broker the owner started survived {how}"
