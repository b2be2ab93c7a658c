"""`/kafka topics [FILTER]` and `/kafka topic NAME`: the bot's twins of the CLI's
`kafkaops topics` and `kafkaops topic`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.topics import render_topic, render_topics

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services


def _topics_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("filter", nargs="?", metavar="FILTER", help="text the name contains")
    p.add_argument("--internal", action="store_true", help="include internal topics")


def _topic_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME")


def register(bot: Bot, services: Services) -> None:
    bot.command(
        "topics",
        summary="topics with partitions, retention and messages; FILTER: name contains",
        arguments=_topics_args,
    )(topics)
    bot.command(
        "topic",
        summary="one topic: partitions, leaders, ISR, offsets, configs",
        arguments=_topic_args,
    )(topic)


async def topics(inv: Invocation) -> Message:
    service = await inv.topics()
    rows = await service.list_topics()
    wanted = [t for t in rows if not inv.args.filter or inv.args.filter in t.name]
    shown = [t for t in wanted if inv.args.internal or not t.internal]
    return render_topics(
        inv.cluster, shown, name_filter=inv.args.filter, hidden_internal=len(wanted) - len(shown)
    )


async def topic(inv: Invocation) -> Message:
    detail = await (await inv.topics()).topic_detail(inv.args.name)
    return render_topic(inv.cluster, detail)
