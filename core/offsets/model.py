"""The records of an offset reset: what was asked (ResetTarget, ResetRequest), what the plan
says per partition (PartitionReset, ResetPlan), what applying it found (CommittedCheck,
ResetResult), and the refusal while the group has members (GroupActive). Frozen; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kafkaops.core.errors import Refused

ResetMode = Literal["earliest", "latest", "time", "offset", "shift"]
MODES: tuple[ResetMode, ...] = ("earliest", "latest", "time", "offset", "shift")

_RELATIVE = re.compile(r"^\d+(?:\.\d+)?\s*(ms|s|m|h|d|w)$")

#: the action name audit records and Slack permissions use
ACTION = "offsets.reset"



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



# ---------------------------------------------------------------- times


def iso_utc(ms: int) -> str:
    """Epoch milliseconds as an ISO time in UTC: 2026-11-25T02:00:00Z."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return dt.isoformat(timespec=spec).replace("+00:00", "Z")


