"""What `kafkaops console` loads before its first screen is up: only what that screen needs.

Console start is measured by bench/console_start.py (docs/benchmarks.md); this is the guard
that needs no clock. A fresh interpreter imports what `kafkaops console` imports, opens the
console on the embedded broker headless (Pilot), waits until the topic list shows a known
topic, and prints the modules it loaded. Nothing of the bot, the alerts engine, DR and
failover, flags or the audit trail may be among them, nor any other screen's module.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import cli_env

SCRIPT = """
import asyncio, gc, json, sys
gc.disable()  # as the `kafkaops` executable starts (kafkaops/cli/__init__.py)
from kafkaops.cli.main import build_parser
from kafkaops.cli.common import Context

argv = ["-b", sys.argv[1], "console"]
args = build_parser(argv).parse_args(argv)

async def main():
    from kafkaops.console.app import KafkaOpsApp
    from textual.widgets import DataTable

    async with Context(args).services() as services:
        app = KafkaOpsApp(services, start=args.screen)
        async with app.run_test(size=(200, 50)) as pilot:
            for _ in range(600):
                await pilot.pause(0.05)
                tables = app.screen.query(DataTable)
                if tables and any(sys.argv[2] in str(k.value) for t in tables
                                  for k in t.rows):
                    break
            else:
                raise SystemExit("the topic never appeared")
            screen = type(app.screen).__name__
            modules = sorted(sys.modules)
            for _ in range(100):  # the console turns the collector on again soon after start
                if gc.isenabled():
                    break
                await pilot.pause(0.05)
            collector = gc.isenabled()
    print(json.dumps({"screen": screen, "modules": modules, "gc": collector}))

asyncio.run(main())
"""

#: what the first screen must not pull in: other faces, engines and writers, other screens
FORBIDDEN = (
    "kafkaops.bot", "slack_bolt", "slack_sdk", "aiohttp",
    "kafkaops.core.alerts", "kafkaops.core.expr", "kafkaops.core.dr",
    "kafkaops.core.kafka.topicio", "kafkaops.core.kafka.groups", "kafkaops.core.flags",
    "kafkaops.core.audit",
    "kafkaops.core.confirmations", "kafkaops.core.offsets", "kafkaops.core.lag",
    "kafkaops.core.dlq", "kafkaops.demo",
    "kafkaops.console.lag", "kafkaops.console.flags", "kafkaops.console.dr",
    "kafkaops.console.dlq", "kafkaops.console.audit", "kafkaops.console.alerts",
    "kafkaops.console.offsets", "kafkaops.console.messages", "kafkaops.console.help",
    "textual.widgets._markdown", "importlib.metadata",
    # Textual's Footer (a widget per key, each styled and restyled): the footer is one
    # widget drawing the keys as a line (console/base.py KeyFooter)
    "textual.widgets._footer",
)


@pytest.fixture(scope="module")
def loaded(bootstrap: str) -> dict:
    import asyncio

    from .conftest import unique

    topic = unique("start")

    async def create() -> None:
        from kafkaops.core.config import ClusterConfig
        from kafkaops.core.kafka.connection import KafkaConnection
        from kafkaops.core.topics.service import NewTopicSpec, TopicService

        async with KafkaConnection("t", ClusterConfig(bootstrap)) as conn:
            await TopicService(conn).create_topics([NewTopicSpec(topic, 1)])

    asyncio.run(create())
    out = subprocess.run([sys.executable, "-c", SCRIPT, bootstrap, topic], capture_output=True,
                         text=True, env=cli_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_first_screen_is_the_topic_list(loaded: dict) -> None:
    assert loaded["screen"] == "TopicsScreen"


def test_the_console_turns_the_garbage_collector_on_again(
    loaded: dict,
) -> None:
    """`kafkaops` starts with Python's garbage collector off (start time); a console that
    left it off would grow on every cycle it makes for as long as it runs."""
    assert loaded["gc"] is True


def test_other_commands_turn_the_garbage_collector_on(capsys: pytest.CaptureFixture[str]) -> None:
    """The executable's entry turns the collector off; every command but the console turns
    it on again once its arguments are parsed (the bot, tail and the rest run for long)."""
    import gc

    from kafkaops.cli.main import run

    gc.disable()
    try:
        assert run(["completion", "bash"]) == 0
        assert gc.isenabled()
    finally:
        gc.enable()
    assert "kafkaops" in capsys.readouterr().out


def test_first_screen_loads_nothing_it_does_not_show(loaded: dict) -> None:
    modules = set(loaded["modules"])
    offending = sorted(m for m in modules
                       if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert offending == []
    # and it did load what it shows (the guard looks at a real start, not an empty one)
    assert {"kafkaops.console.topics", "kafkaops.core.topics.service", "aiokafka"} <= modules


def test_the_command_line_start_imports_nothing_of_the_demo() -> None:
    """Every `kafkaops` command starts through cli.main.main(); the demo's modules (the
    embedded brokers, with ctypes, tempfile, ...) are not among what that start loads for
    a command other than `kafkaops demo` (`tail --help`: the start, then argparse exits)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "kafkaops.cli.main",
                          "tail", "--help"], capture_output=True, text=True, env=cli_env(),
                         timeout=60)
    assert out.returncode == 0, out.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()
                if line.startswith("import time:")]
    assert "kafkaops.cli.main" in imported or "kafkaops.cli.common" in imported
    assert [m for m in imported if m == "kafkaops.demo" or m.startswith("kafkaops.demo.")] == []
