"""The slash command grammar: tokenising as Slack sends the text, global options anywhere,
two-word subcommands, and a usage error (never an exception) for anything malformed."""

from __future__ import annotations

import argparse
import json

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
        # an unknown subcommand gets the usage of what it looks like, never all of them
        ("bogus", "unknown subcommand 'bogus'", ["/kafka help"]),
        ("stauts", "unknown subcommand 'stauts'; did you mean 'status'?", ["/kafka status"]),
        ("flag", "flag needs a subcommand: use one of list, set", 2),
        ("flag sett x", "unknown flag subcommand 'sett': use one of list, set", 2),
        ("flag set x", "the following arguments are required: --reason", 1),
        (
            "flag set x --reason r --rollout lots",
            "argument --rollout: invalid int value: 'lots'",
            1,
        ),
        ("flag set x --reason r --roll 5", "unrecognized arguments: --roll 5", 1),
        ("status --cluster", "--cluster needs a cluster name", ["/kafka status"]),
        ("status -c moon", "no cluster named 'moon' (configured: primary, dr)",
         ["/kafka status"]),
        ("topics 'open", "cannot read the command: no closing quotation", ["/kafka help"]),
        ("topics --page 0", "--page needs a page number from 1 to 1000",
         ["/kafka topics [FILTER]"]),
        ("topics --page", "--page needs a page number from 1 to 1000", 1),
    ],
)
def test_malformed_commands_are_usage_errors(text: str, problem: str,
                                             usages: int | list[str]) -> None:
    parsed = router().parse(text)
    assert isinstance(parsed, Immediate) and parsed.is_error
    shown = parsed.message.blocks[0]["text"]["text"]
    assert problem in shown
    if isinstance(usages, list):
        assert shown.split("*Usage*\n", 1)[1].split("\n") == [f"`{u}`" for u in usages]
    else:
        assert shown.count("\n`/kafka") == usages


@pytest.mark.parametrize("text", ["", "help", "--help", "--public help"])
def test_help_shows_what_people_do_most_with_examples_and_the_topics(text: str) -> None:
    parsed = router().parse(text)
    assert isinstance(parsed, Immediate) and not parsed.is_error
    shown = json.dumps(parsed.message.to_slack())
    assert "`/kafka status`" in shown and "_e.g._" in shown
    assert "`/kafka help TOPIC`" in shown and "`flags`" in shown and "`topics`" in shown
    assert "flag set" not in shown  # the rest is under its topic


@pytest.mark.parametrize("text", ["help flag", "help flags", "help flag set", "--help flag"])
def test_help_on_a_topic_lists_it_with_every_option(text: str) -> None:
    parsed = router().parse(text)
    assert isinstance(parsed, Immediate) and not parsed.is_error
    shown = parsed.message.text + json.dumps(parsed.message.to_slack())
    assert "/kafka flag set [--rollout PCT] --reason REASON NAME" in shown
    assert "/kafka flag list" in shown
    assert "/kafka status" not in shown


def test_an_unknown_help_topic_says_which_it_looks_like() -> None:
    parsed = router().parse("help flgs")
    assert isinstance(parsed, Immediate) and parsed.is_error
    shown = parsed.message.blocks[0]["text"]["text"]
    assert "No help topic `flgs`. Did you mean `/kafka help flags`?" in shown


def test_page_is_a_global_option() -> None:
    parsed = router().parse("topics ord --page 3 --cluster dr")
    assert isinstance(parsed, Parsed)
    assert (parsed.page, parsed.cluster, parsed.words) == (3, "dr", ("topics", "ord"))


@pytest.mark.parametrize("name", ["status", "help", "a b c", ""])
def test_duplicate_or_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        router().add(name, _noop, summary="x")


def test_usage_error_type_is_core_usage_error() -> None:
    with pytest.raises(UsageError):
        tokenize('"')
