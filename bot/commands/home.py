"""Slack surfaces beyond the slash command: the App Home tab, `@kafkaops` mentions and the
"Investigate" message shortcut.

- App Home (`app_home_opened` -> `views.publish`): the on-call view, read from the live
  clusters each time the tab is opened (or Refresh is clicked): alerts firing, consumer
  groups behind, DR pairs, the newest changes. Each cluster is asked within core's reach
  limit (core/kafka/reach.py); one that does not answer is shown as UNKNOWN with when it last
  answered, never as OK.
- `@kafkaops lag billing-service` in a channel answers as `/kafka lag billing-service`
  would, in the mention's thread, for everyone there (a change still asks for Confirm,
  which only the requester or a permitted role can click).
- The "Investigate" shortcut on a message: the topics and consumer groups it names (of
  the default cluster) are looked up, each answered as `/kafka topic NAME` or `/kafka lag
  NAME` would, to the person who used it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shlex
import time
from typing import TYPE_CHECKING, Any

from kafkaops.bot.render.common import Message, context, esc, section
from kafkaops.bot.render.views import HOME_REFRESH_ACTION, ClusterLag, HomeState, render_home
from kafkaops.bot.respond import Responder
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.lag.status import Status

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.bot")

#: the message shortcut's callback id (bot/manifest.yaml)
INVESTIGATE = "kafkaops.investigate"
#: at most this many names of one message are looked up
MAX_INVESTIGATE = 3
#: each part of the Home tab waits at most this long for its clusters
HOME_TIMEOUT = 15.0
_MENTION = re.compile(r"^\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>\s*)+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{1,248}")


def register(bot: Bot, services: Services) -> None:
    async def ack(ack: Any) -> None:
        await ack()

    async def home_opened(body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        if event.get("tab", "home") != "home":
            return
        await publish_home(bot, str(event.get("user", "")))

    async def home_refresh(body: dict[str, Any]) -> None:
        await publish_home(bot, str((body.get("user") or {}).get("id", "")))

    async def mentioned(body: dict[str, Any]) -> None:
        await answer_mention(bot, body.get("event") or {})

    async def investigate(body: dict[str, Any]) -> None:
        await answer_investigate(bot, body)

    bot.app.event("app_home_opened")(ack=ack, lazy=[bot.once(home_opened)])
    bot.app.action(HOME_REFRESH_ACTION)(ack=ack, lazy=[bot.once(home_refresh)])
    bot.app.event("app_mention")(ack=ack, lazy=[bot.once(mentioned)])
    bot.app.shortcut(INVESTIGATE)(ack=ack, lazy=[bot.once(investigate)])


# ---------------------------------------------------------------- App Home


async def home_state(bot: Bot) -> HomeState:
    """Everything the Home tab shows, each part read concurrently from the live clusters;
    what did not answer is said so."""
    from kafkaops.core.alerts.log import AlertLog
    from kafkaops.core.audit.trails import list_trails
    from kafkaops.core.dr.status import DrService
    from kafkaops.core.kafka.reach import answering, last_answers

    services = bot.services
    clusters = list(bot.config.clusters)

    async def alerts() -> tuple[tuple[Any, ...] | None, str | None]:
        alog = AlertLog(services)
        try:
            async with asyncio.timeout(HOME_TIMEOUT):
                book = await answering(services, [alog.cluster], alog.read_book)
            return tuple(book.firing()), None
        except (KafkaOpsError, TimeoutError) as e:
            return None, _unknown(bot, e, alog.cluster)
        finally:
            await alog.stop()

    async def lag(cluster: str) -> ClusterLag:
        try:
            async def read() -> Any:
                return await (await services.lag(cluster)).snapshot()

            async with asyncio.timeout(HOME_TIMEOUT):
                snap = await answering(services, [cluster], read)
        except (KafkaOpsError, TimeoutError) as e:
            with contextlib.suppress(Exception):
                await services.drop(cluster)
            return ClusterLag(cluster, error=_unknown(bot, e, cluster),
                              last_answer=last_answers(services).last(cluster))
        from kafkaops.bot.render.lag import attention_order

        behind = tuple(g for g in attention_order(snap.groups)
                       if g.status.severity > Status.OK.severity)
        return ClusterLag(cluster, behind, len(snap.groups))

    async def dr() -> tuple[tuple[Any, ...], str | None]:
        if not bot.config.dr.pairs:
            return (), None
        try:
            async with asyncio.timeout(HOME_TIMEOUT):
                return tuple(await DrService(services).statuses()), None
        except (KafkaOpsError, TimeoutError) as e:
            return (), _unknown(bot, e, "")

    async def changes() -> tuple[tuple[Any, ...], str | None]:
        try:
            async with asyncio.timeout(HOME_TIMEOUT):
                listing = await list_trails(services, clusters, limit=8)
        except (KafkaOpsError, TimeoutError) as e:
            return (), _unknown(bot, e, "")
        unread = ", ".join(t.cluster for t in listing.unread)
        return (tuple(reversed(listing.records)),
                f"the trails of {unread} did not answer: their changes are unknown"
                if unread else None)

    (fired, fired_error), lags, (pairs, dr_error), (recent, recent_error) = await asyncio.gather(
        alerts(), asyncio.gather(*(lag(c) for c in clusters)), dr(), changes())
    return HomeState(time.time(), fired, fired_error, len(bot.config.alerts.rules),
                     tuple(lags), pairs, dr_error, recent, recent_error)


def _unknown(bot: Bot, e: BaseException, cluster: str) -> str:
    if isinstance(e, TimeoutError):
        return f"no answer within {HOME_TIMEOUT:.0f} s" + (f" from {cluster}" if cluster else "")
    return bot.public(e, f"home tab ({cluster or 'DR'})")


async def publish_home(bot: Bot, user: str) -> None:
    """Read the on-call view and publish it as the user's Home tab."""
    if not user:
        return
    view = render_home(await home_state(bot), command=bot.command_name)
    try:
        await bot.client.views_publish(user_id=user, view=view)
    except Exception as e:  # Slack refused or is unreachable: the next open tries again
        log.warning("could not publish the Home tab for %s: %s", user, e)


# ---------------------------------------------------------------- @kafkaops


def mention_text(text: str) -> str:
    """What follows the bot's @mention: `<@U0BOT> lag billing` -> `lag billing`."""
    return _MENTION.sub("", text or "").strip()


async def answer_mention(bot: Bot, event: dict[str, Any]) -> None:
    """`@kafkaops ...` answered as `/kafka ...`, in the mention's thread, for everyone
    there (it says who asked)."""
    if event.get("bot_id") or event.get("subtype"):
        return  # a bot's own message, an edit: not a request
    user = str(event.get("user", ""))
    channel = str(event.get("channel", ""))
    ts = str(event.get("thread_ts") or event.get("ts") or "")
    if not user or not channel or not ts:
        return
    text = mention_text(str(event.get("text", "")))
    msg = await bot.answer(text or "help", user=user, user_name="", channel=channel,
                           public=True)
    try:
        await bot.client.chat_postMessage(channel=channel, thread_ts=ts, **msg.to_slack())
    except Exception as e:
        log.warning("could not answer a mention in %s: %s", channel, e)


# ---------------------------------------------------------------- Investigate


async def answer_investigate(bot: Bot, body: dict[str, Any]) -> None:
    """The topics and groups a message names, each looked up for the person who asked."""
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", ""))
    responder = Responder(bot.client, response_url=body.get("response_url"), channel=channel,
                          user=user)
    message = body.get("message") or {}
    words = list(dict.fromkeys(_WORD.findall(str(message.get("text", "")))))
    cluster = bot.services.cluster_name
    try:
        topics = {t.name for t in await (await bot.services.topics(cluster)).list_topics(
            offsets=False)}
        groups = set(await (await bot.services.lag(cluster)).list_groups())
    except KafkaOpsError as e:
        await responder.ephemeral(Message(f"Could not look: {bot.public(e)}", (section(
            f":x: Could not read the topics and groups of `{esc(cluster)}`: "
            f"{esc(bot.public(e))}"),)))
        return
    found = [("lag", w) if w in groups else ("topic", w) for w in words
             if w in groups or w in topics][:MAX_INVESTIGATE]
    if not found:
        shown = ", ".join(f"`{esc(w)}`" for w in words[:10]) or "no words"
        await responder.ephemeral(Message(
            f"This message names no topic or consumer group of {cluster}", (
                section(f":mag: This message names no topic or consumer group of "
                        f"*{esc(cluster)}*."),
                context(f"Looked for: {shown}. `{esc(bot.command_name)} topics` and "
                        f"`{esc(bot.command_name)} lag` list them."))))
        return
    for command, name in found:
        msg = await bot.answer(shlex.join([command, name]), user=user, user_name="",
                               channel=channel)
        await responder.ephemeral(msg)
