"""Every `--json` output goes through the CLI's one JSON writer (`kafkaops.cli.common.emit`,
fed by orjson), so no command falls back to a slow per-record path again.

Two guards, neither timed:
- by source: no module of kafkaops.cli but common.py serializes JSON itself (it may not
  import json, orjson or core's converters), and every command taking --json is listed
  below, either run for real or named as covered by the source rule alone;
- by running: the installed command runs in a subprocess against the embedded broker with
  a spy on `emit`, and what reached stdout must be exactly the bytes the writer wrote.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from kafkaops.cli.main import build_parser
from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.lag.status import Status
from kafkaops.core.records import json_bytes
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from kafkaops.core.untrusted import printable_json_bytes

from .conftest import KAFKAOPS, cli_env, produce, unique
from .drkit import close_world, make_world
from .offsets_support import make_known_topic, stopped_group
from .schema_support import (
    avro_values,
    order,
    produce_values,
    registry_url,  # noqa: F401 - a fixture
    with_registry,
)

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "cli"

#: run as a subprocess: patches the writer with a spy, runs the command, then writes what
#: the writer was given to the file named in argv[1]
SPY = """
import sys
import kafkaops.cli.common as common
from kafkaops.cli.main import run

sent = []
write = common.emit
def spy(data):
    sent.append(data)
    write(data)
common.emit = spy
code = run(sys.argv[2:])
sys.stdout.flush()
open(sys.argv[1], "wb").write(b"".join(sent))
sys.exit(code)
"""

#: commands whose --json is covered by the source rule only (running them needs a
#: failover, a replay, a Kafka Connect worker or a long-running loop); every other --json
#: command is run below
SOURCE_ONLY = {
    "connect list", "connect status", "connect config", "connect offsets", "connect plugins",
    "connect restart", "connect pause", "connect resume", "connect stop", "connect delete",
    "alerts run", "dlq replay", "dlq show", "failover execute", "failover resume",
    "failback plan", "failback execute", "failback resume", "failback status",
    # the embedded broker does not offer CreatePartitions; the output is run_change's, as
    # for the other topic changes run below
    "topic add-partitions",
    # needs a flag written before records were signed: tests/test_signed_flags.py runs it
    "flags resign",
    # needs control records written before they were signed: tests/test_dr_resign.py
    "dr resign",
}


class Point(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True)
class Row:
    name: str
    where: Point
    tags: frozenset[str]
    status: Status


@pytest.mark.parametrize(("value", "data"), [
    (Row("a", Point("t", 1), frozenset({"y", "x"}), Status.STOP),
     {"name": "a", "where": {"topic": "t", "partition": 1}, "tags": ["x", "y"],
      "status": "STOP"}),
    ({1: (Point("t", 0),)}, {"1": [{"topic": "t", "partition": 0}]}),
    ({"big": 2 ** 70}, {"big": 2 ** 70}),  # beyond orjson: the standard library writes it
    ({"odd": "a\udc80b", "path": Path("/x")}, {"odd": "a\udc80b", "path": "/x"}),
    (float("nan"), None),
])
def test_json_bytes_writes_records_and_what_orjson_refuses(value: Any, data: Any) -> None:
    for pretty in (False, True):
        out = json_bytes(value, pretty=pretty)
        assert json.loads(out) == data
        assert out.decode("utf-8")  # always valid UTF-8


def json_commands() -> set[str]:
    """Every subcommand (e.g. "flags get") that takes --json."""
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
        if any("--json" in a.option_strings for a in parser._actions):
            found.add(" ".join(path))

    walk(build_parser(), [])
    return found


def test_no_cli_module_but_common_serializes_json() -> None:
    banned_modules = {"json", "orjson"}
    banned_names = {"to_jsonable", "json_bytes", "json_lines"}
    offences = []
    for path in sorted(CLI.glob("*.py")):
        if path.name == "common.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
                offences += [f"{path.name}:{node.lineno} import {n}"
                             for n in names & banned_modules]
            elif isinstance(node, ast.ImportFrom):
                if (node.module or "").split(".")[0] in banned_modules:
                    offences.append(f"{path.name}:{node.lineno} from {node.module}")
                # core's line encoder is allowed only to feed write_json_lines (tail)
                names = {a.name for a in node.names} & banned_names
                if path.name == "tail.py":
                    names -= {"json_lines"}
                offences += [f"{path.name}:{node.lineno} imports {n}" for n in names]
    assert offences == []


def test_tail_hands_core_lines_only_to_the_writer() -> None:
    tree = ast.parse((CLI / "tail.py").read_text())
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == "json_lines"]
    assert uses, "tail.py no longer encodes --to-end batches with json_lines"
    writer_args = {id(a) for n in ast.walk(tree) if isinstance(n, ast.Call)
                   and isinstance(n.func, ast.Name) and n.func.id == "write_json_lines"
                   for a in n.args}
    assert all(id(u) in writer_args for u in uses)


def command(argv: list[str]) -> str:
    """"flags get" for ["flags", "get", ...]; "audit" for ["audit", "--json"]."""
    if argv[0] in MULTI and not argv[1].startswith("-"):
        return " ".join(argv[:2])
    return argv[0]


def test_every_json_command_is_covered() -> None:
    run = {command(c.argv) for c in CASES}
    assert json_commands() == run | SOURCE_ONLY
    assert not run & SOURCE_ONLY


class Case:
    def __init__(self, *argv: str, lines: bool = False) -> None:
        self.argv = list(argv)
        self.lines = lines

    def __repr__(self) -> str:
        return " ".join(self.argv)


#: commands with subcommands: "flags get" is the command, not "flags"
MULTI = {"alerts", "audit", "config", "connect", "dlq", "dr", "failover", "failback", "flags",
         "offsets", "schemas", "usage", "policy", "topic", "group"}

TOPIC, GROUP, PAIR = "{topic}", "{group}", "{pair}"
#: AVRO holds a record written by confluent-kafka's Avro serializer under SUBJECT
AVRO, SUBJECT, SCHEMA = "{avro}", "{subject}", "{schema}"
#: FLAG exists at versions 1 and 2; NEW does not exist; DOOMED exists (and is deleted)
FLAG, NEW, DOOMED = "{flag}", "{new}", "{doomed}"
#: NEW_TOPIC does not exist; SPARE exists, empty (and is deleted); SPARE_GROUP is stopped
#: (and is deleted); SINK is a topic to produce to
NEW_TOPIC, SPARE, SPARE_GROUP, SINK = "{new_topic}", "{spare}", "{spare_group}", "{sink}"
#: SHORT keeps its records an hour, where its policy asks for a day (policy fix sets it)
SHORT = "{short}"
CASES = [
    Case("cluster", "--json"),
    Case("topics", "--json"),
    Case("topic", "describe", TOPIC, "--json"),
    Case("topic", "create", NEW_TOPIC, "-p", "2", "--topic-config", "retention.ms=3600000",
         "--yes", "--json"),
    Case("topic", "alter-config", SPARE, "--set", "retention.ms=3600000", "--yes", "--json"),
    Case("topic", "delete", SPARE, "--yes", "--json"),
    Case("produce", SINK, "--key", "k", "--value", "v", "--yes", "--json", lines=True),
    Case("group", "describe", GROUP, "--json"),
    Case("group", "delete", SPARE_GROUP, "--dry-run", "--json"),
    Case("brokers", "--configs", "--json"),
    Case("tail", TOPIC, "--from-offset", "0", "--limit", "3", "--json", lines=True),
    Case("tail", TOPIC, "--from-offset", "0", "--to-end", "--json", lines=True),
    Case("tail", AVRO, "--from-offset", "0", "--limit", "1", "--json", lines=True),
    Case("lag", "--group", GROUP, "--json"),
    Case("offsets", "reset", GROUP, "--topic", TOPIC, "--to-earliest", "--dry-run", "--json"),
    Case("config", "show", "--json"),
    Case("audit", "list", "--json"),
    Case("audit", "verify", "--json"),
    Case("audit", "--json"),
    Case("dlq", "list", "--json"),
    Case("alerts", "list", "--json"),
    Case("alerts", "check", "--json"),
    Case("schemas", "list", "--json"),
    Case("schemas", "show", SUBJECT, "--json"),
    Case("schemas", "versions", SUBJECT, "--json"),
    Case("schemas", "compat", SUBJECT, "--file", SCHEMA, "--json"),
    Case("schemas", "config", "--json"),
    Case("dr", "status", "--pair", PAIR, "--json"),
    Case("failover", "plan", "--pair", PAIR, "--json"),
    Case("failover", "status", "--pair", PAIR, "--json"),
    Case("flags", "create", NEW, "--yes", "--json"),
    Case("flags", "list", "--json"),
    Case("flags", "get", FLAG, "--json"),
    Case("flags", "set", FLAG, "--owner", "team-json", "--yes", "--json"),
    Case("flags", "toggle", FLAG, "--yes", "--json"),
    Case("flags", "rollout", FLAG, "50", "--yes", "--json"),
    Case("flags", "history", FLAG, "--json"),
    Case("flags", "rollback", FLAG, "1", "--yes", "--json"),
    Case("flags", "eval", FLAG, "--user", "u1", "--user", "ü2", "--json"),
    Case("flags", "delete", DOOMED, "--yes", "--json"),
    Case("doctor", "--json"),
    Case("usage", "--json"),
    Case("usage", "record", "--json"),
    Case("usage", "report", "--month", "{month}", "--json"),
    Case("policy", "check", "--json"),
    Case("policy", "fix", SHORT, "--yes", "--json"),
]


@pytest.fixture(scope="module")
def world(config_data: dict, tmp_path_factory: pytest.TempPathFactory,
          registry_url: str) -> Any:  # noqa: F811
    """A config file with a DR pair, an alert rule and a schema registry; a topic with
    records (some not UTF-8, one with a bidi control), a group, a topic of Avro values."""

    async def build() -> dict[str, str]:
        w = await make_world(config_data)
        await close_world(w)  # what it wrote stays on the brokers
        bootstrap = config_data["clusters"]["primary"]["bootstrap_servers"]
        known = await make_known_topic(bootstrap)
        await produce(bootstrap, known.name, ['{"é": "ü\u202e"}'.encode(), b"\xff\xfe"],
                      partition=2)
        avro = unique("avro")
        await produce_values(bootstrap, avro, avro_values(registry_url, avro, [order(1)]))
        group = await stopped_group(bootstrap, known.name, {0: 3, 1: 4})
        spare_group = await stopped_group(bootstrap, known.name, {0: 1})
        spare, sink, short = unique("json.spare"), unique("json.sink"), unique("json.short")
        async with KafkaConnection("setup", ClusterConfig(bootstrap)) as conn:
            await TopicService(conn).create_topics([
                NewTopicSpec(spare, 1), NewTopicSpec(sink, 1),
                NewTopicSpec(short, 1, 1, {"retention.ms": "3600000"})])
        data = with_registry(w.config_data(config_data), registry_url)
        data["alerts"] = {"topic": unique("_alerts"), "group": unique("alerts"),
                          "rules": [{"name": "behind", "match": {"group": group},
                                     "when": "lag > 1", "channel": "C0JSON"}]}
        home = tmp_path_factory.mktemp("json")
        path = home / "config.yaml"
        schema = home / "order.avsc"
        schema.write_text(json.dumps({"type": "record", "name": "Order", "fields": [
            {"name": "id", "type": "string"}]}))
        data["teams"] = {"json": {"match": [known.name]}}
        data["costs"] = {"storage_gb_month": 0.1, "ingress_gb": 0.02, "currency": "USD"}
        data["policies"] = [{"name": "wide", "match": {"topic": known.name},
                             "require": {"partitions": ">= 1", "retention": ">= 1d"}},
                            {"name": "day", "match": {"topic": short},
                             "require": {"retention": ">= 1d"}}]
        path.write_text(yaml.safe_dump(data))
        flag, doomed = unique("json.flag"), unique("json.doomed")
        for argv in (["create", flag], ["set", flag, "--owner", "team-a"], ["create", doomed]):
            made = await asyncio.to_thread(
                subprocess.run, [KAFKAOPS, "--config", str(path), "flags", *argv, "--yes"],
                capture_output=True, env=cli_env(), timeout=60)
            assert made.returncode == 0, made.stderr
        return {"topic": known.name, "group": group, "flag": flag, "new": unique("json.new"),
                   "doomed": doomed, "pair": w.name, "config": str(path), "avro": avro,
                   "subject": f"{avro}-value", "schema": str(schema),
                   "month": time.strftime("%Y-%m", time.gmtime()),
                   "new_topic": unique("json.topic"), "spare": spare,
                   "spare_group": spare_group, "sink": sink, "short": short}

    return asyncio.run(build())


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_json_output_is_exactly_what_the_writer_wrote(
    case: Case, world: dict[str, str], tmp_path: Path
) -> None:
    argv = [a.format(**world) for a in case.argv]
    sent = tmp_path / "sent"
    out = subprocess.run(
        [sys.executable, "-c", SPY, str(sent), "--config", world["config"], *argv],
        capture_output=True, env=cli_env(), timeout=120, stdin=subprocess.DEVNULL,
    )
    assert out.returncode in (0, 1), out.stderr.decode()
    assert out.stdout, f"no output: {out.stderr.decode()}"
    # the writer escapes what the encoder leaves raw (here: a record's bidi control)
    assert out.stdout == printable_json_bytes(sent.read_bytes())
    assert "\u202e" not in out.stdout.decode()
    if case.lines:
        [json.loads(line) for line in out.stdout.decode().splitlines()]
    else:
        json.loads(out.stdout)
