"""`/kafka lag`: the consumer groups that need attention, worst first; `/kafka lag GROUP`:
one group partition by partition (committed, end, lag in records and seconds, status).

The numbers come from core's LagService, the same engine and the same window of snapshots
as `kafkaops lag --json` and the console (Services.lag() is shared per cluster).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.lag import render_group_lag, render_lag_overview
from kafkaops.core.errors import UsageError

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("group", nargs="?", metavar="GROUP")
    p.add_argument("--match", metavar="TEXT", help="only groups whose name contains TEXT")


def register(bot: Bot, services: Services) -> None:
    bot.command(
        "lag",
        summary="groups needing attention, worst first; GROUP: its partitions, lag and status",
        arguments=_args,
        names=("group", "group"),
    )(lag)


async def lag(inv: Invocation) -> Message:
    svc = await inv.services.lag(inv.cluster)
    if inv.args.group is None:
        if inv.args.match:
            names = [g for g in await svc.list_groups() if inv.args.match in g]
            return render_lag_overview(await svc.snapshot(names), match=inv.args.match,
                                       page=inv.page, again=inv.again)
        return render_lag_overview(await svc.snapshot(), page=inv.page, again=inv.again)
    if inv.args.match:
        raise UsageError("give GROUP or --match TEXT, not both")
    snap = await svc.snapshot([inv.args.group], missing_ok=False)
    group = snap.group(inv.args.group)
    assert group is not None  # missing_ok=False raised NotFound otherwise
    return render_group_lag(snap, group, page=inv.page, again=inv.again)
