"""Running a failover: the steps of a run, each recorded as it goes.

Execution steps, each recorded in `_kafkaops.control` on the target (core/dr/control.py) and
audited through the one audit path (core/audit/log.py `record_change`: an intent before the
step, its outcome after; a run killed between the two leaves an intent that `resume`
closes with what the run's records and the target's offsets show happened):
  start -> fence (mark the old active cluster stood down, on both clusters when reachable)
  -> per group: intent (with the group's current target offsets) -> commit -> verify -> done
  -> activate (active record with the new epoch, on the target then the old cluster)
  -> complete.

`RunSteps.start` records a new run of a checked plan and takes its steps; `continue_run` takes
whatever steps a run has left (core/dr/resume.py calls it after an interruption).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from kafkaops.core.audit.model import AuditError
from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ActiveRecord,
    ControlStore,
    ControlView,
    Direction,
    FenceRecord,
    GroupRecord,
    RunRecord,
    StepRecord,
    touch,
)
from kafkaops.core.dr.outcome import FailoverResult, GroupOutcome, PartitionOffset, StepOutcome
from kafkaops.core.dr.plan import FailoverPlan
from kafkaops.core.errors import (
    ClusterUnreachable,
    Conflict,
    KafkaOpsError,
    Refused,
)
from kafkaops.core.kafka.groups import commit_offsets, committed_offsets, group_members
from kafkaops.core.records import TopicPartition

T = TypeVar("T")
#: hook(point) is awaited after each recorded step; tests raise from it to simulate a crash
StepHook = Callable[[str], Awaitable[None] | None]


@dataclass
class RunContext:
    """A run in progress: its record, its groups' records, who runs it and the test hook."""

    run: RunRecord
    groups: dict[str, GroupRecord]
    actor: str
    face: str
    hook: StepHook | None



class RunSteps:
    """Starts a run and takes its steps, each recorded in the control topic and audited."""

    def __init__(self, services: Any, control: ControlStore,
                 down: Callable[[str], ClusterUnreachable | None] | None = None) -> None:
        self.services = services
        self.control = control
        #: why a cluster is taken as unreachable in this operation (failover.py PairReach)
        self.down = down or (lambda cluster: None)

    async def start(
        self, p: DrPairConfig, plan: FailoverPlan, *, direction: Direction, force: bool,
        actor: str, face: str, hook: StepHook | None,
    ) -> FailoverResult:
        """Record a new run of `plan` (checked and confirmed by the caller) and take its
        steps; Conflict, changing nothing, when another run started first from this epoch."""
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
        ctx = RunContext(run, group_recs, actor, face, hook)

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
        self, p: DrPairConfig, ctx: RunContext, plan: FailoverPlan,
        group_recs: Mapping[str, GroupRecord], start: Callable[[], Awaitable[Any]], force: bool,
    ) -> FailoverResult:
        await self.audited(ctx, "start", p.name, {
            "source": plan.source, "target": plan.target, "new_epoch": plan.new_epoch,
            "force": force, "failed_prechecks": [c.name for c in plan.failed],
            "groups": {g.group: {f"{tp.topic}/{tp.partition}": o for tp, o in g.offsets.items()}
                       for g in plan.groups if g.action == "move"},
        }, start)
        await call_hook(ctx.hook, "start")
        return await self.continue_run(p, ctx)

    # ------------------------------------------------------------ the steps

    async def continue_run(self, p: DrPairConfig, ctx: RunContext) -> FailoverResult:
        if "fence" not in ctx.run.steps:
            await self._fence(p, ctx)
            await call_hook(ctx.hook, "fence")
        for group in ctx.run.groups:
            rec = ctx.groups[group]
            if rec.status in ("done", "left"):
                continue
            await self._move_group(ctx, rec)
        if "activate" not in ctx.run.steps:
            await self._activate(p, ctx)
            await call_hook(ctx.hook, "activate")
        if ctx.run.state == "running":
            async def complete() -> dict[str, Any]:
                ctx.run = touch(ctx.run, state="completed")
                await self.control.write(ctx.run.target, [ctx.run])
                return {"groups": {g: r.status for g, r in ctx.groups.items()}}

            await self.audited(ctx, "complete", p.name, {"run_id": ctx.run.run_id}, complete)
            await call_hook(ctx.hook, "complete")
        return await self.result(p, ctx)

    async def _fence(self, p: DrPairConfig, ctx: RunContext) -> None:
        run = ctx.run
        fence = FenceRecord(p.name, run.source, run.new_epoch, ctx.actor, time.time(), run.run_id)
        # the target's copy first: it must be reachable, and it is what resume reads
        await self.audited(ctx, "fence", run.source, {"epoch": run.new_epoch, "on": run.target},
                            lambda: self.control.write(run.target, [fence]))
        step = await self.write_source(ctx, "fence", [fence])
        ctx.run = touch(run, steps={**run.steps, "fence": step})
        await self.control.write(run.target, [ctx.run])

    async def write_source(
        self, ctx: RunContext, name: str, records: list[Any], *, skip: bool = True
    ) -> StepRecord:
        """Write control records to the old active cluster; skipped (and said why) when it
        is unreachable or read-only. With `skip` False those raise instead: Refused for a
        read-only cluster, the ClusterUnreachable of the shared error mapping
        (core/kafka/errors.py) for one that does not answer."""
        run = ctx.run
        if self.services.cluster_config(run.source).read_only:
            if not skip:
                self.services.require_writable(run.source, f"{name}: mark it stood down")
            return StepRecord("skipped", f"{run.source!r} is read-only in config: not marked",
                              time.time())
        why = self.down(run.source)
        if why is not None:  # found not answering: no audit intent or write that would hang
            if not skip:
                raise why
            return StepRecord(
                "skipped",
                f"{run.source!r} not marked ({why}); `kafkaops failover resume` marks it once "
                "it is reachable", time.time())
        try:
            await self.audited(ctx, name, run.source, {"epoch": run.new_epoch, "on": run.source},
                               lambda: self.control.write(run.source, records),
                               cluster=run.source)
        except AuditError:
            raise
        except KafkaOpsError as e:
            if not skip or isinstance(e, Refused) or not (
                    isinstance(e, ClusterUnreachable) or e.retriable):
                raise
            return StepRecord(
                "skipped",
                f"{run.source!r} not marked ({e}); `kafkaops failover resume` marks it once "
                "it is reachable", time.time())
        return StepRecord("done", f"marked on {run.target!r} and {run.source!r}", time.time())

    async def _move_group(self, ctx: RunContext, rec: GroupRecord) -> None:
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
            await call_hook(ctx.hook, f"intent:{rec.group}")
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
                await call_hook(ctx.hook, f"group:{rec.group}")
                return
            to_commit = {tp: planned[tp] for tp in tps if current.get(tp) != planned[tp]}
            detail = ("committed on resume" if to_commit
                      else "the commit had landed before the interruption")
        if to_commit:
            await self.audited(
                ctx, "commit-offsets", rec.group,
                {"cluster": run.target,
                 "offsets": {f"{tp.topic}/{tp.partition}": o for tp, o in to_commit.items()},
                 "before": {f"{tp.topic}/{tp.partition}": current.get(tp) for tp in to_commit}},
                lambda: commit_offsets(conn, rec.group, to_commit),
            )
            await call_hook(ctx.hook, f"committed:{rec.group}")
        back = await committed_offsets(conn, rec.group, tps)
        wrong = {tp: back.get(tp) for tp in tps if back.get(tp) != planned[tp]}
        if wrong:
            raise KafkaOpsError(
                f"group {rec.group!r}: offsets read back from {run.target!r} differ from the "
                f"plan at {', '.join(f'{tp.topic}/{tp.partition}={o}' for tp, o in wrong.items())}"
                "; the run stays unfinished: check the group, then `kafkaops failover resume`")
        await self._set_group(ctx, replace(rec, status="done", at=time.time(), detail=detail))
        await call_hook(ctx.hook, f"group:{rec.group}")

    async def _set_group(self, ctx: RunContext, rec: GroupRecord) -> None:
        await self.control.write(ctx.run.target, [rec])
        ctx.groups[rec.group] = rec

    async def _activate(self, p: DrPairConfig, ctx: RunContext) -> None:
        run = ctx.run
        active = ActiveRecord(p.name, run.target, run.new_epoch, ctx.actor, time.time(),
                              run.run_id, run.direction)
        await self.audited(ctx, "activate", run.target,
                            {"epoch": run.new_epoch, "on": run.target},
                            lambda: self.control.write(run.target, [active]))
        step = await self.write_source(ctx, "mark-source", [active])
        ctx.run = touch(ctx.run, steps={**ctx.run.steps, "activate": StepRecord(
            "done", f"{run.target!r} active at epoch {run.new_epoch}", time.time()),
            "mark-source": step})
        await self.control.write(run.target, [ctx.run])

    async def result(self, p: DrPairConfig, ctx: RunContext) -> FailoverResult:
        view = await self.control.read(p)
        return self.result_from(ctx, view)

    def result_from(self, ctx: RunContext, view: ControlView) -> FailoverResult:
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

    async def audited(
        self, ctx: RunContext, step: str, target: str, params: Mapping[str, Any],
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
            await call_hook(ctx.hook, f"before:{where}")
            value = await apply()
            await call_hook(ctx.hook, f"after:{where}")
            return value

        return await record_change(
            self.services, actor=ctx.actor, face=ctx.face,
            action=f"dr.{run.direction}.{step}", target=target,
            params={"pair": run.pair, "run_id": run.run_id, **params}, apply=applied,
            cluster=cluster or run.target, audit_cluster=run.target,
        )



async def call_hook(hook: StepHook | None, point: str) -> None:
    if hook is None:
        return
    result = hook(point)
    if result is not None:
        await result


