"""`/kafka alerts`: what is firing now; and the buttons on an alert message.

- "Show lag" answers the clicker (ephemeral) with the group's lag, partition by partition,
  from the same engine as `/kafka lag GROUP`.
- "Snooze 1h", "Snooze 4h", "Snooze until resolved" write a `snoozed` record for the alert
  on the alerts topic: no new Slack message for it until then, on every replica (its
  resolution still updates the message); "Unsnooze" lifts it. Each needs the permission
  `alerts.snooze`: anyone else is told so and the refusal is audited. A snooze updates the
  alert's message in the channel (who, until when), and is audited with the Slack user as
  actor (alert.snooze, alert.unsnooze).

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
    SHOW_LAG_ACTION,
    SNOOZES,
    UNSNOOZE_ACTION,
    Snooze,
    render_alert_list,
    render_firing,
    when,
)
from kafkaops.bot.render.common import Message, section
from kafkaops.bot.render.lag import render_group_lag
from kafkaops.bot.render.replies import render_denied, render_error
from kafkaops.bot.respond import Responder
from kafkaops.core.alerts.log import AlertLog
from kafkaops.core.alerts.rules import AlertEvent, AlertView
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

    bot.app.action(SHOW_LAG_ACTION)(ack=ack, lazy=[bot.once(show_lag)])
    for action_id in (*SNOOZES, UNSNOOZE_ACTION):
        bot.app.action(action_id)(ack=ack, lazy=[bot.once(snooze(action_id))])


async def alerts(inv: Invocation) -> Message:
    book = await AlertLog(inv.services).read_book()
    body = render_alert_list(book.firing(), time.time())
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
    if lift:
        return Message(f"Unsnoozed {alert_id}", (section(
            f":bell: Lifted the snooze on `{alert_id}`: it is posted again when it fires."),))
    till = "it resolves" if until is None else when(until)
    return Message(
        f"Snoozed {alert_id} ({label})",
        (section(f":zzz: Snoozed `{alert_id}` until {till}: no new message for it "
                 "until then. If it resolves, its message still turns green."),),
    )


async def _show_snooze(bot: Bot, view: AlertView, container: dict[str, Any],
                       body: dict[str, Any], snoozed: Snooze | None, user: str) -> None:
    """The alert's message in the channel says who snoozed it until when (or who lifted
    it), so the channel sees it. The message is the one the alerts topic names, else the
    one clicked; an alert no longer firing keeps its resolved message as it is."""
    if view.state != "firing" or view.firing is None:
        return
    ref = view.message
    channel = ref.channel if ref else (body.get("channel") or {}).get("id")
    ts = ref.ts if ref else container.get("message_ts")
    if not channel or not ts:
        return
    payload = render_firing(view.firing, times=ref.times if ref else 1,
                            first_posted=ref.posted_at if ref else None, snoozed=snoozed,
                            lifted_by=None if snoozed else user)
    try:
        await bot.client.chat_update(channel=channel, ts=ts, **payload)
    except SlackApiError as e:
        log.warning("could not update alert %s's message %s: %s", view.alert_id, ts,
                    e.response.get("error"))
    except Exception as e:  # network: the snooze itself holds, the message is cosmetic
        log.warning("could not update alert %s's message %s: %r", view.alert_id, ts, e)
