"""Dead letters on the real broker: `kafkaops dlq list` counts and reasons, replay exactly
once (even run twice, even after a replay that died half-way), dry run, guardrails, audit."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from kafkaops.core.config import parse_config
from kafkaops.core.dlq.model import LEDGER_TOPIC, REPLAY_ID, REPLAY_OF
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.expr.filter import compile_filter
from kafkaops.core.messages.service import MessageService
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .conftest import KAFKAOPS, cli_env, unique
from .test_dlq import connect, ours, spring


class World:
    """An origin topic, a second origin (Connect), and their dead-letter topic."""

    def __init__(self, config_data: dict, tmp_path: Path) -> None:
        self.orders = unique("orders")
        self.customers = unique("customers")
        self.dlq = f"{self.orders}.dlq"
        self.audit_topic = unique("_kafkaops.audit")
        self.data = copy.deepcopy(config_data)
        self.data["audit"] = {"signing_key": "test-signing-key", "topic": self.audit_topic}
        self.path = self.write(tmp_path / "config.yaml", self.data)
        ro = copy.deepcopy(self.data)
        ro["clusters"]["primary"]["read_only"] = True
        self.ro_path = self.write(tmp_path / "ro.yaml", ro)
        self.config = parse_config(self.data)

    @staticmethod
    def write(path: Path, data: dict) -> Path:
        path.write_text(yaml.safe_dump(data))
        return path

    # dead letters: (key, value, headers)
    def letters(self):
        return [
            (b"o-1", b'{"id": 1, "status": "failed"}', spring(self.orders, 0, 10,
                                                               message="Order 1 not found")),
            (b"o-2", b'{"id": 2, "status": "failed"}', spring(self.orders, 0, 11,
                                                               message="Order 2 not found")),
            (b"o-3", b'{"id": 3, "status": "late"}',
             spring(self.orders, 1, 5, fqcn="java.util.concurrent.TimeoutException",
                    message="timed out after 3000 ms")),
            (b"c-1", b"\xff\x00binary", connect(self.customers)),
            (b"o-4", b'{"id": 4}', ours(self.orders)),
            (b"o-5", b'{"id": 5, "note": "no headers"}', [("trace-id", b"t5")]),
        ]


async def make_world(config_data: dict, tmp_path: Path, bootstrap: str) -> World:
    """Creates the topics and produces the dead letters (also used by the console tests)."""
    from aiokafka import AIOKafkaProducer

    w = World(config_data, tmp_path)
    async with Services(w.config) as s:
        await (await s.topics()).create_topics([
            NewTopicSpec(w.orders, 2), NewTopicSpec(w.customers, 1), NewTopicSpec(w.dlq, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value, headers in w.letters():
            await producer.send_and_wait(w.dlq, value, key=key, headers=headers, partition=0)
    finally:
        await producer.stop()
    return w


@pytest.fixture
async def world(config_data, tmp_path, bootstrap):
    return await make_world(config_data, tmp_path, bootstrap)


def cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(path), *args], capture_output=True,
                          text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)


async def run_cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, path, *args)


async def read(services: Services, topic: str):
    conn = await services.connection()
    if topic not in (await conn.metadata([topic])).topics:
        return []
    return await MessageService(conn).read(topic)


async def ends(services: Services, *topics: str) -> dict:
    conn = await services.connection()
    meta = await conn.metadata(list(topics))
    tps = [TopicPartition(t, p.partition) for t in topics if t in meta.topics
           for p in meta.topics[t].partitions]
    return await conn.high_watermarks(tps)


async def test_list_counts_and_groups_reasons(world):
    out = await run_cli(world.path, "dlq", "list", "--json")
    assert out.returncode == 0, out.stderr
    (mine,) = [t for t in json.loads(out.stdout) if t["topic"] == world.dlq]
    assert mine["origin"] == world.orders and mine["messages"] == 6 and mine["read"] == 6
    assert mine["frameworks"] == ["connect", "kafkaops", "name", "spring"]
    assert [(r["reason"], r["count"]) for r in mine["reasons"]] == [
        ("IllegalStateException: Order <n> not found", 2),
        ("TimeoutException: timed out after <n> ms", 1),
        ("DataException: Converting byte[] to Kafka Connect data failed", 1),
        ("ValueError: amount <value> is negative", 1),
        ("no error headers", 1),
    ]
    out = await run_cli(world.path, "dlq", "list")
    assert out.returncode == 0
    line = next(x for x in out.stdout.splitlines() if x.startswith(world.dlq))
    assert world.orders in line and " 6 " in line and "Order <n> not found (2)" in line


async def test_replay_twice_produces_each_record_once_and_is_audited(world):
    out = await run_cli(world.path, "dlq", "replay", world.dlq, "--yes", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert len(result["items"]) == 6 and result["dry_run"] is False
    out2 = await run_cli(world.path, "dlq", "replay", world.dlq, "--yes")
    assert out2.returncode == 0, out2.stderr
    assert "nothing to replay" in out2.stdout and "6 replayed before" \
        in out2.stdout

    async with Services(world.config) as s:
        orders = await read(s, world.orders)
        customers = await read(s, world.customers)
        audit = await (await s.audit()).records()
    assert sorted(m.key for m in orders) == [b"o-1", b"o-2", b"o-3", b"o-4", b"o-5"]
    assert [m.key for m in customers] == [b"c-1"]
    assert customers[0].value == b"\xff\x00binary"
    o1 = next(m for m in orders if m.key == b"o-1")
    assert o1.value == b'{"id": 1, "status": "failed"}'
    headers = dict(o1.headers)
    assert headers[REPLAY_OF] == f"{world.dlq}/0/0".encode()
    assert headers[REPLAY_ID] == result["replay_id"].encode()
    assert not any(k.startswith("kafka_dlt-") for k in headers)
    assert dict(next(m for m in orders if m.key == b"o-5").headers)["trace-id"] == b"t5"
    # one audit record for the replay that changed something; the no-op wrote none
    assert [(r.action, r.target, r.result, r.face) for r in audit] == [
        ("dlq.replay", world.dlq, "ok", "cli")]
    assert audit[0].detail["replayed"] == 6
    assert audit[0].detail["to"] == {world.orders: 5, world.customers: 1}


async def test_replay_with_filter_and_positions(world):
    async with Services(world.config) as s:
        svc = DeadLetterService(s)
        r = await svc.replay(world.dlq, actor="ann", face="console",
                             where=compile_filter('status == "failed"'))
        assert [(i.partition, i.offset) for i in r.items] == [(0, 0), (0, 1)]
        r = await svc.replay(world.dlq, actor="ann", face="console", positions=[(0, 2), (0, 0)])
        assert [(i.partition, i.offset) for i in r.items] == [(0, 2)]
        assert r.already_replayed == ((0, 0),)
        orders = await read(s, world.orders)
    assert sorted(m.key for m in orders) == [b"o-1", b"o-2", b"o-3"]


async def test_dry_run_changes_nothing(world):
    async with Services(world.config) as s:
        before = await ends(s, world.orders, world.customers, LEDGER_TOPIC)
        out = await run_cli(world.path, "dlq", "replay", world.dlq, "--dry-run")
        assert out.returncode == 0, out.stderr
        assert "replay 6 records of" in out.stdout and "nothing was changed" in out.stdout
        assert await ends(s, world.orders, world.customers, LEDGER_TOPIC) == before
        conn = await s.connection()
        assert world.audit_topic not in (await conn.metadata([world.audit_topic])).topics


async def test_without_terminal_or_yes_refuses_and_changes_nothing(world):
    async with Services(world.config) as s:
        before = await ends(s, world.orders, world.customers)
        out = await run_cli(world.path, "dlq", "replay", world.dlq)
        assert out.returncode == 2
        assert "replay 6 records" in out.stderr and "nothing was changed" in out.stderr
        assert await ends(s, world.orders, world.customers) == before


async def test_read_only_cluster_refuses_replay(world):
    async with Services(world.config) as s:
        before = await ends(s, world.orders, world.customers)
        out = await run_cli(world.ro_path, "dlq", "replay", world.dlq, "--yes")
        assert out.returncode == 1
        assert "read-only" in out.stderr
        assert await ends(s, world.orders, world.customers) == before
        # a dry run is a read: allowed
        out = await run_cli(world.ro_path, "dlq", "replay", world.dlq, "--dry-run")
        assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["dlq", "replay", "{dlq}", "--filter", "status =="], 2, "bad filter"),
    (["dlq", "replay", "no-such.dlq", "--yes"], 1, "topic 'no-such.dlq' not found"),
    (["dlq", "replay", "{dlq}", "--offset", "zero"], 2, "expected PARTITION:OFFSET"),
    (["dlq", "replay", "{dlq}", "--offset", "0:99", "--yes"], 2, "no record at partition 0 "
     "offset 99"),
    (["dlq", "replay", "{dlq}", "--to", "nowhere", "--yes"], 1, "destination topic 'nowhere'"),
])
async def test_replay_bad_input_changes_nothing(world, args, code, message):
    args = [a.replace("{dlq}", world.dlq) for a in args]
    async with Services(world.config) as s:
        before = await ends(s, world.orders, world.customers)
        out = await run_cli(world.path, *args)
        assert out.returncode == code, out.stderr
        assert message in out.stderr
        assert await ends(s, world.orders, world.customers) == before


async def test_unknown_origin_is_skipped_unless_to_is_given(config_data, tmp_path, bootstrap):
    from .conftest import produce

    w = World(config_data, tmp_path)
    dlq = unique("misc-errors")
    w.data["dead_letters"] = {"topics": {dlq: "ghost-topic-that-is-not-there"}}
    async with Services(parse_config(w.data)) as s:
        await (await s.topics()).create_topics([NewTopicSpec(dlq, 1), NewTopicSpec(w.orders, 1)])
        await produce(bootstrap, dlq, [b"a", b"b"])
        svc = DeadLetterService(s)
        with pytest.raises(Exception, match="origin topic 'ghost-topic-that-is-not-there'"):
            await svc.plan_replay(dlq)
        r = await svc.replay(dlq, actor="a", face="cli", to=w.orders)
        assert r.count == 2
        assert [m.value for m in await read(s, w.orders)] == [b"a", b"b"]


async def test_replay_that_died_half_way_is_recovered_not_doubled(world):
    """A pending batch on the ledger whose first record reached the origin before the
    process died: the next replay marks it done and replays only the rest."""
    from aiokafka import AIOKafkaProducer

    async with Services(world.config) as s:
        svc = DeadLetterService(s)
        await svc._ensure_ledger()
        water = await ends(s, world.orders)
        rid = "deadbeef" * 4
        batch = {"dlq": world.dlq, "state": "pending", "by": "crashed@host",
                 "at": int(time.time() * 1000) - 3600_000, "items": [[0, 0], [0, 1]],
                 "starts": {f"{tp.topic}/{tp.partition}": end for tp, (_, end) in water.items()}}
        conn = await s.connection()
        producer = AIOKafkaProducer(bootstrap_servers=conn.config.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(LEDGER_TOPIC, json.dumps(batch).encode(),
                                         key=f"batch/{rid}".encode(), partition=0)
            await producer.send_and_wait(world.orders, b'{"id": 1, "status": "failed"}',
                                         key=b"o-1", headers=[
                                             (REPLAY_OF, f"{world.dlq}/0/0".encode()),
                                             (REPLAY_ID, rid.encode())])
        finally:
            await producer.stop()
        r = await svc.replay(world.dlq, actor="ann", face="cli")
        assert r.recovered == 1
        assert (0, 0) in r.already_replayed
        assert sorted((i.partition, i.offset) for i in r.items) == [
            (0, 1), (0, 2), (0, 3), (0, 4), (0, 5)]
        orders = await read(s, world.orders)
    assert sorted(m.key for m in orders) == [b"o-1", b"o-2", b"o-3", b"o-4", b"o-5"]


async def test_show_lists_records_with_origin_and_replayed_state(world):
    async with Services(world.config) as s:
        await DeadLetterService(s).replay(world.dlq, actor="a", face="cli", positions=[(0, 1)])
    out = await run_cli(world.path, "dlq", "show", world.dlq, "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["replayed"] for r in rows] == [False, True, False, False, False, False]
    assert rows[0]["origin"]["topic"] == world.orders and rows[0]["origin"]["offset"] == 10
    assert rows[3]["origin"]["framework"] == "connect"
