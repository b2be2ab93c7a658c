"""The flag client services embed: evaluate flags locally from a cache of `_kafkaops.flags`.

    client = FlagClient("kafka-1:9092,kafka-2:9092", snapshot_path="/var/lib/svc/flags.json")
    await client.start()            # never raises because Kafka is down
    if client.get_bool("new-checkout", False, user=customer_id, attributes={"region": r}):
        ...
    client.status()                 # live, or stale and why
    await client.stop()

- The cache is filled by reading the compacted topic from its start and folding it with the
  same rules as every other reader (`kafkaops.core.flags.store.FlagLog`), then kept up to date by a
  long-polling consumer: a change reaches the cache one fetch round after it is written.
- Evaluation is local: a dict lookup and a hash, no network.
- When Kafka cannot be reached the client keeps serving the last values it read (last known
  good), and `status()` / `Evaluation.stale` say so: stale means no fetch response for
  `stale_after` seconds, or not caught up with the topic yet.
- With `snapshot_path`, the cache is written to disk (atomically) after it catches up and
  after each change, and read at start, so a service that starts while Kafka is down serves
  the values it last saw. When Kafka comes back the client reads the topic from its start
  and swaps the whole cache in once it has caught up, so callers never see a half-read
  state.
- When the log it reads is replaced (the broker came back empty, the topic was created
  again: a new topic id, an end offset below the offset read, an offset out of range), the
  client reads the new log from its start and keeps serving the last known good values,
  marked stale, until it has caught up (kafkaops.core.kafka.logwatch). A topic that disappears
  is reported in `status()` until it exists again.
- The client never writes, and never creates the topic (a consumer's metadata request would
  auto-create it on brokers that allow that, with the wrong settings): it waits for it.
- While Kafka is unreachable it logs one line per change of state (stale, live again);
  aiokafka's error for each reconnect attempt goes to DEBUG.
- Following a DR pair (`FlagClient.for_pair(config, "main")`, or `follow=` an
  `ActiveClusterWatcher`), the client reads the flags topic of the pair's active cluster.
  When a failover flips the active cluster in `_kafkaops.control`, it starts reading the
  new one's topic, keeps serving the last known good values from the old one (marked
  stale) until the new topic is read to its end, then swaps the whole cache in; `status()`
  names the cluster, the epoch and the switch. Getting the flags onto the DR cluster is
  MirrorMaker 2's job (identity policy for `_kafkaops.flags`), not the client's.
- With `verify_key` (the flags' public key, `ed25519:...`, as `kafkaops doctor` prints it)
  the client applies only records signed by kafkaops' writers: an unsigned, altered, forged
  or copied record is ignored, logged once with its offset, and never served
  (kafkaops.core.flags.signing). The key only verifies: a service holding it cannot write.
  Without it records are read unsigned, as anyone who can produce to the topic wrote them.
- It imports the flags model and reader (flags/model.py, flags/store.py), never the writer
  (flags/writer.py, flags/service.py) or the audit trail: a service embedding it needs the plain
  `kafkaops` install (aiokafka and a few small libraries), nothing of the console, the bot
  or the demo (tests/test_flags_sdk_imports.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.config import ClusterConfig, Duration
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.flags.evaluation import Evaluation, evaluate
from kafkaops.core.flags.model import (
    FLAGS_TOPIC,
    FlagChange,
    FlagState,
    now_iso,
)
from kafkaops.core.flags.sdk_status import (
    ChangeListener,
    StatusListener,
    StatusReport,
    read_snapshot,
    write_snapshot,
)
from kafkaops.core.flags.sdk_status import (
    ClientStatus as ClientStatus,
)
from kafkaops.core.flags.sdk_status import (
    snapshot_age as snapshot_age,
)
from kafkaops.core.flags.store import FlagStore
from kafkaops.core.kafka.clients import quiet_aiokafka_here
from kafkaops.core.statelog.signing import RecordVerifier
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from kafkaops.core.config import Config
    from kafkaops.core.dr.active import ActiveClusterWatcher, ActiveState

log = logging.getLogger(__name__)

class FlagClient(StatusReport):
    """A read-only, locally evaluating flag cache fed by the flags topic (module docstring).

    `bootstrap_servers` is a comma-separated HOST:PORT list; for TLS or SASL pass a full
    `cluster_config` instead (kafkaops' own ClusterConfig). `fetch_max_wait` bounds how long
    a fetch waits for new records; on Apache Kafka a write wakes the fetch at once, so the
    default is cheap; on brokers that do not (Tansu) it also bounds propagation time.
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        cluster_config: ClusterConfig | None = None,
        name: str = "flags",
        topic: str = FLAGS_TOPIC,
        snapshot_path: str | os.PathLike[str] | None = None,
        stale_after: float = 5.0,
        fetch_max_wait: float = 0.5,
        retry_backoff: float = 0.5,
        retry_backoff_max: float = 10.0,
        follow: ActiveClusterWatcher | None = None,
        verify_key: str | RecordVerifier | None = None,
    ) -> None:
        if isinstance(verify_key, str):
            try:
                verify_key = RecordVerifier.from_text(verify_key)
            except ValueError as e:
                raise KafkaOpsError(f"FlagClient: verify_key: {e}") from None
        #: verifies every flag record (kafkaops.core.flags.signing); None: records are read
        #: unsigned, and anyone who can produce to the topic can change a flag
        self.verifier: RecordVerifier | None = verify_key
        if follow is not None:
            if cluster_config is not None or bootstrap_servers:
                raise KafkaOpsError(
                    "FlagClient: give follow= (a DR pair's watcher) or a cluster, not both"
                )
            cluster_config = follow.cluster_config
        if cluster_config is None:
            if not bootstrap_servers:
                raise KafkaOpsError("FlagClient needs bootstrap_servers or a cluster_config")
            cluster_config = ClusterConfig(
                bootstrap_servers=bootstrap_servers, request_timeout=Duration(10.0)
            )
        self.cluster_config = cluster_config
        self.name = name
        self.topic = topic
        self.snapshot_path = Path(snapshot_path) if snapshot_path is not None else None
        self.stale_after = stale_after
        self.fetch_max_wait = fetch_max_wait
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        #: the served cache; while reading from Kafka it is the live fold's own dict
        self._flags: dict[str, FlagState] = {}
        self._source: Literal["kafka", "snapshot", "none"] = "none"
        self._values_from: str | None = None
        self._error: str | None = None
        self._snapshot_error: str | None = None
        self._store: FlagStore | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._change_listeners: list[ChangeListener] = []
        self._status_listeners: list[StatusListener] = []
        self._last_stale: bool | None = None
        self._save_handle: asyncio.TimerHandle | None = None
        #: following a DR pair: the watcher, and the cluster (name, epoch) read now
        self._follow = follow
        self._owns_watcher = False
        self._unfollow: Callable[[], None] | None = None
        self._cluster_name: str | None = follow.active if follow is not None else None
        self._epoch: int | None = follow.epoch if follow is not None else None
        self._values_cluster: str | None = None
        self._switched: str | None = None
        self._switch = asyncio.Event()

    @classmethod
    def for_pair(
        cls, config: Config, pair: str, *, interval: float = 2.0, **kw: Any
    ) -> FlagClient:
        """A client reading the flags of whichever cluster of DR pair `pair` (from `config`)
        is active, switching when a failover or failback flips it. It owns its watcher
        (polling the control record every `interval` seconds). ConfigError for an unknown
        pair. Flag records are verified with the config's flags key (flags.verify_key, else
        the public half of flags.signing_key / audit.signing_key) unless `verify_key` is
        given."""
        from kafkaops.core.dr.active import ActiveClusterWatcher
        from kafkaops.core.flags.signing import verifier_for

        watcher = ActiveClusterWatcher.for_pair(config, pair, interval=interval)
        kw.setdefault("verify_key", verifier_for(config))
        client = cls(follow=watcher, **kw)
        client._owns_watcher = True
        return client

    # -------------------------------------------------------- lifecycle

    async def start(self, wait: float = 5.0) -> ClientStatus:
        """Load the snapshot (if any), start following the topic, and wait up to `wait`
        seconds to catch up with it. Never raises because Kafka is unreachable: check the
        returned status (or `status()` later)."""
        if self._task is not None:
            return self.status()
        follow = self._follow
        if follow is not None:
            if not follow.running:  # started here, so stopped here
                self._owns_watcher = True
                await follow.start(wait=wait)
            self._unfollow = follow.on_change(self._on_active)
            self._on_active(follow.state)  # a failover before this start: go there directly
            self._switched = None  # not a switch: nothing was read from the other cluster
            self._switch.clear()
        self._load_snapshot()
        self._task = asyncio.create_task(self._run(), name=f"flag-client-{self.name}")
        status = self.status()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # not wait_for (FlagStore.progressed)
                    await self._ready.wait()
            status = self.status()
            self._note_status(status)  # waited and still stale: worth a warning
        return status

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            if self._store is not None:
                await self._store.stop()
                self._store = None
            if self._unfollow is not None:
                self._unfollow()
                self._unfollow = None
            if self._follow is not None and self._owns_watcher:
                await self._follow.stop()
            if self._save_handle is not None:
                self._save_handle.cancel()
                self._save_handle = None
                self.save_snapshot()

    async def __aenter__(self) -> FlagClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        # a service logs one line per change of state (stale, live again: _note_status),
        # not aiokafka's error per reconnect attempt (dozens a second while Kafka is down);
        # and a reader never recreates the flags topic by asking for it
        quiet_aiokafka_here()
        backoff = self.retry_backoff
        while True:
            store = FlagStore(
                self._cluster_name or self.name,
                self.cluster_config,
                topic=self.topic,
                fetch_max_wait=self.fetch_max_wait,
                listener=self._on_store,
                verifier=self.verifier,
            )
            try:
                started = await store.start()
            except KafkaOpsError as e:
                started, self._error = False, str(e)
            else:
                if not started:
                    self._error = (
                        f"topic {self.topic} does not exist on "
                        f"{self.cluster_config.bootstrap_servers} yet "
                        "(the first `kafkaops flags create` makes it)"
                    )
            if not started:
                self._note_status(self.status())
                if await self._pause(backoff):
                    backoff = self.retry_backoff  # a new active cluster: try it at once
                else:
                    backoff = min(backoff * 2, self.retry_backoff_max)
                continue
            backoff = self.retry_backoff
            self._store = store
            # staleness is a matter of time passing: check it on a timer (cheaply: the full
            # status is only built when it changes), not on every fetch round
            every = max(min(self.stale_after / 2, 1.0), 0.05)
            switched = False
            while store.running:
                if await self._pause(every):
                    switched = True  # the pair's active cluster changed: read the new one
                    break
                if (not self._live()) != self._last_stale:
                    self._note_status(self.status())
            self._error = None if switched else (store.failed or "the flags consumer stopped")
            self._store = None
            await store.stop()
            if switched:
                self._note_status(self.status())

    async def _pause(self, seconds: float) -> bool:
        """Wait up to `seconds`; True, at once, when the followed pair switched clusters."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._switch.wait()
        if self._switch.is_set():
            self._switch.clear()
            return True
        return False

    def _on_active(self, state: ActiveState) -> None:
        """The watcher saw a new active epoch: note it, and switch if the cluster changed."""
        assert self._follow is not None
        self._epoch = state.epoch
        if state.cluster == self._cluster_name:
            return
        old, self._cluster_name = self._cluster_name, state.cluster
        self.cluster_config = self._follow.clusters[state.cluster]
        self._switched = (
            f"switched from {old} to {state.cluster} at epoch {state.epoch} ({now_iso()})"
        )
        log.warning("flags: pair %s: %s", state.pair, self._switched)
        self._switch.set()

    def _on_store(self, store: FlagStore, change: FlagChange | None) -> None:
        if self._store is None or store is not self._store:
            return  # a store being stopped (e.g. the followed cluster switched)
        if change is None:  # the fold caught up: serve it from now on
            old, self._flags = self._flags, store.flags
            self._source = "kafka"
            self._values_cluster = store.cluster
            self._values_from = now_iso()
            self._error = None
            self._ready.set()
            for key in sorted(set(old) | set(self._flags)):
                if old.get(key) != self._flags.get(key):
                    self._emit_change(key, self._flags.get(key))
            self._schedule_save()
            return
        if change.outcome == "applied" and self._flags is store.flags:
            self._values_from = now_iso()
            self._emit_change(change.key, self._flags.get(change.key))
            self._schedule_save()

    # -------------------------------------------------------- listeners

    def on_change(self, listener: ChangeListener) -> Callable[[], None]:
        """Call `listener(key, state or None)` after each change reaches the cache.
        Returns a function that removes the listener."""
        self._change_listeners.append(listener)
        return lambda: self._change_listeners.remove(listener)

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call `listener(status)` whenever the client turns stale or live again."""
        self._status_listeners.append(listener)
        return lambda: self._status_listeners.remove(listener)

    def _emit_change(self, key: str, state: FlagState | None) -> None:
        for listener in list(self._change_listeners):
            try:
                listener(key, state)
            except Exception:  # a listener's bug must not stop the cache
                log.exception("flags: change listener failed")

    def _note_status(self, status: ClientStatus) -> None:
        if status.stale == self._last_stale:
            return
        self._last_stale = status.stale
        if status.stale:
            log.warning("flags: %s", status.message)
        else:
            log.info("flags: %s", status.message)
        for listener in list(self._status_listeners):
            try:
                listener(status)
            except Exception:
                log.exception("flags: status listener failed")

    # -------------------------------------------------------- reading and evaluating

    def get(self, key: str) -> FlagState | None:
        """The flag's state as served now, None if unknown."""
        return self._flags.get(key)

    def flags(self) -> dict[str, FlagState]:
        """A copy of every served flag by key."""
        return dict(self._flags)

    def evaluate(
        self,
        key: str,
        user: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> Evaluation:
        """What `user` gets from flag `key` (see kafkaops.core.flags.model.evaluate); `default` when
        the flag is unknown. `stale` is set when the cache may be out of date."""
        ev = evaluate(self._flags.get(key), user, attributes, key=key, default=default)
        return ev if self._live() else _with_stale(ev)

    def _live(self) -> bool:
        """Caught up with Kafka and heard from it within `stale_after` (cheap: per call)."""
        store = self._store
        if store is None or not store.ready or store.suspect or self._source != "kafka":
            return False
        last = store.last_contact
        return last is not None and time.time() - last <= self.stale_after

    def _typed(
        self,
        key: str,
        kinds: tuple[str, ...],
        default: Any,
        user: str | None,
        attributes: Mapping[str, Any] | None,
    ) -> Evaluation:
        state = self._flags.get(key)
        if state is not None and state.type not in kinds:
            return Evaluation(
                key,
                user,
                default,
                "type_mismatch",
                f"flag {key!r} is a {state.type} flag, asked for {'/'.join(kinds)}",
                version=state.version,
            )
        return self.evaluate(key, user, attributes, default)

    def get_bool(
        self,
        key: str,
        default: bool,
        *,
        user: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        return bool(self._typed(key, ("bool",), default, user, attributes).value)

    def get_string(
        self,
        key: str,
        default: str,
        *,
        user: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> str:
        return str(self._typed(key, ("string",), default, user, attributes).value)

    def get_number(
        self,
        key: str,
        default: float,
        *,
        user: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> float:
        value = self._typed(key, ("number",), default, user, attributes).value
        return value if isinstance(value, int | float) else default

    def get_json(
        self,
        key: str,
        default: Any,
        *,
        user: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Any:
        return self._typed(key, ("json",), default, user, attributes).value

    async def wait_until(
        self, predicate: Callable[[FlagClient], bool], limit: float = 10.0
    ) -> bool:
        """Wait (at most `limit` seconds) until `predicate(self)` holds after a change."""
        if predicate(self):
            return True
        event = asyncio.Event()
        remove = self.on_change(lambda _k, _s: event.set() if predicate(self) else None)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    await event.wait()
        finally:
            remove()
        return predicate(self)

    # -------------------------------------------------------- snapshot

    def _schedule_save(self) -> None:
        """Write the snapshot soon; changes arriving together cost one write."""
        if self.snapshot_path is None or self._save_handle is not None:
            return
        loop = asyncio.get_running_loop()
        self._save_handle = loop.call_later(0.05, self._save_now)

    def _save_now(self) -> None:
        self._save_handle = None
        self.save_snapshot()

    def save_snapshot(self) -> None:
        """Write the served values to `snapshot_path` atomically (write, fsync, rename).
        Only values read from Kafka are saved; a failure is logged, never raised."""
        path = self.snapshot_path
        if path is None or self._source != "kafka":
            return
        try:
            write_snapshot(path, self.topic, self.cluster_config.bootstrap_servers,
                           self._values_from, [self._flags[k] for k in sorted(self._flags)])
        except OSError as e:
            log.warning("flags: cannot write snapshot %s: %s", path, e)

    def _load_snapshot(self) -> None:
        path = self.snapshot_path
        if path is None or not path.exists():
            return
        try:
            states, values_from = read_snapshot(path)
        except (OSError, ValueError) as e:
            self._snapshot_error = f"{path}: {e}"
            log.warning("flags: snapshot %s unusable (%s); starting without it", path, e)
            return
        self._flags = {s.key: s for s in states}
        self._source = "snapshot"
        self._values_from = values_from


def _with_stale(ev: Evaluation) -> Evaluation:
    from dataclasses import replace

    return replace(ev, stale=True)
