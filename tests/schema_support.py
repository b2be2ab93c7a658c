"""Schema Registry test parts: the demo/test registry as its own process (its schemas on
the embedded broker's `_schemas` topic), and records produced by confluent-kafka's own
serializers (Avro with a reference, JSON Schema, Protobuf with a nested message): the
reference producer, never the code under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from kafkaops.demo.schema_registry import free_port

ADDRESS = ('{"type":"record","name":"Address","namespace":"com.acme","fields":['
           '{"name":"city","type":"string"},{"name":"zip","type":"string"}]}')
ADDRESS_SUBJECT = "com.acme.Address"
ORDER = ('{"type":"record","name":"Order","namespace":"com.acme","fields":['
         '{"name":"id","type":"string"},'
         '{"name":"status","type":{"type":"enum","name":"Status","symbols":'
         '["NEW","PAID","FAILED"]}},'
         '{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,'
         '"scale":2}},'
         '{"name":"ship_to","type":"com.acme.Address"},'
         '{"name":"note","type":["null","string"],"default":null}]}')
JSON_SCHEMA = ('{"type":"object","properties":{"status":{"type":"string"},'
               '"attempt":{"type":"integer"}},"required":["status"]}')


def order(i: int, status: str = "NEW") -> dict[str, Any]:
    return {"id": f"o-{i}", "status": status, "amount": Decimal("12.30"),
            "ship_to": {"city": "Oslo", "zip": "0150"}, "note": None if i % 2 else f"n{i}"}


@contextlib.asynccontextmanager
async def registry_process(bootstrap: str, *, port: int | None = None,
                           topic: str = "_schemas", basic_auth: str | None = None
                           ) -> AsyncIterator[str]:
    """`python -m kafkaops.demo.schema_registry` as a child process; yields its URL.

    Without `port`, a free one is picked; another process may take it before the child
    binds it (a full run saw "address already in use"), so then it starts again on
    another, up to three times."""
    for attempt in range(3):
        chosen = port or free_port()
        args = [sys.executable, "-m", "kafkaops.demo.schema_registry", "--bootstrap",
                bootstrap, "--port", str(chosen), "--topic", topic]
        if basic_auth:
            args += ["--basic-auth", basic_auth]
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stdout is not None
        seen = []
        try:
            async with asyncio.timeout(60):
                while True:
                    line = (await proc.stdout.readline()).decode()
                    seen.append(line)
                    if not line or "listening on" in line:
                        break
        except BaseException:  # no answer in time, or cancelled: leave no registry behind
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if line:
            break
        await proc.wait()
        if port is None and attempt < 2 and "address already in use" in "".join(seen):
            continue
        raise RuntimeError("the registry exited:\n" + "".join(seen))
    try:
        yield f"http://127.0.0.1:{chosen}"
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.fixture(scope="session")
async def registry_url(bootstrap: str) -> AsyncIterator[str]:
    """One registry process for the session, schemas on the primary broker's `_schemas`."""
    async with registry_process(bootstrap) as url:
        yield url


def with_registry(config_data: dict[str, Any], url: str, *clusters: str) -> dict[str, Any]:
    """Config data naming `url` as the schema registry of `clusters` (default: all)."""
    data = {**config_data, "clusters": {n: dict(c) for n, c in
                                        config_data["clusters"].items()}}
    for name in clusters or tuple(data["clusters"]):
        data["clusters"][name]["schema_registry"] = {"url": url, "timeout": "3s"}
    return data


# ---------------------------------------------------------------- confluent-kafka producers


def _producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})


def _send(bootstrap: str, topic: str, values: Iterable[bytes],
          headers: list[tuple[str, bytes]] | None = None, partition: int = 0) -> None:
    p = _producer(bootstrap)
    errors: list[Any] = []
    for v in values:
        p.produce(topic, v, partition=partition, headers=headers,
                  on_delivery=lambda err, _msg: errors.append(err) if err else None)
    left = p.flush(30)
    assert left == 0 and not errors, f"produce failed: {errors} ({left} left)"


def registry_client(url: str) -> Any:
    """confluent-kafka's registry client (use it in `with`: it holds an HTTP pool)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": url})


def avro_values(url: str, topic: str, records: Iterable[dict[str, Any]]) -> list[bytes]:
    """Framed Avro from confluent-kafka's AvroSerializer; the Order schema refers to the
    Address schema registered under its own subject."""

    with registry_client(url) as sr:
        return _avro_values(sr, topic, records)


def _avro_values(sr: Any, topic: str, records: Iterable[dict[str, Any]]) -> list[bytes]:
    from confluent_kafka.schema_registry import Schema, SchemaReference
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    version = sr.register_schema_full_response(ADDRESS_SUBJECT, Schema(ADDRESS, "AVRO")).version
    if version is None:
        version = sr.lookup_schema(ADDRESS_SUBJECT, Schema(ADDRESS, "AVRO")).version
    schema = Schema(ORDER, "AVRO", [SchemaReference("com.acme.Address", ADDRESS_SUBJECT,
                                                    version)])
    ser = AvroSerializer(sr, schema)
    ctx = SerializationContext(topic, MessageField.VALUE)
    return [ser(r, ctx) for r in records]


def json_values(url: str, topic: str, records: Iterable[dict[str, Any]]) -> list[bytes]:
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    with registry_client(url) as sr:
        ser = JSONSerializer(JSON_SCHEMA, sr)
        ctx = SerializationContext(topic, MessageField.VALUE)
        return [ser(r, ctx) for r in records]


@cache
def proto_classes() -> tuple[Any, Any]:
    """(Shipment, Shipment.Parcel): a proto3 file with a nested message, built from a
    descriptor (no protoc here), importing google/protobuf/timestamp.proto."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from kafkaops.core.schema.readers import well_known_file

    f = descriptor_pb2.FileDescriptorProto(name="logistics/shipment.proto",
                                           package="logistics", syntax="proto3")
    f.dependency.append("google/protobuf/timestamp.proto")
    m = f.message_type.add(name="Shipment")
    parcel = m.nested_type.add(name="Parcel")
    parcel.field.add(name="sku", number=1, type=9, label=1)
    parcel.field.add(name="grams", number=2, type=5, label=1)
    m.field.add(name="id", number=1, type=9, label=1)
    m.field.add(name="carrier", number=2, type=9, label=1)
    m.field.add(name="parcels", number=3, type=11, type_name=".logistics.Shipment.Parcel",
                label=3)
    m.field.add(name="shipped_at", number=4, type=11, type_name=".google.protobuf.Timestamp",
                label=1)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(well_known_file("google/protobuf/timestamp.proto"))
    pool.Add(f)
    desc = pool.FindMessageTypeByName("logistics.Shipment")
    return (message_factory.GetMessageClass(desc),
            message_factory.GetMessageClass(desc.nested_types_by_name["Parcel"]))


def shipment(i: int, carrier: str = "posten") -> Any:
    shipment_cls, _ = proto_classes()
    s = shipment_cls(id=f"s-{i}", carrier=carrier)
    s.parcels.add(sku="A-1", grams=250 + i)
    s.shipped_at.seconds = 1_760_000_000 + i
    return s


def protobuf_values(url: str, topic: str, messages: Iterable[Any], *,
                    nested: bool = False) -> list[bytes]:
    """Framed Protobuf from confluent-kafka's ProtobufSerializer; `nested` serializes the
    nested Parcel message (message indexes [0, 0])."""
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    shipment_cls, parcel_cls = proto_classes()
    with registry_client(url) as sr:
        ser = ProtobufSerializer(parcel_cls if nested else shipment_cls, sr,
                                 {"use.deprecated.format": False})
        ctx = SerializationContext(topic, MessageField.VALUE)
        return [ser(m, ctx) for m in messages]


async def produce_values(bootstrap: str, topic: str, values: list[bytes], *,
                         headers: list[tuple[str, bytes]] | None = None,
                         partition: int = 0) -> None:
    await asyncio.to_thread(_send, bootstrap, topic, values, headers, partition)
