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
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.errors import Conflict, KafkaOpsError, NotFound, Refused, UsageError
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.services import Services

ResetMode = Literal["earliest", "latest", "time", "offset", "shift"]
MODES: tuple[ResetMode, ...] = ("earliest", "latest", "time", "offset", "shift")

_RELATIVE = re.compile(r"^\d+(?:\.\d+)?\s*(ms|s|m|h|d|w)$")

#: the action name audit records and Slack permissions use
ACTION = "offsets.reset"

# Kafka error codes OffsetCommit answers when the group is not empty (or is rebalancing)
_GROUP_BUSY = {
    22: "ILLEGAL_GENERATION",
    25: "UNKNOWN_MEMBER_ID",
    27: "REBALANCE_IN_PROGRESS",
}
_ERROR_NAMES = {
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    16: "NOT_COORDINATOR",
    24: "INVALID_GROUP_ID",
    29: "TOPIC_AUTHORIZATION_FAILED",
    30: "GROUP_AUTHORIZATION_FAILED",
    **_GROUP_BUSY,
}


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class ResetTarget:
    """Where to move the group, as the person asked."""

    mode: ResetMode
    """earliest (log start), latest (log end), time, offset, shift."""
    value: int | None = None
    """time: epoch milliseconds; offset: the offset (>= 0); shift: +N forward, -N back."""
    text: str = ""
    """The value as typed ("1h", "2026-11-25T02:00Z", "-10"), for messages and audit."""

    def describe(self) -> str:
        """Words for the plan's heading: "to the earliest offset", "shifted by -10", ..."""
        if self.mode == "earliest":
            return "to the earliest offset (log start)"
        if self.mode == "latest":
            return "to the latest offset (log end)"
        if self.mode == "offset":
            return f"to offset {self.value}"
        if self.mode == "shift":
            assert self.value is not None
            return f"shifted by {self.value:+d}"
        assert self.value is not None
        when = iso_utc(self.value)
        typed = self.text.strip()
        if _RELATIVE.match(typed):
            typed += " ago"
        return f"to the first record at or after {when}" + (
            f" ({typed})" if typed and typed != when else ""
        )


@dataclass(frozen=True)
class ResetRequest:
    """What to reset: one group, on one topic, all or some partitions."""

    group: str
    """Consumer group id."""
    topic: str
    """Topic whose committed offsets move."""
    target: ResetTarget
    """Where they move to."""
    partitions: tuple[int, ...] | None = None
    """Only these partitions; None: every partition of the topic."""


@dataclass(frozen=True)
class GroupMember:
    """One member of a consumer group, as DescribeGroups reports it."""

    member_id: str
    """Member id given by the coordinator (usually the client id plus a UUID)."""
    client_id: str | None
    """The member's client.id; None when the broker does not report it (Tansu)."""
    client_host: str | None
    """Host the member connects from; None when not reported."""

    def describe(self) -> str:
        client = f"client id {self.client_id}" if self.client_id else "client id not reported"
        host = f", host {self.client_host.lstrip('/')}" if self.client_host else ""
        return f"{self.member_id} ({client}{host})"


@dataclass(frozen=True)
class PartitionReset:
    """One partition's line of a plan."""

    partition: int
    """Partition number."""
    current: int | None
    """The group's committed offset now; None: no offset committed."""
    new: int | None
    """The offset that will be committed; None: this partition is left unchanged."""
    requested: int | None
    """The offset the mode asked for, before clamping to the log (None: nothing asked)."""
    log_start: int
    """First offset still in the log."""
    log_end: int
    """True log end offset (the high watermark): where the next record will be written."""
    skip: int | None
    """Records the group will not read that it would have read from `current`; None when
    there is no committed offset to count from."""
    replay: int | None
    """Records the group will read again; None when there is no committed offset."""
    clamped: Literal["log start", "log end"] | None
    """Where the requested offset was moved to stay inside the log, if it was."""
    note: str
    """One line for a person: clamping, missing offsets, deleted records."""

    @property
    def changes(self) -> bool:
        """True when applying the plan commits a different offset for this partition."""
        return self.new is not None and self.new != self.current

    @property
    def move(self) -> str:
        """The move in a word or two: "replay 12", "skip 3", "none", "set" (no offset
        before), "unchanged" (left as it is)."""
        if self.new is None:
            return "unchanged"
        if self.current is None:
            return "set"
        if self.replay:
            return f"replay {self.replay:,}"
        if self.skip:
            return f"skip {self.skip:,}"
        return "none"


@dataclass(frozen=True)
class ResetPlan:
    """What a reset will do, partition by partition, before anything is changed."""

    cluster: str
    """Cluster name from config."""
    group: str
    """Consumer group id."""
    topic: str
    """Topic whose offsets move."""
    target: ResetTarget
    """Where to, as asked."""
    group_state: str
    """Group state as the coordinator reported it (Empty, Dead, ...)."""
    partitions: tuple[PartitionReset, ...]
    """One line per partition, in partition order."""
    total_skip: int
    """Records skipped, over every partition with a committed offset."""
    total_replay: int
    """Records replayed, over every partition with a committed offset."""
    read_only: bool
    """The cluster is read-only in config: the plan can be shown but not applied."""
    planned_at: float
    """When the plan was made (seconds since the epoch)."""

    @classmethod
    def from_jsonable(cls, data: Mapping[str, Any]) -> ResetPlan:
        """The plan back from `to_jsonable(plan)`, e.g. after a Slack confirmation kept it as
        JSON. `apply` re-checks it against the cluster, so a stale plan is refused there."""
        t = data["target"]
        return cls(
            cluster=data["cluster"],
            group=data["group"],
            topic=data["topic"],
            target=ResetTarget(t["mode"], t["value"], t["text"]),
            group_state=data["group_state"],
            partitions=tuple(PartitionReset(**p) for p in data["partitions"]),
            total_skip=data["total_skip"],
            total_replay=data["total_replay"],
            read_only=data["read_only"],
            planned_at=data["planned_at"],
        )

    @property
    def changing(self) -> tuple[PartitionReset, ...]:
        """The partitions whose committed offset applying the plan changes."""
        return tuple(p for p in self.partitions if p.changes)

    def nothing_to_change(self) -> str:
        """Why applying this plan would change nothing ("" when it would change something)."""
        if self.changing:
            return ""
        if all(p.new is not None for p in self.partitions):
            return "Nothing to change: every partition is already at its target."
        return "Nothing to change: see the notes for the partitions left unchanged."

    def summary(self) -> str:
        """One line: "group g on topic t, 3 partitions: replays 120 records, skips 0"."""
        n = len(self.changing)
        if n == 0:
            return (
                f"group {self.group!r} on topic {self.topic!r} {self.target.describe()}: "
                "nothing to change"
            )
        return (
            f"group {self.group!r} on topic {self.topic!r} {self.target.describe()}: "
            f"{n} partition{'s' if n != 1 else ''} change, replays {self.total_replay:,} "
            f"record{'s' if self.total_replay != 1 else ''}, skips {self.total_skip:,} "
            f"record{'s' if self.total_skip != 1 else ''}"
        )


@dataclass(frozen=True)
class CommittedCheck:
    """One partition read back after applying."""

    partition: int
    """Partition number."""
    planned: int | None
    """Offset the plan said to commit (None: left unchanged, so the one planned from)."""
    committed: int | None
    """Offset the group coordinator now reports; None: no offset."""

    @property
    def ok(self) -> bool:
        return self.planned == self.committed


@dataclass(frozen=True)
class ResetResult:
    """What happened when a plan was applied."""

    plan: ResetPlan
    """The plan that was applied."""
    checks: tuple[CommittedCheck, ...]
    """Every partition of the plan, read back from the group coordinator."""
    verified: bool
    """True when every committed offset read back equals the plan."""
    applied_at: float
    """When the offsets were committed (seconds since the epoch)."""

    @property
    def mismatches(self) -> tuple[CommittedCheck, ...]:
        return tuple(c for c in self.checks if not c.ok)


class GroupActive(Refused):
    """The group has members, so its offsets cannot be reset. Nothing was changed."""

    def __init__(self, message: str, members: Sequence[GroupMember]) -> None:
        super().__init__(message)
        self.members = tuple(members)


# ---------------------------------------------------------------- pure functions


def iso_utc(ms: int) -> str:
    """Epoch milliseconds as an ISO time in UTC: 2026-11-25T02:00:00Z."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return dt.isoformat(timespec=spec).replace("+00:00", "Z")


#: the largest offset the Kafka protocol can carry (int64)
MAX_OFFSET = 2**63 - 1


def parse_target(mode: str, value: str | int | None = None, *, now_ms: int | None = None
                 ) -> ResetTarget:
    """Validate a mode and its value, as typed by a person; UsageError when wrong.

    earliest / latest take no value; time takes a duration ago (1h, 30m, 2d), an ISO time
    (a time without a zone is local time) or epoch milliseconds; offset takes N >= 0;
    shift takes a signed whole number, + forward (skip), - back (replay).
    """
    if mode not in MODES:
        raise UsageError(f"unknown reset mode {mode!r}: use one of {', '.join(MODES)}")
    kind = mode  # narrowed to ResetMode by the check above
    text = "" if value is None else str(value).strip()
    if kind in ("earliest", "latest"):
        if text:
            raise UsageError(f"reset to {kind} takes no value (got {text!r})")
        return ResetTarget(kind)
    if not text:
        raise UsageError(f"reset mode {mode} needs a value")
    if mode == "time":
        return ResetTarget("time", _parse_time(text, now_ms), text)
    shown = text if len(text) <= 40 else text[:39] + "…"
    try:
        number = int(text.replace("_", "")) if len(text) <= 40 else None
    except ValueError:
        number = None
    if number is None:
        what = "an offset (a whole number >= 0)" if mode == "offset" else "a whole number, +N or -N"
        raise UsageError(f"cannot read {shown!r} as {what}")
    if abs(number) > MAX_OFFSET:
        raise UsageError(f"{shown} is out of range: Kafka offsets are below 2^63")
    if mode == "offset" and number < 0:
        raise UsageError(
            f"offset {number} is negative: give an offset >= 0, or use --shift-by {number} "
            "to move back from the committed offset"
        )
    if mode == "shift" and number == 0:
        raise UsageError("--shift-by 0 would change nothing: give +N to skip or -N to replay")
    return ResetTarget(kind, number, text)


def requested_offset(
    target: ResetTarget, current: int | None, log_start: int, log_end: int,
    at_time: int | None = None,
) -> int | None:
    """The offset a mode asks for in one partition, before clamping; None for a shift with
    no committed offset to shift from. `at_time` is the time mode's looked-up offset."""
    if target.mode == "earliest":
        return log_start
    if target.mode == "latest":
        return log_end
    if target.mode == "time":
        return log_end if at_time is None else at_time
    assert target.value is not None
    if target.mode == "offset":
        return target.value
    if current is None:
        return None
    return current + target.value


def plan_partition(
    partition: int, current: int | None, log_start: int, log_end: int, requested: int | None
) -> PartitionReset:
    """One partition's line: clamp `requested` into [log_start, log_end] and count exactly
    what moving from `current` skips or replays.

    Counts are taken from where the group would actually resume: a committed offset below
    the log start resumes at the log start (the records in between are gone), one past the
    log end at the log end.
    """
    notes: list[str] = []
    clamped: Literal["log start", "log end"] | None = None
    new = requested
    if requested is not None and requested < log_start:
        new, clamped = log_start, "log start"
        notes.append(f"clamped to log start {log_start:,} (asked {requested:,})")
    elif requested is not None and requested > log_end:
        new, clamped = log_end, "log end"
        notes.append(f"clamped to log end {log_end:,} (asked {requested:,})")

    skip = replay = None
    if current is None:
        if new is None:
            notes.append("no committed offset to shift from: left unchanged")
        else:
            notes.append("no committed offset: the group will start here")
    else:
        if current < log_start:
            notes.append(
                f"committed offset {current:,} is below log start {log_start:,}: "
                f"{log_start - current:,} records were deleted before the group read them"
            )
        elif current > log_end:
            notes.append(f"committed offset {current:,} is past log end {log_end:,}")
        resume = min(max(current, log_start), log_end)
        assert new is not None
        skip, replay = max(new - resume, 0), max(resume - new, 0)
    return PartitionReset(
        partition=partition,
        current=current,
        new=new,
        requested=requested,
        log_start=log_start,
        log_end=log_end,
        skip=skip,
        replay=replay,
        clamped=clamped,
        note="; ".join(notes),
    )


def build_plan(
    *,
    cluster: str,
    group: str,
    topic: str,
    target: ResetTarget,
    group_state: str,
    committed: Mapping[int, int | None],
    bounds: Mapping[int, tuple[int, int]],
    at_time: Mapping[int, int] | None = None,
    read_only: bool = False,
    planned_at: float | None = None,
) -> ResetPlan:
    """The whole plan from what was read: committed offsets and (log start, log end) per
    partition, and for the time mode the looked-up offset per partition."""
    rows = []
    for p in sorted(bounds):
        start, end = bounds[p]
        current = committed.get(p)
        want = requested_offset(target, current, start, end, (at_time or {}).get(p))
        rows.append(plan_partition(p, current, start, end, want))
    return ResetPlan(
        cluster=cluster,
        group=group,
        topic=topic,
        target=target,
        group_state=group_state,
        partitions=tuple(rows),
        total_skip=sum(r.skip or 0 for r in rows),
        total_replay=sum(r.replay or 0 for r in rows),
        read_only=read_only,
        planned_at=time.time() if planned_at is None else planned_at,
    )


def active_members_message(group: str, members: Sequence[GroupMember]) -> str:
    n = len(members)
    shown = "; ".join(m.describe() for m in members[:10])
    more = f"; and {n - 10} more" if n > 10 else ""
    return (
        f"group {group!r} has {n} active member{'s' if n != 1 else ''}: {shown}{more}. "
        "Offsets can only be reset while the group is empty: stop its consumers and try "
        "again (a consumer that died stays a member until its session times out). "
        "Nothing was changed."
    )


# ---------------------------------------------------------------- the service


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
        parts = await _partitions(conn, request.topic, request.partitions)
        tps = [TopicPartition(request.topic, p) for p in parts]
        coordinator = await _coordinator(conn, request.group)
        (state, members), listed, committed, bounds = await asyncio.gather(
            describe_group(conn, request.group, coordinator),
            _group_listed(conn, request.group, coordinator),
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
            at_time = await _offsets_for_time(conn, request.topic, parts, request.target.value)
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
        coordinator = await _coordinator(conn, plan.group)
        (_, members), committed, bounds = await asyncio.gather(
            describe_group(conn, plan.group, coordinator),
            committed_offsets(conn, plan.group, tps, coordinator),
            conn.high_watermarks(tps),
        )
        if members:
            raise GroupActive(active_members_message(plan.group, members), members)
        _check_still_valid(plan, committed, bounds)

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


def writable_action(group: str) -> str:
    """The words of the read-only refusal: "... refusing to reset offsets of group 'g'"."""
    return f"reset offsets of group {group!r}"


def audit_params(plan: ResetPlan) -> dict[str, Any]:
    """What the audit record keeps of the plan: the request and every partition's line."""
    return {
        "topic": plan.topic,
        "mode": plan.target.mode,
        "value": plan.target.value,
        "as_typed": plan.target.text,
        "group_state": plan.group_state,
        "total_skip": plan.total_skip,
        "total_replay": plan.total_replay,
        "partitions": [
            {
                "partition": p.partition,
                "current": p.current,
                "new": p.new,
                "log_start": p.log_start,
                "log_end": p.log_end,
                "skip": p.skip,
                "replay": p.replay,
                "clamped": p.clamped,
            }
            for p in plan.partitions
        ],
    }


def audit_detail(result: ResetResult) -> dict[str, Any]:
    """The outcome the audit record keeps: verified, and the offsets read back."""
    return {
        "verified": result.verified,
        "read_back": {str(c.partition): c.committed for c in result.checks},
    }


def _check_still_valid(
    plan: ResetPlan,
    committed: Mapping[TopicPartition, int | None],
    bounds: Mapping[TopicPartition, tuple[int, int]],
) -> None:
    """Conflict when what the plan was made from has changed, so a plan confirmed minutes
    later (a Slack button) never commits something the person did not see."""
    moved = []
    for p in plan.partitions:
        tp = TopicPartition(plan.topic, p.partition)
        now = committed.get(tp)
        if now != p.current:
            was = "no offset" if p.current is None else f"{p.current:,}"
            is_ = "no offset" if now is None else f"{now:,}"
            moved.append(f"partition {p.partition} committed offset {was} -> {is_}")
        if p.changes and tp in bounds:
            start, end = bounds[tp]
            assert p.new is not None
            if not start <= p.new <= end:
                moved.append(
                    f"partition {p.partition} target {p.new:,} is now outside the log "
                    f"[{start:,}, {end:,}]"
                )
    if moved:
        raise Conflict(
            f"group {plan.group!r} changed since the plan was made ({'; '.join(moved)}). "
            "Nothing was changed: make a new plan."
        )


# ---------------------------------------------------------------- wire helpers
# Group reads and the commit, through the cluster's shared connection. They are module
# functions so other core code (lag, failover) can use them; aiokafka types stay here.


async def _partitions(
    conn: KafkaConnection, topic: str, wanted: Iterable[int] | None
) -> list[int]:
    meta = await conn.metadata([topic])
    if topic not in meta.topics:
        raise NotFound(
            f"topic {topic!r} not found on cluster {conn.name!r} — check the name with "
            "`kafkaops topics`. Nothing was changed."
        )
    known = [p.partition for p in meta.topics[topic].partitions]
    if wanted is None:
        return known
    chosen = sorted(set(wanted))
    bad = [p for p in chosen if p not in known]
    if bad:
        raise UsageError(
            f"topic {topic!r} has no partition {', '.join(map(str, bad))} (it has "
            f"{len(known)}: 0..{len(known) - 1}). Nothing was changed."
        )
    return chosen


async def _send(conn: KafkaConnection, node: int, request: Any) -> Any:
    with map_kafka_errors(conn):
        return await conn.client.send(node, request)


async def _coordinator(conn: KafkaConnection, group: str) -> int:
    """Node id of the group's coordinator (FindCoordinator)."""
    if not group or not group.strip():
        raise UsageError("consumer group id is empty")
    with map_kafka_errors(conn):
        return int(await conn.client.coordinator_lookup(0, group))


async def describe_group(
    conn: KafkaConnection, group: str, coordinator: int | None = None
) -> tuple[str, tuple[GroupMember, ...]]:
    """(state, members) of one group. One group per DescribeGroups request: Tansu cannot
    answer three or more in one (docs/broker-notes.md); valid on Apache Kafka too."""
    from aiokafka.protocol.admin import DescribeGroupsRequest

    node = coordinator if coordinator is not None else await _coordinator(conn, group)
    resp = await _send(conn, node, DescribeGroupsRequest([group]))
    g = resp.to_object()["groups"][0]
    if g["error_code"] not in (0, 69):  # 69 GROUP_ID_NOT_FOUND: newer brokers, no group
        raise KafkaOpsError(
            f"cannot describe group {group!r} on cluster {conn.name!r}: "
            f"{_ERROR_NAMES.get(g['error_code'], 'error code ' + str(g['error_code']))}"
        )
    # Tansu gap: client_id and client_host come back empty; show "not reported"
    members = tuple(
        GroupMember(m["member_id"], m.get("client_id") or None, m.get("client_host") or None)
        for m in g["members"]
    )
    return (g["state"] or "Dead"), members


async def _group_listed(conn: KafkaConnection, group: str, coordinator: int) -> bool:
    """True when the coordinator lists the group (ListGroups). Tansu answers DescribeGroups
    for a group that never existed with state Empty (Apache Kafka says Dead), so existence
    is read from the coordinator's list, which both brokers fill for groups that only hold
    committed offsets too."""
    from aiokafka.protocol.admin import ListGroupsRequest

    resp = await _send(conn, coordinator, ListGroupsRequest())
    return any(g[0] == group for g in resp.groups)


async def committed_offsets(
    conn: KafkaConnection,
    group: str,
    partitions: Sequence[TopicPartition],
    coordinator: int | None = None,
) -> dict[TopicPartition, int | None]:
    """The group's committed offset per partition; None where it has none.

    Tansu gap: OffsetFetch for "all partitions" (null topics) cannot be decoded, so the
    partitions are always named; that is valid on Apache Kafka too.
    """
    from aiokafka.protocol.commit import OffsetFetchRequest

    by_topic: dict[str, list[int]] = defaultdict(list)
    for tp in partitions:
        by_topic[tp.topic].append(tp.partition)
    node = coordinator if coordinator is not None else await _coordinator(conn, group)
    resp = await _send(conn, node, OffsetFetchRequest(group, list(by_topic.items())))
    top_error = getattr(resp, "error_code", 0)
    if top_error:
        raise KafkaOpsError(
            f"cannot read committed offsets of group {group!r}: "
            f"{_ERROR_NAMES.get(top_error, f'error code {top_error}')}",
            retriable=top_error in (14, 15, 16),
        )
    out: dict[TopicPartition, int | None] = {tp: None for tp in partitions}
    for topic, parts in resp.topics:
        for partition, offset, _meta, error_code in parts:
            if error_code:
                raise KafkaOpsError(
                    f"cannot read committed offset of group {group!r} on {topic}[{partition}]: "
                    f"{_ERROR_NAMES.get(error_code, f'error code {error_code}')}"
                )
            out[TopicPartition(topic, partition)] = offset if offset >= 0 else None
    return out


async def commit_offsets(
    conn: KafkaConnection,
    group: str,
    offsets: Mapping[TopicPartition, int],
    coordinator: int | None = None,
) -> None:
    """Commit offsets for a group that has no members: OffsetCommit with generation -1 and
    an empty member id, as Apache Kafka's AdminClient.alterConsumerGroupOffsets does. The
    coordinator accepts it only while the group is empty (else UNKNOWN_MEMBER_ID), so a
    consumer joining between our check and the commit makes it fail, not half-apply."""
    from aiokafka.protocol.commit import OffsetCommitRequest

    by_topic: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for tp, off in sorted(offsets.items()):
        by_topic[tp.topic].append((tp.partition, off, ""))
    node = coordinator if coordinator is not None else await _coordinator(conn, group)
    req = OffsetCommitRequest(group, -1, "", -1, list(by_topic.items()))
    resp = await _send(conn, node, req)
    failed = [
        (topic, partition, code)
        for topic, parts in resp.topics
        for partition, code in parts
        if code
    ]
    if not failed:
        return
    if any(code in _GROUP_BUSY for _, _, code in failed):
        raise GroupActive(
            f"group {group!r} gained members while the reset was being applied (the "
            f"coordinator answered {_GROUP_BUSY[failed[0][2]]}); stop its consumers and make a "
            "new plan. The coordinator refuses such a commit as a whole: nothing was changed.",
            (),
        )
    shown = ", ".join(
        f"{t}[{p}]: {_ERROR_NAMES.get(c, f'error code {c}')}" for t, p, c in failed[:5]
    )
    raise KafkaOpsError(
        f"commit of offsets for group {group!r} failed on {len(failed)} partition(s): "
        f"{shown}. Read the group's offsets back (`kafkaops offsets reset --dry-run`) to see "
        "what changed."
    )


# ------------------------------------------------ shared with core/messages/service.py
# One call site each, so the time forms and the time lookup stay the same as `tail`'s.


def _parse_time(text: str, now_ms: int | None) -> int:
    """Time parsing shared with `tail --since` (core/messages/service.py), so both accept the same
    forms: 1h / 30m / 2d ago, ISO time (local without a zone), epoch milliseconds."""
    from kafkaops.core.messages.service import parse_time

    return int(parse_time(text, now_ms=now_ms))


async def _offsets_for_time(
    conn: KafkaConnection, topic: str, partitions: list[int], ms: int
) -> dict[int, int]:
    """First offset whose record timestamp is >= ms per partition (log end when none is).

    Tansu gap: ListOffsets with a timestamp answers the log start whatever the time, so
    core/messages/service.py checks the broker's answer by reading record timestamps and bisects
    when it is wrong; on Apache Kafka the answer is right and costs two reads.
    """
    from kafkaops.core.messages.service import MessageService, StartAt

    found = await MessageService(conn).resolve_start(topic, partitions, StartAt.at_time(ms))
    return {tp.partition: off for tp, off in found.items()}
