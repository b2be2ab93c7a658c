"""DEMO PART, not for production: a small replicator that copies topics from a DR pair's
primary to its secondary the way MirrorMaker 2 does, so DR status and failover can be
exercised end to end with no JVM. Production replication is MirrorMaker 2 (or Cluster
Linking); kafkaops only reads what MM2 writes.

What it writes is what MM2 writes, byte for byte (core/dr/mm2_formats.py):
- remote topics named by the pair's replication policy (`<source><sep><topic>` or the same
  name), same partition count, records copied with key, value, headers and timestamp;
- the source's `heartbeats` replicated like any topic (MM2's heartbeats.replication.enabled),
  plus a heartbeat every `heartbeat_interval` into the target's `heartbeats` (flow S->T)
  and into the source's (the heartbeat-only flow T->S MM2 also runs);
- offset syncs into `mm2-offset-syncs.<target>.internal` on the source, sent when MM2's
  OffsetSyncWriter would send them: the first record, each time translation would be
  `offset_lag_max` (MM2's offset.lag.max, default 100) behind, on gaps, and the latest
  delayed sync every `flush_interval` (MM2: offset.flush.interval.ms);
- checkpoints into `<source>.checkpoints.internal` on the target every
  `checkpoint_interval` for the chosen consumer groups, translated with MM2's own
  OffsetSyncStore rules and emitted only when MM2 would (newer downstream or a rewind).

Intervals are shorter than MM2's defaults (60 s checkpoints and flushes) so a demo shows
movement within seconds. What it does not do: exactly-once, topic config sync, ACL sync,
group offset sync (sync.group.offsets.enabled), multiple tasks.

    rep = DemoReplicator(services, pair, topics=["orders", "payments"], groups=["orders-*"])
    await rep.start()      # background loop
    await rep.sync_now()   # or: one full pass now (replicate, flush, heartbeat, checkpoint)
    await rep.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.config import Config, DrPairConfig
from kafkaops.core.dr.mm2_formats import (
    Checkpoint,
    Heartbeat,
    OffsetSync,
    encode_checkpoint,
    encode_heartbeat,
    encode_offset_sync,
)
from kafkaops.core.dr.mm2_io import read_checkpoints, read_offset_syncs
from kafkaops.core.dr.mm2_offsets import (
    DEFAULT_OFFSET_LAG_MAX,
    OffsetSyncStore,
    OffsetSyncWriter,
    checkpoint_is_newer,
    group_matches,
)
from kafkaops.core.dr.model import Flow, find_pair, flow
from kafkaops.core.dr.rpo import replication_position
from kafkaops.core.errors import KafkaOpsError, UsageError
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.kafka.groups import committed_offsets
from kafkaops.core.kafka.topicio import COMPACTED, Writer, ensure_topics, partitions_of
from kafkaops.core.records import TopicPartition
from kafkaops.core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: MM2's default groups.exclude
EXCLUDED_GROUPS = ("console-consumer-*", "connect-*", "__*")


@dataclass(frozen=True)
class ReplicatorStats:
    """Counts since start."""

    records: int
    """Records copied."""
    offset_syncs: int
    """Offset syncs written."""
    checkpoints: int
    """Checkpoints written."""
    heartbeats: int
    """Heartbeats written (both directions)."""
    topics: tuple[str, ...]
    """Source topics being replicated (the source's heartbeats included)."""
    errors: int
    """Passes that failed (the loop goes on)."""
    last_error: str | None
    """The last failure."""


class DemoReplicator:
    """DEMO ONLY: MM2-shaped replication from a pair's primary to its secondary."""

    def __init__(
        self,
        services: Any,
        pair: DrPairConfig | str | None = None,
        *,
        topics: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        source: str | None = None,
        heartbeat_interval: float = 1.0,
        checkpoint_interval: float = 5.0,
        flush_interval: float = 5.0,
        offset_lag_max: int = DEFAULT_OFFSET_LAG_MAX,
        poll_interval: float = 0.5,
        replicate_heartbeats: bool = True,
    ) -> None:
        """`services`: a Services, a Config (the replicator then makes and closes its own
        Services), or a callable returning a Services, resolved at start() (the demo builds
        its Services only when it starts). `topics`: names or glob patterns on the source
        (default: every topic that is not internal). `groups`: glob patterns of the groups
        to checkpoint (default: the pair's `groups`; all groups when that is empty too)."""
        self._own_services = False
        self._services_arg = services
        self._pair_arg = pair
        self._source_arg = source
        self._groups_arg = list(groups) if groups is not None else None
        self.services: Any = None
        self.pair: DrPairConfig | None = None
        self._flow: Flow | None = None
        self.group_patterns: list[str] = []
        if not callable(services) or isinstance(services, Config):
            self._resolve()
        self.topic_patterns = list(topics) if topics is not None else None
        self.heartbeat_interval = heartbeat_interval
        self.checkpoint_interval = checkpoint_interval
        self.flush_interval = flush_interval
        self.poll_interval = poll_interval
        self.replicate_heartbeats = replicate_heartbeats
        self.offset_lag_max = offset_lag_max
        self._writer_state = OffsetSyncWriter(max_offset_lag=offset_lag_max)
        self._store = OffsetSyncStore()
        self._last_checkpoint: dict[tuple[str, TopicPartition], Checkpoint] = {}
        self._source: KafkaConnection | None = None
        self._target: KafkaConnection | None = None
        self._src_writer: Writer | None = None
        self._tgt_writer: Writer | None = None
        self._consumer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._assigned: dict[TopicPartition, int] = {}  # source tp -> next offset to copy
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._counts = {"records": 0, "offset_syncs": 0, "checkpoints": 0, "heartbeats": 0,
                        "errors": 0}
        self._last_error: str | None = None
        self._started = False

    @property
    def flow(self) -> Flow:
        """The replication flow (source -> target), once the services are known."""
        if self._flow is None:
            raise UsageError("DemoReplicator: start() it first (its services are not known yet)")
        return self._flow

    def _resolve(self) -> None:
        services = self._services_arg
        if isinstance(services, Config):
            from kafkaops.core.services import Services

            services = Services(services)
            self._own_services = True
        elif callable(services) and not hasattr(services, "config"):
            services = services()
        if services is None:
            raise UsageError("DemoReplicator: the services it was given are not ready")
        self.services = services
        cfg = services.config
        pair = self._pair_arg
        p = pair if isinstance(pair, DrPairConfig) else find_pair(cfg.dr.pairs, pair, cfg.source)
        self.pair = p
        self._flow = flow(p, self._source_arg or p.primary)
        self.group_patterns = (
            self._groups_arg if self._groups_arg is not None else list(p.groups)
        )

    # ------------------------------------------------------------ lifecycle

    async def start(self, *, background: bool = True) -> None:
        """Create MM2's topics, load where replication stands, and (by default) run the
        replication loop in the background."""
        if self._started:
            return
        if self.services is None:
            self._resolve()
        fl = self.flow
        self.services.require_writable(fl.target, "replicate into it (demo replicator)")
        self.services.require_writable(fl.source, "write MM2 offset syncs (demo replicator)")
        self._source = await self.services.connection(fl.source)
        self._target = await self.services.connection(fl.target)
        hb = fl.policy.heartbeats_topic()
        await ensure_topics(
            self._source, {hb: (1, COMPACTED), fl.offset_syncs_topic: (1, COMPACTED)}
        )
        await ensure_topics(
            self._target, {hb: (1, COMPACTED), fl.checkpoints_topic: (1, COMPACTED)}
        )
        syncs, _ = await read_offset_syncs(self._source, fl.offset_syncs_topic)
        self._store = OffsetSyncStore().load(syncs)
        cps, _ = await read_checkpoints(self._target, fl.checkpoints_topic)
        for cp, _ts in cps:
            self._last_checkpoint[(cp.group, cp.topic_partition)] = cp
        async with contextlib.AsyncExitStack() as stack:
            self._src_writer = await stack.enter_async_context(Writer(self._source))
            self._tgt_writer = await stack.enter_async_context(Writer(self._target))
            self._consumer = await stack.enter_async_context(clients.consumer(
                self._source, group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", fetch_max_wait_ms=100,
                max_partition_fetch_bytes=1024 * 1024,
            ))
            self._clients = stack.pop_all()
        self._started = True
        await self._refresh_topics()
        if background:
            self._task = asyncio.create_task(self._run(), name="demo-replicator")

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients = self._clients, None
            self._consumer = self._src_writer = self._tgt_writer = None
            if stack is not None:
                await stack.aclose()
            self._started = False
            if self._own_services:
                await self.services.close()

    async def __aenter__(self) -> DemoReplicator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def stats(self) -> ReplicatorStats:
        return ReplicatorStats(
            self._counts["records"], self._counts["offset_syncs"], self._counts["checkpoints"],
            self._counts["heartbeats"], tuple(sorted({tp.topic for tp in self._assigned})),
            self._counts["errors"], self._last_error,
        )

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        last_hb = last_flush = last_cp = last_topics = 0.0
        while True:
            now = time.monotonic()
            try:
                async with self._lock:
                    if now - last_topics >= 10.0:
                        await self._refresh_topics()
                        last_topics = now
                    await self._replicate(until_end=False)
                    if now - last_hb >= self.heartbeat_interval:
                        await self._heartbeats()
                        last_hb = now
                    if now - last_flush >= self.flush_interval:
                        await self._flush()
                        last_flush = now
                    if now - last_cp >= self.checkpoint_interval:
                        await self._checkpoints()
                        last_cp = now
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep replicating: a demo part must not die on a hiccup
                self._counts["errors"] += 1
                self._last_error = f"{type(e).__name__}: {e}"
                log.warning("demo replicator pass failed: %s", self._last_error)
                await asyncio.sleep(1.0)
            await asyncio.sleep(self.poll_interval)

    async def sync_now(self, *, heartbeats: bool = True, flush: bool = True,
                       checkpoints: bool = True) -> None:
        """One full pass now: copy every record present at the call, then (optionally)
        flush delayed offset syncs, write heartbeats and write checkpoints."""
        if not self._started:
            raise UsageError("DemoReplicator.sync_now() before start()")
        async with self._lock:
            await self._refresh_topics()
            if heartbeats:
                await self._heartbeats()
            await self._replicate(until_end=True)
            if flush:
                await self._flush()
            if checkpoints:
                await self._checkpoints()

    async def checkpoint_now(self) -> None:
        """Write checkpoints for the groups' current offsets now."""
        async with self._lock:
            await self._checkpoints()

    # ------------------------------------------------------------ topics

    def _wanted(self, topic: str) -> bool:
        pol = self.flow.policy
        if topic == pol.heartbeats_topic():
            return self.replicate_heartbeats
        if pol.is_internal_topic(topic) or topic.startswith("_") or pol.is_heartbeats_topic(topic):
            return False
        if pol.is_cycle(topic, self.flow.target_alias):
            return False
        if self.topic_patterns is None:
            return True
        return any(fnmatch.fnmatchcase(topic, p) for p in self.topic_patterns)

    async def _refresh_topics(self) -> None:
        assert self._source is not None and self._target is not None
        meta = await self._source.metadata()
        chosen = {n: len(t.partitions) for n, t in meta.topics.items() if self._wanted(n)}
        new = {n: c for n, c in chosen.items()
               if not any(tp.topic == n for tp in self._assigned)}
        if not new:
            return
        fl = self.flow
        remote = {fl.remote_topic(n): (c, self._remote_configs(n)) for n, c in new.items()}
        await ensure_topics(self._target, remote)
        tps = [TopicPartition(n, p) for n, c in new.items() for p in range(c)]
        await partitions_of(self._source, new)
        swater = await self._source.high_watermarks(tps)
        rtps = [TopicPartition(fl.remote_topic(tp.topic), tp.partition) for tp in tps]
        twater = await self._target.high_watermarks(rtps)
        for tp, rtp in zip(tps, rtps, strict=True):
            s_start, s_end = swater.get(tp, (0, 0))
            t_end = twater.get(rtp, (0, 0))[1]
            sync = self._store.latest(tp)
            if sync is None and t_end == 0:
                pos = s_start  # a new flow starts from the beginning, as MM2 does
            else:
                pos = replication_position(s_start, s_end, t_end, sync)[0] or s_start
            self._assigned[tp] = pos
        from aiokafka.structs import TopicPartition as AkTP

        self._consumer.assign([AkTP(tp.topic, tp.partition) for tp in self._assigned])
        for tp, pos in self._assigned.items():
            self._consumer.seek(AkTP(tp.topic, tp.partition), pos)

    def _remote_configs(self, topic: str) -> dict[str, str]:
        if topic == self.flow.policy.heartbeats_topic():
            return dict(COMPACTED)
        return {}

    # ------------------------------------------------------------ copying

    async def _replicate(self, *, until_end: bool) -> None:
        assert self._source is not None and self._tgt_writer is not None
        if not self._assigned:
            return
        ends: dict[TopicPartition, int] = {}
        if until_end:
            await partitions_of(self._source, {tp.topic for tp in self._assigned})
            ends = {tp: e for tp, (_, e) in
                    (await self._source.high_watermarks(list(self._assigned))).items()}
        deadline = time.monotonic() + 30.0
        while True:
            with map_kafka_errors(self._source):
                batch = await self._consumer.getmany(timeout_ms=100 if until_end else 200,
                                                     max_records=2000)
            for ak, recs in batch.items():
                await self._copy(TopicPartition(ak.topic, ak.partition), recs)
            for ak in self._consumer.assignment():
                tp = TopicPartition(ak.topic, ak.partition)
                self._assigned[tp] = await self._consumer.position(ak)
            if not until_end:
                return
            behind = [tp for tp, end in ends.items() if self._assigned.get(tp, 0) < end]
            if not behind:
                return
            if time.monotonic() > deadline:
                raise KafkaOpsError(f"demo replicator: could not catch up on {behind[:3]}")

    async def _copy(self, tp: TopicPartition, recs: list[Any]) -> None:
        assert self._tgt_writer is not None
        if not recs:
            return
        remote = self.flow.remote_topic(tp.topic)
        offsets = await self._tgt_writer.send(
            remote,
            [(r.key, r.value, r.timestamp, tuple(r.headers or ())) for r in recs],
            partition=tp.partition,
        )
        # MM2 fires pending syncs after every acknowledged record (commitRecord), so a
        # batch can send several syncs for one partition: collect them in order
        pending: list[OffsetSync] = []
        for r, down in zip(recs, offsets, strict=True):
            self._writer_state.record_replicated(tp, r.offset, down)
            pending += self._writer_state.take_pending()
        self._counts["records"] += len(recs)
        await self._send_syncs(pending)

    async def _send_syncs(self, pending: list[OffsetSync]) -> None:
        assert self._src_writer is not None
        if not pending:
            return
        await self._src_writer.send(
            self.flow.offset_syncs_topic, [encode_offset_sync(s) for s in pending], partition=0
        )
        for s in pending:
            self._store.add(s)  # what MM2's checkpoint task reads back from the topic
        self._counts["offset_syncs"] += len(pending)

    async def _flush(self) -> None:
        self._writer_state.commit()
        await self._send_syncs(self._writer_state.take_pending())

    # ------------------------------------------------------------ heartbeats

    async def _heartbeats(self) -> None:
        assert self._src_writer is not None and self._tgt_writer is not None
        fl = self.flow
        now = int(time.time() * 1000)
        topic = fl.policy.heartbeats_topic()
        await self._tgt_writer.send(
            topic, [encode_heartbeat(Heartbeat(fl.source_alias, fl.target_alias, now))]
        )
        await self._src_writer.send(
            topic, [encode_heartbeat(Heartbeat(fl.target_alias, fl.source_alias, now))]
        )
        self._counts["heartbeats"] += 2

    # ------------------------------------------------------------ checkpoints

    def _group_wanted(self, group: str) -> bool:
        if any(fnmatch.fnmatchcase(group, p) for p in EXCLUDED_GROUPS):
            return False
        return group_matches(group, self.group_patterns)

    async def _checkpoints(self) -> None:
        assert self._source is not None and self._tgt_writer is not None
        fl = self.flow
        with map_kafka_errors(self._source):
            listed = await self._source.admin.list_consumer_groups()
        groups = sorted({g[0] for g in listed if self._group_wanted(g[0])})
        tps = [tp for tp in self._assigned
               if tp.topic != fl.policy.heartbeats_topic()]
        records: list[tuple[bytes | None, bytes | None, int | None, Sequence[tuple[str, bytes]]]]
        records = []
        for group in groups:
            ts = int(time.time() * 1000)  # MM2: the time just before listing the offsets
            offsets = await committed_offsets(self._source, group, tps)
            for tp, off in sorted(offsets.items()):
                if off is None:
                    continue
                down = self._store.translate_downstream(tp, off)
                if down is None or down < 0:
                    continue  # no sync yet, or the group is behind every retained sync
                name = fl.policy.checkpoint_topic_name(fl.source_alias, fl.target_alias, tp.topic)
                cp = Checkpoint(group, name, tp.partition, off, down, "")
                key = (group, cp.topic_partition)
                if not checkpoint_is_newer(self._last_checkpoint.get(key), cp):
                    continue
                self._last_checkpoint[key] = cp
                k, v = encode_checkpoint(cp)
                records.append((k, v, ts, ()))
        if records:
            await self._tgt_writer.send(fl.checkpoints_topic, records, partition=0)
            self._counts["checkpoints"] += len(records)

    # ------------------------------------------------------------ for tests and the demo

    def offset_syncs_written(self, tp: TopicPartition) -> list[OffsetSync]:
        """The distinct syncs the replicator's store holds for a source partition."""
        return self._store.distinct(tp)
