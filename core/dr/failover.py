"""Failover and failback of a DR pair: a plan that shows everything first, then steps that
are recorded as they go, so a run killed at any point is finished by `resume`.

    svc = FailoverService(services)
    plan = await svc.plan("main")                       # pre-checks + per-group translation
    result = await svc.execute("main", force=False)     # refuses (changing nothing) on a
                                                        # failed pre-check unless force
    result = await svc.resume("main")                   # after a crash, from where it stopped
    await svc.status("main")                            # the newest run and its progress
    await svc.plan("main", direction="failback")        # the same, back to the primary

The pieces (each its own module in core/dr/):
- plan.py: the plan (`FailoverPlan` with its pre-checks, per-group and per-partition
  translation, fingerprint and `describe()`) and the pure rules that translate offsets;
- planner.py: reads the clusters into a plan;
- execute.py: starts a run and takes its steps, each recorded in `_kafkaops.control` and
  audited; outcome.py: what a run did (`FailoverResult`);
- resume.py: finishes an interrupted run from its records.
This module is the service the faces call: it checks that what runs is what was shown
(the plan's fingerprint) and that no pre-check refuses, then hands over to the run.
"""


from __future__ import annotations

from typing import Any

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ControlStore,
    Direction,
)
from kafkaops.core.dr.execute import RunContext, RunSteps, StepHook
from kafkaops.core.dr.outcome import FailoverResult
from kafkaops.core.dr.plan import FailoverPlan, refusal
from kafkaops.core.dr.planner import Planner
from kafkaops.core.dr.resume import Resumer
from kafkaops.core.dr.status import DrService
from kafkaops.core.errors import (
    Conflict,
    Refused,
)


class FailoverService:
    """Plans, executes, resumes and reports failovers and failbacks of DR pairs."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.dr = DrService(services)
        self.control = ControlStore.for_config(services.connection, services.config)
        self.planner = Planner(services)
        self.steps = RunSteps(services, self.control)
        self.resumer = Resumer(services, self.control, self.steps)

    async def plan(
        self, pair: str | DrPairConfig | None = None, *, direction: Direction = "failover"
    ) -> FailoverPlan:
        """The plan and its pre-checks. Changes nothing."""
        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        view = await self.control.read(p)
        return await self.planner.plan(p, view, direction)

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
        fresh = await self.planner.plan(p, view, direction)
        shown = fingerprint or (plan.fingerprint if plan is not None else None)
        if shown is not None and shown != fresh.fingerprint:
            raise Conflict(
                "the plan changed since it was shown (a group to move or leave, a partition "
                "that can be translated, the active epoch or a failed check is different): "
                "look at the new plan and confirm again; nothing was changed")
        plan = fresh
        hard = [c for c in plan.failed if not c.overridable]
        if hard:
            raise Refused(refusal(plan, hard, forced=False))
        if plan.failed and not force:
            raise Refused(refusal(plan, plan.failed, forced=True))
        self.services.require_writable(plan.target, f"{direction} onto it")
        return await self.steps.start(p, plan, direction=direction, force=force, actor=actor,
                                      face=face, hook=hook)

    async def resume(
        self, pair: str | DrPairConfig | None = None, *, actor: str | None = None,
        face: str = "cli", hook: StepHook | None = None,
    ) -> FailoverResult:
        """Finish the pair's unfinished run from its records; or, for a finished run whose
        old active cluster could not be marked then, mark it now."""
        from kafkaops.core.audit.log import local_actor

        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        return await self.resumer.resume(p, actor=actor or local_actor(), face=face, hook=hook)

    async def status(self, pair: str | DrPairConfig | None = None) -> FailoverResult | None:
        """The newest run of the pair (None: never failed over)."""
        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        view = await self.control.read(p)
        latest = view.latest_run()
        if latest is None:
            return None
        run, log = latest
        ctx = RunContext(run, dict(log.groups.get(run.run_id, {})), "", "cli", None)
        return self.steps.result_from(ctx, view)

