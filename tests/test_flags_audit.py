"""Every flag write that is turned away is audited: racing `--if-version` writers run as
separate processes, one wins, and each of the others has its `refused` row, whether it was
turned away by its own version check or by losing the compare-and-set on the log."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import yaml

from kafkaops.core.config import parse_config
from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env, unique

WRITERS = 8


async def cli(cfg: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS, "--config", str(cfg), *args, env=cli_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL)
    _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_racing_cas_writers_each_have_an_audit_row(
    config_data: dict[str, Any], tmp_path: Path
) -> None:
    data = copy.deepcopy(config_data)
    data["audit"]["topic"] = unique("audit")  # this test's own trail
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data))
    key = unique("race")
    assert (await cli(cfg, "flags", "create", key, "--yes"))[0] == 0
    results = await asyncio.gather(*(
        cli(cfg, "flags", "rollout", key, str(10 + i), "--if-version", "1", "--yes",
            "--reason", f"writer {i}")
        for i in range(WRITERS)))
    codes = sorted(code for code, _ in results)
    assert codes == [0] + [3] * (WRITERS - 1), results
    async with Services(parse_config(data)) as s:
        trail = await s.audit()
        rows = [(r.action, r.result) for r in await trail.records() if r.target == key]
        report = await trail.verify()
    assert sorted(rows) == sorted(
        [("flag.create", "ok"), ("flag.rollout", "ok")]
        + [("flag.rollout", "refused")] * (WRITERS - 1))
    assert report.ok, report.problems  # every intent has its outcome
