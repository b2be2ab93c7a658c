"""`kafkaops tail`, `dlq show` and `schemas ...` on records and schemas written by
confluent-kafka's serializers through the demo/test registry, run as the installed command."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkaops.demo.schema_registry import free_port

from .conftest import KAFKAOPS, cli_env, produce, unique
from .schema_support import (
    ORDER,
    avro_values,
    json_values,
    order,
    produce_values,
    protobuf_values,
    registry_client,
    registry_url,  # noqa: F401 - a fixture
    shipment,
    with_registry,
)


async def kafkaops(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(cfg), *args], capture_output=True,
        text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)


@pytest.fixture
def rcfg(tmp_path: Path, config_data: dict, registry_url: str) -> Path:  # noqa: F811
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(with_registry(config_data, registry_url)))
    return path


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


async def test_tail_json_decodes_avro_json_and_protobuf(rcfg, bootstrap, registry_url):  # noqa: F811
    topic = unique("mixed")
    values = (avro_values(registry_url, topic, [order(1, "PAID")])
              + json_values(registry_url, unique("j"), [{"status": "ok", "attempt": 1}])
              + protobuf_values(registry_url, unique("p"), [shipment(3)]))
    await produce_values(bootstrap, topic, values)
    r = await kafkaops(rcfg, "tail", topic, "--from-beginning", "--to-end", "--json")
    assert r.returncode == 0, r.stderr
    got = lines(r.stdout)
    assert [json.loads(g["value"]) for g in got] == [
        {"id": "o-1", "status": "PAID", "amount": "12.30",
         "ship_to": {"city": "Oslo", "zip": "0150"}, "note": None},
        {"status": "ok", "attempt": 1},
        {"id": "s-3", "carrier": "posten", "parcels": [{"sku": "A-1", "grams": 253}],
         "shipped_at": "2025-10-09T08:53:23Z"},
    ]
    assert [(g["schema"]["type"], g["schema"]["version"]) for g in got] == [
        ("AVRO", 1), ("JSON", 1), ("PROTOBUF", 1)]
    assert got[0]["schema"]["subject"] == f"{topic}-value"


async def test_tail_filter_on_a_decoded_field(rcfg, bootstrap, registry_url):  # noqa: F811
    topic = unique("filt")
    await produce_values(bootstrap, topic, avro_values(
        registry_url, topic, [order(1), order(2, "FAILED"), order(3, "FAILED"), order(4)]))
    r = await kafkaops(rcfg, "tail", topic, "--from-beginning", "--to-end", "--json",
                       "--filter", 'status == "FAILED" and note != null')
    assert r.returncode == 0, r.stderr
    assert [json.loads(g["value"])["id"] for g in lines(r.stdout)] == ["o-2"]


async def test_tail_text_says_why_a_value_is_raw(tmp_path, config_data, rcfg, bootstrap,
                                                 registry_url):  # noqa: F811
    topic = unique("why")
    good = avro_values(registry_url, topic, [order(1)])
    await produce_values(bootstrap, topic, good + [b"\x00\x00\x0f\x12\x06" + b"\x02hi"])
    r = await kafkaops(rcfg, "tail", topic, "--from-beginning", "--to-end")
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert '{"id":"o-1","status":"NEW"' in first
    assert (f"[not decoded: schema id 987654 is not in schema registry {registry_url}] "
            "(8 bytes) 00 00 0f 12 06 02 68 69") in second
    # the registry is down: every framed value is shown raw, saying so; exit 0
    down = tmp_path / "down.yaml"
    down.write_text(yaml.safe_dump(with_registry(config_data,
                                                 f"http://127.0.0.1:{free_port()}")))
    r = await kafkaops(down, "tail", topic, "--from-beginning", "--to-end", "--json")
    assert r.returncode == 0, r.stderr
    got = lines(r.stdout)
    assert got[0]["value"] is None and got[0]["value_base64"]
    assert "unreachable" in got[0]["schema"]["error"]


async def test_dlq_show_decodes_dead_letters(rcfg, bootstrap, registry_url):  # noqa: F811
    dlq = unique("orders") + ".dlq"
    headers = [("kafkaops.origin.topic", b"orders"), ("kafkaops.error.class", b"Boom"),
               ("kafkaops.error.message", b"no stock")]
    await produce_values(bootstrap, dlq, avro_values(registry_url, dlq, [order(7, "FAILED")]),
                         headers=headers)
    r = await kafkaops(rcfg, "dlq", "show", dlq)
    assert r.returncode == 0, r.stderr
    assert '{"id":"o-7","status":"FAILED"' in r.stdout
    r = await kafkaops(rcfg, "dlq", "show", dlq, "--json", "--filter", 'status == "FAILED"')
    (letter,) = json.loads(r.stdout)
    assert json.loads(letter["value"])["ship_to"]["city"] == "Oslo"
    assert letter["schema"]["type"] == "AVRO" and letter["reason"] == "Boom: no stock"


async def test_schemas_list_show_versions_diff(rcfg, registry_url):  # noqa: F811
    from confluent_kafka.schema_registry import Schema

    subject = unique("inv") + "-value"
    v1 = '{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"}]}'
    v2 = ('{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},'
          '{"name":"qty","type":"int","default":0}]}')
    with registry_client(registry_url) as sr:
        id1 = sr.register_schema(subject, Schema(v1, "AVRO"))
        id2 = sr.register_schema(subject, Schema(v2, "AVRO"))
    r = await kafkaops(rcfg, "schemas", "list", "--json")
    assert r.returncode == 0, r.stderr
    (mine,) = [s for s in json.loads(r.stdout) if s["subject"] == subject]
    assert (mine["versions"], mine["latest"]["version"], mine["latest"]["id"]) == (2, 2, id2)
    r = await kafkaops(rcfg, "schemas", "show", subject, "--version", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{subject} version 1 of 2 · id {id1} · AVRO · compatibility "
                               "BACKWARD (global)")
    assert '"name": "sku"' in r.stdout and "qty" not in r.stdout
    r = await kafkaops(rcfg, "schemas", "versions", subject, "--json")
    assert [(v["version"], v["id"]) for v in json.loads(r.stdout)] == [(1, id1), (2, id2)]
    r = await kafkaops(rcfg, "schemas", "diff", subject, "1", "2")
    assert '+      "name": "qty",' in r.stdout


async def test_compat_agrees_with_the_registry(rcfg, tmp_path, registry_url):  # noqa: F811
    from confluent_kafka.schema_registry import Schema, SchemaReference
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    topic = unique("cmp")
    avro_values(registry_url, topic, [order(1)])  # registers v1 with its reference
    subject = f"{topic}-value"
    data = json.loads(ORDER)
    compatible = dict(data, fields=data["fields"] + [
        {"name": "channel", "type": "string", "default": "web"}])
    incompatible = dict(data, fields=data["fields"] + [{"name": "channel", "type": "string"}])
    ok, bad = tmp_path / "ok.avsc", tmp_path / "bad.avsc"
    ok.write_text(json.dumps(compatible))
    bad.write_text(json.dumps(incompatible))
    r = await kafkaops(rcfg, "schemas", "compat", subject, "--file", str(bad))
    assert r.returncode == 1, r.stderr
    assert f"is NOT compatible with the latest version of {subject} (compatibility BACKWARD)" \
        in r.stdout
    assert "channel" in r.stdout
    r = await kafkaops(rcfg, "schemas", "compat", subject, "--file", str(ok), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["compatible"] is True
    # what the registry does when a real client registers them agrees with both answers
    ref = [SchemaReference("com.acme.Address", "com.acme.Address", 1)]
    with registry_client(registry_url) as sr:
        with pytest.raises(SchemaRegistryError) as e:
            sr.register_schema(subject, Schema(json.dumps(incompatible), "AVRO", ref))
        assert e.value.http_status_code == 409
        assert sr.register_schema(subject, Schema(json.dumps(compatible), "AVRO", ref)) > 0


async def test_compat_bad_input(rcfg, tmp_path):
    r = await kafkaops(rcfg, "schemas", "compat", "x-value", "--file", str(tmp_path / "no"))
    assert r.returncode == 2 and r.stderr.strip().endswith("no such file")
    empty = tmp_path / "e.avsc"
    empty.write_text("")
    r = await kafkaops(rcfg, "schemas", "compat", "x-value", "--file", str(empty))
    assert r.returncode == 2 and "the file is empty" in r.stderr
    junk = tmp_path / "j.avsc"
    junk.write_text('{"type": "recrd"}')
    r = await kafkaops(rcfg, "schemas", "compat", unique("none"), "--file", str(junk))
    assert r.returncode == 1 and "not found" in r.stderr and "Traceback" not in r.stderr
    r = await kafkaops(rcfg, "schemas", "compat", "x", "--file", str(junk), "--version", "v2")
    assert r.returncode == 2 and "give a version number" in r.stderr
    r = await kafkaops(rcfg, "schemas", "compat", "x", "--file", str(junk), "--type", "xml")
    assert r.returncode == 2 and "unknown schema type 'xml'" in r.stderr


async def test_config_level_change_is_confirmed_audited_and_refused_read_only(
        rcfg, tmp_path, config_data, registry_url):  # noqa: F811
    from confluent_kafka.schema_registry import Schema

    subject = unique("lvl") + "-value"
    with registry_client(registry_url) as sr:
        sr.register_schema(subject, Schema('"string"', "AVRO"))
    r = await kafkaops(rcfg, "schemas", "config", subject)
    assert r.stdout.strip() == f"{subject}: BACKWARD (the global level: the subject sets none)"
    r = await kafkaops(rcfg, "schemas", "config", subject, "--level", "full")
    assert r.returncode == 2 and "--yes not given: nothing was changed" in r.stderr
    r = await kafkaops(rcfg, "schemas", "config", subject, "--level", "sideways", "--yes")
    assert r.returncode == 2 and "unknown compatibility level 'sideways'" in r.stderr
    r = await kafkaops(rcfg, "schemas", "config", subject, "--level", "full", "--yes")
    assert r.returncode == 0, r.stderr
    assert "is now FULL (was BACKWARD); audited" in r.stdout
    with registry_client(registry_url) as sr:
        assert sr.get_compatibility(subject) == "FULL"
    r = await kafkaops(rcfg, "schemas", "config", subject, "--level", "FULL", "--yes")
    assert r.returncode == 0 and "FULL already; nothing was changed" in r.stderr
    r = await kafkaops(rcfg, "audit", "--json", "--since", "10m")
    rows = [a for a in json.loads(r.stdout) if a["action"] == "schema.compatibility"
            and a["target"] == subject]
    assert [(a["result"], a["params"]["level"]) for a in rows] == [("ok", "FULL")]
    ro = with_registry(config_data, registry_url)
    ro["clusters"]["primary"]["read_only"] = True
    path = tmp_path / "ro.yaml"
    path.write_text(yaml.safe_dump(ro))
    r = await kafkaops(path, "schemas", "config", subject, "--level", "NONE", "--yes")
    assert r.returncode == 1 and "read-only" in r.stderr
    with registry_client(registry_url) as sr:
        assert sr.get_compatibility(subject) == "FULL"


async def test_a_cluster_without_a_registry(config_file):
    r = await kafkaops(config_file, "schemas", "list")
    assert r.returncode == 2
    assert "cluster 'primary' has no schema registry: add " \
           "clusters.primary.schema_registry.url" in r.stderr


def nested_avro(levels: int) -> str:
    """An Avro record whose one field is a record, `levels` deep (three JSON levels each)."""
    text = '"string"'
    for i in range(levels):
        text = f'{{"type":"record","name":"R{i}","fields":[{{"name":"f","type":{text}}}]}}'
    return text


async def test_a_deeply_nested_schema_on_the_registry_is_refused_in_one_line(
        rcfg, bootstrap, registry_url):  # noqa: F811
    """Anyone who can produce to the registry's `_schemas` topic can give it any schema
    text: one nested 6,000 levels deep (json.loads raises RecursionError long before) is
    refused with one line by `schemas show`, and a record framed with it stays raw, saying
    why."""
    import random

    import httpx

    subject = unique("deep") + "-value"
    sid = random.randrange(100_000_000, 200_000_000)
    key = {"keytype": "SCHEMA", "subject": subject, "version": 1, "magic": 1}
    value = {"subject": subject, "version": 1, "id": sid, "schema": nested_avro(2000),
             "deleted": False}
    await produce(bootstrap, "_schemas", [json.dumps(value).encode()],
                  key=json.dumps(key).encode())
    async with httpx.AsyncClient(base_url=registry_url) as http:
        for _ in range(300):  # until the registry has read it from its topic
            if (await http.get(f"/subjects/{subject}/versions/1")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the registry did not serve the written schema")

    r = await kafkaops(rcfg, "schemas", "show", subject)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"kafkaops: {subject} version 1 (id {sid}) is not shown: its text is "
                        "JSON nested deeper than 128 levels, more than kafkaops reads from a "
                        "registry others can write\n")
    # the listing still lists it; the version list shows it
    r = await kafkaops(rcfg, "schemas", "versions", subject, "--json")
    assert r.returncode == 0, r.stderr
    assert [(v["version"], v["id"]) for v in json.loads(r.stdout)] == [(1, sid)]

    topic = unique("deep")
    await produce(bootstrap, topic, [b"\x00" + sid.to_bytes(4, "big") + b"\x06abc"])
    r = await kafkaops(rcfg, "tail", topic, "--from-beginning", "--to-end", "--json")
    assert r.returncode == 0, r.stderr
    (got,) = lines(r.stdout)
    assert got["value"] is None and got["value_base64"]
    assert got["schema"]["error"] == (f"schema id {sid}: cannot use the Avro schema: JSON "
                                      "nested deeper than 128 levels")
