"""Running the installed `kafkaops` for the admin tests, and reading back what users read:
`topics --json`, `tail --json`, `audit list --json` (the CLI's own read commands, so the
tests check what a person or a script would see)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

from .conftest import KAFKAOPS, cli_env

__all__ = ["KAFKAOPS", "audit_rows", "kafkaops", "outcome", "run", "tail_json",
           "topics_json"]


def run(config: Path, *args: str, answer: bytes | None = None, stdin: bytes | None = None,
        timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run kafkaops; with `answer`, stdin is a terminal that types it; with `stdin`, those
    bytes are piped in; else stdin is /dev/null (a script)."""
    cmd = [KAFKAOPS, "--config", str(config), *args]
    if answer is not None:
        master, slave = pty.openpty()
        try:
            os.write(master, answer)
            return subprocess.run(cmd, capture_output=True, text=True, env=cli_env(),
                                  timeout=timeout, stdin=slave)
        finally:
            os.close(slave)
            os.close(master)
    if stdin is not None:
        out = subprocess.run(cmd, capture_output=True, env=cli_env(), timeout=timeout,
                             input=stdin)
        return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(),
                                           out.stderr.decode())
    return subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL)


async def kafkaops(config: Path, *args: str, answer: bytes | None = None,
                   stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run, config, *args, answer=answer, stdin=stdin)


async def topics_json(config: Path) -> dict[str, dict[str, Any]]:
    """`kafkaops topics --internal --json`, by topic name."""
    out = await kafkaops(config, "topics", "--internal", "--json")
    assert out.returncode == 0, out.stderr
    return {t["name"]: t for t in json.loads(out.stdout)}


async def tail_json(config: Path, topic: str) -> list[dict[str, Any]]:
    """Every record of `topic` as `tail --json` prints it."""
    out = await kafkaops(config, "tail", topic, "--from-beginning", "--to-end", "--json")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


async def audit_rows(config: Path, target: str) -> list[dict[str, Any]]:
    """`audit list --json` rows about `target` (a topic or group), oldest first."""
    out = await kafkaops(config, "audit", "list", "--json")
    assert out.returncode == 0, out.stderr
    return [r for r in json.loads(out.stdout) if r["target"] == target]


def outcome(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(action, result) of each change in the rows; an intent written before a change is
    folded into its outcome."""
    return [(r["action"], r["result"]) for r in rows if r["result"] != "intent"]
