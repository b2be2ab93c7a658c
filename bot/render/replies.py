"""Replies every command shares: help, usage errors, "working…", errors and denials."""

from __future__ import annotations

from collections.abc import Sequence

from kafkaops.bot.render.common import Message, context, esc, section


def render_help(command: str, entries: Sequence[tuple[str, str]]) -> Message:
    """`entries`: (usage line, one-line summary) per subcommand."""
    lines = [f"`{esc(usage)}`  {esc(summary)}" for usage, summary in entries]
    blocks = [section(f"*{esc(command)}*: Kafka from Slack")]
    chunk: list[str] = []
    for ln in lines:  # several sections when the list outgrows one
        if sum(len(x) + 1 for x in chunk) + len(ln) > 2800:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(ln)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    blocks.append(
        context(
            "Replies are only visible to you; add `--public` to post in the channel. "
            "`--cluster NAME` picks another cluster. Risky actions ask you to confirm."
        )
    )
    text = f"{command} subcommands: " + "; ".join(u for u, _ in entries)
    return Message(text, tuple(blocks))


def render_usage(problem: str, usages: Sequence[str]) -> Message:
    """A malformed command: what is wrong, then the usage line(s). Nothing was run."""
    shown = list(usages)[:12]
    body = "\n".join(f"`{esc(u)}`" for u in shown)
    # a multi-line problem (a filter with a caret under the fault) keeps its lines aligned
    problem, _, detail = problem.partition("\n")
    problem = problem if problem.endswith((".", "?", "!")) else problem + "."
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
    return Message(f"Failed: {problem}.{hint}", (section(f":x: {esc(problem)}{hint}"),))


def render_denied(action: str, reason: str) -> Message:
    """A permission denial. `reason` is mrkdwn written by permissions.decide()."""
    return Message(
        f"Denied: {action}. {reason}",
        (section(f":no_entry: *Denied: {esc(action)}.* {reason}. Nothing was changed."),),
    )


def with_requester(msg: Message, user: str, command_text: str) -> Message:
    """A public reply says who asked for it, and how."""
    return Message(
        msg.text,
        (*msg.blocks, context(f"requested by <@{user}> · `{esc(command_text)}`")),
    )
