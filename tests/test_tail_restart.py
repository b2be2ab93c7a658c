"""`kafkaops tail` across a real broker restart, run as a user runs it (a subprocess): the
embedded broker keeps nothing, so it comes back empty on the same port. Every record written
after the restart is printed, and stderr says what happened to the log; a topic that stays
gone is reported, and read from its start when it exists again."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Callable

import pytest

from kafkaops.core.config import ClusterConfig, Duration
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from kafkaops.demo.embedded import EmbeddedClusters

from .conftest import KAFKAOPS, cli_env, produce, unique


@pytest.fixture
async def cluster() -> AsyncIterator[EmbeddedClusters]:
    async with EmbeddedClusters(["tail"]) as c:
        yield c


async def create_topic(bootstrap: str, topic: str) -> None:
    conn = KafkaConnection("x", ClusterConfig(bootstrap_servers=bootstrap,
                                              request_timeout=Duration(10.0)))
    async with conn:
        await TopicService(conn).create_topics([NewTopicSpec(topic, 1)])


class Tail:
    """`kafkaops tail TOPIC --json` in a subprocess; stdout and stderr lines collected."""

    def __init__(self) -> None:
        self.out: list[dict] = []
        self.err: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []

    async def start(self, bootstrap: str, topic: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            KAFKAOPS, "-b", bootstrap, "tail", topic, "--json", env=cli_env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None and self.proc.stderr is not None

        async def read(stream: asyncio.StreamReader, into: Callable[[bytes], None]) -> None:
            while line := await stream.readline():
                into(line)

        self._readers = [
            asyncio.create_task(read(self.proc.stdout, lambda b: self.out.append(json.loads(b)))),
            asyncio.create_task(read(self.proc.stderr, lambda b: self.err.append(b.decode()))),
        ]

    async def running(self, bootstrap: str, topic: str) -> None:
        """Wait until the tail prints a record written now (it starts at the end, so a
        record written before it has started is not printed)."""
        for i in range(100):
            await produce(bootstrap, topic, [f"ready-{i}".encode()], partition=0)
            if await until(lambda: bool(self.out), 0.3):
                return
        raise AssertionError(f"the tail printed nothing: {self.err}")

    def values(self) -> list[str]:
        return [r["value"] for r in self.out]

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for t in self._readers:
            t.cancel()


async def until(check: Callable[[], bool], limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


@pytest.mark.parametrize("after", [3, 60])  # fewer records than read before, and more
async def test_tail_prints_every_record_written_after_a_broker_restart(
    cluster: EmbeddedClusters, after: int
) -> None:
    b = cluster.bootstrap("tail")
    topic = unique("restart")
    await create_topic(b, topic)
    await produce(b, topic, [f"old-{i}".encode() for i in range(20)], partition=0)
    tail = Tail()
    try:
        await tail.start(b, topic)
        await tail.running(b, topic)
        cluster.restart("tail")  # empty, same address; the tail's position was 21
        await create_topic(b, topic)
        new = [f"new-{i}" for i in range(after)]
        await produce(b, topic, [v.encode() for v in new], partition=0)
        assert await until(lambda: set(new) <= set(tail.values())), (tail.values()[-5:],
                                                                     tail.err)
        got = [r for r in tail.out if r["value"].startswith("new-")]
        # each once, in order
        assert [r["value"] for r in got] == new, (tail.err, [r["value"] for r in got])
        assert [r["offset"] for r in got] == list(range(after))  # from the new log's start
        notes = [line for line in tail.err if line.startswith("kafkaops: ")]
        assert any(f"topic {topic}" in n and "new log" in n and "from its start" in n
                   for n in notes), tail.err
    finally:
        await tail.stop()


async def test_tail_reports_a_topic_that_is_gone_then_reads_it_when_it_is_back(
    cluster: EmbeddedClusters,
) -> None:
    b = cluster.bootstrap("tail")
    topic = unique("gone")
    await create_topic(b, topic)
    await produce(b, topic, [b"ready"], partition=0)
    tail = Tail()
    try:
        await tail.start(b, topic)
        await tail.running(b, topic)
        cluster.restart("tail")
        assert await until(lambda: any("no longer exists" in line for line in tail.err)), \
            tail.err
        gone = next(line for line in tail.err if "no longer exists" in line)
        assert gone == (f"kafkaops: topic {topic} no longer exists on cluster 'adhoc' (deleted, "
                        "or the broker restarted empty); waiting for it to exist again\n")
        # the tail did not create it again by asking for it
        conn = KafkaConnection("x", ClusterConfig(bootstrap_servers=b,
                                                  request_timeout=Duration(10.0)))
        async with conn:
            assert topic not in (await conn.metadata()).topics
        await create_topic(b, topic)
        await produce(b, topic, [b"back-0", b"back-1"], partition=0)
        assert await until(lambda: "back-1" in tail.values()), tail.err
        assert tail.values()[-2:] == ["back-0", "back-1"]
        assert any("exists again" in line for line in tail.err)
    finally:
        await tail.stop()


async def test_console_tail_says_the_log_was_replaced_and_shows_the_new_records(
    cluster: EmbeddedClusters,
) -> None:
    from kafkaops.console.app import KafkaOpsApp
    from kafkaops.console.messages import MessagesScreen
    from kafkaops.core.config import parse_config
    from kafkaops.core.messages.model import StartAt
    from kafkaops.core.services import Services

    from .test_messages_console import SIZE, info, offsets, wait_until

    b = cluster.bootstrap("tail")
    topic = unique("console")
    await create_topic(b, topic)
    await produce(b, topic, [f"old-{i}".encode() for i in range(20)], partition=0)
    config = parse_config({"clusters": {"solo": {"bootstrap_servers": b}}}, "<test>")
    async with Services(config) as services:
        app = KafkaOpsApp(services)
        screen = MessagesScreen(topic, start=StartAt.beginning())
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(screen)
            await wait_until(pilot, lambda: offsets(screen)[:1] == [19], "the old records")
            cluster.restart("tail")
            await create_topic(b, topic)
            await produce(b, topic, [f"new-{i}".encode() for i in range(3)], partition=0)
            await wait_until(pilot, lambda: "new log" in info(screen), "the notice")
            assert f"topic {topic}" in info(screen) and "from its start" in info(screen)
            # only the new log's records: the old log's offsets would collide with them
            await wait_until(pilot, lambda: offsets(screen) == [2, 1, 0],  # newest first
                             "the new log's records")
