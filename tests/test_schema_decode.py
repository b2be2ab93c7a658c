"""Decoding Confluent-framed records in core: records written by confluent-kafka's own
serializers through the demo/test registry to the embedded broker, read back through
`MessageService(conn, decoder=...)` as every face reads them."""

from __future__ import annotations

import json
import struct

import pytest

from kafkaops.core.config import SchemaRegistryConfig, parse_config
from kafkaops.core.expr.filter import compile_filter
from kafkaops.core.messages.display import message_json
from kafkaops.core.messages.model import Message
from kafkaops.core.messages.service import MessageService
from kafkaops.core.schema.client import RegistryClient
from kafkaops.core.schema.errors import RegistryError, RegistryNotFound, RegistryUnreachable
from kafkaops.core.services import Services
from kafkaops.demo.schema_registry import free_port

from .conftest import unique
from .schema_support import (
    avro_values,
    json_values,
    order,
    produce_values,
    protobuf_values,
    registry_process,
    registry_url,  # noqa: F401 - a fixture
    shipment,
    with_registry,
)


@pytest.fixture
async def rservices(config_data: dict, registry_url: str):  # noqa: F811
    async with Services(parse_config(with_registry(config_data, registry_url), "<t>")) as s:
        yield s


async def read(services: Services, topic: str, where: str | None = None) -> list[Message]:
    svc = MessageService(await services.connection(), decoder=services.schema_decoder())
    return await svc.read(topic, where=compile_filter(where) if where else None)


async def test_avro_with_a_reference_reads_as_json(rservices, bootstrap, registry_url):  # noqa: F811
    topic = unique("avro")
    values = avro_values(registry_url, topic, [order(1), order(2, "FAILED")])
    await produce_values(bootstrap, topic, values)
    msgs = await read(rservices, topic)
    assert [json.loads(m.value) for m in msgs] == [
        {"id": "o-1", "status": "NEW", "amount": "12.30",
         "ship_to": {"city": "Oslo", "zip": "0150"}, "note": None},
        {"id": "o-2", "status": "FAILED", "amount": "12.30",
         "ship_to": {"city": "Oslo", "zip": "0150"}, "note": "n2"},
    ]
    schema = msgs[0].framed.schema
    assert (schema.subject, schema.version, schema.type) == (f"{topic}-value", 1, "AVRO")
    assert msgs[0].framed.raw == values[0]  # the bytes on the topic stay at hand
    line = message_json(msgs[1])
    assert json.loads(line["value"])["status"] == "FAILED"
    assert line["schema"] == {"id": schema.id, "subject": f"{topic}-value", "version": 1,
                              "type": "AVRO"}


async def test_filter_on_a_decoded_field(rservices, bootstrap, registry_url):  # noqa: F811
    topic = unique("avrof")
    # the enum FAILED is written as an index: the bytes on the topic do not hold "FAILED"
    values = avro_values(registry_url, topic, [order(1), order(2, "FAILED"), order(3)])
    assert b"FAILED" not in values[1]
    await produce_values(bootstrap, topic, values)
    msgs = await read(rservices, topic, 'status == "FAILED" and ship_to.city == "Oslo"')
    assert [json.loads(m.value)["id"] for m in msgs] == ["o-2"]


async def test_json_schema_reads_as_json(rservices, bootstrap, registry_url):  # noqa: F811
    topic = unique("json")
    await produce_values(bootstrap, topic, json_values(
        registry_url, topic, [{"status": "failed", "attempt": 3}]))
    (m,) = await read(rservices, topic)
    assert json.loads(m.value) == {"status": "failed", "attempt": 3}
    assert (m.framed.schema.type, m.framed.schema.subject) == ("JSON", f"{topic}-value")


async def test_protobuf_message_and_nested_message(rservices, bootstrap, registry_url):  # noqa: F811
    topic = unique("proto")
    nested = unique("proton")
    _, parcel = __import__("tests.schema_support", fromlist=["x"]).proto_classes()
    await produce_values(bootstrap, topic, protobuf_values(registry_url, topic, [shipment(1)]))
    await produce_values(bootstrap, nested, protobuf_values(
        registry_url, nested, [parcel(sku="B-2", grams=7)], nested=True))
    (m,) = await read(rservices, topic)
    assert json.loads(m.value) == {"id": "s-1", "carrier": "posten",
                                   "parcels": [{"sku": "A-1", "grams": 251}],
                                   "shipped_at": "2025-10-09T08:53:21Z"}
    assert m.framed.schema.type == "PROTOBUF"
    (n,) = await read(rservices, nested)
    assert n.framed.raw[5:7] == b"\x04\x00"  # message indexes: two of them, [0, 0]
    assert json.loads(n.value) == {"sku": "B-2", "grams": 7}


async def test_unknown_id_and_bytes_that_do_not_match_show_raw_with_a_reason(
        rservices, bootstrap, registry_url):  # noqa: F811
    topic = unique("bad")
    good = avro_values(registry_url, topic, [order(1)])[0]
    sid = struct.unpack(">I", good[1:5])[0]
    unknown = b"\x00" + struct.pack(">I", 987_654) + b"\x02hi"
    garbage = good[:5] + b"\xff" * 3
    extra = good + b"tail"
    await produce_values(bootstrap, topic, [unknown, garbage, extra, b"\x00\x01", b"plain"])
    msgs = await read(rservices, topic)
    assert msgs[0].value == unknown
    assert msgs[0].framed.error == (f"schema id 987654 is not in schema registry "
                                    f"{registry_url}")
    assert msgs[1].value == garbage and msgs[1].framed.error.startswith(f"schema id {sid}: ")
    assert "Order" in msgs[1].framed.error
    assert "4 bytes left over after the Avro record com.acme.Order" in msgs[2].framed.error
    assert msgs[3].framed is None and msgs[3].value == b"\x00\x01"  # too short for a frame
    assert msgs[4].framed is None and msgs[4].value == b"plain"
    line = message_json(msgs[0])
    assert line["value"] is None and line["value_base64"]
    assert line["schema"]["id"] == 987654 and "not in schema registry" in line["schema"]["error"]


async def test_registry_outage_shows_raw_with_the_reason_and_cached_ids_still_decode(
        config_data, bootstrap):
    topic = unique("outage")
    async with registry_process(bootstrap, topic=unique("_schemas")) as url:
        first = avro_values(url, topic, [order(1)])
        later = json_values(url, unique("other"), [{"status": "x"}])  # an id not read yet
        await produce_values(bootstrap, topic, first)
        cfg = parse_config(with_registry(config_data, url), "<t>")
        async with Services(cfg) as services:
            (m,) = await read(services, topic)
            assert m.framed.error is None
            decoder = services.schema_decoder()
    # the registry is gone: the id read before still decodes (ids are cached), the new
    # one shows raw, saying the registry did not answer
    await produce_values(bootstrap, topic, later)
    svc = MessageService((await Services(cfg).connection()), decoder=decoder)
    try:
        msgs = await svc.read(topic)
    finally:
        await svc.conn.stop()
    assert json.loads(msgs[0].value)["id"] == "o-1"
    assert msgs[1].value == later[0]
    assert "unreachable" in msgs[1].framed.error and url in msgs[1].framed.error


async def test_a_topic_without_frames_costs_nothing(rservices, bootstrap):
    topic = unique("plain")
    await produce_values(bootstrap, topic, [b'{"a": 1}', b"text"])
    decoder = rservices.schema_decoder()
    svc = MessageService(await rservices.connection())
    raw = await svc.read(topic)
    assert await decoder.decode_records(raw) is raw  # the very same list back
    assert all(m.framed is None for m in await read(rservices, topic))


async def test_hostile_frames(rservices, registry_url):  # noqa: F811
    from confluent_kafka.schema_registry import Schema

    from .schema_support import registry_client

    with registry_client(registry_url) as sr:
        nulls = sr.register_schema(unique("nulls"), Schema(
            '{"type":"record","name":"N","fields":[{"name":"xs","type":{"type":"array",'
            '"items":"null"}}]}', "AVRO"))
    proto_id = struct.unpack(">I", protobuf_values(registry_url, unique("p"),
                                                   [shipment(1)])[0][1:5])[0]
    decoder = rservices.schema_decoder()
    await decoder.prepare({nulls, proto_id})
    # an array of 2^62 nulls would take no bytes and hours: refused up front
    _, fv = decoder.decode_value("t", b"\x00" + struct.pack(">I", nulls) + b"\xfe" * 9 + b"\x7f")
    assert "array or map of items that take no bytes" in fv.error
    # a Protobuf frame claiming a million message indexes
    _, fv = decoder.decode_value("t", b"\x00" + struct.pack(">I", proto_id) + b"\x80\x89\x7a")
    assert "message indexes" in fv.error
    _, fv = decoder.decode_value("t", b"\x00" + struct.pack(">I", proto_id) + b"\x02\x0e")
    assert "message index 7 is not in the schema" in fv.error


async def test_registry_client_errors_are_the_registrys_own(registry_url):  # noqa: F811
    client = RegistryClient(SchemaRegistryConfig(url=registry_url))
    try:
        with pytest.raises(RegistryNotFound) as e:
            await client.versions(unique("nope"))
        assert e.value.error_code == 40401 and "not found" in str(e.value)
        with pytest.raises(RegistryNotFound) as e:
            await client.schema(99_999_999)
        assert e.value.error_code == 40403
    finally:
        await client.aclose()
    closed = RegistryClient(SchemaRegistryConfig(url=f"http://127.0.0.1:{free_port()}"),
                            where="clusters.primary.schema_registry")
    with pytest.raises(RegistryUnreachable) as u:
        await closed.subjects()
    assert "check clusters.primary.schema_registry.url" in str(u.value)
    await closed.aclose()


async def test_basic_auth(bootstrap):
    from kafkaops.core.config import BasicAuthConfig, Secret

    async with registry_process(bootstrap, topic=unique("_schemas"),
                                basic_auth="ops:s3cret") as url:
        good = RegistryClient(SchemaRegistryConfig(
            url=url, basic_auth=BasicAuthConfig("ops", Secret("s3cret"))))
        bad = RegistryClient(SchemaRegistryConfig(
            url=url, basic_auth=BasicAuthConfig("ops", Secret("wrong"))), where="clusters.x."
            "schema_registry")
        try:
            assert await good.subjects() == []
            with pytest.raises(RegistryError) as e:
                await bad.subjects()
            assert e.value.status == 401
            assert "check clusters.x.schema_registry.basic_auth" in str(e.value)
        finally:
            await good.aclose()
            await bad.aclose()


# ---------------------------------------------------------------- schema texts others wrote


def _record(name: str, fields: str) -> str:
    return f'{{"type":"record","name":"{name}","fields":[{fields}]}}'


def test_an_array_of_empty_items_is_found_however_deep_it_sits() -> None:
    from kafkaops.core.schema.decoder import avro_zero_size_guard
    from kafkaops.core.schema.readers import Mismatch, avro_reader

    # 30 records deep (90 JSON levels): below the parse bound, past any fixed walk depth
    text = '{"type":"array","items":"null"}'
    for i in range(30):
        text = _record(f"R{i}", f'{{"name":"f","type":{text}}}')
    guarded = avro_zero_size_guard(avro_reader(text), text, [])
    with pytest.raises(Mismatch, match="array or map of items that take no bytes"):
        guarded(b"\x00\x00\x00\x00\x01" + b"\x00")


def test_a_chain_of_empty_types_too_long_to_follow_is_refused_not_guessed() -> None:
    from kafkaops.core.schema.decoder import MAX_EMPTY_DEPTH, avro_zero_size_guard
    from kafkaops.core.schema.readers import Mismatch, avro_reader

    # T0 holds only T1, ... T249 holds nothing: every one takes no bytes, which takes
    # more than MAX_EMPTY_DEPTH steps to learn; each named schema is shallow by itself
    named = [_record("T250", "")] + [
        _record(f"T{i}", f'{{"name":"f","type":"T{i + 1}"}}') for i in range(249, -1, -1)]
    main = _record("Main", '{"name":"xs","type":{"type":"array","items":"T0"}}')
    guarded = avro_zero_size_guard(avro_reader(main, named), main, named)
    with pytest.raises(Mismatch, match=f"nests its types deeper than {MAX_EMPTY_DEPTH} "
                                       "levels to check; not decoded"):
        guarded(b"\x00\x00\x00\x00\x01\x00")
    # a short chain is followed to the end: refused as empty items
    few = [_record("T2", ""), _record("T1", '{"name":"f","type":"T2"}'),
           _record("T0", '{"name":"f","type":"T1"}')]
    short = avro_zero_size_guard(avro_reader(main, few), main, few)
    with pytest.raises(Mismatch, match="array or map of items that take no bytes"):
        short(b"\x00\x00\x00\x00\x01\x00")


async def test_a_registry_answer_nested_too_deep_is_an_error_not_a_crash() -> None:
    from aiohttp import web

    async def deep(_: web.Request) -> web.Response:  # a hostile registry's answer
        return web.Response(text="[" * 5000 + "]" * 5000, content_type="application/json")

    app = web.Application()
    app.router.add_get("/subjects", deep)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = RegistryClient(SchemaRegistryConfig(url=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(RegistryError, match=r"the answer to GET /subjects is refused: "
                                                r"JSON nested deeper than 64 levels"):
            await client.subjects()
    finally:
        await client.aclose()
        await runner.cleanup()
