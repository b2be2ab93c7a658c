"""`kafkaops produce` through the installed command against the embedded broker: what it
prints is checked against what `tail --json` reads back (and, for Schema Registry framing,
against confluent-kafka's own deserializers), and every call against `audit list`."""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService

from .admin_support import KAFKAOPS, audit_rows, kafkaops, outcome, tail_json, topics_json
from .conftest import cli_env, unique
from .schema_support import avro_values as register_avro
from .schema_support import (
    json_values,
    registry_client,
    registry_url,  # noqa: F401 - a fixture
    with_registry,
)


async def new_topic(bootstrap: str, partitions: int = 3) -> str:
    name = unique("prod")
    async with KafkaConnection("setup", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec(name, partitions)])
    return name


async def test_a_record_with_key_headers_and_json_reads_back_identically(
    config_file: Path, bootstrap: str,
) -> None:
    topic = await new_topic(bootstrap)
    value = '{"order": 7, "status": "paid", "note": "ünïcode"}'
    out = await kafkaops(config_file, "produce", topic, "--key", "order-7",
                         "--header", "source=ops", "-H", "trace-id=ab12", "-H", "source=cli",
                         "--value", value, "--yes", "--json")
    assert out.returncode == 0, out.stderr
    [ack] = [json.loads(line) for line in out.stdout.splitlines()]
    assert set(ack) == {"topic", "partition", "offset"} and ack["topic"] == topic
    [rec] = await tail_json(config_file, topic)
    assert (rec["partition"], rec["offset"]) == (ack["partition"], ack["offset"])
    assert rec["key"] == "order-7"
    assert rec["headers"] == {"source": ["ops", "cli"], "trace-id": "ab12"}
    assert rec["value"] == value
    assert json.loads(rec["value"]) == {"order": 7, "status": "paid", "note": "ünïcode"}

    text = await kafkaops(config_file, "produce", topic, "--key", "order-7", "--value", "2",
                          "--yes")
    assert text.returncode == 0, text.stderr
    # the same key goes to the same partition, at the next offset
    assert text.stdout == (f"Produced to partition {ack['partition']} at offset "
                           f"{ack['offset'] + 1}\n")

    [row] = [r for r in await audit_rows(config_file, topic) if r["result"] == "ok"][:1]
    assert (row["action"], row["face"]) == ("topic.produce", "cli")
    assert row["params"] == {"partition": None, "acks": "all", "compression": None,
                             "schema": None, "source": "value", "key": "order-7",
                             "headers": ["source", "trace-id", "source"]}
    assert row["detail"]["records"] == 1
    assert row["detail"]["partitions"] == {str(ack["partition"]): {
        "first": ack["offset"], "last": ack["offset"]}}
    assert value not in json.dumps(row)  # values are never kept in the audit trail


async def test_stdin_lines_are_records_in_order_each_acknowledged(
    config_file: Path, bootstrap: str,
) -> None:
    topic = await new_topic(bootstrap, partitions=1)
    out = await kafkaops(config_file, "produce", topic, "--json", "--yes",
                         stdin=b'{"n": 1}\n{"n": 2}\r\n\n{"n": 3}')
    assert out.returncode == 0, out.stderr
    acks = [json.loads(line) for line in out.stdout.splitlines()]
    assert acks == [{"topic": topic, "partition": 0, "offset": i} for i in range(3)]
    assert out.stderr == f"kafkaops: produced 3 records to {topic}: partition 0 offsets 0..2\n"
    records = await tail_json(config_file, topic)
    assert [(r["offset"], r["value"]) for r in records] == [
        (0, '{"n": 1}'), (1, '{"n": 2}'), (2, '{"n": 3}')]


def test_a_long_stdin_stream_shows_a_running_count(config_file: Path, bootstrap: str
                                                   ) -> None:
    """Records fed one at a time (each after the previous one's ack came out): the
    running count shows on stderr while the stream is still open."""
    topic = asyncio.run(new_topic(bootstrap, partitions=1))
    proc = subprocess.Popen([KAFKAOPS, "--config", str(config_file), "produce", topic,
                             "--yes", "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env())
    assert proc.stdin and proc.stdout and proc.stderr
    lines: queue.Queue[tuple[str, bytes]] = queue.Queue()
    readers = [threading.Thread(target=lambda n=name, s=stream: [lines.put((n, ln))
                                                                  for ln in s], daemon=True)
               for name, stream in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    try:
        sent, counted = 0, None
        deadline = time.monotonic() + 60
        while counted is None and time.monotonic() < deadline:
            proc.stdin.write(f"r{sent}\n".encode())
            proc.stdin.flush()
            sent += 1
            while True:  # this record's ack, and whatever stderr said meanwhile
                kind, line = lines.get(timeout=30)
                if kind == "err" and b"records produced so far" in line:
                    counted = line.decode()
                elif kind == "out":
                    assert json.loads(line)["offset"] == sent - 1
                    break
        assert counted is not None, "no running count within 60 s"
        assert counted.startswith("kafkaops: ") and counted.endswith(
            " records produced so far\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for r in readers:
            r.join(timeout=10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if not stream.closed:
                stream.close()


async def test_no_records_on_stdin_changes_nothing_and_writes_nothing(
    config_file: Path, bootstrap: str,
) -> None:
    topic = await new_topic(bootstrap)
    out = await kafkaops(config_file, "produce", topic, "--yes", stdin=b"\n\n")
    assert out.returncode == 0
    assert out.stderr == (f"kafkaops: no records to produce to {topic!r}: nothing was "
                          "produced, nothing was written\n")
    assert await tail_json(config_file, topic) == []
    assert await audit_rows(config_file, topic) == []


@pytest.mark.parametrize(("argv", "last_line"), [
    (["--header", "novalue", "--value", "x"], "kafkaops: --header 'novalue': expected "
     "NAME=VALUE"),
    (["--acks", "2", "--value", "x"], "kafkaops: --acks '2': must be all, 1 or 0"),
    (["--compression", "brotli", "--value", "x"], "kafkaops: --compression 'brotli': must be "
     "one of none, gzip, snappy, lz4, zstd"),
    (["--partition", "3", "--value", "x"], "kafkaops: topic '{topic}' has no partition 3 (it "
     "has 3: 0..2). Nothing was produced."),
    (["--partition", "-1", "--value", "x"], "kafkaops: --partition must be 0 or more (got "
     "-1)"),
    (["--value-file", "/nonexistent/value.json"], "kafkaops: --value-file "
     "/nonexistent/value.json: No such file or directory"),
    (["--schema", "orders-value", "--value", "{}"], "kafkaops: --schema: cluster 'primary' "
     "has no schema_registry in {config}"),
    (["--value", "x", "--value-file", "f"], "kafkaops: error: argument --value-file: not "
     "allowed with argument --value/-v"),
    (["--value", "x", "--no-such-option"], "kafkaops: error: unrecognized arguments: "
     "--no-such-option"),
])
async def test_bad_input_is_exit_2_and_produces_nothing(
    config_file: Path, bootstrap: str, argv: list[str], last_line: str,
) -> None:
    topic = await new_topic(bootstrap)
    out = await kafkaops(config_file, "produce", topic, *argv, "--yes")
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == last_line.format(topic=topic, config=config_file)
    assert await tail_json(config_file, topic) == []
    assert await audit_rows(config_file, topic) == []


async def test_a_missing_topic_is_not_created_by_producing(config_file: Path) -> None:
    topic = unique("absent")
    out = await kafkaops(config_file, "produce", topic, "--value", "x", "--yes")
    assert out.returncode == 1
    assert out.stderr == (f"kafkaops: topic {topic!r} not found on cluster 'primary': "
                          "kafkaops never creates a topic by producing to it (`kafkaops topic "
                          "create`). Nothing was produced.\n")
    assert topic not in await topics_json(config_file)


async def test_without_a_terminal_or_yes_nothing_is_produced(config_file: Path,
                                                             bootstrap: str) -> None:
    topic = await new_topic(bootstrap)
    out = await kafkaops(config_file, "produce", topic, "--value", "x")
    assert out.returncode == 2
    assert out.stderr.endswith("not a terminal and --yes not given: nothing was changed\n")
    asked = await kafkaops(config_file, "produce", topic, "--value", "x", answer=b"y\n")
    assert asked.returncode == 0, asked.stderr
    assert f"About to produce 1 record to topic {topic!r} on cluster 'primary'." in \
        asked.stderr
    assert [r["value"] for r in await tail_json(config_file, topic)] == ["x"]


@pytest.mark.parametrize("compression", ["gzip", "snappy", "lz4", "zstd"])
async def test_compressed_records_read_back(config_file: Path, bootstrap: str,
                                            compression: str) -> None:
    topic = await new_topic(bootstrap, partitions=1)
    value = json.dumps({"payload": "x" * 500})
    out = await kafkaops(config_file, "produce", topic, "--compression", compression,
                         "--value", value, "--partition", "0", "--yes")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Produced to partition 0 at offset 0\n"
    assert [r["value"] for r in await tail_json(config_file, topic)] == [value]


async def test_acks_0_sends_and_says_the_offset_is_unknown(config_file: Path,
                                                           bootstrap: str) -> None:
    topic = await new_topic(bootstrap, partitions=1)
    out = await kafkaops(config_file, "produce", topic, "--acks", "0", "--value", "fire",
                         "--yes", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"topic": topic, "partition": None, "offset": None}
    assert [r["value"] for r in await tail_json(config_file, topic)] == ["fire"]
    [row] = [r for r in await audit_rows(config_file, topic) if r["result"] == "ok"]
    assert row["detail"]["unacknowledged"] == 1 and row["params"]["acks"] == "0"


# ---------------------------------------------------------------- Schema Registry


@pytest.fixture
def registry_config(tmp_path: Path, config_data: dict, registry_url: str  # noqa: F811
                    ) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(with_registry(config_data, registry_url)))
    return path


def deserialize(url: str, topic: str, raw: bytes, kind: str) -> Any:
    """The reference consumer's view of a framed value: confluent-kafka's deserializer."""
    from confluent_kafka.serialization import MessageField, SerializationContext

    ctx = SerializationContext(topic, MessageField.VALUE)
    with registry_client(url) as sr:
        if kind == "avro":
            from confluent_kafka.schema_registry.avro import AvroDeserializer

            return AvroDeserializer(sr)(raw, ctx)
        from confluent_kafka.schema_registry.json_schema import JSONDeserializer

        from .schema_support import JSON_SCHEMA

        return JSONDeserializer(JSON_SCHEMA, schema_registry_client=sr)(raw, ctx)


async def raw_values(bootstrap: str, topic: str) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=5000)
        return [r.value for recs in batch.values() for r in recs]
    finally:
        await consumer.stop()


async def test_schema_avro_frames_the_value_as_the_reference_consumer_reads_it(
    registry_config: Path, registry_url: str, bootstrap: str,  # noqa: F811
) -> None:
    from decimal import Decimal

    from .schema_support import order

    topic = await new_topic(bootstrap, partitions=1)
    await asyncio.to_thread(register_avro, registry_url, topic, [order(1)])
    value = {"id": "o-9", "status": "PAID", "amount": "7.50",
             "ship_to": {"city": "Bergen", "zip": "5003"}, "note": "by hand"}
    out = await kafkaops(registry_config, "produce", topic, "--schema", f"{topic}-value",
                         "--value", json.dumps(value), "--yes", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"topic": topic, "partition": 0, "offset": 0}
    [raw] = await raw_values(bootstrap, topic)
    assert raw[0] == 0  # Confluent framing
    got = await asyncio.to_thread(deserialize, registry_url, topic, raw, "avro")
    assert got == {**value, "amount": Decimal("7.50")}
    [rec] = await tail_json(registry_config, topic)
    assert rec["schema"]["subject"] == f"{topic}-value" and rec["schema"]["type"] == "AVRO"
    assert json.loads(rec["value"])["ship_to"] == {"city": "Bergen", "zip": "5003"}

    bad = await kafkaops(registry_config, "produce", topic, "--schema", f"{topic}-value",
                         "--value", json.dumps({**value, "status": "LOST"}), "--yes")
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"kafkaops: the value does not match the Avro schema of "
                                 f"{topic}-value (version 1): ")
    notjson = await kafkaops(registry_config, "produce", topic, "--schema", f"{topic}-value",
                             "--value", "{oops", "--yes")
    assert notjson.returncode == 2
    assert notjson.stderr.startswith(f"kafkaops: --schema {topic}-value: the value is not "
                                     "JSON")
    assert len(await raw_values(bootstrap, topic)) == 1


async def test_schema_json_validates_and_frames(
    registry_config: Path, registry_url: str, bootstrap: str,  # noqa: F811
) -> None:
    topic = await new_topic(bootstrap, partitions=1)
    await asyncio.to_thread(json_values, registry_url, topic, [{"status": "new"}])
    out = await kafkaops(registry_config, "produce", topic, "--schema", f"{topic}-value",
                         "--yes", stdin=b'{"status": "failed", "attempt": 2}\n'
                                        b'{"status": "ok"}\n')
    assert out.returncode == 0, out.stderr
    raws = await raw_values(bootstrap, topic)
    got = [await asyncio.to_thread(deserialize, registry_url, topic, r, "json") for r in raws]
    assert got == [{"status": "failed", "attempt": 2}, {"status": "ok"}]
    bad = await kafkaops(registry_config, "produce", topic, "--schema", f"{topic}-value",
                         "--value", '{"attempt": "two"}', "--yes")
    assert bad.returncode == 2
    assert bad.stderr == (f"kafkaops: the value does not match the JSON schema of "
                          f"{topic}-value (version 1): at the value: 'status' is a required "
                          "property\n")
    missing = await kafkaops(registry_config, "produce", topic, "--schema", "no-such-subject",
                             "--value", "{}", "--yes")
    assert missing.returncode == 1
    assert "no-such-subject" in missing.stderr
    assert len(await raw_values(bootstrap, topic)) == 2
    rows = await audit_rows(registry_config, topic)
    assert outcome(rows) == [("topic.produce", "ok")]
    assert rows[-1]["params"]["schema"] == f"{topic}-value"
    assert rows[-1]["detail"]["schema"].startswith("JSON schema id ")
