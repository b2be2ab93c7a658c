"""The demo's catalogue, as data: `DEMO_TOPICS` (one `DemoTopic` per pattern: name,
partitions, EXPLICIT configs, share of the traffic, record generator), `DEMO_GROUPS` (consumer
groups and their behaviour: keeping up, falling behind, stopped) and `DEMO_FLAGS`.

Tansu reports only configs given at creation (docs/broker-notes.md), so every demo topic names
its retention, cleanup policy and compression.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kafkaops.core.topics.service import NewTopicSpec
from kafkaops.demo.business_records import AppSettings, Chargeback, OrderEvents, OrdersCdc
from kafkaops.demo.ops_records import (
    AccessLogs,
    ApmMetrics,
    AppLogs,
    IacChanges,
    KubeEvents,
    PipelineEvents,
)
from kafkaops.demo.records import RecordGenerator

DAY_MS = 86_400_000


@dataclass(frozen=True)
class DemoTopic:
    """One demo topic and how it is fed."""

    name: str
    """Topic name."""
    pattern: str
    """Which use of Kafka it stands for (CI/CD events, log aggregation, flags, ...)."""
    partitions: int
    """Partition count."""
    configs: Mapping[str, str]
    """Topic configs, given explicitly at creation (Tansu reports only those)."""
    share: float = 0.0
    """Share of the overall produce rate; 0 for topics written by a consumer (the DLQ)."""
    generator: Callable[[random.Random], RecordGenerator] | None = None
    """Makes the generator of its records."""
    compression: Literal["gzip", "snappy", "lz4", "zstd"] | None = None
    """Codec the producer uses for it."""
    period_s: float = 120.0
    """Period of the slow swing of its rate (so throughput charts move)."""

    def spec(self) -> NewTopicSpec:
        return NewTopicSpec(self.name, self.partitions, 1, dict(self.configs))


def _delete(retention_ms: int, compression: str = "producer") -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(retention_ms),
            "compression.type": compression}


DEMO_TOPICS: tuple[DemoTopic, ...] = (
    DemoTopic("cicd.pipeline-events", "CI/CD pipeline events", 3, _delete(7 * DAY_MS),
              0.06, PipelineEvents, period_s=90),
    DemoTopic("logs.app", "log aggregation", 6,
              {**_delete(3 * DAY_MS, "lz4"), "max.message.bytes": "2097152"},
              0.29, AppLogs, "lz4", period_s=150),
    DemoTopic("logs.access", "log aggregation", 4, _delete(DAY_MS, "snappy"),
              0.14, AccessLogs, "snappy", period_s=110),
    DemoTopic("metrics.apm", "APM and metrics ingestion", 6, _delete(DAY_MS // 2, "zstd"),
              0.25, ApmMetrics, "zstd", period_s=200),
    DemoTopic("k8s.events", "Kubernetes events for autoscalers", 3, _delete(3 * DAY_MS),
              0.08, KubeEvents, period_s=75),
    DemoTopic("iac.changes", "infrastructure-as-code audit trail", 1,
              {**_delete(7 * 365 * DAY_MS), "min.insync.replicas": "1"},
              0.005, IacChanges, period_s=300),
    DemoTopic("orders.events", "event-driven microservices", 6, _delete(7 * DAY_MS),
              0.10, OrderEvents, period_s=130),
    DemoTopic("orders.events.dlq", "dead letters of orders.events", 1, _delete(30 * DAY_MS)),
    DemoTopic("config.app-settings", "feature flags and configuration", 1,
              {"cleanup.policy": "compact", "compression.type": "producer",
               "min.cleanable.dirty.ratio": "0.1", "delete.retention.ms": str(DAY_MS)},
              0.005, AppSettings, period_s=240),
    DemoTopic("cdc.shop.orders", "warehouse pipeline (Kafka Connect, Debezium)", 3,
              _delete(7 * DAY_MS), 0.05, OrdersCdc, period_s=100),
    DemoTopic("finops.chargeback", "cost and chargeback by team", 2,
              _delete(400 * DAY_MS, "gzip"), 0.02, Chargeback, "gzip", period_s=180),
)

DLQ_TOPIC = "orders.events.dlq"


@dataclass(frozen=True)
class DemoGroup:
    """A consumer group of the demo and how it behaves."""

    group_id: str
    """Group id."""
    topics: tuple[str, ...]
    """Topics it subscribes to."""
    behaviour: Literal["keeps-up", "falls-behind", "stopped"]
    """keeps-up: consumes all; falls-behind: consumes `speed` x what is produced;
    stopped: consumes `stop_after` records, commits, and its consumer leaves for good."""
    description: str
    """What it stands for, for the banner and --help."""
    members: int = 1
    """Consumers in the group."""
    speed: float = 1.0
    """falls-behind: the fraction of the produced records it consumes."""
    stop_after: int = 0
    """stopped: records consumed before it stops."""
    dead_letter_topic: str | None = None
    """Records it cannot process go there, with Spring Kafka's headers."""


DEMO_GROUPS: tuple[DemoGroup, ...] = (
    DemoGroup("orders-service", ("orders.events",), "keeps-up",
              "keeps up; sends poison records to orders.events.dlq", members=2,
              dead_letter_topic=DLQ_TOPIC),
    DemoGroup("billing-service", ("orders.events",), "falls-behind",
              "falls behind: consumes 40% of what is produced", speed=0.4),
    DemoGroup("warehouse-loader", ("cdc.shop.orders",), "stopped",
              "stopped: committed early, no members, lag growing", stop_after=120),
    DemoGroup("cicd-notifier", ("cicd.pipeline-events",), "keeps-up",
              "keeps up; notices failed stages"),
    DemoGroup("k8s-autoscaler", ("k8s.events",), "keeps-up",
              "keeps up; counts OOMKilled and CrashLoopBackOff"),
)



#: flags the demo starts with: (key, type, value, owner, description, tags, enabled, rollout)
DEMO_FLAGS: tuple[tuple[str, str, Any, str, str, tuple[str, ...], bool, float], ...] = (
    ("checkout.new-payment-flow", "bool", True, "payments", "New PSP integration at checkout",
     ("critical",), True, 25.0),
    ("search.semantic-ranking", "bool", True, "search", "Rank results with embeddings",
     (), False, 100.0),
    ("orders.max-batch-size", "number", 500, "orders", "Orders per batch in the billing job",
     (), True, 100.0),
    ("ui.banner-text", "string", "Scheduled maintenance Sunday 02:00 UTC", "web",
     "Banner at the top of every page", (), False, 100.0),
)
