"""`kafkaops dr resign`: a failover run while control records were unsigned stops counting
once signing is turned on (the pair reads as its primary at epoch 0 again); re-signing shows
the unsigned active record, writes it again signed to both clusters after confirmation,
audited, and signed readers (dr status, the active-cluster follower) see the failover again.
Nothing to re-sign says so and writes nothing; a forged-signature record is never
re-signed; copies that disagree, an unfinished unsigned run, or signing off are refused,
changing nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kafkaops.core.dr import signing
from kafkaops.core.dr.active import ActiveClusterWatcher
from kafkaops.core.dr.control import (
    CONTROL_TOPIC,
    ActiveRecord,
    ControlStore,
    FenceRecord,
    active_key,
    encode_record,
)
from kafkaops.core.kafka.topicio import read_partition
from kafkaops.core.services import Services
from kafkaops.demo.embedded import EmbeddedClusters

from .conftest import produce
from .drkit import World, close_world, dr_config, make_world
from .test_dr_cli import config_file, kafkaops

ME = "alice@test"


def unsigned(config_data: dict[str, Any]) -> dict[str, Any]:
    """The same config with no signing key: control records read unsigned."""
    return {k: v for k, v in config_data.items() if k != "audit"}


async def failed_over_unsigned(config_data: dict[str, Any]) -> World:
    """A pair failed over to dr by a release of kafkaops from before control records were
    signed: its active and fence records, unsigned, on both clusters (what that release's
    failover left; a store with no signer writes them the same way)."""
    w = await make_world(config_data)
    run = "20261101T030000-0a1b2c3d"
    records: list[Any] = [
        FenceRecord(w.name, "primary", 1, by=ME, at=time.time() - 3600, run_id=run),
        ActiveRecord(w.name, "dr", 1, by=ME, at=time.time() - 3600, run_id=run,
                     reason="failover")]
    for c in ("primary", "dr"):
        await ControlStore(w.services.connection).write(c, records)
    return w


async def control_ends(config_data: dict[str, Any], w: World) -> dict[str, int]:
    """How many records each cluster's control topic holds (to see that nothing was written)."""
    async with Services(dr_config(config_data, w.pair_data)) as s:
        ends = {}
        for c in ("primary", "dr"):
            records, _ = await read_partition(await s.connection(c), CONTROL_TOPIC)
            ends[c] = len(records)
        return ends


async def status(cfg: Path, w: World) -> dict[str, Any]:
    out = await kafkaops(cfg, "dr", "status", "--pair", w.name, "--json")
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    return data


async def test_signing_turned_on_after_an_unsigned_failover_then_resign(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    w = await failed_over_unsigned(config_data)
    try:
        cfg = config_file(tmp_path, w, config_data)  # the tests' audit.signing_key: signed
        before = await status(cfg, w)
        # what turning signing on does: the failover no longer counts, and says why
        assert (before["active"], before["epoch"]) == ("primary", 0)
        assert "signature missing or wrong" in json.dumps(before)

        shown = await kafkaops(cfg, "dr", "resign", "--pair", w.name)  # not a terminal
        assert shown.returncode == 2
        assert "unsigned: 'dr' active at epoch 1, by alice@test" in shown.stdout
        assert "found on 'primary', 'dr'" in shown.stdout
        assert "nothing was changed" in shown.stderr
        assert (await status(cfg, w))["epoch"] == 0

        done = await kafkaops(cfg, "dr", "resign", "--pair", w.name, "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "re-signed: 'dr' active at epoch 1 for signed readers" in done.stdout
        after = await status(cfg, w)
        assert (after["active"], after["epoch"]) == ("dr", 1)

        # a follower verifying with the pair's key follows dr again
        watcher = ActiveClusterWatcher.for_pair(dr_config(config_data, w.pair_data), w.name)
        try:
            await watcher.start()
            assert (watcher.active, watcher.epoch) == ("dr", 1)
        finally:
            await watcher.stop()

        # audited, once per cluster written
        trail = await kafkaops(cfg, "audit", "list", "--json", "--limit", "50")
        rows = [r for r in json.loads(trail.stdout) if r["action"] == "dr.resign"
                and r["target"] == w.name]
        assert sorted(r["params"]["on"] for r in rows if r["result"] == "ok") == ["dr",
                                                                                "primary"]

        # again: nothing to re-sign, says so, writes nothing
        ends = await control_ends(config_data, w)
        again = await kafkaops(cfg, "dr", "resign", "--pair", w.name, "--yes")
        assert again.returncode == 0, again.stderr
        assert "nothing to re-sign" in again.stdout and "nothing will be written" in again.stdout
        assert await control_ends(config_data, w) == ends
    finally:
        await close_world(w)


async def test_a_record_whose_signature_does_not_verify_is_never_resigned(
    config_data: dict[str, Any], clusters: EmbeddedClusters, tmp_path: Path,
) -> None:
    w = await make_world(config_data)  # signed from the start, never failed over
    try:
        signer = signing.signer_for(w.config)
        assert signer is not None
        key = active_key(w.name).encode()
        genuine = encode_record(ActiveRecord(w.name, "dr", 4, by=ME, at=time.time(),
                                             reason="failover"))
        altered = genuine.replace(b'"epoch": 4', b'"epoch": 9')
        await produce(clusters.bootstrap("primary"), CONTROL_TOPIC, [altered], key=key,
                      partition=0, headers=signing.sign_headers(signer, key, genuine))
        cfg = config_file(tmp_path, w, config_data)
        ends = await control_ends(config_data, w)
        out = await kafkaops(cfg, "dr", "resign", "--pair", w.name, "--yes", "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert data["resigned"] is False and data["plan"]["active"] is None
        assert await control_ends(config_data, w) == ends
        assert (await status(cfg, w))["epoch"] == 0
    finally:
        await close_world(w)


async def test_unsigned_copies_that_disagree_are_refused_and_nothing_is_written(
    config_data: dict[str, Any], clusters: EmbeddedClusters, tmp_path: Path,
) -> None:
    w = await failed_over_unsigned(config_data)
    try:
        # someone wrote an unsigned record on primary naming primary active at that epoch
        other = encode_record(ActiveRecord(w.name, "primary", 1, by="mallory", at=time.time(),
                                           reason="failover"))
        await produce(clusters.bootstrap("primary"), CONTROL_TOPIC, [other],
                      key=active_key(w.name).encode(), partition=0)
        cfg = config_file(tmp_path, w, config_data)
        ends = await control_ends(config_data, w)
        out = await kafkaops(cfg, "dr", "resign", "--pair", w.name, "--yes")
        assert out.returncode != 0
        assert "the unsigned copies disagree at epoch 1" in out.stderr
        assert "nothing was re-signed" in out.stderr
        assert await control_ends(config_data, w) == ends
        assert (await status(cfg, w))["epoch"] == 0
    finally:
        await close_world(w)


async def test_resign_with_signing_off_is_a_clear_error(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    w = await failed_over_unsigned(config_data)
    try:
        cfg = config_file(tmp_path, w, unsigned(config_data))
        out = await kafkaops(cfg, "dr", "resign", "--pair", w.name, "--yes")
        assert out.returncode == 2
        assert "not signed here" in out.stderr and "nothing to re-sign" in out.stderr
        assert "Traceback" not in out.stderr
    finally:
        await close_world(w)
