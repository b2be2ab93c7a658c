"""Signed DR control records (core/dr/signing.py) on the two embedded clusters: a record a
raw producer writes to `_kafkaops.control` (unsigned, a genuine one with a flipped byte, a
genuine one copied under another pair's key) naming another active cluster does not switch
the follower, does not change `kafkaops dr status`, and is named by its offset; a record
kafkaops signs is followed; without a key records are read unsigned, as before."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from kafkaops.core.config import parse_config
from kafkaops.core.dr import signing
from kafkaops.core.dr.active import ActiveClusterWatcher
from kafkaops.core.dr.control import (
    CONTROL_TOPIC,
    ActiveRecord,
    ControlStore,
    active_key,
    encode_record,
)
from kafkaops.core.errors import ConfigError
from kafkaops.core.services import Services
from kafkaops.demo.embedded import EmbeddedClusters

from .conftest import produce
from .drkit import close_world, make_world
from .test_dr_cli import config_file, kafkaops

ME = "alice@test"


async def eventually(predicate: Any, limit: float = 20.0) -> bool:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_forged_control_records_neither_switch_the_follower_nor_dr_status(
    config_data: dict[str, Any], clusters: EmbeddedClusters, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = await make_world(config_data)
    signer = signing.signer_for(w.config)
    assert signer is not None  # the tests' audit.signing_key
    watcher = ActiveClusterWatcher.for_pair(w.config, w.name, interval=0.1)
    switched: list[Any] = []
    watcher.on_change(switched.append)
    key = active_key(w.name).encode()
    try:
        await watcher.start()
        assert (watcher.active, watcher.epoch) == ("primary", 0)

        # 1. unsigned, naming the dr cluster active at epoch 5, on both copies
        forged = encode_record(ActiveRecord(w.name, "dr", 5, by="mallory", at=time.time(),
                                            reason="failover"))
        for c in ("primary", "dr"):
            await produce(clusters.bootstrap(c), CONTROL_TOPIC, [forged], key=key, partition=0)
        # 2. genuinely signed for epoch 6 naming dr, then one byte flipped (6 -> 7)
        genuine = encode_record(ActiveRecord(w.name, "dr", 6, by=ME, at=1.0, reason="failover"))
        flipped = genuine.replace(b'"epoch": 6', b'"epoch": 7')
        assert flipped != genuine
        await produce(clusters.bootstrap("primary"), CONTROL_TOPIC, [flipped], key=key,
                      partition=0, headers=signing.sign_headers(signer, key, genuine))
        # 3. a genuine record signed under another pair's key, copied under this pair's
        other = active_key("other-pair").encode()
        await produce(clusters.bootstrap("dr"), CONTROL_TOPIC, [genuine], key=key,
                      partition=0, headers=signing.sign_headers(signer, other, genuine))

        await watcher.refresh()
        assert (watcher.active, watcher.epoch) == ("primary", 0) and switched == []
        message = watcher.status().message
        assert "'primary' active at epoch 0" in message
        assert "control record(s) on 'primary' ignored" in message
        assert "control record(s) on 'dr' ignored" in message
        warnings = [r.getMessage() for r in caplog.records if "ignored:" in r.getMessage()
                    and CONTROL_TOPIC in r.getMessage() and w.name in r.getMessage()]
        assert any("unsigned record" in m for m in warnings)
        assert any("signature does not verify" in m for m in warnings)
        # logged once by offset, however often the watcher reads the copy again
        await watcher.refresh()
        again = [r.getMessage() for r in caplog.records if "ignored:" in r.getMessage()
                 and CONTROL_TOPIC in r.getMessage() and w.name in r.getMessage()]
        assert len(again) == len(warnings) == 4

        cfg = config_file(tmp_path, w, config_data)
        out = await kafkaops(cfg, "dr", "status", "--pair", w.name, "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert (data["active"], data["epoch"]) == ("primary", 0)
        text = json.dumps(data)
        assert "of _kafkaops.control on 'primary' ignored: signature missing or wrong" in text
        assert "of _kafkaops.control on 'dr' ignored: signature missing or wrong" in text
        table = await kafkaops(cfg, "dr", "status", "--pair", w.name)
        assert table.returncode == 0, table.stderr
        assert "active      primary (epoch 0)" in table.stdout

        # what kafkaops itself signs is followed
        async with Services(w.config) as s:
            store = ControlStore.for_config(s.connection, w.config)
            await store.write("dr", [ActiveRecord(w.name, "dr", 8, by=ME, at=time.time(),
                                                  reason="failover")])
        assert await eventually(lambda: watcher.epoch == 8)
        assert watcher.active == "dr" and [s.epoch for s in switched] == [8]
        out = await kafkaops(cfg, "dr", "status", "--pair", w.name, "--json")
        assert (json.loads(out.stdout)["active"], json.loads(out.stdout)["epoch"]) == ("dr", 8)
    finally:
        await watcher.stop()
        await close_world(w)


async def test_without_a_key_control_records_are_read_unsigned_as_before(
    config_data: dict[str, Any], clusters: EmbeddedClusters,
) -> None:
    data = {k: v for k, v in config_data.items() if k != "audit"}
    w = await make_world(data)
    try:
        assert signing.signer_for(w.config) is None and signing.verifier_for(w.config) is None
        watcher = ActiveClusterWatcher.for_pair(w.config, w.name, interval=0.1)
        try:
            await watcher.start()
            value = encode_record(ActiveRecord(w.name, "dr", 3, by="someone", at=time.time(),
                                               reason="failover"))
            await produce(clusters.bootstrap("dr"), CONTROL_TOPIC, [value],
                          key=active_key(w.name).encode(), partition=0)
            await watcher.refresh()
            assert (watcher.active, watcher.epoch) == ("dr", 3)
        finally:
            await watcher.stop()
    finally:
        await close_world(w)


def test_a_verify_key_that_is_not_one_is_a_config_error(config_data: dict[str, Any]) -> None:
    data = {**config_data, "dr": {"verify_key": "ed25519:nope", "pairs": [
        {"name": "main", "primary": "primary", "secondary": "dr"}]}}
    config = parse_config(data, "<test>")
    with pytest.raises(ConfigError,
                       match=r"<test>: dr\.verify_key: an Ed25519 verify key is 32 bytes"):
        ActiveClusterWatcher.for_pair(config, "main")
    with pytest.raises(ConfigError, match="verify_key"):
        ActiveClusterWatcher(config.clusters, config.dr.pairs[0], verify_key="garbage")


def test_the_dr_key_is_not_the_flags_key(config_data: dict[str, Any]) -> None:
    from kafkaops.core.flags import signing as flag_signing

    config = parse_config(config_data, "<test>")
    dr, flags = signing.verifier_for(config), flag_signing.verifier_for(config)
    assert dr is not None and flags is not None and dr.text != flags.text
