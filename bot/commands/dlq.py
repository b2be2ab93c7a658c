"""`/kafka dlq list`, `dlq show TOPIC`, `dlq replay TOPIC [--filter EXPR] [--to TOPIC]`.

A replay is planned first (core's `plan_replay`: reads only), the plan's own words are the
confirmation's summary, and the plan is kept with the confirmation: `apply` replays exactly
its records (their positions), so dead letters that arrive while the prompt waits are not
swept in. Core
replays idempotently (a ledger) and audits through record_change, with the confirming Slack
user as actor.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import PAGE_SIZE, Message
from kafkaops.bot.render.dlq import (
    render_dlq_list,
    render_dlq_show,
    render_nothing_to_replay,
    render_replay_plan,
    render_replayed,
)
from kafkaops.core.dlq.model import ReplayPlan
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.errors import UsageError
from kafkaops.core.expr.filter import Filter, compile_filter

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

ACTION = "dlq.replay"
MAX_SHOW = 50
#: what one Slack request may ask for: the filter's length, and how many records
#: `dlq show` reads to find matches (anyone in the channel may ask, no role needed)
MAX_FILTER_CHARS = 500
MAX_SCAN = 20_000


def _filter(text: str | None) -> Filter | None:
    return compile_filter(text, max_length=MAX_FILTER_CHARS) if text else None


def register(bot: Bot, services: Services) -> None:
    def show_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("topic", metavar="TOPIC")
        p.add_argument("--filter", "-f", metavar="EXPR")
        p.add_argument("--limit", "-n", type=int, default=20, metavar="N")

    def replay_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("topic", metavar="TOPIC")
        p.add_argument("--filter", "-f", metavar="EXPR")
        p.add_argument("--to", metavar="TOPIC", help="replay to TOPIC instead of each origin")

    bot.command("dlq list", summary="dead-letter topics: counts and reasons grouped")(dlq_list)
    bot.command(
        "dlq show",
        summary="a dead-letter topic's records with origin and reason",
        arguments=show_args,
        names=("topic", "topic"),
    )(dlq_show)
    bot.command(
        "dlq replay",
        summary="put dead letters back on their origin topic (once)",
        arguments=replay_args,
        action=ACTION,
        names=("topic", "topic"),
    )(dlq_replay)
    bot.confirmable(ACTION, run_replay)


async def dlq_list(inv: Invocation) -> Message:
    topics = await DeadLetterService(inv.services, inv.cluster).list_topics()
    suffixes = ", ".join(inv.services.config.dead_letters.suffixes)
    return render_dlq_list(inv.cluster, topics, suffixes, page=inv.page, again=inv.again)


async def dlq_show(inv: Invocation) -> Message:
    if not 1 <= inv.args.limit <= MAX_SHOW:
        raise UsageError(f"--limit N: N must be between 1 and {MAX_SHOW}")
    where = _filter(inv.args.filter)
    svc = DeadLetterService(inv.services, inv.cluster)
    # a later page reads on past --limit (up to MAX_SHOW)
    limit = inv.args.limit if inv.page == 1 else min(MAX_SHOW, max(inv.args.limit,
                                                                   inv.page * PAGE_SIZE))
    letters = await svc.letters(inv.args.topic, where=where, limit=limit,
                                max_scan=MAX_SCAN)
    return render_dlq_show(inv.args.topic, letters, await svc.replayed_positions(inv.args.topic),
                           scanned=svc.scanned, page=inv.page, again=inv.again)


async def dlq_replay(inv: Invocation) -> Message:
    inv.services.require_writable(inv.cluster, f"replay dead letters of {inv.args.topic!r}")
    where = _filter(inv.args.filter)
    svc = DeadLetterService(inv.services, inv.cluster)
    plan = await svc.plan_replay(inv.args.topic, where=where, to=inv.args.to)
    if not plan.items:
        return render_nothing_to_replay(plan)
    return await inv.confirm(
        ACTION,
        target=plan.topic,
        summary=render_replay_plan(plan),
        params={"plan": plan.to_jsonable(brief=True)},
    )


async def run_replay(ex: Execution) -> Message:
    plan = ReplayPlan.from_jsonable(ex.params["plan"])
    result = await DeadLetterService(ex.services, ex.cluster).apply(
        plan, actor=ex.confirmer, face="slack"
    )
    return render_replayed(result)
