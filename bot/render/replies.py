"""Replies every command shares: help, usage errors, "working…", errors and denials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafkaops.bot.render.common import (
    MAX_BLOCKS,
    Block,
    Message,
    context,
    esc,
    header,
    section,
    sentence,
    who,
)


@dataclass(frozen=True)
class HelpEntry:
    """One thing to do, as help shows it."""

    usage: str
    """The command with its arguments in capitals: `/kafka lag GROUP`."""
    summary: str
    """What it does."""
    examples: tuple[str, ...] = ()
    """Whole commands to copy."""


_OPTIONS_NOTE = ("Replies are only visible to you; add `--public` to post in the channel. "
                 "`--cluster NAME` picks another cluster. Changes ask you to Confirm.")


def _entry_lines(e: HelpEntry) -> str:
    examples = " · ".join(f"`{esc(x)}`" for x in e.examples[:2])
    return f"`{esc(e.usage)}`\n{esc(e.summary)}" + (f"\n_e.g._ {examples}" if examples else "")


def render_help(command: str, top: Sequence[HelpEntry], topics: Sequence[str]) -> Message:
    """`help`: the five things people do most, each with an example, and the topics
    `help TOPIC` explains."""
    blocks: list[Block] = [header(f"{command}: Kafka from Slack"),
                           section("*What people do most*")]
    blocks += [section(_entry_lines(e)) for e in top[:5]]
    listed = " · ".join(f"`{esc(t)}`" for t in topics)
    blocks.append(section(f"*Everything else*: `{esc(command)} help TOPIC`, for {listed}"))
    blocks.append(context(_OPTIONS_NOTE))
    text = (f"{command}: " + "; ".join(e.usage for e in top[:5])
            + f". More: {command} help TOPIC ({', '.join(topics)})")
    return Message(text, tuple(blocks))


def render_help_topic(command: str, topic: str, entries: Sequence[HelpEntry],
                      usages: Sequence[str]) -> Message:
    """`help TOPIC`: what each command of the topic does, with examples, and the usage
    lines with every option."""
    blocks: list[Block] = [header(f"{command} help {topic}")]
    blocks += [section(_entry_lines(e)) for e in entries[:40]]
    options = "\n".join(f"`{esc(u)}`" for u in usages[:20])
    blocks.append(context(f"Every option:\n{options}"))
    blocks.append(context(_OPTIONS_NOTE))
    text = f"{command} help {topic}: " + "; ".join(e.usage for e in entries)
    return Message(text, tuple(blocks[:MAX_BLOCKS]))


def render_unknown_topic(command: str, asked: str, topics: Sequence[str],
                         close: str | None) -> Message:
    hint = f" Did you mean `{esc(command)} help {esc(close)}`?" if close else ""
    listed = ", ".join(f"`{esc(t)}`" for t in topics)
    text = f"No help topic {asked!r}.{hint.replace('`', '')} Topics: {', '.join(topics)}"
    return Message(text, (section(f":grey_question: No help topic `{esc(asked)}`.{hint}\n"
                                  f"Topics: {listed}"),))


def render_usage(problem: str, usages: Sequence[str]) -> Message:
    """A malformed command: what is wrong, then the usage line(s). Nothing was run."""
    shown = list(usages)[:12]
    body = "\n".join(f"`{esc(u)}`" for u in shown)
    # a multi-line problem (a filter with a caret under the fault) keeps its lines aligned
    problem, _, detail = problem.partition("\n")
    problem = sentence(problem)
    pre = f"\n```\n{esc(detail)}\n```" if detail.strip() else ""
    text = f"{problem} Usage: " + " | ".join(shown)
    return Message(
        text,
        (section(f":warning: {esc(problem)} Nothing was run.{pre}\n*Usage*\n{body}"),),
    )


def render_working(command_text: str) -> Message:
    return Message(f"Working on `{command_text}`…")


def render_error(problem: str, *, retriable: bool = False) -> Message:
    """A command that failed; core's message says what happened and what to check."""
    hint = " Trying again later may help." if retriable else ""
    said = sentence(problem)
    return Message(f"Failed: {said}{hint}", (section(f":x: {esc(said)}{hint}"),))


def render_denied(action: str, reason: str) -> Message:
    """A permission denial. `reason` is mrkdwn written by permissions.decide()."""
    return Message(
        f"Denied: {action}. {sentence(reason)}",
        (section(f":no_entry: *Denied: {esc(action)}.* {sentence(reason)} Nothing was "
                 "changed."),),
    )


def with_requester(msg: Message, user: str, command_text: str) -> Message:
    """A public reply says who asked for it, and how (a confirmation prompt says who asked
    already: it is not said twice)."""
    if any(str(b.get("block_id", "")).startswith("kafkaops.confirm.") for b in msg.blocks):
        return msg
    return Message(
        msg.text,
        (*msg.blocks, context(f"requested by {who(user)} · `{esc(command_text)}`")),
    )
