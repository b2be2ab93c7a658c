"""What a failover run did: the records `execute`, `resume` and `status` return. Frozen.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepOutcome:
    """A recorded non-group step."""

    name: str
    """fence, activate."""
    status: str
    """done or skipped."""
    detail: str
    """What happened."""


@dataclass(frozen=True)
class PartitionOffset:
    """An offset of one partition."""

    topic: str
    """Topic."""
    partition: int
    """Partition."""
    offset: int
    """Offset."""


@dataclass(frozen=True)
class GroupOutcome:
    """Where a group got to."""

    group: str
    """Consumer group id."""
    status: str
    """planned, intent, done, left."""
    offsets: tuple[PartitionOffset, ...]
    """Offsets the run commits for it on the target."""
    detail: str
    """What happened."""


@dataclass(frozen=True)
class FailoverResult:
    """A run's state: what `execute`, `resume` and `status` return."""

    pair: str
    """DR pair."""
    run_id: str
    """Run id."""
    direction: str
    """failover or failback."""
    source: str
    """Cluster that was active."""
    target: str
    """Cluster made active."""
    new_epoch: int
    """The target's epoch."""
    state: str
    """running, completed or abandoned."""
    by: str
    """Who started it."""
    started_at: float
    """When."""
    force: bool
    """Started with --force."""
    steps: tuple[StepOutcome, ...]
    """fence / activate as recorded."""
    groups: tuple[GroupOutcome, ...]
    """Per group."""
    active: str
    """Active cluster per the control topic now."""
    epoch: int
    """Active epoch now."""


