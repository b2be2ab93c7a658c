"""Alerts and event notices in Slack. Pure functions of core's alert records
(core/alerts/model.py, core/alerts/book.py).

A firing alert is one message in its rule's channel (or its team's), in the severity's
colour, saying what is wrong, since when, who owns it (its owner @mentioned), who is on it
(Acknowledge), and what to do next (Show lag, Runbook, Snooze). Everything that happens to
the alert afterwards is a reply in that message's thread, and the message itself is kept
up to date:
- fired again within the renotify interval, or got markedly worse (`changed`): a thread
  reply also sent to the channel (`reply_broadcast`), so people are notified again;
- acknowledged, snoozed, unsnoozed: a thread reply saying who and until when;
- resolved: the message turns green ("resolved after 12m") and the thread says so.

Colour needs a legacy attachment (Block Kit blocks have none), so the blocks go inside
one attachment with `color`, and `text` carries the one line notifications show (with the
owner's mention, so the owner is notified).

Everything read from the alerts topic is untrusted: owners must look like Slack IDs and
runbooks like http(s) links, or they are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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
    page_of,
    pager,
    plural,
    printable_tree,
    row,
    section,
    who,
)
from kafkaops.core.alerts.book import Action, AlertView, MessageRef
from kafkaops.core.alerts.model import AlertEvent
from kafkaops.core.capabilities import say

COLORS = {"critical": "#D72B3F", "warning": "#E8A317", "info": "#439FE0",
          "resolved": "#2EB67D"}
EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:",
         "info": ":large_blue_circle:", "resolved": ":white_check_mark:"}
SHOW_LAG_ACTION = "kafkaops.alert.lag"
ACK_ACTION = "kafkaops.alert.ack"
RUNBOOK_ACTION = "kafkaops.alert.runbook"
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
_SLACK_ID = re.compile(r"^[SUW][A-Z0-9]{2,30}$")
_LINK = re.compile(r"^https?://[^\s<>|]{1,2990}$")


@dataclass(frozen=True)
class Snooze:
    """Who snoozed an alert and until when, as its message shows it."""

    by: str
    """Slack user ID."""
    until: float | None
    """Until then; None: until the alert resolves."""


@dataclass(frozen=True)
class Ack:
    """Who acknowledged an alert (is on it) and when."""

    by: str
    """Slack user ID."""
    at: float | None
    """When."""


def when(ts: float | None) -> str:
    """A time in mrkdwn that Slack shows in the reader's own time zone."""
    if ts is None:
        return "-"
    fallback = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def mentions(owner: tuple[str, ...] | list[str]) -> str:
    """An owner as Slack mentions (user groups <!subteam^S..>, users <@U..>); IDs that do
    not look like Slack's are left out (the alerts topic is not trusted)."""
    out = []
    for ident in owner[:10]:
        if not isinstance(ident, str) or not _SLACK_ID.match(ident):
            continue
        out.append(f"<!subteam^{ident}>" if ident.startswith("S") else f"<@{ident}>")
    return " ".join(out)


def runbook_link(ev: AlertEvent) -> str | None:
    """The rule's runbook when it is an http(s) link Slack accepts on a button."""
    link = ev.runbook
    return link if isinstance(link, str) and _LINK.match(link) else None


def _payload(text: str, color: str, blocks: list[Block], *, mention: str = ""
             ) -> dict[str, Any]:
    """chat.postMessage / chat.update arguments: notification text + coloured blocks.
    `text` is mrkdwn too, so what came from records and config is escaped there as well;
    `mention` (already checked) follows it so the owner is notified."""
    text = clip(esc(text), MAX_TEXT - len(mention) - 1) + (f" {mention}" if mention else "")
    return {
        "text": text,
        "attachments": [{"color": color, "fallback": text,
                         "blocks": printable_tree(blocks[:50])}],
    }


def _next_steps(ev: AlertEvent, *, snooze: bool, snoozed: Snooze | None = None,
                acked: Ack | None = None, command: str = "/kafka") -> list[Block]:
    s = ev.subject
    buttons = []
    if snooze and acked is None:
        buttons.append(button("Acknowledge", ACK_ACTION, ev.alert_id, style="primary"))
    if s.group is not None and s.cluster is not None:
        value = json.dumps({"cluster": s.cluster, "group": s.group}, separators=(",", ":"))
        buttons.append(button("Show lag", SHOW_LAG_ACTION, value))
    if s.connector is not None and s.cluster is not None and s.connect is not None:
        from kafkaops.bot.render.connect import connect_buttons

        buttons += connect_buttons({"cluster": s.cluster, "connect": s.connect,
                                    "connector": s.connector})
    link = runbook_link(ev)
    if link is not None:
        buttons.append({**button("Runbook", RUNBOOK_ACTION, ev.alert_id), "url": link})
    if snooze and snoozed is not None:
        buttons.append(button("Unsnooze", UNSNOOZE_ACTION, ev.alert_id))
    elif snooze:
        buttons += [button(label, action, ev.alert_id)
                    for action, (label, _) in SNOOZES.items()]
    blocks: list[Block] = []
    if buttons:
        blocks.append({"type": "actions", "block_id": f"kafkaops.alert.{ev.alert_id}",
                       "elements": buttons})
    hint = slack_command(ev, command)
    if hint:
        blocks.append(context(f"More: `{esc(hint)}`"))
    return blocks


def slack_command(ev: AlertEvent, command: str = "/kafka") -> str:
    """The slash command that shows an alert's subject."""
    s = ev.subject
    if s.pair is not None:
        return say("dr", "slack", command=command, pair=s.pair) or ""
    if s.cluster is None:
        return ""
    if s.group is not None:
        text = say("lag.group", "slack", command=command, group=s.group)
    elif s.connector is not None:
        text = say("connect.status", "slack", command=command, connector=s.connector)
        text = f"{text} --connect {s.connect}" if s.connect else text
    elif s.topic is not None and ("policy_violations" in ev.values
                                  or "policy_unknown" in ev.values):
        text = say("policy", "slack", command=command, topic=s.topic)
    elif s.topic is not None and "bytes_in_rate" in ev.values:
        text = say("usage", "slack", command=command, by="topic", topic=s.topic)
    elif s.topic is not None:
        text = say("topic", "slack", command=command, topic=s.topic)
    else:
        text = say("status", "slack", command=command, cluster=s.cluster)
        return text or ""
    return f"{text} --cluster {s.cluster}"


def _values(ev: AlertEvent) -> str:
    from kafkaops.core.alerts.metrics import show_value

    return ", ".join(f"{k} *{esc(show_value(k, _status(k, v)))}*" for k, v in ev.values.items())


def _status(metric: str, v: Any) -> Any:
    if metric == "status" and isinstance(v, str):
        from kafkaops.core.lag.status import Status

        try:
            return Status(v)
        except ValueError:
            return v
    return v


def _ack_line(acked: Ack | None) -> list[Block]:
    if acked is None or not acked.by:
        return []
    at = f" since {when(acked.at)}" if acked.at else ""
    return [context(f":eyes: {who(acked.by)} is on it (acknowledged{at})")]


def render_firing(ev: AlertEvent, *, times: int = 1, first_posted: float | None = None,
                  snoozed: Snooze | None = None, lifted_by: str | None = None,
                  acked: Ack | None = None, worse: AlertEvent | None = None,
                  command: str = "/kafka") -> dict[str, Any]:
    """A firing alert (times > 1: it fired again and this message stands for them all);
    `snoozed`: who snoozed it until when (and an Unsnooze button); `lifted_by`: who
    lifted a snooze; `acked`: who is on it; `worse`: the newest `changed` event (its
    values are the ones shown)."""
    sev = ev.severity if ev.severity in COLORS else "warning"
    label = ev.subject.label()
    now = worse or ev
    again = f" (fired again: {times} times since {when(first_posted)})" if times > 1 else ""
    text = f"{sev.upper()}: {ev.rule}: {label}: {_plain_values(now)}"
    held = ""
    if ev.since is not None:
        held = f"true since {when(ev.since)}"
        if ev.for_seconds:
            held += f" (for: {human_seconds(ev.for_seconds)})"
    owner = mentions(ev.owner)
    body = f"{EMOJI[sev]} *{esc(ev.rule)}* · *{sev.upper()}*{again}\n{esc(label)}: {_values(now)}"
    if worse is not None:
        body += f" (was {_values(ev)} when it fired)"
    if owner:
        body += f"\nOwner: {owner}"
    blocks: list[Block] = [
        section(body),
        context(f"Rule: `{esc(ev.when)}`" + (f" · {held}" if held else ""),
                f"Fired {when(ev.at)} · alert `{ev.alert_id}`"),
        *_ack_line(acked),
    ]
    if snoozed is not None:
        till = "it resolves" if snoozed.until is None else when(snoozed.until)
        blocks.append(context(f":zzz: Snoozed by {who(snoozed.by)} until {till}: no new "
                              "message for it until then; if it resolves, this one still "
                              "turns green."))
    elif lifted_by is not None:
        blocks.append(context(f":bell: Snooze lifted by {who(lifted_by)}."))
    blocks += _next_steps(ev, snooze=True, snoozed=snoozed, acked=acked, command=command)
    return _payload(text, COLORS[sev], blocks, mention=owner)


def render_resolved(resolved: AlertEvent, firing: AlertEvent | None, *,
                    times: int = 1, acked: Ack | None = None,
                    command: str = "/kafka") -> dict[str, Any]:
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
        *_ack_line(acked),
    ]
    blocks += _next_steps(ev, snooze=False, command=command)
    return _payload(text, COLORS["resolved"], blocks)


def render_notice(ev: AlertEvent) -> dict[str, Any]:
    """An event rule's notice: the rendered record, or a burst as one message with a count."""
    sev = ev.severity if ev.severity in COLORS else "warning"
    where = f"`{esc(ev.subject.topic or '')}` on {esc(ev.subject.cluster or '')}"
    owner = mentions(ev.owner)
    link = runbook_link(ev)
    extra: list[Block] = []
    if link is not None:
        extra.append({"type": "actions", "block_id": f"kafkaops.alert.{ev.alert_id}",
                      "elements": [{**button("Runbook", RUNBOOK_ACTION, ev.alert_id),
                                    "url": link}]})
    if ev.count <= 1:
        text = ev.text
        blocks: list[Block] = [
            section(esc(ev.text) or "(empty message)"),
            context(f"*{esc(ev.rule)}* · {where} · {when(ev.first_at)}"
                    + (f" · {owner}" if owner else "")),
            *extra,
        ]
        return _payload(text, COLORS[sev], blocks, mention=owner)
    distinct = sum(n for _, n in ev.examples)
    lines = [f"• {esc(clip(t, 300))}" + (f"  ×{n:,}" if n > 1 else "") for t, n in ev.examples]
    if ev.count > distinct:
        lines.append(f"• … {ev.count - distinct:,} more with other messages")
    text = f"{ev.rule}: {ev.count:,} matching records: {ev.text}"
    span = f"{when(ev.first_at)} – {when(ev.last_at)}"
    blocks = [
        section(f"{EMOJI[sev]} *{esc(ev.rule)}*: *{ev.count:,}* matching records on {where}"
                + (f"\nOwner: {owner}" if owner else "")),
        section("\n".join(lines)),
        context(span + " · grouped so the channel gets one message, not one per record"),
        *extra,
    ]
    return _payload(text, COLORS[sev], blocks, mention=owner)


def _acked(action: Action) -> Ack | None:
    return Ack(action.acked_by, action.acked_at) if action.acked_by else None


def render_action(action: Action, *, command: str = "/kafka") -> dict[str, Any]:
    """What the notifier sends for an action: the alert's message itself (posted, or the
    arguments of chat.update after channel/ts)."""
    msg: MessageRef | None = action.message
    if action.kind == "post":
        return render_firing(action.event, command=command)
    if action.kind == "refire":
        assert msg is not None
        return render_firing(action.event, times=msg.times + 1, first_posted=msg.posted_at,
                             command=command)
    if action.kind == "change":
        firing = action.firing or action.event
        return render_firing(firing, times=msg.times if msg else 1,
                             first_posted=msg.posted_at if msg else None,
                             acked=_acked(action), worse=action.event, command=command)
    if action.kind in ("resolve", "post_resolved"):
        return render_resolved(action.event, action.firing,
                               times=msg.times if msg is not None else 1,
                               acked=_acked(action), command=command)
    return render_notice(action.event)


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def thread_reply(text: str, mrkdwn: str, *, broadcast: bool = False) -> dict[str, Any]:
    """A reply in an alert's thread (chat.postMessage arguments after channel/thread_ts);
    `broadcast`: also shown in the channel, so it notifies like a new message."""
    out: dict[str, Any] = {"text": clip(text, MAX_TEXT),
                           "blocks": printable_tree([section(mrkdwn)])}
    if broadcast:
        out["reply_broadcast"] = True
    return out


def render_thread(action: Action) -> dict[str, Any] | None:
    """What an action says in the alert's thread (None: nothing, e.g. a first post)."""
    ev, msg = action.event, action.message
    owner = mentions(ev.owner)
    cc = f" {owner}" if owner else ""
    label = esc(ev.subject.label())
    if action.kind == "refire" and msg is not None:
        n = msg.times + 1
        since = human_seconds(ev.at - msg.posted_at)
        return thread_reply(
            f"{ev.rule} fired again ({_nth(n)} time in {since}): {ev.subject.label()}: "
            f"{_plain_values(ev)}",
            f":repeat: *Fired again* ({_nth(n)} time in {since}): {label}: {_values(ev)}{cc}",
            broadcast=True)
    if action.kind == "change":
        firing = action.firing
        was = f" (was {_values(firing)} when it fired)" if firing is not None else ""
        return thread_reply(
            f"{ev.rule} got worse: {ev.subject.label()}: {_plain_values(ev)}",
            f":chart_with_upwards_trend: *Worse*: {label}: {_values(ev)}{was}{cc}",
            broadcast=True)
    if action.kind == "resolve":
        fired_at = action.firing.at if action.firing is not None else ev.fired_at
        lasted = "" if fired_at is None else f" after {human_seconds(ev.at - fired_at)}"
        now = _values(ev)
        return thread_reply(
            f"{ev.rule} resolved{lasted}",
            f":white_check_mark: *Resolved{lasted}*" + (f": now {now}" if now else "")
            + f" · {when(ev.at)}")
    return None


def render_ack_reply(user: str, at: float) -> dict[str, Any]:
    return thread_reply(f"acknowledged by {user}",
                        f":eyes: {who(user)} acknowledged at {when(at)}: on it.")


def render_snooze_reply(user: str, until: float | None, *, lifted: bool) -> dict[str, Any]:
    if lifted:
        return thread_reply(f"snooze lifted by {user}",
                            f":bell: {who(user)} lifted the snooze: it is posted again when "
                            "it fires.")
    till = "it resolves" if until is None else when(until)
    return thread_reply(f"snoozed by {user}",
                        f":zzz: {who(user)} snoozed it until {till}: no new message for it "
                        "until then.")


def _plain_values(ev: AlertEvent) -> str:
    from kafkaops.core.alerts.metrics import show_value

    return ", ".join(f"{k} {show_value(k, _status(k, v))}" for k, v in ev.values.items())


def render_alert_list(firing: list[AlertView], now: float, *, page: int = 1,
                      again: Callable[[int], str] | None = None) -> dict[str, Any]:
    """`/kafka alerts`: what is firing now, oldest first, ten to a page; who is on each (or
    an Acknowledge button), who snoozed it until when."""
    if not firing:
        return {"text": "No alerts firing.",
                "blocks": [section(":white_check_mark: No alerts firing.")]}
    shown, _ = page_of(firing, page)
    blocks: list[Block] = [section(f"*{plural(len(firing), 'alert')} firing*, oldest first")]
    for v in shown:
        ev = v.firing or v.event
        sev = ev.severity if ev.severity in COLORS else "warning"
        notes = [f"for {human_seconds(now - v.fired_at)}"]
        if v.acked_by:
            notes.append(f"{who(v.acked_by)} is on it")
        if v.snoozed(now):
            till = "it resolves" if v.snoozed_until is None else when(v.snoozed_until)
            notes.append(f"snoozed until {till}"
                         + (f" by {who(v.snoozed_by)}" if v.snoozed_by else ""))
        text = (f"{EMOJI[sev]} *{esc(ev.rule)}* · {esc(ev.subject.label())}\n"
                f"{_values(v.change or ev)} · {' · '.join(notes)}")
        blocks.append(row(text, None if v.acked_by else button(
            "Acknowledge", ACK_ACTION, v.alert_id)))
    blocks += pager(len(firing), page, again, noun="alerts")
    return {"text": f"{plural(len(firing), 'alert')} firing", "blocks": blocks}
