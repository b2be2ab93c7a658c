"""Feature flags in Slack: the list, one flag, its history, evaluations, and the summary a
write's confirmation shows. Pure functions of core's flag records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kafkaops.bot.render.common import (
    Block,
    Message,
    code_sections,
    context,
    esc,
    fields,
    header,
    section,
    text_table,
    who,
)
from kafkaops.core.flags.service import Evaluation, FlagChange, FlagState, state_summary


def short(value: Any, width: int = 30) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def when(iso: str) -> str:
    """2026-11-25T14:03:05.12Z -> 2026-11-25 14:03Z"""
    return iso.replace("T", " ")[:16] + "Z" if iso else "-"


def on_off(enabled: bool) -> str:
    return "on" if enabled else "off"


def render_flag_list(cluster: str, flags: Sequence[FlagState], *, tag: str | None) -> Message:
    what = f" tagged `{esc(tag)}`" if tag else ""
    if not flags:
        return Message(f"no flags on {cluster}", (section(f"No flags{what} on *{esc(cluster)}*."),))
    lines = text_table(
        ["FLAG", "STATE", "ROLLOUT", "VALUE", "OWNER", "VER", "LAST CHANGE"],
        [
            (
                f.key + (" !" if f.critical else ""),
                on_off(f.enabled),
                f"{f.rollout:g}%",
                short(f.value, 20),
                f.owner or None,
                f.version,
                f"{when(f.updated_at)} {f.updated_by}".strip(),
            )
            for f in flags
        ],
        right=(2, 5),
    )
    blocks: list[Block] = [
        header(f"Flags on {cluster}"),
        context(f"{len(flags)} flag{'s' if len(flags) != 1 else ''}{what} · `!` critical"),
        *code_sections(lines, max_blocks=8),
    ]
    on = sum(1 for f in flags if f.enabled)
    return Message(f"{len(flags)} flags on {cluster}, {on} on", tuple(blocks))


def render_flag(cluster: str, s: FlagState) -> Message:
    variants = ", ".join(f"{v.name}:{v.weight}={short(v.value, 20)}" for v in s.variants)
    blocks: list[Block] = [
        header(f"Flag {s.key}"),
        section(
            f"*{esc(s.key)}* is *{on_off(s.enabled)}*"
            + (f", {s.rollout:g}% rollout" if s.rollout < 100 else "")
            + (" · :warning: tagged critical" if s.critical else "")
            + (f"\n{esc(s.description)}" if s.description else "")
        ),
        fields(
            [
                ("Value (when on)", f"`{esc(short(s.value, 60))}`"),
                ("Default (when off)", f"`{esc(short(s.default, 60))}`"),
                ("Type", s.type),
                ("Version", str(s.version)),
                ("Owner", esc(s.owner or "-")),
                ("Tags", esc(", ".join(s.tags) or "-")),
                ("Variants", esc(variants or "-")),
                ("Rules", esc("; ".join(str(r) for r in s.rules) or "-")),
            ]
        ),
        context(
            f"cluster `{esc(cluster)}` · last change {when(s.updated_at)} by "
            f"{who(s.updated_by or '-')}" + (f": _{esc(s.reason)}_" if s.reason else "")
        ),
    ]
    return Message(f"flag {s.key}: {state_summary(s)}", tuple(blocks))


def render_flag_history(
    key: str, changes: Sequence[FlagChange], *, limit: int = 15, start: int | None = None
) -> Message:
    shown = list(changes)[-limit:]
    lines = text_table(
        ["WHEN", "OP", "VER", "BY", "OUTCOME", "DETAIL"],
        [
            (
                when(c.at),
                c.op,
                c.version if c.version is not None else "(deleted)",
                c.by,
                c.outcome,
                c.note
                or (
                    (state_summary(c.state) if c.state else "")
                    + (f" — {c.reason}" if c.reason else "")
                ),
            )
            for c in reversed(shown)
        ],
        right=(2,),
    )
    notes = [f"newest first; {len(shown)} of {len(changes)} changes"]
    if start:
        notes.append(f"history starts at offset {start} (older records were compacted)")
    notes.append(f"roll back with `rollback {esc(key)} VERSION`")
    blocks: list[Block] = [
        header(f"History of {key}"),
        context(" · ".join(notes)),
        *code_sections(lines, max_blocks=6),
    ]
    return Message(f"{len(changes)} changes of flag {key}", tuple(blocks))


def render_evaluations(key: str, results: Sequence[Evaluation]) -> Message:
    lines = text_table(
        ["USER", "VALUE", "REASON", "DETAIL"],
        [(e.user, short(e.value, 24), e.reason, e.detail) for e in results],
    )
    stale = any(e.stale for e in results)
    blocks: list[Block] = [
        section(f"*{esc(key)}* for {len(results)} user{'s' if len(results) != 1 else ''}"),
        *code_sections(lines, max_blocks=4),
    ]
    if stale:
        blocks.append(context(":warning: evaluated on a state that may be out of date"))
    return Message(
        f"{key}: " + "; ".join(f"{e.user}={short(e.value, 20)} ({e.reason})" for e in results),
        tuple(blocks),
    )


def render_flag_change(before: FlagState, change: str, after: str) -> Message:
    """What a flag write will do, for its confirmation: the change, and from what."""
    lines = [
        f"*{esc(before.key)}*: {esc(change)}",
        f"now: {esc(state_summary(before))}",
        f"after: {esc(after)}",
    ]
    if before.critical:
        lines.append(":warning: this flag is tagged *critical*")
    blocks: list[Block] = [section("\n".join(lines))]
    if before.owner:
        blocks.append(context(f"owner: {esc(before.owner)}"))
    return Message(f"{before.key}: {change}", tuple(blocks))


def render_flag_written(cluster: str, state: FlagState | None, key: str, op: str) -> Message:
    if state is None:
        return Message(
            f"flag {key} deleted", (section(f":white_check_mark: *{esc(key)}* deleted"),)
        )
    return Message(
        f"flag {key}: {state_summary(state)}",
        (
            section(f":white_check_mark: *{esc(key)}* ({esc(op)}): {esc(state_summary(state))}"),
            context(
                f"cluster `{esc(cluster)}` · written and read back as version "
                f"{state.version}; audited"
            ),
        ),
    )
