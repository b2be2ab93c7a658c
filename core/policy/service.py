"""Checking a cluster's topics against the policies, and fixing topic configs.

`check()` reads metadata and every topic's configs (two requests, whatever the number of
topics) and runs the pure rules (rules.py). `plan_fix()` turns a topic's config violations
into a plan read from the configs now; `apply_fix()` runs it through the audited path
(core/audit/log.py record_change: refused on a read-only cluster, intent and outcome recorded),
re-reading the configs first so a plan made stale by another change is not applied.

Configs are changed with IncrementalAlterConfigs (core/kafka/alterconfigs.py): only the
configs of the plan change. Brokers older than Kafka 2.3 lack it; there the classic
AlterConfigs replaces the whole set of a topic's overrides, so the plan also holds the
topic's other overrides (configs whose source is the topic itself), sent again with the
change. A broker with neither ends in ConfigChangeUnsupported, audited as an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kafkaops.core.errors import (
    ClusterUnreachable,
    KafkaOpsError,
    NotFound,
    NothingToChange,
    Refused,
    StaleVersion,
)
from kafkaops.core.policy.model import ConfigChange, FixPlan, PolicyReport, TopicFacts
from kafkaops.core.policy.rules import check, compile_policies
from kafkaops.core.records import ConfigEntry
from kafkaops.core.topics.service import TopicService
from kafkaops.core.usage.teams import team_of

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.services import Services

ACTION = "topic.config"


class ConfigChangeUnsupported(KafkaOpsError):
    """The cluster has no API to change topic configs (the embedded broker)."""


class PolicyService:
    def __init__(self, services: Services, cluster: str | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name
        self.clock = clock
        self.policies = compile_policies(services.config)

    def _flag(self) -> str | None:
        from kafkaops.core.config import ADHOC_CLUSTER

        return None if self.cluster == ADHOC_CLUSTER else self.cluster

    async def facts(self, topic: str | None = None) -> tuple[list[TopicFacts],
                                                            dict[str, tuple[ConfigEntry, ...]]]:
        """What the cluster says of every topic (or one): configs as reported, shape."""
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([topic] if topic is not None else None)
        if topic is not None and topic not in meta.topics:
            raise NotFound(f"topic {topic!r} not found on cluster {self.cluster!r}")
        names = sorted(meta.topics)
        configs = await TopicService(conn).configs(names, None)
        teams = self.services.config.teams
        out = []
        for name in names:
            t = meta.topics[name]
            out.append(TopicFacts(
                cluster=self.cluster, topic=name, team=team_of(teams, name),
                configs={c.name: c.value for c in configs.get(name, ())},
                partitions=len(t.partitions),
                replication_factor=max((len(p.replicas) for p in t.partitions), default=0),
                internal=t.internal))
        return out, configs

    async def check(self, topic: str | None = None) -> PolicyReport:
        """Every policy against every topic (or one)."""
        facts, _ = await self.facts(topic)
        at = self.clock()
        findings, checked, covered = check(self.policies, facts, cluster_flag=self._flag())
        return PolicyReport(self.cluster, at, tuple(p.name for p in self.policies), checked,
                            covered, tuple(findings))

    async def plan_fix(self, topic: str) -> FixPlan:
        """The config changes that bring `topic` into line, from its configs now."""
        facts, configs = await self.facts(topic)
        findings, _, _ = check(self.policies, facts, cluster_flag=self._flag())
        changes: dict[str, ConfigChange] = {}
        not_fixable = []
        reported = facts[0].configs
        for f in findings:
            if f.fix is None:
                not_fixable.append(f)
                continue
            seen = changes.get(f.fix.config)
            if seen is not None and seen.after != f.fix.value:
                not_fixable.append(f)  # two policies want different values: a person decides
                continue
            changes[f.fix.config] = ConfigChange(f.fix.config, reported.get(f.fix.config),
                                                 f.fix.value, f.policy)
        keep = {c.name: c.value for c in configs.get(topic, ())
                if c.source == "topic" and c.name not in changes and c.value is not None}
        return FixPlan(self.cluster, topic, tuple(sorted(changes.values(),
                                                         key=lambda c: c.config)),
                       tuple(not_fixable), keep)

    async def apply_fix(self, plan: FixPlan, *, actor: str, face: str,
                        reason: str | None = None) -> FixPlan:
        """Apply a plan (audited). NothingToChange when it has no change (nothing written);
        Refused on a read-only cluster; StaleVersion (a Conflict, audited as refused) when
        the topic's configs changed since the plan; ConfigChangeUnsupported where the
        broker cannot change topic configs."""
        from kafkaops.core.audit.log import record_change

        if not plan.changes:
            raise NothingToChange(f"topic {plan.topic}: no topic config to change")

        async def apply() -> FixPlan:
            now = await self.plan_fix(plan.topic)
            if (now.changes, dict(now.keep)) != (plan.changes, dict(plan.keep)):
                raise StaleVersion(f"topic {plan.topic}: its configs changed since the plan; "
                               "plan again")
            await alter_topic_configs(self.services, self.cluster, plan)
            return plan

        params = {"set": {c.config: c.after for c in plan.changes},
                  "before": {c.config: c.before for c in plan.changes},
                  "policies": sorted({c.policy for c in plan.changes})}
        return await record_change(
            self.services, actor=actor, face=face, action=ACTION, target=plan.topic,
            params=params, apply=apply, cluster=self.cluster, reason=reason,
            summarize=lambda p: {"set": {c.config: c.after for c in p.changes}})


async def alter_topic_configs(services: Services, cluster: str, plan: FixPlan) -> None:
    """Set the plan's configs on its topic: IncrementalAlterConfigs (only those configs
    change); where the brokers lack it (Kafka before 2.3), the classic AlterConfigs with the
    topic's other overrides sent again."""
    from aiokafka.errors import IncompatibleBrokerVersion, KafkaError

    from kafkaops.core.kafka.alterconfigs import IncrementalAlterConfigs, errors_of

    conn = await services.connection(cluster)
    if services.cluster_config(cluster).read_only:  # record_change checked; never write
        raise Refused(f"cluster {cluster!r} is read-only")
    changes = {c.config: c.after for c in plan.changes}
    try:
        node = conn.client.get_random_node()
        if node is None:
            raise ClusterUnreachable(f"cluster {cluster!r}: no broker known", cluster=cluster)
        response = await conn.client.send(node, IncrementalAlterConfigs({plan.topic: changes}))
        refused = errors_of(response)
    except (IncompatibleBrokerVersion, NotImplementedError):
        refused = await _alter_classic(conn, cluster, plan.topic, dict(plan.keep) | changes)
    except (KafkaError, OSError) as e:
        raise conn.unreachable(e) from None
    if plan.topic in refused:
        raise KafkaOpsError(f"cannot change configs of topic {plan.topic!r}: "
                            f"{refused[plan.topic][1]}")


async def _alter_classic(conn: KafkaConnection, cluster: str, topic: str,
                         configs: dict[str, str]) -> dict[str, tuple[int, str]]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.errors import IncompatibleBrokerVersion, KafkaError

    now = await TopicService(conn).configs([topic], None)
    hidden = sorted(c.name for c in now.get(topic, ()) if c.source == "topic" and c.value is None)
    if hidden:  # AlterConfigs would drop them: they cannot be sent again
        raise Refused(f"topic {topic!r}: its brokers offer only AlterConfigs, which replaces "
                      f"every override, and {', '.join(hidden)} is sensitive (its value is "
                      "not shown, so it cannot be sent again): nothing was changed")
    try:
        responses = await conn.admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    except (IncompatibleBrokerVersion, NotImplementedError):
        raise ConfigChangeUnsupported(
            f"cluster {cluster!r} does not support changing topic configs (its brokers "
            "offer neither IncrementalAlterConfigs nor AlterConfigs): nothing was changed; "
            "change the topic's configs with the cluster's own tools") from None
    except (KafkaError, OSError) as e:
        raise conn.unreachable(e) from None
    out: dict[str, tuple[int, str]] = {}
    for resp in responses:
        for res in resp.to_object().get("resources", []):
            if res.get("error_code"):
                out[topic] = (res["error_code"],
                              res.get("error_message") or f"error code {res['error_code']}")
    return out
