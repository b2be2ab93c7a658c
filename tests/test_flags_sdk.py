"""The flag SDK services embed, against real brokers: following changes, last known good
when Kafka goes away, cold start from a snapshot and catching up when Kafka comes back, and
the OpenFeature provider through openfeature's own API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from kafkaops.core.config import Config, parse_config
from kafkaops.core.flags.sdk import FlagClient
from kafkaops.core.flags.service import parse_rule
from kafkaops.core.services import Services
from kafkaops.demo.embedded import EmbeddedClusters, answers_kafka, broker_binary, free_port

from .conftest import unique

ME = "alice@laptop"


def cfg_for(bootstrap: str) -> Config:
    return parse_config(
        {"clusters": {"x": {"bootstrap_servers": bootstrap}}, "audit": {"signing_key": "k"}},
        "<test>",
    )


@contextlib.asynccontextmanager
async def client(bootstrap: str, **kw: object) -> AsyncIterator[FlagClient]:
    kw.setdefault("fetch_max_wait", 0.1)
    c = FlagClient(bootstrap, **kw)  # type: ignore[arg-type]
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


@contextlib.contextmanager
def tansu_on(port: int) -> Iterator[str]:
    """A broker on a given port: "Kafka comes back" at the address a client already has."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE")}
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [broker_binary(), "broker", "--cluster-id", "flags-back", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        import time

        deadline = time.monotonic() + 15
        while not answers_kafka("127.0.0.1", port, timeout=0.5):
            assert proc.poll() is None and time.monotonic() < deadline, "broker did not start"
            time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_clients_follow_every_change_and_evaluate_locally(
    services: Services, bootstrap: str
) -> None:
    svc = await services.flags()
    key = unique("search")
    await svc.create(key, actor=ME, face="cli")
    async with client(bootstrap) as c1, client(bootstrap) as c2:
        for c in (c1, c2):
            assert c.status().source == "kafka" and not c.status().stale
            assert c.get_bool(key, True, user="u1") is False  # created off: flag default
        await svc.toggle(key, True, actor=ME, face="cli")
        for c in (c1, c2):
            assert await c.wait_until(lambda c: (s := c.get(key)) is not None and s.version == 2)
            ev = c.evaluate(key, "u1")
            assert (ev.value, ev.reason, ev.stale) == (True, "on", False)
        await svc.set(key, rules=[parse_rule("region in [eu-west-1]")], rollout=50, actor=ME,
                      face="cli")
        assert await c1.wait_until(lambda c: c.get(key).version == 3)  # type: ignore[union-attr]
        eu = [c1.get_bool(key, False, user=f"u{i}", attributes={"region": "eu-west-1"})
              for i in range(1000)]
        assert 400 < sum(eu) < 600
        assert not any(c1.get_bool(key, False, user=f"u{i}", attributes={"region": "us"})
                       for i in range(200))
        # the CLI's eval and the SDK agree user by user
        users = [f"u{i}" for i in range(50)]
        by_core = await svc.evaluate(key, users, {"region": "eu-west-1"})
        assert [e.value for e in by_core] == [
            c1.get_bool(key, False, user=u, attributes={"region": "eu-west-1"}) for u in users
        ]
        await svc.delete(key, actor=ME, face="cli")
        assert await c2.wait_until(lambda c: c.get(key) is None)
        ev = c2.evaluate(key, "u1", default="caller-default")
        assert (ev.value, ev.reason) == ("caller-default", "not_found")
        # asking for the wrong type serves the caller's default and says why
        other = unique("str")
        await svc.create(other, type="string", default="a", actor=ME, face="cli")
        assert await c2.wait_until(lambda c: c.get(other) is not None)
        assert c2.get_bool(other, True) is True
        assert c2._typed(other, ("bool",), True, None, None).reason == "type_mismatch"


async def test_serves_last_known_good_when_the_broker_goes_away_and_says_so(
    tmp_path: Path,
) -> None:
    snapshot = tmp_path / "flags.json"
    async with EmbeddedClusters(["lkg"]) as cluster:
        b = cluster.bootstrap("lkg")
        async with Services(cfg_for(b)) as s:
            svc = await s.flags()
            await svc.create("kill-switch", actor=ME, face="cli")
            await svc.toggle("kill-switch", True, actor=ME, face="cli")
            await svc.create("limit", type="number", default=10, value=99, actor=ME, face="cli")
            await svc.toggle("limit", True, actor=ME, face="cli")
        c = FlagClient(b, snapshot_path=snapshot, fetch_max_wait=0.1, stale_after=0.5)
        status = await c.start()
        assert status.source == "kafka" and not status.stale and status.flags == 2
        seen = []
        c.on_status(seen.append)
        broker = cluster.brokers["lkg"].process
        broker.kill()  # the broker dies under a connected client
        await asyncio.to_thread(broker.wait)
        try:
            assert await _eventually(lambda: c.status().stale)
            status = c.status()
            assert status.source == "kafka" and not status.connected
            assert "STALE: serving the last known good values (2 flags" in status.message
            ev = c.evaluate("kill-switch", "u1")
            assert (ev.value, ev.reason, ev.stale) == (True, "on", True)
            assert c.get_number("limit", 0) == 99
            assert await _eventually(lambda: bool(seen) and seen[-1].stale)  # listeners told
        finally:
            await c.stop()
    saved = json.loads(snapshot.read_text())
    assert sorted(f["key"] for f in saved["flags"]) == ["kill-switch", "limit"]


async def test_cold_start_from_snapshot_without_kafka_then_catch_up_when_it_comes_back(
    tmp_path: Path, services: Services, bootstrap: str
) -> None:
    snapshot = tmp_path / "flags.json"
    key = unique("cold")
    svc = await services.flags()
    await svc.create(key, type="string", default="old", value="snap", actor=ME, face="cli")
    await svc.toggle(key, True, actor=ME, face="cli")
    async with client(bootstrap, snapshot_path=snapshot) as c:
        assert c.get_string(key, "-") == "snap"
    assert key in snapshot.read_text()

    port = free_port()  # nothing listens here yet
    c = FlagClient(f"127.0.0.1:{port}", snapshot_path=snapshot, fetch_max_wait=0.1,
                   retry_backoff=0.05, retry_backoff_max=0.2)
    try:
        status = await c.start(wait=0.3)
        assert status.source == "snapshot" and status.stale and not status.connected
        assert "STALE: serving the snapshot" in status.message
        ev = c.evaluate(key, "u1")
        assert (ev.value, ev.stale) == ("snap", True)

        with tansu_on(port) as back:
            async with Services(cfg_for(back)) as s2:
                fresh = await s2.flags()
                await fresh.create(key, type="string", default="old", value="live", actor=ME,
                                   face="cli")
                await fresh.toggle(key, True, actor=ME, face="cli")
            assert await c.wait_until(lambda c: c.get_string(key, "-") == "live", 20)
            assert await _eventually(lambda: not c.status().stale)
            assert c.status().source == "kafka"
            assert await _eventually(lambda: '"live"' in snapshot.read_text())
            await c.stop()  # before the broker goes: Tansu exits slowly with clients attached
    finally:
        await c.stop()


async def test_a_broken_snapshot_is_reported_and_the_client_still_starts(
    tmp_path: Path, bootstrap: str
) -> None:
    snapshot = tmp_path / "flags.json"
    snapshot.write_text("{half a file")
    c = FlagClient(f"127.0.0.1:{free_port()}", snapshot_path=snapshot, retry_backoff=5)
    try:
        status = await c.start(wait=0.2)
        assert status.source == "none" and status.stale and status.flags == 0
        assert "the snapshot is unusable" in status.message
        assert str(snapshot) in (status.snapshot_error or "")
        assert c.get_bool("anything", True) is True  # callers get their own defaults
    finally:
        await c.stop()
    assert snapshot.read_text() == "{half a file"  # nothing is saved that was not read
    async with client(bootstrap, snapshot_path=snapshot) as c:
        assert c.status().source == "kafka"  # with Kafka up it simply reads the topic
    assert json.loads(snapshot.read_text())["format"] == "kafkaops-flags-snapshot/1"


async def test_openfeature_provider_through_the_sdk_api(
    services: Services, bootstrap: str
) -> None:
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.exception import ErrorCode
    from openfeature.flag_evaluation import Reason

    from kafkaops.core.flags.openfeature import KafkaOpsProvider

    svc = await services.flags()
    keys = {t: unique(f"of-{t}") for t in ("bool", "string", "number", "float", "json")}
    await svc.create(keys["bool"], actor=ME, face="cli")
    await svc.create(keys["string"], type="string", default="blue", value="green", actor=ME,
                     face="cli")
    await svc.create(keys["number"], type="number", default=1, value=3, actor=ME, face="cli")
    await svc.create(keys["float"], type="number", default=0.5, value=2.5, actor=ME, face="cli")
    await svc.create(keys["json"], type="json", default={"a": 1}, value={"a": 2, "b": [1]},
                     actor=ME, face="cli")
    for k in keys.values():
        await svc.toggle(k, True, actor=ME, face="cli")
    await svc.set(keys["bool"], rules=[parse_rule("region in [eu-west-1]")], actor=ME,
                  face="cli")
    domain = unique("of")
    async with client(bootstrap) as c:
        assert await c.wait_until(lambda c: all(c.get(k) for k in keys.values()))
        api.set_provider(KafkaOpsProvider(c), domain)
        try:
            of = api.get_client(domain)
            eu = EvaluationContext("user-1", {"region": "eu-west-1"})
            us = EvaluationContext("user-1", {"region": "us-east-1"})
            assert of.get_boolean_value(keys["bool"], False, eu) is True
            assert of.get_boolean_value(keys["bool"], True, us) is False
            d = of.get_boolean_details(keys["bool"], False, eu)
            assert d.reason == Reason.TARGETING_MATCH and d.flag_metadata["version"] == 3
            assert d.flag_metadata["stale"] is False
            assert of.get_string_value(keys["string"], "x") == "green"
            assert of.get_integer_value(keys["number"], 0) == 3
            assert of.get_float_value(keys["float"], 0.0) == 2.5
            assert of.get_object_value(keys["json"], {}) == {"a": 2, "b": [1]}
            missing = of.get_boolean_details(unique("missing"), True)
            assert missing.value is True and missing.error_code == ErrorCode.FLAG_NOT_FOUND
            wrong = of.get_integer_details(keys["string"], 7)
            assert wrong.value == 7 and wrong.error_code == ErrorCode.TYPE_MISMATCH
            frac = of.get_integer_details(keys["float"], 7)
            assert frac.value == 7 and frac.error_code == ErrorCode.TYPE_MISMATCH
            await svc.rollout(keys["string"], 0, actor=ME, face="cli")
            assert await c.wait_until(lambda c: c.get(keys["string"]).rollout == 0)  # type: ignore[union-attr]
            off = of.get_string_details(keys["string"], "x", EvaluationContext("user-1"))
            assert (off.value, off.reason) == ("blue", Reason.DEFAULT)
        finally:
            api.clear_providers()


async def _eventually(predicate, limit: float = 15.0) -> bool:  # noqa: ANN001
    """Poll a condition that changes with time (staleness) until it holds or time is up."""
    import time

    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
