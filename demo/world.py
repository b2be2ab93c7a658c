"""The demo: two embedded clusters carrying traffic shaped like ten common uses of Kafka.

Pieces, each usable on its own (the CLI, the tests and later parts of the demo share them):
- `DEMO_TOPICS`: one `DemoTopic` per pattern (name, partitions, EXPLICIT configs, share of the
  traffic, record generator). Tansu reports only configs given at creation (docs/broker-notes.md),
  so every demo topic names its retention, cleanup policy and compression.
- `DEMO_GROUPS`: consumer groups with a behaviour: keeping up, falling behind, stopped.
- `create_demo_topics()`: creates the topics on a cluster.
- `DemoTraffic`: producers and real consumer groups (aiokafka, committing offsets) at a
  bounded pace, with async start()/stop() and `stats()` for a running count.
- `write_demo_config()`: a config file naming the embedded clusters, valid for
  `kafkaops --config FILE ...`.
- `Demo`: the whole thing: clusters, config file, topics, traffic, and `parts` where later
  additions (the DR replicator, flags) plug in with their own start()/stop().

Memory: Tansu keeps every record in memory (measured: about 0.7 KB per demo record with
250 ms producer batching, 0.95 KB with 20 ms: small batches cost more), so the traffic runs
at full rate only for its first `full_rate_records` records and then at a tenth of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import random
import struct
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from kafkaops.core.config import ClusterConfig, Config, Duration, load_config
from kafkaops.core.errors import ConfigError, UsageError
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.services import Services
from kafkaops.core.tasks import cancel_and_wait
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from kafkaops.demo.embedded import EmbeddedClusters

#: records/s over all topics, unless told otherwise
DEFAULT_RATE = 200.0
#: the highest --rate accepted: the embedded brokers keep every record in memory
MAX_RATE = 2000.0
#: records produced at the full rate; after that the rate drops to a tenth. Tansu holds about
#: 0.7 KB of memory per demo record (measured), so about 70 MB at this point
FULL_RATE_RECORDS = 100_000
SLOW_FACTOR = 0.1
#: the audit signing key written into the demo's config; not a secret, demo only
DEMO_SIGNING_KEY = "kafkaops-demo-signing-key-not-secret"
DEMO_CLUSTERS = ("primary", "dr")

DAY_MS = 86_400_000


def default_config_path() -> Path:
    """Where the demo writes its config unless told: $XDG_CACHE_HOME/kafkaops/demo/."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kafkaops" / "demo" / "config.yaml"


# ---------------------------------------------------------------- records and generators


@dataclass(frozen=True)
class DemoRecord:
    """One record a generator wants produced."""

    value: bytes | None
    """The value; None is a tombstone (compacted topics)."""
    key: bytes | None = None
    """The key, where the pattern has one."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Record headers."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class RecordGenerator:
    """Makes the records of one pattern. State (sequence numbers, open orders) lives here."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seq = 0

    def next(self) -> DemoRecord:
        self.seq += 1
        return self.make()

    def make(self) -> DemoRecord:  # pragma: no cover - every pattern overrides it
        raise NotImplementedError

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


SERVICES = ("checkout", "payments-api", "orders-service", "inventory", "search",
            "auth", "notifications", "billing-service", "gateway", "recommendations")
TEAMS = {"checkout": "shop", "payments-api": "payments", "orders-service": "shop",
         "inventory": "fulfilment", "search": "discovery", "auth": "platform",
         "notifications": "platform", "billing-service": "payments", "gateway": "platform",
         "recommendations": "discovery"}
PEOPLE = ("alice", "bob", "chen", "dara", "emeka", "farah", "gustavo", "hana")


class PipelineEvents(RecordGenerator):
    """CI/CD: one event per pipeline stage, keyed by repository; some stages fail."""

    STAGES = ("checkout", "build", "unit-test", "security-scan", "package",
              "deploy-staging", "integration-test", "deploy-prod")

    def make(self) -> DemoRecord:
        r = self.rng
        service = r.choice(SERVICES)
        repo = f"acme/{service}"
        run_id = 48_000 + self.seq // 4
        branch = r.choice(("main", "main", "main", f"feature/{service[:3].upper()}-"
                           f"{r.randint(100, 999)}-{r.choice(('retry', 'cache', 'refunds'))}",
                           f"renovate/aiokafka-0.{r.randint(10, 14)}.x"))
        stage = r.choice(self.STAGES)
        status = r.choices(("started", "succeeded", "failed", "cancelled"), (30, 55, 12, 3))[0]
        event = {
            "event_id": self.uuid(),
            "type": f"pipeline.stage.{status}",
            "pipeline": service,
            "repo": repo,
            "run_id": run_id,
            "branch": branch,
            "commit": self.hex(7),
            "stage": stage,
            "status": status,
            "duration_ms": None if status == "started" else r.randint(2_000, 600_000),
            "triggered_by": r.choice(PEOPLE + ("renovate[bot]", "schedule")),
            "runner": f"runner-{r.choice(('linux-x64', 'linux-arm64'))}-{r.randint(1, 24):02d}",
            "url": f"https://ci.acme.dev/{repo}/-/pipelines/{run_id}",
            "ts": _iso(_now()),
        }
        if status == "failed":
            event["error"] = r.choice((
                "exit status 1: 3 tests failed in test_refunds.py",
                "Trivy: 2 CRITICAL vulnerabilities in base image",
                "helm upgrade: timed out waiting for the condition",
                "docker push: 503 Service Unavailable from registry",
            ))
        headers = (("ce_type", f"dev.acme.ci.{event['type']}".encode()),
                   ("ce_source", f"https://ci.acme.dev/{repo}".encode()))
        return DemoRecord(_json(event), repo.encode(), headers)


class AppLogs(RecordGenerator):
    """Log aggregation: structured application logs, no key (spread over partitions)."""

    MESSAGES = {
        "DEBUG": ("cache hit for key {k}", "sql: SELECT * FROM carts WHERE id = $1 ({ms} ms)"),
        "INFO": ("request completed in {ms} ms", "order {k} accepted", "user {k} logged in",
                 "published event to orders.events", "health check ok"),
        "WARN": ("slow query: {ms} ms on carts_by_user", "retrying call to payments-api "
                 "(attempt 2/3)", "connection pool 90% used"),
        "ERROR": ("payment provider returned 502", "timeout after 5000 ms calling inventory",
                  "NullPointerException in CheckoutController.submit"),
    }

    def make(self) -> DemoRecord:
        r = self.rng
        service = r.choice(SERVICES)
        level = r.choices(("DEBUG", "INFO", "WARN", "ERROR"), (10, 75, 10, 5))[0]
        msg = r.choice(self.MESSAGES[level]).format(k=self.hex(8), ms=r.randint(2, 4_000))
        event = {
            "ts": _iso(_now()),
            "level": level,
            "service": service,
            "namespace": TEAMS[service],
            "pod": f"{service}-{self.hex(9)}-{self.hex(5)}",
            "trace_id": self.hex(32),
            "span_id": self.hex(16),
            "msg": msg,
        }
        return DemoRecord(_json(event))


class AccessLogs(RecordGenerator):
    """Log aggregation: ingress access logs, no key."""

    PATHS = ("/api/v1/cart", "/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/search",
             "/api/v1/payments", "/healthz", "/static/app.js", "/api/v1/login")

    def make(self) -> DemoRecord:
        r = self.rng
        status = r.choices((200, 201, 204, 301, 400, 401, 404, 429, 500, 502, 503),
                           (70, 6, 4, 2, 3, 3, 5, 2, 2, 2, 1))[0]
        event = {
            "ts": _iso(_now()),
            "remote_addr": f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            "method": r.choices(("GET", "POST", "PUT", "DELETE"), (70, 20, 7, 3))[0],
            "host": "shop.acme.dev",
            "path": r.choice(self.PATHS).replace("{id}", str(r.randint(100_000, 999_999))),
            "status": status,
            "bytes_sent": r.randint(120, 48_000),
            "request_time_ms": round(r.lognormvariate(3.5, 0.9), 1),
            "upstream": f"{r.choice(SERVICES)}.svc.cluster.local:8080",
            "user_agent": r.choice(("Mozilla/5.0 (X11; Linux x86_64)", "okhttp/4.12.0",
                                    "kube-probe/1.30", "curl/8.5.0")),
        }
        return DemoRecord(_json(event))


class ApmMetrics(RecordGenerator):
    """APM and metrics ingestion: one aggregated sample, keyed by service."""

    METRICS = (("http.server.duration", "ms", "histogram"), ("http.server.requests", "1", "sum"),
               ("jvm.memory.used", "By", "gauge"), ("db.client.connections.usage", "1", "gauge"),
               ("process.cpu.utilization", "1", "gauge"))

    def make(self) -> DemoRecord:
        r = self.rng
        service = r.choice(SERVICES)
        name, unit, kind = r.choice(self.METRICS)
        sample: dict[str, Any] = {
            "ts": _iso(_now()),
            "service": service,
            "env": "prod",
            "region": "eu-west-1",
            "metric": name,
            "unit": unit,
            "type": kind,
            "tags": {"pod": f"{service}-{self.hex(5)}", "version": f"1.{r.randint(20, 42)}.0"},
        }
        if kind == "histogram":
            p50 = round(r.lognormvariate(3.2, 0.4), 1)
            sample.update(count=r.randint(50, 5_000), p50=p50, p95=round(p50 * 3.1, 1),
                          p99=round(p50 * 7.4, 1))
        elif kind == "sum":
            sample.update(value=r.randint(100, 20_000), window_s=10)
        else:
            sample.update(value=round(r.random() * (2**30 if unit == "By" else 1), 3))
        return DemoRecord(_json(sample), service.encode())


class KubeEvents(RecordGenerator):
    """Kubernetes events feeding autoscalers; some OOMKilled and CrashLoopBackOff."""

    REASONS = (
        ("Scheduled", "Normal", "Successfully assigned {ns}/{pod} to {node}", 20),
        ("Pulled", "Normal", "Container image \"registry.acme.dev/{svc}:1.{v}.0\" already "
         "present on machine", 15),
        ("Started", "Normal", "Started container {svc}", 15),
        ("ScalingReplicaSet", "Normal", "Scaled up replica set {svc}-{rs} to {n}", 10),
        ("SuccessfulRescale", "Normal", "New size: {n}; reason: cpu resource utilization "
         "(percentage of request) above target", 8),
        ("Killing", "Normal", "Stopping container {svc}", 8),
        ("Unhealthy", "Warning", "Readiness probe failed: HTTP probe failed with statuscode: "
         "503", 8),
        ("BackOff", "Warning", "Back-off restarting failed container {svc} in pod {pod}", 5),
        ("OOMKilled", "Warning", "Container {svc} exceeded its memory limit (512Mi) and was "
         "killed", 5),
        ("CrashLoopBackOff", "Warning", "back-off 5m0s restarting failed container={svc} "
         "pod={pod}", 4),
        ("FailedScheduling", "Warning", "0/12 nodes are available: 12 Insufficient memory.", 2),
    )

    def make(self) -> DemoRecord:
        r = self.rng
        svc = r.choice(SERVICES)
        ns = TEAMS[svc]
        pod = f"{svc}-{self.hex(9)}-{self.hex(5)}"
        node = f"ip-10-0-{r.randint(0, 63)}-{r.randint(1, 254)}.eu-west-1.compute.internal"
        reason, kind, text, _ = r.choices(self.REASONS, [w for *_, w in self.REASONS])[0]
        now = _now()
        involved = ("Deployment", svc) if reason == "ScalingReplicaSet" else (
            ("HorizontalPodAutoscaler", svc) if reason == "SuccessfulRescale" else ("Pod", pod))
        event = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": f"{involved[1]}.{self.hex(16)}", "namespace": ns,
                         "uid": self.uuid(), "creationTimestamp": _iso(now)},
            "involvedObject": {"kind": involved[0], "name": involved[1], "namespace": ns},
            "reason": reason,
            "type": kind,
            "message": text.format(ns=ns, pod=pod, node=node, svc=svc, v=r.randint(20, 42),
                                   rs=self.hex(9), n=r.randint(2, 12)),
            "count": r.choices((1, 2, 5, 17), (80, 10, 7, 3))[0],
            "source": {"component": "kubelet" if involved[0] == "Pod" else
                       "horizontal-pod-autoscaler" if reason == "SuccessfulRescale" else
                       "deployment-controller", "host": node},
            "cluster": "prod-eu-west-1",
            "lastTimestamp": _iso(now),
        }
        return DemoRecord(_json(event), f"{ns}/{involved[0]}/{involved[1]}".encode())


class IacChanges(RecordGenerator):
    """Infrastructure-as-code audit trail: one record per plan/apply, keyed by workspace."""

    WORKSPACES = ("prod-network", "prod-eks", "prod-rds", "prod-iam", "staging-eks",
                  "shared-dns", "kafka-topics")
    RESOURCES = ("aws_security_group.db", "aws_iam_role.ci_deployer", "aws_eks_node_group.general",
                 "aws_rds_cluster.orders", "aws_route53_record.api", "kafka_topic.orders_events",
                 "aws_s3_bucket.audit_logs", "helm_release.ingress_nginx")

    def make(self) -> DemoRecord:
        r = self.rng
        ws = r.choice(self.WORKSPACES)
        action = r.choices(("plan", "apply", "destroy"), (55, 43, 2))[0]
        changes = [{"address": addr, "action": r.choice(("create", "update", "update", "delete"))}
                   for addr in r.sample(self.RESOURCES, r.randint(1, 3))]
        event = {
            "change_id": self.uuid(),
            "tool": r.choice(("terraform", "terraform", "opentofu", "pulumi")),
            "tool_version": "1.9.8",
            "workspace": ws,
            "action": action,
            "status": r.choices(("applied", "planned", "errored"), (50, 45, 5))[0]
            if action != "plan" else "planned",
            "resource_changes": changes,
            "summary": {k: sum(1 for c in changes if c["action"] == a)
                        for k, a in (("add", "create"), ("change", "update"),
                                     ("destroy", "delete"))},
            "actor": f"{r.choice(PEOPLE)}@acme.dev",
            "approved_by": f"{r.choice(PEOPLE)}@acme.dev" if action != "plan" else None,
            "commit": self.hex(40),
            "run_url": f"https://atlantis.acme.dev/jobs/{self.uuid()}",
            "ts": _iso(_now()),
        }
        return DemoRecord(_json(event), ws.encode())


class OrderEvents(RecordGenerator):
    """Event-driven microservices: order lifecycle events keyed by order id.

    About 1.5% of records are poison (truncated JSON, a negative total, an unknown currency)
    and end up in the dead-letter topic, sent there by the `orders-service` group.
    """

    POISON_RATE = 0.015

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.open: list[tuple[str, str, float]] = []  # order id, next event, total

    def make(self) -> DemoRecord:
        r = self.rng
        if self.open and r.random() < 0.6:
            order_id, kind, total = self.open.pop(r.randrange(len(self.open)))
        else:
            order_id, kind, total = f"ORD-{1_000_000 + self.seq}", "OrderCreated", 0.0
        items: list[dict[str, Any]] = []
        if kind == "OrderCreated":
            for _ in range(r.randint(1, 4)):
                qty, price = r.randint(1, 3), round(r.uniform(3, 180), 2)
                items.append({"sku": f"SKU-{r.randint(10_000, 99_999)}", "qty": qty,
                              "unit_price": price})
                total += qty * price
            total = round(total, 2)
        following = {"OrderCreated": "PaymentAuthorized", "PaymentAuthorized": "OrderShipped",
                     "OrderShipped": "OrderDelivered"}.get(kind)
        if following and len(self.open) < 500:
            if r.random() < 0.04 and kind != "OrderShipped":
                following = "OrderCancelled"
            self.open.append((order_id, following, total))
        event: dict[str, Any] = {
            "event_id": self.uuid(),
            "event_type": kind,
            "order_id": order_id,
            "customer_id": f"CUST-{r.randint(10_000, 99_999)}",
            "total": total,
            "currency": "EUR",
            "schema_version": 3,
            "ts": _iso(_now()),
        }
        if items:
            event["items"] = items
        headers = [("traceparent", f"00-{self.hex(32)}-{self.hex(16)}-01".encode()),
                   ("content-type", b"application/json"),
                   ("event-type", kind.encode()),
                   ("producer", b"checkout/1.41.0")]
        value = _json(event)
        if r.random() < self.POISON_RATE:
            poison = r.choice(("truncated", "negative", "currency"))
            if poison == "truncated":
                value = value[: len(value) // 2]
            elif poison == "negative":
                value = _json({**event, "total": -abs(total or 12.5)})
            else:
                value = _json({**event, "currency": "XXX"})
        return DemoRecord(value, order_id.encode(), tuple(headers))


class AppSettings(RecordGenerator):
    """Configuration distribution: compacted, key = service/setting; a few tombstones."""

    SETTINGS = (("checkout", "payment.timeout.ms", ("2500", "3000", "5000")),
                ("checkout", "feature.one-click-buy", ("true", "false")),
                ("search", "ranking.model", ("bm25", "ltr-v7", "ltr-v8")),
                ("gateway", "ratelimit.per-minute", ("600", "1200", "2400")),
                ("notifications", "email.provider", ("ses", "sendgrid")),
                ("inventory", "reservation.ttl.s", ("300", "600", "900")),
                ("recommendations", "feature.similar-items", ("true", "false")),
                ("payments-api", "3ds.required-above-eur", ("30", "50", "100")))

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.versions: dict[str, int] = {}

    def make(self) -> DemoRecord:
        r = self.rng
        service, name, choices = r.choice(self.SETTINGS)
        key = f"{service}/{name}"
        if key in self.versions and r.random() < 0.03:
            del self.versions[key]
            return DemoRecord(None, key.encode(), (("deleted-by", b"alice@acme.dev"),))
        version = self.versions.get(key, 0) + 1
        self.versions[key] = version
        event = {"service": service, "key": name, "value": r.choice(choices),
                 "version": version, "updated_by": f"{r.choice(PEOPLE)}@acme.dev",
                 "updated_at": _iso(_now()),
                 "reason": r.choice(("incident INC-2291 mitigation", "rollout step",
                                     "rollback", "load test", "tuning"))}
        return DemoRecord(_json(event), key.encode())


class OrdersCdc(RecordGenerator):
    """Warehouse pipeline through Kafka Connect: Debezium change events (MySQL, JSON
    converter without schemas) for the shop database's orders table, read by a sink."""

    def make(self) -> DemoRecord:
        r = self.rng
        row_id = 700_000 + self.seq // 2
        op = "c" if self.seq % 2 else r.choices(("u", "d"), (95, 5))[0]
        now_ms = int(time.time() * 1000)
        after = {"id": row_id, "customer_id": r.randint(10_000, 99_999),
                 "status": r.choice(("NEW", "PAID", "SHIPPED")),
                 "total_cents": r.randint(300, 90_000), "currency": "EUR",
                 "updated_at": now_ms - r.randint(0, 900)}
        before = None if op == "c" else {**after, "status": "NEW"}
        event = {
            "before": before,
            "after": None if op == "d" else after,
            "source": {"version": "2.7.3.Final", "connector": "mysql", "name": "cdc",
                       "ts_ms": now_ms - r.randint(5, 200), "db": "shop", "table": "orders",
                       "server_id": 223344, "file": "mysql-bin.000042",
                       "pos": 1_000_000 + self.seq * 412, "row": 0},
            "op": op,
            "ts_ms": now_ms,
        }
        return DemoRecord(_json(event), _json({"id": row_id}),
                          (("__debezium.newkey", b"false"),) if op == "d" else ())


class Chargeback(RecordGenerator):
    """Cost and chargeback by team: usage and cost per team and resource, keyed by team."""

    def make(self) -> DemoRecord:
        r = self.rng
        service = r.choice(SERVICES)
        team = TEAMS[service]
        gb = round(r.uniform(0.1, 40), 3)
        hour = _now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        event = {
            "period_start": _iso(hour),
            "period_end": _iso(hour + timedelta(hours=1)),
            "team": team,
            "cost_center": f"CC-{4100 + sorted(set(TEAMS.values())).index(team)}",
            "service": service,
            "resource": r.choice(("kafka:orders.events", "kafka:logs.app", "kafka:metrics.apm",
                                  "eks:node-hours", "rds:orders", "s3:audit-logs")),
            "usage": {"bytes_in": int(gb * 1e9), "bytes_out": int(gb * 2.2e9),
                      "storage_gb_hours": round(gb * 24, 2)},
            "cost_usd": round(gb * r.uniform(0.02, 0.11), 4),
            "pricing": "list-2026-q4",
        }
        return DemoRecord(_json(event), team.encode())


# ---------------------------------------------------------------- dead letters (Spring Kafka)

#: headers Spring Kafka's DeadLetterPublishingRecoverer adds; partition is a 4-byte and offset
#: and timestamp 8-byte big-endian integers, the rest UTF-8 strings
DLT_ORIGINAL_TOPIC = "kafka_dlt-original-topic"
DLT_ORIGINAL_PARTITION = "kafka_dlt-original-partition"
DLT_ORIGINAL_OFFSET = "kafka_dlt-original-offset"
DLT_ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
DLT_ORIGINAL_TIMESTAMP_TYPE = "kafka_dlt-original-timestamp-type"
DLT_ORIGINAL_CONSUMER_GROUP = "kafka_dlt-original-consumer-group"
DLT_EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
DLT_EXCEPTION_CAUSE_FQCN = "kafka_dlt-exception-cause-fqcn"
DLT_EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
DLT_EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"


@dataclass(frozen=True)
class ListenerFailure:
    """Why a consumer could not process a record, as a Java listener would report it."""

    cause_fqcn: str
    """Class of the underlying exception."""
    message: str
    """Its message."""


def check_order(value: bytes | None) -> ListenerFailure | None:
    """What the demo's orders-service does with a record: None if fine, else the failure."""
    listener = "com.acme.orders.OrderEventListener.onOrderEvent"
    try:
        event = json.loads(value or b"")
    except ValueError:
        return ListenerFailure(
            "com.fasterxml.jackson.core.io.JsonEOFException",
            f"Listener method '{listener}' threw exception; Unexpected end-of-input: "
            "expected close marker for OBJECT (start marker at [Source: (byte[]); line: 1, "
            "column: 1])",
        )
    if not isinstance(event, dict):
        return ListenerFailure("java.lang.IllegalArgumentException",
                               f"Listener method '{listener}' threw exception; not an object")
    if isinstance(event.get("total"), int | float) and event["total"] < 0:
        return ListenerFailure(
            "jakarta.validation.ConstraintViolationException",
            f"Listener method '{listener}' threw exception; onOrderEvent.event.total: must "
            "be greater than or equal to 0",
        )
    if event.get("currency") not in ("EUR", "USD", "GBP"):
        return ListenerFailure(
            "java.lang.IllegalArgumentException",
            f"Listener method '{listener}' threw exception; Unsupported currency code: "
            f"{event.get('currency')}",
        )
    return None


def spring_dlt_headers(
    topic: str, partition: int, offset: int, timestamp_ms: int, group: str,
    failure: ListenerFailure,
) -> list[tuple[str, bytes]]:
    """The headers Spring Kafka (2.8+) adds to a record it publishes to a dead-letter topic."""
    fqcn = "org.springframework.kafka.listener.ListenerExecutionFailedException"
    trace = (
        f"{fqcn}: {failure.message}\n"
        "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer$"
        "ListenerConsumer.decorateException(KafkaMessageListenerContainer.java:2976)\n"
        "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer$"
        "ListenerConsumer.doInvokeOnMessage(KafkaMessageListenerContainer.java:2844)\n"
        f"Caused by: {failure.cause_fqcn}: {failure.message.split('; ', 1)[-1]}\n"
        "\tat com.acme.orders.OrderEventListener.onOrderEvent(OrderEventListener.java:57)\n"
    )
    return [
        (DLT_ORIGINAL_TOPIC, topic.encode()),
        (DLT_ORIGINAL_PARTITION, struct.pack(">i", partition)),
        (DLT_ORIGINAL_OFFSET, struct.pack(">q", offset)),
        (DLT_ORIGINAL_TIMESTAMP, struct.pack(">q", timestamp_ms)),
        (DLT_ORIGINAL_TIMESTAMP_TYPE, b"CreateTime"),
        (DLT_ORIGINAL_CONSUMER_GROUP, group.encode()),
        (DLT_EXCEPTION_FQCN, fqcn.encode()),
        (DLT_EXCEPTION_CAUSE_FQCN, failure.cause_fqcn.encode()),
        (DLT_EXCEPTION_MESSAGE, failure.message.encode()),
        (DLT_EXCEPTION_STACKTRACE, trace.encode()),
    ]


# ---------------------------------------------------------------- the table of patterns


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


def rate_multiplier(elapsed_s: float, period_s: float, phase: float) -> float:
    """The slow swing of a topic's rate around its share: 0.5x to 1.5x, averaging 1."""
    return 1.0 + 0.5 * math.sin(2 * math.pi * elapsed_s / period_s + phase)


# ---------------------------------------------------------------- topics and config


def _connection(bootstrap: str, name: str = "demo") -> KafkaConnection:
    return KafkaConnection(name, ClusterConfig(bootstrap_servers=bootstrap))


async def create_demo_topics(
    bootstrap: str, topics: Sequence[DemoTopic] = DEMO_TOPICS
) -> list[str]:
    """Create the demo topics (existing ones are left as they are); returns their names."""
    async with _connection(bootstrap) as conn:
        await TopicService(conn).create_topics([t.spec() for t in topics], exist_ok=True)
    return [t.name for t in topics]


def demo_alert_rules(cluster: str) -> list[dict[str, Any]]:
    """Alert rules the demo's config names, so the alerts screen (and the header's count)
    show what the lag screen shows: the stopped warehouse loader fires once its status is
    judged STOP; a group that stalls or falls two minutes behind fires a warning."""
    return [
        {"name": "consumer-stopped", "match": {"cluster": cluster},
         "when": "status == STOP", "severity": "critical", "channel": "#demo-oncall"},
        {"name": "consumer-falling-behind", "match": {"cluster": cluster},
         "when": "status in [ERR, STALL] or lag_seconds > 120", "severity": "warning",
         "channel": "#demo-oncall"},
    ]


def demo_config_data(bootstraps: Mapping[str, str],
                     cluster_settings: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> dict[str, Any]:
    """Config naming the embedded clusters, in the shape of config.example.yaml.
    `cluster_settings`: more keys per cluster (a demo part's schema_registry, ...)."""
    names = list(bootstraps)
    extra = cluster_settings or {}
    data: dict[str, Any] = {
        "default_cluster": names[0],
        "clusters": {n: {"bootstrap_servers": b, **extra.get(n, {})}
                     for n, b in bootstraps.items()},
        "audit": {"signing_key": DEMO_SIGNING_KEY},
        "alerts": {"interval": "10s", "rules": demo_alert_rules(names[0])},
    }
    if len(names) >= 2:
        data["dr"] = {"pairs": [{"name": "main", "primary": names[0], "secondary": names[1],
                                 "groups": [g.group_id for g in DEMO_GROUPS]}]}
    data.update(DEMO_OWNERSHIP)
    return data


#: teams, prices and policies for the Usage (U) and Compliance (P) screens: every demo topic
#: (and the schema traffic's) has an owner but the MirrorMaker and kafkaops ones;
#: iac.changes breaks iac-retention (min.insync.replicas 1, and one replica: not fixable by
#: a config change), orders.events breaks orders-retention (7d: `policy fix` sets 14d) and
#: cdc-durability asks for min.insync.replicas, which cdc.shop.orders does not set (unknown)
DEMO_OWNERSHIP: dict[str, Any] = {
    "teams": {
        "payments": {"match": ["orders.*", "cdc.shop.*", "payments.*"],
                     "channel": "#payments-oncall"},
        "logistics": {"match": ["shipments.*"]},
        "platform": {"match": ["logs.*", "metrics.*", "k8s.*"]},
        "delivery": {"match": ["cicd.*", "iac.*", "config.*"]},
        "finops": {"match": ["finops.*"]},
    },
    "costs": {"storage_gb_month": 0.10, "ingress_gb": 0.02, "currency": "USD"},
    "policies": [
        {"name": "iac-retention", "match": {"topic": "iac.*"},
         "require": {"retention": ">= 7y", "cleanup_policy": "delete",
                     "min_insync_replicas": ">= 2"}},
        {"name": "logs-compressed", "match": {"topic": "logs.*"},
         "require": {"compression_type": ["lz4", "snappy", "zstd"]}},
        {"name": "orders-retention", "match": {"topic": "orders.*"},
         "require": {"retention": ">= 14d"}},
        {"name": "cdc-durability", "match": {"topic": "cdc.*"},
         "require": {"min_insync_replicas": ">= 2"}},
    ],
}


def write_demo_config(path: str | os.PathLike[str], bootstraps: Mapping[str, str],
                      cluster_settings: Mapping[str, Mapping[str, Any]] | None = None
                      ) -> Config:
    """Write the demo's config file (atomically, mode 0600) and return it as loaded back.

    Loading it back proves it is valid for `kafkaops --config FILE ...`.
    """
    p = Path(path).expanduser()
    text = (
        "# Written by `kafkaops demo` for its embedded clusters (Tansu, in memory).\n"
        f"# Valid while that demo runs (pid {os.getpid()}); it removes this file when it stops.\n"
        + yaml.safe_dump(demo_config_data(bootstraps, cluster_settings), sort_keys=False)
    )
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise ConfigError(f"cannot write the demo config to {p}: {e.strerror or e}") from None
    return load_config(p)


def check_config_path(path: str | os.PathLike[str]) -> Path:
    """Fail early (before any broker starts) if the config file cannot be written there.

    Probes by writing a scratch file next to it (permission bits say little to root).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise UsageError(f"--config-out {p}: is a directory; give a file name")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--config-out {p}: {parent} is not a directory")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=p.parent)
        os.close(fd)
        os.unlink(probe)
        if p.exists() and not os.access(p, os.W_OK):
            raise PermissionError(13, "file is not writable")
    except OSError as e:
        raise UsageError(f"--config-out {p}: cannot write there: {e.strerror or e}") from None
    return p


def check_rate(rate: float) -> float:
    if not math.isfinite(rate) or rate <= 0:
        raise UsageError(f"--rate {rate:g}: give a number of records per second above 0")
    if rate > MAX_RATE:
        raise UsageError(
            f"--rate {rate:g}: at most {MAX_RATE:g} records/s; the embedded brokers keep "
            "every record in memory"
        )
    return rate


# ---------------------------------------------------------------- traffic


@dataclass(frozen=True)
class DemoStats:
    """A snapshot of the demo traffic, for a running count."""

    elapsed_s: float
    """Seconds since start()."""
    produced: int
    """Records acknowledged by the broker, all topics (dead letters included)."""
    per_topic: Mapping[str, int]
    """Records acknowledged per topic."""
    consumed: Mapping[str, int]
    """Records consumed (and committed) per group."""
    behind: Mapping[str, int]
    """Per group: records produced to its topics that it has not consumed."""
    rate: float
    """The overall target rate now (records/s)."""
    slowed: bool
    """True once `full_rate_records` were produced and the rate dropped."""
    stopped_groups: tuple[str, ...]
    """Groups whose consumer has stopped, as designed."""
    errors: tuple[str, ...]
    """The last problems a producer or consumer ran into (they retry by themselves)."""


class DemoTraffic:
    """Producers and consumer groups on one cluster. `await start()`, `await stop()`.

    `rate` is records/s over all topics (each topic gets its `share`, swinging slowly);
    after `full_rate_records` records it drops to a tenth. `linger_ms` is the producers'
    batching delay (bigger batches cost the in-memory broker less per record).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        rate: float = DEFAULT_RATE,
        topics: Sequence[DemoTopic] = DEMO_TOPICS,
        groups: Sequence[DemoGroup] = DEMO_GROUPS,
        full_rate_records: int = FULL_RATE_RECORDS,
        seed: int | None = None,
        linger_ms: int = 250,
    ) -> None:
        self.bootstrap = bootstrap
        #: aiokafka's own request timeout (40 s): a group join on Tansu takes half a session
        self.cluster = ClusterConfig(bootstrap_servers=bootstrap, request_timeout=Duration(40.0))
        self.linger_ms = linger_ms
        self.rate = check_rate(rate)
        self.topics = tuple(topics)
        self.groups = tuple(groups)
        self.full_rate_records = full_rate_records
        self._rng = random.Random(seed)
        self._produced: dict[str, int] = {t.name: 0 for t in self.topics}
        self._consumed: dict[str, int] = {g.group_id: 0 for g in self.groups}
        self._stopped: list[str] = []
        self._errors: list[str] = []
        self._producers: dict[str | None, Any] = {}
        self._clients: contextlib.AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = 0.0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the producers and the groups' consumers (groups join in the background)."""
        codecs = {t.compression for t in self.topics} | {None}  # None also sends dead letters
        async with contextlib.AsyncExitStack() as stack:
            producers = {}
            for codec in codecs:
                producers[codec] = await stack.enter_async_context(clients.producer(
                    "demo", self.cluster, compression_type=codec, linger_ms=self.linger_ms,
                    client_id=f"kafkaops-demo-producer-{codec or 'none'}"))
            self._producers, self._clients = producers, stack.pop_all()
        self._started_at = time.monotonic()
        self._tasks.append(self._spawn("producer", self._produce_loop))
        for group in self.groups:
            for member in range(group.members):
                self._tasks.append(self._spawn(
                    f"{group.group_id}[{member}]", functools.partial(self._consume, group, member)
                ))

    async def stop(self) -> None:
        """Stop every consumer (they leave their groups) and flush the producers."""
        tasks, self._tasks = self._tasks, []
        try:
            await cancel_and_wait(*tasks)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._producers = self._clients, None, {}
            if stack is not None:
                await stack.aclose()

    async def __aenter__(self) -> DemoTraffic:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, name: str, body: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        async def supervised() -> None:
            # A producer or consumer that fails (a broker restarting, a rebalance error)
            # starts again after a pause; the demo keeps going and stats() shows the error.
            while True:
                try:
                    await body()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - recorded and retried
                    self._errors = [*self._errors[-4:],
                                    f"{name}: {type(e).__name__}: {e}".strip()]
                    await asyncio.sleep(2.0)

        return asyncio.create_task(supervised(), name=f"kafkaops-demo {name}")

    # ------------------------------------------------------------ state

    def stats(self) -> DemoStats:
        produced = dict(self._produced)
        behind = {
            g.group_id: max(sum(produced.get(t, 0) for t in g.topics)
                            - self._consumed[g.group_id], 0)
            for g in self.groups
        }
        return DemoStats(
            elapsed_s=time.monotonic() - self._started_at if self._started_at else 0.0,
            produced=sum(produced.values()),
            per_topic=produced,
            consumed=dict(self._consumed),
            behind=behind,
            rate=self.current_rate(),
            slowed=self.slowed,
            stopped_groups=tuple(self._stopped),
            errors=tuple(self._errors),
        )

    @property
    def slowed(self) -> bool:
        return sum(self._produced.values()) >= self.full_rate_records

    def current_rate(self) -> float:
        return self.rate * (SLOW_FACTOR if self.slowed else 1.0)

    # ------------------------------------------------------------ producing

    async def _produce_loop(self) -> None:
        fed = [t for t in self.topics if t.share > 0 and t.generator is not None]
        gens = {t.name: t.generator(random.Random(self._rng.random()))
                for t in fed if t.generator is not None}
        phases = {t.name: self._rng.uniform(0, 2 * math.pi) for t in fed}
        credit = {t.name: 0.0 for t in fed}
        tick = 0.1
        last = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            dt, last = min(now - last, 1.0), now
            elapsed = now - self._started_at
            rate = self.current_rate()
            sends: list[tuple[str, Awaitable[Any]]] = []
            for t in fed:
                credit[t.name] += rate * t.share * dt * rate_multiplier(
                    elapsed, t.period_s, phases[t.name])
                n = int(credit[t.name])
                credit[t.name] -= n
                producer = self._producers[t.compression]
                for _ in range(n):
                    rec = gens[t.name].next()
                    fut = await producer.send(t.name, rec.value, key=rec.key,
                                              headers=list(rec.headers) or None)
                    sends.append((t.name, fut))
            # waiting for the acks here is the back-pressure: a slow broker slows the demo
            results = await asyncio.gather(*(f for _, f in sends), return_exceptions=True)
            for (topic, _), res in zip(sends, results, strict=True):
                if isinstance(res, BaseException):
                    self._errors = [*self._errors[-4:], f"produce to {topic}: {res}"]
                else:
                    self._produced[topic] += 1

    # ------------------------------------------------------------ consuming

    def _produced_on(self, topics: Sequence[str]) -> int:
        return sum(self._produced.get(t, 0) for t in topics)

    async def _consume(self, group: DemoGroup, member: int) -> None:
        if group.group_id in self._stopped:
            return  # stopped as designed: never restarted
        # leaving the context stops the consumer, which leaves its group (also on Tansu,
        # whose generations start at 0: clients.consumer sends the LeaveGroup aiokafka skips)
        async with clients.consumer(
            "demo", self.cluster, topics=group.topics, group_id=group.group_id,
            client_id=f"{group.group_id}-{member}", enable_auto_commit=False,
            auto_offset_reset="earliest",
        ) as consumer:
            if group.behaviour == "stopped":
                await self._consume_then_stop(consumer, group)
            elif group.behaviour == "falls-behind":
                await self._consume_slowly(consumer, group)
            else:
                await self._keep_up(consumer, group)

    async def _handle(self, group: DemoGroup, batch: Mapping[Any, list[Any]]) -> int:
        n = 0
        dead: list[Awaitable[Any]] = []
        for tp, msgs in batch.items():
            n += len(msgs)
            if group.dead_letter_topic is None:
                continue
            for msg in msgs:
                failure = check_order(msg.value)
                if failure is None:
                    continue
                headers = list(msg.headers or ()) + spring_dlt_headers(
                    tp.topic, tp.partition, msg.offset, msg.timestamp, group.group_id, failure)
                dead.append(await self._producers[None].send(
                    group.dead_letter_topic, msg.value, key=msg.key, headers=headers))
        for res in await asyncio.gather(*dead, return_exceptions=True):
            if isinstance(res, BaseException):
                self._errors = [*self._errors[-4:], f"dead letter: {res}"]
            else:
                self._produced[group.dead_letter_topic or ""] = (
                    self._produced.get(group.dead_letter_topic or "", 0) + 1)
        return n

    async def _keep_up(self, consumer: Any, group: DemoGroup) -> None:
        last_commit = 0.0
        pending = 0
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            pending += await self._handle(group, batch)
            # commit about once a second, as a service with auto-commit would
            if pending and time.monotonic() - last_commit >= 1.0:
                await consumer.commit()
                self._consumed[group.group_id] += pending
                pending, last_commit = 0, time.monotonic()

    async def _consume_slowly(self, consumer: Any, group: DemoGroup) -> None:
        while True:
            allowed = int(group.speed * self._produced_on(group.topics)) \
                - self._consumed[group.group_id]
            if allowed <= 0:
                await asyncio.sleep(0.5)
                continue
            batch = await consumer.getmany(timeout_ms=1000, max_records=min(allowed, 200))
            n = await self._handle(group, batch)
            if n:
                await consumer.commit()
                self._consumed[group.group_id] += n

    async def _consume_then_stop(self, consumer: Any, group: DemoGroup) -> None:
        consumed = 0
        deadline: float | None = None
        while consumed < group.stop_after:
            batch = await consumer.getmany(timeout_ms=500,
                                           max_records=group.stop_after - consumed)
            consumed += await self._handle(group, batch)
            if deadline is None and consumer.assignment():
                deadline = time.monotonic() + 20.0  # a quiet topic must not keep it alive
            if deadline is not None and time.monotonic() > deadline:
                break
        await consumer.commit()
        self._consumed[group.group_id] += consumed
        self._stopped.append(group.group_id)
        # returning stops the consumer: it leaves the group, which keeps its offsets


# ---------------------------------------------------------------- the whole demo


class DemoPart(Protocol):
    """Something the demo runs next to its traffic (later: the DR replicator, flags)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Demo:
    """Embedded clusters, their config file, the demo topics and traffic.

    `start_clusters()` is synchronous and must run in the main thread: each broker gets
    PR_SET_PDEATHSIG, which fires when the *thread* that started it ends, so a broker started
    from a worker thread would die with that thread (or outlive a crash of the main one).
    Then `await start()` in the event loop, `await stop()`, and `stop_clusters()`.
    """

    rate: float = DEFAULT_RATE
    """Records/s over all topics."""
    config_path: Path = field(default_factory=default_config_path)
    """Where the config file naming the clusters is written."""
    cluster_names: tuple[str, ...] = DEMO_CLUSTERS
    """Clusters to start; the first carries the traffic."""
    seed: int | None = None
    """Seed for the record generators."""
    full_rate_records: int = FULL_RATE_RECORDS
    """Records produced at the full rate before it drops to a tenth."""
    parts: list[DemoPart] = field(default_factory=list)
    """More pieces to start after the traffic and stop before it."""
    cluster_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """More config keys per cluster name, for what the parts serve (a schema registry)."""
    clusters: EmbeddedClusters | None = None
    """The running brokers, after start_clusters()."""
    traffic: DemoTraffic | None = None
    """The traffic on the first cluster, after start()."""
    services: Services | None = None
    """Services built from the written config (what the console is handed), after start()."""
    _config_text: str | None = None
    _alerts: Any = None  # the alert evaluator of the config's rules, after start()

    def __post_init__(self) -> None:
        check_rate(self.rate)
        self.config_path = check_config_path(self.config_path)

    @property
    def bootstraps(self) -> dict[str, str]:
        if self.clusters is None:
            return {}
        return {n: self.clusters.bootstrap(n) for n in self.cluster_names}

    def start_clusters(self) -> None:
        self.clusters = EmbeddedClusters(list(self.cluster_names))
        self.clusters.start()

    def stop_clusters(self) -> None:
        """Stop the brokers and remove the config file (if it is still the one we wrote)."""
        if self.clusters is not None:
            self.clusters.stop()
            self.clusters = None
        if self._config_text is not None:
            with contextlib.suppress(OSError):
                if self.config_path.read_text(encoding="utf-8") == self._config_text:
                    self.config_path.unlink()
            self._config_text = None

    async def start(self) -> Services:
        """Write the config, create the topics, start the traffic and the parts."""
        if self.clusters is None:
            raise RuntimeError("Demo.start() before start_clusters()")
        config = write_demo_config(self.config_path, self.bootstraps, self.cluster_settings)
        self._config_text = self.config_path.read_text(encoding="utf-8")
        self.services = Services(config)
        primary = self.bootstraps[self.cluster_names[0]]
        await create_demo_topics(primary)
        self.traffic = DemoTraffic(primary, rate=self.rate, seed=self.seed,
                                   full_rate_records=self.full_rate_records)
        await self.traffic.start()
        for part in self.parts:
            await part.start()
        if any(rule.when for rule in config.alerts.rules):
            # what `kafkaops bot` would run: evaluate the rules and publish firing/resolved
            # alerts on the alerts topic, which the console's alerts screen reads
            from kafkaops.core.alerts.runner import AlertEvaluator

            self._alerts = AlertEvaluator(self.services)
            await self._alerts.start()
        return self.services

    async def stop(self) -> None:
        if self._alerts is not None:
            with contextlib.suppress(Exception):
                await self._alerts.stop()
            self._alerts = None
        for part in reversed(self.parts):
            with contextlib.suppress(Exception):
                await part.stop()
        if self.traffic is not None:
            await self.traffic.stop()
        if self.services is not None:
            await self.services.close()


# ---------------------------------------------------------------- flags


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


@dataclass
class DemoFlags:
    """Creates the demo's feature flags on the primary cluster (audited as the demo)."""

    services: Callable[[], Services | None]
    """The demo's Services, resolved at start()."""

    async def start(self) -> None:
        services = self.services()
        if services is None:
            raise RuntimeError("DemoFlags.start() before the demo's services exist")
        flags = await services.flags()
        existing = {f.key for f in await flags.list_flags()}
        for key, ftype, value, owner, desc, tags, enabled, rollout in DEMO_FLAGS:
            if key in existing:
                continue
            state = await flags.create(key, type=ftype, value=value, owner=owner,
                                       description=desc, tags=tags, actor="demo", face="cli",
                                       reason="demo seed")
            if enabled:
                state = await flags.toggle(key, True, expect_version=state.version,
                                           actor="demo", face="cli", reason="demo seed")
            if rollout != 100.0:
                await flags.rollout(key, rollout, expect_version=state.version,
                                    actor="demo", face="cli", reason="demo seed")

    async def stop(self) -> None:
        return None
