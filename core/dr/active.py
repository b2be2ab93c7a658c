"""Follow which cluster of a DR pair is active, for clients that must switch on failover.

    watcher = ActiveClusterWatcher.for_pair(config, "main")     # or (cluster configs, pair)
    await watcher.start()                  # first read of both copies; never raises on Kafka
    watcher.active, watcher.epoch, watcher.bootstrap           # e.g. "dr", 1, "dr-1:9092"
    remove = watcher.on_change(lambda state: ...)               # called when the epoch goes up
    watcher.status()                       # what each cluster's copy said, and when
    await watcher.stop()

The active record (`dr/<pair>/active` in `_kafkaops.control`, see core/dr/control.py) is
kept on BOTH clusters of the pair. The watcher reads both copies every `interval` seconds and takes
the highest epoch, because either copy can be wrong on its own: a failover happens when the
primary is in trouble, so the primary may be down (nothing to read) or may have been down
while the failover ran and came back with its old record (stale: it still names itself at
the old epoch). The target of a failover always gets the new record first.

With a DR key (core/dr/signing.py: `verify_key=`, else the public half of the config's
dr.signing_key / audit.signing_key when `config` is given) the watcher reads only control
records whose signature verifies: an unsigned, altered or copied record naming another
active cluster is ignored (logged once by offset, listed in `status()`), never followed.

The watcher never goes back to a lower epoch than one it has seen: a stale copy answering
while the up-to-date one is unreachable must not send clients back to the old primary
(split brain). Epochs only go up (every failover and failback adds one), so "highest seen
wins" is correct across any number of failovers and failbacks.

Each cluster's copy is polled by a loop of its own: the next read of a cluster is scheduled
when its last one finished, so reads never overlap (`refresh()` waits for a read in progress
instead of starting another), and a cluster that hangs until its request timeout does not
delay the other's news. A cluster that does not answer is retried with a growing delay (up
to `MAX_RETRY_DELAY`), so a dead primary is not hammered by every client of the pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafkaops.core.config import ClusterConfig, Config, DrPairConfig
from kafkaops.core.dr.control import ActiveRecord, ControlLog, ControlStore
from kafkaops.core.dr.signing import verifier_for
from kafkaops.core.errors import ConfigError, KafkaOpsError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.statelog.signing import RecordVerifier
from kafkaops.core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: longest wait between two reads of a cluster that does not answer (seconds)
MAX_RETRY_DELAY = 30.0


@dataclass(frozen=True)
class ActiveState:
    """The pair's active cluster as the watcher serves it."""

    pair: str
    """DR pair name."""
    cluster: str
    """Name (under clusters:) of the active cluster."""
    epoch: int
    """Active epoch: goes up by one at every failover and failback."""
    bootstrap: str
    """bootstrap_servers of the active cluster."""
    by: str
    """Who made it active ("" for the implicit initial state)."""
    at: float
    """When it was made active (seconds since the epoch; 0 for the initial state)."""
    reason: str
    """failover, failback, or initial."""
    read_from: tuple[str, ...]
    """Clusters whose copy carries this epoch (empty: no copy read yet, or none has a record
    and the primary is assumed active, as the control topic defines)."""


@dataclass(frozen=True)
class CopyStatus:
    """What one cluster's copy of the control record said at the last read."""

    cluster: str
    """Cluster name."""
    reachable: bool | None
    """The last read answered (None: not read yet)."""
    epoch: int | None
    """Epoch of its active record (0 when it has none; None when unread or unreachable)."""
    active: str | None
    """The cluster its record names (the primary when it has none)."""
    read_at: float | None
    """Wall-clock time of the last successful read."""
    error: str | None
    """Why the last read failed, in words."""


@dataclass(frozen=True)
class WatcherStatus:
    """The watcher's state for logs, health endpoints and faces."""

    state: ActiveState
    """The active cluster served."""
    known: bool
    """At least one copy has been read since start (otherwise the primary is assumed)."""
    copies: tuple[CopyStatus, ...]
    """Per cluster of the pair, primary first."""
    message: str
    """One line, for a person."""


ChangeCallback = Callable[[ActiveState], None]


class ActiveClusterWatcher:
    """Polls a DR pair's control record on both clusters; serves the highest epoch seen.

    `clusters` maps cluster names to their ClusterConfig and must hold both clusters of
    `pair` (a DrPairConfig, or a pair name looked up in `config`). The watcher opens its own
    connections (one per cluster, reopened after a failure).
    """

    def __init__(
        self,
        clusters: Mapping[str, ClusterConfig],
        pair: DrPairConfig | str,
        *,
        config: Config | None = None,
        interval: float = 2.0,
        read_timeout: float | None = None,
        verify_key: RecordVerifier | str | None = None,
    ) -> None:
        if isinstance(pair, str):
            if config is None:
                raise ConfigError(
                    f"ActiveClusterWatcher: pair {pair!r} given by name; pass config= (or a "
                    "DrPairConfig) so it can be looked up"
                )
            pair = find_pair(config, pair)
        for role, name in (("primary", pair.primary), ("secondary", pair.secondary)):
            if name not in clusters:
                known = ", ".join(sorted(clusters)) or "none"
                raise ConfigError(
                    f"dr pair {pair.name!r}: its {role} cluster {name!r} is not among the "
                    f"clusters given (known: {known}); add it under clusters:"
                )
        if not interval > 0:
            raise ConfigError(f"ActiveClusterWatcher: interval must be > 0 seconds, not {interval}")
        self.pair = pair
        self.clusters = {n: clusters[n] for n in (pair.primary, pair.secondary)}
        self.interval = float(interval)
        #: one cluster's read is abandoned after this long (default: its request timeout + 5 s)
        self.read_timeout = read_timeout
        if isinstance(verify_key, str):
            try:
                verify_key = RecordVerifier.from_text(verify_key)
            except ValueError as e:
                raise ConfigError(f"ActiveClusterWatcher: verify_key: {e}") from None
        if verify_key is None and config is not None:
            verify_key = verifier_for(config)
        #: verifies each control record (None: records are read unsigned)
        self.verifier = verify_key
        self._store = ControlStore(self._connect, verifier=verify_key)
        self._ignored: dict[str, tuple[tuple[int, str, str], ...]] = {}
        self._conns: dict[str, KafkaConnection] = {}
        self._copies: dict[str, CopyStatus] = {
            n: CopyStatus(n, None, None, None, None, None) for n in self.clusters
        }
        self._record: ActiveRecord = ActiveRecord(pair.name, pair.primary, 0, reason="initial")
        self._read_from: tuple[str, ...] = ()
        self._known = False
        self._listeners: list[ChangeCallback] = []
        self._locks = {n: asyncio.Lock() for n in self.clusters}
        self._tasks: list[asyncio.Task[None]] = []
        self._attempted: set[str] = set()
        self._first_round = asyncio.Event()

    @classmethod
    def for_pair(cls, config: Config, pair: str, **kw: Any) -> ActiveClusterWatcher:
        """A watcher of the pair named `pair` in `config` (ConfigError if there is none),
        verifying control records with the config's DR key unless `verify_key` is given."""
        return cls(config.clusters, find_pair(config, pair), config=config, **kw)

    # -------------------------------------------------------- what it serves

    @property
    def state(self) -> ActiveState:
        rec = self._record
        return ActiveState(
            pair=self.pair.name,
            cluster=rec.cluster,
            epoch=rec.epoch,
            bootstrap=self.clusters[rec.cluster].bootstrap_servers
            if rec.cluster in self.clusters else "",
            by=rec.by,
            at=rec.at,
            reason=rec.reason,
            read_from=self._read_from,
        )

    @property
    def active(self) -> str:
        """Name of the active cluster."""
        cluster: str = self._record.cluster
        return cluster

    @property
    def epoch(self) -> int:
        epoch: int = self._record.epoch
        return epoch

    @property
    def bootstrap(self) -> str:
        """bootstrap_servers of the active cluster."""
        return self.state.bootstrap

    @property
    def cluster_config(self) -> ClusterConfig:
        """ClusterConfig of the active cluster."""
        return self.clusters[self._record.cluster]

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call `callback(state)` whenever the active epoch goes up. Returns a remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def status(self) -> WatcherStatus:
        s = self.state
        copies = tuple(self._copies[n] for n in self.clusters)
        down = [c for c in copies if c.reachable is False]
        stale = [c for c in copies if c.reachable and c.epoch is not None and c.epoch < s.epoch]
        if not self._known:
            message = (
                f"pair {s.pair}: no copy of the control record read yet; assuming the "
                f"primary {s.cluster!r} is active (epoch 0)"
            )
        else:
            message = f"pair {s.pair}: {s.cluster!r} active at epoch {s.epoch}"
        for c in down:
            message += f"; {c.cluster!r} unreachable ({c.error})"
        for c in stale:
            message += f"; {c.cluster!r} has a stale copy (epoch {c.epoch}, names {c.active!r})"
        for name, ignored in self._ignored.items():
            if ignored:
                offsets = ", ".join(str(o) for o, _, _ in ignored[:5])
                message += (f"; {len(ignored)} control record(s) on {name!r} ignored "
                            f"(signature missing or wrong; offsets {offsets})")
        return WatcherStatus(s, self._known, copies, message)

    # -------------------------------------------------------- lifecycle

    async def start(self, wait: float = 5.0) -> WatcherStatus:
        """Start polling and wait up to `wait` seconds until each cluster's copy has been
        read once (or failed). Never raises because a cluster is unreachable: see
        `status()`."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._poll(n), name=f"active-{self.pair.name}-{n}")
                for n in self.clusters
            ]
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._first_round.wait()
        return self.status()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        try:
            await cancel_and_wait(*tasks)
        finally:  # closed even when the caller is cancelled meanwhile
            conns, self._conns = self._conns, {}
            await asyncio.gather(*(c.stop() for c in conns.values()), return_exceptions=True)

    async def __aenter__(self) -> ActiveClusterWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def refresh(self) -> ActiveState:
        """Read both copies now (each after any read of it in progress) and return the
        result."""
        await asyncio.gather(*(self._read_and_take(n) for n in self.clusters))
        return self.state

    # -------------------------------------------------------- reading

    async def _poll(self, name: str) -> None:
        failures = 0
        while True:
            try:
                ok = await self._read_and_take(name)
            except Exception:  # a bug must not silently freeze the served state
                log.exception("pair %s: reading the control record of %r failed",
                              self.pair.name, name)
                ok = False
            self._attempted.add(name)
            if self._attempted == set(self.clusters):
                self._first_round.set()
            failures = 0 if ok else failures + 1
            delay = self.interval * 2 ** min(failures, 10)
            # scheduled after the read finished: reads of a cluster never overlap
            await asyncio.sleep(min(delay, max(self.interval, MAX_RETRY_DELAY)))

    async def _read_and_take(self, name: str) -> bool:
        """Read one cluster's copy and fold it in; False when it could not be read."""
        async with self._locks[name]:
            got = await self._read(name)
            self._take(name, got)
            return not isinstance(got, str)

    async def _read(self, name: str) -> ControlLog | str:
        limit = self.read_timeout
        if limit is None:
            limit = float(self.clusters[name].request_timeout) + 5.0
        try:
            async with asyncio.timeout(limit):
                return await self._store.read_cluster(name, self.pair.name)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            error = f"no answer from cluster {name!r} within {limit:.0f}s"
        except KafkaOpsError as e:
            error = str(e)
        except Exception as e:  # aiokafka errors from a connection that broke mid-read
            error = f"reading {name!r} failed: {type(e).__name__}: {e}"
        await self._drop(name)  # the next read reconnects
        return error

    async def _connect(self, name: str) -> KafkaConnection:
        conn = self._conns.get(name)
        if conn is None:
            conn = KafkaConnection(name, self.clusters[name])
            await conn.start()  # ClusterUnreachable when no broker answers
            self._conns[name] = conn
        return conn

    async def _drop(self, name: str) -> None:
        conn = self._conns.pop(name, None)
        if conn is not None:
            await conn.stop()

    def _take(self, name: str, got: ControlLog | str) -> None:
        now = time.time()
        if isinstance(got, str):
            old = self._copies[name]
            self._copies[name] = CopyStatus(name, False, None, None, old.read_at, got)
            return
        self._ignored[name] = got.ignored
        rec = got.active or ActiveRecord(self.pair.name, self.pair.primary, 0, reason="initial")
        self._copies[name] = CopyStatus(name, True, rec.epoch, rec.cluster, now, None)
        self._known = True
        if rec.epoch == self._record.epoch:
            if name not in self._read_from and rec.cluster == self._record.cluster:
                self._read_from = (*self._read_from, name)
            return
        if rec.epoch < self._record.epoch:
            self._read_from = tuple(n for n in self._read_from if n != name)
            return  # a stale copy: never go back to an older epoch
        if rec.cluster not in self.clusters:
            log.warning(
                "pair %s: control record on %r names cluster %r, which is not in the pair; "
                "ignored", self.pair.name, name, rec.cluster,
            )
            return
        old_cluster, self._record, self._read_from = self._record.cluster, rec, (name,)
        log.info(
            "pair %s: active cluster %s -> %s at epoch %d (read from %s)",
            self.pair.name, old_cluster, rec.cluster, rec.epoch, name,
        )
        state = self.state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a listener's bug must not stop the watcher
                log.exception("pair %s: active-cluster listener failed", self.pair.name)


def find_pair(config: Config, name: str) -> DrPairConfig:
    """The DR pair `name` in `config`; ConfigError naming the configured pairs otherwise."""
    for p in config.dr.pairs:
        if p.name == name:
            return p
    known = ", ".join(p.name for p in config.dr.pairs) or "none"
    raise ConfigError(f"{config.source}: no dr pair named {name!r} (configured: {known})")


__all__ = ["ActiveClusterWatcher", "ActiveState", "CopyStatus", "WatcherStatus", "find_pair"]
