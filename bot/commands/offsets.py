"""`/kafka offsets reset GROUP --topic T (--to-earliest | --to-latest | --to-time T |
--to-offset N | --shift-by N) [--partition P]`: move a consumer group, planned, confirmed.

The plan (core's OffsetResetService.plan: reads only) is the confirmation's summary and is
kept as data; on Confirm, core applies exactly that plan, after checking that the group is
still empty and nothing moved under it (else Conflict, nothing changed), reads the offsets
back and audits, with the confirming Slack user as actor. Permission: offsets.reset.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.offsets import (
    render_nothing_to_reset,
    render_reset_plan,
    render_reset_result,
)
from kafkaops.core.errors import UsageError
from kafkaops.core.offsets.service import (
    ACTION,
    OffsetResetService,
    ResetPlan,
    ResetRequest,
    parse_target,
    writable_action,
)
from kafkaops.core.records import to_jsonable

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

_MODES = {
    "to_earliest": "earliest",
    "to_latest": "latest",
    "to_time": "time",
    "to_offset": "offset",
    "shift_by": "shift",
}


def _partitions(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"partition must be a number or 0,1,2 (got {text!r})"
        ) from None
    if not out or any(p < 0 for p in out):
        raise argparse.ArgumentTypeError(f"partition must be a number >= 0 (got {text!r})")
    return out


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("group", metavar="GROUP")
    p.add_argument("--topic", "-t", required=True, metavar="TOPIC")
    p.add_argument("--partition", "-p", action="append", type=_partitions, metavar="P")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--to-earliest", action="store_true")
    mode.add_argument("--to-latest", action="store_true")
    mode.add_argument("--to-time", metavar="T")
    mode.add_argument("--to-offset", metavar="N")
    mode.add_argument("--shift-by", metavar="N")


def register(bot: Bot, services: Services) -> None:
    bot.command(
        "offsets reset",
        summary="move a stopped group to earliest, latest, a time (1h), an offset, or by N",
        arguments=_args,
        action=ACTION,
    )(offsets_reset)
    bot.confirmable(ACTION, run_reset)


async def offsets_reset(inv: Invocation) -> Message:
    a = inv.args
    dest, mode = next((d, m) for d, m in _MODES.items() if getattr(a, d))
    value = getattr(a, dest)
    target = parse_target(mode, None if isinstance(value, bool) else value)
    partitions = tuple(sorted({p for g in a.partition for p in g})) if a.partition else None
    inv.services.require_writable(inv.cluster, writable_action(a.group))
    plan = await OffsetResetService(inv.services, inv.cluster).plan(
        ResetRequest(a.group, a.topic, target, partitions)
    )
    if not plan.changing:
        return render_nothing_to_reset(plan)
    return await inv.confirm(
        ACTION,
        target=plan.group,
        summary=render_reset_plan(plan),
        params={"plan": to_jsonable(plan)},
    )


async def run_reset(ex: Execution) -> Message:
    plan = ResetPlan.from_jsonable(ex.params["plan"])
    if plan.cluster != ex.cluster:  # pragma: no cover - the handler plans on ex.cluster
        raise UsageError(f"plan is for cluster {plan.cluster!r}, not {ex.cluster!r}")
    result = await OffsetResetService(ex.services, ex.cluster).apply(
        plan, actor=ex.confirmer, face="slack"
    )
    return render_reset_result(result)
