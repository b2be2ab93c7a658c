"""`kafkaops demo`: the topic table, the record generators, dead letters, the config file,
the traffic and its consumer groups on a real broker, and the CLI's lifecycle (no broker
outlives the demo, whatever stops it)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import select
import signal
import stat
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kafkaops.core.config import ClusterConfig, load_config
from kafkaops.core.errors import ConfigError, UsageError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.records import TopicPartition
from kafkaops.core.topics.service import TopicService
from kafkaops.demo.catalogue import DEMO_GROUPS, DEMO_TOPICS, DLQ_TOPIC
from kafkaops.demo.config_file import DEMO_SIGNING_KEY, write_demo_config
from kafkaops.demo.dead_letters import (
    DLT_EXCEPTION_CAUSE_FQCN,
    DLT_EXCEPTION_MESSAGE,
    DLT_ORIGINAL_CONSUMER_GROUP,
    DLT_ORIGINAL_OFFSET,
    DLT_ORIGINAL_PARTITION,
    DLT_ORIGINAL_TIMESTAMP,
    DLT_ORIGINAL_TIMESTAMP_TYPE,
    DLT_ORIGINAL_TOPIC,
    ListenerFailure,
    check_order,
    spring_dlt_headers,
)
from kafkaops.demo.embedded import EmbeddedClusters
from kafkaops.demo.traffic import DemoTraffic, check_rate, rate_multiplier
from kafkaops.demo.world import Demo, create_demo_topics

from .conftest import cli_env

KAFKAOPS = str(Path(sys.executable).parent / "kafkaops")
TOPICS = {t.name: t for t in DEMO_TOPICS}
GENERATED = [t for t in DEMO_TOPICS if t.generator is not None]


# ---------------------------------------------------------------- the table of topics


def test_every_topic_names_its_configs_explicitly() -> None:
    # Tansu reports only configs given at creation: the console must have something to show
    for t in DEMO_TOPICS:
        assert t.configs.get("cleanup.policy") in ("delete", "compact"), t.name
        assert "compression.type" in t.configs, t.name
        if t.configs["cleanup.policy"] == "delete":
            assert int(t.configs["retention.ms"]) > 0, t.name
    assert TOPICS["logs.app"].configs["compression.type"] == "lz4"
    assert TOPICS["logs.access"].configs["compression.type"] == "snappy"
    assert int(TOPICS["iac.changes"].configs["retention.ms"]) >= 5 * 365 * 86_400_000
    assert TOPICS["config.app-settings"].configs["cleanup.policy"] == "compact"
    assert math.isclose(sum(t.share for t in DEMO_TOPICS), 1.0)
    assert DLQ_TOPIC in TOPICS and TOPICS[DLQ_TOPIC].share == 0  # written by a consumer
    for g in DEMO_GROUPS:
        assert set(g.topics) <= set(TOPICS), g.group_id


@pytest.mark.parametrize("topic", GENERATED, ids=lambda t: t.name)
def test_generators_make_realistic_json(topic) -> None:
    assert topic.generator is not None
    gen = topic.generator(random.Random(7))
    records = [gen.next() for _ in range(400)]
    decoded = []
    for r in records:
        if r.value is None:  # a tombstone, on the compacted topic only
            assert topic.configs["cleanup.policy"] == "compact"
            assert r.key
            continue
        try:
            decoded.append(json.loads(r.value))
        except ValueError:
            # only orders.events carries poison on purpose (truncated JSON)
            assert topic.name == "orders.events", r.value[:80]
    assert len(decoded) >= 380
    keyed = {"cicd.pipeline-events", "metrics.apm", "k8s.events", "iac.changes",
             "orders.events", "config.app-settings", "cdc.shop.orders", "finops.chargeback"}
    assert all(r.key for r in records) == (topic.name in keyed)


def _records(name: str, n: int = 600) -> list[dict]:
    gen = TOPICS[name].generator(random.Random(3))  # type: ignore[misc]
    out = []
    for _ in range(n):
        value = gen.next().value
        try:
            out.append(json.loads(value or b"null"))
        except ValueError:
            continue
    return [r for r in out if r is not None]


def test_pipeline_events_have_failures_and_links() -> None:
    events = _records("cicd.pipeline-events")
    statuses = Counter(e["status"] for e in events)
    assert statuses["failed"] > 0 and statuses["succeeded"] > statuses["failed"]
    for e in events:
        assert {"pipeline", "branch", "stage", "status", "url"} <= e.keys()
        assert e["url"].startswith("https://") and str(e["run_id"]) in e["url"]
        assert ("error" in e) == (e["status"] == "failed")


def test_kubernetes_events_include_oom_and_crash_loops() -> None:
    reasons = Counter(e["reason"] for e in _records("k8s.events"))
    assert reasons["OOMKilled"] > 0 and reasons["CrashLoopBackOff"] > 0
    assert reasons["Scheduled"] > reasons["OOMKilled"]  # warnings are the minority


def test_order_events_carry_headers_and_some_poison() -> None:
    gen = TOPICS["orders.events"].generator(random.Random(11))  # type: ignore[misc]
    records = [gen.next() for _ in range(2000)]
    failures = [check_order(r.value) for r in records]
    poisoned = [f for f in failures if f is not None]
    assert 0 < len(poisoned) < 0.05 * len(records)
    assert {f.cause_fqcn for f in poisoned} == {
        "com.fasterxml.jackson.core.io.JsonEOFException",
        "jakarta.validation.ConstraintViolationException",
        "java.lang.IllegalArgumentException",
    }
    headers = dict(records[0].headers)
    assert headers["content-type"] == b"application/json"
    assert re.fullmatch(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-01", headers["traceparent"])
    kinds = Counter(json.loads(r.value)["event_type"] for r, f in zip(records, failures,
                                                                       strict=True) if f is None)
    assert kinds["OrderCreated"] and kinds["PaymentAuthorized"] and kinds["OrderShipped"]


@pytest.mark.parametrize(("value", "cause"), [
    (b'{"order_id":"ORD-1","total":10.5,"currency":"EUR"}', None),
    (b'{"order_id":"ORD-1","total":10.5,"curr', "com.fasterxml.jackson.core.io.JsonEOFException"),
    (b'{"order_id":"ORD-1","total":-3,"currency":"EUR"}',
     "jakarta.validation.ConstraintViolationException"),
    (b'{"order_id":"ORD-1","total":3,"currency":"XXX"}', "java.lang.IllegalArgumentException"),
    (b"[1,2]", "java.lang.IllegalArgumentException"),
    (None, "com.fasterxml.jackson.core.io.JsonEOFException"),
])
def test_check_order(value, cause) -> None:
    failure = check_order(value)
    assert (failure.cause_fqcn if failure else None) == cause


@pytest.mark.parametrize(("partition", "offset", "ts"), [
    (0, 0, 0), (5, 1234, 1_764_000_000_123), (2_147_483_647, 2**62, 2**41),
])
def test_spring_dead_letter_headers_use_springs_encoding(partition, offset, ts) -> None:
    failure = ListenerFailure("java.lang.IllegalArgumentException", "x; Unsupported currency")
    headers = dict(spring_dlt_headers("orders.events", partition, offset, ts, "orders-service",
                                      failure))
    assert headers[DLT_ORIGINAL_TOPIC] == b"orders.events"
    assert struct.unpack(">i", headers[DLT_ORIGINAL_PARTITION]) == (partition,)
    assert struct.unpack(">q", headers[DLT_ORIGINAL_OFFSET]) == (offset,)
    assert struct.unpack(">q", headers[DLT_ORIGINAL_TIMESTAMP]) == (ts,)
    assert headers[DLT_ORIGINAL_TIMESTAMP_TYPE] == b"CreateTime"
    assert headers[DLT_ORIGINAL_CONSUMER_GROUP] == b"orders-service"
    assert headers[DLT_EXCEPTION_CAUSE_FQCN] == b"java.lang.IllegalArgumentException"
    assert headers[DLT_EXCEPTION_MESSAGE] == b"x; Unsupported currency"


@pytest.mark.parametrize("period", [60.0, 137.0])
def test_rate_multiplier_swings_around_one(period) -> None:
    values = [rate_multiplier(t * period / 1000, period, 0.7) for t in range(1000)]
    assert min(values) >= 0.5 - 1e-9 and max(values) <= 1.5 + 1e-9
    assert math.isclose(sum(values) / len(values), 1.0, abs_tol=1e-3)


@pytest.mark.parametrize("rate", [0, -5, float("nan"), float("inf"), 2001])
def test_bad_rates_are_refused(rate) -> None:
    with pytest.raises(UsageError, match="--rate"):
        check_rate(rate)


# ---------------------------------------------------------------- the config file


def test_demo_config_is_valid_config(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.yaml"
    cfg = write_demo_config(path, {"primary": "127.0.0.1:1111", "dr": "127.0.0.1:2222"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds a signing key
    again = load_config(path)  # what `kafkaops --config FILE` does
    for c in (cfg, again):
        assert c.default_cluster == "primary"
        assert c.clusters["primary"].bootstrap_servers == "127.0.0.1:1111"
        assert c.clusters["dr"].bootstrap_servers == "127.0.0.1:2222"
        assert c.audit.signing_key.reveal() == DEMO_SIGNING_KEY
        (pair,) = c.dr.pairs
        assert (pair.name, pair.primary, pair.secondary) == ("main", "primary", "dr")
    assert DEMO_SIGNING_KEY not in subprocess.run(
        [KAFKAOPS, "--config", str(path), "config", "show"], capture_output=True, text=True,
        env=cli_env(), timeout=60,
    ).stdout


def test_demo_config_in_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write the demo config"):
        write_demo_config(blocker / "config.yaml", {"primary": "127.0.0.1:1"})
    with pytest.raises(UsageError, match="is not a directory"):
        Demo(config_path=blocker / "sub" / "config.yaml")
    with pytest.raises(UsageError, match="is a directory"):
        Demo(config_path=tmp_path)
    assert blocker.read_text() == "x"


# ---------------------------------------------------------------- traffic on a real broker


@pytest.fixture(scope="module")
def demo_broker() -> Iterator[str]:
    """A broker of its own: the demo's topic and group names are fixed, not unique()."""
    with EmbeddedClusters(["primary"]) as c:
        yield c.bootstrap("primary")


@pytest.fixture(scope="module")
async def traffic(demo_broker: str) -> AsyncIterator[DemoTraffic]:
    await create_demo_topics(demo_broker)
    t = DemoTraffic(demo_broker, rate=400, seed=5)
    await t.start()
    yield t
    await t.stop()


@pytest.fixture(scope="module")
async def conn(demo_broker: str) -> AsyncIterator[KafkaConnection]:
    async with KafkaConnection("demo", ClusterConfig(bootstrap_servers=demo_broker)) as c:
        yield c


async def group_view(conn: KafkaConnection, group: str, topic: str) -> dict:
    """Members, committed offsets and lag of a group on one topic, read from the broker."""
    from aiokafka.structs import TopicPartition as AkTP

    (resp,) = await conn.admin.describe_consumer_groups([group])
    (g,) = resp.to_object()["groups"]
    parts = range(TOPICS[topic].partitions)
    # Tansu: OffsetFetch needs the partitions named (docs/broker-notes.md)
    offsets = await conn.admin.list_consumer_group_offsets(
        group, partitions=[AkTP(topic, p) for p in parts])
    committed = {tp.partition: om.offset for tp, om in offsets.items() if om.offset >= 0}
    water = await conn.high_watermarks([TopicPartition(topic, p) for p in parts])
    ends = {tp.partition: end for tp, (_, end) in water.items()}
    return {
        "state": g["state"],
        "members": len(g["members"]),
        "committed": sum(committed.values()),
        "end": sum(ends.values()),
        "lag": sum(ends[p] - committed.get(p, 0) for p in parts),
    }


async def wait_for(check, what: str, within: float = 60.0):
    """Poll `check()` until it returns something true; fail naming `what` and the last value."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last and last[0]:
            return last[1]
        await asyncio.sleep(0.5)
    pytest.fail(f"{what}: not reached in {within:g}s; last seen {last}")


async def test_demo_topics_show_their_configs(traffic: DemoTraffic, conn: KafkaConnection):
    topics = {t.name: t for t in await TopicService(conn).list_topics()}
    for spec in DEMO_TOPICS:
        t = topics[spec.name]
        assert t.partitions == spec.partitions
        assert t.cleanup_policy == spec.configs["cleanup.policy"]
        assert t.compression == spec.configs["compression.type"]
        assert t.retention_ms == spec.configs.get("retention.ms")


async def test_stopped_group_has_lag_and_no_members(traffic, conn) -> None:
    async def check():
        v = await group_view(conn, "warehouse-loader", "cdc.shop.orders")
        done = "warehouse-loader" in traffic.stats().stopped_groups
        return done and v["members"] == 0 and v["committed"] > 0 and v["lag"] > 0, v

    v = await wait_for(check, "warehouse-loader stopped with committed offsets and lag")
    assert v["state"] == "Empty"
    # and the lag keeps growing: nobody consumes
    await wait_for(
        lambda: _grown(conn, "warehouse-loader", "cdc.shop.orders", v["lag"]),
        "warehouse-loader lag growing")


async def _grown(conn, group, topic, lag):
    v = await group_view(conn, group, topic)
    return v["lag"] > lag and v["members"] == 0, v


async def test_billing_falls_behind_while_orders_service_keeps_up(traffic, conn) -> None:
    async def check():
        billing = await group_view(conn, "billing-service", "orders.events")
        orders = await group_view(conn, "orders-service", "orders.events")
        ok = (billing["end"] >= 200 and billing["committed"] > 0
              and billing["lag"] >= 0.3 * billing["end"]
              and orders["members"] == 2 and orders["committed"] >= 0.8 * orders["end"])
        return ok, (billing, orders)

    billing, orders = await wait_for(check, "billing-service behind, orders-service keeping up")
    assert billing["members"] == 1 and orders["lag"] < billing["lag"]


async def test_dead_letters_point_back_at_their_original_record(traffic, demo_broker) -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AkTP

    consumer = AIOKafkaConsumer(bootstrap_servers=demo_broker, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([AkTP(DLQ_TOPIC, 0)])
        consumer.seek(AkTP(DLQ_TOPIC, 0), 0)
        dead = None
        deadline = time.monotonic() + 60
        while dead is None and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=1)
            dead = next((m for msgs in batch.values() for m in msgs), None)
        assert dead is not None, "no dead letter within 60 s"
        h = dict(dead.headers)
        assert h[DLT_ORIGINAL_TOPIC] == b"orders.events"
        assert h[DLT_ORIGINAL_CONSUMER_GROUP] == b"orders-service"
        assert h[DLT_EXCEPTION_MESSAGE]
        assert check_order(dead.value) is not None
        (partition,) = struct.unpack(">i", h[DLT_ORIGINAL_PARTITION])
        (offset,) = struct.unpack(">q", h[DLT_ORIGINAL_OFFSET])
        original = AkTP("orders.events", partition)
        consumer.assign([original])
        consumer.seek(original, offset)
        batch = await consumer.getmany(original, timeout_ms=5000, max_records=1)
        (first,) = batch[original][:1]
        assert (first.offset, first.key, first.value) == (offset, dead.key, dead.value)
        assert struct.unpack(">q", h[DLT_ORIGINAL_TIMESTAMP]) == (first.timestamp,)
    finally:
        await consumer.stop()


# ---------------------------------------------------------------- the command's lifecycle


def _broker_pids(port: int) -> list[int]:
    """Live processes whose command line names this port and is a Tansu broker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"127.0.0.1:{port}" in cmd and "tansu" in cmd and " broker " in cmd:
            found.append(int(entry))
    return found


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _still_running(pid: int, port: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"127.0.0.1:{port}".encode() in cmd  # a zombie's cmdline is empty


def _read_until(proc: subprocess.Popen, marker: str, timeout: float = 60.0) -> str:
    """stdout of `proc` up to the line starting with `marker`."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.poll() is not None else ""
            pytest.fail(f"demo did not print {marker!r} (rc={proc.poll()}):\n{buf.decode()}"
                        f"\n{err}")
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            buf += os.read(fd, 65536)
    return buf.decode()


def _start_demo(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, dict[str, int], Path]:
    cfg = tmp_path / "demo-config.yaml"
    proc = subprocess.Popen(
        [KAFKAOPS, "demo", "--headless", "--rate", "100", "--config-out", str(cfg), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
    )
    out = _read_until(proc, "Press Ctrl-C")
    ports = {m[0]: int(m[1]) for m in re.findall(r"^  (primary|dr) +127\.0\.0\.1:(\d+)$", out,
                                                  re.M)}
    assert set(ports) == {"primary", "dr"}, out
    assert re.search(rf"^  config +{re.escape(str(cfg))}$", out, re.M), out
    assert f"kafkaops -b 127.0.0.1:{ports['primary']} topics --json" in out
    return proc, ports, cfg


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, *args], capture_output=True, text=True, env=cli_env(),
                          timeout=60)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_signal_stops_the_demo_and_its_brokers(tmp_path: Path, sig: signal.Signals) -> None:
    proc, ports, cfg = _start_demo(tmp_path)
    with proc:
        _check_running_demo(proc, ports, cfg, sig)


def _check_running_demo(proc, ports, cfg, sig) -> None:
    try:
        pids = {name: _broker_pids(port) for name, port in ports.items()}
        assert all(len(p) == 1 for p in pids.values()), pids
        assert {_parent(p) for ps in pids.values() for p in ps} == {proc.pid}
        # the demo's topics are there, seen by a separate kafkaops
        r = _run("-b", f"127.0.0.1:{ports['primary']}", "topics", "--json")
        assert r.returncode == 0, r.stderr
        listed = {t["name"]: t["partitions"] for t in json.loads(r.stdout)}
        assert {t.name: t.partitions for t in DEMO_TOPICS}.items() <= listed.items()
        # the config file it wrote works, for the dr cluster too
        r = _run("--config", str(cfg), "-c", "dr", "cluster", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["bootstrap_servers"] == f"127.0.0.1:{ports['dr']}"
    finally:
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
    assert rc == 0
    assert f"stopped by {sig.name}" in proc.stderr.read().decode()
    for name, port in ports.items():
        assert not [p for p in pids[name] if _still_running(p, port)], f"{name} broker survived"
        assert not _broker_pids(port)
    assert not cfg.exists()  # its config named brokers that are gone


def test_sigkill_of_the_demo_still_takes_its_brokers_down(tmp_path: Path) -> None:
    proc, ports, _ = _start_demo(tmp_path)
    with proc:
        pids = {port: _broker_pids(port) for port in ports.values()}
        proc.kill()  # no cleanup code runs: the kernel's parent-death signal must do it
        proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
            _still_running(p, port) for port, ps in pids.items() for p in ps):
        time.sleep(0.1)
    assert not any(_still_running(p, port) for port, ps in pids.items() for p in ps)


def test_duration_stops_the_demo_by_itself(tmp_path: Path) -> None:
    proc, ports, cfg = _start_demo(tmp_path, "--duration", "2")
    with proc:
        rc = proc.wait(timeout=60)
        out = proc.stdout.read().decode()
    assert rc == 0
    assert re.search(r"^produced [\d,]+ records", out, re.M), out
    for port in ports.values():
        assert not _broker_pids(port)
    assert not cfg.exists()


def test_an_error_after_the_brokers_started_still_stops_them(tmp_path: Path) -> None:
    # The demo fails after its brokers are up (here: creating the topics raises); the error
    # is reported and the brokers go with it.
    script = (
        "import sys, kafkaops.demo.world as d\n"
        "async def broken(bootstrap, topics=()):\n"
        "    print('PORT', bootstrap.rsplit(':', 1)[1], flush=True)\n"
        "    raise RuntimeError('topic creation failed')\n"
        "d.create_demo_topics = broken\n"
        "from kafkaops.cli.main import main\n"
        f"sys.argv = ['kafkaops', 'demo', '--headless', '--config-out', "
        f"{str(tmp_path / 'c.yaml')!r}]\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       env=cli_env(), timeout=60)
    assert r.returncode != 0
    assert "topic creation failed" in r.stderr
    (port,) = re.findall(r"^PORT (\d+)$", r.stdout, re.M)
    assert not _broker_pids(int(port))
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--headless", "--rate", "0"], "--rate 0: give a number"),
    (["--headless", "--rate", "100000"], "at most 2000 records/s"),
    (["--headless", "--duration", "-1"], "--duration -1"),
    ([], "needs a terminal"),  # the console, without a terminal
])
def test_bad_input_is_refused_before_anything_starts(tmp_path, args, message) -> None:
    cfg = tmp_path / "c.yaml"
    r = _run("demo", "--config-out", str(cfg), *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert "embedded clusters running" not in r.stdout
    assert not cfg.exists()


@pytest.mark.parametrize("flag", [["-b", "127.0.0.1:9"], ["--config", "x.yaml"], ["-c", "dr"]])
def test_global_cluster_flags_are_refused_by_the_demo(tmp_path, flag) -> None:
    r = _run(*flag, "demo", "--headless", "--config-out", str(tmp_path / "c.yaml"))
    assert r.returncode == 2
    assert f"{flag[0]} does not apply" in r.stderr
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize("where", ["/proc/nope/config.yaml", "{tmp}/a-file/config.yaml"])
def test_unwritable_config_out_is_refused_before_anything_starts(tmp_path, where) -> None:
    (tmp_path / "a-file").write_text("x")
    r = _run("demo", "--headless", "--config-out", where.format(tmp=tmp_path))
    assert r.returncode == 2
    assert "--config-out" in r.stderr and "Traceback" not in r.stderr
    assert "embedded clusters running" not in r.stdout


async def test_the_console_dropping_a_connection_leaves_the_demo_replicating(tmp_path) -> None:
    """The console drops a cluster's connection when it stops answering (a frozen broker);
    the demo's replicator (MM2's stand-in) must not lose its own with it, as it would not
    running apart: replication goes on once the console has let go."""
    from kafkaops.demo.replicator import DemoReplicator
    from kafkaops.demo.world import Demo

    demo = Demo(config_path=tmp_path / "config.yaml", seed=3)
    replicator = DemoReplicator(lambda: demo.services, "main")
    demo.parts.append(replicator)
    demo.start_clusters()
    try:
        face = await demo.start()
        assert face is not demo.services  # the console's connections are its own
        await face.drop("primary")  # what the console does on ClusterUnreachable
        before = replicator.stats()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = replicator.stats()
            if now.records > before.records and now.heartbeats > before.heartbeats:
                break
            await asyncio.sleep(0.2)
        now = replicator.stats()
        assert now.records > before.records and now.heartbeats > before.heartbeats, now
        assert now.errors == before.errors, now.last_error
        # and the console's side reconnects on its next call
        assert (await (await face.topics("primary")).list_topics())
    finally:
        await demo.stop()
        demo.stop_clusters()
