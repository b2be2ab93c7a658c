"""Consumer groups: describe one (members with client id, host and assignment, committed
offsets and lag), and delete an empty one. Plan, then apply, as every admin change.

A group is read through the lag engine (core/lag/service.py: DescribeGroups v5 with the member
assignment decoded, committed offsets, true log ends), so `group describe` and `lag` never
disagree. What the broker leaves out is said plainly: Tansu reports members with their id
only (client id, host and assignment empty), shown as "not reported".

A group with members is never deleted: its consumers would keep running with no committed
offsets to return to. Apache Kafka refuses that itself (NON_EMPTY_GROUP), but Tansu 0.6
deletes a group with active members and breaks their coordinator (measured), so the
members are checked here first, and again right before the delete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.admin import wire
from kafkaops.core.admin.plans import (
    GROUP_DELETE,
    AdminPlan,
    AdminResult,
    Change,
    audit_detail,
    refusal_words,
)
from kafkaops.core.errors import Conflict, NotFound, Refused, UsageError
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.lag.model import GroupLag, GroupMember, PartitionLag

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.services import Services

NOT_REPORTED = "not reported"


@dataclass(frozen=True)
class GroupDescription:
    """One consumer group as `group describe` shows it."""

    cluster: str
    """Cluster name."""
    group: str
    """Group id."""
    state: str
    """State as the coordinator reports it (Stable, Empty, ...)."""
    members: tuple[GroupMember, ...]
    """Members; client id, host and assignment are None where the broker did not report
    them."""
    partitions: tuple[PartitionLag, ...]
    """Every partition the group committed or is assigned, with committed offset, log end
    and lag."""
    error: str | None = None
    """Why part of the group could not be read this time."""

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({p.topic for p in self.partitions}))

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster, "group": self.group, "state": self.state,
            "members": [member_json(m) for m in self.members],
            "partitions": [{"topic": p.topic, "partition": p.partition,
                            "committed": p.committed, "end": p.end, "lag": p.lag,
                            "member": p.member} for p in self.partitions],
            "error": self.error,
        }


def member_json(m: GroupMember) -> dict[str, Any]:
    """A member for --json: null where the broker did not report a field."""
    return {"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host,
            "assignment": None if m.assignment is None else
            [{"topic": tp.topic, "partition": tp.partition} for tp in m.assignment]}


def member_words(m: GroupMember) -> str:
    """"consumer-1-ab12 (client id billing, host 10.0.0.7)", saying what is not reported."""
    client = f"client id {m.client_id}" if m.client_id else f"client id {NOT_REPORTED}"
    host = f"host {m.client_host.lstrip('/')}" if m.client_host else f"host {NOT_REPORTED}"
    return f"{m.member_id} ({client}, {host})"


def assignment_words(m: GroupMember) -> str:
    if m.assignment is None:
        return NOT_REPORTED
    if not m.assignment:
        return "none"
    by_topic: dict[str, list[int]] = {}
    for tp in m.assignment:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return "; ".join(f"{t} [{', '.join(map(str, sorted(ps)))}]"
                     for t, ps in sorted(by_topic.items()))


class GroupNotEmpty(Refused):
    """The group has members: it is not deleted. Nothing was changed."""

    def __init__(self, group: str, members: Sequence[GroupMember], cluster: str) -> None:
        n = len(members)
        shown = "; ".join(member_words(m) for m in members[:10])
        more = f"; and {n - 10} more" if n > 10 else ""
        super().__init__(
            f"group {group!r} has {n} active member{'s' if n != 1 else ''}: {shown}{more}. "
            "Only an empty group can be deleted: stop its consumers and try again (a "
            "consumer that stopped stays a member until its session times out). Nothing "
            "was changed.")
        self.members = tuple(members)
        self.cluster = cluster  # a face records the refusal (core.audit.trails.note_refusal)


def _describe(cluster: str, g: GroupLag) -> GroupDescription:
    return GroupDescription(cluster, g.group, g.state, g.members or (), g.partitions, g.error)


class GroupAdmin:
    """Consumer groups on one cluster (the services' current one by default)."""

    def __init__(self, services: Services, cluster: str | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name

    async def describe(self, group: str) -> GroupDescription:
        """The group now. NotFound when it has no members and no committed offsets."""
        if not group.strip():
            raise UsageError("consumer group id is empty")
        lag = await self.services.lag(self.cluster)
        snap = await lag.snapshot([group], missing_ok=False, time_lag=False)
        found = snap.group(group)
        if found is None:  # pragma: no cover - missing_ok=False raised already
            raise NotFound(f"consumer group {group!r} not found on cluster {self.cluster!r}")
        return _describe(self.cluster, found)

    async def plan_delete(self, group: str) -> AdminPlan:
        d = await self.describe(group)
        if d.members:
            raise GroupNotEmpty(group, d.members, self.cluster)
        committed = [p for p in d.partitions if p.committed is not None]
        topics = sorted({p.topic for p in committed})
        offsets = (f"committed offsets on {len(committed)} partition"
                   f"{'' if len(committed) == 1 else 's'} of {', '.join(topics)}"
                   if committed else "no committed offsets")
        return AdminPlan(
            action=GROUP_DELETE, cluster=self.cluster, target=group,
            title=f"Delete consumer group {group!r} on cluster {self.cluster!r}",
            state=(f"state {d.state}, no members", offsets),
            changes=(Change("group", f"{d.state}, {offsets}", "deleted"),),
            params={"group": group, "state": d.state, "partitions": len(committed),
                    "topics": topics},
            warnings=("a consumer that joins with this group id later starts where its "
                      "auto.offset.reset says (earliest or latest), not where this group "
                      "had got to",),
            read_only=self.services.cluster_config(self.cluster).read_only)

    async def apply(self, plan: AdminPlan, *, actor: str, face: str,
                    reason: str | None = None) -> AdminResult:
        from kafkaops.core.audit.log import record_change

        if plan.cluster != self.cluster:
            raise UsageError(f"plan is for cluster {plan.cluster!r}, not {self.cluster!r}")
        if plan.action != GROUP_DELETE:
            raise UsageError(f"not a group change: {plan.action!r}")
        self.services.require_writable(self.cluster, refusal_words(plan.action, plan.target))
        try:
            result: AdminResult = await record_change(
                self.services, actor=actor, face=face, action=plan.action,
                target=plan.target, params=dict(plan.params),
                apply=lambda: self._delete(plan), cluster=self.cluster,
                summarize=audit_detail, reason=reason)
        except Refused as e:
            e.audited = True  # record_change wrote it as refused
            raise
        return result

    async def _delete(self, plan: AdminPlan) -> AdminResult:
        group = plan.target
        try:
            d = await self.describe(group)
        except NotFound:
            raise Conflict(f"group {group!r} is gone since the plan (deleted by someone "
                           "else?). Nothing was changed.") from None
        if d.members:
            raise GroupNotEmpty(group, d.members, self.cluster)
        conn = await self.services.connection(self.cluster)
        node = await _coordinator(conn, group)
        try:
            await wire.delete_group(conn, node, group)
        except wire.AdminRequestFailed as e:
            if e.code == wire.NON_EMPTY_GROUP:
                raise GroupNotEmpty(group, await self._members(group), self.cluster) from None
            if e.code == wire.GROUP_NOT_FOUND:
                raise Conflict(f"group {group!r} is gone since the plan. Nothing was "
                               "changed.") from None
            raise
        deadline = time.monotonic() + 10
        listed = True
        while listed:  # Apache Kafka removes a group at once; allow for a slower broker
            listed = group in await wire.list_groups(conn, node)
            if not listed or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        return AdminResult(plan, not listed, (
            f"group {group!r} is still listed by its coordinator" if listed
            else f"group {group!r} is no longer listed by its coordinator",))

    async def _members(self, group: str) -> tuple[GroupMember, ...]:
        try:
            return (await self.describe(group)).members
        except NotFound:
            return ()


async def _coordinator(conn: KafkaConnection, group: str) -> int:
    with map_kafka_errors(conn):
        return int(await conn.client.coordinator_lookup(0, group))
