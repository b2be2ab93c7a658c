"""The pure rules of an offset reset (no I/O): reading a target as typed, the offset each
mode asks for, clamping it into the log and counting what it skips or replays, the whole
plan from what was read, the re-check before applying, and the words and audit fields
every face shares.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from kafkaops.core.errors import Conflict, UsageError
from kafkaops.core.offsets.model import (
    MODES,
    GroupMember,
    PartitionReset,
    ResetPlan,
    ResetResult,
    ResetTarget,
)
from kafkaops.core.records import TopicPartition

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


def check_still_valid(
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



def _parse_time(text: str, now_ms: int | None) -> int:
    """Time parsing shared with `tail --since` (core/messages/service.py), so both accept the
    same forms: 1h / 30m / 2d ago, ISO time (local without a zone), epoch milliseconds."""
    from kafkaops.core.messages.times import parse_time

    return int(parse_time(text, now_ms=now_ms))
