"""Bad input exits 2 with one line on stderr, never a traceback, and changes nothing: every
config value and command line that a fault trial found crashing, run as the installed
`kafkaops` command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env, unique

DEEP_LIST = "[" * 10_000 + "]" * 10_000


def run(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    head = [KAFKAOPS] + (["--config", str(config)] if config is not None else [])
    return subprocess.run([*head, *args], capture_output=True, text=True, env=cli_env(),
                          timeout=60, stdin=subprocess.DEVNULL)


def assert_usage_error(out: subprocess.CompletedProcess[str], says: str) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert says in lines[0], lines[0]


# ---------------------------------------------------------------- config values


def cluster_with(value: str, key: str = "request_timeout") -> str:
    servers = "" if key == "bootstrap_servers" else "    bootstrap_servers: 127.0.0.1:9092\n"
    return f"clusters:\n  p:\n{servers}    {key}: {value}\n"


CONFIGS = {
    "timeout-list": (cluster_with("[10s]"), "clusters.p.request_timeout: expected a duration"),
    "timeout-mapping": (cluster_with("{a: 1}"), "clusters.p.request_timeout: expected a dur"),
    "timeout-nan": (cluster_with(".nan"), "clusters.p.request_timeout: expected a duration"),
    "timeout-inf": (cluster_with(".inf"), "clusters.p.request_timeout: expected a duration"),
    "timeout-5000-digits": (cluster_with("9" * 5000), "not valid YAML: Exceeds the limit"),
    "timeout-5000-digit-string": (cluster_with("'" + "9" * 5000 + "s'"),
                                  "clusters.p.request_timeout: expected a duration"),
    "timeout-zero": (cluster_with("0s"), "clusters.p.request_timeout: must be more than 0"),
    "timeout-negative": (cluster_with("-5"), "clusters.p.request_timeout: expected a duration"),
    "deep-lists": (cluster_with(DEEP_LIST), "nested deeper than"),
    "deep-lists-shallower": (cluster_with("[" * 200 + "]" * 200), "nested deeper than"),
    "port-too-big": (cluster_with("127.0.0.1:99999", "bootstrap_servers"),
                     "clusters.p.bootstrap_servers: port 99999 of '127.0.0.1:99999' is not "
                     "between 1 and 65535"),
    "port-not-a-number": (cluster_with(":abc", "bootstrap_servers"),
                          "clusters.p.bootstrap_servers: expected HOST:PORT"),
    "no-port": (cluster_with("kafka-1", "bootstrap_servers"),
                "clusters.p.bootstrap_servers: expected HOST:PORT"),
    "empty-servers": (cluster_with("''", "bootstrap_servers"),
                      "clusters.p.bootstrap_servers: expected HOST:PORT"),
    "alerts-interval-nan": ("clusters: {p: {bootstrap_servers: 'h:1'}}\n"
                            "alerts: {interval: .nan}\n", "alerts.interval: expected a duration"),
    "alerts-interval-zero": ("clusters: {p: {bootstrap_servers: 'h:1'}}\n"
                             "alerts: {interval: 0s}\n", "alerts.interval: must be more than 0"),
    "rule-for-nan": ("clusters: {p: {bootstrap_servers: 'h:1'}}\n"
                     "alerts:\n  rules:\n  - {name: r, when: lag > 1, channel: C0123ABCD, "
                     "for: .nan}\n",
                     "alerts.rules[0].for: expected a duration"),
    "rule-for-inf": ("clusters: {p: {bootstrap_servers: 'h:1'}}\n"
                     "alerts:\n  rules:\n  - {name: r, when: lag > 1, channel: C0123ABCD, "
                     "for: .inf}\n",
                     "alerts.rules[0].for: expected a duration"),
    "rule-when-deep": ("clusters: {p: {bootstrap_servers: 'h:1'}}\n"
                       "alerts:\n  rules:\n  - {name: r, channel: C0123ABCD, when: '"
                       + "(" * 150 + "lag > 1" + ")" * 150 + "'}\n",
                       "nests `(` and `not` more than 32 levels deep"),
    "duplicate-key": ("clusters:\n  p:\n    bootstrap_servers: 127.0.0.1:9092\n"
                      "    read_only: true\n    read_only: false\n",
                      "duplicate key 'read_only' (line 5, first at line 4)"),
    "duplicate-cluster": ("clusters:\n  p: {bootstrap_servers: 'h:1'}\n"
                          "  p: {bootstrap_servers: 'h:2'}\n",
                          "duplicate key 'p' (line 3, first at line 2)"),
}


@pytest.mark.parametrize("command", [["config", "check"], ["config", "show"], ["topics"]],
                         ids=["check", "show", "topics"])
@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config_value_exits_2_with_one_line(tmp_path, case, command):
    text, says = CONFIGS[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    out = run(*command, config=path)
    assert_usage_error(out, says)
    assert out.stderr.startswith(f"kafkaops: {path}: "), out.stderr
    assert out.stdout == ""


# ---------------------------------------------------------------- command lines


@pytest.fixture
async def json_flag(services: Services) -> str:
    key = unique("deep.flag").replace("-", ".")
    svc = await services.flags()
    await svc.create(key, type="json", value={"a": 1}, actor="test@host", face="cli")
    return key


COMMANDS = {
    "to-offset-empty": (["offsets", "reset", "G", "--topic", "T", "--to-offset", "", "--yes"],
                        "reset mode offset needs a value"),
    "to-time-empty": (["offsets", "reset", "G", "--topic", "T", "--to-time", "", "--yes"],
                      "reset mode time needs a value"),
    "to-time-year-3mil": (["offsets", "reset", "G", "--topic", "T", "--to-time",
                           "99999999999999999", "--yes"], "is out of range"),
    "to-time-2^64": (["offsets", "reset", "G", "--topic", "T", "--to-time",
                      "18446744073709551616", "--yes"], "is out of range"),
    "to-offset-2^64": (["offsets", "reset", "G", "--topic", "T", "--to-offset",
                        "18446744073709551616", "--yes"], "is out of range"),
    "shift-5000-digits": (["offsets", "reset", "G", "--topic", "T", "--shift-by", "9" * 5000,
                           "--yes"], "cannot read"),
    "tail-from-time-2^64": (["tail", "T", "--from-time", "18446744073709551616"],
                            "is out of range"),
    "filter-10000-parens": (["tail", "T", "--filter", "(" * 10_000 + "a" + ")" * 10_000],
                            "bad filter: the filter is 20,001 characters long"),
    "filter-deep-parens": (["tail", "T", "--filter", "(" * 4000 + "a" + ")" * 4000],
                           "bad filter: the filter nests `(` and `not` more than 32 levels"),
    "filter-not-10000": (["dlq", "show", "T.dlq", "--filter", "not " * 10_000 + "a"],
                         "bad filter: the filter is 40,001 characters long"),
    "filter-bang-9000": (["dlq", "replay", "T.dlq", "--dry-run", "--filter", "!" * 9000 + "a"],
                         "bad filter: the filter nests `(` and `not` more than 32 levels"),
    "filter-5000-digits": (["tail", "T", "--filter", "code == " + "9" * 5000],
                           "bad filter: number of 5,000 characters is too long"),
}


@pytest.mark.parametrize("case", sorted(COMMANDS))
def test_bad_command_line_exits_2_with_one_line(config_file, case):
    argv, says = COMMANDS[case]
    out = run(*argv, config=config_file)
    assert_usage_error(out, says)
    assert out.stdout == ""


@pytest.mark.parametrize("value, says", [
    ("[" * 2000 + "]" * 2000, "VALUE: JSON nested too deeply (more than 64 levels)"),
    ("{" + '"a":' * 0 + "}" + "x", "VALUE: not valid JSON"),
    ("9" * 5000, "VALUE: not valid JSON"),
])
async def test_flags_set_with_hostile_json_exits_2_and_changes_nothing(
        config_file, services, json_flag, value, says):
    import asyncio

    before = await (await services.flags()).get(json_flag)
    out = await asyncio.to_thread(run, "flags", "set", json_flag, value, "--yes",
                                  config=config_file)
    assert_usage_error(out, says)
    svc = await services.flags()
    assert await svc.get(json_flag) == before

