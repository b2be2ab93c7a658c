"""Failover and failback of a DR pair: a plan that shows everything first, then steps that
are recorded as they go, so a run killed at any point is finished by `resume`.

    svc = FailoverService(services)
    plan = await svc.plan("main")                       # pre-checks + per-group translation
    result = await svc.execute("main", force=False)     # refuses (changing nothing) on a
                                                        # failed pre-check unless force
    result = await svc.resume("main")                   # after a crash, from where it stopped
    await svc.status("main")                            # the newest run and its progress
    await svc.plan("main", direction="failback")        # the same, back to the primary

The plan (`FailoverPlan`):
- pre-checks: target reachable and not read-only (never overridable), the pair's active
  cluster is the run's source, no other run unfinished; heartbeat age and replication lag
  within RPO, translated offsets inside the target's log, groups without active members
  on the target (these refuse unless `force`); warnings for what will be reprocessed or
  cannot be translated;
- per group and partition: the group's offset on the source, its newest checkpoint and its
  age, the translated offset and how it was found, the target's log start and end, what
  will be committed and how many records the group will read again.

How offsets are translated:
1. the source is reachable: the group's current committed offset N goes through MM2's own
   OffsetSyncStore rules (mm2_offsets.py) over the offset syncs MM2 wrote (the offset MM2's next
   checkpoint for N would carry; never more than one record past a sync, so it never
   skips a record the group has not read), and the group's newest checkpoint, read as
   RemoteClusterUtils.translateOffsets reads it (last in log order wins), counts too when
   its upstream offset is <= N (a group that rewound after it would skip). The larger of
   the two is used: both are safe, and MM2 itself never moves a checkpoint back;
2. the source is unreachable: the newest checkpoint, as RemoteClusterUtils returns it;
3. topics that came from the target in the first place (failback of a remote copy such as
   `primary.orders` on dr back to `orders` on primary) use the opposite flow's offset
   syncs backwards (mm2_offsets.translate_upstream), with the same never-skip rule.
Every translated offset is checked against the target partition's log start and end: past
the end is an MM2 translation bug and the group is not moved; below the start the offset
is raised to the log start (those records are gone on the target either way).

Execution steps, each recorded in `_kafkaops.control` on the target (dr_control.py) and
audited through the one audit path (core/audit/log.py `record_change`: an intent before the
step, its outcome after; a run killed between the two leaves an intent that `resume`
closes with what the run's records and the target's offsets show happened):
  start -> fence (mark the old active cluster stood down, on both clusters when reachable)
  -> per group: intent (with the group's current target offsets) -> commit -> verify -> done
  -> activate (active record with the new epoch, on the target then the old cluster)
  -> complete.
`resume` continues a running run from its records, with the offsets frozen when it
started. A group left at `intent` is committed only if its target offsets are still the
ones recorded before the commit; if they already equal the plan the commit had landed, and
if they changed otherwise (its consumers started on the target) they are left alone. So no
offset is committed twice and no group is skipped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from kafkaops.core.audit.model import AuditError
from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ActiveRecord,
    ControlLog,
    ControlStore,
    ControlView,
    Direction,
    FenceRecord,
    GroupRecord,
    RunRecord,
    StepRecord,
    touch,
)
from kafkaops.core.dr.mm2_formats import Checkpoint, OffsetSync
from kafkaops.core.dr.mm2_io import read_offset_syncs
from kafkaops.core.dr.mm2_offsets import (
    OffsetSyncStore,
    group_matches,
    remote_consumer_offsets,
    translate_upstream,
)
from kafkaops.core.dr.model import Flow, flow
from kafkaops.core.dr.probe import FlowSnapshot
from kafkaops.core.dr.rpo import age_seconds
from kafkaops.core.dr.rpo import fmt_age as _fmt_age
from kafkaops.core.dr.status import DrService
from kafkaops.core.errors import (
    ClusterUnreachable,
    Conflict,
    KafkaOpsError,
    NotFound,
    Refused,
    UsageError,
)
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.kafka.groups import commit_offsets, committed_offsets, group_members
from kafkaops.core.kafka.topicio import partitions_of
from kafkaops.core.records import TopicPartition

T = TypeVar("T")
CheckStatus = Literal["ok", "warn", "fail"]
Method = Literal["offset-sync", "checkpoint", "reverse-offset-sync", "none"]
#: hook(point) is awaited after each recorded step; tests raise from it to simulate a crash
StepHook = Callable[[str], Awaitable[None] | None]


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Precheck:
    """One pre-check of a failover."""

    name: str
    """What is checked."""
    status: CheckStatus
    """ok, warn (go ahead, but read this) or fail."""
    detail: str
    """The finding, in words."""
    overridable: bool = True
    """A failure `--force` may override (some never are: an unreachable target...)."""


@dataclass(frozen=True)
class PartitionPlan:
    """What happens to one partition of a group."""

    topic: str
    """Topic on the target (the one the offset is committed for)."""
    partition: int
    """Partition."""
    source_topic: str
    """Topic on the source."""
    source_offset: int | None
    """The group's committed offset on the source (None: unknown or none)."""
    checkpoint: tuple[int, int] | None
    """Newest MM2 checkpoint (source offset, target offset), None when there is none."""
    checkpoint_age_seconds: float | None
    """Age of that checkpoint."""
    translated: int | None
    """The translated offset before the log-bounds check (None: cannot translate)."""
    method: Method
    """How it was translated."""
    target_start: int | None
    """Log start offset of the target partition."""
    target_end: int | None
    """True end offset of the target partition."""
    current: int | None
    """The group's committed offset on the target now."""
    offset: int | None
    """What will be committed (None: nothing for this partition)."""
    reprocess: int | None
    """Records the group will read again on the target (estimate; None: unknown)."""
    note: str = ""
    """Anything to know, in words."""
    out_of_range: bool = False
    """The translated offset lies past the target's log end: it is never committed."""


@dataclass(frozen=True)
class GroupPlan:
    """What happens to one consumer group."""

    group: str
    """Consumer group id."""
    action: Literal["move", "leave"]
    """move: its offsets are committed on the target; leave: nothing is done to it."""
    reason: str
    """Why, in words."""
    partitions: tuple[PartitionPlan, ...]
    """Per partition."""
    checkpoint_age_seconds: float | None
    """Age of the group's newest checkpoint (None: no checkpoint)."""
    source_members: int | None
    """Active members on the source (None: source unreachable)."""
    target_members: int | None
    """Active members on the target."""
    reprocess: int | None
    """Records it will read again in total (None: unknown)."""

    @property
    def offsets(self) -> dict[TopicPartition, int]:
        """Offsets to commit on the target."""
        return {TopicPartition(p.topic, p.partition): p.offset
                for p in self.partitions if p.offset is not None}


@dataclass(frozen=True)
class FailoverPlan:
    """Everything a failover (or failback) will do, before it does it."""

    pair: str
    """DR pair."""
    direction: Direction
    """failover (primary -> secondary) or failback."""
    source: str
    """Cluster that is active now."""
    target: str
    """Cluster that will be active."""
    source_alias: str
    """MM2 alias of the source."""
    target_alias: str
    """MM2 alias of the target."""
    active: str
    """Active cluster per _kafkaops.control."""
    epoch: int
    """Active epoch now."""
    new_epoch: int
    """Epoch the target becomes active with."""
    rpo_seconds: float
    """Configured RPO."""
    heartbeat_age_seconds: float | None
    """Newest heartbeat across the flow source -> target."""
    replication_lag_seconds: float | None
    """Worst replication lag source -> target (None: unknown)."""
    prechecks: tuple[Precheck, ...]
    """Pre-checks."""
    groups: tuple[GroupPlan, ...]
    """Groups, in the order they will be moved."""
    steps: tuple[str, ...]
    """The runbook, in words."""
    generated_at: float
    """When the plan was made."""

    @property
    def failed(self) -> list[Precheck]:
        return [c for c in self.prechecks if c.status == "fail"]

    @property
    def fingerprint(self) -> str:
        """A short hash of the decision this plan asks a person to confirm: the clusters and
        epoch, which groups move and which are left, which partitions of each get an offset,
        which checks failed. A face that showed a plan passes it back to
        `execute(fingerprint=...)`, which refuses if the fresh plan's decision differs (a
        Slack button can carry it).

        Not the offsets themselves: a group whose consumers still run on the source commits
        every second, and its translated offsets move with it, so a hash of them changes
        between showing and running whenever consumers are active. Execute commits the
        offsets translated when it runs (newer, never older, than those shown); the run's
        audit records hold exactly what was committed."""
        import hashlib
        import json

        data = {
            "pair": self.pair, "direction": self.direction, "source": self.source,
            "target": self.target, "epoch": self.epoch,
            "groups": {g.group: [g.action, sorted(
                [p.topic, p.partition] for p in g.partitions if p.offset is not None
                and g.action == "move")] for g in self.groups},
            "failed": sorted(c.name for c in self.failed),
        }
        raw = json.dumps(data, sort_keys=True).encode("utf-8")
        return hashlib.sha256(raw).hexdigest()[:16]

    @property
    def allowed(self) -> bool:
        """True when execute would go ahead without --force."""
        return not self.failed

    @property
    def forceable(self) -> bool:
        """True when --force would let it go ahead."""
        return all(c.overridable for c in self.failed)


@dataclass(frozen=True)
class StepOutcome:
    """A recorded non-group step."""

    name: str
    """fence, activate."""
    status: str
    """done or skipped."""
    detail: str
    """What happened."""


@dataclass(frozen=True)
class PartitionOffset:
    """An offset of one partition."""

    topic: str
    """Topic."""
    partition: int
    """Partition."""
    offset: int
    """Offset."""


@dataclass(frozen=True)
class GroupOutcome:
    """Where a group got to."""

    group: str
    """Consumer group id."""
    status: str
    """planned, intent, done, left."""
    offsets: tuple[PartitionOffset, ...]
    """Offsets the run commits for it on the target."""
    detail: str
    """What happened."""


@dataclass(frozen=True)
class FailoverResult:
    """A run's state: what `execute`, `resume` and `status` return."""

    pair: str
    """DR pair."""
    run_id: str
    """Run id."""
    direction: str
    """failover or failback."""
    source: str
    """Cluster that was active."""
    target: str
    """Cluster made active."""
    new_epoch: int
    """The target's epoch."""
    state: str
    """running, completed or abandoned."""
    by: str
    """Who started it."""
    started_at: float
    """When."""
    force: bool
    """Started with --force."""
    steps: tuple[StepOutcome, ...]
    """fence / activate as recorded."""
    groups: tuple[GroupOutcome, ...]
    """Per group."""
    active: str
    """Active cluster per the control topic now."""
    epoch: int
    """Active epoch now."""


# ---------------------------------------------------------------- pure decisions


def decide_forward(
    source_offset: int | None,
    source_reachable: bool,
    translated_by_syncs: int | None,
    checkpoint: Checkpoint | None,
) -> tuple[int | None, Method, str]:
    """(translated offset, method, note) for a partition MM2 replicates source -> target.

    translated_by_syncs: MM2's translation of source_offset over the offset syncs (None: no
    syncs; -1: behind every retained sync)."""
    if source_reachable:
        if source_offset is None:
            return None, "none", "the group has no committed offset here on the source"
        # Both are safe lower bounds of where the group's next record sits on the target: the
        # checkpoint translated an offset the group has passed. MM2 keeps the checkpoint when
        # a new translation would be lower (it never moves one back), so the larger wins,
        # and on a tie the checkpoint: it is what RemoteClusterUtils.translateOffsets returns.
        usable_cp = checkpoint is not None and checkpoint.upstream_offset <= source_offset
        by_cp = checkpoint.downstream_offset if checkpoint is not None and usable_cp else None
        by_sync = (translated_by_syncs
                   if translated_by_syncs is not None and translated_by_syncs >= 0 else None)
        if by_cp is not None and (by_sync is None or by_cp >= by_sync):
            return by_cp, "checkpoint", ""
        if by_sync is not None:
            return by_sync, "offset-sync", ""
        why = (
            "behind every offset sync MM2 kept" if translated_by_syncs == -1
            else "no offset sync for this partition yet"
        )
        if checkpoint is not None:
            why += " (its checkpoint is newer than its offset: it rewound; not used)"
        return None, "none", why
    if checkpoint is not None:
        return checkpoint.downstream_offset, "checkpoint", "source unreachable: last checkpoint"
    return None, "none", "source unreachable and no checkpoint"


def bound_offset(
    translated: int | None, target_start: int | None, target_end: int | None
) -> tuple[int | None, str, bool]:
    """(offset to commit, note, invalid) after checking the target's log bounds.

    Past the end: invalid (an MM2 translation bug; never committed). Below the start:
    raised to the start (the records before it are gone on the target anyway)."""
    if translated is None:
        return None, "", False
    if target_end is None or target_start is None:
        return None, "target partition does not exist", True
    if translated > target_end:
        return None, (
            f"translated offset {translated} is past the log end {target_end} on the target "
            "(an MM2 translation bug): not committed"
        ), True
    if translated < target_start:
        return target_start, (
            f"translated offset {translated} is below the log start {target_start}: "
            f"records {translated}..{target_start - 1} were deleted on the target before "
            "the group read them; committing the log start"
        ), False
    return translated, "", False


def reprocess_estimate(
    offset: int | None, position: int | None, target_end: int | None
) -> int | None:
    """Records the group reads again: from `offset` to where its source position lands on
    the target (`position`, estimated one-for-one from the newest sync), within the log."""
    if offset is None or position is None or target_end is None:
        return None
    return max(min(position, target_end) - offset, 0)


def target_position(syncs: OffsetSyncStore, tp: TopicPartition, source_offset: int) -> int | None:
    """Where source offset N lands on the target, one for one from the newest sync <= N."""
    sync = syncs.lookup(tp, source_offset)
    if sync is None or sync.upstream_offset > source_offset:
        return None
    return sync.downstream_offset + (source_offset - sync.upstream_offset)


# ---------------------------------------------------------------- the service


@dataclass
class _Ctx:
    run: RunRecord
    groups: dict[str, GroupRecord]
    actor: str
    face: str
    hook: StepHook | None


class FailoverService:
    """Plans, executes, resumes and reports failovers and failbacks of DR pairs."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.dr = DrService(services)
        self.control = ControlStore(services.connection)

    # ------------------------------------------------------------ plan

    async def plan(
        self, pair: str | DrPairConfig | None = None, *, direction: Direction = "failover"
    ) -> FailoverPlan:
        """The plan and its pre-checks. Changes nothing."""
        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        view = await self.control.read(p)
        return await self._plan(p, view, direction)

    async def _connect(self, cluster: str) -> tuple[KafkaConnection | None, str | None]:
        try:
            return await self.services.connection(cluster), None
        except ClusterUnreachable as e:
            return None, str(e)

    async def _plan(
        self, p: DrPairConfig, view: ControlView, direction: Direction
    ) -> FailoverPlan:
        if direction not in ("failover", "failback"):
            raise UsageError(f"direction must be failover or failback, not {direction!r}")
        source, target = (
            (p.primary, p.secondary) if direction == "failover" else (p.secondary, p.primary)
        )
        fwd = flow(p, source)  # MM2 flow source -> target: checkpoints and syncs
        opp = flow(p, target)  # the opposite flow: its syncs translate remote copies back
        checks: list[Precheck] = []
        (src, src_err), (tgt, tgt_err) = await asyncio.gather(
            self._connect(source), self._connect(target)
        )
        now_ms = int(time.time() * 1000)
        rpo = float(p.rpo)

        # --- pre-checks that stop everything
        if tgt is None:
            checks.append(Precheck("target reachable", "fail", str(tgt_err), overridable=False))
        else:
            checks.append(Precheck("target reachable", "ok", f"{target!r} answers"))
        if self.services.cluster_config(target).read_only:
            checks.append(Precheck(
                "target writable", "fail",
                f"cluster {target!r} is read-only (read_only: true in "
                f"{self.services.config.source}): offsets and the active cluster cannot be "
                "written there", overridable=False))
        active = view.active
        if active.cluster != source:
            other = "failback" if direction == "failover" else "failover"
            checks.append(Precheck(
                "active cluster", "fail",
                f"{active.cluster!r} is already the active cluster (epoch {active.epoch}"
                + (f", by {active.by}" if active.by else "") + f"): nothing to {direction}; "
                f"`kafkaops {other}` goes the other way", overridable=False))
        else:
            checks.append(Precheck(
                "active cluster", "ok", f"{source!r} is active (epoch {active.epoch})"))
        running = view.running_run()
        if running is not None:
            run = running[0]
            checks.append(Precheck(
                "no run in progress", "fail",
                f"{run.direction} {run.run_id} ({run.source} -> {run.target}, started by "
                f"{run.by}) has not finished: run `kafkaops failover resume` first",
                overridable=False))

        if tgt is None:
            return self._finish_plan(p, direction, fwd, active, checks, (), None, None, now_ms)

        snap = await FlowSnapshot.take(fwd, src, tgt)
        hb_age = snap.heartbeat_age()
        lags = [t.lag_seconds for t in snap.topics if t.lag_seconds is not None]
        lag_known = src is not None and len(lags) == len(snap.topics) and bool(snap.topics)
        lag = max(lags) if lag_known else None

        # --- RPO pre-checks (--force overrides)
        if hb_age is None:
            checks.append(Precheck(
                "heartbeat", "fail",
                f"no MM2 heartbeat for {fwd.source_alias}->{fwd.target_alias} on {target!r} "
                f"(topics {fwd.remote_heartbeats_topic!r}, 'heartbeats'): replication "
                f"{source} -> {target} cannot be confirmed"))
        else:
            hb = snap.heartbeat()
            where = f"in {hb.topic!r} on {target!r}" if hb else ""
            if hb and hb.topic != fwd.remote_heartbeats_topic:
                where += " (MM2's own heartbeat: it shows MM2 runs, not that it copies data)"
            if hb_age > rpo:
                checks.append(Precheck(
                    "heartbeat", "fail",
                    f"newest heartbeat {where} is {_fmt_age(hb_age)} old, beyond the RPO of "
                    f"{_fmt_age(rpo)}: MM2 may be down; data written since may be lost"))
            else:
                checks.append(Precheck(
                    "heartbeat", "ok",
                    f"newest heartbeat {where} is {_fmt_age(hb_age)} old "
                    f"(RPO {_fmt_age(rpo)})"))
        if src is None:
            checks.append(Precheck(
                "source reachable", "warn",
                f"{src_err}; the old active cluster cannot be fenced now (resume marks it "
                "once it is back); offsets come from MM2's checkpoints only"))
            checks.append(Precheck(
                "replication lag", "warn",
                "unknown (source unreachable): anything written in the last "
                f"{_fmt_age(hb_age)} (the heartbeat age) may be lost"))
        elif not snap.topics:
            checks.append(Precheck(
                "replication lag", "fail",
                f"no topics replicated {source} -> {target} were found (no offset syncs, no "
                "remote topics): is MirrorMaker 2 running for this pair?"))
        elif lag is None:
            checks.append(Precheck(
                "replication lag", "fail",
                "could not be measured for every topic (a record timestamp could not be read)"))
        elif lag > rpo:
            worst = max(snap.topics, key=lambda t: t.lag_seconds or 0.0)
            checks.append(Precheck(
                "replication lag", "fail",
                f"{worst.topic} is {_fmt_age(lag)} ({worst.lag_messages} records) behind, "
                f"beyond the RPO of {_fmt_age(rpo)}: failing over now loses them"))
        else:
            total = sum(t.lag_messages or 0 for t in snap.topics)
            checks.append(Precheck(
                "replication lag", "ok",
                f"worst {_fmt_age(lag)}, {total} records not yet replicated (RPO {_fmt_age(rpo)})"))
        checks.extend(Precheck("MM2 topics", "warn", text) for text in snap.problems)

        groups = await self._plan_groups(p, fwd, opp, snap, src, tgt, now_ms)
        for g in groups:
            checks.extend(_group_checks(g, rpo, source, target))
        return self._finish_plan(p, direction, fwd, active, checks, tuple(groups), hb_age, lag,
                                 now_ms)

    def _finish_plan(
        self, p: DrPairConfig, direction: Direction, fwd: Flow, active: ActiveRecord,
        checks: list[Precheck], groups: tuple[GroupPlan, ...], hb_age: float | None,
        lag: float | None, now_ms: int,
    ) -> FailoverPlan:
        source, target = fwd.source, fwd.target
        moving = [g for g in groups if g.action == "move"]
        left = [g for g in groups if g.action == "leave"]
        steps = [
            f"record the run in _kafkaops.control on {target!r} "
            f"(epoch {active.epoch} -> {active.epoch + 1})",
            f"fence {source!r}: mark it stood down in its _kafkaops.control (if reachable)",
        ]
        steps += [
            f"commit offsets of group {g.group!r} on {target!r} "
            f"({len(g.offsets)} partitions, about {g.reprocess if g.reprocess is not None else '?'}"
            " records read again), read them back"
            for g in moving
        ]
        steps += [f"leave group {g.group!r} as it is: {g.reason}" for g in left]
        steps += [
            f"make {target!r} active (epoch {active.epoch + 1}) in _kafkaops.control on "
            f"{target!r} and {source!r}; clients following the control topic switch",
            "record the run complete; every step is in the audit trail",
        ]
        return FailoverPlan(
            pair=p.name, direction=direction, source=source, target=target,
            source_alias=fwd.source_alias, target_alias=fwd.target_alias,
            active=active.cluster, epoch=active.epoch, new_epoch=active.epoch + 1,
            rpo_seconds=float(p.rpo), heartbeat_age_seconds=hb_age,
            replication_lag_seconds=lag, prechecks=tuple(checks), groups=groups,
            steps=tuple(steps), generated_at=now_ms / 1000.0,
        )

    async def _plan_groups(
        self, p: DrPairConfig, fwd: Flow, opp: Flow, snap: FlowSnapshot,
        src: KafkaConnection | None, tgt: KafkaConnection, now_ms: int,
    ) -> list[GroupPlan]:
        pol = fwd.policy
        # forward: source partitions MM2 replicates into the target
        forward: dict[TopicPartition, TopicPartition] = {}
        for t in snap.topics:
            for row in t.rows:
                stp = TopicPartition(t.topic, row.partition)
                forward[stp] = TopicPartition(
                    pol.checkpoint_topic_name(fwd.source_alias, fwd.target_alias, t.topic),
                    row.partition,
                )
        # reverse: remote copies on the source of topics that live on the target
        opp_syncs, _ = await read_offset_syncs(tgt, opp.offset_syncs_topic)
        by_tp: dict[TopicPartition, list[OffsetSync]] = {}
        for s in opp_syncs:
            by_tp.setdefault(s.topic_partition, []).append(s)
        reverse: dict[TopicPartition, TopicPartition] = {}
        for ttp in by_tp:
            stp = TopicPartition(opp.remote_topic(ttp.topic), ttp.partition)
            if stp not in forward:  # a topic MM2 also replicates forward is translated so
                reverse[stp] = ttp

        # which groups
        cp_latest: dict[str, dict[TopicPartition, tuple[Checkpoint, int]]] = {}
        for cp, ts in snap.checkpoints:
            cp_latest.setdefault(cp.group, {})[cp.topic_partition] = (cp, ts)
        names = {g for g in cp_latest if group_matches(g, p.groups)}
        if src is not None:
            with map_kafka_errors(src):
                listed = await src.admin.list_consumer_groups()
            names |= {g[0] for g in listed if group_matches(g[0], p.groups)}
        if src is not None and (forward or reverse):
            await partitions_of(src, {tp.topic for tp in (*forward, *reverse)})
        all_tgt = sorted(set(forward.values()) | set(reverse.values()))
        twater = {}
        if all_tgt:
            await partitions_of(tgt, {tp.topic for tp in all_tgt})
            twater = await tgt.high_watermarks(all_tgt)
        sem = asyncio.Semaphore(16)

        async def one(group: str) -> GroupPlan | None:
            async with sem:
                return await self._plan_group(
                    group, fwd, snap, src, tgt, forward, reverse, by_tp,
                    cp_latest.get(group, {}), twater, now_ms,
                )

        plans = await asyncio.gather(*(one(g) for g in sorted(names)))
        return [g for g in plans if g is not None]

    async def _plan_group(
        self, group: str, fwd: Flow, snap: FlowSnapshot, src: KafkaConnection | None,
        tgt: KafkaConnection, forward: Mapping[TopicPartition, TopicPartition],
        reverse: Mapping[TopicPartition, TopicPartition],
        opp_syncs: Mapping[TopicPartition, list[OffsetSync]],
        checkpoints: Mapping[TopicPartition, tuple[Checkpoint, int]],
        twater: Mapping[TopicPartition, tuple[int, int]], now_ms: int,
    ) -> GroupPlan | None:
        src_offsets: dict[TopicPartition, int | None] = {}
        src_members: int | None = None
        if src is not None:
            src_offsets = await committed_offsets(src, group, sorted({*forward, *reverse}))
            src_members = (await group_members(src, group))[1]
        # the checkpoints of this group, as RemoteClusterUtils reads them
        cps = remote_consumer_offsets((c for c, _ in checkpoints.values()), group)
        cp_ts = {tp: ts for tp, (_, ts) in checkpoints.items()}
        rows: list[PartitionPlan] = []
        for stp, ttp in sorted(forward.items()):
            n = src_offsets.get(stp)
            cp = cps.get(ttp)
            if n is None and cp is None:
                continue
            by_syncs = snap.store.translate_downstream(stp, n) if n is not None else None
            translated, method, note = decide_forward(n, src is not None, by_syncs, cp)
            start, end = twater.get(ttp, (None, None))
            offset, bound_note, invalid = bound_offset(translated, start, end)
            pos = target_position(snap.store, stp, n) if n is not None else None
            if method == "checkpoint" and n is None and cp is not None:
                note = (note + "; " if note else "") + (
                    "records the group consumed after this checkpoint will be read again")
            rows.append(PartitionPlan(
                topic=ttp.topic, partition=ttp.partition, source_topic=stp.topic,
                source_offset=n,
                checkpoint=(cp.upstream_offset, cp.downstream_offset) if cp else None,
                checkpoint_age_seconds=age_seconds(cp_ts.get(ttp), now_ms),
                translated=translated, method=method, target_start=start, target_end=end,
                current=None, offset=offset,
                reprocess=reprocess_estimate(offset, pos, end),
                note="; ".join(x for x in (note, bound_note) if x), out_of_range=invalid,
            ))
        for stp, ttp in sorted(reverse.items()):
            n = src_offsets.get(stp)
            if n is None:
                continue
            up = translate_upstream(opp_syncs.get(ttp, []), n)
            start, end = twater.get(ttp, (None, None))
            offset, bound_note, invalid = bound_offset(up, start, end)
            note = "" if up is not None else "behind every offset sync of the opposite flow"
            rows.append(PartitionPlan(
                topic=ttp.topic, partition=ttp.partition, source_topic=stp.topic,
                source_offset=n, checkpoint=None, checkpoint_age_seconds=None,
                translated=up, method="reverse-offset-sync" if up is not None else "none",
                target_start=start, target_end=end, current=None, offset=offset,
                reprocess=None,
                note="; ".join(x for x in (note, bound_note) if x), out_of_range=invalid,
            ))
        if not rows:
            return None
        current = await committed_offsets(
            tgt, group, [TopicPartition(r.topic, r.partition) for r in rows]
        )
        rows = [replace(r, current=current.get(TopicPartition(r.topic, r.partition)))
                for r in rows]
        tgt_state, tgt_members = await group_members(tgt, group)
        ages = [r.checkpoint_age_seconds for r in rows if r.checkpoint_age_seconds is not None]
        reproc = [r.reprocess for r in rows if r.offset is not None]
        bad = [r for r in rows if r.out_of_range]
        movable = [r for r in rows if r.offset is not None]
        action: Literal["move", "leave"]
        if tgt_members:
            action, reason = "leave", (
                f"{tgt_members} active member{'' if tgt_members == 1 else 's'} on "
                f"{fwd.target!r} (state {tgt_state}): offsets "
                "cannot be committed while consumers are in the group there")
        elif bad:
            action, reason = "leave", f"{bad[0].topic}/{bad[0].partition}: {bad[0].note}"
        elif not movable:
            action, reason = "leave", (
                "no partition could be translated: its consumers on the target will start "
                "from their auto.offset.reset (latest skips records; earliest re-reads all)")
        else:
            action, reason = "move", f"{len(movable)} of {len(rows)} partitions translated"
        return GroupPlan(
            group=group, action=action, reason=reason, partitions=tuple(rows),
            checkpoint_age_seconds=min(ages) if ages else None,
            source_members=src_members, target_members=tgt_members,
            reprocess=None if any(x is None for x in reproc) else sum(
                x for x in reproc if x is not None),
        )

    # ------------------------------------------------------------ execute

    async def execute(
        self, pair: str | DrPairConfig | None = None, *, direction: Direction = "failover",
        force: bool = False, actor: str | None = None, face: str = "cli",
        hook: StepHook | None = None, plan: FailoverPlan | None = None,
        fingerprint: str | None = None,
    ) -> FailoverResult:
        """Run the failover (or failback). Refuses, changing nothing, when a pre-check
        fails, unless `force` and the failure is overridable.

        `plan` (or its `fingerprint`): the plan the person confirmed; if the plan made now
        differs (other offsets, another epoch, other failed checks) this raises Conflict
        and changes nothing, so what runs is what was shown."""
        from kafkaops.core.audit.log import local_actor

        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        actor = actor or local_actor()
        view = await self.control.read(p)
        fresh = await self._plan(p, view, direction)
        shown = fingerprint or (plan.fingerprint if plan is not None else None)
        if shown is not None and shown != fresh.fingerprint:
            raise Conflict(
                "the plan changed since it was shown (a group to move or leave, a partition "
                "that can be translated, the active epoch or a failed check is different): "
                "look at the new plan and confirm again; nothing was changed")
        plan = fresh
        hard = [c for c in plan.failed if not c.overridable]
        if hard:
            raise Refused(_refusal(plan, hard, forced=False))
        if plan.failed and not force:
            raise Refused(_refusal(plan, plan.failed, forced=True))
        self.services.require_writable(plan.target, f"{direction} onto it")
        run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        now = time.time()
        group_recs: dict[str, GroupRecord] = {}
        for g in plan.groups:
            if g.action == "move":
                group_recs[g.group] = GroupRecord(p.name, run_id, g.group, g.offsets, at=now)
            else:
                group_recs[g.group] = GroupRecord(
                    p.name, run_id, g.group, {}, status="left", detail=g.reason, at=now)
        run = RunRecord(
            pair=p.name, run_id=run_id, direction=direction, source=plan.source,
            target=plan.target, base_epoch=plan.epoch, new_epoch=plan.new_epoch, by=actor,
            face=face, started_at=now, force=force and bool(plan.failed),
            groups=tuple(g.group for g in plan.groups), updated_at=now,
        )
        ctx = _Ctx(run, group_recs, actor, face, hook)

        async def start() -> dict[str, Any]:
            # group plans first, then the run record: a run that exists has all its plans
            await self.control.write(plan.target, [*group_recs.values(), run])
            log = await self.control.read_cluster(plan.target, p.name)
            winner = log.first_run_for_epoch.get(run.base_epoch)
            if winner != run_id:
                ctx.run = touch(run, state="abandoned", detail=f"lost to run {winner}")
                await self.control.write(plan.target, [ctx.run])
                raise Conflict(
                    f"another {direction} of pair {p.name!r} ({winner}) started first from "
                    f"epoch {run.base_epoch}; this one was abandoned before changing anything")
            return {"run_id": run_id, "groups": len(group_recs)}

        async with self.control.session():
            return await self._start_and_continue(p, ctx, plan, group_recs, start, force)

    async def _start_and_continue(
        self, p: DrPairConfig, ctx: _Ctx, plan: FailoverPlan,
        group_recs: Mapping[str, GroupRecord], start: Callable[[], Awaitable[Any]], force: bool,
    ) -> FailoverResult:
        await self._audited(ctx, "start", p.name, {
            "source": plan.source, "target": plan.target, "new_epoch": plan.new_epoch,
            "force": force, "failed_prechecks": [c.name for c in plan.failed],
            "groups": {g.group: {f"{tp.topic}/{tp.partition}": o for tp, o in g.offsets.items()}
                       for g in plan.groups if g.action == "move"},
        }, start)
        await _call(ctx.hook, "start")
        return await self._continue(p, ctx)

    async def resume(
        self, pair: str | DrPairConfig | None = None, *, actor: str | None = None,
        face: str = "cli", hook: StepHook | None = None,
    ) -> FailoverResult:
        """Finish the pair's unfinished run from its records; or, for a finished run whose
        old active cluster could not be marked then, mark it now."""
        from kafkaops.core.audit.log import local_actor

        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        actor = actor or local_actor()
        view = await self.control.read(p)
        running = view.running_run()
        if running is None:
            closed = await self._reconcile(p, view, None)
            latest = view.latest_run()
            if latest is not None and latest[0].state == "completed" and (
                view.stale_copies() or _skipped_marks(latest[0])
            ):
                run, log = latest
                ctx = _Ctx(run, dict(log.groups.get(run.run_id, {})), actor, face, hook)
                async with self.control.session():
                    await self._mark_source(p, ctx, retry=True)
                return await self._result(p, ctx)
            if latest is not None and any(rid == latest[0].run_id for rid, _ in closed):
                # its last step had landed: only the audit trail was behind, now reconciled
                run, log = latest
                return await self._result(
                    p, _Ctx(run, dict(log.groups.get(run.run_id, {})), actor, face, hook))
            where = ", ".join(view.logs) or "no cluster"
            extra = f"; could not read {', '.join(view.unreachable)}" if view.unreachable else ""
            if closed:
                extra += ("; closed audit intents an interrupted run left open: "
                          + "; ".join(text for _, text in closed))
            raise NotFound(
                f"no unfinished failover of pair {p.name!r} to resume (read the control "
                f"topic on {where}{extra})")
        run, log = running
        if run.target in view.unreachable:
            raise ClusterUnreachable(
                f"the run's target {run.target!r} is unreachable: {view.unreachable[run.target]}"
            )
        self.services.require_writable(run.target, f"resume the {run.direction} onto it")
        ctx = _Ctx(run, dict(log.groups.get(run.run_id, {})), actor, face, hook)
        missing = [g for g in run.groups if g not in ctx.groups]
        if missing:
            raise KafkaOpsError(
                f"run {run.run_id} lists groups with no recorded plan ({missing[:3]}): its "
                "control records are damaged; nothing was changed")
        await self._reconcile(p, view, ctx)
        async with self.control.session():
            return await self._continue(p, ctx)

    async def status(self, pair: str | DrPairConfig | None = None) -> FailoverResult | None:
        """The newest run of the pair (None: never failed over)."""
        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        view = await self.control.read(p)
        latest = view.latest_run()
        if latest is None:
            return None
        run, log = latest
        ctx = _Ctx(run, dict(log.groups.get(run.run_id, {})), "", "cli", None)
        return self._result_from(ctx, view)

    # ------------------------------------------------------------ the steps

    async def _continue(self, p: DrPairConfig, ctx: _Ctx) -> FailoverResult:
        if "fence" not in ctx.run.steps:
            await self._fence(p, ctx)
            await _call(ctx.hook, "fence")
        for group in ctx.run.groups:
            rec = ctx.groups[group]
            if rec.status in ("done", "left"):
                continue
            await self._move_group(ctx, rec)
        if "activate" not in ctx.run.steps:
            await self._activate(p, ctx)
            await _call(ctx.hook, "activate")
        if ctx.run.state == "running":
            async def complete() -> dict[str, Any]:
                ctx.run = touch(ctx.run, state="completed")
                await self.control.write(ctx.run.target, [ctx.run])
                return {"groups": {g: r.status for g, r in ctx.groups.items()}}

            await self._audited(ctx, "complete", p.name, {"run_id": ctx.run.run_id}, complete)
            await _call(ctx.hook, "complete")
        return await self._result(p, ctx)

    async def _fence(self, p: DrPairConfig, ctx: _Ctx) -> None:
        run = ctx.run
        fence = FenceRecord(p.name, run.source, run.new_epoch, ctx.actor, time.time(), run.run_id)
        # the target's copy first: it must be reachable, and it is what resume reads
        await self._audited(ctx, "fence", run.source, {"epoch": run.new_epoch, "on": run.target},
                            lambda: self.control.write(run.target, [fence]))
        step = await self._write_source(ctx, "fence", [fence])
        ctx.run = touch(run, steps={**run.steps, "fence": step})
        await self.control.write(run.target, [ctx.run])

    async def _write_source(
        self, ctx: _Ctx, name: str, records: list[Any]
    ) -> StepRecord:
        """Write control records to the old active cluster; skipped (and said why) when it
        is unreachable or read-only."""
        run = ctx.run
        if self.services.cluster_config(run.source).read_only:
            return StepRecord("skipped", f"{run.source!r} is read-only in config: not marked",
                              time.time())
        try:
            await self._audited(ctx, name, run.source, {"epoch": run.new_epoch, "on": run.source},
                                lambda: self.control.write(run.source, records),
                                cluster=run.source)
        except AuditError:
            raise
        except KafkaOpsError as e:
            if isinstance(e, Refused) or not (isinstance(e, ClusterUnreachable) or e.retriable):
                raise
            return StepRecord(
                "skipped",
                f"{run.source!r} not marked ({e}); `kafkaops failover resume` marks it once "
                "it is reachable", time.time())
        return StepRecord("done", f"marked on {run.target!r} and {run.source!r}", time.time())

    async def _move_group(self, ctx: _Ctx, rec: GroupRecord) -> None:
        run = ctx.run
        conn = await self.services.connection(run.target)
        planned = dict(rec.offsets)
        tps = sorted(planned)
        current = await committed_offsets(conn, rec.group, tps)
        to_commit: dict[TopicPartition, int]
        if rec.status == "planned":
            _, members = await group_members(conn, rec.group)
            if members:
                await self._set_group(ctx, replace(
                    rec, status="left", at=time.time(),
                    detail=f"{members} active member{'' if members == 1 else 's'} on "
                    f"{run.target!r} when its turn came: "
                    "not moved (stop them, then move it with `kafkaops offsets reset`)"))
                return
            rec = replace(rec, status="intent", before=current, at=time.time())
            await self._set_group(ctx, rec)
            await _call(ctx.hook, f"intent:{rec.group}")
            to_commit = planned
            detail = "committed"
        else:  # intent: a commit may or may not have landed before the interruption
            before = rec.before or {}
            changed = [tp for tp in tps
                       if current.get(tp) not in (planned[tp], before.get(tp))]
            if changed:
                await self._set_group(ctx, replace(
                    rec, status="done", at=time.time(),
                    detail="not committed again: its offsets on the target moved on since the "
                    "commit was sent (its consumers started there) at "
                    + ", ".join(f"{tp.topic}/{tp.partition}={current.get(tp)}"
                                for tp in changed[:5])))
                await _call(ctx.hook, f"group:{rec.group}")
                return
            to_commit = {tp: planned[tp] for tp in tps if current.get(tp) != planned[tp]}
            detail = ("committed on resume" if to_commit
                      else "the commit had landed before the interruption")
        if to_commit:
            await self._audited(
                ctx, "commit-offsets", rec.group,
                {"cluster": run.target,
                 "offsets": {f"{tp.topic}/{tp.partition}": o for tp, o in to_commit.items()},
                 "before": {f"{tp.topic}/{tp.partition}": current.get(tp) for tp in to_commit}},
                lambda: commit_offsets(conn, rec.group, to_commit),
            )
            await _call(ctx.hook, f"committed:{rec.group}")
        back = await committed_offsets(conn, rec.group, tps)
        wrong = {tp: back.get(tp) for tp in tps if back.get(tp) != planned[tp]}
        if wrong:
            raise KafkaOpsError(
                f"group {rec.group!r}: offsets read back from {run.target!r} differ from the "
                f"plan at {', '.join(f'{tp.topic}/{tp.partition}={o}' for tp, o in wrong.items())}"
                "; the run stays unfinished: check the group, then `kafkaops failover resume`")
        await self._set_group(ctx, replace(rec, status="done", at=time.time(), detail=detail))
        await _call(ctx.hook, f"group:{rec.group}")

    async def _set_group(self, ctx: _Ctx, rec: GroupRecord) -> None:
        await self.control.write(ctx.run.target, [rec])
        ctx.groups[rec.group] = rec

    async def _activate(self, p: DrPairConfig, ctx: _Ctx) -> None:
        run = ctx.run
        active = ActiveRecord(p.name, run.target, run.new_epoch, ctx.actor, time.time(),
                              run.run_id, run.direction)
        await self._audited(ctx, "activate", run.target,
                            {"epoch": run.new_epoch, "on": run.target},
                            lambda: self.control.write(run.target, [active]))
        step = await self._write_source(ctx, "mark-source", [active])
        ctx.run = touch(ctx.run, steps={**ctx.run.steps, "activate": StepRecord(
            "done", f"{run.target!r} active at epoch {run.new_epoch}", time.time()),
            "mark-source": step})
        await self.control.write(run.target, [ctx.run])

    async def _mark_source(self, p: DrPairConfig, ctx: _Ctx, *, retry: bool) -> None:
        """For a finished run: write the fence and active records to the old cluster now."""
        run = ctx.run
        fence = FenceRecord(p.name, run.source, run.new_epoch, ctx.actor, time.time(), run.run_id)
        active = ActiveRecord(p.name, run.target, run.new_epoch, ctx.actor, time.time(),
                              run.run_id, run.direction)
        step = await self._write_source(ctx, "mark-source", [fence, active])
        if step.status != "done":
            raise ClusterUnreachable(step.detail)
        ctx.run = touch(run, steps={**run.steps, "fence": step, "mark-source": step})
        await self.control.write(run.target, [ctx.run])

    async def _result(self, p: DrPairConfig, ctx: _Ctx) -> FailoverResult:
        view = await self.control.read(p)
        return self._result_from(ctx, view)

    def _result_from(self, ctx: _Ctx, view: ControlView) -> FailoverResult:
        run = ctx.run
        return FailoverResult(
            pair=run.pair, run_id=run.run_id, direction=run.direction, source=run.source,
            target=run.target, new_epoch=run.new_epoch, state=run.state, by=run.by,
            started_at=run.started_at, force=run.force,
            steps=tuple(StepOutcome(k, v.status, v.detail) for k, v in run.steps.items()),
            groups=tuple(
                GroupOutcome(
                    g, ctx.groups[g].status,
                    tuple(PartitionOffset(tp.topic, tp.partition, o)
                          for tp, o in sorted(ctx.groups[g].offsets.items())),
                    ctx.groups[g].detail,
                )
                for g in run.groups if g in ctx.groups
            ),
            active=view.active.cluster, epoch=view.active.epoch,
        )

    # ------------------------------------------------------------ audit

    async def _audited(
        self, ctx: _Ctx, step: str, target: str, params: Mapping[str, Any],
        apply: Callable[[], Awaitable[T]], *, cluster: str | None = None,
    ) -> T:
        """THE call site into the audit trail: every step goes through record_change.

        The record is written on the run's target (the old active cluster may be down);
        `cluster` names the cluster the step changes."""
        from kafkaops.core.audit.log import record_change

        run = ctx.run
        where = f"{step}:{target}@{cluster or run.target}"

        async def applied() -> T:
            # the hook points between a step's intent record, the step, and its outcome
            await _call(ctx.hook, f"before:{where}")
            value = await apply()
            await _call(ctx.hook, f"after:{where}")
            return value

        return await record_change(
            self.services, actor=ctx.actor, face=ctx.face,
            action=f"dr.{run.direction}.{step}", target=target,
            params={"pair": run.pair, "run_id": run.run_id, **params}, apply=applied,
            cluster=cluster or run.target, audit_cluster=run.target,
        )

    async def _reconcile(
        self, p: DrPairConfig, view: ControlView, ctx: _Ctx | None,
    ) -> list[tuple[str, str]]:
        """Close the audit intents of this pair's runs that have no outcome (a process
        killed between a step's intent and its outcome), with what the run's own records
        and the target's offsets show happened. Returns (run id, what was closed) pairs.

        Runs on resume, before anything else, so the trail is reconciled whatever resume
        does next; a step found not done is closed `interrupted` and done again by resume
        under a new intent."""
        runs: dict[str, RunRecord] = {}
        groups: dict[tuple[str, str], GroupRecord] = {}
        for log in view.logs.values():
            for r in log.runs:
                runs.setdefault(r.run_id, r)
            for run_id, recs in log.groups.items():
                for g, rec in recs.items():
                    groups.setdefault((run_id, g), rec)
        latest = view.latest_run()
        if ctx is not None:
            runs[ctx.run.run_id] = ctx.run
            since = ctx.run.started_at
        elif latest is not None:
            since = latest[0].started_at
        else:
            since = time.time() - 86400
        since_ms = int((since - 600) * 1000)  # clocks of other hosts may be behind
        closed: list[tuple[str, str]] = []
        for cluster in (p.primary, p.secondary):
            if cluster in view.unreachable or self.services.cluster_config(cluster).read_only:
                continue
            log = await self.services.audit(cluster)
            try:
                found = await log.open_intents(since_ms=since_ms)
            except KafkaOpsError:
                continue
            for intent in found:
                if intent.params.get("pair") != p.name or not intent.action.startswith(
                        ("dr.failover.", "dr.failback.")):
                    continue
                result, note = await self._what_happened(intent, runs, groups)
                by = ctx.actor if ctx is not None else self._actor()
                face = ctx.face if ctx is not None else "cli"
                await log.close_intent(
                    intent, actor=by, face=face, result=result,
                    detail={"found_by": "resume", "note": note} if result == "ok" else None,
                    error=None if result == "ok" else note)
                closed.append((str(intent.params.get("run_id")),
                               f"{intent.action} {intent.target}: {result} ({note})"))
        return closed

    def _actor(self) -> str:
        from kafkaops.core.audit.log import local_actor

        return local_actor()

    async def _what_happened(
        self, intent: Any, runs: Mapping[str, RunRecord],
        groups: Mapping[tuple[str, str], GroupRecord],
    ) -> tuple[str, str]:
        """(outcome, why) of a step whose process stopped before recording its outcome."""
        step = intent.action.rsplit(".", 1)[-1]
        run_id = str(intent.params.get("run_id"))
        run = runs.get(run_id)
        again = "the process stopped before recording the outcome; resume does the step again"
        if run is None:
            return "interrupted", (f"run {run_id} was never recorded in _kafkaops.control: "
                                   "nothing was changed")
        if step == "start":
            return "ok", f"run {run_id} is recorded (found on resume)"
        if step == "complete":
            if run.state == "completed":
                return "ok", f"run {run_id} is recorded complete (found on resume)"
            return "interrupted", again
        if step in ("fence", "activate", "mark-source"):
            key = "fence" if step == "fence" else "activate"
            if key in run.steps:
                return "ok", f"the run records {key} as done (found on resume)"
            return "interrupted", again + " (an idempotent write)"
        if step == "commit-offsets":
            planned = {_parse_tp(k): int(v)
                       for k, v in dict(intent.params.get("offsets") or {}).items()}
            cluster = str(intent.params.get("cluster") or run.target)
            try:
                conn = await self.services.connection(cluster)
                now = await committed_offsets(conn, intent.target, sorted(planned))
            except KafkaOpsError as e:
                return "interrupted", f"the outcome is unknown: {e}"
            if planned and all(now.get(tp) == o for tp, o in planned.items()):
                return "ok", ("the commit had landed: the offsets read back on resume are "
                              "the ones it sent")
            before = {_parse_tp(k): v
                      for k, v in dict(intent.params.get("before") or {}).items()}
            if all(now.get(tp) == before.get(tp) for tp in planned):
                return "interrupted", ("the commit had not landed (the offsets are as before "
                                       "it); resume commits them")
            moved = ", ".join(f"{tp.topic}/{tp.partition}={now.get(tp)}" for tp in planned)
            return "interrupted", ("the outcome is unknown: the group's offsets moved on "
                                   f"since ({moved}); resume does not commit over them")
        return "interrupted", again


# ---------------------------------------------------------------- helpers


async def _call(hook: StepHook | None, point: str) -> None:
    if hook is None:
        return
    result = hook(point)
    if result is not None:
        await result


def _parse_tp(text: str) -> TopicPartition:
    topic, _, part = text.rpartition("/")
    return TopicPartition(topic, int(part))


def _skipped_marks(run: RunRecord) -> bool:
    return any(
        s.status == "skipped" for k, s in run.steps.items() if k in ("fence", "mark-source")
    )


def _refusal(plan: FailoverPlan, failed: Sequence[Precheck], *, forced: bool) -> str:
    lines = [f"{plan.direction} of pair {plan.pair!r} ({plan.source} -> {plan.target}) refused; "
             "nothing was changed:"]
    lines += [f"  - {c.name}: {c.detail}" for c in failed]
    if forced:
        lines.append("run with --force to go ahead anyway (data within the failed checks may "
                     "be lost or re-read)")
    return "\n".join(lines)


def _group_checks(g: GroupPlan, rpo: float, source: str, target: str) -> list[Precheck]:
    out: list[Precheck] = []
    name = f"group {g.group}"
    if g.target_members or (g.action == "leave" and any(p.out_of_range for p in g.partitions)):
        out.append(Precheck(name, "fail", g.reason + "; --force leaves it as it is"))
    elif g.action == "leave":
        out.append(Precheck(name, "warn", g.reason))
    else:
        untranslated = [p for p in g.partitions if p.offset is None]
        if untranslated:
            first = untranslated[0]
            out.append(Precheck(
                name, "warn",
                f"{len(untranslated)} partitions cannot be translated (e.g. {first.topic}/"
                f"{first.partition}: {first.note}); no offset is committed for them, so its "
                "consumers start there from their auto.offset.reset"))
        if g.checkpoint_age_seconds is not None and g.checkpoint_age_seconds > rpo and any(
            p.method == "checkpoint" for p in g.partitions
        ):
            out.append(Precheck(
                name, "warn",
                f"newest checkpoint is {_fmt_age(g.checkpoint_age_seconds)} old: records the "
                "group consumed since will be read again"))
        if g.source_members:
            out.append(Precheck(
                name, "warn",
                f"{g.source_members} consumer{'' if g.source_members == 1 else 's'} still "
                f"active on {source!r}: stop them first, "
                f"or they keep committing there and will read again on {target!r}"))
        if not out:
            out.append(Precheck(
                name, "ok",
                f"{len(g.offsets)} partitions translated, about "
                f"{g.reprocess if g.reprocess is not None else '?'} records read again"))
    return out


def direction_for(view: ControlView, pair: DrPairConfig) -> Direction:
    """failover when the primary is active, failback when the secondary is."""
    return "failover" if view.active.cluster == pair.primary else "failback"


__all__ = [
    "FailoverPlan", "FailoverResult", "FailoverService", "GroupOutcome", "GroupPlan",
    "PartitionOffset", "PartitionPlan", "Precheck", "StepOutcome", "bound_offset", "decide_forward",
    "direction_for", "reprocess_estimate", "target_position", "ControlLog",
]
