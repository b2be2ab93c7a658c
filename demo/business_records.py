"""Record generators for the business side of the demo: order lifecycle events (with a
few poison records), compacted app settings, Debezium CDC of the orders table and
chargeback by team.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
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
            "ts": iso(utc_now()),
        }
        if items:
            event["items"] = items
        headers = [("traceparent", f"00-{self.hex(32)}-{self.hex(16)}-01".encode()),
                   ("content-type", b"application/json"),
                   ("event-type", kind.encode()),
                   ("producer", b"checkout/1.41.0")]
        value = to_json(event)
        if r.random() < self.POISON_RATE:
            poison = r.choice(("truncated", "negative", "currency"))
            if poison == "truncated":
                value = value[: len(value) // 2]
            elif poison == "negative":
                value = to_json({**event, "total": -abs(total or 12.5)})
            else:
                value = to_json({**event, "currency": "XXX"})
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
                 "updated_at": iso(utc_now()),
                 "reason": r.choice(("incident INC-2291 mitigation", "rollout step",
                                     "rollback", "load test", "tuning"))}
        return DemoRecord(to_json(event), key.encode())


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
        return DemoRecord(to_json(event), to_json({"id": row_id}),
                          (("__debezium.newkey", b"false"),) if op == "d" else ())


class Chargeback(RecordGenerator):
    """Cost and chargeback by team: usage and cost per team and resource, keyed by team."""

    def make(self) -> DemoRecord:
        r = self.rng
        service = r.choice(SERVICES)
        team = TEAMS[service]
        gb = round(r.uniform(0.1, 40), 3)
        hour = utc_now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        event = {
            "period_start": iso(hour),
            "period_end": iso(hour + timedelta(hours=1)),
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
        return DemoRecord(to_json(event), team.encode())
