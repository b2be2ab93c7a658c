"""The console on records and schemas written by confluent-kafka's serializers through the
demo/test registry: the messages and dead-letter screens show decoded values and the
schema, the Schemas screen browses subjects, versions, diffs and levels (Pilot, reading
the screen)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from textual.widgets import DataTable

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.dlq import DlqTopicScreen
from kafkaops.console.messages import MessagesScreen
from kafkaops.core.config import parse_config
from kafkaops.core.messages.model import StartAt
from kafkaops.core.services import Services

from .conftest import unique
from .schema_support import (
    avro_values,
    order,
    produce_values,
    protobuf_values,
    registry_client,
    registry_url,  # noqa: F401 - a fixture
    shipment,
    with_registry,
)
from .test_messages_console import screen_text, wait_until

SIZE = (200, 50)


@pytest.fixture
def rconfig(config_data: dict, registry_url: str):  # noqa: F811
    return parse_config(with_registry(config_data, registry_url), "<test config>")


def cells(screen: Any, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_messages_screen_shows_avro_and_protobuf_as_json(rconfig, bootstrap,
                                                               registry_url):  # noqa: F811
    topic = unique("cavro")
    values = avro_values(registry_url, topic, [order(1, "PAID")])
    values += protobuf_values(registry_url, unique("cp"), [shipment(2)])
    values.append(b"\x00\x00\x0f\x12\x06\x02hi")  # an id the registry does not know
    await produce_values(bootstrap, topic, values)
    async with Services(rconfig) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = MessagesScreen(topic, start=StartAt.beginning())
            await app.push_screen(screen)
            await wait_until(pilot, lambda: len(cells(screen, "messages")) == 3, "3 records")
            rows = cells(screen, "messages")  # newest first: offsets 2, 1, 0
            assert rows[2][4].startswith('{"id":"o-1","status":"PAID","amount":"12.30"')
            assert rows[1][4].startswith('{"id":"s-2","carrier":"posten","parcels":')
            table = screen.query_one("#messages", DataTable)
            table.focus()
            table.move_cursor(row=2)
            await pilot.pause()
            await wait_until(pilot, lambda: "schema     AVRO" in screen_text(app), "the detail")
            text = screen_text(app)
            sid = json.loads(json.dumps(values[0][1:5].hex()))
            assert f"schema     AVRO {topic}-value v1 (id {int(sid, 16)})" in text
            assert '"status": "PAID"' in text and '"city": "Oslo"' in text
            table.move_cursor(row=0)
            await wait_until(pilot, lambda: "not decoded: schema id 987654 is not in schema "
                             "registry" in screen_text(app), "the reason")
            await pilot.press("v", "v")  # hex view: the bytes as on the topic
            await wait_until(pilot, lambda: "00 00 0f 12 06 02 68 69" in screen_text(app), "hex")


async def test_dead_letter_screen_shows_decoded_values(rconfig, bootstrap,
                                                       registry_url):  # noqa: F811
    dlq = unique("pay") + ".dlq"
    await produce_values(bootstrap, dlq, avro_values(registry_url, dlq, [order(9, "FAILED")]),
                         headers=[("kafkaops.origin.topic", b"pay"),
                                  ("kafkaops.error.class", b"Timeout")])
    async with Services(rconfig) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = DlqTopicScreen(dlq)
            await app.push_screen(screen)
            await wait_until(pilot, lambda: len(cells(screen, "dlq-records")) == 1, "record")
            assert cells(screen, "dlq-records")[0][5].startswith('{"id":"o-9","status":"FAILED"')
            screen.query_one("#dlq-records", DataTable).focus()
            await wait_until(pilot, lambda: f"schema     AVRO {dlq}-value v1" in
                             screen_text(app), "the decoded detail")


async def test_schemas_screen_subjects_versions_diff_and_level(rconfig,
                                                               registry_url):  # noqa: F811
    from confluent_kafka.schema_registry import Schema

    subject = unique("aa-sku") + "-value"
    v1 = '{"type":"record","name":"Sku","fields":[{"name":"code","type":"string"}]}'
    v2 = ('{"type":"record","name":"Sku","fields":[{"name":"code","type":"string"},'
          '{"name":"size","type":"string","default":"M"}]}')
    with registry_client(registry_url) as sr:
        sr.register_schema(subject, Schema(v1, "AVRO"))
        id2 = sr.register_schema(subject, Schema(v2, "AVRO"))
        sr.set_compatibility(subject, "FULL")
    async with Services(rconfig) as services:
        app = KafkaOpsApp(services, start="schemas")
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: subject in screen_text(app), "the subject")
            screen = app.screen
            subjects = screen.query_one("#schema-subjects", DataTable)
            names = [r[0] for r in cells(screen, "schema-subjects")]
            subjects.focus()
            subjects.move_cursor(row=names.index(subject))
            row = cells(screen, "schema-subjects")[names.index(subject)]
            assert row[1:] == ["2", "2", "AVRO", str(id2)]
            await wait_until(pilot, lambda: "compatibility FULL (set on the subject)" in
                             screen_text(app), "the subject's level")
            await wait_until(pilot, lambda: '"default": "M"' in screen_text(app), "v2 shown")
            versions = screen.query_one("#schema-versions", DataTable)
            versions.focus()
            versions.move_cursor(row=0)
            await wait_until(pilot, lambda: f"{subject} v1 · id" in screen_text(app), "v1")
            await pilot.press("space")  # mark v1, then look at v2: the diff
            versions.move_cursor(row=1)
            await wait_until(pilot, lambda: "diff v1 → v2" in screen_text(app), "the diff")
            assert '+      "name": "size",' in screen_text(app)


async def test_schemas_screen_without_a_registry_says_what_to_configure(config):
    async with Services(config) as services:
        app = KafkaOpsApp(services, start="schemas")
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "has no schema registry" in screen_text(app),
                             "the config hint")
            assert "clusters.primary.schema_registry.url" in screen_text(app)


async def test_the_demos_avro_topic_reads_as_json_in_the_console(config_data, bootstrap):
    from kafkaops.demo.schema_traffic import AVRO_TOPIC, PROTOBUF_TOPIC, DemoSchemaTraffic

    part = DemoSchemaTraffic(lambda: bootstrap, rate=40, seed=7)
    await part.start()
    try:
        cfg = parse_config(with_registry(config_data, part.url), "<demo config>")
        async with Services(cfg) as services:
            app = KafkaOpsApp(services)
            async with app.run_test(size=SIZE) as pilot:
                screen = MessagesScreen(AVRO_TOPIC, start=StartAt.beginning())
                await app.push_screen(screen)
                await wait_until(pilot, lambda: len(cells(screen, "messages")) >= 3, "records")
                first = cells(screen, "messages")[0][4]  # the preview: the start of the JSON
                assert first.startswith('{"payment_id":"pay-') and '"amount":"' in first
                assert any(f'"currency":"{c}"' in first for c in ("EUR", "USD", "GBP", "NOK"))
                screen.query_one("#messages", DataTable).focus()
                await wait_until(pilot, lambda: f"schema     AVRO {AVRO_TOPIC}-value v1" in
                                 screen_text(app), "the schema line")
                shipments = MessagesScreen(PROTOBUF_TOPIC, start=StartAt.beginning())
                await app.push_screen(shipments)
                await wait_until(pilot, lambda: len(cells(shipments, "messages")) >= 1,
                                 "a shipment")
                event = cells(shipments, "messages")[0][4]
                assert event.startswith('{"shipment_id":"shp-'), event
                assert any(f'"carrier":"{c}"' in event for c in ("posten", "dhl", "ups",
                                                                  "bring"))
                shipments.query_one("#messages", DataTable).focus()
                await wait_until(pilot, lambda: f"schema     PROTOBUF {PROTOBUF_TOPIC}-value v1"
                                 in screen_text(app) and '"stage": "' in screen_text(app),
                                 "the decoded shipment in the detail pane")
    finally:
        await part.stop()


async def test_a_subject_name_cannot_drive_the_terminal(rconfig, bootstrap,
                                                        registry_url):  # noqa: F811
    """Anyone who can produce to the registry's `_schemas` topic names subjects: a terminal
    escape in one is shown escaped, in the list and in the subject's line."""
    import httpx

    from kafkaops.console.schemas import SchemasScreen

    from .conftest import produce

    subject = "\x1b]0;pwned\x07" + unique("evil")
    key = {"keytype": "SCHEMA", "subject": subject, "version": 1, "magic": 1}
    value = {"subject": subject, "version": 1, "id": 300_000_000 + hash(subject) % 10**8,
             "schema": '{"type":"string"}', "deleted": False}
    await produce(bootstrap, "_schemas", [json.dumps(value).encode()],
                  key=json.dumps(key).encode())
    async with httpx.AsyncClient(base_url=registry_url) as http:
        for _ in range(300):  # until the registry has read it from its topic
            if subject in (await http.get("/subjects")).json():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the registry did not list the written subject")
    shown_name = "\\x1b]0;pwned\\x07" + subject[len("\x1b]0;pwned\x07"):]
    async with Services(rconfig) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = SchemasScreen()
            await app.push_screen(screen)
            await wait_until(pilot, lambda: any(r[0] == shown_name
                                                for r in cells(screen, "schema-subjects")),
                             "the subject")
            table = screen.query_one("#schema-subjects", DataTable)
            table.focus()
            table.move_cursor(row=[r[0] for r in cells(screen, "schema-subjects")]
                              .index(shown_name))
            await wait_until(pilot, lambda: f"{shown_name} v1 · id" in screen_text(app),
                             "the subject's schema")
            text = screen_text(app)
            assert f"{shown_name} · 1 version · compatibility" in text
            assert "\x1b" not in text and "\x07" not in text


async def test_a_slow_answer_for_one_subject_is_never_shown_under_another(
    rconfig, registry_url, monkeypatch  # noqa: F811
) -> None:
    """Move from subject A to subject B while A's version 1 is still being read: when A's
    answer lands, B's version 1 must still be B's own schema (it was filed under B's name
    and shown as B's v1)."""
    from confluent_kafka.schema_registry import Schema

    from kafkaops.core.schema import browse

    a, b = unique("slow-a") + "-value", unique("slow-b") + "-value"
    with registry_client(registry_url) as sr:
        sr.register_schema(a, Schema(
            '{"type":"record","name":"Aaa","fields":[{"name":"from_a","type":"string"}]}',
            "AVRO"))
        id_b1 = sr.register_schema(b, Schema(
            '{"type":"record","name":"Bbb","fields":[{"name":"from_b","type":"long"}]}',
            "AVRO"))
        sr.register_schema(b, Schema(
            '{"type":"record","name":"Bbb","fields":[{"name":"from_b","type":"long"},'
            '{"name":"more","type":"long","default":0}]}', "AVRO"))
    release = asyncio.Event()
    real = browse.SchemaBrowser.version

    async def held(self: Any, subject: str, version: int) -> Any:
        got = await real(self, subject, version)
        if subject == a:
            await release.wait()  # A's answer lands only once B is open
        return got

    monkeypatch.setattr(browse.SchemaBrowser, "version", held)
    async with Services(rconfig) as services:
        app = KafkaOpsApp(services, start="schemas")
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: a in screen_text(app) and b in screen_text(app),
                             "both subjects")
            screen = app.screen
            subjects = screen.query_one("#schema-subjects", DataTable)
            names = [r[0] for r in cells(screen, "schema-subjects")]
            subjects.focus()
            subjects.move_cursor(row=names.index(a))
            await wait_until(pilot, lambda: f"{a} · 1 version" in screen_text(app), "A open")
            await pilot.pause(0.2)  # A's version 1 is being read (and held)
            subjects.move_cursor(row=names.index(b))
            release.set()  # A's answer lands while B opens
            await wait_until(pilot, lambda: f"{b} · 2 versions" in screen_text(app), "B open")
            versions = screen.query_one("#schema-versions", DataTable)
            versions.focus()
            versions.move_cursor(row=0)  # B's version 1
            await wait_until(pilot, lambda: f"{b} v1 · id" in screen_text(app), "B's v1")
            text = screen_text(app)
            assert f"{b} v1 · id {id_b1}" in text, text
            assert "from_b" in text and "from_a" not in text
