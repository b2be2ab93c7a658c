"""Moving a consumer group: offset reset, one path for every face (CLI, console, Slack).

Always two steps. `plan()` reads the group, its committed offsets and the partitions' true
log bounds, and says per partition what the committed offset is now, what it will be, and
exactly how many records that skips or replays, clamped to the log and saying where.
`apply()` checks again that nothing moved under the plan (the group is still empty, the
committed offsets are still the ones planned from, the targets are still inside the log),
commits the planned offsets, reads them back from the group coordinator and reports whether
they match, and writes the plan and the outcome to the audit trail.

A reset is refused while the group has members: a running consumer would overwrite the
new offsets with its own next commit, or keep reading from its in-memory position.

    svc = OffsetResetService(services)
    plan = await svc.plan(ResetRequest("billing", "orders", parse_target("time", "1h")))
    result = await svc.apply(plan, actor="alice", face="cli")
    assert result.verified
"""


from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from kafkaops.core.errors import KafkaOpsError, NotFound, UsageError
from kafkaops.core.kafka.groups import committed_offsets, find_coordinator
from kafkaops.core.offsets.groups import (
    commit_offsets,
    describe_group,
    group_listed,
    offsets_for_time,
    topic_partitions,
)
from kafkaops.core.offsets.model import (
    ACTION,
    CommittedCheck,
    GroupActive,
    ResetPlan,
    ResetRequest,
    ResetResult,
)
from kafkaops.core.offsets.rules import (
    active_members_message,
    audit_detail,
    audit_params,
    build_plan,
    check_still_valid,
    writable_action,
)
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.services import Services

class OffsetResetService:
    """Plans and applies offset resets on one cluster (the services' current one by default).

    Plain reads and one commit through the cluster's shared connection; nothing to start.
    """

    def __init__(self, services: Services, cluster: str | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name

    async def plan(self, request: ResetRequest) -> ResetPlan:
        """Read everything the reset depends on and say what it would do. Changes nothing.

        Raises NotFound (topic or group unknown), UsageError (no such partition) and
        GroupActive (the group has members).
        """
        conn = await self.services.connection(self.cluster)
        parts = await topic_partitions(conn, request.topic, request.partitions)
        tps = [TopicPartition(request.topic, p) for p in parts]
        coordinator = await find_coordinator(conn, request.group)
        (state, members), listed, committed, bounds = await asyncio.gather(
            describe_group(conn, request.group, coordinator),
            group_listed(conn, request.group, coordinator),
            committed_offsets(conn, request.group, tps, coordinator),
            conn.high_watermarks(tps),
        )
        if members:
            raise GroupActive(active_members_message(request.group, members), members)
        if not listed and all(v is None for v in committed.values()) and not members:
            raise NotFound(
                f"consumer group {request.group!r} not found on cluster {self.cluster!r}: it "
                f"has no members and no committed offsets on topic {request.topic!r}. Check "
                "the name (group ids are case-sensitive). Nothing was changed."
            )
        missing = [tp.partition for tp in tps if tp not in bounds]
        if missing:
            raise KafkaOpsError(
                f"cannot read the log bounds of {request.topic!r} partition(s) "
                f"{', '.join(map(str, missing))} (no leader?): not planning a reset"
            )
        at_time = None
        if request.target.mode == "time":
            assert request.target.value is not None
            at_time = await offsets_for_time(conn, request.topic, parts, request.target.value)
        return build_plan(
            cluster=self.cluster,
            group=request.group,
            topic=request.topic,
            target=request.target,
            group_state=state,
            committed={tp.partition: off for tp, off in committed.items()},
            bounds={tp.partition: b for tp, b in bounds.items()},
            at_time=at_time,
            read_only=self.services.cluster_config(self.cluster).read_only,
        )

    async def apply(self, plan: ResetPlan, *, actor: str, face: str) -> ResetResult:
        """Commit the plan's offsets, read them back, and audit the plan with the outcome.

        Refuses, changing nothing: on a read-only cluster (Refused, nothing written
        anywhere), when the group has members (GroupActive), and when the committed offsets
        or the log moved under the plan (Conflict: make a new plan). `actor` is who asked
        (user@host, or the Slack user); `face` is cli, console or slack.
        """
        from kafkaops.core.audit.log import record_change

        if plan.cluster != self.cluster:
            raise UsageError(
                f"plan is for cluster {plan.cluster!r}, this service works on {self.cluster!r}"
            )
        self.services.require_writable(self.cluster, writable_action(plan.group))

        async def change() -> ResetResult:
            return await self._apply(plan)

        result: ResetResult = await record_change(
            self.services,
            actor=actor,
            face=face,
            action=ACTION,
            target=plan.group,
            params=audit_params(plan),
            apply=change,
            cluster=self.cluster,
            summarize=audit_detail,
        )
        return result

    async def _apply(self, plan: ResetPlan) -> ResetResult:
        conn = await self.services.connection(self.cluster)
        tps = [TopicPartition(plan.topic, p.partition) for p in plan.partitions]
        coordinator = await find_coordinator(conn, plan.group)
        (_, members), committed, bounds = await asyncio.gather(
            describe_group(conn, plan.group, coordinator),
            committed_offsets(conn, plan.group, tps, coordinator),
            conn.high_watermarks(tps),
        )
        if members:
            raise GroupActive(active_members_message(plan.group, members), members)
        check_still_valid(plan, committed, bounds)

        todo = {
            TopicPartition(plan.topic, p.partition): p.new
            for p in plan.changing
            if p.new is not None
        }
        if todo:
            await commit_offsets(conn, plan.group, todo, coordinator)
        applied_at = time.time()
        after = await committed_offsets(conn, plan.group, tps, coordinator)
        checks = tuple(
            CommittedCheck(
                p.partition,
                p.new if p.new is not None else p.current,
                after.get(TopicPartition(plan.topic, p.partition)),
            )
            for p in plan.partitions
        )
        return ResetResult(plan, checks, all(c.ok for c in checks), applied_at)


