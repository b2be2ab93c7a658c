"""Disaster recovery from Slack.

`/kafka dr [--pair NAME]`: replication status of every DR pair (or one): active cluster,
RPO estimate against the target, heartbeat age, per topic replication lag (records and
seconds), per group checkpoint age. Anyone may read it.

`/kafka failover plan|execute|status|resume [--pair NAME] [--force]` and the same under
`/kafka failback`: the runbook of core/dr/failover.py. Every one needs the `failover`
permission (checked, and a denial audited, by the bot before the handler runs).
- plan: pre-checks, each group's translated offsets and records read again, the groups
  that cannot be moved, and the steps. Changes nothing.
- execute: a short summary with Confirm / Cancel in view (each warning once, at the top;
  what moves, how much is read again, the RPO) and a Full plan button opening a modal
  with every group's offsets and each step. A failed pre-check refuses at once with the
  reasons (and --force overrides only what core allows: never a read-only or unreachable
  target), audited as refused, nothing changed. On Confirm core executes with the plan's
  fingerprint (a plan that changed since the prompt is a conflict that changes nothing) and
  the confirming Slack user as actor, face `slack`; the prompt is replaced with "running…",
  then with the run's steps.
- resume: finishes a run that stopped part-way (or marks an old active cluster that was
  down), after Confirm.
- status: the newest run and how far it got.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kafkaops.bot.errors import public
from kafkaops.bot.render.common import Message, button
from kafkaops.bot.render.dr import render_dr_status
from kafkaops.bot.render.dr_plan import render_plan, render_prompt_summary, render_refused
from kafkaops.bot.render.dr_run import (
    render_conflict,
    render_no_run,
    render_nothing_to_resume,
    render_refused_on_confirm,
    render_result,
    render_resume_summary,
    render_stopped,
)
from kafkaops.bot.render.replies import render_denied, render_error
from kafkaops.bot.render.views import loading_view, message_view
from kafkaops.core.dr.control import Direction
from kafkaops.core.dr.failover import FailoverService
from kafkaops.core.dr.outcome import FailoverResult
from kafkaops.core.dr.status import DrService
from kafkaops.core.errors import Conflict, NotFound, Refused

if TYPE_CHECKING:
    from slack_bolt.request.async_request import AsyncBoltRequest

    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

log = logging.getLogger(__name__)

#: the permission every failover / failback subcommand needs (config `permissions:`)
ACTION = "failover"
#: confirmable kinds: a failover, a failback, and resuming either
RESUME = "failover.resume"
DIRECTIONS = ("failover", "failback")
#: the Full plan button of a failover's prompt: a modal with the whole plan
FULL_PLAN_ACTION = "kafkaops.failover.plan"


def _pair_type(names: Sequence[str]) -> Callable[[str], str]:
    """--pair checked while parsing (inside the ack), against the configured pairs."""

    def check(text: str) -> str:
        if text in names:
            return text
        if not names:
            raise argparse.ArgumentTypeError(
                "no DR pairs are configured (add one under dr: pairs: in the config)"
            )
        raise argparse.ArgumentTypeError(
            f"no DR pair named {text!r} (configured: {', '.join(names)})"
        )

    return check


def register(bot: Bot, services: Services) -> None:
    names = [p.name for p in services.config.dr.pairs]

    def pair(p: argparse.ArgumentParser) -> None:
        p.add_argument("--pair", type=_pair_type(names), metavar="NAME",
                       help="DR pair (default: every pair for dr, else the first)")

    def dr_args(p: argparse.ArgumentParser) -> None:
        # `/kafka dr status` is what people who know the CLI type
        p.add_argument("what", nargs="?", choices=("status",), metavar="status")
        pair(p)

    def execute_args(p: argparse.ArgumentParser) -> None:
        pair(p)
        p.add_argument("--force", action="store_true")

    bot.command(
        "dr",
        summary="DR pairs: active cluster, RPO, heartbeat, replication lag, checkpoint ages",
        arguments=dr_args,
    )(dr_status)
    for d in DIRECTIONS:
        back = " back to the primary" if d == "failback" else " to the secondary"
        bot.command(
            f"{d} plan",
            summary=f"what a {d}{back} would do: pre-checks, translated offsets, steps",
            arguments=pair,
            action=ACTION,
        )(failover_plan)
        bot.command(
            f"{d} execute",
            summary=f"run the {d} after Confirm (--force: over failed RPO/group checks)",
            arguments=execute_args,
            action=ACTION,
        )(failover_execute)
        bot.command(
            f"{d} status", summary="the newest failover or failback run of the pair, step by step",
            arguments=pair, action=ACTION,
        )(failover_status)
        bot.command(
            f"{d} resume", summary="finish a run that stopped part-way, after Confirm",
            arguments=pair, action=ACTION,
        )(failover_resume)
    bot.confirmable("failover", run_execute, permission=ACTION)
    bot.confirmable("failback", run_execute, permission=ACTION)
    bot.confirmable(RESUME, run_resume, permission=ACTION)

    async def ack_full_plan(ack: Any, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        """Open the modal within Slack's 3 s for a trigger_id, then plan after the ack."""
        await ack()
        try:
            opened = await bot.client.views_open(
                trigger_id=str(body.get("trigger_id", "")),
                view=loading_view("Full plan", "the plan"))
        except Exception as e:  # an expired trigger_id, Slack down: nothing was asked
            log.warning("could not open the full plan: %s", e)
            return
        view_id = str((opened.get("view") or {}).get("id", ""))

        async def fill(b: dict[str, Any]) -> None:
            await _fill_full_plan(bot, b, view_id)

        bot.spawn(bot.once(fill)(body, request), "full failover plan")

    bot.app.action(FULL_PLAN_ACTION)(ack_full_plan)


def _direction(inv: Invocation) -> Direction:
    """failover or failback: the first word of the subcommand."""
    return "failback" if inv.command.name.startswith("failback") else "failover"


def _command_text(inv: Invocation) -> str:
    return f"{inv.bot.command_name} {inv.text}".strip()


# ---------------------------------------------------------------- reads


async def dr_status(inv: Invocation) -> Message:
    svc = DrService(inv.services)
    statuses = [await svc.status(inv.args.pair)] if inv.args.pair else await svc.statuses()
    return render_dr_status(statuses, command=inv.bot.command_name, page=inv.page)


async def failover_plan(inv: Invocation) -> Message:
    plan = await FailoverService(inv.services).plan(
        inv.args.pair, direction=_direction(inv)
    )
    return render_plan(plan, command=inv.bot.command_name)


async def failover_status(inv: Invocation) -> Message:
    svc = FailoverService(inv.services)
    pair = svc.dr.pair(inv.args.pair)
    result = await svc.status(pair)
    if result is None:
        return render_no_run(pair.name, command=inv.bot.command_name)
    return render_result(result, command=inv.bot.command_name)


# ---------------------------------------------------------------- execute (confirmed)


async def failover_execute(inv: Invocation) -> Message:
    direction = _direction(inv)
    command = inv.bot.command_name
    svc = FailoverService(inv.services)
    plan = await svc.plan(inv.args.pair, direction=direction)
    force = bool(inv.args.force)
    if plan.failed and not (force and plan.forceable):
        refused = [c for c in plan.failed if not c.overridable] or list(plan.failed)
        # on the trail of the cluster the run would have changed, unless kafkaops may not
        # write there or it did not answer (the reply must not wait on a dead cluster)
        target_ok = not inv.services.cluster_config(plan.target).read_only and any(
            c.name == "target reachable" and c.status == "ok" for c in plan.prechecks
        )
        where = plan.target if target_ok else plan.source
        await inv.bot.audit(
            actor=inv.user,
            action=f"dr.{direction}",
            target=plan.pair,
            params={"command": _command_text(inv), "slack_user_name": inv.user_name,
                    "source": plan.source, "target": plan.target, "force": force},
            result="refused",
            error="pre-checks failed: " + "; ".join(f"{c.name}: {c.detail}" for c in refused),
            cluster=where,
        )
        return render_refused(plan, force=force, command=command)
    return await inv.bot.confirmations.request(
        direction,
        target=plan.pair,
        summary=render_prompt_summary(plan, command=command, force=force),
        extra=[full_plan_button(plan.pair, direction)],
        params={
            "pair": plan.pair,
            "direction": direction,
            "force": force,
            "fingerprint": plan.fingerprint,
            "source": plan.source,
            "target": plan.target,
        },
        requester=inv.user,
        channel=inv.channel,
        cluster=plan.target,
        command_text=_command_text(inv),
    )


def full_plan_button(pair: str, direction: str) -> dict[str, Any]:
    value = json.dumps({"pair": pair, "direction": direction}, separators=(",", ":"))
    return button("Full plan", FULL_PLAN_ACTION, value)


async def _fill_full_plan(bot: Bot, body: dict[str, Any], view_id: str) -> None:
    """The whole plan, as of now, in the modal the Full plan button opened; for whoever
    clicked it, if they hold the `failover` permission (the plan names every group)."""
    user = str((body.get("user") or {}).get("id", ""))
    raw = str(((body.get("actions") or [{}])[0]).get("value", ""))
    names = [p.name for p in bot.config.dr.pairs]
    try:
        v = json.loads(raw)
        pair, direction = v["pair"], v["direction"]
        ok = pair in names and direction in DIRECTIONS
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        msg = render_error("this button names no DR pair of this bot's config; nothing was read")
    else:
        decision = await bot.permissions.check(user, ACTION)
        if not decision.allowed:
            msg = render_denied(ACTION, decision.reason)
        else:
            try:
                plan = await FailoverService(bot.services).plan(pair, direction=direction)
                msg = render_plan(plan, command=bot.command_name, prompt=True)
            except Exception as e:
                msg = render_error(bot.public(e, f"full plan of {pair}"))
    try:
        await bot.client.views_update(view_id=view_id, view=message_view(
            f"{str(direction if ok else 'DR').capitalize()} plan", msg))
    except Exception as e:
        log.warning("could not show the full plan in its modal: %s", e)


async def _latest(svc: FailoverService, pair: str) -> FailoverResult | None:
    """The newest run, for a reply after a failure; None when even that cannot be read."""
    try:
        return await svc.status(pair)
    except Exception as e:  # the reply must still say what failed
        log.warning("could not read the failover status of pair %s: %s", pair, e)
        return None


async def run_execute(ex: Execution) -> Message:
    """Confirmed: execute exactly the plan shown (its fingerprint), as the confirmer."""
    p = ex.params
    command = ex.services.config.slack.command
    pair, direction = p["pair"], p["direction"]
    svc = FailoverService(ex.services)
    try:
        result = await svc.execute(
            pair, direction=direction, force=p["force"], actor=ex.confirmer, face="slack",
            fingerprint=p["fingerprint"],
        )
    except Conflict as e:
        return render_conflict(pair, direction, _problem(ex, e), command=command)
    except Refused as e:
        return render_refused_on_confirm(pair, direction, _problem(ex, e), command=command)
    except Exception as e:  # part-way: say where the run stands and how to finish it
        return render_stopped(pair, direction, _problem(ex, e), await _latest(svc, pair),
                              command=command)
    return render_result(result, command=command)


def _problem(ex: Execution, e: Exception) -> str:
    """What Slack is told (bot/errors.py); the log has the rest."""
    return public(e, config=ex.services.config, what=f"{ex.kind} of {ex.params.get('pair')}")


# ---------------------------------------------------------------- resume (confirmed)


async def failover_resume(inv: Invocation) -> Message:
    command = inv.bot.command_name
    svc = FailoverService(inv.services)
    pair = svc.dr.pair(inv.args.pair)
    latest = await svc.status(pair)
    view = await svc.control.read(pair)
    stale = view.stale_copies()
    skipped = latest is not None and any(
        s.status == "skipped" for s in latest.steps if s.name in ("fence", "mark-source")
    )
    running = view.running_run()
    if latest is None or not (running is not None or stale or skipped):
        return render_nothing_to_resume(pair.name, latest, command=command)
    target = running[0].target if running is not None else latest.target
    inv.services.require_writable(target, f"resume the {latest.direction} onto it")
    return await inv.bot.confirmations.request(
        RESUME,
        target=pair.name,
        summary=render_resume_summary(latest, stale, command=command),
        params={"pair": pair.name, "run_id": latest.run_id},
        requester=inv.user,
        channel=inv.channel,
        cluster=target,
        command_text=_command_text(inv),
    )


async def run_resume(ex: Execution) -> Message:
    p = ex.params
    command = ex.services.config.slack.command
    pair = p["pair"]
    svc = FailoverService(ex.services)
    now = await _latest(svc, pair)
    if now is not None and now.run_id != p["run_id"]:
        return render_conflict(
            pair, "resume",
            f"the newest run of pair {pair!r} is now {now.run_id} ({now.direction}, "
            f"{now.state}), not {p['run_id']} as shown; nothing was changed",
            command=command,
        )
    try:
        result = await svc.resume(pair, actor=ex.confirmer, face="slack")
    except NotFound:
        return render_nothing_to_resume(pair, await _latest(svc, pair), command=command)
    except Refused as e:
        return render_refused_on_confirm(pair, "resume", _problem(ex, e), command=command)
    except Exception as e:
        direction = now.direction if now is not None else "failover"
        return render_stopped(pair, direction, _problem(ex, e), await _latest(svc, pair),
                              command=command)
    return render_result(result, command=command)
