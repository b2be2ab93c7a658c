"""DR's model: a pair's replication flow, and what a status says about it. Frozen records.

- `Flow`: one replication direction of a pair (MM2's `source->target`), with the topic
  names MM2 uses for it; `flow(pair, source)`, `aliases(pair)`, `find_pair(...)`;
- the status records: `DrStatus` (a pair's replication, RPO and active cluster) and its
  rows (`TopicReplication`, `PartitionReplication`, `GroupCheckpoints`, `HeartbeatInfo`,
  `RunSummary`, `ClusterAnswer`); `DrSignals`, the flat numbers the alert rules watch.

How the numbers are found is core/dr/rpo.py (pure) and core/dr/probe.py (the reads).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.mm2_policy import DefaultReplicationPolicy, replication_policy
from kafkaops.core.errors import ConfigError

TopicState = Literal["ok", "behind", "not replicated", "unknown"]


# ---------------------------------------------------------------- the pair and its flow


def find_pair(pairs: Sequence[DrPairConfig], name: str | None, source: str = "") -> DrPairConfig:
    """The pair named `name`, or the only/first pair; ConfigError naming the choices."""
    if not pairs:
        raise ConfigError(
            f"{source or 'config'}: no DR pairs configured; add one under dr: pairs: "
            "(name, primary, secondary; see config.example.yaml)"
        )
    if name is None:
        return pairs[0]
    for p in pairs:
        if p.name == name:
            return p
    known = ", ".join(p.name for p in pairs)
    raise ConfigError(f"{source or 'config'}: no DR pair named {name!r} (configured: {known})")


@dataclass(frozen=True)
class Flow:
    """One replication direction of a pair: MM2's flow `source_alias->target_alias`."""

    pair: DrPairConfig
    """The pair's config."""
    source: str
    """Cluster name replicated from."""
    target: str
    """Cluster name replicated into."""
    source_alias: str
    """MM2's alias of the source."""
    target_alias: str
    """MM2's alias of the target."""
    policy: DefaultReplicationPolicy
    """The pair's replication policy (identity knows the source alias)."""

    @property
    def checkpoints_topic(self) -> str:
        """On the target."""
        return self.policy.checkpoints_topic(self.source_alias)

    @property
    def offset_syncs_topic(self) -> str:
        """On the source (MM2's default offset-syncs.topic.location)."""
        return self.policy.offset_syncs_topic(self.target_alias)

    @property
    def remote_heartbeats_topic(self) -> str:
        """The source's `heartbeats`, replicated into the target."""
        return self.policy.format_remote_topic(self.source_alias, self.policy.heartbeats_topic())

    def remote_topic(self, topic: str) -> str:
        return self.policy.format_remote_topic(self.source_alias, topic)


def aliases(pair: DrPairConfig) -> dict[str, str]:
    """Cluster name -> MM2 alias for both sides of a pair."""
    return {
        pair.primary: pair.primary_alias or pair.primary,
        pair.secondary: pair.secondary_alias or pair.secondary,
    }


def flow(pair: DrPairConfig, source: str) -> Flow:
    """The flow out of `source` (one of the pair's clusters) into the other one."""
    if source not in (pair.primary, pair.secondary):
        raise ConfigError(f"cluster {source!r} is not part of DR pair {pair.name!r}")
    target = pair.secondary if source == pair.primary else pair.primary
    names = aliases(pair)
    policy = replication_policy(
        pair.replication_policy,
        pair.separator,
        internal_topic_separator=pair.internal_topic_separator,
        source_alias=names[source],
    )
    return Flow(pair, source, target, names[source], names[target], policy)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class PartitionReplication:
    """One source partition and its copy on the target."""

    partition: int
    """Partition number (the same on both sides)."""
    source_start: int | None
    """Log start offset on the source."""
    source_end: int | None
    """True end offset on the source (None: source unreachable)."""
    target_end: int | None
    """True end offset of the remote partition (None: missing or unreachable)."""
    last_sync: tuple[int, int] | None
    """Newest offset sync (source offset, target offset), None when MM2 wrote none yet."""
    position: int | None
    """Next source offset to be replicated."""
    lag_messages: int | None
    """Source records not on the target yet."""
    lag_seconds: float | None
    """Age of the oldest of them (0 when none)."""
    method: Literal["offset-sync", "end-offsets", "none"]
    """How `position` was found: from the newest offset sync, or by comparing end offsets."""


@dataclass(frozen=True)
class TopicReplication:
    """A replicated topic: the source topic and its remote copy."""

    topic: str
    """Topic name on the source."""
    remote_topic: str
    """Its name on the target (per the replication policy)."""
    partitions: int
    """Partitions on the source (or on the target when the source is unreachable)."""
    source_end: int | None
    """Sum of the source partitions' end offsets."""
    target_end: int | None
    """Sum of the remote partitions' end offsets."""
    lag_messages: int | None
    """Records on the source not yet on the target."""
    lag_seconds: float | None
    """Worst partition's lag in seconds."""
    state: TopicState
    """ok (within RPO), behind, not replicated (no remote topic), unknown."""
    rows: tuple[PartitionReplication, ...] = ()
    """Per partition."""


@dataclass(frozen=True)
class GroupCheckpoints:
    """A consumer group's MM2 checkpoints on the target."""

    group: str
    """Consumer group id."""
    partitions: int
    """Partitions it has checkpoints for."""
    newest_at: int | None
    """Record time (ms) of its newest checkpoint."""
    age_seconds: float | None
    """Age of its newest checkpoint."""
    oldest_partition_age_seconds: float | None
    """Age of its stalest partition's checkpoint."""
    moves_on_failover: bool
    """Matches the pair's `groups` patterns."""


@dataclass(frozen=True)
class HeartbeatInfo:
    """The newest heartbeat found in one topic."""

    topic: str
    """Topic read (on the target)."""
    source: str | None
    """sourceClusterAlias of the newest heartbeat."""
    target: str | None
    """targetClusterAlias."""
    at: int | None
    """Its timestamp (ms); None when none was found."""
    age_seconds: float | None
    """now - at."""


@dataclass(frozen=True)
class RunSummary:
    """A failover or failback, as the control topic records it."""

    run_id: str
    """Run id."""
    direction: str
    """failover or failback."""
    source: str
    """Cluster that was active."""
    target: str
    """Cluster being made active."""
    state: str
    """running, completed or abandoned."""
    started_at: float
    """When it started."""
    by: str
    """Who started it."""
    groups_done: int
    """Groups moved so far."""
    groups_total: int
    """Groups the run moves."""


@dataclass(frozen=True)
class ClusterAnswer:
    """Whether one cluster of the pair answered for this status, and when."""

    cluster: str
    """Cluster name."""
    role: Literal["source", "target"]
    """source: replicated from (the active one); target: replicated into."""
    answered: bool
    """It answered every request of this status in time."""
    at: float | None
    """Wall clock of its answer; when it did not answer, of the last answer this process saw
    (None: it has not answered since the process started)."""
    error: str | None = None
    """Why it counts as unreachable."""


@dataclass(frozen=True)
class DrStatus:
    """A DR pair's replication, RPO and active cluster."""

    pair: str
    """Pair name."""
    primary: str
    """Primary cluster name."""
    secondary: str
    """Secondary cluster name."""
    active: str
    """Active cluster (from _kafkaops.control; the primary when never changed)."""
    epoch: int
    """Active epoch (0 until the first failover)."""
    source: str
    """Cluster replicated from (the active one)."""
    target: str
    """Cluster replicated into (the standby)."""
    source_alias: str
    """MM2 alias of the source."""
    target_alias: str
    """MM2 alias of the target."""
    policy: str
    """Replication policy: default or identity."""
    rpo_seconds: float
    """Configured RPO."""
    rpo_estimate_seconds: float | None
    """Data at risk if the source were lost now, in seconds (None: unknown)."""
    rpo_basis: str
    """How the estimate was made."""
    rpo_ok: bool | None
    """Estimate within the RPO (None: unknown)."""
    heartbeat_age_seconds: float | None
    """Age of the newest heartbeat across the flow (None: none found)."""
    heartbeat_ok: bool | None
    """Heartbeat age within the RPO."""
    heartbeats: tuple[HeartbeatInfo, ...]
    """The heartbeat topics read: the replicated one, then the flow's own."""
    topics: tuple[TopicReplication, ...]
    """Replicated topics."""
    groups: tuple[GroupCheckpoints, ...]
    """Groups with checkpoints on the target."""
    max_lag_messages: int | None
    """Largest topic lag in messages (None: unknown, a cluster did not answer)."""
    max_lag_seconds: float | None
    """Largest partition lag in seconds (None: unknown)."""
    source_reachable: bool
    """The source answered."""
    target_reachable: bool
    """The target answered."""
    problems: tuple[str, ...] = ()
    """What could not be read, or looks wrong, in words."""
    stale_control_copies: tuple[str, ...] = ()
    """Clusters whose copy of the active record is behind the newest epoch."""
    failover: RunSummary | None = None
    """The newest failover/failback run, if any."""
    generated_at: float = field(default_factory=time.time)
    """When this status was taken."""
    clusters: tuple[ClusterAnswer, ...] = ()
    """The source and the target: which answered, and when."""

    def unreachable(self) -> list[ClusterAnswer]:
        """The clusters of the pair that did not answer for this status."""
        return [c for c in self.clusters if not c.answered]


@dataclass(frozen=True)
class DrSignals:
    """What the alert rules watch for a pair (flat numbers, one per pair)."""

    pair: str
    """Pair name."""
    source: str
    """Cluster replicated from (the active one)."""
    target: str
    """Cluster replicated into."""
    rpo_seconds: float
    """Configured RPO."""
    replication_lag_seconds: float | None
    """Worst partition's lag in seconds (None: unknown)."""
    replication_lag_messages: int | None
    """Worst topic's lag in records."""
    heartbeat_age_seconds: float | None
    """Age of the newest heartbeat across the flow (None: none found)."""
    rpo_estimate_seconds: float | None
    """Data at risk now, in seconds."""
    lag_beyond_rpo: bool | None
    """Replication lag (or, with the source down, the heartbeat age) above the RPO."""
    heartbeat_stale: bool | None
    """No heartbeat, or one older than the RPO (None: target unreachable)."""
    source_reachable: bool
    """The source answered."""
    target_reachable: bool
    """The target answered."""


