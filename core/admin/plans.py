"""What an admin change will do, as every face shows it, and what it did.

Every change here is two steps, as offset resets are (core/offsets/service.py): a *plan* reads the
state it depends on and says what will change (`AdminPlan`: the state now, each change as
before -> after, warnings), changing nothing; an *apply* checks that state again (a plan
confirmed minutes later in Slack must not act on a state nobody saw: Conflict), makes the
change through the audit trail's one path (`core.audit.log.record_change`), and reads the
result back (`AdminResult`).

A plan is plain data (`to_jsonable` / `from_jsonable`), so the bot can keep it with a
pending confirmation and apply exactly what the prompt showed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: the audit trail's action names, which are also the Slack permissions
TOPIC_CREATE = "topic.create"
TOPIC_DELETE = "topic.delete"
TOPIC_CONFIG = "topic.config"
TOPIC_PARTITIONS = "topic.partitions"
GROUP_DELETE = "group.delete"
PRODUCE = "topic.produce"
ACTIONS = (TOPIC_CREATE, TOPIC_DELETE, TOPIC_CONFIG, TOPIC_PARTITIONS, GROUP_DELETE)
#: what a read-only refusal says each action would have done
VERBS = {
    TOPIC_CREATE: "create topic {}",
    TOPIC_DELETE: "delete topic {}",
    TOPIC_CONFIG: "change the configs of topic {}",
    TOPIC_PARTITIONS: "add partitions to topic {}",
    GROUP_DELETE: "delete group {}",
    PRODUCE: "produce to topic {}",
}


def refusal_words(action: str, target: str) -> str:
    """"delete topic 'orders'": the end of "cluster 'x' is read-only ...; refusing to ..."."""
    return VERBS.get(action, action + " {}").format(repr(target))


@dataclass(frozen=True)
class Change:
    """One line of a plan."""

    item: str
    """What changes: a config name, "partitions", "topic", "group"."""
    before: str
    """Its state now, as words ("3", "604800000", "does not exist", ...)."""
    after: str
    """Its state after the change."""


@dataclass(frozen=True)
class AdminPlan:
    """One planned change. Made by TopicAdmin / GroupAdmin `plan_*`; applied by their
    `apply`."""

    action: str
    """topic.create, topic.delete, topic.config, topic.partitions or group.delete."""
    cluster: str
    """Cluster it changes."""
    target: str
    """The topic or group."""
    title: str
    """One line: "Create topic 'orders' on cluster 'primary'"."""
    state: tuple[str, ...]
    """The state the plan was made from, one line each ("6 partitions, 1,204 messages")."""
    changes: tuple[Change, ...]
    """What will change."""
    params: Mapping[str, Any]
    """What apply needs, and what the audit record keeps (no record contents)."""
    warnings: tuple[str, ...] = ()
    """What the person should know before going ahead (key ordering, data loss, ...)."""
    read_only: bool = False
    """The cluster is read-only in config: this plan cannot be applied."""
    planned_at: float = field(default_factory=time.time)
    """When the state was read (epoch seconds)."""

    def summary(self) -> str:
        """One line for a prompt: the title and each change."""
        parts = [f"{c.item} {c.before} -> {c.after}" for c in self.changes[:6]]
        more = f", and {len(self.changes) - 6} more" if len(self.changes) > 6 else ""
        return f"{self.title}: {', '.join(parts)}{more}"

    def lines(self) -> list[str]:
        """The plan as text lines: title, state now, changes as a diff, warnings. What the
        CLI prints, the console's confirmation shows and Slack quotes."""
        out = [self.title, ""]
        if self.state:
            out.append("Now:")
            out += [f"  {s}" for s in self.state]
            out.append("")
        out.append("Will change:")
        width = max((len(c.item) for c in self.changes), default=0)
        for c in self.changes:
            out.append(f"  {c.item.ljust(width)}  {c.before}  ->  {c.after}")
        for w in self.warnings:
            out += ["", f"Warning: {w}"]
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "action": self.action, "cluster": self.cluster, "target": self.target,
            "title": self.title, "state": list(self.state),
            "changes": [{"item": c.item, "before": c.before, "after": c.after}
                        for c in self.changes],
            "params": dict(self.params), "warnings": list(self.warnings),
            "read_only": self.read_only, "planned_at": self.planned_at,
        }

    @classmethod
    def from_jsonable(cls, data: Mapping[str, Any]) -> AdminPlan:
        return cls(
            action=str(data["action"]), cluster=str(data["cluster"]),
            target=str(data["target"]), title=str(data["title"]),
            state=tuple(str(s) for s in data["state"]),
            changes=tuple(Change(str(c["item"]), str(c["before"]), str(c["after"]))
                          for c in data["changes"]),
            params=dict(data["params"]), warnings=tuple(str(w) for w in data["warnings"]),
            read_only=bool(data["read_only"]), planned_at=float(data["planned_at"]),
        )


@dataclass(frozen=True)
class AdminResult:
    """What an applied plan did, read back from the cluster."""

    plan: AdminPlan
    """The plan that was applied."""
    verified: bool
    """The state read back is what the plan said it would be."""
    read_back: tuple[str, ...]
    """What was read back, one line each ("topic 'x' has 6 partitions")."""

    def to_jsonable(self) -> dict[str, Any]:
        return {**self.plan.to_jsonable(), "applied": True, "verified": self.verified,
                "read_back": list(self.read_back)}


def audit_detail(result: AdminResult) -> dict[str, Any]:
    return {"verified": result.verified, "read_back": list(result.read_back)}
