"""Metric rules evaluated: `for:` durations, flap damping, "markedly worse", and the
firing / changed / resolved events an evaluation produces (AlertTracker). Pure: the clock
is passed in, the published state is read from an AlertBook.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kafkaops.core.alerts.book import AlertBook, AlertView
from kafkaops.core.alerts.conditions import Cmp, Expr, evaluate, metrics_of
from kafkaops.core.alerts.metrics import METRICS, show_value
from kafkaops.core.alerts.model import (
    AlertEvent,
    MetricRule,
    Observation,
    Scope,
    Subject,
    alert_id,
)
from kafkaops.core.expr.kernel import BoolOp
from kafkaops.core.lag.status import Status


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict on one subject, for `kafkaops alerts check` and the evaluator."""

    rule: str
    """Rule name."""
    alert_id: str
    """Stable alert id."""
    subject: Subject
    """What it is about."""
    holds: bool | None
    """The condition now: true, false, or None when a metric it needs is not known."""
    values: Mapping[str, Any]
    """The metrics it read."""
    summary: str
    """The values against the condition, for people."""
    pending_seconds: float | None = None
    """How long the condition has held (None: it does not hold)."""
    firing: bool = False
    """The alert is firing (published, or fires with this evaluation)."""


class AlertTracker:
    """`for:` durations and flap damping for the metric rules: turns each evaluation into
    firing and resolved events. Pure: the time comes in, the published state is read from
    an AlertBook (the evaluators' shared memory), events go out.

    - An alert fires when its condition has held for the rule's `for:` (0: at once) and the
      topic does not already say it is firing (another replica may have published it).
    - It resolves when the condition is false, or its subject is gone from a cluster that
      answered, once it has been firing for at least `min_firing` (flapping is damped).
    - An unknown condition (a metric not known, a cluster that did not answer) changes
      nothing.
    """

    def __init__(self, rules: Sequence[MetricRule], *, min_firing: float = 0.0,
                 by: str = "") -> None:
        self.rules = list(rules)
        self.min_firing = min_firing
        self.by = by
        #: alert id -> (when its condition started to hold, its subject)
        self.pending: dict[str, tuple[float, Subject]] = {}

    def step(self, now: float, observations: Iterable[Observation], *,
             observed: set[str], book: AlertBook) -> tuple[list[AlertEvent], list[RuleResult]]:
        """One evaluation. `observations` hold every subject measured this time; `observed`
        names the clusters (and `dr:PAIR`s) that answered, so a subject missing from them
        is gone, while subjects of the others are unknown. Returns the events to publish
        (already applied to `book`) and every rule's verdict."""
        obs = list(observations)
        events: list[AlertEvent] = []
        results: list[RuleResult] = []
        for rule in self.rules:
            seen: set[str] = set()
            for o in obs:
                if not _fits(rule, o) or not rule.matches(o.subject):
                    continue
                aid = alert_id(rule.name, o.subject)
                seen.add(aid)
                holds = evaluate(rule.expr, o.values)
                values = {m: o.values.get(m) for m in metrics_of(rule.expr)}
                view = book.get(aid)
                firing = view is not None and view.state == "firing"
                ev = None
                if holds is True:
                    since = self.pending.setdefault(aid, (now, o.subject))[0]
                    if not firing and now - since >= rule.for_seconds:
                        ev = self._event(rule, "firing", o.subject, values, now, view, since,
                                         topics=o.topics)
                    elif firing and view is not None and view.firing is not None:
                        ref = view.change or view.firing
                        if worse(rule.expr, ref.values, values):
                            ev = dataclasses.replace(
                                view.firing, type="changed", at=now, values=dict(values),
                                summary=f"{o.subject.label()}: {describe(rule, values)}",
                                step=(view.change.step if view.change else 0) + 1, by=self.by)
                elif holds is False:
                    self.pending.pop(aid, None)
                    if firing and view is not None and now - view.fired_at >= self.min_firing:
                        ev = self._event(rule, "resolved", o.subject, values, now, view, None)
                if ev is not None:
                    book.apply(ev)
                    events.append(ev)
                    firing = ev.type in ("firing", "changed")
                held = self.pending.get(aid)
                results.append(RuleResult(
                    rule.name, aid, o.subject, holds, values, describe(rule, values),
                    None if held is None or holds is not True else now - held[0], firing))
            # alerts of this rule whose subject went away (group or topic deleted)
            for view in list(book.alerts.values()):
                ev0 = view.event
                if (view.state != "firing" or ev0.rule != rule.name or view.alert_id in seen
                        or not _answered(ev0.subject, observed)):
                    continue
                self.pending.pop(view.alert_id, None)
                if now - view.fired_at >= self.min_firing:
                    ev = self._event(rule, "resolved", ev0.subject, {}, now, view, None,
                                     gone=True)
                    book.apply(ev)
                    events.append(ev)
        # a pending condition whose subject is gone from a cluster that answered is over;
        # one on a cluster that did not answer is kept (unknown changes nothing)
        live = {r.alert_id for r in results}
        for aid in [a for a, (_, s) in self.pending.items()
                    if a not in live and _answered(s, observed)]:
            del self.pending[aid]
        return events, results

    def _event(self, rule: MetricRule, kind: Literal["firing", "resolved"], subject: Subject,
               values: Mapping[str, Any], now: float, view: AlertView | None,
               since: float | None, *, gone: bool = False,
               topics: Sequence[str] = ()) -> AlertEvent:
        if kind == "firing":
            seq = (view.seq if view is not None else 0) + 1
            summary = f"{subject.label()}: {describe(rule, values)} ({rule.when})"
        else:
            assert view is not None
            seq = view.seq
            summary = (f"{subject.label()}: no longer reported (deleted?)" if gone
                       else f"{subject.label()}: {describe(rule, values)}")
        if kind == "resolved" and view is not None and view.firing is not None:
            channel, owner = view.firing.channel, view.firing.owner  # where it was posted
        else:
            channel, owner = rule.route(subject, topics)
        return AlertEvent(
            type=kind, alert_id=alert_id(rule.name, subject), at=now, rule=rule.name, seq=seq,
            severity=rule.severity, channel=channel, subject=subject, when=rule.when,
            values={k: v for k, v in values.items()}, summary=summary, since=since,
            fired_at=None if view is None or kind == "firing" else view.fired_at,
            for_seconds=rule.for_seconds, by=self.by, owner=owner, runbook=rule.runbook,
        )


#: how much worse a firing alert's value must get before its thread is told again
WORSE_FACTOR = 2.0


def worse(expr: Expr, before: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    """Whether a firing alert got markedly worse since `before` (the values last told):
    a count or duration the condition bounds from below (`lag > 1000`) at least doubled,
    one it bounds from above (`members < 2`) at least halved, or a status more severe.
    Doubling keeps a steadily growing lag to a few messages, not one per evaluation."""
    for metric, op in _directions(expr):
        a, b = before.get(metric), now.get(metric)
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            continue
        if METRICS[metric].kind == "status":
            try:
                if Status.parse(str(getattr(b, "value", b))).severity > Status.parse(
                        str(getattr(a, "value", a))).severity:
                    return True
            except ValueError:
                continue
            continue
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            continue
        if op in (">", ">=") and x > 0 and y >= x * WORSE_FACTOR:
            return True
        if op in ("<", "<=") and y <= x / WORSE_FACTOR and y < x:
            return True
    return False


def _directions(expr: Expr) -> list[tuple[str, str]]:
    """(metric, operator) of each comparison in a condition that is not negated."""
    if isinstance(expr, Cmp):
        return [(expr.metric, expr.op)]
    if isinstance(expr, BoolOp):
        return [d for e in expr.operands for d in _directions(e)]
    return []


def _fits(rule: MetricRule, o: Observation) -> bool:
    """The observation is of the rule's kind of subject (and granularity)."""
    s = o.subject
    if rule.scope == "group":
        return s.group is not None and (s.topic is not None) == rule.per_topic
    if rule.scope == "topic":
        return s.group is None and s.topic is not None
    if rule.scope == "cluster":
        return s.group is None and s.topic is None and s.pair is None and s.connector is None
    if rule.scope == "connector":
        return s.connector is not None
    return s.pair is not None


def _answered(subject: Subject, observed: set[str]) -> bool:
    if subject.pair is not None:
        return f"dr:{subject.pair}" in observed
    if subject.connector is not None:  # its Connect cluster answered, whatever Kafka did
        return f"connect:{subject.cluster}/{subject.connect}" in observed
    return subject.cluster in observed


def needs(rules: Iterable[MetricRule], clusters: Iterable[str]) -> dict[str, set[Scope]]:
    """Which cluster needs which reads (group lag, topic metadata, reachability) for
    these rules: cluster name -> scopes."""
    out: dict[str, set[Scope]] = {}
    names = list(clusters)
    for r in rules:
        if r.scope in ("dr", "connector"):  # read by their own services, not per cluster
            continue
        pattern = r.match.get("cluster", "*")
        for n in names:
            if fnmatch.fnmatchcase(n, pattern):
                out.setdefault(n, set()).add(r.scope)
    return out


def describe(rule: MetricRule, values: Mapping[str, Any]) -> str:
    """The values a rule's condition reads: "lag_seconds 6m52s, members 0"."""
    return ", ".join(f"{m} {show_value(m, values.get(m))}" for m in metrics_of(rule.expr))

