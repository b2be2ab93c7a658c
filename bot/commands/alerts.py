"""`/kafka alerts`: what is firing now; and the buttons on an alert message.

- "Show lag" answers the clicker (ephemeral) with the group's lag, partition by partition,
  from the same engine as `/kafka lag GROUP`.
- "Snooze 1h" writes a `snoozed` record for the alert on the alerts topic: no new Slack
  message for it for an hour, on every replica (its resolution still updates the message).
  Audited with the Slack user as actor (action alert.snooze).

Button values come from Slack and are checked before use: an unknown cluster or a
malformed alert id gets an error reply and changes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from kafkaops.bot.render.alerts import (
    SHOW_LAG_ACTION,
    SNOOZE_ACTION,
    SNOOZE_SECONDS,
    render_alert_list,
    when,
)
from kafkaops.bot.render.common import Message, section
from kafkaops.bot.render.lag import render_group_lag
from kafkaops.bot.render.replies import render_error
from kafkaops.bot.respond import Responder
from kafkaops.core.alert_log import AlertLog
from kafkaops.core.alerts import AlertEvent
from kafkaops.core.errors import KafkaOpsError

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.bot")

_ALERT_ID = re.compile(r"^a-[0-9a-f]{20}$")


def register(bot: Bot, services: Services) -> None:
    bot.command("alerts", summary="alerts firing now (from the alerts topic)")(alerts)

    async def ack(ack: Any) -> None:
        await ack()

    async def show_lag(body: dict[str, Any]) -> None:
        responder = _responder(bot, body)
        await responder.ephemeral(await _show_lag(bot, _value(body)))

    async def snooze(body: dict[str, Any]) -> None:
        responder = _responder(bot, body)
        user = (body.get("user") or {}).get("id", "")
        await responder.ephemeral(await _snooze(bot, _value(body), user, body))

    bot.app.action(SHOW_LAG_ACTION)(ack=ack, lazy=[bot.once(show_lag)])
    bot.app.action(SNOOZE_ACTION)(ack=ack, lazy=[bot.once(snooze)])


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


async def _snooze(bot: Bot, alert_id: str, user: str, body: dict[str, Any]) -> Message:
    if not _ALERT_ID.match(alert_id):
        return render_error(f"{alert_id!r} is not an alert id; nothing was snoozed")
    now = time.time()
    until = now + SNOOZE_SECONDS
    alog = AlertLog(bot.services, by=user)
    try:
        await alog.publish([AlertEvent(type="snoozed", alert_id=alert_id, at=now, until=until,
                                       by=user)])
    except KafkaOpsError as e:
        return render_error(f"could not snooze {alert_id}: {bot.public(e)}", retriable=True)
    finally:
        await alog.stop()
    message = body.get("container") or {}
    await bot.audit(
        actor=user, action="alert.snooze", target=alert_id,
        params={"until": until, "seconds": SNOOZE_SECONDS,
                "channel": (body.get("channel") or {}).get("id", ""),
                "message_ts": message.get("message_ts", "")},
        result="ok", cluster=alog.cluster,
    )
    return Message(
        f"Snoozed {alert_id} for 1h",
        (section(f":zzz: Snoozed `{alert_id}` until {when(until)}: no new message for it "
                 "until then. If it resolves, its message still turns green."),),
    )
