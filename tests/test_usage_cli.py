"""`kafkaops usage` through the installed command against the real broker: every topic is
attributed to its team (or "unowned") with the bytes the test produced, windows follow
record times, CSV parses, and bad input is a one-line error that changes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from kafkaops.core.topics.service import NewTopicSpec

from .conftest import KAFKAOPS, cli_env, produce, unique


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(config), "usage", *args],
                          capture_output=True, text=True, env=cli_env(), timeout=120,
                          stdin=subprocess.DEVNULL)


async def kafkaops(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run, config, *args)


class World:
    """Topics of two teams and one nobody owns, with records of known sizes."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.orders = f"orders.{tag}"
        self.billing = f"billing.{tag}"
        self.logs = f"logs.{tag}"
        self.stray = f"stray.{tag}"
        #: topic -> bytes of keys + values produced
        self.payload: dict[str, int] = {}
        self.records: dict[str, int] = {}

    def config(self, base: dict, path: Path) -> Path:
        data = dict(base)
        data["teams"] = {
            "payments": {"match": [f"orders.{self.tag}", f"billing.{self.tag}"],
                         "channel": "#payments-oncall"},
            "platform": {"match": [f"logs.{self.tag}"]},
        }
        data["costs"] = {"storage_gb_month": 0.10, "ingress_gb": 0.02, "currency": "USD"}
        path.write_text(yaml.safe_dump(data))
        return path


@pytest.fixture(scope="module")
async def world(bootstrap: str, config) -> World:  # noqa: ANN001
    from kafkaops.core.services import Services

    w = World(unique("u"))
    async with Services(config) as services:
        topics = await services.topics()
        await topics.create_topics([
            NewTopicSpec(w.orders, 3), NewTopicSpec(w.billing, 1),
            NewTopicSpec(w.logs, 2, configs={"compression.type": "gzip"}),
            NewTopicSpec(w.stray, 1)])
    sizes = {w.orders: (120, 90), w.billing: (15, 300), w.logs: (400, 60), w.stray: (7, 1000)}
    for topic, (count, size) in sizes.items():
        values = [bytes([65 + i % 26]) * size for i in range(count)]
        if topic == w.logs:  # producers compress; the embedded broker stores what it gets
            await produce_gzip(bootstrap, topic, values, key=b"key-1")
        else:
            await produce(bootstrap, topic, values, key=b"key-1")
        w.payload[topic] = count * (size + 5)
        w.records[topic] = count
    return w


async def produce_gzip(bootstrap: str, topic: str, values: list[bytes], *, key: bytes) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip",
                                linger_ms=20)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, v, key=key) for v in values])
    finally:
        await producer.stop()


def mine(data: dict, world: World) -> dict[str, dict]:
    return {t["topic"]: t for t in data["topics"] if world.tag in t["topic"]}


async def test_by_team_json_attributes_every_topic_with_the_bytes_produced(world, config_data,
                                                                          tmp_path):
    done = await kafkaops(world.config(config_data, tmp_path / "c.yaml"), "--by", "team",
                          "--json", "--window", "10m")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    topics = mine(data, world)
    assert {t: v["team"] for t, v in topics.items()} == {
        world.orders: "payments", world.billing: "payments", world.logs: "platform",
        world.stray: "unowned"}
    # every topic of the cluster has an owner, and every team's topics are listed under it
    assert all(t["team"] in ("payments", "platform", "unowned") for t in data["topics"])
    teams = {t["team"]: t for t in data["teams"]}
    assert sorted(teams["payments"]["members"]) == sorted([world.orders, world.billing])
    assert teams["payments"]["channel"] == "#payments-oncall"
    for topic, t in topics.items():
        assert t["records_in"] == world.records[topic]
        pay = t["payload_in"]
        # the log is small: every batch was read, so the figure is exact (error 0)
        assert (pay["value"], pay["error"], pay["source"]) == (world.payload[topic], 0, "log")
        assert pay["detail"] == "every batch read"
        stored = t["bytes_stored"]["value"]
        assert t["bytes_in"]["value"] == stored  # all of it was produced in the window
        # stored batches: the payload plus batch and record framing (gzip shrinks logs.*)
        if topic != world.logs:
            assert world.payload[topic] < stored < world.payload[topic] + 80 * t["records_in"]
    assert topics[world.logs]["compression_ratio"] > 3
    assert topics[world.logs]["codecs"] == ["gzip"]
    assert topics[world.orders]["compression_ratio"] == 1.0
    payments = teams["payments"]
    assert payments["payload_in"]["value"] >= world.payload[world.orders] + world.payload[
        world.billing]
    assert payments["records_in"] >= world.records[world.orders] + world.records[world.billing]


async def test_team_filter_and_csv_parse(world, config_data, tmp_path):
    config = world.config(config_data, tmp_path / "c.yaml")
    done = await kafkaops(config, "--team", "payments", "--by", "topic", "--csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {r["topic"] for r in rows} >= {world.orders, world.billing}
    assert all(r["team"] == "payments" for r in rows)
    row = next(r for r in rows if r["topic"] == world.orders)
    assert int(row["payload_in"]) == world.payload[world.orders]
    assert row["payload_in_error"] == "0" and row["bytes_in_source"] == "log"
    done = await kafkaops(config, "--topic", world.logs, "--csv")
    (team,) = list(csv.DictReader(io.StringIO(done.stdout)))
    assert (team["team"], team["topics"], int(team["payload_in"])) == (
        "platform", "1", world.payload[world.logs])


async def test_text_table_names_the_source(world, config_data, tmp_path):
    done = await kafkaops(world.config(config_data, tmp_path / "c.yaml"), "--topic",
                          f"*{world.tag}", "--by", "topic")
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith(world.logs))
    assert "platform" in line and "gzip" in line
    assert "Source: the log itself (every figure exact" in done.stdout


async def test_the_window_follows_record_times(bootstrap, config_data, tmp_path, config):
    """Records stamped 90 minutes ago fall in the window before a 1h window (the movers),
    records of now in it; records of yesterday in neither."""
    from kafkaops.core.services import Services

    topic = unique("orders.win")
    async with Services(config) as services:
        await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    from aiokafka import AIOKafkaProducer

    now = int(time.time() * 1000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for stamp, count in ((now - 86_400_000, 3), (now - 5_400_000, 10), (now, 20)):
            for i in range(count):
                await producer.send_and_wait(topic, b"v" * 50, timestamp_ms=stamp + i)
    finally:
        await producer.stop()
    world = World("win")
    done = await kafkaops(world.config(config_data, tmp_path / "c.yaml"), "--topic", topic,
                          "--json", "--window", "1h")
    assert done.returncode == 0, done.stderr
    (t,) = json.loads(done.stdout)["topics"]
    assert (t["records_in"], t["records_in_previous"], t["records_stored"]) == (20, 10, 33)
    assert t["payload_in"]["value"] == 20 * 50
    assert t["bytes_in_previous"]["value"] * 2 == pytest.approx(t["bytes_in"]["value"], rel=0.01)
    movers = json.loads(done.stdout)["movers"]
    assert {"kind": "topic", "name": topic, "before": t["bytes_in_previous"]["value"],
            "now": t["bytes_in"]["value"]} in movers


@pytest.mark.parametrize(("args", "message"), [
    (["--window", "2x"], "argument --window: a duration such as 15m, 1h or 7d (got '2x')"),
    (["--window", "40d"], "argument --window: a window from 1s to 31d"),
    (["--by", "group"], "argument --by: invalid choice: 'group'"),
    (["--json", "--csv"], "argument --csv: not allowed with argument --json"),
    (["--team", "ghosts"], "--team 'ghosts': no such team under teams:"),
    (["report", "--month", "2026-13"], "--month: a month is written YYYY-MM"),
    (["report", "--month", "November"], "--month: a month is written YYYY-MM"),
    (["report"], "the following arguments are required: --month"),
])
async def test_bad_input_is_one_line_and_exit_2(world, config_data, tmp_path, args, message):
    done = await kafkaops(world.config(config_data, tmp_path / "c.yaml"), *args)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


async def test_report_without_costs_is_a_config_error(config_file):
    done = await kafkaops(config_file, "report", "--month", "2026-11")
    assert done.returncode == 2
    assert "costs: not configured" in done.stderr and "Traceback" not in done.stderr
