"""Alert rules on usage, and alerts routed to the team that owns their topic.

    - name: cost-spike
      match: {topic: "*"}
      when: "bytes_in_rate > 3 * baseline"
      for: 10m
      channel: "#platform"                 # the topic's team channel when it has one
                                           # (core/alerts/model.py routes every alert so)

`bytes_in_rate`: bytes a second produced into the topic over the last RATE_WINDOW;
`baseline`: bytes a second over the BASELINE_WINDOW before that. Both come from the log
itself (core/usage/service.py) within a small byte budget, so a large cluster gets
estimates. A baseline that retention cut short (its records are gone) is unknown, and an
unknown metric neither fires nor resolves an alert.

Routing is core/alerts/model.py's, as for every alert: to the Slack channel of the team
that owns the topic (teams: in config) when that team names one, else to the rule's
channel, @mentioning the rule's owner or else the team's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafkaops.core.alerts.model import MetricRule, Observation
    from kafkaops.core.services import Services

METRICS = frozenset({"bytes_in_rate", "baseline"})
#: the topic metrics this module and core/policy/alerting.py add to observations
ADDED_METRICS = METRICS | {"policy_violations", "policy_unknown"}
RATE_WINDOW = 300.0
BASELINE_WINDOW = 3600.0
#: log bytes one evaluation reads at most to size records
BUDGET = 4 * 1024 * 1024


async def rate_values(services: Services, cluster: str) -> dict[str, dict[str, Any]]:
    """topic -> {bytes_in_rate, baseline} (None where unknown)."""
    from kafkaops.core.usage.service import UsageService

    report = await UsageService(services, cluster, budget=BUDGET).measure(
        RATE_WINDOW, previous=BASELINE_WINDOW, groups=False)
    out: dict[str, dict[str, Any]] = {}
    for t in report.topics:
        rate = t.bytes_in.value
        base = None if t.window_cut else t.bytes_in_previous.value
        out[t.topic] = {
            "bytes_in_rate": None if rate is None or math.isinf(t.bytes_in.error)
            else rate / RATE_WINDOW,
            "baseline": None if base is None or math.isinf(t.bytes_in_previous.error)
            else base / BASELINE_WINDOW,
        }
    return out


def wanted(rules: Iterable[MetricRule]) -> set[str]:
    """The policy and usage metrics the topic rules read."""
    from kafkaops.core.alerts.conditions import metrics_of

    return {m for r in rules if r.scope == "topic" for m in metrics_of(r.expr)} & ADDED_METRICS


async def topic_metrics(services: Services, cluster: str, rules: Sequence[MetricRule],
                        observations: Sequence[Observation]) -> list[Observation]:
    """The topic observations with the policy and usage metrics the rules read added."""
    from kafkaops.core.alerts.model import Observation
    from kafkaops.core.policy.alerting import METRICS as POLICY_METRICS
    from kafkaops.core.policy.alerting import policy_values

    need = wanted(rules)
    if not need:
        return list(observations)
    extra: dict[str, dict[str, Any]] = {}
    blank = dict.fromkeys(need)
    if need & POLICY_METRICS:
        for topic, values in (await policy_values(services, cluster)).items():
            extra.setdefault(topic, {}).update(values)
    if need & METRICS:
        for topic, values in (await rate_values(services, cluster)).items():
            extra.setdefault(topic, {}).update(values)
    return [Observation(o.subject, {**o.values, **blank, **extra.get(o.subject.topic or "", {})})
            for o in observations]
