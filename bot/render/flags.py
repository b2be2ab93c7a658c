"""Feature flags in Slack: the list, one flag, its history, evaluations, and the summary a
write's confirmation shows. Pure functions of core's flag records."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from kafkaops.bot.render.common import (
    Block,
    Message,
    clip,
    context,
    esc,
    fields,
    header,
    page_of,
    pager,
    plural,
    row,
    run_button,
    run_menu,
    run_words,
    section,
    who,
)
from kafkaops.core.flags.service import (
    Evaluation,
    FlagChange,
    FlagPlan,
    FlagState,
    state_summary,
)


def short(value: Any, width: int = 30) -> str:
    # ensure_ascii=False: a value "🚧" reads as itself, not as \ud83d\udea7
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def when(iso: str) -> str:
    """2026-11-25T14:03:05.12Z -> 2026-11-25 14:03Z"""
    return iso.replace("T", " ")[:16] + "Z" if iso else "-"


def on_off(enabled: bool) -> str:
    return "on" if enabled else "off"


def flag_actions(cluster: str, f: FlagState) -> list[tuple[str, str]]:
    """The next actions on a flag, as commands (each asks for Confirm when run)."""
    base = ["--cluster", cluster]
    out = [(f"Turn {on_off(not f.enabled)}",
            run_words(["flag", "toggle", "--on" if not f.enabled else "--off", *base], f.key))]
    for pct in (10, 50, 100):
        if f.rollout != pct:
            out.append((f"Rollout {pct}%", run_words(["flag", "rollout", *base], f.key,
                                                      str(pct))))
    out.append(("History", run_words(["flag", "history", *base], f.key)))
    return out


def render_flag_list(cluster: str, flags: Sequence[FlagState], *, tag: str | None,
                     page: int = 1, again: Callable[[int], str] | None = None) -> Message:
    what = f" tagged `{esc(tag)}`" if tag else ""
    if not flags:
        return Message(f"no flags on {cluster}", (section(f"No flags{what} on *{esc(cluster)}*."),))
    shown, start = page_of(flags, page)
    blocks: list[Block] = [
        header(f"Flags on {cluster}"),
        context(f"{plural(len(flags), 'flag')}{what} · ⋯ on a flag: turn it on or off, roll "
                "it out, its history (each asks you to Confirm)"),
    ]
    for i, f in enumerate(shown):
        mark = ":large_green_circle:" if f.enabled else ":white_circle:"
        rollout = f" · {f.rollout:g}%" if f.enabled and f.rollout < 100 else ""
        crit = " · :warning: critical" if f.critical else ""
        who_ = f" by {who(f.updated_by)}" if f.updated_by else ""
        blocks.append(row(
            f"{mark} *{esc(f.key)}* · *{on_off(f.enabled)}*{rollout} · v{f.version}{crit}\n"
            f"value `{esc(short(f.value, 30))}` · owner {esc(f.owner or '-')} · "
            f"{when(f.updated_at)}{who_}",
            run_menu(flag_actions(cluster, f), start + i)))
    blocks += pager(len(flags), page, again, noun="flags")
    on = sum(1 for f in flags if f.enabled)
    return Message(f"{plural(len(flags), 'flag')} on {cluster}, {on} on", tuple(blocks))


def render_flag(cluster: str, s: FlagState) -> Message:
    variants = ", ".join(f"{v.name}:{v.weight}={short(v.value, 20)}" for v in s.variants)
    buttons = [b for i, (label, cmd) in enumerate(flag_actions(cluster, s))
               if (b := run_button(label, cmd, i))]
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
        {"type": "actions", "block_id": "kafkaops.flag.next", "elements": buttons},
        context(
            f"cluster `{esc(cluster)}` · last change {when(s.updated_at)} by "
            f"{who(s.updated_by or '-')}" + (f": _{esc(s.reason)}_" if s.reason else "")
            + " · each button asks you to Confirm"
        ),
    ]
    return Message(f"flag {s.key}: {state_summary(s)}", tuple(blocks))


def render_flag_history(
    key: str, changes: Sequence[FlagChange], *, start: int | None = None, page: int = 1,
    again: Callable[[int], str] | None = None, command: str = "/kafka",
) -> Message:
    newest = list(reversed(changes))
    shown, _ = page_of(newest, page)
    lines = []
    for c in shown:
        ver = "deleted" if c.version is None else f"v{c.version}"
        detail = c.note or ((state_summary(c.state) if c.state else "")
                            + (f" — {c.reason}" if c.reason else ""))
        lines.append(f"*{ver}* {esc(c.op)} · {esc(c.outcome)} · {when(c.at)} by {who(c.by)}"
                     + (f"\n      {esc(clip(detail, 120))}" if detail else ""))
    notes = ["newest first"]
    if start:
        notes.append(f"history starts at offset {start} (older records were compacted)")
    notes.append(f"roll back with `{esc(command)} flag rollback {esc(key)} VERSION`")
    blocks: list[Block] = [
        header(f"History of {key}"),
        section("\n".join(lines) or "No changes on the topic."),
        *pager(len(newest), page, again, noun="changes"),
        context(" · ".join(notes)),
    ]
    return Message(f"{plural(len(changes), 'change')} of flag {key}", tuple(blocks))


def render_evaluations(key: str, results: Sequence[Evaluation]) -> Message:
    lines = [f"*{esc(e.user)}* gets `{esc(short(e.value, 30))}` · {esc(e.reason)}"
             + (f" ({esc(clip(e.detail, 80))})" if e.detail else "") for e in results[:20]]
    stale = any(e.stale for e in results)
    blocks: list[Block] = [
        section(f"*{esc(key)}* for {plural(len(results), 'user')}"),
        section("\n".join(lines)),
    ]
    if stale:
        blocks.append(context(":warning: evaluated on a state that may be out of date"))
    return Message(
        f"{key}: " + "; ".join(f"{e.user}={short(e.value, 20)} ({e.reason})" for e in results),
        tuple(blocks),
    )


def render_flag_change(before: FlagState, change: str, after: str) -> Message:
    """What a flag write will do, for its confirmation: the change, and from what."""
    return _change_lines(before, [f"{before.key}: {change}", f"now: {state_summary(before)}",
                                  f"after: {after}"], change)


def render_flag_plan(plan: FlagPlan) -> Message:
    """Core's plan of a flag change, for its confirmation: its describe() lines."""
    assert plan.before is not None  # Slack changes existing flags only
    return _change_lines(plan.before, list(plan.describe()), plan.change)


def _change_lines(before: FlagState, lines: list[str], change: str) -> Message:
    head = f"{before.key}: "
    first = lines[0].removeprefix(head)
    shown = [f"*{esc(before.key)}*: {esc(first)}", *(esc(line) for line in lines[1:])]
    if before.critical:
        shown.append(":warning: this flag is tagged *critical*")
    blocks: list[Block] = [section("\n".join(shown))]
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
