"""The command table that keeps start-up lean matches what the command modules register."""

from __future__ import annotations

import argparse

import pytest

from kafkaops.cli.main import COMMANDS, build_parser, command_of


def registered_commands() -> set[str]:
    parser = build_parser()  # no argv: every module is imported
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_registered_command_is_in_the_table() -> None:
    assert registered_commands() == set(COMMANDS)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["topics", "--json"], "topics"),
        (["-b", "h:1", "topic", "x"], "topic"),
        (["--config", "f.yaml", "-c", "dr", "lag", "--json"], "lag"),
        (["-v", "console"], "console"),
        (["--help"], None),
        ([], None),
    ],
)
def test_command_of(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def test_a_known_command_parses_with_only_its_module() -> None:
    args = build_parser(["-b", "h:1", "topics", "--json"]).parse_args(
        ["-b", "h:1", "topics", "--json"]
    )
    assert args.command == "topics" and args.json is True
