"""The monthly chargeback against the real broker: hourly samples kept on _kafkaops.usage (by
the recorder the bot and the demo run), `kafkaops usage report --month --csv` that Python's
csv module reads, with ingress equal to what the test produced, every cost quantity x price
and totals that add up; a forged sample is left out and said; the demo's config gives every
demo topic an owner."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import yaml

from kafkaops.core.config import parse_config
from kafkaops.core.kafka.topicio import Writer
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec
from kafkaops.core.usage import history
from kafkaops.core.usage.service import UsageService
from kafkaops.core.usage.teams import UNOWNED, team_of

from .conftest import KAFKAOPS, cli_env, produce, unique

#: two samples an hour apart in November 2026 (the test's clock; the month is over)
T1 = datetime(2026, 11, 10, 10, 0, tzinfo=UTC).timestamp()
T2 = T1 + 3600


def write(tmp_path: Path, config_data: dict, tag: str) -> Path:
    data = json.loads(json.dumps(config_data))
    data["teams"] = {"payments": {"match": [f"orders.{tag}*"]},
                     "platform": {"match": [f"logs.{tag}*"]}}
    data["costs"] = {"storage_gb_month": 0.10, "ingress_gb": 0.02, "currency": "USD"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def kafkaops(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(cfg), "usage", *args],
        capture_output=True, text=True, env=cli_env(), timeout=120, stdin=subprocess.DEVNULL)


async def sample_at(services: Services, at: float) -> history.Sample:
    report = await UsageService(services, clock=lambda: at).measure(
        history.SAMPLE_WINDOW, groups=False)
    return await history.record(services, report=report)


async def test_the_report_bills_what_was_produced_and_its_totals_add_up(
        config_data: dict, bootstrap: str, tmp_path: Path) -> None:
    tag = unique("r")
    orders, logs = f"orders.{tag}", f"logs.{tag}"
    cfg = write(tmp_path, config_data, tag)
    config = parse_config(yaml.safe_load(cfg.read_text()), str(cfg))
    async with Services(config) as services:
        await (await services.topics()).create_topics([NewTopicSpec(orders, 2),
                                                       NewTopicSpec(logs, 1)])
        await sample_at(services, T1)  # the topics exist and are empty
        await produce(bootstrap, orders, [b"o" * 300] * 50)
        await produce(bootstrap, logs, [b"l" * 100] * 20)
        second = await sample_at(services, T2)
    stored = {t.topic: t.stored for t in second.topics}
    done = await kafkaops(cfg, "report", "--month", "2026-11", "--csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    by = {(r["row"], r["team"], r["topic"]): r for r in rows}
    o = by[("topic", "payments", orders)]
    lo = by[("topic", "platform", logs)]
    # ingress: the 50 and 20 records produced between the samples, at the bytes per record
    # the log holds: exactly the stored batches, which hold the 300- and 100-byte values
    for row, topic, payload in ((o, orders, 50 * 300), (lo, logs, 20 * 100)):
        assert stored[topic] is not None and payload < stored[topic] < payload + 80 * 50
        assert Decimal(row["ingress_gb"]) == Decimal(stored[topic] / 1e9).quantize(
            Decimal("1e-9"))
        assert Decimal(row["ingress_cost"]) == (Decimal(row["ingress_gb"]) * Decimal(
            "0.02")).quantize(Decimal("1e-6"))
        # storage: 0 bytes for the first hour, then the stored bytes for 65 minutes
        gbm = Decimal(repr(stored[topic] / 1e9 * 3900 / 3600)) / 720
        assert Decimal(row["storage_gb_month"]) == gbm.quantize(Decimal("1e-9"))
        assert Decimal(row["total_cost"]) == Decimal(row["storage_cost"]) + Decimal(
            row["ingress_cost"])
        assert row["currency"] == "USD" and row["hours_in_month"] == "720.00"
    # every team total is the sum of its rows; the total is the sum of the teams
    cols = ("storage_gb_month", "storage_cost", "ingress_gb", "ingress_cost", "total_cost")
    teams = [r for r in rows if r["row"] == "team"]
    for team in teams:
        mine = [r for r in rows if r["row"] == "topic" and r["team"] == team["team"]]
        for c in cols:
            assert sum(Decimal(r[c]) for r in mine) == Decimal(team[c])
    (total,) = [r for r in rows if r["row"] == "total"]
    for c in cols:
        assert sum(Decimal(t[c]) for t in teams) == Decimal(total[c])
        assert sum(Decimal(r[c]) for r in rows if r["row"] == "topic") == Decimal(total[c])
    text = await kafkaops(cfg, "report", "--month", "2026-11")
    assert f"x 0.02 = {o['ingress_cost']}" in text.stdout  # the arithmetic, in the text too


async def test_a_forged_sample_is_left_out_and_said(config_data: dict, tmp_path: Path) -> None:
    tag = unique("f")
    cfg = write(tmp_path, config_data, tag)
    config = parse_config(yaml.safe_load(cfg.read_text()), str(cfg))
    at = datetime(2026, 10, 5, 8, 0, tzinfo=UTC).timestamp()
    async with Services(config) as services:
        await (await services.topics()).create_topics([NewTopicSpec(f"orders.{tag}", 1)])
        await sample_at(services, at)
        # someone who may produce to the topic writes a sample of their own, unsigned and
        # claiming a billion records for the next hour
        forged = history.Sample("primary", at + 3600, "mallory", (history.TopicSample(
            f"orders.{tag}", 1, 10**9, 0, 1e12, 0.0, 10**9, 1e12),), False)
        key, value = history.encode(forged, b"not-the-key")
        async with Writer(await services.connection()) as w:
            await w.send(history.TOPIC, [(key, value)])
    done = await kafkaops(cfg, "report", "--month", "2026-10", "--csv")
    assert done.returncode == 0, done.stderr
    assert "sample(s) left out" in done.stderr and "signature does not verify" in done.stderr
    (row,) = [r for r in csv.DictReader(io.StringIO(done.stdout))
              if r["topic"] == f"orders.{tag}"]
    assert Decimal(row["ingress_gb"]) == 0 and Decimal(row["storage_gb_month"]) == 0


async def test_a_replayed_genuine_sample_is_left_out_and_said(config_data: dict,
                                                              tmp_path: Path) -> None:
    tag = unique("rp")
    cfg = write(tmp_path, config_data, tag)
    config = parse_config(yaml.safe_load(cfg.read_text()), str(cfg))
    at = datetime(2026, 9, 7, 3, 0, tzinfo=UTC).timestamp()
    async with Services(config) as services:
        await (await services.topics()).create_topics([NewTopicSpec(f"orders.{tag}", 1)])
        genuine = await sample_at(services, at)
        _, value = history.encode(genuine, history.signing_key(services))
        # the same signed value under the key of the next hour (to bill an hour twice), and
        # a signed sample of the dr cluster replayed onto primary's topic
        dr = history.Sample("dr", at, genuine.by, genuine.topics, True)
        dr_key, dr_value = history.encode(dr, history.signing_key(services))
        async with Writer(await services.connection()) as w:
            await w.send(history.TOPIC, [(f"primary|{history.hour_of(at + 3600)}".encode(),
                                          value), (dr_key, dr_value)])
        kept = await history.read(services, "primary")
    assert [s.hour for s in kept.samples if s.at == at] == [history.hour_of(at)]
    assert not [s for s in kept.samples if s.hour == history.hour_of(at + 3600)]
    done = await kafkaops(cfg, "report", "--month", "2026-09", "--json")
    assert done.returncode == 0, done.stderr
    assert "sample(s) left out: offset " in done.stderr  # with other tests' forgeries
    assert done.stderr.count("its key does not name its cluster and hour") == 2
    billed = json.loads(done.stdout)
    # the one genuine sample, standing for its hour (and 5 minutes' grace), no more
    assert (billed["samples"], billed["hours_sampled"]) == (1, "1.08")


async def test_no_sample_in_the_month_exits_1(config_data: dict, tmp_path: Path) -> None:
    done = await kafkaops(write(tmp_path, config_data, "x"), "report", "--month", "1999-01")
    assert done.returncode == 1
    assert "no sample of primary in 1999-01" in done.stderr


async def test_the_recorder_keeps_a_sample_of_each_writable_cluster(config_data: dict) -> None:
    data = json.loads(json.dumps(config_data))
    data["clusters"]["dr"]["read_only"] = True
    async with Services(parse_config(data, "<rec>")) as services:
        recorder = history.UsageRecorder(services, first_after=0)
        await recorder.record_all(services)
        assert (recorder.written, recorder.error) == (1, "")  # dr is read-only: none there
        kept = await history.read(services, "primary")
    assert kept.samples[-1].hour == history.hour_of(__import__("time").time())
    assert kept.signed


async def test_the_bot_keeps_signed_samples_of_writable_clusters(config_data: dict,
                                                                 tmp_path: Path) -> None:
    import signal
    import socket

    from tests.slack_server import BOT_TOKEN, SIGNING_SECRET, SlackServer

    topic = unique("orders.bot")
    async with Services(parse_config(config_data, "<setup>")) as services:
        await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    data = json.loads(json.dumps(config_data))
    data["clusters"]["dr"]["read_only"] = True
    data["costs"] = {"storage_gb_month": 0.10, "ingress_gb": 0.02, "currency": "USD"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with SlackServer() as slack:
        data["slack"] = {"mode": "http", "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET,
                         "api_url": slack.api_url, "http": {"host": "127.0.0.1", "port": port}}
        cfg = tmp_path / "bot.yaml"
        cfg.write_text(yaml.safe_dump(data))
        proc = await asyncio.create_subprocess_exec(
            KAFKAOPS, "--config", str(cfg), "bot", stderr=asyncio.subprocess.DEVNULL,
            env=cli_env())
        by = f"{socket.gethostname()}:{proc.pid}"
        mine: list[history.Sample] = []
        try:
            async with Services(parse_config(config_data, "<read>")) as services:
                for _ in range(600):  # the first sample comes a few seconds after start
                    kept = await history.read(services, "primary")
                    mine = [s for s in kept.samples if s.by == by]
                    if mine:
                        break
                    await asyncio.sleep(0.1)
                assert mine, "the bot kept no usage sample"
                assert kept.signed and topic in [t.topic for t in mine[0].topics]
                dr = await history.read(services, "dr")
                assert [s for s in dr.samples if s.by == by] == []  # read-only: none
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0


def test_the_demo_config_gives_every_demo_topic_an_owner() -> None:
    from kafkaops.demo.catalogue import DEMO_TOPICS
    from kafkaops.demo.config_file import demo_config_data
    from kafkaops.demo.schema_traffic import AVRO_TOPIC, PROTOBUF_TOPIC

    config = parse_config(demo_config_data({"primary": "127.0.0.1:1", "dr": "127.0.0.1:2"}))
    assert config.costs is not None and config.policies
    names = [t.name for t in DEMO_TOPICS] + [AVRO_TOPIC, PROTOBUF_TOPIC]
    assert [n for n in names if team_of(config.teams, n) == UNOWNED] == []


def test_a_team_without_topics_bills_zero_at_the_same_precision() -> None:
    from kafkaops.core.config import CostsConfig, TeamConfig
    from kafkaops.core.usage.chargeback import bill, csv_rows

    sample = history.Sample("primary", T1, "t", (history.TopicSample(
        "logs.a", 1, 10, 0, 2e9, 0.0, 10, 2e9),), True)
    teams = {"idle": TeamConfig(match=["nothing.*"]), "platform": TeamConfig(match=["logs.*"])}
    b = bill([sample], "2026-11", cluster="primary", teams=teams,
             costs=CostsConfig(storage_gb_month=0.1, ingress_gb=0.02, currency="USD"))
    rows = {(r[0], r[3]): r for r in csv_rows(b)[1:]}
    idle = rows[("team", "idle")]
    assert idle[7] == "0.000000000" and idle[9] == "0.000000" and idle[13] == "0.000000"
    assert rows[("total", "")][9] == rows[("team", "platform")][9]
