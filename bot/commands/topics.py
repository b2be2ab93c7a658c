"""`/kafka topics [FILTER]` and `/kafka topic NAME`: the bot's twins of the CLI's
`kafkaops topics` and `kafkaops topic`; `/kafka topic config TOPIC KEY=VALUE ... [--delete
KEY]` changes topic configs (permission topic.write): the plan (a diff against what the
broker reports) is the Confirm prompt, and Confirm applies exactly that plan (core/admin),
audited with the Slack user."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.topics import render_topic, render_topics

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services


def _topics_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("filter", nargs="?", metavar="FILTER", help="text the name contains")
    p.add_argument("--internal", action="store_true", help="include internal topics")


def _topic_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME")


#: the permission topic changes from Slack need
TOPIC_WRITE = "topic.write"


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("settings", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--delete", action="append", default=[], metavar="KEY",
                   help="back to the broker default")


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
        names=("topic", "name"),
    )(topic)
    bot.command(
        "topic config",
        summary="change topic configs: KEY=VALUE ..., --delete KEY (diff first, Confirm)",
        arguments=_config_args,
        action=TOPIC_WRITE,
        examples=("topic config orders retention.ms=86400000",),
    )(topic_config)
    bot.confirmable(TOPIC_WRITE, run_topic_change)


async def topics(inv: Invocation) -> Message:
    service = await inv.topics()
    rows = await service.list_topics()
    wanted = [t for t in rows if not inv.args.filter or inv.args.filter in t.name]
    shown = [t for t in wanted if inv.args.internal or not t.internal]
    return render_topics(
        inv.cluster, shown, name_filter=inv.args.filter, hidden_internal=len(wanted) - len(shown),
        page=inv.page, again=inv.again,
    )


async def topic(inv: Invocation) -> Message:
    detail = await (await inv.topics()).topic_detail(inv.args.name)
    return render_topic(inv.cluster, detail, page=inv.page, again=inv.again)


async def topic_config(inv: Invocation) -> Message:
    from kafkaops.bot.render.admin import render_admin_plan, render_nothing_to_change
    from kafkaops.core.admin.plans import TOPIC_CONFIG, refusal_words
    from kafkaops.core.admin.rules import parse_assignments
    from kafkaops.core.admin.topic_admin import TopicAdmin
    from kafkaops.core.errors import NothingToChange

    a = inv.args
    sets = parse_assignments(a.settings, "KEY=VALUE")
    inv.services.require_writable(inv.cluster, refusal_words(TOPIC_CONFIG, a.topic))
    try:
        plan = await TopicAdmin(inv.services, inv.cluster).plan_alter_config(
            a.topic, sets, a.delete)
    except NothingToChange as e:
        return render_nothing_to_change(str(e))
    return await inv.confirm(TOPIC_WRITE, target=a.topic, summary=render_admin_plan(plan),
                             params={"plan": plan.to_jsonable()})


async def run_topic_change(ex: Execution) -> Message:
    from kafkaops.bot.render.admin import render_admin_result
    from kafkaops.core.admin.apply import apply_plan
    from kafkaops.core.admin.plans import TOPIC_CONFIG, AdminPlan
    from kafkaops.core.errors import UsageError

    plan = AdminPlan.from_jsonable(ex.params["plan"])
    if plan.cluster != ex.cluster or plan.action != TOPIC_CONFIG:
        raise UsageError(f"not a topic config change on cluster {ex.cluster!r}")
    return render_admin_result(await apply_plan(ex.services, plan, actor=ex.confirmer,
                                                face="slack"))
