"""Error replies tell a Slack user a short reason and an error id, never the config file's
path, a broker's host:port or a Python exception's name; the bot's log has the detail
under that id. Over real signed HTTP, against a cluster that is down, a read-only one,
and a command that crashes."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.app import Bot
from kafkaops.bot.errors import scrub
from kafkaops.bot.render.common import Message
from kafkaops.bot.router import Invocation
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import unique

SOURCE = "/etc/kafkaops/prod-config.yaml"
ERROR_ID = re.compile(r"error id (E[0-9a-f]{8})")
INTERNALS = [
    re.compile(r"\b[\w.-]+:\d{2,5}\b"),  # host:port
    re.compile(r"\d+\.\d+\.\d+\.\d+"),  # an IP address
    re.compile(r"(?<![\w`])/\w+/[\w/.-]+"),  # a path
    re.compile(r"\w+\.ya?ml\b"),
    re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b"),  # an exception's name
]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def crashing(bot: Bot) -> None:
    async def boom(inv: Invocation) -> Message:
        raise RuntimeError(f"state file {SOURCE}.lock on db-1.internal:5432 is corrupt")

    bot.command("boom", summary="crashes")(boom)


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    data = {**config_data, "clusters": {
        **config_data["clusters"],
        "locked": {**config_data["clusters"]["primary"], "read_only": True},
        "down": {"bootstrap_servers": f"127.0.0.1:{closed_port()}", "request_timeout": "2s"},
    }}
    async with running_bot(data, source=SOURCE, setup=crashing) as r:
        yield r


def assert_public(text: str) -> str:
    """No internals in `text`; returns its error id."""
    for pattern in INTERNALS:
        assert not pattern.search(text), (pattern.pattern, text)
    m = ERROR_ID.search(text)
    assert m is not None, text
    return m.group(1)


def logged(caplog: pytest.LogCaptureFixture, eid: str) -> str:
    lines = [r for r in caplog.records if eid in r.getMessage()]
    assert len(lines) == 1, eid
    rec = lines[0]
    return rec.getMessage() + ("\n" + caplog.text if rec.exc_info else "")


async def reply_to(rb: RunningBot, text: str) -> str:
    _, _, url = await rb.command(text)
    return (await rb.reply(url)).text


async def test_an_unreachable_cluster_is_named_but_not_its_address(
    rb: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "kafkaops.bot")
    for command in ("topics --cluster down", "status --cluster down"):
        text = await reply_to(rb, command)
        assert "cluster 'down' unreachable" in text
        eid = assert_public(text)
        detail = logged(caplog, eid)
        address = rb.bot.config.clusters["down"].bootstrap_servers
        assert address in detail and "clusters.down.bootstrap_servers" in detail


async def test_a_read_only_refusal_does_not_show_the_config_path(
    rb: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "kafkaops.bot")
    key = unique("ro-flag")
    text = await reply_to(rb, f"flag toggle {key} --cluster locked")
    assert "cluster 'locked' is read-only" in text
    eid = assert_public(text)
    assert SOURCE in logged(caplog, eid)


async def test_a_crash_is_an_internal_error_with_an_id_and_the_traceback_in_the_log(
    rb: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "kafkaops.bot")
    text = await reply_to(rb, "boom")
    assert "internal error" in text
    assert "RuntimeError" not in text and "corrupt" not in text
    eid = assert_public(text)
    detail = logged(caplog, eid)
    assert "RuntimeError" in detail and "db-1.internal:5432" in detail
    assert "Traceback" in detail


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("cluster 'dr' unreachable at 10.0.0.5:9092,kafka-2.example.com:9092: "
         "KafkaConnectionError: Unable to bootstrap from [('10.0.0.5', 9092, "
         "<AddressFamily.AF_INET: 2>)] — check clusters.dr.bootstrap_servers",
         "cluster 'dr' unreachable at … Unable to bootstrap from … — check "
         "clusters.dr.bootstrap_servers"),
        (f"cluster 'p' is read-only (read_only: true in {SOURCE}); refusing to reset",
         "cluster 'p' is read-only (read_only: true in …); refusing to reset"),
        ("cluster 'p' is read-only (read_only: true in config.yaml); refusing to reset",
         "cluster 'p' is read-only (read_only: true in …); refusing to reset"),
        ("cannot write to '_kafkaops.audit' on cluster 'p': KafkaTimeoutError: timed out",
         "cannot write to '_kafkaops.audit' on cluster 'p': … timed out"),
        ("registry at https://sr.internal:8081/subjects answered 500",
         "registry at … answered 500"),
        ("[Errno 111] Connect call failed ('127.0.0.1', 9092)", "… Connect call failed …"),
        # what users need is kept: names, versions, times, slash commands
        ("flag 'checkout.new-flow' is at version 3, not 2; run `/kafka flag get x`",
         "flag 'checkout.new-flow' is at version 3, not 2; run `/kafka flag get x`"),
        ("topic 'orders.events' not found on cluster 'primary'",
         "topic 'orders.events' not found on cluster 'primary'"),
        ("fired at 12:30 UTC", "fired at 12:30 UTC"),
    ],
)
def test_scrub(message: str, shown: str) -> None:
    assert scrub(message, [SOURCE]) == shown
