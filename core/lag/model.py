"""Consumer lag's records: what a snapshot says about each group, topic and partition
(frozen, built by `LagService.snapshot`), and the words every face shows for how their
statuses were judged (`status_basis`, `group_basis`, from the config's `lag_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from kafkaops.core.lag.status import LagPolicy, PartitionState, Status, Trend, age, policy_text
from kafkaops.core.records import TopicPartition

NOT_REPORTED = "not reported"

#: a group's committed offsets, keyed by (topic, partition). Plain tuples, not
#: TopicPartition: they hash and compare equal, and cost a tenth to create
Committed = dict[tuple[str, int], int]



@dataclass(frozen=True)
class GroupMember:
    member_id: str
    """Member id the coordinator gave the consumer."""
    client_id: str | None
    """The consumer's client.id; None when the broker did not report it (Tansu)."""
    client_host: str | None
    """Host the consumer connects from; None when not reported."""
    assignment: tuple[TopicPartition, ...] | None
    """Partitions assigned to it; None when not reported (Tansu reports none)."""


class PartitionLag(NamedTuple):
    """One partition of one group. A NamedTuple, not a dataclass: a snapshot of 500 groups
    builds 50,000 of them and a frozen dataclass costs five times as much to create."""

    topic: str
    """Topic name."""
    partition: int
    """Partition number."""
    committed: int | None
    """The group's committed offset; None when it never committed this partition."""
    log_start: int | None
    """First offset still in the log; None when not known."""
    end: int | None
    """True log end offset (high watermark); None when the leader did not answer."""
    lag: int | None
    """end - committed; None for no offset, data loss, unknown end or offset beyond the end."""
    lag_seconds: float | None
    """Age in seconds of the next record the group will read (0 when lag is 0); None when
    unknown or meaningless (no offset, data loss)."""
    state: PartitionState
    """What this snapshot says: ok, no offset, data loss, ahead of end, end unknown."""
    status: Status
    """Status judged over the window (UNKNOWN for no offset or unknown end)."""
    trend: Trend | None
    """Lag growing, draining or steady over the window; None with one snapshot."""
    consume_rate: float | None
    """Records/s the group committed over the window."""
    produce_rate: float | None
    """Records/s written to the partition over the window."""
    eta_seconds: float | None
    """Seconds to catch up at current rates; 0 when caught up; None when not catching up."""
    lost: int | None
    """With data loss: records deleted before the group read them (log start - committed)."""
    member: str | None
    """Client id (or member id) of the consumer assigned this partition, when reported."""


@dataclass(frozen=True)
class TopicLag:
    topic: str
    """Topic name."""
    partitions: int
    """Partitions of the topic the group has (committed or assigned)."""
    lag: int | None
    """Sum of the partitions' known lags; None when none is known."""
    lag_seconds: float | None
    """The oldest unread record's age over the partitions."""
    status: Status
    """Worst partition status."""
    trend: Trend | None
    """Growing if any partition grows, else draining if any drains, else steady."""
    eta_seconds: float | None
    """The slowest partition's ETA; None when one of them is not catching up."""


@dataclass(frozen=True)
class GroupLag:
    group: str
    """Consumer group id."""
    state: str
    """Group state as the coordinator reports it (Stable, Empty, PreparingRebalance, ...);
    "unknown" when the group could not be described."""
    members: tuple[GroupMember, ...] | None
    """Members; None when the group could not be described."""
    partitions: tuple[PartitionLag, ...]
    """Every partition of every topic the group committed or is assigned, by topic and
    partition. Partitions without a committed offset are listed as "no offset"."""
    topics: tuple[TopicLag, ...]
    """Roll-up per topic."""
    lag: int | None
    """Total lag in records over partitions where it is known; None when none is."""
    lag_seconds: float | None
    """Age of the oldest record the group has not read yet, over all partitions."""
    status: Status
    """Worst status over the partitions (no-offset partitions are not judged)."""
    trend: Trend | None
    """Growing if any partition grows, else draining if any drains, else steady."""
    eta_seconds: float | None
    """Time to catch up: the slowest partition's; None when one of them is not catching up."""
    samples: int
    """Snapshots the status was judged on (1: a single snapshot; only STOP and DATA_LOSS
    can be told then)."""
    window_seconds: float
    """Time those snapshots span."""
    error: str | None = None
    """Why the group could not be read in full this time (coordinator unavailable, ...)."""

    @property
    def member_count(self) -> int | None:
        return None if self.members is None else len(self.members)

    @property
    def data_loss(self) -> bool:
        return any(p.state is PartitionState.DATA_LOSS for p in self.partitions)


@dataclass(frozen=True)
class LagSnapshot:
    cluster: str
    """Cluster name."""
    taken_at: float
    """When the end offsets were read (epoch seconds)."""
    elapsed: float
    """Seconds the snapshot took."""
    groups: tuple[GroupLag, ...]
    """Groups by name."""
    requests: dict[str, int]
    """Requests sent for this snapshot, by Kafka API."""
    policy: LagPolicy | None = None
    """The rules the statuses were judged by (None: the defaults)."""

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def group(self, name: str) -> GroupLag | None:
        return next((g for g in self.groups if g.group == name), None)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per group and partition: what `kafkaops lag --json` prints and the
        alert rules match on (group, topic, partition, lag, lag_seconds, status, ...)."""
        out: list[dict[str, Any]] = []
        for g in self.groups:
            for p in g.partitions:
                out.append({
                    "group": g.group, "topic": p.topic, "partition": p.partition,
                    "committed": p.committed, "end": p.end, "lag": p.lag,
                    "lag_seconds": _round(p.lag_seconds), "status": p.status.value,
                    "state": p.state.value, "log_start": p.log_start,
                    "trend": p.trend.value if p.trend else None,
                    "eta_seconds": _round(p.eta_seconds), "lost": p.lost,
                })
        return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def lag_policy(config: Any) -> LagPolicy:
    """The judging rules from config (`lag:`): every face uses the same ones."""
    lag = config.lag
    return LagPolicy(window=float(lag.window), warmup=float(lag.warmup), hold=float(lag.hold),
                     stall_seconds=float(lag.stall))


def status_basis(snap: LagSnapshot) -> str:
    """How the statuses were judged, in the words every face shows: "status over 7
    snapshots in 35s (window 5m00s, warm-up 30s, changes held 30s)", or while warming up
    what is still needed."""
    pol = snap.policy or LagPolicy()
    rules = policy_text(pol)
    if not snap.groups:
        return f"statuses judged with {rules}"
    samples = max(g.samples for g in snap.groups)
    span = max(g.window_seconds for g in snap.groups)
    warming = sum(1 for g in snap.groups if g.status is Status.WARMING_UP)
    if warming == len(snap.groups):
        return (f"warming up: {samples} snapshot{'s' if samples != 1 else ''} in {age(span)}; "
                f"a status needs {pol.min_samples} over {age(pol.warmup)} ({rules})")
    if samples <= 1:
        text = f"status from one snapshot ({rules}): only STOP and DATA LOSS can be told"
    else:
        text = f"status over {samples} snapshots in {age(span)} ({rules})"
    if warming:
        text += f"; {warming} group{'s' if warming != 1 else ''} still warming up"
    return text


def group_basis(g: GroupLag, policy: LagPolicy | None) -> str:
    """`status_basis` for one group."""
    pol = policy or LagPolicy()
    if g.status is Status.WARMING_UP:
        return (f"warming up: {g.samples} snapshot{'s' if g.samples != 1 else ''} in "
                f"{age(g.window_seconds)}; a status needs {pol.min_samples} over "
                f"{age(pol.warmup)} ({policy_text(pol)})")
    return f"status over {g.samples} snapshots in {age(g.window_seconds)} ({policy_text(pol)})"



class GroupInfo(NamedTuple):
    """A group as its coordinator described it (DescribeGroups), or why it could not."""

    state: str
    protocol_type: str
    members: tuple[GroupMember, ...] | None
    error: str | None
