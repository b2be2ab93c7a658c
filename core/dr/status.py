"""DR status of a MirrorMaker 2 pair: how far behind the standby is, and is that within RPO.

`DrService(services).status(pair)` answers, for the flow from the active cluster to the
standby (primary -> secondary normally; the reverse after a failover):
- per replicated topic: source end offset, target end offset, replication lag in messages
  and in seconds (age of the oldest source record not yet on the target, read from the
  record's timestamp, never extrapolated);
- per consumer group: how old its newest checkpoint is (translated offsets lag by that);
- heartbeat age: the newest heartbeat that crossed the flow (the source's `heartbeats`
  replicated into the target, else the flow's own `(source, target)` heartbeat);
- the pair's RPO estimate (the worst topic's lag in seconds; when the source cannot be
  reached, the heartbeat age, since anything written after it may be lost) against the
  configured `rpo`;
- which cluster is active, from `_kafkaops.control` (both clusters' copies).

Where replication stands is read from MM2's own topics (mm2.py, mm2_io.py): the newest
offset sync says source offset u is target offset d, so with the target's true end T the
next source record to replicate is u + (T - d). Without a sync (MM2 has not written one
yet) the target's end offset is compared with the source's directly, and the row says so.

All end offsets are true ones (`KafkaConnection.high_watermarks`: Tansu's ListOffsets is
short after batched produces).

A cluster that does not answer a small request within `PROBE_TIMEOUT` seconds while its
side is read (core/kafka/reach.py: a frozen broker never answers, and each request would wait
out the client's 10 s timeout) is unreachable for this status: its side is read no further
and everything that depends on it (target end, lag, heartbeat, RPO) is unknown, never OK.
`DrStatus.clusters` says which cluster answered and when (for one that did not: when it
last answered this process).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import ActiveRecord, ControlLog, ControlStore, ControlView, RunRecord
from kafkaops.core.dr.mm2 import (
    Checkpoint,
    DefaultReplicationPolicy,
    Heartbeat,
    OffsetSync,
    OffsetSyncStore,
    group_matches,
    latest_checkpoints,
    replication_policy,
)
from kafkaops.core.dr.mm2_io import latest_heartbeat, read_checkpoints, read_offset_syncs
from kafkaops.core.errors import ClusterUnreachable, ConfigError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.reach import PROBE_TIMEOUT, answering, connect, last_answers
from kafkaops.core.kafka.topicio import TopicRead, partitions_of, read_partition, record_timestamps
from kafkaops.core.records import TopicPartition

TopicState = Literal["ok", "behind", "not replicated", "unknown"]


# ---------------------------------------------------------------- the pair and its flow


def find_pair(pairs: Sequence[DrPairConfig], name: str | None, source: str = "") -> DrPairConfig:
    """The pair named `name`, or the only/first pair; ConfigError naming the choices."""
    if not pairs:
        raise ConfigError(
            f"{source or 'config'}: no DR pairs configured; add one under dr: pairs: "
            "(name, primary, secondary; see config.example.yaml)"
        )
    if name is None:
        return pairs[0]
    for p in pairs:
        if p.name == name:
            return p
    known = ", ".join(p.name for p in pairs)
    raise ConfigError(f"{source or 'config'}: no DR pair named {name!r} (configured: {known})")


@dataclass(frozen=True)
class Flow:
    """One replication direction of a pair: MM2's flow `source_alias->target_alias`."""

    pair: DrPairConfig
    """The pair's config."""
    source: str
    """Cluster name replicated from."""
    target: str
    """Cluster name replicated into."""
    source_alias: str
    """MM2's alias of the source."""
    target_alias: str
    """MM2's alias of the target."""
    policy: DefaultReplicationPolicy
    """The pair's replication policy (identity knows the source alias)."""

    @property
    def checkpoints_topic(self) -> str:
        """On the target."""
        return self.policy.checkpoints_topic(self.source_alias)

    @property
    def offset_syncs_topic(self) -> str:
        """On the source (MM2's default offset-syncs.topic.location)."""
        return self.policy.offset_syncs_topic(self.target_alias)

    @property
    def remote_heartbeats_topic(self) -> str:
        """The source's `heartbeats`, replicated into the target."""
        return self.policy.format_remote_topic(self.source_alias, self.policy.heartbeats_topic())

    def remote_topic(self, topic: str) -> str:
        return self.policy.format_remote_topic(self.source_alias, topic)


def aliases(pair: DrPairConfig) -> dict[str, str]:
    """Cluster name -> MM2 alias for both sides of a pair."""
    return {
        pair.primary: pair.primary_alias or pair.primary,
        pair.secondary: pair.secondary_alias or pair.secondary,
    }


def flow(pair: DrPairConfig, source: str) -> Flow:
    """The flow out of `source` (one of the pair's clusters) into the other one."""
    if source not in (pair.primary, pair.secondary):
        raise ConfigError(f"cluster {source!r} is not part of DR pair {pair.name!r}")
    target = pair.secondary if source == pair.primary else pair.primary
    names = aliases(pair)
    policy = replication_policy(
        pair.replication_policy,
        pair.separator,
        internal_topic_separator=pair.internal_topic_separator,
        source_alias=names[source],
    )
    return Flow(pair, source, target, names[source], names[target], policy)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class PartitionReplication:
    """One source partition and its copy on the target."""

    partition: int
    """Partition number (the same on both sides)."""
    source_start: int | None
    """Log start offset on the source."""
    source_end: int | None
    """True end offset on the source (None: source unreachable)."""
    target_end: int | None
    """True end offset of the remote partition (None: missing or unreachable)."""
    last_sync: tuple[int, int] | None
    """Newest offset sync (source offset, target offset), None when MM2 wrote none yet."""
    position: int | None
    """Next source offset to be replicated."""
    lag_messages: int | None
    """Source records not on the target yet."""
    lag_seconds: float | None
    """Age of the oldest of them (0 when none)."""
    method: Literal["offset-sync", "end-offsets", "none"]
    """How `position` was found: from the newest offset sync, or by comparing end offsets."""


@dataclass(frozen=True)
class TopicReplication:
    """A replicated topic: the source topic and its remote copy."""

    topic: str
    """Topic name on the source."""
    remote_topic: str
    """Its name on the target (per the replication policy)."""
    partitions: int
    """Partitions on the source (or on the target when the source is unreachable)."""
    source_end: int | None
    """Sum of the source partitions' end offsets."""
    target_end: int | None
    """Sum of the remote partitions' end offsets."""
    lag_messages: int | None
    """Records on the source not yet on the target."""
    lag_seconds: float | None
    """Worst partition's lag in seconds."""
    state: TopicState
    """ok (within RPO), behind, not replicated (no remote topic), unknown."""
    rows: tuple[PartitionReplication, ...] = ()
    """Per partition."""


@dataclass(frozen=True)
class GroupCheckpoints:
    """A consumer group's MM2 checkpoints on the target."""

    group: str
    """Consumer group id."""
    partitions: int
    """Partitions it has checkpoints for."""
    newest_at: int | None
    """Record time (ms) of its newest checkpoint."""
    age_seconds: float | None
    """Age of its newest checkpoint."""
    oldest_partition_age_seconds: float | None
    """Age of its stalest partition's checkpoint."""
    moves_on_failover: bool
    """Matches the pair's `groups` patterns."""


@dataclass(frozen=True)
class HeartbeatInfo:
    """The newest heartbeat found in one topic."""

    topic: str
    """Topic read (on the target)."""
    source: str | None
    """sourceClusterAlias of the newest heartbeat."""
    target: str | None
    """targetClusterAlias."""
    at: int | None
    """Its timestamp (ms); None when none was found."""
    age_seconds: float | None
    """now - at."""


@dataclass(frozen=True)
class RunSummary:
    """A failover or failback, as the control topic records it."""

    run_id: str
    """Run id."""
    direction: str
    """failover or failback."""
    source: str
    """Cluster that was active."""
    target: str
    """Cluster being made active."""
    state: str
    """running, completed or abandoned."""
    started_at: float
    """When it started."""
    by: str
    """Who started it."""
    groups_done: int
    """Groups moved so far."""
    groups_total: int
    """Groups the run moves."""


@dataclass(frozen=True)
class ClusterAnswer:
    """Whether one cluster of the pair answered for this status, and when."""

    cluster: str
    """Cluster name."""
    role: Literal["source", "target"]
    """source: replicated from (the active one); target: replicated into."""
    answered: bool
    """It answered every request of this status in time."""
    at: float | None
    """Wall clock of its answer; when it did not answer, of the last answer this process saw
    (None: it has not answered since the process started)."""
    error: str | None = None
    """Why it counts as unreachable."""


@dataclass(frozen=True)
class DrStatus:
    """A DR pair's replication, RPO and active cluster."""

    pair: str
    """Pair name."""
    primary: str
    """Primary cluster name."""
    secondary: str
    """Secondary cluster name."""
    active: str
    """Active cluster (from _kafkaops.control; the primary when never changed)."""
    epoch: int
    """Active epoch (0 until the first failover)."""
    source: str
    """Cluster replicated from (the active one)."""
    target: str
    """Cluster replicated into (the standby)."""
    source_alias: str
    """MM2 alias of the source."""
    target_alias: str
    """MM2 alias of the target."""
    policy: str
    """Replication policy: default or identity."""
    rpo_seconds: float
    """Configured RPO."""
    rpo_estimate_seconds: float | None
    """Data at risk if the source were lost now, in seconds (None: unknown)."""
    rpo_basis: str
    """How the estimate was made."""
    rpo_ok: bool | None
    """Estimate within the RPO (None: unknown)."""
    heartbeat_age_seconds: float | None
    """Age of the newest heartbeat across the flow (None: none found)."""
    heartbeat_ok: bool | None
    """Heartbeat age within the RPO."""
    heartbeats: tuple[HeartbeatInfo, ...]
    """The heartbeat topics read: the replicated one, then the flow's own."""
    topics: tuple[TopicReplication, ...]
    """Replicated topics."""
    groups: tuple[GroupCheckpoints, ...]
    """Groups with checkpoints on the target."""
    max_lag_messages: int | None
    """Largest topic lag in messages (None: unknown, a cluster did not answer)."""
    max_lag_seconds: float | None
    """Largest partition lag in seconds (None: unknown)."""
    source_reachable: bool
    """The source answered."""
    target_reachable: bool
    """The target answered."""
    problems: tuple[str, ...] = ()
    """What could not be read, or looks wrong, in words."""
    stale_control_copies: tuple[str, ...] = ()
    """Clusters whose copy of the active record is behind the newest epoch."""
    failover: RunSummary | None = None
    """The newest failover/failback run, if any."""
    generated_at: float = field(default_factory=time.time)
    """When this status was taken."""
    clusters: tuple[ClusterAnswer, ...] = ()
    """The source and the target: which answered, and when."""

    def unreachable(self) -> list[ClusterAnswer]:
        """The clusters of the pair that did not answer for this status."""
        return [c for c in self.clusters if not c.answered]


@dataclass(frozen=True)
class DrSignals:
    """What the alert rules watch for a pair (flat numbers, one per pair)."""

    pair: str
    """Pair name."""
    source: str
    """Cluster replicated from (the active one)."""
    target: str
    """Cluster replicated into."""
    rpo_seconds: float
    """Configured RPO."""
    replication_lag_seconds: float | None
    """Worst partition's lag in seconds (None: unknown)."""
    replication_lag_messages: int | None
    """Worst topic's lag in records."""
    heartbeat_age_seconds: float | None
    """Age of the newest heartbeat across the flow (None: none found)."""
    rpo_estimate_seconds: float | None
    """Data at risk now, in seconds."""
    lag_beyond_rpo: bool | None
    """Replication lag (or, with the source down, the heartbeat age) above the RPO."""
    heartbeat_stale: bool | None
    """No heartbeat, or one older than the RPO (None: target unreachable)."""
    source_reachable: bool
    """The source answered."""
    target_reachable: bool
    """The target answered."""


def signals(s: DrStatus) -> DrSignals:
    """The alert view of a status: `lag_beyond_rpo` and `heartbeat_stale` are the two
    conditions the DR alert rules fire on."""
    stale: bool | None
    if not s.target_reachable:
        stale = None
    else:
        stale = s.heartbeat_age_seconds is None or s.heartbeat_age_seconds > s.rpo_seconds
    return DrSignals(
        pair=s.pair, source=s.source, target=s.target, rpo_seconds=s.rpo_seconds,
        replication_lag_seconds=s.max_lag_seconds, replication_lag_messages=s.max_lag_messages,
        heartbeat_age_seconds=s.heartbeat_age_seconds,
        rpo_estimate_seconds=s.rpo_estimate_seconds,
        lag_beyond_rpo=None if s.rpo_ok is None else not s.rpo_ok,
        heartbeat_stale=stale, source_reachable=s.source_reachable,
        target_reachable=s.target_reachable,
    )


# ---------------------------------------------------------------- pure maths


def replication_position(
    source_start: int, source_end: int, target_end: int | None, last_sync: OffsetSync | None
) -> tuple[int | None, Literal["offset-sync", "end-offsets", "none"]]:
    """The next source offset the target does not have yet.

    With an offset sync (u -> d) and the target's end T: u + (T - d), the records after
    the sync being copied one for one; kept within [u, source end]. Without one: the
    target's end offset, as if both logs started together (said so in the status)."""
    if last_sync is not None and target_end is not None:
        pos = last_sync.upstream_offset + max(target_end - last_sync.downstream_offset, 0)
        return min(max(pos, last_sync.upstream_offset), source_end), "offset-sync"
    if target_end is not None:
        return min(max(target_end, source_start), source_end), "end-offsets"
    return None, "none"


def lag_messages(source_start: int, source_end: int, position: int | None) -> int | None:
    """Source records not yet replicated (records deleted before they were are not counted:
    they are gone either way)."""
    if position is None:
        return None
    return max(source_end - max(position, source_start), 0)


def lag_seconds(lag: int | None, oldest_unreplicated_ms: int | None, now_ms: int) -> float | None:
    """0 when nothing is behind, else the age of the oldest record not yet replicated."""
    if lag is None:
        return None
    if lag == 0:
        return 0.0
    if oldest_unreplicated_ms is None:
        return None
    return max(now_ms - oldest_unreplicated_ms, 0) / 1000.0


#: the basis of an RPO estimate measured on the data (every replicated topic's lag)
FROM_LAG = "age of the oldest record not yet replicated"


def rpo_estimate(
    source_reachable: bool, max_lag_secs: float | None, heartbeat_age: float | None
) -> tuple[float | None, str]:
    """(seconds of data at risk, how it was estimated)."""
    if source_reachable and max_lag_secs is not None:
        return max_lag_secs, FROM_LAG
    if heartbeat_age is not None:
        why = "source unreachable" if not source_reachable else "replication lag unknown"
        return heartbeat_age, f"heartbeat age ({why}): anything written since may be lost"
    return None, "unknown: no replication lag and no heartbeat could be read"


def fmt_age(secs: float | None) -> str:
    """Seconds as every face shows them: 0.4s, 12s, 3.5m, 2.1h, 3.0d; "-" when unknown."""
    if secs is None:
        return "-"
    if secs < 10:
        return f"{secs:.1f}s"
    if secs < 120:
        return f"{secs:.0f}s"
    if secs < 7200:
        return f"{secs / 60:.1f}m"
    if secs < 172800:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def _clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


def answer_text(c: ClusterAnswer, now: float | None = None) -> str:
    """How every face says whether a cluster answered: "dr answered 14:03:22", or "dr NO
    ANSWER (…did not answer within 3s…); last answer 14:02:40, 42s ago"."""
    if c.answered:
        return f"{c.cluster} answered" + (f" {_clock(c.at)}" if c.at is not None else "")
    now = time.time() if now is None else now
    last = (f"last answer {_clock(c.at)}, {fmt_age(max(now - c.at, 0.0))} ago"
            if c.at is not None else "no answer since this process started")
    return f"{c.cluster} NO ANSWER ({_reason(c)}); {last}"


def _reason(c: ClusterAnswer) -> str:
    """The error without the cluster's name and the advice (the problems list has both)."""
    text = (c.error or "unreachable").split(" — ", 1)[0]
    for prefix in (f"cluster {c.cluster!r} ", f"cluster {c.cluster!r}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def rpo_verdict(s: DrStatus) -> str:
    """The RPO verdict in words: OK only when both clusters answered and every replicated
    topic's lag was measured. An estimate within the RPO made from the heartbeat age alone
    (a cluster did not answer, or the replication lag is unknown) is UNCONFIRMED, never OK."""
    if s.rpo_ok is None:
        return "UNKNOWN"
    if not s.rpo_ok:
        return "BEYOND RPO"
    down = [c.cluster for c in s.unreachable()]
    if down:
        return f"UNCONFIRMED ({', '.join(down)} unreachable)"
    if s.rpo_basis != FROM_LAG:
        # from the heartbeat alone: the flow is alive, but what its topics hold was not
        # measured (none found replicated, or a topic's lag unknown)
        return "UNCONFIRMED (replication lag unknown)"
    return "OK"


def heartbeat_verdict(s: DrStatus) -> str:
    """The heartbeat verdict in words (the heartbeat is read on the target)."""
    if s.heartbeat_ok is None:
        return "UNKNOWN"
    return "OK" if s.heartbeat_ok else "BEYOND RPO"


def _age(ms: int | None, now_ms: int) -> float | None:
    return None if ms is None else max(now_ms - ms, 0) / 1000.0


# ---------------------------------------------------------------- the service


class DrService:
    """DR status for the faces and the alert rules. One per Services."""

    def __init__(self, services: Any, *, timeout: float = PROBE_TIMEOUT) -> None:
        self.services = services
        self.control = ControlStore(services.connection)
        #: seconds a cluster has to answer a small request before it counts as unreachable
        self.timeout = timeout

    def pair(self, name: str | None = None) -> DrPairConfig:
        cfg = self.services.config
        return find_pair(cfg.dr.pairs, name, cfg.source)

    def pairs(self) -> list[DrPairConfig]:
        return list(self.services.config.dr.pairs)

    async def status(self, pair: str | DrPairConfig | None = None) -> DrStatus:
        """The pair's DR status (see the module docstring)."""
        p = pair if isinstance(pair, DrPairConfig) else self.pair(pair)
        control = await self.read_control(p)
        return await self.status_from(p, control)

    async def statuses(self) -> list[DrStatus]:
        """Every configured pair's status, read concurrently."""
        return list(await asyncio.gather(*(self.status(p) for p in self.pairs())))

    async def signals(self) -> list[DrSignals]:
        """Every pair's alert signals (what the alert evaluator polls)."""
        return [signals(s) for s in await self.statuses()]

    async def read_control(self, p: DrPairConfig) -> ControlView:
        """Both clusters' copies of the control topic (as `ControlStore.read`), each cluster
        read while it answers (core/kafka/reach.py): one that does not is listed unreachable."""
        names = [p.primary, p.secondary]

        async def one(name: str) -> ControlLog:
            return await answering(self.services, [name],
                                   lambda: self.control.read_cluster(name, p.name),
                                   within=self.timeout)

        results = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
        logs: dict[str, ControlLog] = {}
        unreachable: dict[str, str] = {}
        for name, res in zip(names, results, strict=True):
            if isinstance(res, ClusterUnreachable):
                unreachable[name] = str(res)
            elif isinstance(res, BaseException):
                raise res
            else:
                logs[name] = res
        active = ActiveRecord(p.name, p.primary, 0, reason="initial")
        for log in logs.values():
            if log.active is not None and log.active.epoch > active.epoch:
                active = log.active
        return ControlView(p.name, active, logs, unreachable)

    async def status_from(self, p: DrPairConfig, control: ControlView) -> DrStatus:
        fl = flow(p, control.active.cluster)
        down: dict[str, str] = {n: e for n, e in control.unreachable.items()
                                if n in (fl.source, fl.target)}
        conns: dict[str, KafkaConnection | None] = {}
        for name in (fl.source, fl.target):
            conns[name] = None
            if name not in down:
                try:
                    conns[name] = await connect(self.services, name, self.timeout)
                except ClusterUnreachable as e:
                    down[name] = str(e)
        while True:
            src, tgt = conns[fl.source], conns[fl.target]
            live = [n for n in (fl.source, fl.target) if conns[n] is not None]
            try:
                snap = await answering(self.services, live,
                                       functools.partial(FlowSnapshot.take, fl, src, tgt),
                                       within=self.timeout)
                break
            except ClusterUnreachable as e:
                # read the pair again without the side that stopped answering
                if e.cluster is None or e.cluster not in live:
                    raise
                down[e.cluster] = str(e)
                conns[e.cluster] = None
        problems = list(snap.problems)
        for name in (fl.target, fl.source):
            if name in down:
                problems.insert(0, down[name])
        for name, err in control.unreachable.items():
            if name not in down:
                problems.append(f"control topic on {name!r} not read: {err}")
        stale = control.stale_copies()
        for name in stale:
            problems.append(
                f"{name!r} still records an older active epoch in _kafkaops.control; "
                "`kafkaops failover resume` updates it"
            )
        latest = control.latest_run()
        run = _summary(*latest) if latest else None
        answers = last_answers(self.services)
        clusters = (
            ClusterAnswer(fl.source, "source", fl.source not in down, answers.last(fl.source),
                          down.get(fl.source)),
            ClusterAnswer(fl.target, "target", fl.target not in down, answers.last(fl.target),
                          down.get(fl.target)),
        )
        return snap.status(control, run, problems, tuple(stale), clusters)


def _summary(run: RunRecord, log: Any) -> RunSummary:
    groups = log.groups.get(run.run_id, {})
    done = sum(1 for g in groups.values() if g.status in ("done", "left"))
    return RunSummary(
        run.run_id, run.direction, run.source, run.target, run.state, run.started_at, run.by,
        done, len(run.groups),
    )


@dataclass
class FlowSnapshot:
    """Everything read about one flow, once: the failover plan reuses it."""

    flow: Flow
    source_reachable: bool
    target_reachable: bool
    now_ms: int
    topics: list[TopicReplication]
    syncs: list[OffsetSync]
    store: OffsetSyncStore
    checkpoints: list[tuple[Checkpoint, int]]
    heartbeats: list[HeartbeatInfo]
    problems: list[str]
    source_water: dict[TopicPartition, tuple[int, int]]
    target_water: dict[TopicPartition, tuple[int, int]]
    target_partitions: dict[str, int]

    @classmethod
    async def take(
        cls, fl: Flow, source: KafkaConnection | None, target: KafkaConnection | None
    ) -> FlowSnapshot:
        problems: list[str] = []
        now_ms = int(time.time() * 1000)
        policy = fl.policy

        async def on_target() -> tuple[Any, ...]:
            if target is None:
                return [], TopicRead(fl.checkpoints_topic, False), [], {}
            cps, cinfo = await read_checkpoints(target, fl.checkpoints_topic)
            remote_hb, rinfo = await _newest_heartbeat(target, fl.remote_heartbeats_topic)
            direct_hb, dinfo = await latest_heartbeat(
                target, policy.heartbeats_topic(), fl.source_alias, fl.target_alias
            )
            meta = await target.metadata()
            tparts = {n: len(t.partitions) for n, t in meta.topics.items()}
            hbs = [
                _hb_info(fl.remote_heartbeats_topic, remote_hb, now_ms),
                _hb_info(policy.heartbeats_topic(), direct_hb, now_ms),
            ]
            return cps, cinfo, hbs, tparts

        async def on_source() -> tuple[list[OffsetSync], TopicRead, dict[str, int]]:
            if source is None:
                return [], TopicRead(fl.offset_syncs_topic, False), {}
            syncs, sinfo = await read_offset_syncs(source, fl.offset_syncs_topic)
            meta = await source.metadata()
            return syncs, sinfo, {n: len(t.partitions) for n, t in meta.topics.items()}

        (cps, cinfo, hbs, tparts), (syncs, sinfo, sparts) = await asyncio.gather(
            on_target(), on_source()
        )
        for info in (cinfo, sinfo):
            if info.skipped:
                problems.append(f"{info.skipped} records in {info.topic} are not MM2 records"
                                if info.skipped != 1 else
                                f"1 record in {info.topic} is not an MM2 record")
            if info.exists and not info.complete:
                problems.append(f"{info.topic} could not be read to its end in time")
        if target is not None and not cinfo.exists:
            problems.append(
                f"no checkpoints topic {fl.checkpoints_topic!r} on {fl.target!r}: "
                "MM2 has written no checkpoints for this flow"
            )
        if source is not None and not sinfo.exists:
            problems.append(
                f"no offset-syncs topic {fl.offset_syncs_topic!r} on {fl.source!r}: "
                "MM2 has replicated nothing for this flow yet"
            )
        store = OffsetSyncStore().load(syncs)

        # which topics are replicated: those with offset syncs, and (default policy) the
        # remote topics named after the source alias, and those with checkpoints
        names: set[str] = {s.topic for s in syncs}
        if policy.name == "default":
            for t in tparts:
                if policy.topic_source(t) == fl.source_alias:
                    up = policy.upstream_topic(t)
                    if up:
                        names.add(up)
        for cp, _ in cps:
            if policy.topic_source(cp.topic) == fl.source_alias:
                up = policy.upstream_topic(cp.topic)
                if up:
                    names.add(up)
        names = {
            n for n in names
            if not policy.is_heartbeats_topic(n) and not policy.is_internal_topic(n)
        }

        src_tps = [TopicPartition(t, p) for t in sorted(names) for p in range(sparts.get(t, 0))]
        tgt_tps = [
            TopicPartition(fl.remote_topic(t), p)
            for t in sorted(names)
            for p in range(tparts.get(fl.remote_topic(t), 0))
        ]
        swater: dict[TopicPartition, tuple[int, int]] = {}
        twater: dict[TopicPartition, tuple[int, int]] = {}
        if source is not None and src_tps:
            await partitions_of(source, {tp.topic for tp in src_tps})
            swater = await source.high_watermarks(src_tps)
        if target is not None and tgt_tps:
            await partitions_of(target, {tp.topic for tp in tgt_tps})
            twater = await target.high_watermarks(tgt_tps)

        # per partition position, then the timestamps of the oldest unreplicated records
        rows: dict[str, list[tuple[int, int | None, int | None, int | None,
                                   OffsetSync | None, int | None, str]]] = {}
        probes: dict[TopicPartition, int] = {}
        for t in sorted(names):
            remote = fl.remote_topic(t)
            count = sparts.get(t) or tparts.get(remote, 0)
            for p in range(count):
                stp, ttp = TopicPartition(t, p), TopicPartition(remote, p)
                s_start, s_end = swater.get(stp, (None, None))
                t_end = twater[ttp][1] if ttp in twater else None
                sync = store.latest(stp)
                pos: int | None = None
                method = "none"
                if s_end is not None and s_start is not None:
                    pos, method = replication_position(s_start, s_end, t_end, sync)
                    lag = lag_messages(s_start, s_end, pos)
                    if lag and pos is not None:
                        probes[stp] = max(pos, s_start)
                rows.setdefault(t, []).append((p, s_start, s_end, t_end, sync, pos, method))
        stamps = await record_timestamps(source, probes) if source is not None and probes else {}

        topics: list[TopicReplication] = []
        for t in sorted(names):
            remote = fl.remote_topic(t)
            prow: list[PartitionReplication] = []
            for p, s_start, s_end, t_end, sync, pos, method in rows.get(t, []):
                lag = (
                    lag_messages(s_start, s_end, pos)
                    if s_start is not None and s_end is not None
                    else None
                )
                secs = lag_seconds(lag, stamps.get(TopicPartition(t, p)), now_ms)
                prow.append(PartitionReplication(
                    p, s_start, s_end, t_end,
                    (sync.upstream_offset, sync.downstream_offset) if sync else None,
                    pos, lag, secs, method,  # type: ignore[arg-type]
                ))
            topics.append(_topic_row(t, remote, prow, tparts, fl, source is not None,
                                     target is not None))
        return cls(
            fl, source is not None, target is not None, now_ms, topics, syncs, store, cps, hbs,
            problems, swater, twater, tparts,
        )

    def group_checkpoints(self) -> list[GroupCheckpoints]:
        latest = latest_checkpoints(self.checkpoints)
        out: list[GroupCheckpoints] = []
        for group in sorted(latest):
            stamps = [ts for _, ts in latest[group].values()]
            out.append(GroupCheckpoints(
                group=group,
                partitions=len(stamps),
                newest_at=max(stamps),
                age_seconds=_age(max(stamps), self.now_ms),
                oldest_partition_age_seconds=_age(min(stamps), self.now_ms),
                moves_on_failover=group_matches(group, self.flow.pair.groups),
            ))
        return out

    def heartbeat(self) -> HeartbeatInfo | None:
        """The replicated heartbeat if there is one (it crossed the flow with the data),
        else the flow's own (it shows MM2 runs, not that it copies records)."""
        for hb in self.heartbeats:
            if hb.age_seconds is not None:
                return hb
        return None

    def heartbeat_age(self) -> float | None:
        hb = self.heartbeat()
        return hb.age_seconds if hb else None

    def status(
        self, control: ControlView, run: RunSummary | None, problems: list[str],
        stale: tuple[str, ...], clusters: tuple[ClusterAnswer, ...] = (),
    ) -> DrStatus:
        fl, p = self.flow, self.flow.pair
        rpo = float(p.rpo)
        lags = [t.lag_seconds for t in self.topics if t.lag_seconds is not None]
        msgs = [t.lag_messages for t in self.topics if t.lag_messages is not None]
        # the lag speaks for the RPO only when every topic's lag is known
        known = self.source_reachable and self.topics and len(lags) == len(self.topics)
        both = self.source_reachable and self.target_reachable
        max_secs = max(lags) if known else None
        hb_age = self.heartbeat_age()
        estimate, basis = rpo_estimate(self.source_reachable, max_secs, hb_age)
        if not self.topics and self.source_reachable:
            problems.append("no replicated topics found for this flow")
        return DrStatus(
            pair=p.name, primary=p.primary, secondary=p.secondary,
            active=control.active.cluster, epoch=control.active.epoch,
            source=fl.source, target=fl.target,
            source_alias=fl.source_alias, target_alias=fl.target_alias,
            policy=p.replication_policy, rpo_seconds=rpo,
            rpo_estimate_seconds=estimate, rpo_basis=basis,
            rpo_ok=None if estimate is None else estimate <= rpo,
            heartbeat_age_seconds=hb_age,
            heartbeat_ok=None if hb_age is None else hb_age <= rpo,
            heartbeats=tuple(self.heartbeats), topics=tuple(self.topics),
            groups=tuple(self.group_checkpoints()),
            # the worst lag only from both clusters' answers: a cluster that did not answer
            # leaves it unknown, never 0 (an alert on it must not resolve)
            max_lag_messages=max(msgs) if msgs and both else None,
            max_lag_seconds=max(lags) if lags and both else None,
            source_reachable=self.source_reachable, target_reachable=self.target_reachable,
            problems=tuple(problems), stale_control_copies=stale, failover=run,
            clusters=clusters,
        )


def _topic_row(
    topic: str, remote: str, rows: list[PartitionReplication], tparts: Mapping[str, int],
    fl: Flow, source_ok: bool, target_ok: bool = True,
) -> TopicReplication:
    def total(vals: list[int | None]) -> int | None:
        return None if not vals or any(v is None for v in vals) else sum(v for v in vals if v)

    lag = total([r.lag_messages for r in rows])
    secs_list = [r.lag_seconds for r in rows]
    secs = None if not rows or any(s is None for s in secs_list) else max(
        s for s in secs_list if s is not None
    )
    state: TopicState
    if not target_ok:
        state = "unknown"  # the target did not answer: whether the copy exists is unknown
    elif remote not in tparts:
        state = "not replicated"
    elif not source_ok or secs is None:
        state = "unknown"
    elif secs > float(fl.pair.rpo):
        state = "behind"
    else:
        state = "ok"
    return TopicReplication(
        topic, remote, len(rows), total([r.source_end for r in rows]),
        total([r.target_end for r in rows]), lag, secs, state, tuple(rows),
    )


def _hb_info(topic: str, hb: Heartbeat | None, now_ms: int) -> HeartbeatInfo:
    if hb is None:
        return HeartbeatInfo(topic, None, None, None, None)
    return HeartbeatInfo(topic, hb.source, hb.target, hb.timestamp, _age(hb.timestamp, now_ms))


async def _newest_heartbeat(conn: KafkaConnection, topic: str) -> tuple[Heartbeat | None, Any]:
    """The newest heartbeat of a replicated heartbeats topic: its aliases describe other
    flows (docs/mm2-formats.md), so any heartbeat there proves the flow carried data."""
    from kafkaops.core.dr.mm2 import Mm2FormatError, decode_heartbeat

    records, info = await read_partition(conn, topic, tail=50)
    best: Heartbeat | None = None
    for r in records:
        try:
            hb = decode_heartbeat(r.key, r.value)
        except Mm2FormatError:
            continue
        if best is None or hb.timestamp >= best.timestamp:
            best = hb
    return best, info
