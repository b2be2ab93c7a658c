"""The demo's Kafka Connect: a real Apache Kafka Connect 3.9 worker (demo/connect_worker.py)
on the demo's primary cluster, with a FileStream source feeding a topic from a log file the
demo keeps writing, one healthy sink, and one sink that fails (its directory does not
exist), so the Connect screen, `kafkaops connect` and the alerts have something to show.

    connect = DemoConnect(lambda: demo.bootstraps["primary"])
    demo.start_clusters()
    connect.launch()            # main thread: the JVM dies with the thread that started it
    if connect.url: demo.cluster_settings["primary"]["connect"] = [connect.entry()]
    demo.parts.append(connect)  # start(): waits for the worker and creates the connectors

Without Java (or the worker's jars) the demo runs without Connect and says why
(`off_reason`). The worker starts in the background: the console opens at once and the
Connect screen says the worker does not answer until it does (6-10 s).
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.tasks import cancel_and_wait
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from kafkaops.demo.connect_install import missing
from kafkaops.demo.connect_worker import ConnectWorker

log = logging.getLogger("kafkaops.demo.connect")

CONNECT_NAME = "demo"
TOPIC = "ingest.app-log"
SOURCE = "logs-file-source"
HEALTHY = "logs-archive-sink"
FAILING = "logs-warehouse-sink"
#: where the failing sink writes: a directory that does not exist
FAILING_FILE = "/nonexistent/kafkaops-demo/warehouse.log"
LINES_PER_SECOND = 2.0
SERVICES = ("checkout", "payments-api", "orders-service", "search", "inventory")


class DemoConnect:
    """The demo part that runs Kafka Connect (see the module docstring)."""

    def __init__(self, bootstrap: Callable[[], str], *, enabled: bool = True,
                 seed: int | None = None) -> None:
        self._bootstrap = bootstrap
        self.enabled = enabled
        self.rng = random.Random(seed)
        self.worker: ConnectWorker | None = None
        self.off_reason: str | None = None
        """Why the demo runs without Connect (None while it runs with it)."""
        self.ready_after: float | None = None
        """Seconds the worker took to be ready, once it is."""
        self.error: str | None = None
        """Why the worker or the connectors could not be set up, if so."""
        self.news: list[str] = []
        """Lines for the headless demo to print once (and drop)."""
        self.dir: Path | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str | None:
        return self.worker.url if self.worker is not None else None

    def entry(self) -> dict[str, Any]:
        """The `clusters.<primary>.connect` entry of the demo's config."""
        return {"name": CONNECT_NAME, "url": self.url}

    def launch(self) -> None:
        """Start the JVM now, from the calling thread (call it from the main thread), or
        record why not. Returns at once; start() waits for the worker."""
        if not self.enabled:
            self.off_reason = "--no-connect"
            return
        why = missing()
        if why is not None:
            self.off_reason = why
            return
        self.worker = ConnectWorker(self._bootstrap(), group_id="kafkaops-demo-connect")
        try:
            self.worker.start()
        except Exception as e:  # a demo runs on without Connect, saying why
            self.worker, self.off_reason = None, f"the worker could not be started: {e}"

    def describe(self) -> str:
        """One line about Connect for the demo's banner and its headless help."""
        if self.worker is None:
            return f"Kafka Connect off: {self.off_reason}"
        if self.error:
            return f"Kafka Connect at {self.url}: {self.error}"
        state = (f"ready in {self.ready_after:.1f}s" if self.ready_after is not None
                 else "starting")
        return (f"Kafka Connect at {self.url} ({state}): {SOURCE} feeds {TOPIC}, "
                f"{HEALTHY} is healthy, {FAILING} fails")

    async def start(self) -> None:
        if self.worker is None:
            return
        self.dir = Path(tempfile.mkdtemp(prefix="kafkaops-demo-connect-"))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="demo-connect")

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            self.kill()

    def kill(self) -> None:
        """Stop the worker and remove the demo's files (also safe after stop())."""
        if self.worker is not None:
            self.worker.stop(grace=5.0)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # ------------------------------------------------------------ the connectors

    async def _run(self) -> None:
        assert self.worker is not None and self.dir is not None
        log_file = self.dir / "app.log"
        await asyncio.to_thread(log_file.write_text, "".join(
            self._line() + "\n" for _ in range(20)))
        try:
            await self.worker.wait_ready()
            await self._create_topic()
            await self._create_connectors(log_file)
        except Exception as e:
            self.error = f"could not be set up: {e}".splitlines()[0]
            self.news.append(self.describe())
            log.error("demo Kafka Connect %s", self.error)
            return
        self.ready_after = self.worker.ready_after
        self.news.append(self.describe())
        while True:  # the application keeps logging; the source keeps reading
            await asyncio.sleep(1.0 / LINES_PER_SECOND)
            await asyncio.to_thread(_append, log_file, self._line() + "\n")

    def _line(self) -> str:
        level = self.rng.choices(("INFO", "WARN", "ERROR"), (90, 8, 2))[0]
        ms = int(self.rng.lognormvariate(3.5, 0.6))
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return (f"{now} {level} {self.rng.choice(SERVICES)} GET /api/v1/orders "
                f"served in {ms}ms")

    async def _create_topic(self) -> None:
        cluster = ClusterConfig(bootstrap_servers=self._bootstrap())
        async with KafkaConnection("demo", cluster) as conn:
            await TopicService(conn).create_topics([NewTopicSpec(TOPIC, 2, 1, {
                "cleanup.policy": "delete", "retention.ms": str(86_400_000),
                "compression.type": "producer"})], exist_ok=True)

    async def _create_connectors(self, log_file: Path) -> None:
        assert self.worker is not None and self.dir is not None
        file_sink = "org.apache.kafka.connect.file.FileStreamSinkConnector"
        configs = {
            SOURCE: {"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
                     "file": str(log_file), "topic": TOPIC, "tasks.max": "1"},
            HEALTHY: {"connector.class": file_sink, "file": str(self.dir / "archive.log"),
                      "topics": TOPIC, "tasks.max": "1"},
            FAILING: {"connector.class": file_sink, "file": FAILING_FILE, "topics": TOPIC,
                      "tasks.max": "1"},
        }
        async with httpx.AsyncClient(base_url=self.worker.url, timeout=30) as http:
            for name, config in configs.items():
                deadline = time.monotonic() + 60
                while True:  # 409 while the worker rebalances after the previous one
                    resp = await http.put(f"/connectors/{name}/config", json=config)
                    if resp.status_code != 409 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                if resp.status_code not in (200, 201):
                    raise RuntimeError(f"creating connector {name}: HTTP {resp.status_code} "
                                       f"{resp.text[:200]}")


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)
