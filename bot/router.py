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
from kafkaops.bot.render.replies import (
    HelpEntry,
    render_help,
    render_help_topic,
    render_unknown_topic,
    render_usage,
)
from kafkaops.core.capabilities import CAPABILITIES, TOPICS, Capability, literal, most_used
from kafkaops.core.errors import UsageError
from kafkaops.core.services import Services
from kafkaops.core.topics.service import TopicService

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot

#: options any subcommand takes; they may appear anywhere before a `--`
PUBLIC_FLAG = "--public"
CLUSTER_FLAGS = ("--cluster", "-c")
PAGE_FLAG = "--page"
#: the most pages a listing may be asked for (each is a Slack request of its own)
MAX_PAGE = 1000

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
    capabilities: tuple[Capability, ...] = ()
    """What it does, from the table of capabilities (core/capabilities.py)."""
    names: tuple[str, str] | None = None
    """(kind, argument): the argument names a group, topic or flag; a name core does not
    find is answered with the closest names (bot/suggest.py)."""

    @property
    def topic(self) -> str:
        """The help topic it is listed under."""
        return self.capabilities[0].topic if self.capabilities else self.name.split()[0]

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
    page: int = 1
    """--page N: which page of a long listing (1: the first)."""
    words: tuple[str, ...] = ()
    """The subcommand and its arguments as typed, without the global options."""

    def again(self, page: int) -> str:
        """The command text that shows another page of this reply (a Next button's)."""
        extra = ["--cluster", self.cluster] if self.cluster_given else []
        return shlex.join([*self.words, *extra, PAGE_FLAG, str(page)])

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
    page: int = 1
    """--page N given, else 1."""
    words: tuple[str, ...] = ()
    """The subcommand and its arguments, without the global options."""


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
        names: tuple[str, str] | None = None,
    ) -> Subcommand:
        words = name.split()
        if not 1 <= len(words) <= 2 or name in self.commands or words[0] == "help":
            raise ValueError(f"bad or duplicate subcommand name {name!r}")
        parser = _ArgumentParser(
            prog=f"{self.command_name} {name}", add_help=False, allow_abbrev=False
        )
        if arguments is not None:
            arguments(parser)
        caps = tuple(c for c in CAPABILITIES if c.slack and literal(c.slack) == name)
        cmd = Subcommand(name, summary, handler, parser, action, tuple(examples), caps, names)
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
        tokens, public, cluster, page = self._global_options(tokens)
        if not tokens or tokens[0] in ("help", "-h", "--help"):
            return self._help(" ".join(tokens[1:3]) or None)
        cmd, rest = self.find(tokens)
        args = cmd.parser.parse_args(rest)
        return Parsed(cmd, args, public, cluster, page, tuple(tokens))

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

    def _global_options(self, tokens: list[str]
                        ) -> tuple[list[str], bool, str | None, int]:
        rest: list[str] = []
        public = False
        cluster: str | None = None
        page = 1
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t == "--":
                rest += tokens[i:]
                break
            if t == PUBLIC_FLAG:
                public = True
            elif t == PAGE_FLAG or t.startswith(PAGE_FLAG + "="):
                value = t.split("=", 1)[1] if "=" in t else (
                    tokens[i + 1] if i + 1 < len(tokens) else "")
                i += 0 if "=" in t else 1
                if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
                    raise UsageError(f"{PAGE_FLAG} needs a page number from 1 to {MAX_PAGE}")
                page = int(value)
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
        return rest, public, cluster, page

    # ------------------------------------------------------------ help

    def topics(self) -> list[str]:
        """Help topics, in the table's order, then those of subcommands not in it."""
        have = {c.topic for c in self.commands.values()}
        return [t for t in TOPICS if t in have] + sorted(have - set(TOPICS))

    def _help(self, asked: str | None) -> Immediate:
        """`help`: the five things people do most, with examples; `help TOPIC` the rest."""
        if asked is None:
            top = [c for c in most_used() if literal(c.slack or "") in self.commands]
            return Immediate(render_help(self.command_name, [self._entry(c) for c in top],
                                         self.topics()))
        topic = self._topic_of(asked)
        if topic is None:
            close = difflib.get_close_matches(asked, self.topics() + sorted(self.commands), n=1)
            return Immediate(render_unknown_topic(self.command_name, asked, self.topics(),
                                                  close[0] if close else None), is_error=True)
        cmds = [c for c in self.commands.values() if c.topic == topic]
        entries: list[HelpEntry] = []
        for cmd in cmds:
            if cmd.capabilities:
                entries += [self._entry(c) for c in cmd.capabilities]
            else:
                entries.append(HelpEntry(cmd.usage, cmd.summary, tuple(
                    f"{self.command_name} {cmd.name} {e}".strip() for e in cmd.examples)))
        return Immediate(render_help_topic(self.command_name, topic, entries,
                                           [c.usage for c in cmds]))

    def _entry(self, cap: Capability) -> HelpEntry:
        from kafkaops.core.capabilities import fill

        return HelpEntry(f"{self.command_name} {fill(cap.slack or '', {})}", cap.summary,
                         tuple(f"{self.command_name} {e}" for e in cap.examples))

    def _topic_of(self, asked: str) -> str | None:
        """The topic `asked` names: a topic, a subcommand, or a subcommand's first word."""
        words = asked.lower()
        if words in self.topics():
            return words
        for name in (words, words.split()[0]):
            if name in self.commands:
                return self.commands[name].topic
            group = [c for c in self.commands.values() if c.name.split()[0] == name]
            if group:
                return group[0].topic
        if words.rstrip("s") in self.topics():  # "flag" for "flags", "schemas" for "schema"
            return words.rstrip("s")
        if words + "s" in self.topics():
            return words + "s"
        return None

    def _usages_for(self, text: str) -> list[str]:
        """Usage lines that fit what was typed: its subcommand (or group), else those of the
        subcommand it most looks like, else only where help is (never every usage line)."""
        try:
            tokens = [t for t in tokenize(text) if not t.startswith("-")]
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
            firsts = sorted({c.name.split()[0] for c in self.commands.values()})
            close = difflib.get_close_matches(tokens[0], firsts, n=1)
            if close:
                return [c.usage for c in self.commands.values()
                        if c.name.split()[0] == close[0]][:6]
        return [f"{self.command_name} help"]


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
