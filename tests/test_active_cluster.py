"""Clients following a DR pair's active cluster (core/dr/active.py) on the two embedded
clusters: a real failover and failback seen by the watcher, the newest copy winning when the
primary is down or stale, never going back to an older epoch, and a FlagClient that moves
to the DR cluster's flags (keeping its last known good values until it has read them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from kafkaops.core.config import Config, parse_config
from kafkaops.core.dr.active import ActiveClusterWatcher, ActiveState
from kafkaops.core.dr.control import ActiveRecord, ControlStore
from kafkaops.core.dr.failover import FailoverService
from kafkaops.core.errors import ConfigError, KafkaOpsError
from kafkaops.core.flags.sdk import FlagClient
from kafkaops.core.flags.service import FlagService
from kafkaops.core.services import Services
from kafkaops.demo.embedded import EmbeddedClusters

from .conftest import unique
from .drkit import close_world, make_world

ME = "alice@test"


def pair_config(config_data: dict[str, Any], name: str, **clusters: str) -> Config:
    """Config with one dr pair `name` (primary -> dr); `clusters` overrides bootstraps."""
    data = {
        **config_data,
        "clusters": {
            **config_data["clusters"],
            **{c: {"bootstrap_servers": b} for c, b in clusters.items()},
        },
        "dr": {"pairs": [{"name": name, "primary": "primary", "secondary": "dr"}]},
    }
    return parse_config(data, "<active test config>")


async def write_active(config: Config, pair: str, cluster: str, epoch: int,
                       on: tuple[str, ...]) -> None:
    """The activate step of core/dr/failover.py: an active record with a new epoch, through
    core's ControlStore, on the given clusters' copies."""
    rec = ActiveRecord(pair, cluster, epoch, by=ME, at=time.time(), reason="failover")
    async with Services(config) as s:
        store = ControlStore.for_config(s.connection, config)
        for c in on:
            await store.write(c, [rec])


async def eventually(predicate: Callable[[], bool], limit: float = 20.0) -> bool:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# ---------------------------------------------------------------- bad input


def test_unknown_pair_and_missing_clusters_are_config_errors(
    config_data: dict[str, Any],
) -> None:
    config = pair_config(config_data, "main")
    with pytest.raises(ConfigError, match=r"no dr pair named 'nope' \(configured: main\)"):
        ActiveClusterWatcher.for_pair(config, "nope")
    with pytest.raises(ConfigError, match="no dr pair named 'nope'"):
        FlagClient.for_pair(config, "nope")
    only_primary = {"primary": config.clusters["primary"]}
    with pytest.raises(ConfigError, match="secondary cluster 'dr' is not among the clusters"):
        ActiveClusterWatcher(only_primary, config.dr.pairs[0])
    with pytest.raises(ConfigError, match="pass config="):
        ActiveClusterWatcher(config.clusters, "main")
    with pytest.raises(ConfigError, match="interval must be > 0"):
        ActiveClusterWatcher(config.clusters, "main", config=config, interval=0)
    watcher = ActiveClusterWatcher(config.clusters, "main", config=config)
    with pytest.raises(KafkaOpsError, match="not both"):
        FlagClient("127.0.0.1:9092", follow=watcher)
    # before any read: the primary, as the control topic defines, and it says so
    assert (watcher.active, watcher.epoch) == ("primary", 0)
    assert not watcher.status().known
    assert "no copy of the control record read yet" in watcher.status().message


# ---------------------------------------------------------------- with the brokers


async def test_watcher_follows_a_real_failover_and_failback(
    config_data: dict[str, Any], clusters: EmbeddedClusters,
) -> None:
    w = await make_world(config_data)
    [pair] = w.config.dr.pairs
    watcher = ActiveClusterWatcher(w.config.clusters, pair, interval=0.1)
    seen: list[ActiveState] = []
    watcher.on_change(seen.append)
    try:
        status = await watcher.start()
        assert status.known
        assert (watcher.active, watcher.epoch) == ("primary", 0)
        assert watcher.bootstrap == clusters.bootstrap("primary")
        assert [(c.cluster, c.reachable, c.epoch) for c in status.copies] == [
            ("primary", True, 0), ("dr", True, 0)]
        assert seen == []

        svc = FailoverService(w.services)
        result = await svc.execute(w.name, actor=ME, face="cli")
        assert (result.state, result.active, result.epoch) == ("completed", "dr", 1)
        assert await eventually(lambda: len(seen) == 1)
        state = seen[0]
        assert (state.cluster, state.epoch, state.reason, state.by) == ("dr", 1, "failover", ME)
        assert state.bootstrap == clusters.bootstrap("dr")
        assert (watcher.active, watcher.epoch, watcher.bootstrap) == (
            "dr", 1, clusters.bootstrap("dr"))
        # failover writes the record to the target and then the old primary: both agree
        assert await eventually(lambda: all(c.epoch == 1 for c in watcher.status().copies))
        assert "'dr' active at epoch 1" in watcher.status().message

        result = await svc.execute(w.name, direction="failback", force=True, actor=ME)
        assert (result.active, result.epoch) == ("primary", 2)
        assert await eventually(lambda: len(seen) == 2)
        assert (seen[1].cluster, seen[1].epoch, seen[1].reason) == ("primary", 2, "failback")
        assert watcher.bootstrap == clusters.bootstrap("primary")
    finally:
        await watcher.stop()
        await close_world(w)


async def test_watcher_reports_dr_when_the_primary_is_unreachable(
    config_data: dict[str, Any], clusters: EmbeddedClusters,
) -> None:
    name = unique("pair")
    await write_active(pair_config(config_data, name), name, "dr", 1, on=("dr",))
    down = pair_config(config_data, name, primary="127.0.0.1:1")  # nothing listens there
    watcher = ActiveClusterWatcher.for_pair(down, name, interval=0.1)
    try:
        status = await watcher.start()
        assert (watcher.active, watcher.epoch) == ("dr", 1)
        assert watcher.bootstrap == clusters.bootstrap("dr")
        assert status.state.read_from == ("dr",)
        primary, dr = status.copies
        assert (primary.reachable, primary.epoch) == (False, None)
        assert "127.0.0.1:1" in (primary.error or "")
        assert (dr.reachable, dr.epoch, dr.active) == (True, 1, "dr")
        assert "'dr' active at epoch 1" in status.message
        assert "'primary' unreachable" in status.message
        # it keeps polling: later rounds still answer from dr alone
        before = dr.read_at
        assert await eventually(lambda: (watcher.status().copies[1].read_at or 0) > (before or 0))
        assert watcher.active == "dr"
    finally:
        await watcher.stop()


async def test_a_stale_primary_copy_never_sends_clients_back(
    config_data: dict[str, Any],
) -> None:
    """The primary was down during the failover, so its copy still names itself at epoch 0.
    The watcher takes dr's newer epoch and, once dr goes away, stays on it."""
    name = unique("pair")
    async with EmbeddedClusters(["dr2"]) as spare:
        config = pair_config(config_data, name, dr=spare.bootstrap("dr2"))
        await write_active(config, name, "dr", 1, on=("dr",))
        watcher = ActiveClusterWatcher.for_pair(config, name, interval=0.1)
        try:
            status = await watcher.start()
            assert (watcher.active, watcher.epoch) == ("dr", 1)
            assert "'primary' has a stale copy (epoch 0, names 'primary')" in status.message
            broker = spare.brokers["dr2"].process
            broker.kill()
            await asyncio.to_thread(broker.wait)
            assert await eventually(lambda: watcher.status().copies[1].reachable is False)
            # only the stale copy answers now (a read of it after dr went away has landed):
            # the watcher does not go back to it
            gone = time.time()
            assert await eventually(lambda: (watcher.status().copies[0].read_at or 0) > gone)
            assert watcher.status().copies[0].reachable
            assert (watcher.active, watcher.epoch) == ("dr", 1)
            assert "'dr' unreachable" in watcher.status().message
        finally:
            await watcher.stop()


async def test_flag_client_following_the_pair_switches_to_dr_flags(
    config_data: dict[str, Any], clusters: EmbeddedClusters,
) -> None:
    name = unique("pair")
    topic = unique("_kafkaops.flags-test")  # a topic of its own: dr has none until we write it
    key = unique("checkout")
    config = pair_config(config_data, name)
    async with Services(config) as s:
        on_primary = FlagService(s, "primary", config.clusters["primary"], topic=topic)
        try:
            await on_primary.create(key, type="string", default="off", value="from-primary",
                                    actor=ME, face="cli")
            await on_primary.toggle(key, True, actor=ME, face="cli")
        finally:
            await on_primary.stop()

    client = FlagClient.for_pair(config, name, interval=0.1, topic=topic, fetch_max_wait=0.1)
    try:
        status = await client.start()
        assert (status.following, status.cluster, status.epoch) == (name, "primary", 0)
        assert status.source == "kafka" and not status.stale
        assert status.message.startswith(f"live: 1 flags from primary (pair {name}, epoch 0)")
        assert client.get_string(key, "-") == "from-primary"

        await write_active(config, name, "dr", 1, on=("dr", "primary"))
        assert await eventually(lambda: client.status().cluster == "dr")
        status = client.status()
        # dr has no flags topic yet: the last known good values stay, marked stale
        assert (status.epoch, status.values_cluster, status.stale) == (1, "primary", True)
        assert "STALE: switching to dr" in status.message
        assert "serving the last known good values from primary" in status.message
        assert status.switched is not None and "from primary to dr at epoch 1" in status.switched
        ev = client.evaluate(key, "u1")
        assert (ev.value, ev.stale) == ("from-primary", True)

        async with Services(config) as s:
            on_dr = FlagService(s, "dr", config.clusters["dr"], topic=topic)
            try:
                await on_dr.create(key, type="string", default="off", value="from-dr",
                                   actor=ME, face="cli")
                await on_dr.toggle(key, True, actor=ME, face="cli")
            finally:
                await on_dr.stop()
        assert await client.wait_until(lambda c: c.get_string(key, "-") == "from-dr", 20)
        assert await eventually(lambda: not client.status().stale)
        status = client.status()
        assert (status.cluster, status.values_cluster, status.epoch) == ("dr", "dr", 1)
        assert status.message.startswith(f"live: 1 flags from dr (pair {name}, epoch 1)")
        assert client.cluster_config.bootstrap_servers == clusters.bootstrap("dr")
    finally:
        await client.stop()


async def test_a_primary_that_never_answers_does_not_delay_news_from_dr(
    config_data: dict[str, Any],
) -> None:
    """A blackholed primary (accepts connections, never answers) holds its own read until
    the request timeout; dr's reads go on meanwhile and a new epoch there is served."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client goes away
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    name = unique("pair")
    config = pair_config(config_data, name)
    await write_active(config, name, "dr", 1, on=("dr",))
    hung = pair_config(config_data, name, primary=f"127.0.0.1:{port}")
    watcher = ActiveClusterWatcher.for_pair(hung, name, interval=0.1)
    try:
        await watcher.start(wait=0)
        assert await eventually(lambda: watcher.epoch == 1)
        await write_active(config, name, "primary", 2, on=("dr",))
        assert await eventually(lambda: watcher.epoch == 2)
        assert watcher.active == "primary"
        # the primary's first read is still waiting for its answer (request timeout 10 s)
        assert watcher.status().copies[0].reachable is None
    finally:
        await watcher.stop()
        server.close()
        await server.wait_closed()
