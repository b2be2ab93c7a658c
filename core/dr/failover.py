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

import asyncio
from typing import TYPE_CHECKING, Any

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ControlStore,
    Direction,
)
from kafkaops.core.dr.execute import RunContext, RunSteps, StepHook
from kafkaops.core.dr.outcome import FailoverResult
from kafkaops.core.dr.plan import FailoverPlan, refusal
from kafkaops.core.dr.planner import Planner
from kafkaops.core.dr.resign import Resigner, ResignPlan
from kafkaops.core.dr.resume import Resumer
from kafkaops.core.dr.status import DrService
from kafkaops.core.errors import (
    ClusterUnreachable,
    Conflict,
    Refused,
)
from kafkaops.core.kafka.errors import no_answer
from kafkaops.core.kafka.reach import PROBE_TIMEOUT, connect

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection


class PairReach:
    """Which clusters of a pair answer, found at the start of each plan, execute and resume.

    The outage a failover is for is often a hung primary, not a dead one: its broker keeps
    the TCP connections open and never answers, so each request to it waits for the
    client's request timeout, and the first such wait failed the whole plan with the hung
    cluster's error. So each operation first sends every cluster of the pair one small
    request; one that does not answer within PROBE_TIMEOUT seconds is unreachable for the
    rest of that operation, read and written as a cluster that is down (the plan warns, the
    fence and the mark are skipped and said so, `resume` marks it later). The next
    operation asks again."""

    def __init__(self, services: Any, within: float = PROBE_TIMEOUT) -> None:
        self.services = services
        self.within = within
        self._down: dict[str, ClusterUnreachable] = {}

    async def check(self, p: DrPairConfig) -> None:
        async def one(name: str) -> None:
            try:
                conn = await connect(self.services, name, self.within)
                async with asyncio.timeout(self.within):
                    await conn.ping()
            except TimeoutError:
                cfg = self.services.cluster_config(name)
                self._down[name] = no_answer(name, cfg.bootstrap_servers, self.within)
                await self.services.drop(name)  # the next operation connects afresh
            except ClusterUnreachable as e:
                self._down[name] = e

        self._down = {}
        await asyncio.gather(*(one(n) for n in dict.fromkeys((p.primary, p.secondary))))

    def down(self, cluster: str) -> ClusterUnreachable | None:
        """Why `cluster` is taken as unreachable in this operation; None if it answered."""
        return self._down.get(cluster)

    async def connection(self, cluster: str) -> KafkaConnection:
        """Services.connection, except for a cluster that did not answer the check."""
        why = self._down.get(cluster)
        if why is not None:
            raise why
        conn: KafkaConnection = await self.services.connection(cluster)
        return conn


class FailoverService:
    """Plans, executes, resumes and reports failovers and failbacks of DR pairs."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.dr = DrService(services)
        self.reach = PairReach(services)
        self.control = ControlStore.for_config(self.reach.connection, services.config)
        self.planner = Planner(services, connect=self.reach.connection)
        self.steps = RunSteps(services, self.control, down=self.reach.down)
        self.resumer = Resumer(services, self.control, self.steps)
        self.resigner = Resigner(services, self.control)

    async def _reached(self, pair: str | DrPairConfig | None) -> DrPairConfig:
        """The pair, once each of its clusters was asked whether it answers (PairReach)."""
        p = pair if isinstance(pair, DrPairConfig) else self.dr.pair(pair)
        await self.reach.check(p)
        return p

    async def plan(
        self, pair: str | DrPairConfig | None = None, *, direction: Direction = "failover"
    ) -> FailoverPlan:
        """The plan and its pre-checks. Changes nothing."""
        p = await self._reached(pair)
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

        p = await self._reached(pair)
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

        p = await self._reached(pair)
        return await self.resumer.resume(p, actor=actor or local_actor(), face=face, hook=hook)

    async def plan_resign(self, pair: str | DrPairConfig | None = None) -> ResignPlan:
        """What `dr resign` would write again, signed (core/dr/resign.py). Changes nothing."""
        p = await self._reached(pair)
        return await self.resigner.plan(p)

    async def resign(self, pair: str | DrPairConfig | None = None, *, plan: ResignPlan,
                     actor: str | None = None, face: str = "cli") -> ResignPlan:
        """Write the newest unsigned active record again, signed, as `plan` showed it
        (Conflict, changing nothing, if it changed); returns the plan made afterwards."""
        from kafkaops.core.audit.log import local_actor

        p = await self._reached(pair)
        return await self.resigner.apply(p, plan, actor=actor or local_actor(), face=face)

    async def status(self, pair: str | DrPairConfig | None = None) -> FailoverResult | None:
        """The newest run of the pair (None: never failed over)."""
        p = await self._reached(pair)
        view = await self.control.read(p)
        latest = view.latest_run()
        if latest is None:
            return None
        run, log = latest
        ctx = RunContext(run, dict(log.groups.get(run.run_id, {})), "", "cli", None)
        return self.steps.result_from(ctx, view)

