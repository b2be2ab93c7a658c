"""Prometheus metrics: what kafkaops measured, exposed with prometheus-client.

`MetricsRegistry` (one per Services) holds the latest lag snapshot of each cluster (the alert
evaluator feeds it every interval, so a scrape costs no Kafka request and two scrapers see
the same numbers), cluster reachability, and the counters and gauges the alerting parts bump
(events published, notifications, Slack API errors, evaluation duration). The bot serves it
at /metrics next to /healthz (bot/alerts.py), and `kafkaops alerts run --metrics-port N`
serves it without the bot.

prometheus-client writes the exposition text (`generate_latest`: escaping, number format,
HELP and TYPE lines) and names its content type. Each MetricsRegistry owns a private
`CollectorRegistry`, never the process-wide default one: several Services in one process (a
test session, a CLI run) keep their numbers apart, and the default registry's process and
Python collectors do not show up as kafkaops metrics.

Everything is yielded by one custom collector (`_Collector`) at scrape time, rather than
kept in prometheus-client's Counter and Gauge objects: lag series come and go with consumer
groups (a deleted group is absent from the next snapshot and so from the next scrape, where
a labelled Gauge would keep showing it until removed by hand), the firing gauge is replaced
whole each evaluation, a scrape reads one consistent state under one lock, and Counter
objects would add a `_created` series per counter that nobody here reads.

Lag series (labels cluster, group, topic, partition):
    kafkaops_group_partition_lag            records not read yet (absent when not known:
                                            no offset, data loss, end unknown)
    kafkaops_group_partition_lag_seconds    age of the next record to read
    kafkaops_group_topic_lag                per group and topic; kafkaops_group_lag per group
    kafkaops_group_lag_seconds              oldest unread record of the group
    kafkaops_group_status{status=...}       1 for the group's current status, 0 for the others
    kafkaops_group_members, kafkaops_group_data_loss
The other metrics, with their labels, are listed in `KNOWN`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from kafkaops.core.lag.status import Status

if TYPE_CHECKING:
    from kafkaops.core.lag.model import LagSnapshot

#: Content-Type of what `render` / `exposition` return (the Prometheus text format)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class MetricSpec:
    """One metric that is not a lag series."""

    kind: str
    """"gauge" or "counter" (a counter's name ends in _total)."""
    help: str
    """The HELP line: what the number means, for whoever reads the scrape."""
    labels: tuple[str, ...] = ()
    """Its label names; every sample set must give exactly these."""


def _gauge(help_text: str, *labels: str) -> MetricSpec:
    return MetricSpec("gauge", help_text, labels)


def _counter(help_text: str, *labels: str) -> MetricSpec:
    return MetricSpec("counter", help_text, labels)


#: every metric that is not a lag series, by name
KNOWN: dict[str, MetricSpec] = {
    "kafkaops_cluster_up": _gauge("1 when the cluster answered the last evaluation", "cluster"),
    "kafkaops_lag_snapshot_timestamp_seconds": _gauge(
        "When the lag shown was read (epoch seconds)", "cluster"),
    "kafkaops_lag_snapshot_duration_seconds": _gauge(
        "How long the last lag snapshot took", "cluster"),
    "kafkaops_alerts_firing": _gauge(
        "Alerts firing now, per rule and severity", "rule", "severity"),
    "kafkaops_alert_events_published_total": _counter(
        "Events written to the alerts topic, by type", "type"),
    "kafkaops_alert_evaluations_total": _counter("Rule evaluations run"),
    "kafkaops_alert_evaluation_failures_total": _counter(
        "Evaluations that could not publish their events"),
    "kafkaops_alert_evaluation_duration_seconds": _gauge(
        "How long the last rule evaluation took"),
    "kafkaops_alert_notifications_total": _counter(
        "Alert messages Slack accepted, by kind (post, refire, resolve, notice)", "kind"),
    "kafkaops_alert_delivery_failures_total": _counter(
        "Alert messages Slack did not accept (each attempt), by kind", "kind"),
    "kafkaops_slack_api_errors_total": _counter(
        "Slack Web API calls that failed, by method and error", "method", "error"),
    "kafkaops_slack_requests_refused_total": _counter(
        "Requests to the bot refused before any action, by reason (bad_signature, stale, "
        "malformed, wrong_workspace, replay, retry, ...)", "reason"),
    "kafkaops_event_rule_matches_total": _counter(
        "Records that matched an event rule, by rule", "rule"),
}

_GROUP = ("cluster", "group")
_TOPIC = (*_GROUP, "topic")
_PARTITION = (*_TOPIC, "partition")

#: lag series: name -> (help, label names), all gauges
_LAG: dict[str, tuple[str, tuple[str, ...]]] = {
    "kafkaops_group_partition_lag": (
        "Records the group has not read yet, per partition", _PARTITION),
    "kafkaops_group_partition_lag_seconds": (
        "Age of the next record the group will read", _PARTITION),
    "kafkaops_group_topic_lag": ("Records the group has not read yet, per topic", _TOPIC),
    "kafkaops_group_topic_lag_seconds": ("Age of the oldest unread record, per topic", _TOPIC),
    "kafkaops_group_lag": ("Records the group has not read yet", _GROUP),
    "kafkaops_group_lag_seconds": ("Age of the oldest record the group has not read", _GROUP),
    "kafkaops_group_status": (
        "1 for the group's lag status, 0 for the others", (*_GROUP, "status")),
    "kafkaops_group_members": ("Consumers in the group", _GROUP),
    "kafkaops_group_data_loss": (
        "1 when records were deleted before the group read them", _GROUP),
}

#: label (name, value) pairs, sorted by name: how `replace` and `parse_text` spell a series
Labels = tuple[tuple[str, str], ...]


def lag_families(snapshots: Iterable[LagSnapshot]) -> list[GaugeMetricFamily]:
    """The lag series of some snapshots (one per cluster)."""
    fams = {name: GaugeMetricFamily(name, help_text, labels=labels)
            for name, (help_text, labels) in _LAG.items()}
    part = fams["kafkaops_group_partition_lag"]
    part_s = fams["kafkaops_group_partition_lag_seconds"]
    topic = fams["kafkaops_group_topic_lag"]
    topic_s = fams["kafkaops_group_topic_lag_seconds"]
    status = fams["kafkaops_group_status"]
    for snap in snapshots:
        c = snap.cluster
        for g in snap.groups:
            base = (c, g.group)
            for p in g.partitions:
                p_labels = (*base, p.topic, str(p.partition))
                if p.lag is not None:
                    part.add_metric(p_labels, p.lag)
                if p.lag_seconds is not None:
                    part_s.add_metric(p_labels, p.lag_seconds)
            for t in g.topics:
                t_labels = (*base, t.topic)
                if t.lag is not None:
                    topic.add_metric(t_labels, t.lag)
                if t.lag_seconds is not None:
                    topic_s.add_metric(t_labels, t.lag_seconds)
            if g.lag is not None:
                fams["kafkaops_group_lag"].add_metric(base, g.lag)
            if g.lag_seconds is not None:
                fams["kafkaops_group_lag_seconds"].add_metric(base, g.lag_seconds)
            for s in Status:
                status.add_metric((*base, s.value), 1.0 if g.status is s else 0.0)
            if g.member_count is not None:
                fams["kafkaops_group_members"].add_metric(base, g.member_count)
            fams["kafkaops_group_data_loss"].add_metric(base, 1.0 if g.data_loss else 0.0)
    return list(fams.values())


def _spec(name: str) -> MetricSpec:
    spec = KNOWN.get(name)
    if spec is None:
        raise ValueError(f"metric {name!r} is not one of core/metrics.py's KNOWN metrics "
                         "(add it there with its type, help and labels)")
    return spec


def _key(name: str, labels: Mapping[str, str] | Labels | None) -> tuple[str, ...]:
    """The label values of a series, in the order its spec names them."""
    spec = _spec(name)
    given = dict(labels.items() if isinstance(labels, Mapping) else labels or ())
    if set(given) != set(spec.labels):
        raise ValueError(f"metric {name} takes labels {list(spec.labels)}, "
                         f"not {sorted(given)}")
    return tuple(str(given[k]) for k in spec.labels)


class MetricsRegistry:
    """Everything /metrics shows. Shared through `Services.metrics`; safe to render from
    any thread (a scrape handler) while the evaluator updates it.

    `registry` is the prometheus-client CollectorRegistry scrapes read (private to this
    object); `render`/`exposition` give its text in the format `CONTENT_TYPE` names."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lag: dict[str, LagSnapshot] = {}
        self._values: dict[str, dict[tuple[str, ...], float]] = {}
        self.registry = CollectorRegistry()
        self.registry.register(_Collector(self))

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
        """A gauge's value for one label set. ValueError for a metric not in KNOWN or
        labels other than its own."""
        key = _key(name, labels)
        with self._lock:
            self._values.setdefault(name, {})[key] = float(value)

    def inc(self, name: str, labels: Mapping[str, str] | None = None, by: float = 1.0) -> None:
        """Adds to a counter (a series starts at 0). ValueError as for `set`."""
        key = _key(name, labels)
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + by

    def replace(self, name: str, samples: Mapping[Labels, float]) -> None:
        """All series of a gauge at once (series not given are gone)."""
        keyed = {_key(name, labels): float(v) for labels, v in samples.items()}
        with self._lock:
            self._values[name] = keyed

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """One series' value; None when it was never set."""
        key = _key(name, labels)
        with self._lock:
            return self._values.get(name, {}).get(key)

    def exposition(self) -> bytes:
        """What a scrape returns (UTF-8 text in the format `CONTENT_TYPE` names)."""
        return generate_latest(self.registry)

    def render(self) -> str:
        return self.exposition().decode("utf-8")

    def _families(self) -> Iterator[Metric]:
        with self._lock:
            snaps = [self._lag[c] for c in sorted(self._lag)]
            values = {k: dict(v) for k, v in self._values.items()}
        yield from lag_families(snaps)
        for name in sorted(KNOWN):
            spec = KNOWN[name]
            fam: GaugeMetricFamily | CounterMetricFamily
            if spec.kind == "counter":
                fam = CounterMetricFamily(name, spec.help, labels=spec.labels)
            else:
                fam = GaugeMetricFamily(name, spec.help, labels=spec.labels)
            for key, v in sorted(values.get(name, {}).items()):
                fam.add_metric(key, v)
            yield fam


class _Collector(Collector):
    """Yields a MetricsRegistry's state as metric families, read at each scrape."""

    def __init__(self, metrics: MetricsRegistry) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics._families()


def parse_text(text: str) -> dict[str, dict[Labels, float]]:
    """Read the exposition format back (samples only) with prometheus-client's parser:
    sample name -> labels -> value. For tests and self-checks."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[Labels, float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out
