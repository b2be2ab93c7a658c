"""Resuming an interrupted failover run.

`resume` continues a running run from its records, with the offsets frozen when it
started. A group left at `intent` is committed only if its target offsets are still the
ones recorded before the commit; if they already equal the plan the commit had landed, and
if they changed otherwise (its consumers started on the target) they are left alone. So no
offset is committed twice and no group is skipped.

Before anything else, resume closes the audit intents a run killed mid-step left open, with
what the run's records and the target's offsets show happened. For a finished run whose old
active cluster could not be marked then (it was down), resume marks it now.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ActiveRecord,
    ControlStore,
    ControlView,
    FenceRecord,
    GroupRecord,
    RunRecord,
    touch,
)
from kafkaops.core.dr.execute import RunContext, RunSteps, StepHook
from kafkaops.core.dr.outcome import FailoverResult
from kafkaops.core.errors import (
    KafkaOpsError,
    NotFound,
)
from kafkaops.core.kafka.groups import committed_offsets
from kafkaops.core.records import TopicPartition


class Resumer:
    """Finishes an interrupted run from its records, and closes the audit intents it left."""

    def __init__(self, services: Any, control: ControlStore, steps: RunSteps) -> None:
        self.services = services
        self.control = control
        self.steps = steps

    async def resume(
        self, p: DrPairConfig, *, actor: str, face: str, hook: StepHook | None,
    ) -> FailoverResult:
        """Finish the pair's unfinished run from its records; or, for a finished run whose
        old active cluster could not be marked then, mark it now. Before anything else, the
        audit intents an interrupted run left open are closed with what happened."""
        view = await self.control.read(p)
        running = view.running_run()
        if running is None:
            closed = await self._reconcile(p, view, None)
            latest = view.latest_run()
            if latest is not None and latest[0].state == "completed" and (
                view.stale_copies() or _skipped_marks(latest[0])
            ):
                run, log = latest
                ctx = RunContext(run, dict(log.groups.get(run.run_id, {})), actor, face, hook)
                async with self.control.session():
                    await self.mark_source(p, ctx)
                return await self.steps.result(p, ctx)
            if latest is not None and any(rid == latest[0].run_id for rid, _ in closed):
                # its last step had landed: only the audit trail was behind, now reconciled
                run, log = latest
                return await self.steps.result(
                    p, RunContext(run, dict(log.groups.get(run.run_id, {})), actor, face, hook))
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
            # read the target's copy again: still down, and the shared error mapping
            # (core/kafka/errors.py) raises ClusterUnreachable naming it; back, and the run is
            # resumed from a view that holds the target's copy
            await self.control.read_cluster(run.target, p.name)
            return await self.resume(p, actor=actor, face=face, hook=hook)
        self.services.require_writable(run.target, f"resume the {run.direction} onto it")
        ctx = RunContext(run, dict(log.groups.get(run.run_id, {})), actor, face, hook)
        missing = [g for g in run.groups if g not in ctx.groups]
        if missing:
            raise KafkaOpsError(
                f"run {run.run_id} lists groups with no recorded plan ({missing[:3]}): its "
                "control records are damaged; nothing was changed")
        await self._reconcile(p, view, ctx)
        async with self.control.session():
            return await self.steps.continue_run(p, ctx)

    async def mark_source(self, p: DrPairConfig, ctx: RunContext) -> None:
        """For a finished run: write the fence and active records to the old cluster now."""
        run = ctx.run
        fence = FenceRecord(p.name, run.source, run.new_epoch, ctx.actor, time.time(), run.run_id)
        active = ActiveRecord(p.name, run.target, run.new_epoch, ctx.actor, time.time(),
                              run.run_id, run.direction)
        step = await self.steps.write_source(ctx, "mark-source", [fence, active], skip=False)
        ctx.run = touch(run, steps={**run.steps, "fence": step, "mark-source": step})
        await self.control.write(run.target, [ctx.run])

    async def _reconcile(
        self, p: DrPairConfig, view: ControlView, ctx: RunContext | None,
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


def _parse_tp(text: str) -> TopicPartition:
    topic, _, part = text.rpartition("/")
    return TopicPartition(topic, int(part))


def _skipped_marks(run: RunRecord) -> bool:
    return any(
        s.status == "skipped" for k, s in run.steps.items() if k in ("fence", "mark-source")
    )


