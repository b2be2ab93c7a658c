"""Record generators for the operations side of the demo: CI/CD pipeline events, application
and access logs, APM metrics, Kubernetes events and the infrastructure-as-code audit trail.
"""

from __future__ import annotations

from typing import Any

from kafkaops.demo.records import (
    PEOPLE,
    SERVICES,
    TEAMS,
    DemoRecord,
    RecordGenerator,
    iso,
    to_json,
    utc_now,
)


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
            "ts": iso(utc_now()),
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
        return DemoRecord(to_json(event), repo.encode(), headers)


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
            "ts": iso(utc_now()),
            "level": level,
            "service": service,
            "namespace": TEAMS[service],
            "pod": f"{service}-{self.hex(9)}-{self.hex(5)}",
            "trace_id": self.hex(32),
            "span_id": self.hex(16),
            "msg": msg,
        }
        return DemoRecord(to_json(event))


class AccessLogs(RecordGenerator):
    """Log aggregation: ingress access logs, no key."""

    PATHS = ("/api/v1/cart", "/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/search",
             "/api/v1/payments", "/healthz", "/static/app.js", "/api/v1/login")

    def make(self) -> DemoRecord:
        r = self.rng
        status = r.choices((200, 201, 204, 301, 400, 401, 404, 429, 500, 502, 503),
                           (70, 6, 4, 2, 3, 3, 5, 2, 2, 2, 1))[0]
        event = {
            "ts": iso(utc_now()),
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
        return DemoRecord(to_json(event))


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
            "ts": iso(utc_now()),
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
        return DemoRecord(to_json(sample), service.encode())


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
        now = utc_now()
        involved = ("Deployment", svc) if reason == "ScalingReplicaSet" else (
            ("HorizontalPodAutoscaler", svc) if reason == "SuccessfulRescale" else ("Pod", pod))
        event = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": f"{involved[1]}.{self.hex(16)}", "namespace": ns,
                         "uid": self.uuid(), "creationTimestamp": iso(now)},
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
            "lastTimestamp": iso(now),
        }
        return DemoRecord(to_json(event), f"{ns}/{involved[0]}/{involved[1]}".encode())


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
            "ts": iso(utc_now()),
        }
        return DemoRecord(to_json(event), ws.encode())
