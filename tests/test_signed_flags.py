"""Signed flag records against the attacker's moves, on the real broker: a plain aiokafka
producer (anyone who can produce to `_kafkaops.flags`) writes an unsigned record with a
higher version, a genuine signed record of flag A copied under flag B's key, a genuine
record with one byte of its value flipped. Each time the SDK (holding only the public key)
keeps serving the real value and logs the offset once, `kafkaops flags get` shows the real
state and names the offset, and `flags history` marks the record ignored. Records written
before signing (unsigned) are not applied once a key is set, and `kafkaops flags resign`
writes them again, signed and audited."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.core.config import parse_config
from kafkaops.core.errors import KafkaOpsError, NotFound
from kafkaops.core.flags.model import FLAGS_TOPIC, H_EXPECTS, H_OP
from kafkaops.core.flags.sdk import FlagClient
from kafkaops.core.flags.signing import H_SIG, signer_for, verifier_for
from kafkaops.core.services import Services
from kafkaops.core.statelog.signing import RecordSigner, RecordVerifier

from .conftest import KAFKAOPS, cli_env, unique


def cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(path), *args], capture_output=True,
                          text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)


async def raw_produce(bootstrap: str, key: bytes, value: bytes | None,
                      headers: list[tuple[str, bytes]]) -> int:
    """What anyone who can produce to the topic can do; returns the record's offset."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        meta = await producer.send_and_wait(FLAGS_TOPIC, value, key=key, partition=0,
                                            headers=headers)
    finally:
        await producer.stop()
    return int(meta.offset)


async def raw_record(bootstrap: str, offset: int) -> Any:
    """The record at `offset` of the flags topic, as any consumer reads it."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tp = TopicPartition(FLAGS_TOPIC, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        async with asyncio.timeout(20):
            return await consumer.getone(tp)
    finally:
        await consumer.stop()


async def folded_past(client: FlagClient, offset: int) -> None:
    async with asyncio.timeout(20):
        # the store has no event per record folded: look again every 50 ms
        while client._store is None or client._store.log.next_offset <= offset:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.fixture
def public_key(config) -> str:
    verifier = verifier_for(config)
    assert verifier is not None
    return verifier.text


async def two_flags(services: Services) -> tuple[str, str, int]:
    """Flag A (on) and flag B (off), both signed by kafkaops; returns A's record offset."""
    a, b = unique("signed.a"), unique("signed.b")
    flags = await services.flags()
    await flags.create(a, actor="alice@host", face="cli")
    await flags.toggle(a, True, actor="alice@host", face="cli")
    await flags.create(b, actor="alice@host", face="cli")
    offset = (await flags.history(a))[-1].offset
    return a, b, offset


async def attack(move: str, bootstrap: str, a: str, b: str, a_offset: int) -> int:
    genuine = await raw_record(bootstrap, a_offset)
    headers = [(k, bytes(v)) for k, v in genuine.headers]
    if move == "unsigned-higher-version":
        state = json.loads(genuine.value)
        state.update(key=b, enabled=True, version=99, updated_by="mallory")
        unsigned = [(k, v) for k, v in headers if k != H_SIG and k != H_EXPECTS]
        return await raw_produce(bootstrap, b.encode(), json.dumps(state).encode(),
                                 [*unsigned, (H_EXPECTS, b"1")])
    if move == "copied-under-another-key":
        return await raw_produce(bootstrap, b.encode(), genuine.value, headers)
    assert move == "flipped-byte"
    value = bytearray(genuine.value)  # one byte changed: version 2 -> 3, still a valid state
    at = value.index(b'"version":2') + len(b'"version":')
    value[at] = ord("3")
    return await raw_produce(bootstrap, a.encode(), bytes(value), headers)


@pytest.mark.parametrize("move", ["unsigned-higher-version", "copied-under-another-key",
                                  "flipped-byte"])
async def test_forged_flag_record_is_ignored_by_sdk_and_cli(
        move, services, bootstrap, config_file, public_key, caplog):
    a, b, a_offset = await two_flags(services)
    target = b if move != "flipped-byte" else a
    real = (await (await services.flags()).get(target)).enabled
    async with FlagClient(bootstrap, fetch_max_wait=0.1, verify_key=public_key) as client:
        assert client.get_bool(target, not real) is real
        with caplog.at_level(logging.WARNING, logger="kafkaops.core.flags.store"):
            bad = await attack(move, bootstrap, a, b, a_offset)
            await folded_past(client, bad)
        assert client.get_bool(target, not real) is real
        assert client.get_bool(a, False) is True or move == "flipped-byte"
        logged = [r.getMessage() for r in caplog.records  # the SDK's reader: "flags"
                  if f"on cluster 'flags' offset {bad} " in r.getMessage()]
        assert len(logged) == 1, logged
        assert "not applied" in logged[0]

    got = cli(config_file, "flags", "get", target)
    assert got.returncode == 0, got.stderr
    assert f"state        {'on' if real else 'off'}" in got.stdout
    assert f"ignored record at offset {bad}: " in got.stdout
    as_json = json.loads(cli(config_file, "flags", "get", target, "--json").stdout)
    assert as_json["enabled"] is real
    assert [r["offset"] for r in as_json["ignored_records"]] == [bad]
    history = cli(config_file, "flags", "history", target)
    line = next(ln for ln in history.stdout.splitlines() if ln.lstrip().startswith(str(bad)))
    assert "ignored" in line and ("unsigned" in line or "signature" in line)


async def test_sdk_without_the_key_is_fooled_and_with_a_wrong_key_serves_nothing(
        services, bootstrap, public_key):
    """What verify_key buys: a client without it applies the forgery (as before signing);
    a client holding another key's public half applies none of kafkaops' records."""
    a, b, a_offset = await two_flags(services)
    bad = await attack("unsigned-higher-version", bootstrap, a, b, a_offset)
    async with FlagClient(bootstrap, fetch_max_wait=0.1) as blind:
        await folded_past(blind, bad)
        assert blind.get_bool(b, False) is True
    other = RecordSigner("another secret", "flags").verifier.text
    async with FlagClient(bootstrap, fetch_max_wait=0.1, verify_key=other) as wrong:
        await folded_past(wrong, bad)
        assert wrong.get_bool(a, False) is False  # the default: A's records do not verify


def test_verify_key_that_is_not_one_is_refused():
    with pytest.raises(KafkaOpsError, match="verify_key: not an ed25519 verify key"):
        FlagClient("127.0.0.1:9", verify_key="ed25519:!!!")
    with pytest.raises(KafkaOpsError, match="32 bytes"):
        FlagClient("127.0.0.1:9", verify_key="ed25519:AAAA")


def test_keys_follow_the_confirmations_rule(config_data):
    audit_only = parse_config(config_data)
    own = parse_config(dict(config_data, flags={"signing_key": "flags-secret"}))
    none = parse_config({k: v for k, v in config_data.items() if k != "audit"})
    assert signer_for(audit_only) is not None and signer_for(none) is None
    assert verifier_for(none) is None
    assert signer_for(own).verifier.public != signer_for(audit_only).verifier.public
    public = signer_for(own).verifier.text
    reader = parse_config({"flags": {"verify_key": public}})
    assert verifier_for(reader).public == RecordVerifier.from_text(public).public
    assert signer_for(reader) is None  # a reader's config cannot write


# ---------------------------------------------------------------- upgrade: unsigned records


async def test_unsigned_flag_is_unknown_until_resigned(
        config_data, bootstrap, tmp_path, public_key, services):
    from kafkaops.core.flags.model import H_BY, FlagState, encode_state

    key = unique("legacy.flag")
    # the topic exists as kafkaops makes it (a raw producer would auto-create 4 partitions)
    await (await services.flags()).create(unique("legacy.other"), actor="a@h", face="cli")
    # what kafkaops wrote before records were signed: the same layout, no signature
    for expects, state in ((0, FlagState(key, "bool", False, True, False, version=1,
                                         updated_by="bob@host")),
                           (1, FlagState(key, "bool", True, True, False, version=2,
                                         updated_by="bob@host"))):
        await raw_produce(bootstrap, key.encode(), encode_state(state),
                          [(H_EXPECTS, str(expects).encode()), (H_OP, b"set"),
                           (H_BY, b"bob@host")])

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data))
    got = cli(path, "flags", "get", key)
    assert got.returncode != 0 and "Traceback" not in got.stderr
    assert "has only unsigned records" in got.stderr and "UNKNOWN" in got.stderr
    assert f"kafkaops flags resign {key}" in got.stderr
    async with FlagClient(bootstrap, fetch_max_wait=0.1, verify_key=public_key) as client:
        assert client.get_bool(key, False) is False  # the default: nothing applied

    refused = cli(path, "flags", "resign", key)  # no terminal, no --yes: nothing written
    assert refused.returncode == 2 and "nothing was changed" in refused.stderr
    done = cli(path, "flags", "resign", key, "--yes", "--reason", "signing on")
    assert done.returncode == 0, done.stderr
    assert f"re-signed flag {key!r}: on" in done.stdout
    got = cli(path, "flags", "get", key, "--json")
    state = json.loads(got.stdout)
    assert state["enabled"] is True and state["version"] == 3
    audit = cli(path, "audit", "list", "--json")
    assert any(r.get("action") == "flag.resign" and r.get("target") == key
               for r in json.loads(audit.stdout)), audit.stdout[-2000:]
    async with FlagClient(bootstrap, fetch_max_wait=0.1, verify_key=public_key) as client:
        assert client.get_bool(key, False) is True
    again = cli(path, "flags", "resign", key, "--yes")
    assert again.returncode == 0 and "nothing to re-sign" in again.stderr


async def test_resign_of_an_unknown_flag_says_so(services):
    with pytest.raises(NotFound):
        await (await services.flags()).resign(unique("never"), actor="a@h", face="cli")


def test_one_flipped_byte_of_a_record_that_would_apply_is_ignored(config):
    """The fold alone: a signed first record of a key applies; the same record with any
    single byte of its value changed applies without a verifier and never with one."""
    from kafkaops.core.flags.model import FlagState, LogRecord, encode_state
    from kafkaops.core.flags.signing import signed_headers
    from kafkaops.core.flags.store import FlagLog

    signer = signer_for(config)
    value = encode_state(FlagState("k", "bool", False, True, False, version=1))
    headers = signed_headers(signer, b"k", value, [(H_EXPECTS, b"0"), (H_OP, b"create")])
    log = FlagLog(verifier=signer.verifier)
    assert log.apply(LogRecord(0, b"k", value, tuple(headers))).outcome == "applied"
    flipped = value.replace(b'"version":1', b'"version":7')
    assert len(flipped) == len(value) and flipped != value
    open_log = FlagLog()
    assert open_log.apply(LogRecord(0, b"k", flipped, tuple(headers))).outcome == "applied"
    guarded = FlagLog(verifier=signer.verifier)
    change = guarded.apply(LogRecord(0, b"k", flipped, tuple(headers)))
    assert change.outcome == "ignored" and "signature does not verify" in change.note
    assert guarded.flags == {} and guarded.unverified == {0: "k"}
