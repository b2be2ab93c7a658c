"""`/kafka audit [N]`: the newest audit records; `/kafka audit verify`: check the trail's
signatures, sequences and links (the same check as `kafkaops audit verify`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.audit import render_audit, render_verify
from kafkaops.bot.render.common import Message
from kafkaops.core.errors import UsageError

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

DEFAULT_N = 10
MAX_N = 50


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("n", nargs="?", type=int, default=DEFAULT_N, metavar="N")


def register(bot: Bot, services: Services) -> None:
    bot.command(
        "audit",
        summary=f"the newest N audit records (default {DEFAULT_N}): who changed what, from where",
        arguments=_args,
    )(audit)
    bot.command("audit verify", summary="verify the audit trail's signatures and sequence")(
        verify
    )


async def audit(inv: Invocation) -> Message:
    n = inv.args.n
    if not 1 <= n <= MAX_N:
        raise UsageError(f"N must be between 1 and {MAX_N}, not {n}")
    trail = await inv.services.audit(inv.cluster)
    records = await trail.records(limit=n)
    return render_audit(records, cluster=inv.cluster, topic=trail.topic)


async def verify(inv: Invocation) -> Message:
    trail = await inv.services.audit(inv.cluster)
    return render_verify(await trail.verify(), cluster=inv.cluster)
