"""`/kafka audit [N]`: the newest audit records of every cluster's trail (or the one
`--cluster` names), each marked when it fails verification; `/kafka audit verify`: check
the trail's signatures, sequences and links (the same check as `kafkaops audit verify`)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from kafkaops.bot.render.audit import render_audit, render_verify_trails
from kafkaops.bot.render.common import Message
from kafkaops.core.audit.trails import list_trails, trails_of, verify_trails
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
    """Every cluster's trail (failover steps are on the target's), or the one --cluster
    names; records that fail verification are marked."""
    n = inv.args.n
    if not 1 <= n <= MAX_N:
        raise UsageError(f"N must be between 1 and {MAX_N}, not {n}")
    clusters = [inv.cluster] if inv.cluster_given else list(inv.services.config.clusters)
    listing = await list_trails(inv.services, clusters, limit=n)
    trails = [t if t.error is None else dataclasses.replace(
        t, error=inv.bot.public(t.error, f"audit trail of {t.cluster}")) for t in listing.trails]
    return render_audit(dataclasses.replace(listing, trails=trails), page=inv.page,
                        again=inv.again)


async def verify(inv: Invocation) -> Message:
    """Every cluster's trail, as `audit` lists them, or the one --cluster names; one that
    does not answer is UNKNOWN (the same check as `kafkaops audit verify`)."""
    clusters = trails_of(inv.services, one=inv.cluster_given, current=inv.cluster)
    checks = [c if c.error is None else dataclasses.replace(
        c, error=inv.bot.public(c.error, f"audit trail of {c.cluster}"))
        for c in await verify_trails(inv.services, clusters)]
    return render_verify_trails(checks)
