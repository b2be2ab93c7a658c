"""Prometheus metrics: what kafkaops measured, in the text exposition format (0.0.4).

`MetricsRegistry` holds the latest lag snapshot of each cluster (the alert evaluator feeds
it every interval, so a scrape costs no Kafka request and two scrapers see the same
numbers), cluster reachability, and counters and gauges the alerting parts bump (events
published, notifications, Slack API errors, evaluation duration). `render()` writes the
text Prometheus scrapes; the bot serves it at /metrics next to /healthz (bot/alerts.py),
and `kafkaops alerts run --metrics-port N` serves it without the bot.

The format is written here (it is a few lines of escaping rules) rather than with
prometheus-client, which would be core's only dependency for it and would need a custom
collector for series that come and go with consumer groups anyway. A group that is deleted
disappears from the next snapshot and so from the next scrape.

Lag series (labels cluster, group, topic, partition):
    kafkaops_group_partition_lag            records not read yet (absent when not known:
                                            no offset, data loss, end unknown)
    kafkaops_group_partition_lag_seconds    age of the next record to read
    kafkaops_group_topic_lag                per group and topic; kafkaops_group_lag per group
    kafkaops_group_lag_seconds              oldest unread record of the group
    kafkaops_group_status{status=...}       1 for the group's current status, 0 for the others
    kafkaops_group_members, kafkaops_group_data_loss
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kafkaops.core.lag_status import Status

if TYPE_CHECKING:
    from kafkaops.core.lag import LagSnapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: name -> (type, help) of every metric that is not a lag series
KNOWN: dict[str, tuple[str, str]] = {
    "kafkaops_cluster_up": ("gauge", "1 when the cluster answered the last evaluation"),
    "kafkaops_lag_snapshot_timestamp_seconds": (
        "gauge", "When the lag shown was read (epoch seconds)"),
    "kafkaops_lag_snapshot_duration_seconds": ("gauge", "How long the last lag snapshot took"),
    "kafkaops_alerts_firing": ("gauge", "Alerts firing now, per rule and severity"),
    "kafkaops_alert_events_published_total": (
        "counter", "Events written to the alerts topic, by type"),
    "kafkaops_alert_evaluations_total": ("counter", "Rule evaluations run"),
    "kafkaops_alert_evaluation_failures_total": (
        "counter", "Evaluations that could not publish their events"),
    "kafkaops_alert_evaluation_duration_seconds": (
        "gauge", "How long the last rule evaluation took"),
    "kafkaops_alert_notifications_total": (
        "counter", "Alert messages Slack accepted, by kind (post, refire, resolve, notice)"),
    "kafkaops_alert_delivery_failures_total": (
        "counter", "Alert messages Slack did not accept (each attempt), by kind"),
    "kafkaops_slack_api_errors_total": (
        "counter", "Slack Web API calls that failed, by method and error"),
    "kafkaops_event_rule_matches_total": (
        "counter", "Records that matched an event rule, by rule"),
}

_LAG: dict[str, str] = {
    "kafkaops_group_partition_lag": "Records the group has not read yet, per partition",
    "kafkaops_group_partition_lag_seconds": "Age of the next record the group will read",
    "kafkaops_group_topic_lag": "Records the group has not read yet, per topic",
    "kafkaops_group_topic_lag_seconds": "Age of the oldest unread record, per topic",
    "kafkaops_group_lag": "Records the group has not read yet",
    "kafkaops_group_lag_seconds": "Age of the oldest record the group has not read",
    "kafkaops_group_status": "1 for the group's lag status, 0 for the others",
    "kafkaops_group_members": "Consumers in the group",
    "kafkaops_group_data_loss": "1 when records were deleted before the group read them",
}

Labels = tuple[tuple[str, str], ...]


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def sample_line(name: str, labels: Mapping[str, str] | Labels, value: float) -> str:
    items = labels.items() if isinstance(labels, Mapping) else labels
    body = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in items)
    return f"{name}{{{body}}} {format_value(value)}" if body else f"{name} {format_value(value)}"


def family(name: str, kind: str, help_text: str,
           samples: Iterable[tuple[Mapping[str, str] | Labels, float]]) -> list[str]:
    """One metric family: HELP, TYPE and its samples."""
    lines = [f"# HELP {name} {escape_help(help_text)}", f"# TYPE {name} {kind}"]
    lines += [sample_line(name, labels, value) for labels, value in samples]
    return lines


def lag_families(snapshots: Iterable[LagSnapshot]) -> list[str]:
    """The lag series of some snapshots (one per cluster)."""
    rows: dict[str, list[tuple[dict[str, str], float]]] = {k: [] for k in _LAG}
    for snap in snapshots:
        c = snap.cluster
        for g in snap.groups:
            base = {"cluster": c, "group": g.group}
            for p in g.partitions:
                labels = {**base, "topic": p.topic, "partition": str(p.partition)}
                if p.lag is not None:
                    rows["kafkaops_group_partition_lag"].append((labels, p.lag))
                if p.lag_seconds is not None:
                    rows["kafkaops_group_partition_lag_seconds"].append((labels, p.lag_seconds))
            for t in g.topics:
                labels = {**base, "topic": t.topic}
                if t.lag is not None:
                    rows["kafkaops_group_topic_lag"].append((labels, t.lag))
                if t.lag_seconds is not None:
                    rows["kafkaops_group_topic_lag_seconds"].append((labels, t.lag_seconds))
            if g.lag is not None:
                rows["kafkaops_group_lag"].append((base, g.lag))
            if g.lag_seconds is not None:
                rows["kafkaops_group_lag_seconds"].append((base, g.lag_seconds))
            for s in Status:
                rows["kafkaops_group_status"].append(
                    ({**base, "status": s.value}, 1.0 if g.status is s else 0.0))
            if g.member_count is not None:
                rows["kafkaops_group_members"].append((base, g.member_count))
            rows["kafkaops_group_data_loss"].append((base, 1.0 if g.data_loss else 0.0))
    out: list[str] = []
    for name, help_text in _LAG.items():
        out += family(name, "gauge", help_text, rows[name])
    return out


class MetricsRegistry:
    """Everything /metrics shows. Shared through `Services.metrics`; safe to render from
    any thread (a scrape handler) while the evaluator updates it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lag: dict[str, LagSnapshot] = {}
        self._values: dict[str, dict[Labels, float]] = {}

    def observe_lag(self, snapshot: LagSnapshot) -> None:
        """The newest lag snapshot of its cluster (replaces the previous one)."""
        with self._lock:
            self._lag[snapshot.cluster] = snapshot
        self.set("kafkaops_lag_snapshot_timestamp_seconds", {"cluster": snapshot.cluster},
                 snapshot.taken_at)
        self.set("kafkaops_lag_snapshot_duration_seconds", {"cluster": snapshot.cluster},
                 snapshot.elapsed)

    def lag(self, cluster: str) -> LagSnapshot | None:
        with self._lock:
            return self._lag.get(cluster)

    def set(self, name: str, labels: Mapping[str, str], value: float) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values.setdefault(name, {})[key] = float(value)

    def inc(self, name: str, labels: Mapping[str, str] | None = None, by: float = 1.0) -> None:
        key = tuple(sorted((labels or {}).items()))
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + by

    def replace(self, name: str, samples: Mapping[Labels, float]) -> None:
        """All series of a gauge at once (series not given are gone)."""
        with self._lock:
            self._values[name] = dict(samples)

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        key = tuple(sorted((labels or {}).items()))
        with self._lock:
            return self._values.get(name, {}).get(key)

    def render(self) -> str:
        with self._lock:
            snaps = [self._lag[c] for c in sorted(self._lag)]
            values = {k: dict(v) for k, v in self._values.items()}
        out = lag_families(snaps)
        for name in sorted(set(KNOWN) | set(values)):
            kind, help_text = KNOWN.get(name, ("gauge", name))
            series = values.get(name, {})
            out += family(name, kind, help_text, sorted(series.items()))
        return "\n".join(out) + "\n"


def parse_text(text: str) -> dict[str, dict[Labels, float]]:
    """Read the exposition format back (samples only): name -> labels -> value. For tests
    and `kafkaops alerts` self-checks; understands what `render` writes."""
    import re

    out: dict[str, dict[Labels, float]] = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        if m is None:
            raise ValueError(f"not a sample line: {line!r}")
        labels: list[tuple[str, str]] = []
        if m.group(2):
            for lm in label_re.finditer(m.group(2)):
                raw = lm.group(2)
                value = re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), raw)
                labels.append((lm.group(1), value))
        raw_value = m.group(3)
        v: Any = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(raw_value)
        out.setdefault(m.group(1), {})[tuple(sorted(labels))] = (
            float(raw_value) if v is None else v)
    return out
