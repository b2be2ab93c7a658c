"""Shared fixtures: real embedded brokers (Tansu), started once per test session.

Tests that need Kafka take `clusters` (primary and dr) or `bootstrap` (primary's
HOST:PORT), and name their topics and groups with `unique()` so tests never collide.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from kafkaops.core.config import Config, parse_config
from kafkaops.core.services import Services
from kafkaops.demo.embedded import EmbeddedClusters

#: the `kafkaops` command and the Python of the environment running the tests: .venv/, or
#: .venv-3.13/ under `./dev test --python 3.13`
KAFKAOPS = str(Path(sys.executable).with_name("kafkaops"))
PYTHON = sys.executable

# What kafkaops caches per user (the lag engine's record timestamps, core/lag/stamps.py)
# goes to a directory of this test session, for every process the tests start; the
# Kafka Connect jars keep their own place ($XDG_CACHE_HOME).
if "KAFKAOPS_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["KAFKAOPS_CACHE_DIR"] = tempfile.mkdtemp(prefix="kafkaops-test-cache-")
    atexit.register(shutil.rmtree, os.environ["KAFKAOPS_CACHE_DIR"], ignore_errors=True)


def unique(prefix: str = "t") -> str:
    """A fresh topic or group name."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def clusters() -> Iterator[EmbeddedClusters]:
    with EmbeddedClusters(["primary", "dr"]) as c:
        yield c


@pytest.fixture(scope="session")
def bootstrap(clusters: EmbeddedClusters) -> str:
    return clusters.bootstrap("primary")


@pytest.fixture(scope="session")
def config_data(clusters: EmbeddedClusters) -> dict:
    """Config as YAML data naming both embedded clusters."""
    return {
        "default_cluster": "primary",
        "clusters": {
            "primary": {"bootstrap_servers": clusters.bootstrap("primary")},
            "dr": {"bootstrap_servers": clusters.bootstrap("dr")},
        },
        "audit": {"signing_key": "test-signing-key"},
        # lag status from the first snapshot, with no hysteresis: tests of the warm-up and of
        # the hysteresis (test_lag_warmup.py) set their own
        "lag": {"warmup": "0s", "hold": "0s"},
    }


@pytest.fixture(scope="session")
def config(config_data: dict) -> Config:
    return parse_config(config_data, "<test config>")


@pytest.fixture
def config_file(tmp_path: Path, config_data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data))
    return path


@pytest.fixture
async def services(config: Config) -> AsyncIterator[Services]:
    async with Services(config) as s:
        yield s


def cli_env() -> dict[str, str]:
    """Environment for running the installed `kafkaops` command in a subprocess."""
    env = dict(os.environ)
    env.pop("KAFKAOPS_CONFIG", None)
    env.pop("KAFKAOPS_CLUSTER", None)
    env["HOME"] = env.get("HOME", "/tmp")
    return env


async def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    *,
    key: bytes | None = None,
    partition: int | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    linger_ms: int = 0,
) -> None:
    """Produce records with a real producer and wait until every one is acknowledged."""
    from aiokafka import AIOKafkaProducer

    # an outside producer, as a service writing to the cluster would be (not kafkaops')
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms)
    try:
        await producer.start()
        futures = [
            await producer.send(topic, v, key=key, partition=partition, headers=headers)
            for v in values
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@pytest.fixture(scope="session")
def connect_worker(clusters: EmbeddedClusters) -> Iterator[object]:
    """A real Kafka Connect 3.9 worker on primary, one per session (tests/connect_support.py);
    the tests using it are skipped only where Java is missing."""
    from tests.connect_support import start_worker

    yield from start_worker(clusters.bootstrap("primary"))


@pytest.fixture(scope="session")
async def connect_trio(connect_worker: object, tmp_path_factory: pytest.TempPathFactory
                       ) -> tuple[Path, str, str, str]:
    """On the session's worker: a FileStream source, a healthy sink and a sink that fails,
    for tests that leave them as they are. (directory, source, healthy, failing)."""
    from tests.connect_support import source_and_sinks

    d = tmp_path_factory.mktemp("connect-trio")
    _, src, good, bad = await source_and_sinks(connect_worker.url, d)  # type: ignore[attr-defined]
    return d, src, good, bad
