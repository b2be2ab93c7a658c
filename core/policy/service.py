"""Checking a cluster's topics against the policies, and fixing topic configs.

`check()` reads metadata and every topic's configs (two requests, whatever the number of
topics) and runs the pure rules (rules.py). `plan_fix()` turns a topic's config violations
into a plan read from the configs now; `apply_fix()` runs it through the audited path
(core/audit/log.py record_change: refused on a read-only cluster, intent and outcome recorded),
re-reading the configs first so a plan made stale by another change is not applied.

Configs are changed with the admin requests (core/admin/wire.py): IncrementalAlterConfigs,
so only the configs of the plan change. Brokers older than Kafka 2.3 lack it; there the
classic AlterConfigs replaces the whole set of a topic's overrides, so the others are sent
again with the change, and only where the broker shows them all. Otherwise the fix ends
in ConfigChangeUnsupported, audited as an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kafkaops.core.errors import (
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
    from kafkaops.core.services import Services

ACTION = "topic.config"


class ConfigChangeUnsupported(KafkaOpsError):
    """The cluster cannot change a topic's configs safely: it offers neither
    IncrementalAlterConfigs nor the classic AlterConfigs, or only AlterConfigs (Kafka before
    2.3) while it does not show every config of the topic, so the overrides AlterConfigs
    must send again are not known. The embedded broker offers IncrementalAlterConfigs."""


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
    """Set the plan's configs on its topic through the admin requests (core/admin/wire.py):
    IncrementalAlterConfigs, which changes only those configs; where the brokers lack it
    (Kafka before 2.3), the classic AlterConfigs with the topic's other overrides sent
    again, but only where the broker reports every config (else some would be lost)."""
    from kafkaops.core.admin import wire
    from kafkaops.core.admin.rules import reports_defaults, set_on_topic

    conn = await services.connection(cluster)
    if services.cluster_config(cluster).read_only:  # record_change checked; never write
        raise Refused(f"cluster {cluster!r} is read-only")
    node = wire.controller(conn, await conn.metadata([plan.topic]))
    changes = {c.config: c.after for c in plan.changes}
    if await wire.supports(conn, wire.IncrementalAlterConfigs, node):
        await wire.alter_configs_incremental(conn, node, plan.topic, changes, [])
        return
    from aiokafka.protocol.admin import AlterConfigsRequest

    configs = (await TopicService(conn).configs([plan.topic], None)).get(plan.topic, ())
    rows = [(c.name, c.value, c.source) for c in configs]
    on_topic = set_on_topic(rows)
    if (not reports_defaults(n for n, _, _ in rows) or None in on_topic.values()
            or not await wire.supports(conn, AlterConfigsRequest, node)):
        raise ConfigChangeUnsupported(
            f"cluster {cluster!r} cannot change this topic's configs safely: it offers "
            "neither IncrementalAlterConfigs nor AlterConfigs, or only AlterConfigs, which "
            "replaces every config of the topic while the broker does not show them all. "
            "Nothing was changed.")
    await wire.alter_configs_whole(conn, node, plan.topic,
                                   {k: v for k, v in on_topic.items() if v is not None}
                                   | changes)
