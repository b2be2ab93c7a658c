"""The slash command grammar: tokenising as Slack sends the text, global options anywhere,
two-word subcommands, and a usage error (never an exception) for anything malformed."""

from __future__ import annotations

import argparse

import pytest

from kafkaops.bot.render.common import Message
from kafkaops.bot.router import Immediate, Invocation, Parsed, Router, tokenize
from kafkaops.core.errors import UsageError


async def _noop(inv: Invocation) -> Message:
    return Message("")


def router() -> Router:
    r = Router("/kafka", clusters=("primary", "dr"))

    def topics_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("filter", nargs="?", metavar="FILTER")

    def set_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="NAME")
        p.add_argument("--rollout", type=int, metavar="PCT")
        p.add_argument("--reason", required=True)

    r.add("status", _noop, summary="status")
    r.add("topics", _noop, summary="topics", arguments=topics_args)
    r.add("flag list", _noop, summary="flags")
    r.add("flag set", _noop, summary="set a flag", arguments=set_args, action="flag.write")
    return r


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("topics orders", ["topics", "orders"]),
        ("  status   ", ["status"]),
        (
            "flag set x --reason \u201cincident 42\u201d",
            ["flag", "set", "x", "--reason", "incident 42"],
        ),
        ("flag set x --reason \u2018it\u2019s\u2019", ["flag", "set", "x", "--reason", "it's"]),
        ("flag set x --reason it's late", ["flag", "set", "x", "--reason", "it's", "late"]),
        ("flag set x --reason 'don't'", ["flag", "set", "x", "--reason", "don't"]),
        ("topics a&amp;b &lt;c&gt;", ["topics", "a&b", "<c>"]),
        ("", []),
    ],
)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("text", "name", "args", "public", "cluster"),
    [
        ("status", "status", {}, False, None),
        ("status --public", "status", {}, True, None),
        ("--public topics ord", "topics", {"filter": "ord"}, True, None),
        ("topics --cluster dr ord", "topics", {"filter": "ord"}, False, "dr"),
        ("topics -c dr", "topics", {"filter": None}, False, "dr"),
        ("--cluster=dr status", "status", {}, False, "dr"),
        ("flag list", "flag list", {}, False, None),
        (
            "flag set checkout --rollout 30 --reason 'slow rollout' --public",
            "flag set",
            {"name": "checkout", "rollout": 30, "reason": "slow rollout"},
            True,
            None,
        ),
        ("topics -- --public", "topics", {"filter": "--public"}, False, None),
    ],
)
def test_well_formed_commands(
    text: str, name: str, args: dict, public: bool, cluster: str | None
) -> None:
    parsed = router().parse(text)
    assert isinstance(parsed, Parsed)
    assert parsed.command.name == name
    assert vars(parsed.args) == args
    assert (parsed.public, parsed.cluster) == (public, cluster)


@pytest.mark.parametrize(
    ("text", "problem", "usages"),
    [
        ("bogus", "unknown subcommand 'bogus'", 5),
        ("stauts", "unknown subcommand 'stauts'; did you mean 'status'?", 5),
        ("flag", "flag needs a subcommand: use one of list, set", 2),
        ("flag sett x", "unknown flag subcommand 'sett': use one of list, set", 2),
        ("flag set x", "the following arguments are required: --reason", 1),
        (
            "flag set x --reason r --rollout lots",
            "argument --rollout: invalid int value: 'lots'",
            1,
        ),
        ("flag set x --reason r --roll 5", "unrecognized arguments: --roll 5", 1),
        ("status --cluster", "--cluster needs a cluster name", 5),
        ("status -c moon", "no cluster named 'moon' (configured: primary, dr)", 5),
        ("topics 'open", "cannot read the command: no closing quotation", 5),
    ],
)
def test_malformed_commands_are_usage_errors(text: str, problem: str, usages: int) -> None:
    parsed = router().parse(text)
    assert isinstance(parsed, Immediate) and parsed.is_error
    shown = parsed.message.blocks[0]["text"]["text"]
    assert problem in shown
    assert shown.count("\n`/kafka") == usages


@pytest.mark.parametrize("text", ["", "help", "--help", "help flag", "--public help"])
def test_help_is_answered_without_running_anything(text: str) -> None:
    parsed = router().parse(text)
    assert isinstance(parsed, Immediate) and not parsed.is_error
    assert "/kafka flag set [--rollout PCT] --reason REASON NAME" in parsed.message.text


def test_help_on_a_group_lists_only_that_group() -> None:
    parsed = router().parse("help flag")
    assert isinstance(parsed, Immediate)
    assert "/kafka flag list" in parsed.message.text
    assert "/kafka status" not in parsed.message.text


@pytest.mark.parametrize("name", ["status", "help", "a b c", ""])
def test_duplicate_or_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        router().add(name, _noop, summary="x")


def test_usage_error_type_is_core_usage_error() -> None:
    with pytest.raises(UsageError):
        tokenize('"')
