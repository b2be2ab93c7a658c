"""The one object each face is handed: config plus core services, per cluster.

A face's entry point builds `Services(config)` and passes it in (`KafkaOpsApp(services)`,
`build_bolt_app(services)`, the CLI commands). Connections are opened lazily, on first use
of a cluster, inside the running loop, and closed by `close()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kafkaops.core.config import ClusterConfig, Config, SchemaRegistryConfig
from kafkaops.core.errors import Refused
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import TopicService

if TYPE_CHECKING:
    from kafkaops.core.audit.log import AuditLog
    from kafkaops.core.flags.service import FlagService
    from kafkaops.core.lag.service import LagService
    from kafkaops.core.metrics import MetricsRegistry
    from kafkaops.core.schema.client import RegistryClient
    from kafkaops.core.schema.decoder import SchemaDecoder


class Services:
    def __init__(self, config: Config, cluster: str | None = None) -> None:
        self.config = config
        #: the cluster a face works on unless told otherwise (-c, or the config's default)
        self.cluster_name, _ = config.cluster(cluster)
        self._connections: dict[str, KafkaConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._audits: dict[str, AuditLog] = {}
        self._flags: dict[str, FlagService] = {}
        self._lags: dict[str, LagService] = {}
        self._metrics: MetricsRegistry | None = None
        self._registries: dict[SchemaRegistryConfig, RegistryClient] = {}
        self._decoders: dict[SchemaRegistryConfig, SchemaDecoder] = {}
        self._on_close: list[Callable[[], Awaitable[object]]] = []

    def on_close(self, stop: Callable[[], Awaitable[object]]) -> None:
        """Have `close()` await `stop()` first: for a helper that keeps a client open."""
        self._on_close.append(stop)

    def cluster_config(self, name: str | None = None) -> ClusterConfig:
        return self.config.cluster(name or self.cluster_name)[1]

    async def connection(self, name: str | None = None) -> KafkaConnection:
        """A started connection to the cluster (the current one by default).

        Raises ClusterUnreachable when no broker answers; the next call tries again.
        """
        name = name or self.cluster_name
        conn = self._connections.get(name)
        if conn is not None:
            return conn
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            conn = self._connections.get(name)
            if conn is None:
                conn = KafkaConnection(name, self.cluster_config(name))
                await conn.start()
                self._connections[name] = conn
        return conn

    async def drop(self, name: str | None = None) -> None:
        """Forget a connection that failed, so the next call reconnects."""
        conn = self._connections.pop(name or self.cluster_name, None)
        if conn is not None:
            await conn.stop()

    async def topics(self, name: str | None = None) -> TopicService:
        return TopicService(await self.connection(name))

    def require_writable(self, name: str | None = None, action: str = "change") -> None:
        """Raise Refused when the cluster is marked read_only in config."""
        name = name or self.cluster_name
        if self.cluster_config(name).read_only:
            e = Refused(
                f"cluster {name!r} is read-only (read_only: true in {self.config.source}); "
                f"refusing to {action}"
            )
            e.cluster = name
            raise e

    async def audit(self, name: str | None = None) -> AuditLog:
        """The audit trail of a cluster; this Services is one writer on it (audit.py)."""
        from kafkaops.core.audit.log import AuditLog

        name = name or self.cluster_name
        self.cluster_config(name)  # ConfigError for an unknown cluster
        log = self._audits.get(name)
        if log is None:
            log = self._audits[name] = AuditLog(self, name)
        return log

    async def flags(self, name: str | None = None) -> FlagService:
        """The flags of a cluster (flags.py): read on first use, then followed live."""
        from kafkaops.core.flags.service import FlagService

        name = name or self.cluster_name
        svc = self._flags.get(name)
        if svc is None:
            svc = self._flags[name] = FlagService(self, name, self.cluster_config(name))
        await svc.start()
        return svc

    async def lag(self, name: str | None = None) -> LagService:
        """The lag engine of a cluster (core/lag/service.py). One per cluster, so the console,
        alerts and bot judge lag status on the same window of snapshots; it survives a
        reconnect."""
        from kafkaops.core.lag.model import lag_policy
        from kafkaops.core.lag.service import LagService

        name = name or self.cluster_name
        conn = await self.connection(name)
        svc = self._lags.get(name)
        if svc is None or svc.conn is not conn:
            history = svc.history if svc is not None else None
            # no timestamp file (core/lag/stamps.py) here: a console or bot keeps its
            # timestamps in memory for as long as it runs, and writes nothing to disk
            # (a container's root may be read-only); `kafkaops lag` uses the file
            svc = self._lags[name] = LagService(conn, policy=lag_policy(self.config),
                                                history=history)
        return svc

    def schema_registry(self, name: str | None = None) -> RegistryClient | None:
        """The Schema Registry client of a cluster (core/schema), None when its config names
        none. Clusters that name the same registry share one client and its caches."""
        name = name or self.cluster_name
        cfg = self.cluster_config(name).schema_registry
        if cfg is None:
            return None
        client = self._registries.get(cfg)
        if client is None:
            from kafkaops.core.schema.client import RegistryClient

            client = self._registries[cfg] = RegistryClient(
                cfg, where=f"clusters.{name}.schema_registry")
        return client

    def schema_decoder(self, name: str | None = None) -> SchemaDecoder | None:
        """What decodes a cluster's Confluent-framed values for display, None without a
        registry: pass it to `MessageService(conn, decoder=...)`."""
        name = name or self.cluster_name
        cfg = self.cluster_config(name).schema_registry
        client = self.schema_registry(name)
        if cfg is None or client is None:
            return None
        decoder = self._decoders.get(cfg)
        if decoder is None:
            from kafkaops.core.schema.decoder import SchemaDecoder

            decoder = self._decoders[cfg] = SchemaDecoder(client)
        return decoder

    @property
    def metrics(self) -> MetricsRegistry:
        """What /metrics shows (metrics.py): fed by the alert evaluator, read by scrapes."""
        if self._metrics is None:
            from kafkaops.core.metrics import MetricsRegistry

            self._metrics = MetricsRegistry()
        return self._metrics

    async def close(self) -> None:
        stops, self._on_close = self._on_close, []
        await asyncio.gather(*(stop() for stop in stops), return_exceptions=True)
        self._lags.clear()
        flags = list(self._flags.values())
        self._flags.clear()
        await asyncio.gather(*(f.stop() for f in flags), return_exceptions=True)
        audits = list(self._audits.values())
        self._audits.clear()
        await asyncio.gather(*(a.stop() for a in audits), return_exceptions=True)
        registries = list(self._registries.values())
        self._registries.clear()
        self._decoders.clear()
        await asyncio.gather(*(r.aclose() for r in registries), return_exceptions=True)
        conns = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(c.stop() for c in conns), return_exceptions=True)

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
