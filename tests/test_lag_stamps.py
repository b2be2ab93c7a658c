"""Record timestamps kept on disk between processes (core/lag/stamps.py): a second lag
run reads only offsets that moved, and the file can cost a slower snapshot, never a wrong
one: entries of a topic whose id changed are ignored, a damaged file is ignored and
replaced, and a file that cannot be written changes nothing the user sees."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.lag.service import LagService
from kafkaops.core.lag.stamps import TimestampStore, cache_dir
from kafkaops.core.lag.status import LagPolicy

from .conftest import KAFKAOPS, cli_env
from .lag_support import LagTopic, make_topic, stopped_group

AT_ONCE = LagPolicy(warmup=0, hold=0)
IDS = {"orders": "a1" * 16, "payments": "b2" * 16}


# ---------------------------------------------------------------- the file alone


def test_saved_timestamps_load_back_for_the_same_topic_ids(tmp_path: Path) -> None:
    store = TimestampStore(tmp_path / "c.json")
    stamps = {("orders", 0, 7): 1_700_000_000_000, ("orders", 3, 0): 5,
              ("payments", 1, 42): 1_700_000_123_456}
    assert store.save(stamps, IDS)
    assert store.load(IDS) == stamps
    # the file is its owner's only
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_topic_created_again_under_a_new_id_loses_its_entries(tmp_path: Path) -> None:
    store = TimestampStore(tmp_path / "c.json")
    store.save({("orders", 0, 7): 1, ("payments", 0, 7): 2}, IDS)
    now = dict(IDS, orders="c3" * 16)
    assert store.load(now) == {("payments", 0, 7): 2}
    assert store.load({}) == {}  # no ids known now: nothing is trusted


def test_topics_without_an_id_are_not_written(tmp_path: Path) -> None:
    store = TimestampStore(tmp_path / "c.json")
    store.save({("orders", 0, 7): 1, ("unknown", 0, 1): 2}, IDS)
    assert "unknown" not in orjson.loads(store.path.read_bytes())["topics"]


@pytest.mark.parametrize("content", [
    b"\x00\xff not json",
    b"[1, 2, 3]",
    b'{"version": 2, "topics": {}}',
    b'{"version": 1, "topics": []}',
    b'{"version": 1, "topics": {"orders": ["' + IDS["orders"].encode() + b'", [0, 7]]}}',
    b'{"version": 1, "topics": {"orders": ["' + IDS["orders"].encode() + b'", [0, 7, "x"]]}}',
    b'{"version": 1, "topics": {"orders": ["' + IDS["orders"].encode() + b'", [0, 7, true]]}}',
    b'{"version": 1, "topics": {"orders": ["' + IDS["orders"].encode() + b'", [0, 7, 1.5]]}}',
    b'{"version": 1, "topics": {"orders": ["' + IDS["orders"].encode() + b'"]}}',
    b'{"version": 1, "topics": {"orders": "' + IDS["orders"].encode() + b'"}}',
], ids=["binary", "list", "other-version", "topics-list", "short-triple", "text-ts",
        "bool-ts", "float-ts", "no-entries", "bare-id"])
def test_a_damaged_file_is_ignored(tmp_path: Path, content: bytes) -> None:
    store = TimestampStore(tmp_path / "c.json")
    store.path.write_bytes(content)
    assert store.load(IDS) == {}


def test_negative_partitions_and_offsets_are_dropped(tmp_path: Path) -> None:
    store = TimestampStore(tmp_path / "c.json")
    store.path.write_bytes(orjson.dumps(
        {"version": 1, "topics": {"orders": [IDS["orders"], [-1, 7, 1, 0, -3, 2, 0, 9, 3]]}}))
    assert store.load(IDS) == {("orders", 0, 9): 3}


def test_a_file_that_cannot_be_written_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    store = TimestampStore(blocker / "lag" / "c.json")
    assert store.save({("orders", 0, 7): 1}, IDS) is False
    assert blocker.read_text() == "a file where the directory should be"


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("KAFKAOPS_CACHE_DIR", str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"
    monkeypatch.delenv("KAFKAOPS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "kafkaops"
    one = TimestampStore.for_cluster("a:9092", tmp_path)
    assert one.path.parent == tmp_path
    assert one.path != TimestampStore.for_cluster("b:9092", tmp_path).path


# ---------------------------------------------------------------- against the broker


@pytest.fixture(scope="module")
async def conn(bootstrap: str) -> AsyncIterator[KafkaConnection]:
    async with KafkaConnection("primary", ClusterConfig(bootstrap)) as c:
        yield c


@pytest.fixture(scope="module")
async def topic(bootstrap: str) -> LagTopic:
    return await make_topic(bootstrap, {0: 30, 1: 20}, age_s=7200)


def ages(snap: object, group: str) -> dict[int, float | None]:
    g = snap.group(group)  # type: ignore[attr-defined]
    return {p.partition: p.lag_seconds for p in g.partitions}


async def test_a_second_service_reads_no_record_twice(conn, bootstrap, topic, tmp_path):
    group = await stopped_group(bootstrap, topic.name, {0: 7, 1: 3})
    store = TimestampStore(tmp_path / "c.json")
    first = LagService(conn, policy=AT_ONCE, store=store)
    snap1 = await first.snapshot([group])
    await first.stop()
    assert snap1.requests["Fetch"] >= 2  # the ends, and the records at offsets 7 and 3
    assert store.path.exists()

    second = LagService(conn, policy=AT_ONCE, store=store)
    snap2 = await second.snapshot([group])
    assert snap2.requests["Fetch"] == 1  # only the ends: both timestamps came from the file
    for p, offset in ((0, 7), (1, 3)):
        want = snap2.taken_at - topic.ts(offset) / 1000
        assert ages(snap2, group)[p] == pytest.approx(want, abs=0.002)


async def test_entries_under_an_old_topic_id_are_read_again(conn, bootstrap, topic, tmp_path):
    group = await stopped_group(bootstrap, topic.name, {0: 11})
    store = TimestampStore(tmp_path / "c.json")
    first = LagService(conn, policy=AT_ONCE, store=store)
    await first.snapshot([group])
    await first.stop()
    # what a file written before the topic was deleted and created again holds: the same
    # name under another id, with timestamps that are no longer true
    doc = orjson.loads(store.path.read_bytes())
    real_id, flat = doc["topics"][topic.name]
    doc["topics"][topic.name] = ["f" * 32, [0, 11, 1]]  # record 11 from 1970
    store.path.write_bytes(orjson.dumps(doc))

    snap = await LagService(conn, policy=AT_ONCE, store=store).snapshot([group])
    assert snap.requests["Fetch"] == 2  # read from the broker again
    want = snap.taken_at - topic.ts(11) / 1000
    assert ages(snap, group)[0] == pytest.approx(want, abs=0.002)
    assert real_id != "f" * 32 and flat


async def test_a_damaged_file_gives_the_right_ages_and_is_replaced(conn, bootstrap, topic,
                                                                   tmp_path):
    group = await stopped_group(bootstrap, topic.name, {0: 5, 1: 9})
    store = TimestampStore(tmp_path / "c.json")
    store.path.write_bytes(b"{\"version\": 1, \"topics\": {\"" + topic.name.encode() + b"\": 7")
    svc = LagService(conn, policy=AT_ONCE, store=store)
    snap = await svc.snapshot([group])
    await svc.stop()
    assert ages(snap, group) == {
        0: pytest.approx(snap.taken_at - topic.ts(5) / 1000, abs=0.002),
        1: pytest.approx(snap.taken_at - topic.ts(9) / 1000, abs=0.002),
    }
    assert (topic.name, 0, 5) in {
        (t, p, o) for t, (_, flat) in orjson.loads(store.path.read_bytes())["topics"].items()
        for p, o in zip(flat[0::3], flat[1::3], strict=True)}


async def test_without_a_store_nothing_is_written(conn, bootstrap, topic, tmp_path,
                                                  monkeypatch):
    monkeypatch.setenv("KAFKAOPS_CACHE_DIR", str(tmp_path))
    group = await stopped_group(bootstrap, topic.name, {0: 2})
    svc = LagService(conn, policy=AT_ONCE)
    await svc.snapshot([group])
    await svc.stop()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- as users run it


def run_lag(bootstrap: str | None, env: dict[str, str], *extra: str) -> dict:
    target = ["-b", bootstrap] if bootstrap else []
    done = subprocess.run(
        [KAFKAOPS, *target, *extra, "lag", "--json"], capture_output=True, text=True,
        env=env, timeout=90, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rows(doc: dict, group: str) -> dict[int, tuple[int, float]]:
    return {r["partition"]: (r["lag"], r["lag_seconds"]) for r in doc["partitions"]
            if r["group"] == group}


async def test_kafkaops_lag_twice_reads_the_records_once(bootstrap, topic, tmp_path):
    group = await stopped_group(bootstrap, topic.name, {0: 4, 1: 6})
    env = dict(cli_env(), KAFKAOPS_CACHE_DIR=str(tmp_path))
    first = await asyncio.to_thread(run_lag, bootstrap, env)
    files = list((tmp_path / "lag").iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    second = await asyncio.to_thread(run_lag, bootstrap, env)
    # every group on the broker is in the document; the second run read only the ends
    assert second["requests"]["Fetch"] == 1 < first["requests"]["Fetch"]
    assert {p: lag for p, (lag, _) in rows(second, group).items()} == {0: 26, 1: 14}
    for doc in (first, second):
        got = rows(doc, group)
        assert got[0][1] == pytest.approx(doc["taken_at"] - topic.ts(4) / 1000, abs=0.01)
        assert got[1][1] == pytest.approx(doc["taken_at"] - topic.ts(6) / 1000, abs=0.01)


async def test_remember_timestamps_false_writes_no_file(bootstrap, topic, tmp_path):
    await stopped_group(bootstrap, topic.name, {0: 1})
    config = tmp_path / "kafkaops.yaml"
    config.write_text(f"clusters:\n  primary:\n    bootstrap_servers: {bootstrap}\n"
                      "lag:\n  remember_timestamps: false\n")
    env = dict(cli_env(), KAFKAOPS_CACHE_DIR=str(tmp_path / "cache"))
    doc = await asyncio.to_thread(run_lag, None, env, "--config", str(config))
    assert doc["partitions"]
    assert not (tmp_path / "cache").exists()
