"""Alert rules on policies: the metrics the alert evaluator (core/alerts/runner.py) reads for
a topic, from one check of the cluster.

    - name: policy-violations
      match: {topic: "iac.*"}
      when: policy_violations > 0          # also policy_unknown > 0
      channel: "#platform"                 # the topic's team channel when it has one

`policy_violations`: requirements the topic breaks; `policy_unknown`: requirements whose
value the broker does not report. A topic no policy applies to has 0 of both. When the
check cannot be made, both are unknown (the alert neither fires nor resolves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError

if TYPE_CHECKING:
    from kafkaops.core.services import Services

METRICS = frozenset({"policy_violations", "policy_unknown"})


async def policy_values(services: Services, cluster: str) -> dict[str, dict[str, Any]]:
    """topic -> {policy_violations, policy_unknown}; {} when the check failed (unknown)."""
    from kafkaops.core.policy.rules import check
    from kafkaops.core.policy.service import PolicyService

    svc = PolicyService(services, cluster)
    try:
        facts, _ = await svc.facts()
    except ClusterUnreachable:
        raise
    except KafkaOpsError:  # answered, but the configs could not be read: unknown
        return {}
    findings, _, _ = check(svc.policies, facts)
    out: dict[str, dict[str, Any]] = {
        f.topic: {"policy_violations": 0, "policy_unknown": 0} for f in facts}
    for f in findings:
        row = out.setdefault(f.topic, {"policy_violations": 0, "policy_unknown": 0})
        row["policy_violations" if f.status == "violation" else "policy_unknown"] += 1
    return out
