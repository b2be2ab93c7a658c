"""The alert evaluator: every `alerts.interval`, measure what the metric rules need, run the
rules (AlertTracker, core/alerts/evaluate.py) and publish firing/resolved events to the
alerts topic.

What is measured, per cluster a rule (or /metrics) needs:
- consumer group lag of every group, from the shared LagService (Services.lag), so the
  status window is the same one the console and `/kafka lag` judge on;
- topic metadata (offline and under-replicated partitions), when a topic rule needs it;
- reachability: a cluster whose brokers do not answer is `unreachable`, and the other
  rules on it are unknown (they neither fire nor resolve) until it answers again;
- DR pairs (core/dr/status.py DrService.status): replication lag, heartbeat age, RPO;
- Kafka Connect connectors (core/connect/alerting.py): failed tasks, a failed connector.

Every replica of the bot runs an evaluator. They share what is published through the
topic (AlertLog.book): an alert another replica fired is firing here too, so it is not
fired twice (and the notifier ignores the duplicate that a race can still produce).
Evaluations never overlap: the next one is scheduled when the last one finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kafkaops.core.alerts.config import compile_rules
from kafkaops.core.alerts.evaluate import AlertTracker, RuleResult, needs
from kafkaops.core.alerts.log import AlertLog
from kafkaops.core.alerts.metrics import (
    cluster_observation,
    dr_observation,
    group_observations,
    topic_observations,
)
from kafkaops.core.alerts.model import AlertEvent, Observation, Rules, Scope
from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError
from kafkaops.core.kafka.reach import answering
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from kafkaops.core.metrics import MetricsRegistry
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.alerts")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation's outcome."""

    at: float
    """When it started (epoch seconds)."""
    elapsed: float
    """Seconds it took."""
    events: tuple[AlertEvent, ...]
    """Firing and resolved events it produced."""
    results: tuple[RuleResult, ...]
    """Every rule's verdict on every subject it matched."""
    unreachable: tuple[str, ...]
    """Clusters that did not answer."""
    errors: tuple[str, ...] = field(default_factory=tuple)
    """What could not be read or published, in words."""
    published: bool = False
    """The events are on the alerts topic."""


class AlertEvaluator:
    """Runs the metric rules every interval and publishes what changes.

    `metrics_clusters`: clusters whose lag /metrics shows even when no rule needs it
    (default: every configured cluster when `metrics` is given, else none)."""

    def __init__(self, services: Services, *, log_: AlertLog | None = None,
                 rules: Rules | None = None, clock: Callable[[], float] = time.time,
                 metrics: MetricsRegistry | None = None,
                 metrics_clusters: Iterable[str] | None = None,
                 interval: float | None = None,
                 listener: Callable[[Evaluation], None] | None = None) -> None:
        cfg = services.config.alerts
        self.services = services
        self.rules = rules if rules is not None else compile_rules(services.config)
        self.log = log_ if log_ is not None else AlertLog(services)
        self.clock = clock
        self.metrics = metrics
        self.interval = float(interval if interval is not None else cfg.interval)
        self.tracker = AlertTracker(self.rules.metric, min_firing=float(cfg.min_firing),
                                    by=self.log.by)
        if metrics_clusters is None:
            metrics_clusters = list(services.config.clusters) if metrics is not None else []
        self.metrics_clusters = list(metrics_clusters)
        #: the newest evaluation (None before the first)
        self.last: Evaluation | None = None
        #: called after every evaluation (`kafkaops alerts run` prints what it published)
        self.listener = listener
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ running

    async def start(self, *, follow_timeout: float = 10.0) -> None:
        """Read what is already published, then evaluate every interval in the background.
        Without metric rules nothing is read or published: the loop only feeds /metrics."""
        try:
            if self.rules.metric:
                await self.log.follow()
                async with asyncio.timeout(follow_timeout):
                    await self.log.caught_up.wait()
        except (TimeoutError, KafkaOpsError) as e:
            # evaluate anyway: what other replicas published is folded in as it arrives
            log.warning("alerts: could not read %s before evaluating (%s)", self.log.topic, e)
        self._task = asyncio.create_task(self._loop(), name="alerts-evaluator")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                if self.rules.metric and not self.log.following:
                    await self.log.follow()  # it could not start before: try again
                await self.evaluate()
                # notices are only news once: keep an hour of them (bounded memory)
                self.log.book.forget_notices(self.clock() - 3600)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alerts: evaluation failed")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    # ------------------------------------------------------------ one evaluation

    async def evaluate(self, *, publish: bool = True) -> Evaluation:
        """Measure, run the rules, publish what changed (unless `publish` is False: then
        nothing is written and the tracker's published state is left as it was)."""
        started = time.monotonic()
        now = self.clock()
        observations, observed, unreachable, errors = await self.observe()
        events, results = self.tracker.step(now, observations, observed=observed,
                                            book=self.log.book)
        published = False
        if events and publish:
            try:
                await self.log.publish(events)
                for ev in events:
                    self.log.book.apply(ev)
                published = True
            except KafkaOpsError as e:
                # the book is unchanged, so the next evaluation produces them again
                errors.append(str(e))
                log.error("alerts: could not publish %d event(s): %s", len(events), e)
                if self.metrics is not None:
                    self.metrics.inc("kafkaops_alert_evaluation_failures_total")
        elapsed = time.monotonic() - started
        done = Evaluation(now, elapsed, tuple(events), tuple(results), tuple(unreachable),
                          tuple(errors), published)
        self.last = done
        self._record(done)
        if self.listener is not None:
            self.listener(done)
        return done

    async def observe(self) -> tuple[list[Observation], set[str], list[str], list[str]]:
        """(observations, clusters and dr:PAIRs that answered, clusters unreachable,
        errors)."""
        config = self.services.config
        plan = needs(self.rules.metric, config.clusters)
        for c in self.metrics_clusters:
            plan.setdefault(c, set()).add("group")
        per_topic = any(r.per_topic for r in self.rules.metric)
        per_group = any(r.scope == "group" and not r.per_topic for r in self.rules.metric)
        observations: list[Observation] = []
        observed: set[str] = set()
        unreachable: list[str] = []
        errors: list[str] = []

        async def one(cluster: str, scopes: set[Scope]) -> None:
            limit = max(30.0, float(self.services.cluster_config(cluster).request_timeout) * 3)
            try:
                # a frozen broker answers nothing: asked alongside the work, it is unreachable
                # within seconds (core/kafka/reach.py) rather than after the outer limit, which
                # only bounds a cluster that answers pings but never finishes the reads
                async with asyncio.timeout(limit):
                    obs = await answering(self.services, [cluster], lambda: self._observe_cluster(
                        cluster, scopes, per_topic, per_group))
            except (ClusterUnreachable, TimeoutError) as e:
                unreachable.append(cluster)
                observations.append(cluster_observation(cluster, reachable=False))
                errors.append(str(e) or f"cluster {cluster!r} did not answer within {limit:g} s")
                with contextlib.suppress(Exception):
                    await self.services.drop(cluster)  # reconnect next time
                if self.metrics is not None:
                    self.metrics.set("kafkaops_cluster_up", {"cluster": cluster}, 0)
                return
            except KafkaOpsError as e:  # answered, but something could not be read: unknown
                errors.append(f"cluster {cluster!r}: {e}")
                return
            observations.extend(obs)
            observations.append(cluster_observation(cluster, reachable=True))
            observed.add(cluster)
            if self.metrics is not None:
                self.metrics.set("kafkaops_cluster_up", {"cluster": cluster}, 1)

        await asyncio.gather(*(one(c, s) for c, s in sorted(plan.items())))
        await self._observe_dr(observations, observed, errors)
        from kafkaops.core.connect.alerting import observe_connect

        obs, seen, errs = await observe_connect(self.services, self.rules.metric)
        observations += obs
        observed |= seen
        errors += errs
        return observations, observed, sorted(unreachable), errors

    async def _observe_cluster(self, cluster: str, scopes: set[Scope], per_topic: bool,
                               per_group: bool) -> list[Observation]:
        out: list[Observation] = []
        conn = await self.services.connection(cluster)
        if "group" in scopes:
            snap = await (await self.services.lag(cluster)).snapshot()
            if per_group or not per_topic:
                out += group_observations(snap, per_topic=False)
            if per_topic:
                out += group_observations(snap, per_topic=True)
            if self.metrics is not None:
                self.metrics.observe_lag(snap)
        if "topic" in scopes:
            from kafkaops.core.usage.alerting import topic_metrics  # policies and usage

            out += await topic_metrics(self.services, cluster, self.rules.metric,
                                       topic_observations(cluster, await conn.metadata()))
        if scopes <= {"cluster"}:
            await conn.metadata([])  # reachability only: the smallest request that answers
        return out

    async def _observe_dr(self, observations: list[Observation], observed: set[str],
                          errors: list[str]) -> None:
        import fnmatch

        dr_rules = [r for r in self.rules.metric if r.scope == "dr"]
        if not dr_rules:
            return
        from kafkaops.core.dr.status import DrService

        svc = DrService(self.services)
        pairs = [p for p in self.services.config.dr.pairs
                 if any(fnmatch.fnmatchcase(p.name, r.match.get("pair", "*")) for r in dr_rules)]
        for pair in pairs:
            try:
                status = await svc.status(pair)
            except KafkaOpsError as e:
                errors.append(f"DR pair {pair.name!r}: {e}")
                continue
            observations.append(dr_observation(status))
            observed.add(f"dr:{pair.name}")

    def _record(self, ev: Evaluation) -> None:
        m = self.metrics
        if m is None:
            return
        m.inc("kafkaops_alert_evaluations_total")
        m.set("kafkaops_alert_evaluation_duration_seconds", {}, ev.elapsed)
        for e in ev.events if ev.published else ():
            m.inc("kafkaops_alert_events_published_total", {"type": e.type})
        firing: dict[tuple[tuple[str, str], ...], float] = {}
        for r in self.rules.metric:
            firing[(("rule", r.name), ("severity", r.severity))] = 0.0
        for view in self.log.book.firing():
            key = (("rule", view.event.rule), ("severity", view.event.severity))
            firing[key] = firing.get(key, 0.0) + 1
        m.replace("kafkaops_alerts_firing", firing)
