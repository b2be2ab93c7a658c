"""Topic policies: core's records. Pure data, no I/O (rules.py checks, service.py reads)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: how a requirement's value is read and compared
ValueKind = Literal["duration", "size", "number", "text", "set", "bool"]
Op = Literal["==", "!=", ">=", ">", "<=", "<", "in"]
#: violation: the value found breaks the rule; unknown: the broker did not report the
#: value, so the rule could not be checked (never taken as compliant)
Status = Literal["violation", "unknown"]


@dataclass(frozen=True)
class Requirement:
    key: str
    """What it is about: a topic config name (`retention.ms`), `partitions` or
    `replication_factor`."""
    written: str
    """The key as config wrote it (`retention`)."""
    kind: ValueKind
    """How values are read: duration (ms), size (bytes), number, text, set (comma list),
    bool."""
    op: Op
    """The comparison."""
    values: tuple[str, ...]
    """The wanted value(s), as text (one, or the allowed list for `in`)."""
    numbers: tuple[float, ...] = ()
    """The wanted values as numbers (duration, size, int kinds); -1 reads as unlimited."""

    @property
    def is_config(self) -> bool:
        """A topic config (changeable with AlterConfigs), not partitions or replicas."""
        return self.key not in ("partitions", "replication_factor")

    def describe(self) -> str:
        """The rule as people read it: `retention.ms >= 7y`, `compression.type in [lz4, zstd]`."""
        if self.op == "in":
            return f"{self.key} in [{', '.join(self.values)}]"
        return f"{self.key} {self.op} {self.values[0]}"


@dataclass(frozen=True)
class Policy:
    name: str
    """Policy name."""
    match: Mapping[str, str]
    """Glob patterns on topic and cluster, and a team name."""
    requires: tuple[Requirement, ...]
    """What every matching topic must have."""


@dataclass(frozen=True)
class TopicFacts:
    """What the cluster said about one topic."""

    cluster: str
    """Cluster name."""
    topic: str
    """Topic name."""
    team: str
    """Owning team (or "unowned")."""
    configs: Mapping[str, str | None]
    """Configs the broker reported (a None value: reported as sensitive, not shown). A key
    missing here was not reported: unknown, never a default made up."""
    partitions: int
    """Partition count."""
    replication_factor: int
    """Replicas per partition (the largest)."""
    internal: bool = False
    """A Kafka or kafkaops internal topic."""


@dataclass(frozen=True)
class Fix:
    """The topic config change that brings a topic into line with a requirement."""

    config: str
    """Topic config to set."""
    value: str
    """Value to set it to (as Kafka writes it: milliseconds, bytes, names)."""
    shown: str
    """The value as people read it (`7y`)."""


@dataclass(frozen=True)
class Finding:
    """A topic that breaks a policy's requirement, or whose value could not be checked."""

    cluster: str
    """Cluster name."""
    topic: str
    """Topic name."""
    team: str
    """Owning team (or "unowned")."""
    policy: str
    """Policy name."""
    rule: str
    """The requirement as people read it."""
    key: str
    """What it is about (topic config name, partitions, replication_factor)."""
    status: Status
    """violation or unknown."""
    found: str | None
    """The value found, as the broker reported it (None: not reported)."""
    found_shown: str
    """The value found as people read it (`1d`, `not reported`)."""
    fix: Fix | None
    """The config change that fixes it (None: not a topic config, or no single value)."""
    fix_command: str
    """The command that fixes it, or what to do when no command can."""


@dataclass(frozen=True)
class PolicyReport:
    """Every policy checked against every topic of one cluster."""

    cluster: str
    """Cluster name."""
    at: float
    """When the cluster answered (epoch seconds)."""
    policies: tuple[str, ...]
    """Policy names, in config order."""
    checked: int
    """Topic-and-policy pairs checked."""
    topics: int
    """Topics some policy applies to."""
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    """Violations and unknowns, by topic then policy."""

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "violation")

    @property
    def unknown(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "unknown")

    def of_topic(self, topic: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.topic == topic)


@dataclass(frozen=True)
class ConfigChange:
    config: str
    """Topic config name."""
    before: str | None
    """Its value now (None: not reported)."""
    after: str
    """Its value after the change."""
    policy: str
    """The policy that asks for it."""


@dataclass(frozen=True)
class FixPlan:
    """What `policy fix` would change on one topic, from the configs read now."""

    cluster: str
    """Cluster name."""
    topic: str
    """Topic name."""
    changes: tuple[ConfigChange, ...]
    """Config changes, by config name."""
    not_fixable: tuple[Finding, ...]
    """Findings no config change fixes (partitions, replicas, `!=`), with what to do."""
    keep: Mapping[str, str]
    """The topic's other configs set on the topic: a plan is stale (refused) when they
    changed before it is applied."""

    def describe(self) -> str:
        """The plan in words, one change a line."""
        lines = [f"topic {self.topic} on {self.cluster}:"]
        for c in self.changes:
            before = "not reported" if c.before is None else c.before
            lines.append(f"  set {c.config}: {before} -> {c.after}   ({c.policy})")
        for f in self.not_fixable:
            lines.append(f"  not a config change: {f.rule} ({f.policy}): {f.fix_command}")
        if not self.changes:
            lines.append("  no topic config to change")
        return "\n".join(lines)
