"""A local Apache Kafka Connect 3.9 worker (distributed mode) as a child process, for the
tests and the demo: the real REST API, against an embedded Tansu broker.

    worker = ConnectWorker(bootstrap="127.0.0.1:9092").start()   # main thread: see below
    await worker.wait_ready()                                    # or worker.wait_ready_sync()
    ... worker.url ...
    worker.stop()

Like demo/embedded.py's brokers, no worker outlives its owner: the JVM gets
PR_SET_PDEATHSIG (SIGKILL when the thread that started it dies, however it dies), `stop()`
and an atexit hook end it, and it runs in its own process group so Ctrl-C in a terminal
reaches us, not it. Start it from a thread that lives as long as it should (the main one).

The worker settings Tansu needs: Tansu completes a group join after half the session
timeout, so Java's default (45 s) would mean a 23 s join; 2 s sessions and 300 ms
heartbeats (for the worker group and for sink tasks' consumers) make it about a second.
Internal topics have one partition and replication factor 1. Plugins are found by
ServiceLoader (`plugin.discovery=service_load`): no plugin path scan at start.

Standard library and core's embedded-broker helpers only; nothing here talks to Kafka.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.core.connect.errors import ConnectSetupError
from kafkaops.demo.connect_install import Installation, find_installation, missing
from kafkaops.demo.embedded import _die_with_parent, free_port

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()

#: what Tansu needs (see the module docstring) and what keeps a test worker quick and small
TANSU_SETTINGS: dict[str, str] = {
    "session.timeout.ms": "2000",
    "heartbeat.interval.ms": "300",
    "scheduled.rebalance.max.delay.ms": "2000",
    "consumer.session.timeout.ms": "2000",
    "consumer.heartbeat.interval.ms": "300",
    "config.storage.replication.factor": "1",
    "offset.storage.replication.factor": "1",
    "status.storage.replication.factor": "1",
    "offset.storage.partitions": "1",
    "status.storage.partitions": "1",
    "offset.flush.interval.ms": "1000",
    "plugin.discovery": "service_load",
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "false",
    "value.converter.schemas.enable": "false",
}
#: C1 only and the serial collector: the worker starts sooner on a 2-core machine and
#: stays small; it serves a test session or a demo, not production traffic
JVM_OPTIONS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-Djava.awt.headless=true")
_LOG4J2 = """\
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c{{1}})%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
"""


@dataclass
class ConnectWorker:
    """One Connect worker in distributed mode, on a free loopback port."""

    bootstrap: str
    """HOST:PORT of the Kafka cluster it stores its state in and runs connectors against."""
    group_id: str = "kafkaops-connect"
    """The worker group; also the prefix of its three internal topics."""
    port: int | None = None
    """REST port (default: a free one)."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """More worker properties (override the defaults)."""
    startup_timeout: float = 120.0
    """How long `wait_ready` waits for the REST API and the group join."""
    installation: Installation | None = None
    """What to run (default: found on this machine; ConnectSetupError when incomplete)."""
    process: subprocess.Popen[bytes] | None = None
    """The JVM, once started."""
    started_at: float | None = None
    """time.monotonic() when the JVM was launched."""
    ready_after: float | None = None
    """Seconds from launch to ready (after wait_ready)."""
    _workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("ConnectWorker.url before start()")
        return f"http://127.0.0.1:{self.port}"

    @property
    def workdir(self) -> Path:
        """Its properties and log file (removed by stop())."""
        if self._workdir is None:
            raise RuntimeError("ConnectWorker.workdir before start()")
        return Path(self._workdir.name)

    @property
    def log_path(self) -> Path:
        return self.workdir / "worker.log"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def properties(self) -> dict[str, str]:
        """The worker's properties file, as a mapping."""
        g = self.group_id
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": g,
            "config.storage.topic": f"{g}.configs",
            "offset.storage.topic": f"{g}.offsets",
            "status.storage.topic": f"{g}.status",
            "listeners": self.url,
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            **TANSU_SETTINGS,
            **self.settings,
        }

    def start(self) -> ConnectWorker:
        """Launch the JVM (returns at once; `wait_ready` waits for its REST API). A no-op
        when it is already running."""
        if self.alive():
            return self
        inst = self.installation or find_installation()
        if inst is None:
            raise ConnectSetupError(missing() or "Kafka Connect is not installed")
        self.installation = inst
        if self.port is None:
            self.port = free_port()
        self._workdir = tempfile.TemporaryDirectory(prefix="kafkaops-connect-")
        props = self.workdir / "worker.properties"
        props.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()),
                         encoding="utf-8")
        log4j2 = self.workdir / "log4j2.properties"
        log4j2.write_text(_LOG4J2.format(log=self.log_path), encoding="utf-8")
        cmd = [inst.java, *JVM_OPTIONS, f"-Dlog4j2.configurationFile={log4j2}",
               "-cp", inst.classpath, "org.apache.kafka.connect.cli.ConnectDistributed",
               str(props)]
        with (self.workdir / "stdout.log").open("wb") as out:
            self.process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.workdir, preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
            )
        self.started_at = time.monotonic()
        with _live_lock:
            _live.add(self.process)
        return self

    # ------------------------------------------------------------ readiness

    def _probe(self) -> bool:
        """True once the worker has joined its group and serves requests: GET /health
        (Connect 3.8+) answers 200 only after start-up completed."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                body = json.loads(resp.read() or b"{}")
                return bool(resp.status == 200 and body.get("status") == "healthy")
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def _check_alive(self) -> None:
        if not self.alive():
            code = None if self.process is None else self.process.returncode
            raise ConnectSetupError(
                f"the Connect worker exited (code {code}) before its REST API answered. "
                f"Its log ends with:\n{self.log_tail()}")

    def _timed_out(self) -> ConnectSetupError:
        return ConnectSetupError(
            f"the Connect worker at {self.url} was not ready within "
            f"{self.startup_timeout:g}s. Its log ends with:\n{self.log_tail()}")

    def wait_ready_sync(self) -> float:
        """Block until ready; returns the seconds since launch."""
        assert self.started_at is not None, "wait_ready before start()"
        deadline = self.started_at + self.startup_timeout
        while not self._probe():
            self._check_alive()
            if time.monotonic() > deadline:
                raise self._timed_out()
            time.sleep(0.1)
        self.ready_after = time.monotonic() - self.started_at
        return self.ready_after

    async def wait_ready(self) -> float:
        """Wait until ready without blocking the loop; returns the seconds since launch."""
        assert self.started_at is not None, "wait_ready before start()"
        deadline = self.started_at + self.startup_timeout
        while not await asyncio.to_thread(self._probe):
            self._check_alive()
            if time.monotonic() > deadline:
                raise self._timed_out()
            await asyncio.sleep(0.1)
        self.ready_after = time.monotonic() - self.started_at
        return self.ready_after

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for name in ("stdout.log", "worker.log"):
            try:
                parts.append((self.workdir / name).read_text(errors="replace")[-chars:])
            except (OSError, RuntimeError):
                continue
        return "\n".join(p for p in parts if p.strip()) or "(empty)"

    # ------------------------------------------------------------ stopping

    def kill(self) -> None:
        """SIGKILL the JVM now (as a crash would), keeping its files: for fault tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (the worker leaves its group), SIGKILL after `grace` seconds."""
        if self.process is not None:
            _terminate(self.process, grace)
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> ConnectWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    with _live_lock:
        _live.discard(proc)


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _terminate(proc, 5.0)
