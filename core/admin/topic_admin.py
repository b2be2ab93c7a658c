"""Topic changes: create, delete, change configs, add partitions. Plan, then apply.

    admin = TopicAdmin(services)
    plan = await admin.plan_alter_config("orders", {"retention.ms": "86400000"}, [])
    print(plan.text())                      # the state now and the diff
    result = await admin.apply(plan, actor=local_actor(), face="cli")

Plans check everything a broker might let through (rules.py) and what the broker offers
(wire.supports): a cluster that cannot make a change says so at plan time, before anyone
is asked to confirm it. Each apply checks that the state it was planned from still holds
(else Conflict, nothing changed), changes through the audit trail's one path, and reads
the outcome back.

Broker differences, each named where it matters: Tansu 0.6 offers IncrementalAlterConfigs
but neither AlterConfigs nor CreatePartitions, and reports only the configs set on a topic
(rules.reports_defaults).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kafkaops.core.admin import wire
from kafkaops.core.admin.plans import (
    TOPIC_CONFIG,
    TOPIC_CREATE,
    TOPIC_DELETE,
    TOPIC_PARTITIONS,
    AdminPlan,
    AdminResult,
    Change,
    audit_detail,
    refusal_words,
)
from kafkaops.core.admin.rules import (
    UNREPORTED,
    check_alter,
    check_configs,
    check_count,
    check_topic_name,
    config_changes,
    protected_prefix,
    reports_defaults,
    set_on_topic,
)
from kafkaops.core.errors import (
    Conflict,
    KafkaOpsError,
    NotFound,
    NothingToChange,
    Refused,
    UsageError,
)
from kafkaops.core.records import ConfigEntry, TopicMetadata, TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.services import Services

#: how long apply waits for the cluster to show the outcome (deletes are asynchronous)
READ_BACK_SECONDS = 10.0
ORDERING_WARNING = (
    "records with a key go to partition hash(key) mod the partition count: after this, "
    "new records of most keys land on another partition than the key's earlier records, "
    "so a consumer can see a key's new records before its old ones. Consumers that rely "
    "on per-key order should be drained first."
)


class Unsupported(KafkaOpsError):
    """The cluster's brokers do not offer what a change needs. Nothing was changed."""


class TopicExists(KafkaOpsError):
    """A topic to create exists already. Nothing was changed."""


def _count(n: int | None, noun: str) -> str:
    if n is None:
        return f"unknown {noun}s"
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class TopicAdmin:
    """Topic changes on one cluster (the services' current one by default)."""

    def __init__(self, services: Services, cluster: str | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name

    async def _conn(self) -> KafkaConnection:
        return await self.services.connection(self.cluster)

    def _read_only(self) -> bool:
        return self.services.cluster_config(self.cluster).read_only

    async def _topic(self, conn: KafkaConnection, name: str) -> tuple[TopicMetadata | None,
                                                                       int]:
        """(the topic's metadata or None, the controller's node id)."""
        meta = await conn.metadata([name])
        return meta.topics.get(name), wire.controller(conn, meta)

    async def _existing(self, conn: KafkaConnection, name: str) -> tuple[TopicMetadata, int]:
        topic, node = await self._topic(conn, name)
        if topic is None:
            raise NotFound(f"topic {name!r} not found on cluster {self.cluster!r} — check "
                           "the name with `kafkaops topics`. Nothing was changed.")
        return topic, node

    async def _configs(self, conn: KafkaConnection, name: str) -> tuple[ConfigEntry, ...]:
        from kafkaops.core.topics.service import TopicService

        return (await TopicService(conn).configs([name], None)).get(name, ())

    async def _messages(self, conn: KafkaConnection, topic: TopicMetadata) -> int | None:
        tps = [TopicPartition(topic.name, p.partition) for p in topic.partitions]
        water = await conn.high_watermarks(tps) if tps else {}
        if len(water) < len(tps):
            return None
        return sum(max(end - start, 0) for start, end in water.values())

    # ------------------------------------------------------------ plans

    async def plan_create(self, name: str, partitions: int, replication_factor: int = 1,
                          configs: Mapping[str, str] | None = None) -> AdminPlan:
        check_topic_name(name)
        prefix = protected_prefix(name)
        if prefix:
            raise UsageError(f"topic names starting with {prefix!r} are reserved (Kafka's "
                             "and kafkaops' own topics); choose another name")
        check_count("--partitions", partitions)
        check_count("--replication-factor", replication_factor, high=32)
        wanted = check_configs(configs or {})
        conn = await self._conn()
        meta = await conn.metadata([name])
        if name in meta.topics:
            raise TopicExists(
                f"topic {name!r} already exists on cluster {self.cluster!r} "
                f"({_count(len(meta.topics[name].partitions), 'partition')}). "
                "Nothing was changed.")
        brokers = len(meta.brokers)
        if replication_factor > brokers:
            raise UsageError(
                f"--replication-factor {replication_factor} needs {replication_factor} "
                f"brokers; cluster {self.cluster!r} has {brokers}. Nothing was changed.")
        changes = [Change("topic", "does not exist",
                          f"{_count(partitions, 'partition')}, replication factor "
                          f"{replication_factor}")]
        changes += [Change(k, "not set", v) for k, v in sorted(wanted.items())]
        return AdminPlan(
            action=TOPIC_CREATE, cluster=self.cluster, target=name,
            title=f"Create topic {name!r} on cluster {self.cluster!r}",
            state=(f"topic {name!r} does not exist",
                   f"cluster {self.cluster!r} has {_count(brokers, 'broker')}"),
            changes=tuple(changes),
            params={"topic": name, "partitions": partitions,
                    "replication_factor": replication_factor, "configs": wanted},
            read_only=self._read_only())

    async def plan_delete(self, name: str) -> AdminPlan:
        check_topic_name(name)
        prefix = protected_prefix(name)
        if prefix:
            raise Refused(f"refusing to delete {name!r}: topics starting with {prefix!r} "
                          "are Kafka's or kafkaops' own (the audit trail, flags, DR state). "
                          "Nothing was changed.")
        conn = await self._conn()
        topic, _ = await self._existing(conn, name)
        messages, configs = await asyncio.gather(self._messages(conn, topic),
                                                 self._configs(conn, name))
        on_topic = set_on_topic((c.name, c.value, c.source) for c in configs)
        state = [f"{_count(len(topic.partitions), 'partition')}, "
                 f"{_count(messages, 'message')} kept"]
        if on_topic:
            state.append("configs set: " + ", ".join(f"{k}={v}" for k, v in
                                                      sorted(on_topic.items())))
        return AdminPlan(
            action=TOPIC_DELETE, cluster=self.cluster, target=name,
            title=f"Delete topic {name!r} on cluster {self.cluster!r}",
            state=tuple(state),
            changes=(Change("topic", f"{_count(len(topic.partitions), 'partition')}, "
                                     f"{_count(messages, 'message')}", "deleted"),),
            params={"topic": name, "partitions": len(topic.partitions),
                    "messages": messages},
            warnings=(f"every record in {name!r} is lost for good; consumer groups keep "
                      "their committed offsets, and a producer with topic auto-creation "
                      "on may create it again, empty",),
            read_only=self._read_only())

    async def plan_alter_config(self, name: str, sets: Mapping[str, str],
                                deletes: Sequence[str]) -> AdminPlan:
        check_topic_name(name)
        sets, deletes = check_alter(sets, deletes)
        conn = await self._conn()
        _, node = await self._existing(conn, name)
        configs = await self._configs(conn, name)
        rows = [(c.name, c.value, c.source) for c in configs]
        changes = config_changes(rows, sets, deletes)
        if not changes:
            raise NothingToChange(
                f"topic {name!r} on cluster {self.cluster!r} already has these configs: "
                "nothing to change, nothing was written")
        complete = reports_defaults(n for n, _, _ in rows)
        if await wire.supports(conn, wire.IncrementalAlterConfigs, node):
            method = "incremental"
        elif complete and await wire.supports(conn, _alter_configs_request(), node):
            method = "whole"
        else:
            raise Unsupported(
                f"this cluster does not support changing topic configs: cluster "
                f"{self.cluster!r} offers neither IncrementalAlterConfigs nor AlterConfigs "
                "(or only AlterConfigs, which replaces every config of the topic while the "
                "broker does not report them all). Nothing was changed.")
        return AdminPlan(
            action=TOPIC_CONFIG, cluster=self.cluster, target=name,
            title=f"Change configs of topic {name!r} on cluster {self.cluster!r}",
            state=_config_state(configs, complete),
            changes=tuple(Change(n, before, after) for n, before, after in changes),
            params={"topic": name, "set": {k: v for k, v in sets.items()
                                           if any(c[0] == k for c in changes)},
                    "delete": [k for k in deletes if any(c[0] == k for c in changes)],
                    "before": {n: before for n, before, _ in changes}, "method": method},
            read_only=self._read_only())

    async def plan_add_partitions(self, name: str, total: int) -> AdminPlan:
        check_topic_name(name)
        check_count("--num", total)
        conn = await self._conn()
        topic, node = await self._existing(conn, name)
        now = len(topic.partitions)
        if total == now:
            raise NothingToChange(f"topic {name!r} already has {total} partitions: nothing "
                                  "to change, nothing was written")
        if total < now:
            raise UsageError(f"Kafka cannot remove partitions: topic {name!r} has {now}; "
                             f"--num must be more than {now}. Nothing was changed.")
        from aiokafka.protocol.admin import CreatePartitionsRequest

        if not await wire.supports(conn, CreatePartitionsRequest, node):
            raise Unsupported(
                f"this cluster does not support adding partitions: cluster {self.cluster!r} "
                "does not offer CreatePartitions. Nothing was changed.")
        messages = await self._messages(conn, topic)
        return partitions_plan(self.cluster, name, now, total, messages, self._read_only())

    # ------------------------------------------------------------ apply

    async def apply(self, plan: AdminPlan, *, actor: str, face: str,
                    reason: str | None = None) -> AdminResult:
        """Make the planned change, audited, and read it back. Conflict (nothing changed)
        when the state moved since the plan; Refused on a read-only cluster."""
        from kafkaops.core.audit.log import record_change

        if plan.cluster != self.cluster:
            raise UsageError(f"plan is for cluster {plan.cluster!r}, not {self.cluster!r}")
        steps: dict[str, Callable[[AdminPlan], Awaitable[AdminResult]]] = {
            TOPIC_CREATE: self._create, TOPIC_DELETE: self._delete,
            TOPIC_CONFIG: self._alter, TOPIC_PARTITIONS: self._grow,
        }
        if plan.action not in steps:
            raise UsageError(f"not a topic change: {plan.action!r}")
        self.services.require_writable(self.cluster, refusal_words(plan.action, plan.target))
        step = steps[plan.action]
        result: AdminResult = await record_change(
            self.services, actor=actor, face=face, action=plan.action, target=plan.target,
            params=dict(plan.params), apply=lambda: step(plan), cluster=self.cluster,
            summarize=audit_detail, reason=reason)
        return result

    async def _create(self, plan: AdminPlan) -> AdminResult:
        p = plan.params
        name, partitions = str(p["topic"]), int(p["partitions"])
        conn = await self._conn()
        topic, node = await self._topic(conn, name)
        if topic is not None:
            raise Conflict(f"topic {name!r} was created by someone else since the plan "
                           f"({len(topic.partitions)} partitions). Nothing was changed.")
        await wire.create_topic(conn, node, name, partitions, int(p["replication_factor"]),
                                dict(p["configs"]))
        seen = await self._wait(conn, name, lambda t: t is not None)
        lines = [f"topic {name!r} exists with {_count(len(seen.partitions), 'partition')}"
                 if seen is not None else f"topic {name!r} not listed yet"]
        ok = seen is not None and len(seen.partitions) == partitions
        if seen is not None and p["configs"]:
            reported = {c.name: c.value for c in await self._configs(conn, name)}
            for k, v in sorted(dict(p["configs"]).items()):
                got = reported.get(k)
                lines.append(f"{k} = {got if k in reported else UNREPORTED}")
                ok = ok and (k not in reported or got == v)
        return AdminResult(plan, ok, tuple(lines))

    async def _delete(self, plan: AdminPlan) -> AdminResult:
        name = str(plan.params["topic"])
        conn = await self._conn()
        topic, node = await self._topic(conn, name)
        if topic is None:
            raise Conflict(f"topic {name!r} was deleted by someone else since the plan. "
                           "Nothing was changed.")
        if len(topic.partitions) != int(plan.params["partitions"]):
            raise Conflict(f"topic {name!r} changed since the plan ({plan.params['partitions']}"
                           f" -> {len(topic.partitions)} partitions): make a new plan. "
                           "Nothing was changed.")
        await wire.delete_topic(conn, node, name)
        seen = await self._wait(conn, name, lambda t: t is None)
        gone = seen is None
        return AdminResult(plan, gone, (
            f"topic {name!r} is gone" if gone
            else f"topic {name!r} is still listed (the cluster deletes it in the background)",))

    async def _alter(self, plan: AdminPlan) -> AdminResult:
        p = plan.params
        name = str(p["topic"])
        sets, deletes = dict(p["set"]), list(p["delete"])
        conn = await self._conn()
        _, node = await self._existing(conn, name)
        rows = [(c.name, c.value, c.source) for c in await self._configs(conn, name)]
        now = {n: before for n, before, _ in config_changes(rows, sets, deletes)}
        if now != dict(p["before"]):
            raise Conflict(f"the configs of topic {name!r} changed since the plan: make a new "
                           "plan. Nothing was changed.")
        if p["method"] == "incremental":
            await wire.alter_configs_incremental(conn, node, name, sets, deletes)
        else:
            whole = {k: v for k, v in set_on_topic(rows).items() if v is not None}
            whole.update(sets)
            for k in deletes:
                whole.pop(k, None)
            await wire.alter_configs_whole(conn, node, name, whole)
        after = [(c.name, c.value, c.source) for c in await self._configs(conn, name)]
        on_topic = set_on_topic(after)
        lines, ok = [], True
        for k, v in sorted(sets.items()):
            lines.append(f"{k} = {on_topic.get(k, UNREPORTED)}")
            ok = ok and on_topic.get(k) == v
        for k in deletes:
            lines.append(f"{k} = {on_topic.get(k, 'broker default')}")
            ok = ok and k not in on_topic
        return AdminResult(plan, ok, tuple(lines))

    async def _grow(self, plan: AdminPlan) -> AdminResult:
        name, was, total = str(plan.params["topic"]), int(plan.params["from"]), \
            int(plan.params["to"])
        conn = await self._conn()
        topic, node = await self._existing(conn, name)
        if len(topic.partitions) != was:
            raise Conflict(f"topic {name!r} has {len(topic.partitions)} partitions now, not "
                           f"{was} as planned: make a new plan. Nothing was changed.")
        await wire.create_partitions(conn, node, name, total)
        seen = await self._wait(conn, name,
                                lambda t: t is not None and len(t.partitions) >= total)
        count = len(seen.partitions) if seen is not None else None
        return AdminResult(plan, count == total,
                           (f"topic {name!r} has {_count(count, 'partition')}",))

    async def _wait(self, conn: KafkaConnection, name: str,
                    done: Callable[[TopicMetadata | None], bool]) -> TopicMetadata | None:
        """The topic's metadata once `done` holds for it, or as it is after
        READ_BACK_SECONDS."""
        deadline = time.monotonic() + READ_BACK_SECONDS
        delay = 0.05
        while True:
            topic, _ = await self._topic(conn, name)
            if done(topic) or time.monotonic() > deadline:
                return topic
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def partitions_plan(cluster: str, name: str, now: int, total: int, messages: int | None,
                    read_only: bool) -> AdminPlan:
    """The plan to grow `name` from `now` to `total` partitions."""
    return AdminPlan(
        action=TOPIC_PARTITIONS, cluster=cluster, target=name,
        title=f"Add partitions to topic {name!r} on cluster {cluster!r}",
        state=(f"{_count(now, 'partition')}, {_count(messages, 'message')} kept",),
        changes=(Change("partitions", str(now), str(total)),),
        params={"topic": name, "from": now, "to": total},
        warnings=(ORDERING_WARNING,), read_only=read_only)


def _alter_configs_request() -> Any:
    from aiokafka.protocol.admin import AlterConfigsRequest

    return AlterConfigsRequest


def _config_state(configs: Sequence[ConfigEntry], complete: bool) -> tuple[str, ...]:
    on_topic = set_on_topic((c.name, c.value, c.source) for c in configs)
    set_line = ("configs set on the topic: "
                + (", ".join(f"{k}={v}" for k, v in sorted(on_topic.items())) or "none"))
    if complete:
        return (set_line,)
    return (set_line, "the broker reports no defaults: a config not listed is at the "
                      f"{UNREPORTED}")
