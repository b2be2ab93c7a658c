"""The replay ledger under faults and at scale: a replay killed with SIGKILL does not block
the next one (its process is seen to be dead), never doubles or loses a record; the ledger
grows by blocks, not by records replayed; entries of the earlier one-record-per-record
layout are honoured and folded in."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from kafkaops.core.dlq.ledger import (
    BLOCK,
    Ledger,
    abandoned,
    block_key,
    encode_bits,
    owner_state,
    process_start,
    this_owner,
)
from kafkaops.core.dlq.model import LEDGER_TOPIC, REPLAY_OF
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.services import Services

from .conftest import produce
from .test_dlq_kafka import World, ends, make_world, read, run_cli

REPLAYER = """
import asyncio, sys
from kafkaops.core.config import load_config
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.services import Services

async def main():
    async with Services(load_config(sys.argv[1])) as s:
        async def stop(point):
            if point == sys.argv[3]:
                print("at", point, flush=True)
                await asyncio.Event().wait()  # killed here
        await DeadLetterService(s).replay(sys.argv[2], actor="killed@host", face="cli",
                                          hook=stop)

asyncio.run(main())
"""


@pytest.fixture
async def world(config_data: dict, tmp_path: Path, bootstrap: str) -> World:
    return await make_world(config_data, tmp_path, bootstrap)


async def kill_replay_at(world: World, point: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", REPLAYER, str(world.path), world.dlq, point,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"at " + point.encode()), (line, await proc.stderr.read())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()


@pytest.mark.parametrize("point", ["locked", "produced", "marked"])
async def test_a_replay_killed_by_sigkill_does_not_block_the_next_one(
    world: World, point: str
) -> None:
    await kill_replay_at(world, point)
    # the next run goes ahead at once (no "another replay is running" for 120 s)
    out = await run_cli(world.path, "dlq", "replay", world.dlq, "--yes", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    if point == "marked":  # all was done but the batch's last word: nothing left to replay
        assert result["items"] == [] and len(result["already_replayed"]) == 6
    else:
        assert len(result["items"]) + result["recovered"] == 6, result
        assert result["recovered"] == (6 if point == "produced" else 0)
    async with Services(world.config) as s:
        landed = await read(s, world.orders) + await read(s, world.customers)
        assert (await DeadLetterService(s).replayed_positions(world.dlq)) == {
            (0, o) for o in range(6)}
    # each dead letter on its destination exactly once
    of = sorted(dict(m.headers)[REPLAY_OF].decode() for m in landed)
    assert of == sorted(f"{world.dlq}/0/{o}" for o in range(6))


async def test_a_live_replay_still_holds_the_topic(world: World) -> None:
    """The owner check does not let a second replay past one that is running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", REPLAYER, str(world.path), world.dlq, "locked",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)).startswith(b"at locked")
        out = await run_cli(world.path, "dlq", "replay", world.dlq, "--yes")
        assert out.returncode == 3, out.stdout + out.stderr
        assert f"pid {proc.pid} on" in out.stderr and "is running" in out.stderr
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()


async def test_the_ledger_grows_by_blocks_not_by_records(
    config_data: dict, tmp_path: Path, bootstrap: str
) -> None:
    w = World(config_data, tmp_path)
    n = 500
    async with Services(w.config) as s:
        from kafkaops.core.topics.service import NewTopicSpec

        await (await s.topics()).create_topics([NewTopicSpec(w.orders, 1),
                                                NewTopicSpec(w.dlq, 1)])
        await produce(bootstrap, w.dlq, [f'{{"n": {i}}}'.encode() for i in range(n)])
        svc = DeadLetterService(s)
        await svc._ensure_ledger()
        tp = await ledger_end(s)
        first = await svc.replay(w.dlq, actor="a", face="cli",
                                 positions=[(0, o) for o in range(0, n, 2)])  # every other one
        second = await svc.replay(w.dlq, actor="a", face="cli")  # the rest
        added = await ledger_end(s) - tp
        assert (first.count, second.count) == (n // 2, n // 2)
        # per replay: the pending batch, its destination offsets, one block, done
        assert added == 8, added
        assert await svc.replayed_positions(w.dlq) == {(0, o) for o in range(n)}
        (listed,) = [t for t in await svc.list_topics() if t.topic == w.dlq]
        assert listed.replayed == n
        assert [m.value for m in await read(s, w.orders)] == [
            f'{{"n": {i}}}'.encode() for i in [*range(0, n, 2), *range(1, n, 2)]]


async def ledger_end(s: Services) -> int:
    from kafkaops.core.records import TopicPartition

    water = await ends(s, LEDGER_TOPIC)
    return water[TopicPartition(LEDGER_TOPIC, 0)][1]


async def test_entries_of_the_earlier_layout_are_honoured_and_folded_into_blocks(
    world: World,
) -> None:
    from aiokafka import AIOKafkaProducer

    async with Services(world.config) as s:
        svc = DeadLetterService(s)
        await svc._ensure_ledger()
        conn = await s.connection()
        producer = AIOKafkaProducer(bootstrap_servers=conn.config.bootstrap_servers)
        await producer.start()
        try:  # records 0 and 1 were replayed by a kafkaops that wrote one record each
            for o in (0, 1):
                await producer.send_and_wait(
                    LEDGER_TOPIC, json.dumps({"replay_id": "old"}).encode(),
                    key=f"done/{world.dlq}/0/{o}".encode(), partition=0)
        finally:
            await producer.stop()
        r = await svc.replay(world.dlq, actor="a", face="cli")
        assert sorted(r.already_replayed) == [(0, 0), (0, 1)] and r.count == 4
        ledger = await svc._read_ledger()
        assert not [x for x in ledger.legacy if x[0] == world.dlq]  # deleted (tombstones)
        assert ledger.positions(world.dlq) == {(0, o) for o in range(6)}


# ---------------------------------------------------------------- pure parts


def test_block_bitmaps_fold_as_the_newest_record_per_block() -> None:
    ledger = Ledger()
    first = ledger.with_done("t.dlq", [(0, 3), (0, BLOCK + 1), (1, 7)])
    assert sorted(first) == [block_key("t.dlq", 0, 0), block_key("t.dlq", 0, 1),
                             block_key("t.dlq", 1, 0)]
    for off, (key, value) in enumerate(first.items()):
        ledger.apply(off, key.encode(), json.dumps(value).encode())
    assert ledger.is_done("t.dlq", 0, 3) and ledger.is_done("t.dlq", 0, BLOCK + 1)
    assert not ledger.is_done("t.dlq", 0, 4) and not ledger.is_done("other", 0, 3)
    second = ledger.with_done("t.dlq", [(0, 4)])  # the union with what is there
    ledger.apply(9, block_key("t.dlq", 0, 0).encode(),
                 json.dumps(second[block_key("t.dlq", 0, 0)]).encode())
    assert ledger.positions("t.dlq") == {(0, 3), (0, 4), (0, BLOCK + 1), (1, 7)}
    assert ledger.count("t.dlq") == 4
    full = encode_bits(b"\xff" * (BLOCK // 8))
    assert len(full["bits"]) < 100  # a fully replayed block is a few dozen bytes


@pytest.mark.parametrize("value", [
    b"not json", b'{"v": 1, "bits": "!!"}', b'{"v": 2, "bits": ""}', b"[]",
    json.dumps({"v": 1, "bits": encode_bits(b"\x01" * 10)["bits"]}).encode(),  # wrong size
])
def test_a_damaged_block_record_is_ignored(value: bytes) -> None:
    ledger = Ledger()
    ledger.apply(0, block_key("t", 0, 0).encode(), value)
    assert ledger.positions("t") == set()


def test_owner_liveness() -> None:
    me = this_owner()
    assert owner_state(me) == "alive"
    assert owner_state({**me, "start": "1"}) == "dead"  # the pid was reused by another
    assert owner_state({**me, "pid": 2 ** 22 + 1, "start": process_start(os.getpid())}) == "dead"
    assert owner_state({**me, "boot": "another-boot"}) == "dead"
    assert owner_state({**me, "host": "elsewhere"}) == "unknown"
    assert owner_state({**me, "pidns": "other"}) == "unknown"
    assert owner_state(None) == "unknown" and owner_state({"pid": "x"}) == "unknown"
    now = 1_000_000_000.0
    recent: dict[str, Any] = {"at": now - 1000, "owner": {**me, "host": "elsewhere"}}
    assert not abandoned(recent, now)  # another host, 1 s old: maybe running
    assert abandoned({**recent, "at": now - 121_000}, now)  # ... 121 s old: abandoned
    assert abandoned({"at": now, "owner": {**me, "start": "1"}}, now)  # dead here: at once
