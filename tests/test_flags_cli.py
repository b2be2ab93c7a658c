"""`kafkaops flags ...` through the installed command against the embedded broker: JSON
output, --if-version conflicts (exit 3), confirmation, read-only clusters, bad input."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .conftest import KAFKAOPS, cli_env, unique


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KAFKAOPS, "--config", str(config), "flags", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def flags(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run, config, *args)


async def ok_json(config: Path, *args: str) -> Any:
    out = await flags(config, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


async def test_flag_lifecycle_through_the_cli(config_file: Path) -> None:
    key = unique("cli")
    made = await ok_json(config_file, "create", key, "--owner", "payments", "--tag", "critical",
                         "--description", "new checkout", "--reason", "JIRA-7", "--yes")
    assert (made["version"], made["enabled"], made["rollout"], made["tags"]) == (
        1, False, 100.0, ["critical"])
    on = await ok_json(config_file, "toggle", key, "--yes")
    assert (on["version"], on["enabled"]) == (2, True)
    rolled = await ok_json(config_file, "rollout", key, "30", "--if-version", "2", "--yes")
    assert (rolled["version"], rolled["rollout"]) == (3, 30.0)
    got = await ok_json(config_file, "get", key)
    assert got == rolled and got["owner"] == "payments" and got["reason"] == ""

    rows = await ok_json(config_file, "eval", key, "--user", "u1", "--user", "u2", "--user",
                         "u3", "--user", "u4")
    assert [r["user"] for r in rows] == ["u1", "u2", "u3", "u4"]
    assert {r["reason"] for r in rows} <= {"rollout", "outside_rollout"}
    assert all(r["value"] is (r["reason"] == "rollout") for r in rows)

    back = await ok_json(config_file, "rollback", key, "2", "--yes")
    assert (back["version"], back["rollout"], back["enabled"]) == (4, 100.0, True)
    assert back["reason"] == "rollback to version 2"
    history = await ok_json(config_file, "history", key)
    assert [(h["op"], h["version"], h["outcome"]) for h in history] == [
        ("create", 1, "applied"), ("toggle", 2, "applied"), ("rollout", 3, "applied"),
        ("rollback", 4, "applied"),
    ]
    assert history[0]["reason"] == "JIRA-7" and history[0]["by"]

    listed = await ok_json(config_file, "list", "--tag", "critical")
    assert key in [f["key"] for f in listed]
    gone = await ok_json(config_file, "delete", key, "--if-version", "4", "--yes")
    assert gone == {"key": key, "deleted": True}
    out = await flags(config_file, "get", key)
    assert out.returncode == 1 and f"no flag named '{key}'" in out.stderr


async def test_typed_values_variants_and_rules_through_the_cli(config_file: Path) -> None:
    key = unique("cfg")
    await ok_json(config_file, "create", key, "--type", "number", "--default", "1500", "--yes")
    s = await ok_json(config_file, "set", key, "2000", "--rule", "region in [eu-west-1]",
                      "--yes")
    assert (s["value"], s["default"], s["rules"]) == (
        2000, 1500, [{"attribute": "region", "op": "in", "values": ["eu-west-1"]}])
    await ok_json(config_file, "toggle", key, "--on", "--yes")
    rows = await ok_json(config_file, "eval", key, "--user", "a", "--attr", "region=eu-west-1")
    assert (rows[0]["value"], rows[0]["reason"]) == (2000, "targeting_match")
    rows = await ok_json(config_file, "eval", key, "--user", "a", "--attr", "region=us-east-1")
    assert (rows[0]["value"], rows[0]["reason"]) == (1500, "targeting_miss")
    s = await ok_json(config_file, "set", key, "--variant", "low:1=1000", "--variant",
                      "high:3=3000", "--clear-rules", "--yes")
    assert [v["name"] for v in s["variants"]] == ["low", "high"] and s["rules"] == []
    out = await flags(config_file, "list")
    assert out.returncode == 0 and key in out.stdout and "2000" in out.stdout


async def test_stale_if_version_exits_3_names_the_writer_and_writes_nothing(
    config_file: Path,
) -> None:
    key = unique("stale")
    await ok_json(config_file, "create", key, "--yes")
    await ok_json(config_file, "toggle", key, "--yes", "--reason", "incident 42")
    out = await flags(config_file, "rollout", key, "50", "--if-version", "1", "--yes")
    assert out.returncode == 3, out.stderr
    assert "is at version 2" in out.stderr and "not 1" in out.stderr
    assert "incident 42" in out.stderr and "nothing was written" in out.stderr
    history = await ok_json(config_file, "history", key)
    assert len(history) == 2 and (await ok_json(config_file, "get", key))["rollout"] == 100


async def test_a_change_that_changes_nothing_is_said_without_asking(config_file: Path) -> None:
    key = unique("same")
    await ok_json(config_file, "create", key, "--yes")
    await ok_json(config_file, "rollout", key, "30", "--yes")
    # no --yes and no terminal: a change would be refused; this one is said and exits 0
    for args in (("rollout", key, "30"), ("toggle", key, "--off"), ("set", key, "--owner", "")):
        out = await flags(config_file, *args)
        assert out.returncode == 0, (args, out.stderr)
        said = out.stdout + out.stderr
        assert "nothing to change" in said and "nothing was written" in said, (args, said)
        assert "--yes" not in said, (args, said)  # not asked
    history = await ok_json(config_file, "history", key)
    assert sorted(h["version"] for h in history) == [1, 2]
    audit = await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(config_file), "audit", "--json"],
        capture_output=True, text=True, env=cli_env(), timeout=60, stdin=subprocess.DEVNULL)
    assert audit.returncode == 0, audit.stderr
    mine = [r for r in json.loads(audit.stdout) if r.get("target") == key]
    assert sorted(r["action"] for r in mine) == ["flag.create", "flag.rollout"], mine


async def test_two_cli_writers_with_the_same_version_one_wins(config_file: Path) -> None:
    key = unique("race")
    await ok_json(config_file, "create", key, "--yes")
    a, b = await asyncio.gather(
        flags(config_file, "rollout", key, "30", "--if-version", "1", "--yes", "--json"),
        flags(config_file, "rollout", key, "60", "--if-version", "1", "--yes", "--json"),
    )
    assert sorted([a.returncode, b.returncode]) == [0, 3], (a.stderr, b.stderr)
    winner, loser = (a, b) if a.returncode == 0 else (b, a)
    assert "version 2" in loser.stderr
    assert await ok_json(config_file, "get", key) == json.loads(winner.stdout)


async def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    config_file: Path,
) -> None:
    key = unique("bad")
    await ok_json(config_file, "create", key, "--type", "number", "--default", "5", "--yes")
    cases = [
        (("rollout", key, "150", "--yes"), 2, "rollout must be a percentage from 0 to 100"),
        (("set", key, "fast", "--yes"), 2, "a number flag takes a number, got 'fast'"),
        (("set", key, "--rule", "region ~ eu", "--yes"), 2, "cannot read targeting rule"),
        (("toggle", unique("missing"), "--yes"), 1, "no flag named"),
        (("rollback", key, "7", "--yes"), 1, "version 7 of flag"),
        (("toggle", key), 2, "not a terminal and --yes not given: nothing was changed"),
        (("create", key, "--yes"), 3, "already exists"),
        (("create", "bad key", "--yes"), 2, "invalid flag key"),
        (("eval", key, "--user", "u", "--attr", "novalue"), 2, "--attr takes KEY=VALUE"),
    ]
    outs = await asyncio.gather(*(flags(config_file, *args) for args, _, _ in cases))
    for (args, code, message), out in zip(cases, outs, strict=True):
        assert out.returncode == code, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    history = await ok_json(config_file, "history", key)
    assert [h["op"] for h in history] == ["create"]


async def test_read_only_cluster_refuses_writes_but_reads(
    tmp_path: Path, config_data: dict
) -> None:
    data = {**config_data, "clusters": {
        "primary": {**config_data["clusters"]["primary"], "read_only": True}}}
    path = tmp_path / "ro.yaml"
    path.write_text(yaml.safe_dump(data))
    key = unique("ro")
    out = await flags(path, "create", key, "--yes")
    assert out.returncode == 1 and "read-only" in out.stderr
    out = await flags(path, "list", "--json")
    assert out.returncode == 0 and key not in out.stdout
