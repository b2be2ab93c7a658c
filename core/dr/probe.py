"""Reading one replication flow once: `FlowSnapshot.take(flow, source, target)` reads MM2's
topics (core/dr/mm2_io.py), the replicated topics' end offsets and the timestamps of the
oldest records not yet replicated, and derives the status rows from them (core/dr/rpo.py).
DR status and the failover plan both read a flow through it.

All end offsets are true ones (`KafkaConnection.high_watermarks`: Tansu's ListOffsets is
short after batched produces). A side given as None did not answer: everything that
depends on it is unknown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafkaops.core.dr.control import ControlView
from kafkaops.core.dr.mm2_formats import Checkpoint, Heartbeat, OffsetSync
from kafkaops.core.dr.mm2_io import (
    latest_heartbeat,
    newest_heartbeat,
    read_checkpoints,
    read_offset_syncs,
)
from kafkaops.core.dr.mm2_offsets import OffsetSyncStore, group_matches, latest_checkpoints
from kafkaops.core.dr.model import (
    ClusterAnswer,
    DrStatus,
    Flow,
    GroupCheckpoints,
    HeartbeatInfo,
    PartitionReplication,
    RunSummary,
    TopicReplication,
    TopicState,
)
from kafkaops.core.dr.rpo import (
    age_seconds,
    lag_messages,
    lag_seconds,
    replication_position,
    rpo_estimate,
)
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.topicio import TopicRead, partitions_of, record_timestamps
from kafkaops.core.records import TopicPartition


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
            remote_hb, rinfo = await newest_heartbeat(target, fl.remote_heartbeats_topic)
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
                age_seconds=age_seconds(max(stamps), self.now_ms),
                oldest_partition_age_seconds=age_seconds(min(stamps), self.now_ms),
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
    return HeartbeatInfo(topic, hb.source, hb.target, hb.timestamp,
                         age_seconds(hb.timestamp, now_ms))
