"""Block Kit building blocks shared by every render function, and Slack's size limits.

Render functions are pure: core records in, a `Message` out. Nothing here talks to Slack.
Slack rejects a whole message when one block is over its limit, so every helper here
clips to the documented limits (section text 3,000 characters, header 150, 50 blocks a
message, 10 fields a section) and says what was left out instead of failing at 3 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkaops.core.textfmt import fmt, human_ms, text_table  # noqa: F401 - re-exported
from kafkaops.core.untrusted import printable

#: https://api.slack.com/reference/block-kit/blocks: limits of the blocks used here
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BLOCKS = 50
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
#: the fallback text shown in notifications; Slack truncates messages beyond 40,000
MAX_TEXT = 3000

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """A reply as Slack receives it: notification text plus Block Kit blocks."""

    text: str
    """Fallback text: notifications, screen readers, clients without Block Kit."""
    blocks: tuple[Block, ...] = field(default_factory=tuple)
    """Block Kit blocks, at most 50."""

    def to_slack(self) -> dict[str, Any]:
        """The `text` and `blocks` arguments of chat.postMessage / response_url. Control
        characters left in any text are shown as escapes (the last guard; `esc` and the
        table cells escape record text where it is put in)."""
        out: dict[str, Any] = {"text": printable(clip(self.text, MAX_TEXT), multiline=True)}
        if self.blocks:
            out["blocks"] = printable_tree(list(self.blocks[:MAX_BLOCKS]))
        return out


def printable_tree(data: Any) -> Any:
    if isinstance(data, str):
        return printable(data, multiline=True)
    if isinstance(data, list):
        return [printable_tree(x) for x in data]
    if isinstance(data, dict):
        return {k: printable_tree(v) for k, v in data.items()}
    return data


def esc(text: object) -> str:
    """Escape the three characters mrkdwn gives meaning to (& < >) in text we did not write,
    and show its control characters as escapes (core/untrusted.printable)."""
    return printable(str(text), multiline=True).replace("&", "&amp;").replace(
        "<", "&lt;").replace(">", "&gt;")


_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")


def who(actor: str) -> str:
    """An actor as mrkdwn: a Slack user ID becomes a mention, anything else (user@host) text."""
    return f"<@{actor}>" if _SLACK_USER.match(actor) else esc(actor)


def clip(text: str, limit: int, marker: str = "…") -> str:
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_TEXT), "emoji": True},
    }


def section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn, MAX_SECTION_TEXT)}}


def fields(pairs: Iterable[tuple[str, str]]) -> Block:
    """A section of label/value pairs shown two per row (at most 10)."""
    items = [
        {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", MAX_FIELD_TEXT)}
        for label, value in list(pairs)[:MAX_FIELDS]
    ]
    return {"type": "section", "fields": items}


def context(*mrkdwn: str) -> Block:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": clip(t, MAX_SECTION_TEXT)} for t in mrkdwn[:10] if t
        ],
    }


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b






def code_sections(lines: Sequence[str], *, more: str = "", max_blocks: int = 10) -> list[Block]:
    """Lines in ``` sections, split so each stays under Slack's 3,000 characters.

    The header line is repeated at the top of each section. If the lines need more than
    `max_blocks` sections, the rest are left out and `more` (e.g. "… 120 more topics")
    closes the last one, so the reader knows the list is not complete.
    """
    if not lines:
        return []
    head, body = lines[0], list(lines[1:])
    budget = MAX_SECTION_TEXT - len("```\n\n```") - len(head) - 1 - 80  # room for `more`
    chunks: list[list[str]] = [[]]
    size = 0
    for ln in body:
        ln = esc(clip(ln, budget))
        if chunks[-1] and size + len(ln) + 1 > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(ln)
        size += len(ln) + 1
    left_out = 0
    if len(chunks) > max_blocks:
        left_out = sum(len(c) for c in chunks[max_blocks:])
        chunks = chunks[:max_blocks]
    blocks = []
    for i, chunk in enumerate(chunks):
        text = "```\n" + "\n".join([esc(head), *chunk]) + "\n```"
        if i == len(chunks) - 1:
            if left_out:
                text += f"\n… {left_out:,} more rows not shown"
            if more:
                text += "\n" + more
        blocks.append(section(text))
    return blocks




def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 flag`, `2 flags`, `1,204 records`."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def human_seconds(seconds: float | None) -> str:
    """A duration as on-call people say it: 45s, 12m 5s, 3h 20m, 2d 4h; '-' when unknown."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m" if s % 3600 // 60 else f"{s // 3600}h"
    return f"{s // 86400}d {s % 86400 // 3600}h" if s % 86400 // 3600 else f"{s // 86400}d"
