"""The audit trail on the real broker: record_change, several writers at once, tampering
with real producers, and `kafkaops audit` / `kafkaops audit verify`."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkaops.core.audit.log import record_change
from kafkaops.core.config import parse_config
from kafkaops.core.errors import ConfigError, KafkaOpsError, Refused
from kafkaops.core.messages.service import MessageService
from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env, produce, unique


def make_config(config_data: dict, topic: str, **audit):
    data = copy.deepcopy(config_data)
    data["audit"] = {"signing_key": "test-signing-key", "topic": topic, **audit}
    return data


@pytest.fixture
def trail(config_data, tmp_path):
    """(config data, config file, topic) with a fresh audit topic."""
    topic = unique("_kafkaops.audit")
    data = make_config(config_data, topic)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return data, path, topic


def cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(path), *args], capture_output=True,
                          text=True, env=cli_env(), timeout=60, stdin=subprocess.DEVNULL)


async def run_cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, path, *args)


async def raw_trail(services: Services, topic: str):
    svc = MessageService(await services.connection())
    return await svc.read(topic)


async def change(services: Services, n: int, *, face: str = "cli", fail: bool = False):
    async def apply():
        await asyncio.sleep(0)
        if fail:
            raise KafkaOpsError("broker said no")
        return {"replayed": n}

    return await record_change(
        services, actor=f"user{n}@host", face=face, action="dlq.replay", target=f"t{n}.dlq",
        params={"filter": 'status == "failed"', "n": n}, apply=apply)


async def test_record_change_writes_the_intent_before_the_change_and_the_outcome_after(trail):
    data, path, topic = trail
    seen_at_apply: list[int] = []

    async def apply():
        async with Services(parse_config(data)) as other:  # another reader, mid-change
            seen_at_apply.append(len(await raw_trail(other, topic)))
        return {"replayed": 1}

    async with Services(parse_config(data)) as s:
        assert await record_change(
            s, actor="user1@host", face="cli", action="dlq.replay", target="t1.dlq",
            params={"filter": 'status == "failed"', "n": 1}, apply=apply) == {"replayed": 1}
        with pytest.raises(KafkaOpsError, match="broker said no"):
            await change(s, 2, face="slack", fail=True)
        msgs = await raw_trail(s, topic)
    assert seen_at_apply == [1]  # the intent was on the trail before the change ran
    assert len(msgs) == 4
    intent, first, intent2, second = (json.loads(m.value) for m in msgs)
    fields = ("cluster", "actor", "face", "action", "target", "params", "result", "detail",
              "error", "seq")
    assert {k: intent[k] for k in fields} == {
        "cluster": "primary", "actor": "user1@host", "face": "cli", "action": "dlq.replay",
        "target": "t1.dlq", "params": {"filter": 'status == "failed"', "n": 1},
        "result": "intent", "detail": None, "error": None, "seq": 1}
    assert {k: first[k] for k in fields} == {**{k: intent[k] for k in fields},
                                             "result": "ok", "detail": {"replayed": 1},
                                             "seq": 2}
    assert first["id"] == intent["id"] and first["prev"] == intent["sig"]
    assert intent2["result"] == "intent" and intent2["id"] == second["id"] != first["id"]
    assert second["result"] == "error" and second["error"] == "broker said no"
    assert second["face"] == "slack" and second["seq"] == 4 and second["prev"] == intent2["sig"]
    assert second["head"] == {"offset": 2, "sig": intent2["sig"]}
    assert msgs[0].key == msgs[1].key == intent["id"].encode()

    out = await run_cli(path, "audit", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    # one row per change, where its outcome stands
    assert [(r["actor"], r["result"], r["offset"]) for r in listed] == [
        ("user1@host", "ok", 1), ("user2@host", "error", 3)]
    out = await run_cli(path, "audit", "list", "--limit", "1")
    assert out.returncode == 0 and "user2@host" in out.stdout and "user1@host" not in out.stdout
    assert "error: broker said no" in out.stdout
    out = await run_cli(path, "audit", "verify")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("OK") and "4 records" in out.stdout


async def test_read_only_cluster_refuses_and_writes_nothing(trail):
    data, _, topic = trail
    data["clusters"]["primary"]["read_only"] = True
    called = []

    async def apply():
        called.append(1)

    async with Services(parse_config(data)) as s:
        with pytest.raises(Refused, match="read-only"):
            await record_change(s, actor="a", face="cli", action="dlq.replay", target="x",
                                params={}, apply=apply)
        conn = await s.connection()
        assert topic not in (await conn.metadata([topic])).topics  # not even created
    assert called == []


async def test_no_signing_key_means_no_change(trail):
    data, _, topic = trail
    data["audit"]["signing_key"] = ""
    called = []

    async def apply():
        called.append(1)

    async with Services(parse_config(data)) as s:
        with pytest.raises(ConfigError, match="audit.signing_key is not set"):
            await record_change(s, actor="a", face="cli", action="x", target="y", params={},
                                apply=apply)
    assert called == []


async def test_refused_inside_the_change_is_audited_as_refused(trail):
    data, _, topic = trail

    async def apply():
        raise Refused("group has active members")

    async with Services(parse_config(data)) as s:
        with pytest.raises(Refused):
            await record_change(s, actor="a", face="console", action="offsets.reset",
                                target="g1", params={}, apply=apply)
        (rec,) = await (await s.audit()).records()
    assert rec.result == "refused" and rec.error == "group has active members"


async def test_several_writers_at_once_verify_clean(trail):
    """Two consoles and a bot, each with changes running concurrently."""
    data, path, topic = trail
    config = parse_config(data)
    async with Services(config) as a, Services(config) as b, Services(config) as c:
        await asyncio.gather(*(change(s, i, face=f) for i in range(4)
                               for s, f in ((a, "console"), (b, "console"), (c, "slack"))))
        report = await (await a.audit()).verify()
    assert report.ok, report.problems
    assert report.records == 24 and report.writers == 3  # an intent and an outcome each
    out = await run_cli(path, "audit", "verify")
    assert out.returncode == 0, out.stdout


async def test_verify_names_forged_altered_and_replayed_records(trail, bootstrap):
    data, path, topic = trail
    async with Services(parse_config(data)) as s:
        for i in range(3):
            await change(s, i)
        msgs = await raw_trail(s, topic)
    original = json.loads(msgs[1].value)  # the outcome of the first change
    altered = dict(original, result="ok", actor="nobody@nowhere")
    forged = dict(original, id="f00", seq=99, writer="intruder", sig="0" * 64)
    # a real producer, by hand, onto the audit topic (3 changes = offsets 0-5): 6, 7, 8
    await produce(bootstrap, topic, [json.dumps(altered).encode()], partition=0)
    await produce(bootstrap, topic, [json.dumps(forged).encode()], partition=0)
    await produce(bootstrap, topic, [msgs[2].value], partition=0)
    out = await run_cli(path, "audit", "verify")
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.startswith("FAILED")
    lines = out.stdout.splitlines()
    assert any(x.startswith("  partition 0 offset 6: altered: altered copy of the record at "
                            "offset 1") and "actor" in x for x in lines), out.stdout
    assert any(x.startswith("  partition 0 offset 7: bad-signature:") for x in lines)
    assert any(x.startswith("  partition 0 offset 8: duplicate: replayed copy of the record "
                            "at offset 2") for x in lines)
    assert "3 bad record(s)" in out.stdout
    out = await run_cli(path, "audit", "verify", "--json")
    assert out.returncode == 1
    [trail_] = [t for t in json.loads(out.stdout) if t["cluster"] == "primary"]
    assert trail_["ok"] is False and trail_["error"] is None
    report = trail_["report"]
    assert [(p["offset"], p["kind"]) for p in report["problems"]] == [
        (6, "altered"), (7, "bad-signature"), (8, "duplicate")]


@pytest.mark.parametrize(("order", "expected"), [
    ([0, 1, 3, 4], [(2, "missing")]),  # seq 3 (offset 2) left out
    ([0, 2, 1, 3, 4], [(2, "reordered")]),
])
async def test_verify_names_missing_and_reordered_records(trail, config_data, tmp_path,
                                                          bootstrap, order, expected):
    """The trail copied record by record into another audit topic, with one left out or two
    swapped, as someone rewriting the topic would."""
    data, _, topic = trail
    async with Services(parse_config(data)) as s:
        for i in range(5):
            await change(s, i)
        msgs = await raw_trail(s, topic)
    copy_topic = unique("_kafkaops.audit-copy")
    for i in order:
        await produce(bootstrap, copy_topic, [msgs[i].value], key=msgs[i].key, partition=0)
    copy_path = tmp_path / "copy.yaml"
    copy_path.write_text(yaml.safe_dump(make_config(config_data, copy_topic)))
    out = await run_cli(copy_path, "audit", "verify", "--json")
    assert out.returncode == 1, out.stdout + out.stderr
    [copied] = [t for t in json.loads(out.stdout) if t["cluster"] == "primary"]
    problems = [(p["offset"], p["kind"]) for p in copied["report"]["problems"]]
    assert all(p in problems for p in expected), problems
    # the untouched original still verifies clean
    out = await run_cli(_write(tmp_path, data), "audit", "verify")
    assert out.returncode == 0, out.stdout


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "orig.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


async def test_verify_with_a_wrong_key_fails_every_record(trail, tmp_path):
    data, _, topic = trail
    async with Services(parse_config(data)) as s:
        await change(s, 1)
    other = copy.deepcopy(data)
    other["audit"]["signing_key"] = "another-key"
    out = await run_cli(_write(tmp_path, other), "audit", "verify")
    assert out.returncode == 1
    assert "partition 0 offset 0: bad-signature" in out.stdout


async def test_audit_cli_bad_input(trail):
    _, path, _ = trail
    out = await run_cli(path, "audit", "--limit", "0")
    assert out.returncode == 2 and "--limit N" in out.stderr
    out = await run_cli(path, "audit", "--since", "last tuesday")
    assert out.returncode == 2 and "cannot read time" in out.stderr
    out = await run_cli(path, "audit")
    assert out.returncode == 0 and "no audit records" in out.stdout


async def test_verify_checks_every_clusters_trail_unless_one_is_named(trail, clusters, tmp_path):
    """A failover writes its steps on the target's trail: `audit verify` with no -c checks
    every cluster's trail, as `audit list` reads them, and a bad record on the dr trail
    fails it; -c names one trail; a cluster that does not answer is UNKNOWN, exit 1."""
    data, path, topic = trail
    async with Services(parse_config(data)) as s:
        await change(s, 1)
        msgs = await raw_trail(s, topic)
    forged = dict(json.loads(msgs[1].value), id="f00", seq=99, writer="intruder", sig="0" * 64)
    await produce(clusters.bootstrap("dr"), topic, [json.dumps(forged).encode()], partition=0)

    out = await run_cli(path, "audit", "verify")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"OK  {topic} on primary: 2 records")
    assert any(x.startswith(f"FAILED  {topic} on dr: 1 records") for x in lines), out.stdout
    assert "partition 0 offset 0: bad-signature" in out.stdout
    one = await run_cli(path, "-c", "primary", "audit", "verify", "--json")
    assert one.returncode == 0, one.stdout + one.stderr
    assert [(t["cluster"], t["ok"]) for t in json.loads(one.stdout)] == [("primary", True)]

    gone = copy.deepcopy(data)
    gone["clusters"]["dr"] = {"bootstrap_servers": "127.0.0.1:1", "request_timeout": "2s"}
    out = await run_cli(_write(tmp_path, gone), "audit", "verify", "--json")
    assert out.returncode == 1
    by = {t["cluster"]: t for t in json.loads(out.stdout)}
    assert by["primary"]["ok"] is True
    assert by["dr"]["ok"] is False and by["dr"]["report"] is None and by["dr"]["error"]
