"""`kafkaops offsets reset` through the installed command against the real broker: JSON field
by field, the text plan, dry runs, confirmation on a terminal and without one, refusals and
bad input, each checking what the group's committed offsets are afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest

from kafkaops.core.offsets.model import iso_utc

from .conftest import KAFKAOPS, cli_env
from .offsets_support import (
    KnownTopic,
    joined_consumer,
    make_known_topic,
    read_committed,
    stopped_group,
)

START = {0: 12, 1: 25}
UNCHANGED = {0: 12, 1: 25, 2: None}


def run(config: Path, *args: str, answer: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run kafkaops; with `answer`, stdin is a terminal that types it."""
    cmd = [KAFKAOPS, "--config", str(config), *args]
    if answer is None:
        return subprocess.run(
            cmd, capture_output=True, text=True, env=cli_env(), timeout=60,
            stdin=subprocess.DEVNULL,
        )
    master, slave = pty.openpty()
    try:
        os.write(master, answer)
        return subprocess.run(
            cmd, capture_output=True, text=True, env=cli_env(), timeout=60, stdin=slave
        )
    finally:
        os.close(slave)
        os.close(master)


async def kafkaops(config: Path, *args: str, answer: bytes | None = None
                   ) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run, config, *args, answer=answer)


@pytest.fixture(scope="module")
async def known(bootstrap: str) -> KnownTopic:
    return await make_known_topic(bootstrap)


async def test_json_reset_to_time_field_by_field(
    config_file: Path, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    when = iso_utc(known.ts(15))
    out = await kafkaops(config_file, "offsets", "reset", group, "--topic", known.name,
                         "--to-time", when, "--yes", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["cluster"] == "primary"
    assert doc["group"] == group
    assert doc["topic"] == known.name
    assert doc["mode"] == "time"
    assert doc["value"] == known.ts(15)
    assert doc["target"] == f"to the first record at or after {when}"
    assert doc["group_state"] == "Empty"
    assert doc["read_only"] is False
    assert doc["dry_run"] is False
    assert doc["applied"] is True
    assert doc["verified"] is True
    assert doc["total_skip"] == 3
    assert doc["total_replay"] == 10
    assert doc["summary"] == (
        f"group {group!r} on topic {known.name!r} to the first record at or after {when}: "
        "3 partitions change, replays 10 records, skips 3 records"
    )
    assert doc["partitions"] == [
        {"partition": 0, "current": 12, "new": 15, "requested": 15, "log_start": 0,
         "log_end": 30, "skip": 3, "replay": 0, "clamped": None, "changes": True, "note": "",
         "committed_after": 15},
        {"partition": 1, "current": 25, "new": 15, "requested": 15, "log_start": 0,
         "log_end": 30, "skip": 0, "replay": 10, "clamped": None, "changes": True, "note": "",
         "committed_after": 15},
        {"partition": 2, "current": None, "new": 0, "requested": 0, "log_start": 0,
         "log_end": 0, "skip": None, "replay": None, "clamped": None, "changes": True,
         "note": "no committed offset: the group will start here", "committed_after": 0},
    ]
    assert await read_committed(bootstrap, group, known.name) == {0: 15, 1: 15, 2: 0}


async def test_text_plan_clamped_past_the_log_end(
    config_file: Path, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    out = await kafkaops(config_file, "offsets", "reset", group, "-t", known.name,
                         "-p", "0", "--partition", "1", "--to-offset", "100", "--yes")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == (
        f"Offset reset plan: group {group} on topic {known.name}, cluster primary "
        "(group state Empty)"
    )
    assert lines[1] == "to offset 100"
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines
            if line.lstrip().startswith(("0 ", "1 "))]
    assert rows[:2] == [
        ["0", "12", "30", "0", "30", "skip 18", "clamped to log end 30 (asked 100)"],
        ["1", "25", "30", "0", "30", "skip 5", "clamped to log end 30 (asked 100)"],
    ]
    assert "Total: 2 of 2 partitions change; replays 0 records, skips 23 records." in lines
    assert "Committed offsets read back match the plan (2 partitions)." in out.stdout
    assert await read_committed(bootstrap, group, known.name) == {0: 30, 1: 30, 2: None}


async def test_dry_run_changes_nothing(config_file: Path, bootstrap: str, known: KnownTopic
                                       ) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    text = await kafkaops(config_file, "offsets", "reset", group, "--topic", known.name,
                          "--shift-by", "-5", "--dry-run")
    assert text.returncode == 0, text.stderr
    assert "shifted by -5" in text.stdout
    assert "no committed offset to shift from: left unchanged" in text.stdout
    assert text.stdout.rstrip().endswith("Dry run: nothing was changed.")
    doc = await kafkaops(config_file, "offsets", "reset", group, "--topic", known.name,
                         "--to-latest", "--dry-run", "--json")
    data = json.loads(doc.stdout)
    assert (data["dry_run"], data["applied"], data["verified"]) == (True, False, None)
    assert [(p["current"], p["new"], p["skip"]) for p in data["partitions"]] == [
        (12, 30, 18), (25, 30, 5), (None, 0, None)
    ]
    assert all("committed_after" not in p for p in data["partitions"])
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


async def test_no_terminal_and_no_yes_refuses(config_file: Path, bootstrap: str,
                                              known: KnownTopic) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    out = await kafkaops(config_file, "offsets", "reset", group, "--topic", known.name,
                         "--to-earliest")
    assert out.returncode == 2
    assert "Offset reset plan" in out.stdout  # the plan is shown, then refused
    assert out.stderr.rstrip().endswith(
        "not a terminal and --yes not given: nothing was changed"
    )
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


async def test_terminal_confirmation_no_then_yes(config_file: Path, bootstrap: str,
                                                 known: KnownTopic) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    args = ("offsets", "reset", group, "--topic", known.name, "--to-earliest")
    no = await kafkaops(config_file, *args, answer=b"n\n")
    assert no.returncode == 2
    assert "About to reset group" in no.stderr and "cancelled: nothing was changed" in no.stderr
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED
    yes = await kafkaops(config_file, *args, answer=b"y\n")
    assert yes.returncode == 0, yes.stderr
    assert "Committed offsets read back match the plan (3 partitions)." in yes.stdout
    assert await read_committed(bootstrap, group, known.name) == {0: 0, 1: 0, 2: 0}


async def test_active_group_is_refused(config_file: Path, bootstrap: str, known: KnownTopic
                                       ) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    consumer = await joined_consumer(bootstrap, group, known.name, "orders-svc")
    try:
        out = await kafkaops(config_file, "offsets", "reset", group, "--topic", known.name,
                             "--to-latest", "--yes")
        member = consumer._coordinator.member_id
    finally:
        await consumer.stop()
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.startswith(f"kafkaops: group {group!r} has 1 active member: {member}")
    assert "Nothing was changed." in out.stderr
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


BAD_INPUT = [
    # (arguments after GROUP, exit code, what stderr says)
    (["--topic", "T"], 2,
     "one of the arguments --to-earliest --to-latest --to-time --to-offset --shift-by is "
     "required"),
    (["--topic", "T", "--to-earliest", "--to-offset", "3"], 2,
     "argument --to-offset: not allowed with argument --to-earliest"),
    (["--topic", "no-such-topic", "--to-earliest"], 1, "topic 'no-such-topic' not found"),
    (["--topic", "T", "--to-offset", "-1"], 2, "offset -1 is negative"),
    (["--topic", "T", "--to-time", "yesterday"], 2, "cannot read time 'yesterday'"),
    (["--topic", "T", "--shift-by", "0"], 2, "--shift-by 0 would change nothing"),
    (["--topic", "T", "--partition", "9", "--to-earliest"], 2, "has no partition 9"),
    (["--topic", "T", "--partition", "x", "--to-earliest"], 2,
     "partition must be a number or a list such as 0,1,2"),
    (["--to-earliest"], 2, "the following arguments are required: --topic"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT,
                         ids=["no-mode", "two-modes", "unknown-topic", "negative-offset",
                              "bad-time", "zero-shift", "bad-partition", "partition-text",
                              "no-topic"])
async def test_bad_input_is_refused_and_changes_nothing(
    config_file: Path, bootstrap: str, known: KnownTopic, args: list[str], code: int,
    message: str,
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    args = [known.name if a == "T" else a for a in args]
    out = await kafkaops(config_file, "offsets", "reset", group, *args, "--yes")
    assert out.returncode == code, out.stderr
    assert message in out.stderr
    assert out.stdout == ""
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


async def test_unknown_group_is_refused_and_not_created(
    config_file: Path, bootstrap: str, known: KnownTopic
) -> None:
    out = await kafkaops(config_file, "offsets", "reset", "ghost-group", "--topic", known.name,
                         "--to-earliest", "--yes")
    assert out.returncode == 1
    assert out.stderr.startswith(
        "kafkaops: consumer group 'ghost-group' not found on cluster 'primary'"
    )
    assert await read_committed(bootstrap, "ghost-group", known.name) == {
        0: None, 1: None, 2: None
    }
