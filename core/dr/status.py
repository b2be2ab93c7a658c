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

Where replication stands is read from MM2's own topics (core/dr/probe.py): the newest offset
sync says source offset u is target offset d, so with the target's true end T the
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
from typing import Any

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import ControlLog, ControlStore, ControlView, RunRecord, view_of
from kafkaops.core.dr.model import ClusterAnswer, DrSignals, DrStatus, RunSummary, find_pair, flow
from kafkaops.core.dr.probe import FlowSnapshot
from kafkaops.core.dr.rpo import signals
from kafkaops.core.errors import ClusterUnreachable
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.reach import PROBE_TIMEOUT, answering, connect, last_answers

# ---------------------------------------------------------------- the service


class DrService:
    """DR status for the faces and the alert rules. One per Services."""

    def __init__(self, services: Any, *, timeout: float = PROBE_TIMEOUT) -> None:
        self.services = services
        self.control = ControlStore.for_config(services.connection, services.config)
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
        return view_of(p, names, list(results))

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
        for name, clog in control.logs.items():
            if clog.ignored:
                offsets = ", ".join(str(o) for o, _, _ in clog.ignored[:5])
                more = "" if len(clog.ignored) <= 5 else f" and {len(clog.ignored) - 5} more"
                problems.append(
                    f"{len(clog.ignored)} record(s) of _kafkaops.control on {name!r} ignored: "
                    f"signature missing or wrong (offsets {offsets}{more}); not applied; "
                    "if they were written before signing was on, `kafkaops dr resign` shows "
                    "them and writes them again, signed"
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


