"""The flags SDK across a real broker restart: the embedded broker keeps nothing, so it comes
back empty on the same port and a writer creates the flags topic again. The client must
notice that the log it read is gone, say so (never "live" with the old log's values), read
the new log and serve its values; a topic that stays gone is reported; and an outage costs
one log line per change of state, not aiokafka's error per reconnect attempt."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml

from kafkaops.core.flags.sdk import FlagClient
from kafkaops.core.services import Services
from kafkaops.demo.embedded import EmbeddedClusters

from .conftest import KAFKAOPS, cli_env
from .test_flags_sdk import ME, cfg_for


@pytest.fixture
async def cluster() -> AsyncIterator[EmbeddedClusters]:
    async with EmbeddedClusters(["restart"]) as c:
        yield c


async def write_limit(bootstrap: str, value: int, *, changes: int = 0) -> None:
    """Create number flag `limit` with `value`, switch it on and off `changes` times (each a
    record on the log: the log gets longer), and leave it on."""
    async with Services(cfg_for(bootstrap)) as s:
        svc = await s.flags()
        await svc.create("limit", type="number", default=0, value=value, actor=ME, face="cli")
        on = False
        for _ in range(changes):
            on = not on
            await svc.toggle("limit", on, actor=ME, face="cli")
        if not on:
            await svc.toggle("limit", True, actor=ME, face="cli")


async def until(check: Callable[[], bool], limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return check()


class Watcher:
    """Samples (stale, value, last contact, message) every few ms, so a moment of "live
    with the old value" cannot slip between two looks."""

    def __init__(self, client: FlagClient) -> None:
        self.client = client
        self.samples: list[tuple[bool, float, float, str]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            st = self.client.status()
            self.samples.append((st.stale, self.client.get_number("limit", -1),
                                 st.last_contact or 0.0, st.message))
            await asyncio.sleep(0.005)

    def __enter__(self) -> Watcher:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.mark.parametrize("new_log", ["shorter", "longer"])
async def test_a_restarted_broker_is_read_anew_and_never_served_as_live_before(
    cluster: EmbeddedClusters, new_log: str
) -> None:
    b = cluster.bootstrap("restart")
    await write_limit(b, 99, changes=4)  # 6 records: the client reads up to offset 6
    c = FlagClient(b, fetch_max_wait=0.1, stale_after=5)
    try:
        status = await c.start()
        assert not status.stale and c.get_number("limit", -1) == 99
        with Watcher(c) as w:
            cluster.restart("restart")  # comes back empty, at the same address
            back = time.time()
            # the new log: 2 records (below the old position) or 12 (past it)
            await write_limit(b, 7, changes=0 if new_log == "shorter" else 10)
            assert await until(lambda: c.get_number("limit", -1) == 7
                               and not c.status().stale), c.status().message
            assert await until(lambda: len(w.samples) > 3 and w.samples[-1][1] == 7)
        assert c.get("limit").version == (2 if new_log == "shorter" else 12)  # type: ignore[union-attr]
        # Once it has heard from the new broker, never "live" while serving what the old log
        # said. (Before that it cannot know: it serves the values it last read as live for
        # up to stale_after, as documented.)
        live_old = [m for stale, v, contact, m in w.samples
                    if not stale and v == 99 and contact > back]
        assert live_old == []
    finally:
        await c.stop()


async def test_a_flags_topic_that_stays_gone_is_reported_and_not_recreated_by_the_reader(
    cluster: EmbeddedClusters,
) -> None:
    b = cluster.bootstrap("restart")
    await write_limit(b, 99)
    c = FlagClient(b, fetch_max_wait=0.1, stale_after=5, retry_backoff=0.1,
                   retry_backoff_max=0.5)
    try:
        await c.start()
        cluster.restart("restart")
        assert await until(lambda: "does not exist" in c.status().message), c.status().message
        st = c.status()
        assert st.stale and "last known good values (1 flags" in st.message
        assert c.get_number("limit", -1) == 99  # last known good, marked stale
        assert c.evaluate("limit", "u1").stale
        # the reader did not create the topic by asking for it (with default settings)
        async with Services(cfg_for(b)) as s:
            meta = await (await s.connection()).metadata()
        assert "_kafkaops.flags" not in meta.topics
    finally:
        await c.stop()


async def cli_create_limit(bootstrap: str, tmp_path: Path) -> None:
    """The writer in another process, so this process's log holds only the client's."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"clusters": {"x": {"bootstrap_servers": bootstrap}},
                                   "audit": {"signing_key": "k"}}))
    for args in (["create", "limit", "--type", "number", "--default", "0", "--value", "99"],
                 ["toggle", "limit", "--on"]):
        proc = await asyncio.create_subprocess_exec(
            KAFKAOPS, "--config", str(cfg), "flags", *args, "--yes", env=cli_env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        assert proc.returncode == 0, err


async def test_an_outage_logs_one_line_per_change_of_state(
    cluster: EmbeddedClusters, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    b = cluster.bootstrap("restart")
    await cli_create_limit(b, tmp_path)
    c = FlagClient(b, fetch_max_wait=0.1, stale_after=0.5)
    caplog.set_level(logging.DEBUG)
    try:
        await c.start()
        caplog.clear()
        cluster.kill("restart")

        def failed_attempts() -> int:
            return sum(1 for r in caplog.records if r.name.startswith("aiokafka")
                       and ("Unable connect" in r.getMessage() or "Failed fetch" in
                            r.getMessage()))

        # an outage long enough for aiokafka to fail many times over
        assert await until(lambda: failed_attempts() >= 30, 30)
        assert c.status().stale
        cluster.restart("restart")
        await cli_create_limit(b, tmp_path)
        assert await until(lambda: not c.status().stale, 20), c.status().message
        assert await until(lambda: any(r.getMessage().startswith("flags: live")
                                       for r in caplog.records))
    finally:
        await c.stop()
    loud_aiokafka = [r for r in caplog.records
                     if r.name.startswith("aiokafka") and r.levelno >= logging.WARNING]
    assert loud_aiokafka == []
    ours = [r.getMessage() for r in caplog.records
            if r.name.startswith("kafkaops") and r.levelno >= logging.INFO]
    # one line per change of state, not one per failed attempt (30 or more above): a line
    # never repeats the state of the line before it (a machine under load may go stale
    # again for a moment after the restart, which is a change of state, said once)
    states = [m.split(":")[1].strip() for m in ours]
    assert all(a != b for a, b in zip(states, states[1:], strict=False)), ours
    assert len(ours) <= 8, ours
    assert ours[0].startswith("flags: STALE") and ours[-1].startswith("flags: live")
