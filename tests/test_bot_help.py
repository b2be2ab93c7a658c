"""The one table of capabilities (core/capabilities.py) as a specification: each capability
named once, its Slack words a subcommand the bot has, its CLI words a command the CLI
parses, its console key a binding the console has; help built from it; hints given in the
words of the face that shows them."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.app import Bot, build_bot
from kafkaops.cli.main import build_parser
from kafkaops.core.capabilities import (
    BY_KEY,
    CAPABILITIES,
    fill,
    in_slack_words,
    literal,
    most_used,
    say,
)
from kafkaops.core.config import parse_config
from kafkaops.core.services import Services

#: a value for each placeholder the templates use, as a person would type it
SAMPLES = {"group": "billing-service", "topic": "orders.events", "flag": "checkout",
           "filter": "orders", "cluster": "dr", "state": "off", "user": "customer-42",
           "percent": "25", "value": "true", "version": "3", "time": "1h", "pair": "main",
           "n": "20", "connector": "s3-sink", "subject": "orders-value",
           "setting": "retention.ms=86400000", "count": "6", "file": "orders.avsc",
           "screen": "lag", "shell": "bash"}


@pytest.fixture(scope="module")
async def bot() -> AsyncIterator[Bot]:
    cfg = parse_config({
        "clusters": {"primary": {"bootstrap_servers": "127.0.0.1:9"},
                     "dr": {"bootstrap_servers": "127.0.0.1:9"}},
        "dr": {"pairs": [{"name": "main", "primary": "primary", "secondary": "dr"}]},
        "slack": {"bot_token": "xoxb-t", "signing_secret": "s",
                  "api_url": "http://127.0.0.1:9/api/"}}, "<help test>")
    async with Services(cfg) as services:
        yield build_bot(services)


def test_each_capability_is_named_once() -> None:
    keys = [c.key for c in CAPABILITIES]
    assert len(keys) == len(set(keys))
    assert [c.rank for c in most_used()] == [1, 2, 3, 4, 5]
    assert all(c.examples for c in most_used())  # help shows each with an example


async def test_every_subcommand_of_the_bot_is_in_the_table_and_back(bot: Bot) -> None:
    commands = bot.router.commands
    assert [n for n, c in commands.items() if not c.capabilities] == []
    slack = {literal(c.slack) for c in CAPABILITIES if c.slack}
    assert slack <= set(commands)


@pytest.mark.parametrize("cap", [c for c in CAPABILITIES if c.slack], ids=lambda c: c.key)
async def test_the_slack_words_and_examples_parse(bot: Bot, cap: object) -> None:
    from kafkaops.bot.router import Parsed

    for text in (fill(cap.slack, SAMPLES), *cap.examples):  # type: ignore[attr-defined]
        parsed = bot.router.parse(text)
        assert isinstance(parsed, Parsed), (text, parsed)


@pytest.mark.parametrize("cap", [c for c in CAPABILITIES if c.cli], ids=lambda c: c.key)
def test_the_cli_words_parse(cap: object) -> None:
    words = fill(cap.cli, SAMPLES).split()  # type: ignore[attr-defined]
    args = build_parser(words).parse_args(words)
    assert isinstance(args, argparse.Namespace)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _cli_leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                ) -> list[tuple[str, ...]]:
    """Every command the CLI parses, as its words (`topic create`): the commands without
    subcommands of their own."""
    subs = _subcommands(parser)
    if not subs:
        return [path]
    return [leaf for name, sub in subs.items() for leaf in _cli_leaves(sub, (*path, name))]


def _cli_command(words: list[str]) -> tuple[str, ...]:
    """The command a CLI line names: its words that are subcommand names, in order."""
    parser: argparse.ArgumentParser = build_parser()
    path: list[str] = []
    skip = False
    for word in words:
        option = parser._option_string_actions.get(word)
        if skip or option is not None:
            skip = option is not None and option.nargs != 0  # its value is not a command
            continue
        subs = _subcommands(parser)
        if word in subs:
            path.append(word)
            parser = subs[word]
    return tuple(path)


def test_every_cli_command_is_in_the_table() -> None:
    leaves = _cli_leaves(build_parser())
    assert len(leaves) > 50  # the walk found the CLI's commands
    named = {_cli_command(fill(c.cli, SAMPLES).split()) for c in CAPABILITIES if c.cli}
    assert [" ".join(leaf) for leaf in leaves if leaf not in named] == []


def test_a_cli_command_missing_from_the_table_is_found(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """Control case: the walk reports a command the table does not name."""
    leaves = _cli_leaves(build_parser())
    named = {_cli_command(fill(c.cli, SAMPLES).split()) for c in CAPABILITIES
             if c.cli and c.key != "topic.create"}
    assert [" ".join(leaf) for leaf in leaves if leaf not in named] == ["topic create"]


def _console_bindings() -> set[str]:
    """Every key a console screen binds, by its Textual name and as the footer shows it."""
    import importlib
    import pkgutil

    from textual.binding import Binding
    from textual.dom import DOMNode

    import kafkaops.console

    keys: set[str] = set()
    for mod in pkgutil.iter_modules(kafkaops.console.__path__):
        module = importlib.import_module(f"kafkaops.console.{mod.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, DOMNode):
                for b in getattr(obj, "BINDINGS", ()):
                    if isinstance(b, Binding):
                        keys |= {k.strip() for k in b.key.split(",")}
                        keys |= {b.key_display} if b.key_display else set()
    return keys


def test_each_console_screen_is_one_capability_of_the_table() -> None:
    from kafkaops.console.app import NAV

    screens = [c for c in CAPABILITIES if c.screen]
    assert [(e.key, e.title, e.description) for e in NAV] == [
        (c.console, *c.screen) for c in sorted(  # type: ignore[misc]
            screens, key=lambda c: [e.key for e in NAV].index(c.console or ""))]
    assert len(screens) == len(NAV)


@pytest.mark.parametrize("cap", [c for c in CAPABILITIES if c.console], ids=lambda c: c.key)
def test_the_console_keys_are_bindings_the_console_has(cap: object) -> None:
    """`l, then enter`: a screen's key, then keys that screen (or one it opens) binds."""
    from kafkaops.console.app import NAV

    first, *then = [k.strip() for k in cap.console.split(", then ")]  # type: ignore[attr-defined]
    assert first in {e.key for e in NAV}
    bound = _console_bindings()
    assert [k for k in then if k not in bound] == []


@pytest.mark.parametrize(("text", "slack"), [
    ("`kafkaops lag` lists every group", "`/kafka lag` lists every group"),
    ("see `kafkaops lag --group billing`", "see `/kafka lag billing`"),
    ("check `kafkaops flags history checkout` first", "check `/kafka flag history checkout` "
                                                      "first"),
    ("run `kafkaops failover resume` first", "run `/kafka failover resume` first"),
    ("`kafkaops failback` goes the other way", "`/kafka failback` goes the other way"),
    ("`kafkaops -c dr cluster`", "`/kafka status --cluster dr`"),
    # no such command in Slack: said to be one for a terminal
    ("stop it first: `kafkaops connect stop s3`", "stop it first: `kafkaops connect stop s3` "
                                                  "(in a terminal)"),
    ("kafkaops is fine as a word", "kafkaops is fine as a word"),
])
def test_hints_from_core_are_given_in_slacks_words(text: str, slack: str) -> None:
    assert in_slack_words(text) == slack


def test_a_hint_in_each_face() -> None:
    assert say("lag.group", "slack", group="billing") == "/kafka lag billing"
    assert say("lag.group", "cli", group="billing") == "kafkaops lag --group billing"
    assert say("lag.group", "console") == "l, then enter"
    assert say("tail", "slack") is None  # not something Slack does
    assert say("flag.toggle", "slack", command="/ops", flag="a b") == "/ops flag toggle 'a b'"
    assert BY_KEY["status"].console == "c"


def test_kafkaops_help_shows_what_people_do_most_in_the_cli_s_words() -> None:
    text = build_parser().format_help()
    tail = text.split("what people do most", 1)[1]
    assert "kafkaops lag " in tail and "kafkaops flags toggle FLAG" in tail
    assert "[l]" in tail and "/kafka help" in tail


@pytest.mark.parametrize("name", ["--public", "-c", "--to-latest", "orders.dlq"])
async def test_a_button_names_what_the_cluster_named_never_an_option(bot: Bot,
                                                                     name: str) -> None:
    """Names on a button come from the cluster (anyone who can create a topic or join a
    group picks them): one that starts with "-" is still that name when the button runs."""
    from dataclasses import replace

    from kafkaops.bot.render.dlq import render_dlq_list
    from kafkaops.bot.render.lag import render_lag_overview
    from kafkaops.bot.router import Parsed
    from tests.test_bot_render import DLQ_TOPICS, LAG

    dlq = render_dlq_list("primary", [replace(DLQ_TOPICS[0], topic=name)], ".dlq")
    group = replace(LAG.groups[0], group=name)  # OK: its button is Details
    lag = render_lag_overview(replace(LAG, groups=(group,)))
    values = [b["accessory"]["value"] for m in (dlq, lag) for b in m.to_slack()["blocks"]
              if "accessory" in b and "value" in b["accessory"]]
    assert len(values) == 2
    for value, key in zip(values, ("topic", "group"), strict=True):
        parsed = bot.router.parse(value)
        assert isinstance(parsed, Parsed), (value, parsed)
        assert getattr(parsed.args, key) == name and parsed.public is False
        assert parsed.cluster == "primary"
