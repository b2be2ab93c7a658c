"""Making a failover's plan: reads both clusters (MM2's topics through core/dr/probe.py, the
groups' committed offsets, the target's log bounds) and the control topic's view, and
applies the rules of core/dr/plan.py to them. Changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ActiveRecord,
    ControlView,
    Direction,
)
from kafkaops.core.dr.mm2_formats import Checkpoint, OffsetSync
from kafkaops.core.dr.mm2_io import read_offset_syncs
from kafkaops.core.dr.mm2_offsets import (
    group_matches,
    remote_consumer_offsets,
    translate_upstream,
)
from kafkaops.core.dr.model import Flow, flow
from kafkaops.core.dr.plan import (
    FailoverPlan,
    GroupPlan,
    PartitionPlan,
    Precheck,
    bound_offset,
    decide_forward,
    group_checks,
    reprocess_estimate,
    runbook,
    target_position,
)
from kafkaops.core.dr.probe import FlowSnapshot
from kafkaops.core.dr.rpo import age_seconds
from kafkaops.core.dr.rpo import fmt_age as _fmt_age
from kafkaops.core.errors import (
    ClusterUnreachable,
    UsageError,
)
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.kafka.groups import committed_offsets, group_members
from kafkaops.core.kafka.topicio import partitions_of
from kafkaops.core.records import TopicPartition


class Planner:
    """Reads both clusters and the control topic's view into a `FailoverPlan`. Changes nothing."""

    def __init__(self, services: Any, connect: Any = None) -> None:
        self.services = services
        #: `async (cluster name) -> KafkaConnection`: Services.connection, or one that
        #: refuses a cluster found not answering (failover.py PairReach)
        self.connect = connect or services.connection

    async def _connect(self, cluster: str) -> tuple[KafkaConnection | None, str | None]:
        try:
            return await self.connect(cluster), None
        except ClusterUnreachable as e:
            return None, str(e)

    async def plan(
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
            return _finish(p, direction, fwd, active, checks, (), None, None, now_ms)

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
            checks.extend(group_checks(g, rpo, source, target))
        return _finish(p, direction, fwd, active, checks, tuple(groups), hb_age, lag, now_ms)

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



def _finish(
    p: DrPairConfig, direction: Direction, fwd: Flow, active: ActiveRecord,
    checks: list[Precheck], groups: tuple[GroupPlan, ...], hb_age: float | None,
    lag: float | None, now_ms: int,
) -> FailoverPlan:
    source, target = fwd.source, fwd.target
    steps = runbook(source, target, active.epoch, groups)
    return FailoverPlan(
        pair=p.name, direction=direction, source=source, target=target,
        source_alias=fwd.source_alias, target_alias=fwd.target_alias,
        active=active.cluster, epoch=active.epoch, new_epoch=active.epoch + 1,
        rpo_seconds=float(p.rpo), heartbeat_age_seconds=hb_age,
        replication_lag_seconds=lag, prechecks=tuple(checks), groups=groups,
        steps=steps, generated_at=now_ms / 1000.0,
    )

