"""Alerts and event notices in Slack. Pure functions of core's alert records (core/alerts/rules.py).

A firing alert is one message in its rule's channel, in the severity's colour, saying what
is wrong, since when, and what to do next (buttons: show lag, snooze 1h; the CLI command
that shows the same). When it resolves the same message turns green and says how long it
fired ("resolved after 12m"); when it fires again soon after, the same message says so
("fired again, 3 times") instead of a new one flooding the channel.

Colour needs a legacy attachment (Block Kit blocks have none), so the blocks go inside
one attachment with `color`, and `text` carries the one line notifications show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafkaops.bot.render.common import (
    MAX_TEXT,
    Block,
    button,
    clip,
    context,
    esc,
    human_seconds,
    printable_tree,
    section,
    who,
)
from kafkaops.core.alerts.rules import Action, AlertEvent, AlertView, MessageRef

COLORS = {"critical": "#D72B3F", "warning": "#E8A317", "info": "#439FE0",
          "resolved": "#2EB67D"}
EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:",
         "info": ":large_blue_circle:", "resolved": ":white_check_mark:"}
SHOW_LAG_ACTION = "kafkaops.alert.lag"
SNOOZE_ACTION = "kafkaops.alert.snooze"  # 1h (the id older messages carry too)
SNOOZE_4H_ACTION = "kafkaops.alert.snooze.4h"
SNOOZE_RESOLVED_ACTION = "kafkaops.alert.snooze.resolved"
UNSNOOZE_ACTION = "kafkaops.alert.unsnooze"
#: snooze buttons: action id -> (label, seconds; None: until the alert resolves)
SNOOZES: dict[str, tuple[str, int | None]] = {
    SNOOZE_ACTION: ("Snooze 1h", 3600),
    SNOOZE_4H_ACTION: ("Snooze 4h", 4 * 3600),
    SNOOZE_RESOLVED_ACTION: ("Snooze until resolved", None),
}


@dataclass(frozen=True)
class Snooze:
    """Who snoozed an alert and until when, as its message shows it."""

    by: str
    """Slack user ID."""
    until: float | None
    """Until then; None: until the alert resolves."""


def when(ts: float | None) -> str:
    """A time in mrkdwn that Slack shows in the reader's own time zone."""
    if ts is None:
        return "-"
    fallback = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def _payload(text: str, color: str, blocks: list[Block]) -> dict[str, Any]:
    """chat.postMessage / chat.update arguments: notification text + coloured blocks.
    `text` is mrkdwn too, so what came from records and config is escaped there as well."""
    text = clip(esc(text), MAX_TEXT)
    return {
        "text": text,
        "attachments": [{"color": color, "fallback": text,
                         "blocks": printable_tree(blocks[:50])}],
    }


def _next_steps(ev: AlertEvent, *, snooze: bool, snoozed: Snooze | None = None
                ) -> list[Block]:
    s = ev.subject
    buttons = []
    if s.group is not None and s.cluster is not None:
        value = json.dumps({"cluster": s.cluster, "group": s.group}, separators=(",", ":"))
        buttons.append(button("Show lag", SHOW_LAG_ACTION, value))
    if s.connector is not None and s.cluster is not None and s.connect is not None:
        from kafkaops.bot.render.connect import connect_buttons

        buttons += connect_buttons({"cluster": s.cluster, "connect": s.connect,
                                    "connector": s.connector})
    if snooze and snoozed is not None:
        buttons.append(button("Unsnooze", UNSNOOZE_ACTION, ev.alert_id))
    elif snooze:
        buttons += [button(label, action, ev.alert_id)
                    for action, (label, _) in SNOOZES.items()]
    blocks: list[Block] = []
    if buttons:
        blocks.append({"type": "actions", "block_id": f"kafkaops.alert.{ev.alert_id}",
                       "elements": buttons})
    cmd, console = cli_command(ev), console_command(ev)
    if cmd:
        blocks.append(context(f"Terminal: `{esc(cmd)}` · console: `{esc(console)}`"))
    return blocks


def cli_command(ev: AlertEvent) -> str:
    """The kafkaops command that shows an alert's subject."""
    s = ev.subject
    if s.pair is not None:
        return f"kafkaops dr status --pair {s.pair}"
    if s.cluster is None:
        return ""
    if s.group is not None:
        return f"kafkaops -c {s.cluster} lag --group {s.group}"
    if s.connector is not None:
        return f"kafkaops -c {s.cluster} connect status {s.connector} --connect {s.connect}"
    if s.topic is not None and ("policy_violations" in ev.values
                                or "policy_unknown" in ev.values):
        return f"kafkaops -c {s.cluster} policy check --topic {s.topic}"
    if s.topic is not None and "bytes_in_rate" in ev.values:
        return f"kafkaops -c {s.cluster} usage --by topic --topic {s.topic}"
    if s.topic is not None:
        return f"kafkaops -c {s.cluster} topic {s.topic}"
    return f"kafkaops -c {s.cluster} cluster"


def console_command(ev: AlertEvent) -> str:
    """The console screen that shows an alert's subject."""
    s = ev.subject
    if s.pair is not None:
        return "kafkaops console --screen dr"
    screen = ("lag" if s.group is not None else "connect" if s.connector is not None
              else "compliance" if "policy_violations" in ev.values
              or "policy_unknown" in ev.values
              else "usage" if "bytes_in_rate" in ev.values
              else "topics" if s.topic is not None else "overview")
    return f"kafkaops -c {s.cluster} console --screen {screen}"


def _values(ev: AlertEvent) -> str:
    from kafkaops.core.alerts.rules import show_value

    return ", ".join(f"{k} *{esc(show_value(k, _status(k, v)))}*" for k, v in ev.values.items())


def _status(metric: str, v: Any) -> Any:
    if metric == "status" and isinstance(v, str):
        from kafkaops.core.lag.status import Status

        try:
            return Status(v)
        except ValueError:
            return v
    return v


def render_firing(ev: AlertEvent, *, times: int = 1, first_posted: float | None = None,
                  snoozed: Snooze | None = None, lifted_by: str | None = None
                  ) -> dict[str, Any]:
    """A firing alert (times > 1: it fired again and this message stands for them all);
    `snoozed`: who snoozed it until when (the channel sees it, and an Unsnooze button);
    `lifted_by`: who lifted a snooze."""
    sev = ev.severity if ev.severity in COLORS else "warning"
    label = ev.subject.label()
    again = f" (fired again: {times} times since {when(first_posted)})" if times > 1 else ""
    text = f"{sev.upper()}: {ev.rule}: {label}: {_plain_values(ev)}"
    held = ""
    if ev.since is not None:
        held = f"true since {when(ev.since)}"
        if ev.for_seconds:
            held += f" (for: {human_seconds(ev.for_seconds)})"
    blocks: list[Block] = [
        section(f"{EMOJI[sev]} *{esc(ev.rule)}* · *{sev.upper()}*{again}\n"
                f"{esc(label)}: {_values(ev)}"),
        context(f"Rule: `{esc(ev.when)}`" + (f" · {held}" if held else ""),
                f"Fired {when(ev.at)} · alert `{ev.alert_id}`"),
    ]
    if snoozed is not None:
        till = "it resolves" if snoozed.until is None else when(snoozed.until)
        blocks.append(context(f":zzz: Snoozed by {who(snoozed.by)} until {till}: no new "
                              "message for it until then; if it resolves, this one still "
                              "turns green."))
    elif lifted_by is not None:
        blocks.append(context(f":bell: Snooze lifted by {who(lifted_by)}."))
    blocks += _next_steps(ev, snooze=True, snoozed=snoozed)
    return _payload(text, COLORS[sev], blocks)


def render_resolved(resolved: AlertEvent, firing: AlertEvent | None, *,
                    times: int = 1) -> dict[str, Any]:
    """The alert's message once it resolved: green, and how long it fired."""
    fired_at = firing.at if firing is not None else resolved.fired_at
    lasted = "" if fired_at is None else f" after {human_seconds(resolved.at - fired_at)}"
    ev = firing or resolved
    label = ev.subject.label()
    text = f"RESOLVED{lasted}: {resolved.rule}: {label}"
    now_values = _values(resolved)
    was = f"\nWas: {_values(firing)}" if firing is not None and firing.values else ""
    body = (f"{EMOJI['resolved']} *{esc(resolved.rule)}* resolved{lasted}"
            + (f" (fired {times} times)" if times > 1 else "") + f"\n{esc(label)}"
            + (f": now {now_values}" if now_values else
               f": {esc(resolved.summary.split(': ', 1)[-1])}" if resolved.summary else "")
            + was)
    blocks: list[Block] = [
        section(body),
        context(f"Rule: `{esc(ev.when)}`",
                f"Fired {when(fired_at)} · resolved {when(resolved.at)} · alert "
                f"`{resolved.alert_id}`"),
    ]
    blocks += _next_steps(ev, snooze=False)
    return _payload(text, COLORS["resolved"], blocks)


def render_notice(ev: AlertEvent) -> dict[str, Any]:
    """An event rule's notice: the rendered record, or a burst as one message with a count."""
    sev = ev.severity if ev.severity in COLORS else "warning"
    where = f"`{esc(ev.subject.topic or '')}` on {esc(ev.subject.cluster or '')}"
    if ev.count <= 1:
        text = ev.text
        blocks: list[Block] = [
            section(esc(ev.text) or "(empty message)"),
            context(f"*{esc(ev.rule)}* · {where} · {when(ev.first_at)}"),
        ]
        return _payload(text, COLORS[sev], blocks)
    distinct = sum(n for _, n in ev.examples)
    lines = [f"• {esc(clip(t, 300))}" + (f"  ×{n:,}" if n > 1 else "") for t, n in ev.examples]
    if ev.count > distinct:
        lines.append(f"• … {ev.count - distinct:,} more with other messages")
    text = f"{ev.rule}: {ev.count:,} matching records: {ev.text}"
    span = f"{when(ev.first_at)} – {when(ev.last_at)}"
    blocks = [
        section(f"{EMOJI[sev]} *{esc(ev.rule)}*: *{ev.count:,}* matching records on {where}"),
        section("\n".join(lines)),
        context(span + " · grouped so the channel gets one message, not one per record"),
    ]
    return _payload(text, COLORS[sev], blocks)


def render_action(action: Action) -> dict[str, Any]:
    """What the notifier sends for an action (the arguments after channel/ts)."""
    msg: MessageRef | None = action.message
    if action.kind == "post":
        return render_firing(action.event)
    if action.kind == "refire":
        assert msg is not None
        return render_firing(action.event, times=msg.times + 1, first_posted=msg.posted_at)
    if action.kind in ("resolve", "post_resolved"):
        return render_resolved(action.event, action.firing,
                               times=msg.times if msg is not None else 1)
    return render_notice(action.event)


def _plain_values(ev: AlertEvent) -> str:
    from kafkaops.core.alerts.rules import show_value

    return ", ".join(f"{k} {show_value(k, _status(k, v))}" for k, v in ev.values.items())


def render_alert_list(firing: list[AlertView], now: float) -> dict[str, Any]:
    """`/kafka alerts`: what is firing now, oldest first."""
    if not firing:
        return {"text": "No alerts firing.",
                "blocks": [section(":white_check_mark: No alerts firing.")]}
    lines = []
    for v in firing[:40]:
        ev = v.firing or v.event
        sev = ev.severity if ev.severity in COLORS else "warning"
        snoozed = ""
        if v.snoozed(now):
            till = "it resolves" if v.snoozed_until is None else when(v.snoozed_until)
            snoozed = f" · snoozed until {till}" + (
                f" by {who(v.snoozed_by)}" if v.snoozed_by else "")
        lines.append(f"{EMOJI[sev]} *{esc(ev.rule)}* · {esc(ev.subject.label())}: "
                     f"{_values(ev)} · for {human_seconds(now - v.fired_at)}{snoozed}")
    more = f"\n… {len(firing) - 40} more" if len(firing) > 40 else ""
    text = f"{len(firing)} alert(s) firing"
    chunks: list[Block] = []
    buf: list[str] = []
    for ln in lines:
        if sum(len(x) + 1 for x in buf) + len(ln) > 2800:
            chunks.append(section("\n".join(buf)))
            buf = []
        buf.append(ln)
    if buf:
        chunks.append(section("\n".join(buf) + more))
    return {"text": text, "blocks": [section(f"*{text}*"), *chunks]}
