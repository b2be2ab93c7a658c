"""The slash command's grammar: subcommands, their arguments, help and usage.

`/kafka [--public] [--cluster NAME] SUBCOMMAND ARGS...`. Each capability registers its
subcommands (bot/commands/*.py); a subcommand's name may have two words ("flag set") and
its arguments are declared with argparse, so usage lines are generated, never hand-kept.

Parsing is pure and fast (no I/O): it runs inside the 3-second ack, so a malformed command
is answered at once with its usage line, and nothing else happens.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.replies import render_help, render_usage
from kafkaops.core.errors import UsageError
from kafkaops.core.services import Services
from kafkaops.core.topics.service import TopicService

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot

#: options any subcommand takes; they may appear anywhere before a `--`
PUBLIC_FLAG = "--public"
CLUSTER_FLAGS = ("--cluster", "-c")

#: quotes phones and desktop clients substitute when people type ' and "
_APOSTROPHE = re.compile(r"(?<=\w)['\u2019](?=\w)")
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or "invalid arguments")


Handler = Callable[["Invocation"], Awaitable[Message]]
ArgSpec = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Subcommand:
    name: str
    """One or two words: "topics", "flag set"."""
    summary: str
    """One line for help."""
    handler: Handler
    """Does the work; returns the reply."""
    parser: argparse.ArgumentParser
    """Its arguments (positional and options)."""
    action: str | None = None
    """Permission needed to run it at all (e.g. flag.write); None: anyone in the workspace."""
    examples: tuple[str, ...] = ()
    """Example argument strings for help."""

    @property
    def usage(self) -> str:
        """`/kafka topics [--internal] [FILTER]`."""
        return " ".join(self.parser.format_usage().split())[len("usage: ") :]


@dataclass(frozen=True)
class Invocation:
    """One run of a subcommand: who asked, where, with what, against which cluster."""

    command: Subcommand
    """The subcommand being run."""
    args: argparse.Namespace
    """Its parsed arguments."""
    text: str
    """The text typed after the slash command, as received."""
    user: str
    """Slack user ID of the requester."""
    user_name: str
    """Their Slack handle, for display only (IDs are what is checked and audited)."""
    channel: str
    """Channel ID the command was typed in."""
    public: bool
    """--public: the reply goes to the channel instead of only to the requester."""
    cluster: str
    """The cluster to act on (--cluster, else the configured default)."""
    cluster_given: bool
    """True when --cluster named it (commands covering every cluster then show only it)."""
    services: Services
    """Core services."""
    bot: Bot
    """The bot, for confirmations and permissions."""

    async def topics(self) -> TopicService:
        return await self.services.topics(self.cluster)

    async def confirm(
        self,
        kind: str,
        *,
        target: str,
        summary: Message,
        params: dict[str, Any],
    ) -> Message:
        """Ask for confirmation of a risky action registered with `bot.confirmable(kind, ...)`;
        the returned prompt (summary + Confirm / Cancel) is this command's reply."""
        return await self.bot.confirmations.request(
            kind,
            target=target,
            summary=summary,
            params=params,
            requester=self.user,
            channel=self.channel,
            cluster=self.cluster,
            command_text=f"{self.bot.command_name} {self.text}".strip(),
        )


@dataclass(frozen=True)
class Parsed:
    """A well-formed command, ready to run (after the ack)."""

    command: Subcommand
    """The subcommand."""
    args: argparse.Namespace
    """Its arguments."""
    public: bool
    """--public given."""
    cluster: str | None
    """--cluster given, else None (the default cluster)."""


@dataclass(frozen=True)
class Immediate:
    """A reply that needs no I/O (help, a usage error): sent in the ack itself."""

    message: Message
    """The reply, always ephemeral."""
    is_error: bool = False
    """True when the command was malformed."""


@dataclass
class Router:
    command_name: str
    """The slash command, e.g. /kafka."""
    clusters: Sequence[str] = ()
    """Cluster names the config knows, to check --cluster before anything runs."""
    commands: dict[str, Subcommand] = field(default_factory=dict)

    # ------------------------------------------------------------ registration

    def add(
        self,
        name: str,
        handler: Handler,
        *,
        summary: str,
        arguments: ArgSpec | None = None,
        action: str | None = None,
        examples: Sequence[str] = (),
    ) -> Subcommand:
        words = name.split()
        if not 1 <= len(words) <= 2 or name in self.commands or words[0] == "help":
            raise ValueError(f"bad or duplicate subcommand name {name!r}")
        parser = _ArgumentParser(
            prog=f"{self.command_name} {name}", add_help=False, allow_abbrev=False
        )
        if arguments is not None:
            arguments(parser)
        cmd = Subcommand(name, summary, handler, parser, action, tuple(examples))
        self.commands[name] = cmd
        return cmd

    # ------------------------------------------------------------ parsing

    def parse(self, text: str) -> Parsed | Immediate:
        try:
            return self._parse(text)
        except UsageError as e:
            return Immediate(render_usage(str(e), self._usages_for(text)), is_error=True)

    def _parse(self, text: str) -> Parsed | Immediate:
        tokens = tokenize(text)
        tokens, public, cluster = self._global_options(tokens)
        if not tokens or tokens[0] in ("help", "-h", "--help"):
            topic = tokens[1] if len(tokens) > 1 else None
            return Immediate(render_help(self.command_name, self._listing(topic)))
        cmd, rest = self.find(tokens)
        args = cmd.parser.parse_args(rest)
        return Parsed(cmd, args, public, cluster)

    def find(self, tokens: Sequence[str]) -> tuple[Subcommand, list[str]]:
        """The subcommand the tokens name (two-word names first) and its argument tokens."""
        if len(tokens) >= 2 and f"{tokens[0]} {tokens[1]}" in self.commands:
            return self.commands[f"{tokens[0]} {tokens[1]}"], list(tokens[2:])
        if tokens[0] in self.commands:
            return self.commands[tokens[0]], list(tokens[1:])
        group = [c for c in self.commands.values() if c.name.split()[0] == tokens[0]]
        if group:
            subs = ", ".join(c.name.split()[1] for c in group)
            got = f"unknown {tokens[0]} subcommand {tokens[1]!r}" if len(tokens) > 1 else (
                f"{tokens[0]} needs a subcommand"
            )
            raise UsageError(f"{got}: use one of {subs}")
        firsts = sorted({c.name.split()[0] for c in self.commands.values()} | {"help"})
        close = difflib.get_close_matches(tokens[0], firsts, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown subcommand {tokens[0]!r}{hint}")

    def _global_options(self, tokens: list[str]) -> tuple[list[str], bool, str | None]:
        rest: list[str] = []
        public = False
        cluster: str | None = None
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t == "--":
                rest += tokens[i:]
                break
            if t == PUBLIC_FLAG:
                public = True
            elif t in CLUSTER_FLAGS or t.startswith("--cluster="):
                if "=" in t:
                    cluster = t.split("=", 1)[1]
                elif i + 1 < len(tokens):
                    cluster = tokens[i + 1]
                    i += 1
                else:
                    raise UsageError(f"{t} needs a cluster name")
                if cluster not in self.clusters:
                    known = ", ".join(self.clusters) or "none"
                    raise UsageError(f"no cluster named {cluster!r} (configured: {known})")
            else:
                rest.append(t)
            i += 1
        return rest, public, cluster

    # ------------------------------------------------------------ help

    def _listing(self, topic: str | None) -> list[tuple[str, str]]:
        cmds = [
            c
            for c in self.commands.values()
            if topic is None or c.name.split()[0] == topic or c.name == topic
        ] or list(self.commands.values())
        return [(c.usage, c.summary) for c in cmds]

    def _usages_for(self, text: str) -> list[str]:
        """Usage lines that fit what was typed: its subcommand (or group), else every one."""
        try:
            tokens, _, _ = self._global_options(tokenize(text))
        except UsageError:
            tokens = []
        if tokens:
            name2 = " ".join(tokens[:2])
            if name2 in self.commands:
                return [self.commands[name2].usage]
            if tokens[0] in self.commands:
                return [self.commands[tokens[0]].usage]
            group = [c.usage for c in self.commands.values() if c.name.split()[0] == tokens[0]]
            if group:
                return group
        return [f"{self.command_name} help"] + [c.usage for c in self.commands.values()]


def tokenize(text: str) -> list[str]:
    """Split the command text as a shell would, after undoing Slack's escaping of & < > and
    straightening the curly quotes clients substitute."""
    text = (text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    # an apostrophe inside a word ("it's", "don’t") is text, not the start of a quote
    text = _APOSTROPHE.sub("\x00", text).translate(_SMART_QUOTES)
    try:
        return [t.replace("\x00", "'") for t in shlex.split(text)]
    except ValueError as e:  # "No closing quotation"
        raise UsageError(f"cannot read the command: {str(e).lower()}") from None
