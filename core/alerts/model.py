"""The alerts' records: rules as compiled from config, what an alert is about, what was
measured, stable alert ids, and the events on `_kafkaops.alerts`.

Alert ids are stable: a hash of the rule name and the subject (cluster, group, topic, pair),
so the same problem keeps its id across evaluations, evaluator replicas and restarts, and
editing a rule's threshold does not orphan an alert that is firing.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.lag.status import Status
from kafkaops.core.untrusted import parse_json

if TYPE_CHECKING:
    from kafkaops.core.alerts.conditions import Expr
    from kafkaops.core.expr.filter import Filter

Scope = Literal["group", "topic", "cluster", "dr", "connector"]
Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")


# ---------------------------------------------------------------- compiled rules


@dataclass(frozen=True)
class MetricRule:
    name: str
    """Rule name; part of every alert id it produces."""
    channel: str
    """Slack channel id or #name."""
    severity: Severity
    """critical, warning or info."""
    when: str
    """The condition as written."""
    expr: Expr
    """The condition parsed."""
    scope: Scope
    """Kind of subject each alert is about."""
    match: Mapping[str, str]
    """Glob patterns on cluster, group, topic or pair; a missing key matches everything."""
    for_seconds: float
    """The condition must hold this long before the alert fires."""
    owner: tuple[str, ...] = ()
    """Slack IDs to @mention (S... user groups, U... users); else the routed team's."""
    runbook: str = ""
    """Link to the runbook ("" when none)."""
    routes: tuple[Route, ...] = ()
    """Teams alerts are routed by (`team:` given: that one team only)."""

    def route(self, subject: Subject, topics: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
        """(channel, owner) of an alert about `subject` (`topics`: a group's topics)."""
        return route(self.routes, self.channel, self.owner, subject, topics)

    @property
    def per_topic(self) -> bool:
        """A group rule that names topics: one alert per group and topic."""
        return self.scope == "group" and "topic" in self.match

    def matches(self, subject: Subject) -> bool:
        for key, pattern in self.match.items():
            value = getattr(subject, key)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        return True


@dataclass(frozen=True)
class EventRule:
    name: str
    """Rule name; notices say it."""
    channel: str
    """Slack channel id or #name."""
    severity: Severity
    """critical, warning or info."""
    cluster: str
    """Cluster of the watched topic."""
    topic: str
    """Watched topic."""
    filter_text: str | None
    """The filter as written (None: every record)."""
    filter: Filter | None
    """The compiled filter (the language of `tail --filter`)."""
    message: str
    """Template of the notice text: {field} references."""
    max_per_minute: int
    """At most this many Slack messages a minute; further matches are grouped and counted."""
    owner: tuple[str, ...] = ()
    """Slack IDs to @mention on its notices."""
    runbook: str = ""
    """Link to the runbook ("" when none)."""


@dataclass(frozen=True)
class Route:
    """A team under `teams:` as alerts are routed: alerts about its topics go to its
    channel and @mention its owner (when the rule names no owner)."""

    team: str
    """Team name."""
    patterns: tuple[str, ...]
    """Glob patterns on topic names."""
    channel: str | None
    """Its channel (None: the rule's own)."""
    owner: tuple[str, ...]
    """Its owner's Slack IDs."""
    forced: bool = False
    """The rule named this team with `team:`: it applies whatever the topic."""

    def owns(self, subject: Subject, topics: Sequence[str]) -> bool:
        if self.forced:
            return True
        names = [subject.topic] if subject.topic is not None else list(topics)
        return any(fnmatch.fnmatchcase(t, p) for t in names for p in self.patterns)


def route(routes: Sequence[Route], channel: str, owner: tuple[str, ...], subject: Subject,
          topics: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
    """Where an alert goes and whom it @mentions: the first team that owns its topic (or
    one of its group's topics) routes it to the team's channel and owner; the rule's own
    channel and owner otherwise (the rule's owner always wins over the team's)."""
    for r in routes:
        if r.owns(subject, topics):
            return r.channel or channel, owner or r.owner
    return channel, owner


@dataclass(frozen=True)
class Rules:
    metric: tuple[MetricRule, ...]
    """Metric rules, in config order."""
    event: tuple[EventRule, ...]
    """Event rules, in config order."""


# ---------------------------------------------------------------- subjects and observations


@dataclass(frozen=True)
class Subject:
    """What an alert is about."""

    cluster: str | None = None
    """Cluster name (None for DR pairs)."""
    group: str | None = None
    """Consumer group."""
    topic: str | None = None
    """Topic."""
    pair: str | None = None
    """DR pair."""
    connect: str | None = None
    """Kafka Connect cluster (clusters.<cluster>.connect[].name) of a connector."""
    connector: str | None = None
    """Kafka Connect connector."""

    def label(self) -> str:
        """How people read it: "group orders on primary", "topic t (group g) on primary"."""
        if self.pair is not None:
            return f"DR pair {self.pair}"
        where = f" on {self.cluster}" if self.cluster else ""
        if self.connector is not None:
            return f"connector {self.connector} (Connect {self.connect}){where}"
        if self.group is not None and self.topic is not None:
            return f"group {self.group}, topic {self.topic}{where}"
        if self.group is not None:
            return f"group {self.group}{where}"
        if self.topic is not None:
            return f"topic {self.topic}{where}"
        return f"cluster {self.cluster}"

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: Any) -> Subject:
        if not isinstance(data, dict):
            return cls()
        return cls(**{k: str(data[k]) for k in ("cluster", "group", "topic", "pair",
                                                "connect", "connector")
                      if data.get(k) is not None})


@dataclass(frozen=True)
class Observation:
    subject: Subject
    """What was measured."""
    values: Mapping[str, Any]
    """Metric name -> value this time (None: not known)."""
    topics: tuple[str, ...] = ()
    """A consumer group's topics (routes its alert to the team that owns them)."""


def alert_id(rule: str, subject: Subject) -> str:
    """Stable id of the alert `rule` raises about `subject`: the same across evaluations,
    replicas and restarts; independent of the rule's threshold."""
    parts = [rule, subject.cluster, subject.group, subject.topic, subject.pair]
    if subject.connector is not None:  # only then: the ids of every other subject stay
        parts += [subject.connect, subject.connector]
    raw = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return "a-" + hashlib.blake2b(raw.encode("utf-8"), digest_size=10).hexdigest()


def _json_value(v: Any) -> Any:
    if isinstance(v, Status):
        return v.value
    if isinstance(v, float):
        return round(v, 3)
    return v


# ---------------------------------------------------------------- events on the topic

EventType = Literal["firing", "resolved", "notice", "delivered", "snoozed", "acked",
                    "changed"]
EVENT_TYPES = ("firing", "resolved", "notice", "delivered", "snoozed", "acked", "changed")


@dataclass(frozen=True)
class AlertEvent:
    """One record on `_kafkaops.alerts` (key: alert_id). The evaluator writes firing,
    changed (a firing alert got markedly worse) and resolved, event rules write notice, the
    notifier writes delivered once Slack accepted a message, and the alert's buttons write
    snoozed and acked."""

    type: EventType
    """firing | changed | resolved | notice | delivered | snoozed | acked."""
    alert_id: str
    """Stable alert id (alert_id()) or notice id; the record key."""
    at: float
    """When it was written (epoch seconds)."""
    rule: str = ""
    """Rule name."""
    seq: int = 0
    """Firing episode of this alert: 1 for its first firing, 2 after it resolved and fired
    again, ...; firing and resolved of one episode share it."""
    severity: str = "warning"
    """critical, warning or info."""
    channel: str = ""
    """Where the rule posts (channel id or #name)."""
    subject: Subject = field(default_factory=Subject)
    """What the alert is about."""
    when: str = ""
    """The rule's condition as written."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """The metrics the condition read, this time."""
    summary: str = ""
    """One line for people: the values against the condition."""
    since: float | None = None
    """firing: when the condition started to hold."""
    fired_at: float | None = None
    """resolved: when the alert fired."""
    for_seconds: float = 0.0
    """The rule's `for:`."""
    by: str = ""
    """Who wrote it: evaluator host:pid, notifier, or the Slack user who snoozed."""
    text: str = ""
    """notice: the first matching record's rendered message."""
    count: int = 0
    """notice: matching records it stands for."""
    examples: tuple[tuple[str, int], ...] = ()
    """notice: distinct rendered messages with how many records rendered so, first seen
    first (at most NOTICE_EXAMPLES)."""
    first_at: float | None = None
    """notice: timestamp of the first matching record."""
    last_at: float | None = None
    """notice: timestamp of the last matching record."""
    of: str = ""
    """delivered: which event was delivered (firing, resolved, notice)."""
    target: str = ""
    """delivered: the channel id Slack answered with."""
    ts: str = ""
    """delivered: the Slack message ts (what chat.update needs)."""
    posted_at: float | None = None
    """delivered: when that Slack message was first posted."""
    times: int = 1
    """delivered: firings this one message stands for (re-firings within the renotify
    interval update it instead of posting anew)."""
    until: float | None = None
    """snoozed: no Slack message for this alert until then; 0 lifts a snooze; none (with
    `seq`) holds it until that firing episode resolves."""
    error: str = ""
    """delivered: set when Slack refused the message for good (it is not retried)."""
    owner: tuple[str, ...] = ()
    """firing, notice: Slack IDs to @mention (user groups S..., users U...)."""
    runbook: str = ""
    """firing, notice: the rule's runbook link."""
    step: int = 0
    """changed: how many times this firing episode got markedly worse (1, 2, ...)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": 1}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in _EVENT_DEFAULTS and v == _EVENT_DEFAULTS[f.name]:
                continue
            if isinstance(v, Subject):
                v = v.to_json()
            elif f.name == "values":
                v = {k: _json_value(x) for k, x in v.items()}
            elif f.name == "examples":
                v = [list(x) for x in v]
            elif f.name == "owner":
                v = list(v)
            out[f.name] = v
        return out

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> AlertEvent:
        """Parse a record value; ValueError for anything that is not an alert event."""
        if not raw:
            raise ValueError("empty record")
        data = parse_json(raw)
        if not isinstance(data, dict) or data.get("type") not in EVENT_TYPES:
            raise ValueError("not an alert event")
        if not isinstance(data.get("alert_id"), str) or not isinstance(data.get("at"),
                                                                        int | float):
            raise ValueError("alert event without alert_id or at")
        kwargs: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for k, v in data.items():
            if k not in names:
                continue
            if k == "subject":
                v = Subject.from_json(v)
            elif k == "examples":
                v = tuple((str(t), int(n)) for t, n in v)
            elif k == "values":
                v = dict(v) if isinstance(v, dict) else {}
            elif k == "owner":
                v = tuple(str(x) for x in v[:20]) if isinstance(v, list) else ()
            elif k == "step":
                v = v if isinstance(v, int) and not isinstance(v, bool) else 0
            kwargs[k] = v
        return cls(**kwargs)


NOTICE_EXAMPLES = 10
#: the value of each AlertEvent field when not given: left out of the JSON
_EVENT_DEFAULTS: dict[str, Any] = {
    f.name: getattr(AlertEvent(type="firing", alert_id="", at=0.0), f.name)
    for f in dataclasses.fields(AlertEvent) if f.name not in ("type", "alert_id", "at")
}


