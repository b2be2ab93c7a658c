"""The demo's schema-governed topics: the demo/test registry, and a producer writing
Confluent-framed Avro on `payments.authorized` and Protobuf on `shipments.tracking`,
schemas registered through the registry's REST API as a client would.

    part = DemoSchemaTraffic(lambda: demo.bootstraps["primary"])
    demo.cluster_settings = {name: {"schema_registry": {"url": part.url}} ...}
    demo.parts.append(part)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import random
import struct
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.tasks import cancel_and_wait
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from kafkaops.demo.schema_registry import DemoSchemaRegistry, free_port

log = logging.getLogger("kafkaops.demo.schemas")

AVRO_TOPIC = "payments.authorized"
PROTOBUF_TOPIC = "shipments.tracking"
DAY_MS = 86_400_000

PAYMENT = {
    "type": "record", "name": "PaymentAuthorized", "namespace": "com.acme.payments",
    "doc": "A card payment the PSP authorized (event-driven microservices, governed schema)",
    "fields": [
        {"name": "payment_id", "type": "string"},
        {"name": "order_id", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 12, "scale": 2}},
        {"name": "currency", "type": {"type": "enum", "name": "Currency",
                                      "symbols": ["EUR", "USD", "GBP", "NOK"]}},
        {"name": "status", "type": {"type": "enum", "name": "Status",
                                    "symbols": ["AUTHORIZED", "DECLINED", "REVIEW"]}},
        {"name": "card_country", "type": ["null", "string"], "default": None},
        {"name": "authorized_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}
CURRENCIES = ("EUR", "USD", "GBP", "NOK")
CARRIERS = ("posten", "dhl", "ups", "bring")


def shipment_file() -> Any:
    """logistics/shipment.proto as a FileDescriptorProto (a message with a nested one)."""
    from google.protobuf import descriptor_pb2

    f = descriptor_pb2.FileDescriptorProto(name="logistics/shipment.proto",
                                           package="logistics", syntax="proto3")
    m = f.message_type.add(name="ShipmentEvent")
    parcel = m.nested_type.add(name="Parcel")
    parcel.field.add(name="sku", number=1, type=9, label=1)
    parcel.field.add(name="grams", number=2, type=5, label=1)
    stage = m.enum_type.add(name="Stage")
    for i, name in enumerate(("LABEL_CREATED", "PICKED_UP", "IN_TRANSIT", "DELIVERED")):
        stage.value.add(name=name, number=i)
    m.field.add(name="shipment_id", number=1, type=9, label=1)
    m.field.add(name="order_id", number=2, type=9, label=1)
    m.field.add(name="carrier", number=3, type=9, label=1)
    m.field.add(name="stage", number=4, type=14, type_name=".logistics.ShipmentEvent.Stage",
                label=1)
    m.field.add(name="parcels", number=5, type=11,
                type_name=".logistics.ShipmentEvent.Parcel", label=3)
    m.field.add(name="at_ms", number=6, type=3, label=1)
    return f


class DemoSchemaTraffic:
    """The registry plus `rate` framed records a second over the two topics."""

    def __init__(self, bootstrap: Callable[[], str], *, rate: float = 4.0,
                 port: int = 0, seed: int | None = None) -> None:
        self._bootstrap = bootstrap
        self.rate = rate
        self.port = port or free_port()
        self.rng = random.Random(seed)
        self.registry: DemoSchemaRegistry | None = None
        self.produced = 0
        self._task: asyncio.Task[None] | None = None
        self._producer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        bootstrap = self._bootstrap()
        self.registry = DemoSchemaRegistry(bootstrap, port=self.port)
        await self.registry.start()
        cluster = ClusterConfig(bootstrap_servers=bootstrap)
        async with KafkaConnection("demo", cluster) as conn:
            await TopicService(conn).create_topics([
                NewTopicSpec(AVRO_TOPIC, 3, 1, {"cleanup.policy": "delete",
                                                "retention.ms": str(7 * DAY_MS),
                                                "compression.type": "producer"}),
                NewTopicSpec(PROTOBUF_TOPIC, 2, 1, {"cleanup.policy": "delete",
                                                    "retention.ms": str(7 * DAY_MS),
                                                    "compression.type": "producer"}),
            ], exist_ok=True)
        avro_id, proto_id = await self._register()
        async with contextlib.AsyncExitStack() as stack:
            self._producer = await stack.enter_async_context(
                clients.producer("demo", cluster, linger_ms=100))
            self._clients = stack.pop_all()
        self._task = asyncio.get_running_loop().create_task(self._run(avro_id, proto_id))

    async def stop(self) -> None:
        try:
            await cancel_and_wait(self._task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._producer = self._clients, None, None
            if stack is not None:
                await stack.aclose()
            if self.registry is not None:
                await self.registry.stop()

    async def _register(self) -> tuple[int, int]:
        """Register both schemas as a client would (POST /subjects/S/versions)."""
        proto = base64.b64encode(shipment_file().SerializeToString()).decode("ascii")
        async with httpx.AsyncClient(base_url=self.url, timeout=15) as http:
            ids = []
            for subject, body in ((f"{AVRO_TOPIC}-value", {"schema": json.dumps(PAYMENT)}),
                                  (f"{PROTOBUF_TOPIC}-value",
                                   {"schema": proto, "schemaType": "PROTOBUF"})):
                resp = await http.post(f"/subjects/{subject}/versions", json=body)
                resp.raise_for_status()
                ids.append(int(resp.json()["id"]))
        return ids[0], ids[1]

    def payment(self, avro_id: int, parsed: Any) -> bytes:
        from fastavro import schemaless_writer

        r = self.rng
        status = r.choices(("AUTHORIZED", "DECLINED", "REVIEW"), (90, 7, 3))[0]
        record = {
            "payment_id": f"pay-{r.getrandbits(40):010x}",
            "order_id": f"ord-{r.randint(10_000, 99_999)}",
            "amount": Decimal(r.randint(199, 250_000)) / 100,
            "currency": r.choice(CURRENCIES), "status": status,
            "card_country": r.choice((None, "NO", "DE", "US", "GB")),
            "authorized_at": int(time.time() * 1000),
        }
        out = io.BytesIO()
        out.write(b"\x00" + struct.pack(">I", avro_id))
        schemaless_writer(out, parsed, record)
        return out.getvalue()

    def shipment(self, proto_id: int, cls: Any) -> bytes:
        r = self.rng
        msg = cls(shipment_id=f"shp-{r.getrandbits(32):08x}",
                  order_id=f"ord-{r.randint(10_000, 99_999)}", carrier=r.choice(CARRIERS),
                  stage=r.randint(0, 3), at_ms=int(time.time() * 1000))
        for _ in range(r.randint(1, 3)):
            msg.parcels.add(sku=f"SKU-{r.randint(100, 999)}", grams=r.randint(50, 20_000))
        # frame, then the message indexes: a lone 0 for the first message of the file
        return b"\x00" + struct.pack(">I", proto_id) + b"\x00" + msg.SerializeToString()

    async def _run(self, avro_id: int, proto_id: int) -> None:
        from fastavro import parse_schema
        from google.protobuf import descriptor_pool, message_factory

        parsed = parse_schema(PAYMENT)
        pool = descriptor_pool.DescriptorPool()
        pool.Add(shipment_file())
        cls = message_factory.GetMessageClass(
            pool.FindMessageTypeByName("logistics.ShipmentEvent"))
        while True:
            try:
                if self.rng.random() < 0.6:
                    await self._producer.send(AVRO_TOPIC, self.payment(avro_id, parsed))
                else:
                    await self._producer.send(PROTOBUF_TOPIC, self.shipment(proto_id, cls))
                self.produced += 1
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the broker went away for a moment: try again
                log.warning("schema demo traffic: %s", e)
            await asyncio.sleep(1.0 / self.rate)
