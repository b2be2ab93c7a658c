"""`/kafka alerts`: what is firing now; and the buttons on an alert message.

- "Acknowledge" says who is on it: an `acked` record for the firing episode on the alerts
  topic (every replica's next update of the message keeps it), the message updated, a
  reply in its thread, an audit record (alert.ack). Anyone in the workspace may.
- "Runbook" is a link (Slack opens it); its click is acknowledged and nothing else.
- "Show lag" answers the clicker (ephemeral) with the group's lag, partition by partition,
  from the same engine as `/kafka lag GROUP`.
- "Snooze 1h", "Snooze 4h", "Snooze until resolved" write a `snoozed` record for the alert
  on the alerts topic: no new Slack message for it until then, on every replica (its
  resolution still updates the message); "Unsnooze" lifts it. Each needs the permission
  `alerts.snooze`: anyone else is told so and the refusal is audited. A snooze updates the
  alert's message in the channel (who, until when), replies in its thread, and is audited
  with the Slack user as actor (alert.snooze, alert.unsnooze).

Button values come from Slack and are checked before use: an unknown cluster or a
malformed alert id gets an error reply and changes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from kafkaops.bot.audit import plain
from kafkaops.bot.render.alerts import (
    ACK_ACTION,
    RUNBOOK_ACTION,
    SHOW_LAG_ACTION,
    SNOOZES,
    UNSNOOZE_ACTION,
    Ack,
    Snooze,
    render_ack_reply,
    render_alert_list,
    render_firing,
    render_snooze_reply,
    when,
)
from kafkaops.bot.render.common import Message, section
from kafkaops.bot.render.lag import render_group_lag
from kafkaops.bot.render.replies import render_denied, render_error
from kafkaops.bot.respond import Responder
from kafkaops.core.alerts.book import AlertView
from kafkaops.core.alerts.log import AlertLog
from kafkaops.core.alerts.model import AlertEvent
from kafkaops.core.errors import KafkaOpsError

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.bot")

_ALERT_ID = re.compile(r"^a-[0-9a-f]{20}$")
#: the permission every snooze button needs (listed under `permissions:` like the others)
SNOOZE_PERMISSION = "alerts.snooze"


def register(bot: Bot, services: Services) -> None:
    bot.command("alerts", summary="alerts firing now (from the alerts topic)")(alerts)

    async def ack(ack: Any) -> None:
        await ack()

    async def show_lag(body: dict[str, Any]) -> None:
        responder = _responder(bot, body)
        await responder.ephemeral(await _show_lag(bot, _value(body)))

    def snooze(action_id: str) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def run(body: dict[str, Any]) -> None:
            responder = _responder(bot, body)
            user = (body.get("user") or {}).get("id", "")
            await responder.ephemeral(await _snooze(bot, action_id, _value(body), user, body))

        return run

    async def acknowledge(body: dict[str, Any]) -> None:
        responder = _responder(bot, body)
        user = (body.get("user") or {}).get("id", "")
        await responder.ephemeral(await _ack(bot, _value(body), user, body))

    bot.app.action(SHOW_LAG_ACTION)(ack=ack, lazy=[bot.once(show_lag)])
    bot.app.action(ACK_ACTION)(ack=ack, lazy=[bot.once(acknowledge)])
    bot.app.action(RUNBOOK_ACTION)(ack)  # a link: Slack opens it, the click is only acked
    for action_id in (*SNOOZES, UNSNOOZE_ACTION):
        bot.app.action(action_id)(ack=ack, lazy=[bot.once(snooze(action_id))])


async def alerts(inv: Invocation) -> Message:
    book = await AlertLog(inv.services).read_book()
    body = render_alert_list(book.firing(), time.time(), page=inv.page, again=inv.again)
    return Message(body["text"], tuple(body["blocks"]))


def _value(body: dict[str, Any]) -> str:
    return str(((body.get("actions") or [{}])[0]).get("value", ""))


def _responder(bot: Bot, body: dict[str, Any]) -> Responder:
    container = body.get("container") or {}
    return Responder(
        bot.client, response_url=body.get("response_url"),
        channel=(body.get("channel") or {}).get("id"),
        user=(body.get("user") or {}).get("id", ""),
        message_ts=container.get("message_ts"),
        original_ephemeral=bool(container.get("is_ephemeral", False)),
    )


async def _show_lag(bot: Bot, value: str) -> Message:
    try:
        target = json.loads(value)
        cluster, group = str(target["cluster"]), str(target["group"])
    except (ValueError, KeyError, TypeError):
        return render_error("this button carries no consumer group; nothing was read")
    if cluster not in bot.config.clusters:
        return render_error(f"no cluster named {cluster!r} in this bot's config; nothing was "
                            "read")
    try:
        svc = await bot.services.lag(cluster)
        snap = await svc.snapshot([group], missing_ok=False)
    except KafkaOpsError as e:
        return render_error(bot.public(e, f"lag of {group}"), retriable=e.retriable)
    found = snap.group(group)
    assert found is not None  # missing_ok=False raised NotFound otherwise
    return render_group_lag(snap, found)


async def _snooze(bot: Bot, action_id: str, alert_id: str, user: str,
                  body: dict[str, Any]) -> Message:
    """A snooze (or unsnooze) button: permission alerts.snooze, then a `snoozed` record on
    the alerts topic, an audit record, and the alert's channel message updated to say who
    snoozed it until when."""
    lift = action_id == UNSNOOZE_ACTION
    verb = "unsnoozed" if lift else "snoozed"
    if not _ALERT_ID.match(alert_id):
        return render_error(f"{alert_id!r} is not an alert id; nothing was {verb}")
    label, seconds = ("Unsnooze", 0) if lift else SNOOZES[action_id]
    container = body.get("container") or {}
    params: dict[str, Any] = {
        "snooze": label, "channel": (body.get("channel") or {}).get("id", ""),
        "message_ts": container.get("message_ts", "")}
    action = "alert.unsnooze" if lift else "alert.snooze"
    alog = AlertLog(bot.services, by=user)
    decision = await bot.permissions.check(user, SNOOZE_PERMISSION)
    if not decision.allowed:
        await bot.audit(actor=user, action=action, target=alert_id, params=params,
                        result="refused", error=f"permission denied: {plain(decision.reason)}",
                        cluster=alog.cluster)
        return render_denied(SNOOZE_PERMISSION, decision.reason)
    now = time.time()
    until = None if seconds is None else (now + seconds if seconds else 0.0)
    try:
        view = (await alog.read_book()).get(alert_id)
        if view is None:
            return render_error(f"no alert {alert_id} on the alerts topic; nothing was {verb}")
        await alog.publish([AlertEvent(type="snoozed", alert_id=alert_id, at=now, until=until,
                                       seq=view.seq, by=user)])
    except KafkaOpsError as e:
        return render_error(f"could not {verb[:-1]} {alert_id}: {bot.public(e)}",
                            retriable=e.retriable)
    finally:
        await alog.stop()
    await bot.audit(actor=user, action=action, target=alert_id,
                    params={**params, "until": until}, result="ok", cluster=alog.cluster)
    await _show_snooze(bot, view, container, body, Snooze(user, until or None) if not lift
                       else None, user)
    await _reply(bot, view, container, body,
                 render_snooze_reply(user, until or None, lifted=lift))
    if lift:
        return Message(f"Unsnoozed {alert_id}", (section(
            f":bell: Lifted the snooze on `{alert_id}`: it is posted again when it fires."),))
    till = "it resolves" if until is None else when(until)
    return Message(
        f"Snoozed {alert_id} ({label})",
        (section(f":zzz: Snoozed `{alert_id}` until {till}: no new message for it "
                 "until then. If it resolves, its message still turns green."),),
    )


async def _ack(bot: Bot, alert_id: str, user: str, body: dict[str, Any]) -> Message:
    """Acknowledge: who is on the alert, on the topic (so every later update of its
    message keeps it), on its message, in its thread, and on the audit trail."""
    if not _ALERT_ID.match(alert_id):
        return render_error(f"{alert_id!r} is not an alert id; nothing was acknowledged")
    if not user:
        return render_error("this click names no Slack user; nothing was acknowledged")
    container = body.get("container") or {}
    alog = AlertLog(bot.services, by=user)
    now = time.time()
    try:
        view = (await alog.read_book()).get(alert_id)
        if view is None or view.state != "firing":
            state = "not on the alerts topic" if view is None else "no longer firing"
            return render_error(f"alert {alert_id} is {state}; nothing was acknowledged")
        if view.acked_by == user:
            return Message(f"You already acknowledged {alert_id}", (section(
                f":eyes: You acknowledged `{alert_id}` at {when(view.acked_at)}; nothing "
                "was changed."),))
        await alog.publish([AlertEvent(type="acked", alert_id=alert_id, at=now,
                                       seq=view.seq, by=user)])
    except KafkaOpsError as e:
        return render_error(f"could not acknowledge {alert_id}: {bot.public(e)}",
                            retriable=e.retriable)
    finally:
        await alog.stop()
    await bot.audit(actor=user, action="alert.ack", target=alert_id,
                    params={"channel": (body.get("channel") or {}).get("id", ""),
                            "message_ts": container.get("message_ts", "")},
                    result="ok", cluster=alog.cluster)
    view.acked_by, view.acked_at = user, now
    await _show(bot, view, container, body, _snooze_of(view, now), None)
    await _reply(bot, view, container, body, render_ack_reply(user, now))
    return Message(f"Acknowledged {alert_id}", (section(
        f":eyes: You are on `{alert_id}`: the channel's message and its thread say so."),))


def _snooze_of(view: AlertView, now: float) -> Snooze | None:
    if not view.snoozed(now):
        return None
    return Snooze(view.snoozed_by, view.snoozed_until)


def _where(view: AlertView, container: dict[str, Any], body: dict[str, Any]
           ) -> tuple[str | None, str | None]:
    """The alert's message: the one the alerts topic names, else the one clicked."""
    ref = view.message
    channel = ref.channel if ref else (body.get("channel") or {}).get("id")
    ts = ref.ts if ref else container.get("message_ts")
    return channel, ts


async def _reply(bot: Bot, view: AlertView, container: dict[str, Any], body: dict[str, Any],
                 reply: dict[str, Any]) -> None:
    """A reply in the alert's thread (who acknowledged or snoozed it, until when)."""
    channel, ts = _where(view, container, body)
    if not channel or not ts:
        return
    try:
        await bot.client.chat_postMessage(channel=channel, thread_ts=ts, **reply)
    except SlackApiError as e:
        log.warning("could not reply in alert %s's thread %s: %s", view.alert_id, ts,
                    e.response.get("error"))
    except Exception as e:  # network: what was recorded holds, the reply is cosmetic
        log.warning("could not reply in alert %s's thread %s: %r", view.alert_id, ts, e)


async def _show_snooze(bot: Bot, view: AlertView, container: dict[str, Any],
                       body: dict[str, Any], snoozed: Snooze | None, user: str) -> None:
    await _show(bot, view, container, body, snoozed, None if snoozed else user)


async def _show(bot: Bot, view: AlertView, container: dict[str, Any],
                body: dict[str, Any], snoozed: Snooze | None, lifted_by: str | None) -> None:
    """The alert's message in the channel says who is on it, who snoozed it until when (or
    who lifted it), so the channel sees it. The message is the one the alerts topic names,
    else the one clicked; an alert no longer firing keeps its resolved message as it is."""
    if view.state != "firing" or view.firing is None:
        return
    ref = view.message
    channel, ts = _where(view, container, body)
    if not channel or not ts:
        return
    acked = Ack(view.acked_by, view.acked_at) if view.acked_by else None
    payload = render_firing(view.firing, times=ref.times if ref else 1,
                            first_posted=ref.posted_at if ref else None, snoozed=snoozed,
                            lifted_by=lifted_by, acked=acked, worse=view.change,
                            command=bot.command_name)
    try:
        await bot.client.chat_update(channel=channel, ts=ts, **payload)
    except SlackApiError as e:
        log.warning("could not update alert %s's message %s: %s", view.alert_id, ts,
                    e.response.get("error"))
    except Exception as e:  # network: the snooze itself holds, the message is cosmetic
        log.warning("could not update alert %s's message %s: %r", view.alert_id, ts, e)
