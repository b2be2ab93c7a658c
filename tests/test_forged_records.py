"""Forged records on the topics kafkaops reads: one hostile record (100,000-deep JSON, a
value far too large) written with a plain aiokafka producer is reported by topic and
offset and skipped; every reader goes on with the rest of the topic."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from kafkaops.core.alerts.log import AlertLog
from kafkaops.core.alerts.model import AlertEvent, Subject
from kafkaops.core.audit.log import record_change
from kafkaops.core.config import parse_config
from kafkaops.core.confirmations import CONFIRMATIONS_TOPIC, Confirmation, ConfirmationStore
from kafkaops.core.dlq.model import LEDGER_TOPIC
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.dr.control import CONTROL_TOPIC, ActiveRecord, ControlStore
from kafkaops.core.expr.filter import compile_filter, extract
from kafkaops.core.flags.service import H_EXPECTS, H_OP, FlagService
from kafkaops.core.messages.service import MessageService
from kafkaops.core.services import Services
from kafkaops.core.untrusted import UntrustedData, parse_json

from .conftest import KAFKAOPS, cli_env, produce, unique

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(path), *args], capture_output=True,
                          text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- the shared parser


@pytest.mark.parametrize("raw, why", [
    (DEEP, "nested deeper than 64"),
    (DEEP_OBJECT, "nested deeper than 64"),
    (b"[" * 65 + b"]" * 65, "nested deeper than 64"),
    (b'"' + b"x" * (1 << 20) + b'"', "larger than the 1,048,576 allowed"),
    (b"{not json", "not JSON"),
    (b"1" * 5000, "not JSON"),
    (None, "tombstone"),
])
def test_parse_json_refuses_with_a_reason(raw, why):
    with pytest.raises(UntrustedData, match=why):
        parse_json(raw)


def test_parse_json_takes_ordinary_values_exactly():
    assert parse_json(b"[" * 64 + b"]" * 64) is not None
    wide = json.dumps([{"a": [i]} for i in range(500)]).encode()  # many brackets, shallow
    assert parse_json(wide) == json.loads(wide)
    assert parse_json(b'{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890}  # stays an int (signatures re-serialize it)
    assert parse_json("[1]") == [1]


# ---------------------------------------------------------------- audit


@pytest.fixture
def trail(config_data, tmp_path, bootstrap):
    topic = unique("_kafkaops.audit")
    data = copy.deepcopy(config_data)
    data["audit"] = {"signing_key": "test-signing-key", "topic": topic}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return data, path, topic


async def _change(services: Services, n: int) -> None:
    async def apply():
        return {"n": n}

    await record_change(services, actor=f"user{n}", face="cli", action="dlq.replay",
                        target=f"t{n}.dlq", params={}, apply=apply)


async def test_deep_audit_record_is_reported_by_offset_and_the_trail_still_lists_and_verifies(
        trail, bootstrap):
    data, path, topic = trail
    async with Services(parse_config(data)) as s:
        await _change(s, 1)  # its intent and outcome: offsets 0 and 1
        await produce(bootstrap, topic, [DEEP], partition=0)   # offset 2: the forgery
        await _change(s, 2)  # offsets 3 and 4

    listed = await asyncio.to_thread(cli, path, "audit", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["actor"], r["offset"]) for r in json.loads(listed.stdout)] == [
        ("user1", 1), ("user2", 4)]
    assert "Traceback" not in listed.stderr
    (note,) = listed.stderr.splitlines()
    assert note.startswith(f"kafkaops: skipped {topic} offset 2: JSON nested deeper than 64")

    text = await asyncio.to_thread(cli, path, "audit", "list")
    assert text.returncode == 0 and "user1" in text.stdout and "user2" in text.stdout

    verified = await asyncio.to_thread(cli, path, "audit", "verify")
    assert verified.returncode == 1, verified.stderr
    assert "Traceback" not in verified.stderr
    lines = verified.stdout.splitlines()
    assert lines[0].startswith(f"FAILED  {topic} on primary: 5 records")
    assert lines[1:3] == ["1 bad record(s):",
                          "  partition 0 offset 2: malformed: not an audit record (JSON nested "
                          "deeper than 64 levels): written by hand?"]
    # then the other cluster's trail, which holds nothing
    assert [x.split(":")[0] for x in lines[3:]] == [f"OK  {topic} on dr"]


# ---------------------------------------------------------------- flags


async def test_deep_flag_record_is_ignored_and_reported_in_history(services, bootstrap):
    topic = unique("_kafkaops.flags-t")
    key = "forged.flag"

    def service() -> FlagService:
        return FlagService(services, services.cluster_name, services.cluster_config(),
                           topic=topic)

    async with service() as flags:
        created = await flags.create(key, actor="alice@host", face="cli")
    await produce(bootstrap, topic, [DEEP], key=key.encode(),
                  headers=[(H_EXPECTS, str(created.version).encode()), (H_OP, b"set")])
    async with service() as again:
        assert await again.get(key) == created
        history = await again.history(key)
    forged = history[-1]
    assert forged.outcome == "ignored"
    assert "nested deeper than 64" in forged.note


# ---------------------------------------------------------------- confirmations


async def test_deep_confirmation_record_does_not_stop_the_store(services, bootstrap, caplog):
    store = ConfirmationStore(services, "primary")
    now = time.time()
    real = await store.create(Confirmation(
        id=unique("c"), action="flag.write", requester="U1", target="x", params={},
        summary="s", created_at=now, expires_at=now + 600))
    await produce(bootstrap, CONFIRMATIONS_TOPIC, [DEEP], key=real.id.encode(), partition=0)
    fresh = ConfirmationStore(services, "primary")  # reads the whole topic, forgery included
    got = await fresh.get(real.id)
    assert got is not None and got.state == "pending" and got.version == 1
    assert any(f"of {CONFIRMATIONS_TOPIC}: not a confirmation record: JSON nested deeper"
               in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- DR control


async def test_deep_control_record_does_not_stop_reading_the_pair(services, bootstrap, caplog):
    pair = unique("pair")
    store = ControlStore(services.connection)
    await store.write("primary", [ActiveRecord(pair, "dr", 3, by="t", at=1.0,
                                               reason="failover")])
    await produce(bootstrap, CONTROL_TOPIC, [DEEP], key=f"dr/{pair}/active".encode(),
                  partition=0)
    log = await store.read_cluster("primary", pair)
    assert log.active is not None and (log.active.cluster, log.active.epoch) == ("dr", 3)
    assert any(f"of {CONTROL_TOPIC} on cluster primary (key b'dr/{pair}/active')" in
               r.getMessage() and "nested deeper" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- alerts topic


async def test_deep_alert_event_is_skipped_and_the_others_listed(config_data, bootstrap,
                                                                 caplog):
    data = copy.deepcopy(config_data)
    topic = unique("_alerts")
    data["alerts"] = {"topic": topic, "rules": []}
    async with Services(parse_config(data)) as s:
        log = AlertLog(s, by="test")
        try:
            await log.publish([AlertEvent(type="firing", alert_id="a1", at=1.0, rule="r",
                                          subject=Subject(cluster="primary", group="g"))])
            await produce(bootstrap, topic, [DEEP], key=b"a2")
            book = await log.read_book()
        finally:
            await log.stop()
    assert [a.alert_id for a in book.firing()] == ["a1"]
    assert any(f"of {topic} partition" in r.getMessage() and "nested deeper" in r.getMessage()
               for r in caplog.records)


# ---------------------------------------------------------------- DLQ replay ledger


async def test_deep_ledger_record_does_not_stop_dlq_list(config_file, bootstrap, services):
    dlq = unique("forged") + ".dlq"
    await produce(bootstrap, dlq, [b'{"status": "failed"}'])
    await produce(bootstrap, LEDGER_TOPIC, [DEEP], key=b"batch/" + unique("b").encode())
    listed = await asyncio.to_thread(cli, config_file, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert dlq in [t["topic"] for t in json.loads(listed.stdout)]
    assert dlq in [t.topic for t in await DeadLetterService(services).list_topics()]


# ---------------------------------------------------------------- records under a filter


async def test_deep_record_under_a_filter_and_a_template_is_absent_data(services, bootstrap):
    topic = unique("events")
    deep_field = b'{"payload": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    await produce(bootstrap, topic, [deep_field, b'{"payload": [1]}'], partition=0)
    msgs = await MessageService(await services.connection()).read(topic)
    flt = compile_filter('payload ~ "1"')
    assert [m.offset for m in msgs if flt.matches(m)] == [1]
    assert extract(msgs[0], "payload") is None and extract(msgs[1], "payload") == [1]
