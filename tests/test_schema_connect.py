"""The real Java AvroConverter (Confluent 7.0.16) inside a real Kafka Connect 3.9 worker
registers its schema with the demo/test registry and writes Confluent-framed Avro to the
embedded broker; our decoder reads those records back, and `kafkaops tail --json` shows
them decoded."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading

import pytest
import yaml

from kafkaops.core.messages.service import MessageService
from kafkaops.core.services import Services
from kafkaops.demo import connect_install as install
from kafkaops.demo.connect_install import Installation
from kafkaops.demo.connect_worker import ConnectWorker

from .conftest import KAFKAOPS, cli_env, unique
from .connect_avro import CONVERTER, jars
from .connect_support import file_source, put_connector, wait_until
from .schema_support import registry_client, registry_url, with_registry  # noqa: F401


@pytest.fixture(scope="module")
def avro_worker(clusters):
    """A second worker (the session's has no Avro converter) with Confluent's converter
    jars on its classpath; started from a thread that lives as long as it does."""
    if install.find_java() is None:
        pytest.skip(f"needs Java: {install.missing()}")
    inst = install.find_installation()
    if inst is None:
        inst = install.install()
    extra = jars()
    worker = ConnectWorker(clusters.bootstrap("primary"), group_id=unique("avro-connect"),
                           installation=Installation(inst.java, (*inst.libs, *extra),
                                                     inst.jetty))
    started = threading.Event()
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.start()
            worker.wait_ready_sync()
        except BaseException as e:  # surfaced below
            errors.append(e)
        started.set()
        stop.wait()
        worker.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(180)
    if errors:
        raise errors[0]
    yield worker
    stop.set()
    thread.join(30)


async def test_avro_converter_records_decode(avro_worker, config_data, tmp_path,
                                             registry_url):  # noqa: F811
    topic = unique("connect-avro")
    lines = ["order 1 shipped", "order 2 failed", "order 3 shipped"]
    source = tmp_path / "in.txt"
    source.write_text("".join(line + "\n" for line in lines))
    name = unique("avro-src")
    await put_connector(avro_worker.url, name, {
        **file_source(source, topic),
        "value.converter": CONVERTER,
        "value.converter.schema.registry.url": registry_url,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        # FileStreamSource gives strings: make each a record {line, source} (built-in SMTs)
        "transforms": "hoist,tag",
        "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
        "transforms.hoist.field": "line",
        "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.tag.static.field": "source",
        "transforms.tag.static.value": "in.txt",
    })
    async def running():
        import httpx

        async with httpx.AsyncClient(base_url=avro_worker.url, timeout=30) as http:
            r = await http.get(f"/connectors/{name}/status")
        if r.status_code != 200:
            return None  # not known yet right after the PUT
        s = r.json()
        if s["connector"]["state"] == "FAILED" or any(t["state"] == "FAILED"
                                                      for t in s.get("tasks", [])):
            raise AssertionError(f"the connector failed: {s}\n{avro_worker.log_tail()}")
        return s if [t["state"] for t in s.get("tasks", [])] == ["RUNNING"] else None

    await wait_until(f"{name} running", running, within=90)
    cfg = with_registry(config_data, registry_url)
    from kafkaops.core.config import parse_config

    async with Services(parse_config(cfg, "<t>")) as services:
        svc = MessageService(await services.connection(), decoder=services.schema_decoder())

        async def three():
            try:
                msgs = await svc.read(topic)
            except Exception:  # the topic is not there yet
                return None
            return msgs if len(msgs) >= 3 else None

        msgs = await wait_until("the connector's three records", three, within=90)
    assert [json.loads(m.value) for m in msgs] == [
        {"line": line, "source": "in.txt"} for line in lines]
    schema = msgs[0].framed.schema
    assert (schema.subject, schema.version, schema.type) == (f"{topic}-value", 1, "AVRO")
    with registry_client(registry_url) as sr:
        registered = json.loads(sr.get_latest_version(f"{topic}-value").schema.schema_str)
    assert registered["type"] == "record"  # what the Java converter registered
    assert [f["name"] for f in registered["fields"]] == ["line", "source"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(path), "tail", topic, "--from-beginning",
                         "--to-end", "--json", "--filter", 'line contains "failed"'],
        capture_output=True, text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    (got,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert json.loads(got["value"]) == {"line": "order 2 failed", "source": "in.txt"}
    assert got["schema"]["subject"] == f"{topic}-value"
