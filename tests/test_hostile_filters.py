"""Evil filter expressions: a regex that backtracks exponentially in Python's `re` (`(a+)+$`
over forty `a` and a `!`) answers with a result in the CLI (`tail`, `dlq show`, `dlq replay
--dry-run`), the console (keys keep working) and Slack (a second request is acked while the
first runs); a filter that cannot be run in bounded time or space is a clear refusal.

The tests set no timing: on a regex engine that backtracks they hang until pytest-timeout
(or the subprocess guard) stops them, which is the failure."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

import kafkaops.bot.commands.dlq as bot_dlq
from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.messages import MessagesScreen
from kafkaops.console.topics import TopicsScreen
from kafkaops.core.expr.filter import compile_filter
from kafkaops.core.expr.model import FilterError
from kafkaops.core.messages.model import StartAt
from kafkaops.core.topics.service import NewTopicSpec
from tests.bot_harness import RunningBot, running_bot

from .conftest import KAFKAOPS, cli_env, produce, unique
from .test_messages_console import SIZE, offsets, screen_text, status, wait_until

EVIL = 'value ~ "(a+)+$"'
EVIL_VALUE = b"a" * 40 + b"!"
# hang guard for a subprocess: far beyond what an answer takes, short of pytest's timeout
HANG = 45

pytestmark = pytest.mark.timeout(90)


async def evil_topic(bootstrap: str, services: Any, name: str) -> str:
    """offset 0: the value that makes `(a+)+$` backtrack; offset 1: a value it matches."""
    await (await services.topics()).create_topics([NewTopicSpec(name, 1)])
    await produce(bootstrap, name, [EVIL_VALUE, b"aaaa"], key=b"k", partition=0)
    return name


def kafkaops(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(config_file), *args], capture_output=True,
                          text=True, env=cli_env(), timeout=HANG, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- the CLI


@pytest.mark.parametrize("args", [
    ["tail", "{t}", "--from-beginning", "--filter", EVIL, "-n", "1", "--json"],
    ["tail", "{t}", "--from-beginning", "--to-end", "--filter", EVIL, "--json"],
    ["dlq", "show", "{t}", "--filter", EVIL, "--json"],
    ["dlq", "replay", "{t}", "--filter", EVIL, "--to", "{t}", "--dry-run", "--json"],
], ids=["tail", "tail-to-end", "dlq-show", "dlq-replay-dry-run"])
async def test_evil_regex_in_the_cli_gives_the_matching_record(config_file, bootstrap, services,
                                                               args):
    topic = await evil_topic(bootstrap, services, unique("evil") + ".dlq")
    out = await asyncio.to_thread(kafkaops, config_file, *(a.format(t=topic) for a in args))
    assert out.returncode == 0, out.stderr
    if args[0] == "tail":
        lines = [json.loads(ln) for ln in out.stdout.splitlines()]
        assert [(r["offset"], r["value"]) for r in lines] == [(1, "aaaa")]
    elif args[1] == "show":
        assert [r["offset"] for r in json.loads(out.stdout)] == [1]
    else:
        plan = json.loads(out.stdout)
        assert [i["offset"] for i in plan["items"]] == [1]


@pytest.mark.parametrize("expr, says", [
    ('value ~ "(?=a)"', "bad regular expression"),
    ('value ~ "(a)\\\\1"', "bad regular expression"),
    ('value ~ "((a{100}){100}){100}"', "bad regular expression"),
    ("(" * 10_000 + "a" + ")" * 10_000, "characters long"),
    ("(" * 40 + "a" + ")" * 40, "nests `(` and `not` more than 32 levels deep"),
    ("not " * 10_000 + "a", "characters long"),
    ("!" * 9_000 + "a", "nests `(` and `not` more than 32 levels deep"),
    ("(" * 9_000 + "a" + ")", "nests `(` and `not` more than 32 levels deep"),
    ("not " * 33 + "a", "nests `(` and `not` more than 32 levels deep"),
    ("x == " + "9" * 5000, "number of 5,000 characters is too long"),
    ("x == 1e999", "out of range"),
    ("x" * 10_001, "characters long"),
])
def test_filters_beyond_the_bounds_are_refused_with_a_reason(expr, says):
    with pytest.raises(FilterError, match="bad filter: .*" + _re_escape(says)):
        compile_filter(expr)


def _re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_a_slack_length_bound_is_the_callers_choice():
    text = "status == " + '"' + "x" * 600 + '"'
    assert compile_filter(text).text == text
    with pytest.raises(FilterError, match="612 characters long; at most 500"):
        compile_filter(text, max_length=500)


# ---------------------------------------------------------------- the console


async def test_evil_regex_in_the_console_filters_and_keys_keep_working(services, bootstrap):
    topic = await evil_topic(bootstrap, services, unique("evil-ui"))
    app = KafkaOpsApp(services)
    screen = MessagesScreen(topic, start=StartAt.beginning())
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(screen)
        await wait_until(pilot, lambda: offsets(screen) == [1, 0], "both records")  # newest first
        await pilot.press("slash")
        box = screen.query_one("#tail-filter", Input)
        box.value = EVIL
        await pilot.press("enter")
        await wait_until(pilot, lambda: offsets(screen) == [1], "the matching record only")
        await pilot.press("slash")
        box.value = 'value ~ "(?<=a)"'
        await pilot.press("enter")
        await wait_until(pilot, lambda: "bad regular expression" in status(screen),
                         "the refusal of look-behind")
        assert offsets(screen) == [1]  # the refused filter changed nothing
        await pilot.press("escape", "t")  # leave the filter box, go to the topic list
        await wait_until(pilot, lambda: isinstance(app.screen, TopicsScreen), "the topic list")
        assert "Topic" in screen_text(app)


# ---------------------------------------------------------------- Slack


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


async def test_evil_regex_in_slack_answers_and_other_requests_are_acked(rb, bootstrap):
    topic = await evil_topic(bootstrap, rb.bot.services, unique("evil-bot") + ".dlq")
    first = asyncio.ensure_future(rb.command(f"dlq show {topic} --filter '{EVIL}'",
                                             user="U0NOROLE"))
    status, _, url = await first
    assert status == 200
    # acked while the first one runs (or has run): the loop is not held by the regex
    status2, ack2, url2 = await rb.command("help", user="U0NOROLE")
    assert status2 == 200
    shown = (await rb.reply(url)).text
    assert "0:1" in shown and "0:0" not in shown
    async with rb.session.get(rb.transport.url + "/healthz") as resp:
        assert resp.status == 200


async def test_slack_filters_are_bounded_in_length_and_records_read(rb, bootstrap,
                                                                   monkeypatch):
    topic = unique("bounded") + ".dlq"
    await (await rb.bot.services.topics()).create_topics([NewTopicSpec(topic, 1)])
    await produce(bootstrap, topic, [b"x0", b"x1", b"x2", b"x3", b"needle"], partition=0)
    long_filter = '"' + "n" * 600 + '"'
    _, _, url = await rb.command(f"dlq show {topic} --filter '{long_filter}'", user="U0NOROLE")
    refused = (await rb.reply(url)).text
    assert "bad filter: the filter is 602 characters long; at most 500 are allowed" in refused

    monkeypatch.setattr(bot_dlq, "MAX_SCAN", 3)
    _, _, url = await rb.command(f"dlq show {topic} --filter '\"needle\"'", user="U0NOROLE")
    partial = (await rb.reply(url)).text
    assert "No matching records" in partial
    assert "Searched the oldest 3 of 5 records" in partial
    _, _, url = await rb.command(f"dlq show {topic} --filter '\"x\"'", user="U0NOROLE")
    found = (await rb.reply(url)).text
    assert "0:0" in found and "0:2" in found and "0:3" not in found
    assert "Searched the oldest 3 of 5 records" in found
