"""Terminal injection: records whose key and value hold ESC/OSC sequences (set the window
title, colour, cursor moves), NUL, BEL, C1 controls and bidi overrides, and a key with a
line break that would print a forged record line. The CLI's stdout bytes, the console's
screen and the Slack message show them as visible escapes; JSON output stays JSON that
reads back to the very same data."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.dlq import DlqTopicScreen
from kafkaops.console.messages import MessagesScreen
from kafkaops.core.messages.model import StartAt
from kafkaops.core.topics.service import NewTopicSpec
from kafkaops.core.untrusted import is_printable, printable
from tests.bot_harness import running_bot

from .conftest import KAFKAOPS, cli_env, produce, unique
from .test_messages_console import SIZE, detail, offsets, screen_text, wait_until

KEY = "k1\np0 #999 2026-01-01 00:00:00.000 key=admin FORGED"
VALUE = 'ok \x1b]0;pwned\x07 \x1b[2J\x1b[31mred\x00nul \u202eevil\u202c \x9b31m c1'
RAW_BYTES = [b"\x1b", b"\x00", b"\x07", "\u202e".encode(), "\x9b".encode()]


def no_raw_controls(data: bytes) -> None:
    for raw in RAW_BYTES:
        assert raw not in data, f"{raw!r} reached the output raw"


async def hostile_topic(bootstrap: str, services, name: str) -> str:
    await (await services.topics()).create_topics([NewTopicSpec(name, 1)])
    await produce(bootstrap, name, [VALUE.encode()], key=KEY.encode(), partition=0,
                  headers=[("trace\x1b[8m", b"id\r\nX-Forged: 1")])
    return name


def run(config_file: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([KAFKAOPS, "--config", str(config_file), *args], capture_output=True,
                          env=cli_env(), timeout=60, stdin=subprocess.DEVNULL)


def test_printable_escapes_every_control_and_keeps_text():
    assert printable(KEY) == "k1\\np0 #999 2026-01-01 00:00:00.000 key=admin FORGED"
    assert printable(VALUE) == ("ok \\x1b]0;pwned\\x07 \\x1b[2J\\x1b[31mred\\x00nul "
                                "\\u202eevil\\u202c \\x9b31m c1")
    assert printable("a\nb\tc\rd", multiline=True) == "a\nb\tc\\rd"
    assert printable("Zoë 日本 ✓") == "Zoë 日本 ✓"
    assert is_printable(printable(VALUE)) and not is_printable(VALUE)


async def test_cli_tail_text_and_json(config_file, bootstrap, services):
    topic = await hostile_topic(bootstrap, services, unique("inject"))
    text = await asyncio.to_thread(run, config_file, "tail", topic, "--from-beginning",
                                   "--to-end")
    assert text.returncode == 0, text.stderr
    no_raw_controls(text.stdout)
    (line,) = text.stdout.decode().splitlines()  # the key's line break forged no second line
    assert "key=k1\\np0 #999" in line and "\\x1b]0;pwned\\x07" in line and "\\u202eevil" in line

    js = await asyncio.to_thread(run, config_file, "tail", topic, "--from-beginning",
                                 "--to-end", "--json")
    assert js.returncode == 0, js.stderr
    no_raw_controls(js.stdout)
    (line,) = js.stdout.decode().splitlines()
    rec = json.loads(line)
    assert rec["key"] == KEY and rec["value"] == VALUE  # the same data, escaped by JSON


async def test_cli_dlq_show_text_and_json(config_file, bootstrap, services):
    topic = await hostile_topic(bootstrap, services, unique("inject") + ".dlq")
    text = await asyncio.to_thread(run, config_file, "dlq", "show", topic)
    assert text.returncode == 0, text.stderr
    no_raw_controls(text.stdout)
    lines = text.stdout.decode().splitlines()
    assert len(lines) == 2 and "0:0" in lines[1] and "\\x1b]0;pwned" in lines[1]
    js = await asyncio.to_thread(run, config_file, "dlq", "show", topic, "--json")
    assert js.returncode == 0, js.stderr
    no_raw_controls(js.stdout)
    assert json.loads(js.stdout)[0]["offset"] == 0


async def test_console_tail_and_dead_letter_screens_show_escapes(services, bootstrap):
    topic = await hostile_topic(bootstrap, services, unique("inject-ui"))
    dlq = await hostile_topic(bootstrap, services, unique("inject-ui") + ".dlq")
    app = KafkaOpsApp(services)
    screen = MessagesScreen(topic, start=StartAt.beginning())
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(screen)
        await wait_until(pilot, lambda: offsets(screen) == [0], "the record")
        await wait_until(pilot, lambda: "offset 0" in detail(screen), "its detail")
        shown = screen_text(app)
        no_raw_controls(shown.encode())
        assert "\\x1b]0;pwned\\x07" in shown and "k1\\np0" in shown
        # the key's line break is shown, not obeyed: no line begins with the forged record
        assert not any(ln.strip(" │┃▏").startswith("p0 #999") for ln in shown.splitlines())
        d = detail(screen)
        assert "key        k1\\np0 #999" in d and "trace\\x1b[8m: id\\r\n" in d
        no_raw_controls(d.encode())

        dl = DlqTopicScreen(dlq)
        await app.push_screen(dl)
        await wait_until(pilot, lambda: "pwned" in screen_text(app), "the dead letter")
        no_raw_controls(screen_text(app).encode())


@pytest.fixture
async def rb(config_data):
    async with running_bot(config_data) as r:
        yield r


async def test_slack_dlq_show_escapes_record_text(rb, bootstrap):
    topic = await hostile_topic(bootstrap, rb.bot.services, unique("inject-bot") + ".dlq")
    _, _, url = await rb.command(f"dlq show {topic}", user="U0NOROLE")
    reply = await rb.reply(url)
    no_raw_controls(json.dumps(reply.params, ensure_ascii=False).encode())
    assert "\\x1b]0;pwned\\x07" in reply.text
