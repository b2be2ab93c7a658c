"""Block Kit building blocks shared by every render function, and Slack's size limits.

Render functions are pure: core records in, a `Message` out. Nothing here talks to Slack.
Slack rejects a whole message when one block is over its limit, so every helper here
clips to the documented limits (section text 3,000 characters, header 150, 50 blocks a
message, 10 fields a section) and says what was left out instead of failing at 3 a.m.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkaops.core.textfmt import fmt, human_ms, plural, text_table  # noqa: F401 - re-exported
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


_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{4,}$")


def who(actor: str | None) -> str:
    """An actor as mrkdwn: a Slack user ID becomes a mention, anything else (user@host) text;
    nobody known (an empty ID) is said so, never an empty mention `<@>`."""
    if not actor:
        return "an unknown user"
    return f"<@{actor}>" if _SLACK_USER.match(actor) else esc(actor)


def clause(text: str) -> str:
    """Text that more will follow in the same sentence: without its closing full stop."""
    text = text.rstrip()
    while text.endswith(".") and not text.endswith("…"):
        text = text[:-1].rstrip()
    return text


def sentence(text: str) -> str:
    """Text as one sentence: one closing full stop (or its own ? ! …), never two."""
    text = clause(text)
    return text if text.endswith(("?", "!", "…")) else text + "."


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






#: rows a listing shows at once: what reads on a phone without scrolling past the point
PAGE_SIZE = 10
#: the widest line a code block may have: wider ones wrap on a phone and a table is lost
CODE_WIDTH = 60
#: buttons that run a command for whoever clicks them: `kafkaops.run.<n>` (unique within a
#: message), overflow menus `kafkaops.run.menu.<n>`; the value is the command's words
RUN_ACTION = "kafkaops.run"
#: Next / Previous of a listing: the same, replacing the listing when it is the clicker's
PAGE_ACTION = "kafkaops.page"
#: Slack's limits on a button's value and an overflow option's value
MAX_VALUE = 2000
MAX_OPTION_VALUE = 150


def run_words(words: Sequence[str], *names: str) -> str:
    """The words a button runs: the subcommand (the leading `words` that are not options),
    `names` (its positional arguments), then the options. Names come from the cluster
    (topics, groups, connectors, subjects) and may start with "-": then they go last,
    after `--`, so that a topic named `--public` is a topic, never an option."""
    n = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    head, options = list(words[:n]), list(words[n:])
    if any(name.startswith("-") for name in names):
        return shlex.join([*head, *options, "--", *names])
    return shlex.join([*head, *names, *options])


def run_button(text: str, command: str, n: int = 0, *, style: str | None = None
               ) -> Block | None:
    """A button running `command` (the words after the slash command) for whoever clicks
    it, exactly as if they had typed it: their permissions, a Confirm for a change. None
    when the command is longer than Slack lets a button carry."""
    if len(command) > MAX_VALUE:
        return None
    return button(text, f"{RUN_ACTION}.{n}", command, style)


def run_menu(options: Sequence[tuple[str, str]], n: int = 0) -> Block | None:
    """An overflow menu (⋯) of commands, each run for whoever picks it; None when none fit
    (an option's value is at most 150 characters)."""
    items = [{"text": {"type": "plain_text", "text": clip(label, 75), "emoji": True},
              "value": command} for label, command in options
             if len(command) <= MAX_OPTION_VALUE][:5]
    if not items:
        return None
    return {"type": "overflow", "action_id": f"{RUN_ACTION}.menu.{n}", "options": items}


def row(mrkdwn: str, accessory: Block | None = None) -> Block:
    """One item of a listing: a section (two short lines read best on a phone) with an
    optional button for its next action."""
    block = section(mrkdwn)
    if accessory is not None:
        block["accessory"] = accessory
    return block


def page_of(items: Sequence[Any], page: int, size: int = PAGE_SIZE) -> tuple[list[Any], int]:
    """The items of page `page` (1-based) and the index of its first item."""
    start = max(0, (page - 1) * size)
    return list(items[start:start + size]), start


def pager(total: int, page: int, again: Any = None, *, noun: str = "rows",
          size: int = PAGE_SIZE) -> list[Block]:
    """Where a page is in the listing ("11–20 of 45 groups") and Previous / Next buttons
    that ask for the neighbouring page (`again(n)`: the command text of page n; None: no
    buttons, the words say `--page N`)."""
    if total <= size and page == 1:
        return []
    pages = max(1, -(-total // size))
    first = (page - 1) * size + 1
    last = min(total, page * size)
    where = (f"{first:,}–{last:,} of {total:,} {noun}" if first <= total
             else f"no page {page}: {total:,} {noun} fill {pages} page{'s' * (pages != 1)}")
    buttons = []
    if again is not None:
        if page > 1:
            buttons.append(button("Previous", f"{PAGE_ACTION}.prev",
                                   again(min(page - 1, pages))))
        if page < pages:
            buttons.append(button(f"Next {min(size, total - page * size)}", f"{PAGE_ACTION}.next",
                                  again(page + 1)))
    out: list[Block] = [context(where + ("" if buttons or page >= pages else
                                         f" · `--page {page + 1}` for more"))]
    if buttons:
        out.append({"type": "actions", "block_id": "kafkaops.page", "elements": buttons})
    return out


def wrap_code(lines: Sequence[str], width: int = CODE_WIDTH) -> list[str]:
    """Lines for a code block, each at most `width` characters: a longer one goes on in
    the lines after it, indented (a phone would wrap it anyway, where the reader loses it)."""
    out: list[str] = []
    for ln in lines:
        ln = ln.rstrip()
        while len(ln) > width:
            out.append(ln[:width])
            ln = "  " + ln[width:]
        out.append(ln)
    return out


def code_sections(lines: Sequence[str], *, more: str = "", max_blocks: int = 10) -> list[Block]:
    """Lines in ``` sections, split so each stays under Slack's 3,000 characters.

    The header line is repeated at the top of each section. If the lines need more than
    `max_blocks` sections, the rest are left out and `more` (e.g. "… 120 more topics")
    closes the last one, so the reader knows the list is not complete.
    """
    if not lines:
        return []
    head, body = clip(lines[0].rstrip(), CODE_WIDTH), wrap_code(lines[1:])
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
