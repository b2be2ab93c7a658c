"""The whole demo: `Demo` starts the embedded clusters, writes their config file, creates the
topics, and runs the traffic and the `parts` that plug in with their own start()/stop()
(the DR replicator, `DemoFlags`, ...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.services import Services
from kafkaops.core.topics.service import TopicService
from kafkaops.demo.catalogue import DEMO_FLAGS, DEMO_TOPICS, DemoTopic
from kafkaops.demo.config_file import check_config_path, default_config_path, write_demo_config
from kafkaops.demo.embedded import EmbeddedClusters
from kafkaops.demo.traffic import DEFAULT_RATE, FULL_RATE_RECORDS, DemoTraffic, check_rate

DEMO_CLUSTERS = ("primary", "dr")


def _connection(bootstrap: str, name: str = "demo") -> KafkaConnection:
    return KafkaConnection(name, ClusterConfig(bootstrap_servers=bootstrap))


async def create_demo_topics(
    bootstrap: str, topics: Sequence[DemoTopic] = DEMO_TOPICS
) -> list[str]:
    """Create the demo topics (existing ones are left as they are); returns their names."""
    async with _connection(bootstrap) as conn:
        await TopicService(conn).create_topics([t.spec() for t in topics], exist_ok=True)
    return [t.name for t in topics]



class DemoPart(Protocol):
    """Something the demo runs next to its traffic (later: the DR replicator, flags)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Demo:
    """Embedded clusters, their config file, the demo topics and traffic.

    `start_clusters()` is synchronous and must run in the main thread: each broker gets
    PR_SET_PDEATHSIG, which fires when the *thread* that started it ends, so a broker started
    from a worker thread would die with that thread (or outlive a crash of the main one).
    Then `await start()` in the event loop, `await stop()`, and `stop_clusters()`.
    """

    rate: float = DEFAULT_RATE
    """Records/s over all topics."""
    config_path: Path = field(default_factory=default_config_path)
    """Where the config file naming the clusters is written."""
    cluster_names: tuple[str, ...] = DEMO_CLUSTERS
    """Clusters to start; the first carries the traffic."""
    seed: int | None = None
    """Seed for the record generators."""
    full_rate_records: int = FULL_RATE_RECORDS
    """Records produced at the full rate before it drops to a tenth."""
    parts: list[DemoPart] = field(default_factory=list)
    """More pieces to start after the traffic and stop before it."""
    cluster_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """More config keys per cluster name, for what the parts serve (a schema registry)."""
    clusters: EmbeddedClusters | None = None
    """The running brokers, after start_clusters()."""
    traffic: DemoTraffic | None = None
    """The traffic on the first cluster, after start()."""
    services: Services | None = None
    """The demo's parts' connections (replicator, flags, usage, alerts)."""
    face_services: Services | None = None
    """The console's connections, apart from the parts' (see start); after start()."""
    _config_text: str | None = None
    _alerts: Any = None  # the alert evaluator of the config's rules, after start()

    def __post_init__(self) -> None:
        check_rate(self.rate)
        self.config_path = check_config_path(self.config_path)

    @property
    def bootstraps(self) -> dict[str, str]:
        if self.clusters is None:
            return {}
        return {n: self.clusters.bootstrap(n) for n in self.cluster_names}

    def start_clusters(self) -> None:
        self.clusters = EmbeddedClusters(list(self.cluster_names))
        self.clusters.start()

    def stop_clusters(self) -> None:
        """Stop the brokers and remove the config file (if it is still the one we wrote)."""
        if self.clusters is not None:
            self.clusters.stop()
            self.clusters = None
        if self._config_text is not None:
            with contextlib.suppress(OSError):
                if self.config_path.read_text(encoding="utf-8") == self._config_text:
                    self.config_path.unlink()
            self._config_text = None

    async def start(self) -> Services:
        """Write the config, create the topics, start the traffic and the parts."""
        if self.clusters is None:
            raise RuntimeError("Demo.start() before start_clusters()")
        config = write_demo_config(self.config_path, self.bootstraps, self.cluster_settings)
        self._config_text = self.config_path.read_text(encoding="utf-8")
        self.services = Services(config)
        primary = self.bootstraps[self.cluster_names[0]]
        await create_demo_topics(primary)
        self.traffic = DemoTraffic(primary, rate=self.rate, seed=self.seed,
                                   full_rate_records=self.full_rate_records)
        await self.traffic.start()
        for part in self.parts:
            await part.start()
        if any(rule.when for rule in config.alerts.rules):
            # what `kafkaops bot` would run: evaluate the rules and publish firing/resolved
            # alerts on the alerts topic, which the console's alerts screen reads
            from kafkaops.core.alerts.runner import AlertEvaluator

            self._alerts = AlertEvaluator(self.services)
            await self._alerts.start()
        # the face (the console) gets connections of its own, as it would running apart
        # from MM2, the bot and the services: it drops a connection that stops answering,
        # which must not close the replicator's or the traffic's under them
        self.face_services = Services(config)
        return self.face_services

    async def stop(self) -> None:
        if self._alerts is not None:
            with contextlib.suppress(Exception):
                await self._alerts.stop()
            self._alerts = None
        for part in reversed(self.parts):
            with contextlib.suppress(Exception):
                await part.stop()
        if self.traffic is not None:
            await self.traffic.stop()
        if self.face_services is not None:
            await self.face_services.close()
        if self.services is not None:
            await self.services.close()



@dataclass
class DemoFlags:
    """Creates the demo's feature flags on the primary cluster (audited as the demo)."""

    services: Callable[[], Services | None]
    """The demo's Services, resolved at start()."""

    async def start(self) -> None:
        services = self.services()
        if services is None:
            raise RuntimeError("DemoFlags.start() before the demo's services exist")
        flags = await services.flags()
        existing = {f.key for f in await flags.list_flags()}
        for key, ftype, value, owner, desc, tags, enabled, rollout in DEMO_FLAGS:
            if key in existing:
                continue
            state = await flags.create(key, type=ftype, value=value, owner=owner,
                                       description=desc, tags=tags, actor="demo", face="cli",
                                       reason="demo seed")
            if enabled:
                state = await flags.toggle(key, True, expect_version=state.version,
                                           actor="demo", face="cli", reason="demo seed")
            if rollout != 100.0:
                await flags.rollout(key, rollout, expect_version=state.version,
                                    actor="demo", face="cli", reason="demo seed")

    async def stop(self) -> None:
        return None
