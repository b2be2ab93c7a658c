"""What each metric of a rule's `when` means, on what kind of subject it is measured, and
how it is computed from what the services read (lag snapshots, metadata, DR status).

Metrics (and the subject each alert is about):
- consumer group (match: cluster, group, topic): `lag` (records), `lag_seconds` (age of the
  oldest unread record), `status` (OK, WARN, STALL, STOP, ERR, REWIND, DATA_LOSS; `>=`
  compares by severity), `members`, `data_loss`. With `match.topic` one alert per group
  and topic, on that topic's lag; else one per group.
- topic (match: cluster, topic): `offline_partitions`, `under_replicated_partitions`,
  `policy_violations`, `policy_unknown` (core/policy), `bytes_in_rate`, `baseline`
  (core/usage).
- cluster (match: cluster): `unreachable` (no broker answered).
- DR pair (match: pair): `dr_lag` (records), `dr_lag_seconds`, `heartbeat_age` (seconds),
  `rpo_exceeded` (the RPO estimate is above the pair's rpo).
- Kafka Connect connector (match: cluster, connect, connector): `failed_tasks`,
  `connector_failed` (measured by core/connect/alerting.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.alerts.model import Observation, Scope, Subject
from kafkaops.core.lag.status import Status, age

if TYPE_CHECKING:
    from kafkaops.core.lag.model import LagSnapshot
    from kafkaops.core.records import MetadataSnapshot

Kind = Literal["count", "seconds", "status", "bool"]

@dataclass(frozen=True)
class MetricSpec:
    name: str
    """Name used in `when`."""
    scope: Scope
    """Kind of subject it is measured on."""
    kind: Kind
    """count: a number of records/partitions/members; seconds: a duration (5m allowed);
    status: a lag status; bool: true or false (usable bare)."""
    help: str
    """What it measures, for error messages and docs."""


METRICS: dict[str, MetricSpec] = {m.name: m for m in (
    MetricSpec("lag", "group", "count", "records the group has not read yet"),
    MetricSpec("lag_seconds", "group", "seconds", "age of the oldest record not read yet"),
    MetricSpec("status", "group", "status", "lag status judged over the window"),
    MetricSpec("members", "group", "count", "consumers in the group"),
    MetricSpec("data_loss", "group", "bool",
               "committed offset below the log start: records deleted unread"),
    MetricSpec("offline_partitions", "topic", "count", "partitions with no leader"),
    MetricSpec("under_replicated_partitions", "topic", "count",
               "partitions whose ISR is smaller than their replica set"),
    MetricSpec("unreachable", "cluster", "bool", "no broker of the cluster answered"),
    MetricSpec("dr_lag", "dr", "count", "largest replication lag of a topic, in records"),
    MetricSpec("dr_lag_seconds", "dr", "seconds", "largest replication lag, in seconds"),
    MetricSpec("heartbeat_age", "dr", "seconds", "age of the newest MirrorMaker heartbeat"),
    MetricSpec("rpo_exceeded", "dr", "bool", "the RPO estimate is above the pair's rpo"),
    MetricSpec("failed_tasks", "connector", "count", "tasks of a Connect connector FAILED"),
    MetricSpec("policy_violations", "topic", "count",
               "requirements of the policies in config the topic breaks"),
    MetricSpec("policy_unknown", "topic", "count",
               "policy requirements whose value the broker does not report"),
    MetricSpec("bytes_in_rate", "topic", "count",
               "bytes a second produced over the last 5 minutes (core/usage)"),
    MetricSpec("baseline", "topic", "count",
               "bytes a second produced over the hour before those 5 minutes"),
    MetricSpec("connector_failed", "connector", "bool",
               "the Connect connector instance itself FAILED"),
)}
ALIASES = {
    "broker_unreachable": "unreachable",
    "offline": "offline_partitions",
    "under_replicated": "under_replicated_partitions",
    "dr_lag_messages": "dr_lag",
    "lag_records": "lag",
}
#: the `match:` keys each kind of rule accepts
MATCH_KEYS: dict[Scope, tuple[str, ...]] = {
    "group": ("cluster", "group", "topic"),
    "topic": ("cluster", "topic"),
    "cluster": ("cluster",),
    "dr": ("pair",),
    "connector": ("cluster", "connect", "connector"),
}
SCOPE_WORDS = {"group": "consumer group", "topic": "topic", "cluster": "cluster",
                "dr": "DR pair", "connector": "Connect connector"}


def kind_words(spec: MetricSpec) -> str:
    """What a metric's values are, in words: "a count", "a duration in seconds"."""
    return {"count": "a count", "seconds": "a duration in seconds", "status": "a status",
            "bool": "true or false"}[spec.kind]


def group_observations(snapshot: LagSnapshot, *, per_topic: bool) -> list[Observation]:
    """The group metrics of every group in a lag snapshot (per group, or per group and
    topic)."""
    out: list[Observation] = []
    for g in snapshot.groups:
        members = g.member_count
        if not per_topic:
            out.append(Observation(
                Subject(cluster=snapshot.cluster, group=g.group),
                {"lag": g.lag, "lag_seconds": g.lag_seconds, "status": g.status,
                 "members": members, "data_loss": g.data_loss},
                tuple(t.topic for t in g.topics)))
            continue
        for t in g.topics:
            loss = any(p.topic == t.topic and p.state.value == "data loss" for p in g.partitions)
            out.append(Observation(
                Subject(cluster=snapshot.cluster, group=g.group, topic=t.topic),
                {"lag": t.lag, "lag_seconds": t.lag_seconds, "status": t.status,
                 "members": members, "data_loss": loss}))
    return out


def topic_observations(cluster: str, meta: MetadataSnapshot) -> list[Observation]:
    """Offline and under-replicated partitions of every topic in a Metadata answer."""
    out = []
    for t in meta.topics.values():
        out.append(Observation(Subject(cluster=cluster, topic=t.name), {
            "offline_partitions": sum(1 for p in t.partitions if p.leader is None),
            "under_replicated_partitions": sum(
                1 for p in t.partitions if len(p.isr) < len(p.replicas)),
        }))
    return out


def cluster_observation(cluster: str, *, reachable: bool) -> Observation:
    return Observation(Subject(cluster=cluster), {"unreachable": not reachable})


def dr_observation(status: Any) -> Observation:
    """The DR metrics of a pair from core.dr's DrStatus."""
    exceeded = None if status.rpo_ok is None else not status.rpo_ok
    return Observation(Subject(pair=status.pair), {
        "dr_lag": status.max_lag_messages,
        "dr_lag_seconds": status.max_lag_seconds,
        "heartbeat_age": status.heartbeat_age_seconds,
        "rpo_exceeded": exceeded,
    })


def show_value(metric: str, value: Any) -> str:
    """A metric's value as people read it: 6m52s, 12,345, STOP, yes."""
    if value is None:
        return "unknown"
    spec = METRICS.get(metric)
    if isinstance(value, Status):
        return value.label
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec is not None and spec.kind == "seconds":
        return age(float(value))
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)

