"""`/kafka connect [NAME]`, `connect restart NAME [--task N | --failed-only]`,
`connect pause NAME`, `connect resume NAME`; and the Restart / Show trace buttons of an
alert about a connector.

Reads are for anyone in the workspace. Changes need the `connect.write` permission, are
planned from the state now (the plan is the confirmation's summary; a change that changes
nothing is said at once and asks nothing), and run on Confirm through core, which audits
them with the confirming Slack user and refuses them on a read-only cluster. The executor
plans again when Confirm is clicked, so it acts on the state then.

Button values come from Slack and are checked before use: a cluster, Connect cluster or
connector name that is not what kafkaops posted gets an error reply and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING, Any

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.connect import (
    RESTART_ACTION,
    TRACE_ACTION,
    render_connect_done,
    render_connect_list,
    render_connect_plan,
    render_connector,
    render_nothing_to_change,
)
from kafkaops.bot.render.replies import render_denied, render_error
from kafkaops.bot.respond import Responder
from kafkaops.core.connect.model import ChangeRequest
from kafkaops.core.connect.service import ConnectService
from kafkaops.core.errors import KafkaOpsError, UsageError

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.bot")

ACTION = "connect.write"
CHANGES = ("restart", "pause", "resume")
MAX_NAME = 300


def register(bot: Bot, services: Services) -> None:
    def show_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", nargs="?", metavar="NAME")
        p.add_argument("--connect", metavar="CONNECT")

    def change_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="NAME")
        p.add_argument("--connect", metavar="CONNECT")

    def restart_args(p: argparse.ArgumentParser) -> None:
        change_args(p)
        which = p.add_mutually_exclusive_group()
        which.add_argument("--task", type=int, metavar="N")
        which.add_argument("--failed-only", action="store_true")

    bot.command("connect", summary="Kafka Connect: every connector, or one with its tasks and "
                "traces", arguments=show_args, examples=("", "s3-sink"))(connect_show)
    bot.command("connect restart", summary="restart a connector and its tasks, what failed "
                "(--failed-only) or one task", arguments=restart_args, action=ACTION
                )(connect_restart)
    bot.command("connect pause", summary="pause a connector", arguments=change_args,
                action=ACTION)(connect_pause)
    bot.command("connect resume", summary="resume a paused or stopped connector",
                arguments=change_args, action=ACTION)(connect_resume)
    bot.confirmable(ACTION, run_connect_change)

    async def ack(ack: Any) -> None:
        await ack()

    async def restart_click(body: dict[str, Any]) -> None:
        await _responder(bot, body).ephemeral(await _restart_click(bot, body))

    async def trace_click(body: dict[str, Any]) -> None:
        await _responder(bot, body).ephemeral(await _trace_click(bot, body))

    # once: a click that reached several replicas (or was replayed) is handled by one
    bot.app.action(RESTART_ACTION)(ack=ack, lazy=[bot.once(restart_click)])
    bot.app.action(TRACE_ACTION)(ack=ack, lazy=[bot.once(trace_click)])


# ---------------------------------------------------------------- commands


async def connect_show(inv: Invocation) -> Message:
    async with ConnectService(inv.services, inv.cluster, inv.args.connect) as svc:
        if inv.args.name is None:
            return render_connect_list(await svc.listing(), page=inv.page, again=inv.again)
        c, lag, lag_error = await svc.detail(inv.args.name)
        return render_connector(svc.name, svc.cluster, c, lag, lag_error)


async def _ask(inv: Invocation, request: ChangeRequest) -> Message:
    inv.services.require_writable(inv.cluster, f"{request.action} connector "
                                               f"{request.connector!r}")
    async with ConnectService(inv.services, inv.cluster, inv.args.connect) as svc:
        plan = await svc.plan(request)
    if plan.noop or plan.blocked:
        return render_nothing_to_change(plan)
    return await inv.confirm(ACTION, target=f"{svc.name}/{request.connector}",
                             summary=render_connect_plan(plan),
                             params=_params(svc.name, request))


def _params(connect: str, request: ChangeRequest) -> dict[str, Any]:
    return {"connect": connect, "action": request.action, "connector": request.connector,
            "task": request.task, "failed_only": request.failed_only}


async def connect_restart(inv: Invocation) -> Message:
    if inv.args.task is not None and inv.args.task < 0:
        raise UsageError("--task N: N must be 0 or more")
    return await _ask(inv, ChangeRequest("restart", inv.args.name, task=inv.args.task,
                                         failed_only=inv.args.failed_only))


async def connect_pause(inv: Invocation) -> Message:
    return await _ask(inv, ChangeRequest("pause", inv.args.name))


async def connect_resume(inv: Invocation) -> Message:
    return await _ask(inv, ChangeRequest("resume", inv.args.name))


async def run_connect_change(ex: Execution) -> Message:
    """The confirmed change, planned again against the state now."""
    p = ex.params
    action = p.get("action")
    task = p.get("task")
    if action not in CHANGES or not isinstance(p.get("connector"), str) or not (
            task is None or (isinstance(task, int) and not isinstance(task, bool))):
        raise UsageError(f"not a Connect change kafkaops asked for: {dict(p)!r}")
    request = ChangeRequest(action, p["connector"], task=task,
                            failed_only=bool(p.get("failed_only")))
    async with ConnectService(ex.services, ex.cluster, str(p.get("connect") or "")
                              or None) as svc:
        plan = await svc.plan(request)
        if plan.noop or plan.blocked:
            return render_nothing_to_change(plan)
        result = await svc.apply(plan, actor=ex.confirmer, face="slack")
    return render_connect_done(result)


# ---------------------------------------------------------------- alert buttons


def _responder(bot: Bot, body: dict[str, Any]) -> Responder:
    container = body.get("container") or {}
    return Responder(
        bot.client, response_url=body.get("response_url"),
        channel=(body.get("channel") or {}).get("id"),
        user=(body.get("user") or {}).get("id", ""),
        message_ts=container.get("message_ts"),
        original_ephemeral=bool(container.get("is_ephemeral", False)),
    )


def _target(bot: Bot, body: dict[str, Any]) -> tuple[str, str, str] | Message:
    """(cluster, connect, connector) from a button's value, checked against config."""
    raw = str(((body.get("actions") or [{}])[0]).get("value", ""))
    try:
        v = json.loads(raw)
        cluster, connect, connector = (v["cluster"], v["connect"], v["connector"])
    except (ValueError, KeyError, TypeError):
        return render_error("this button names no connector; nothing was done")
    if not all(isinstance(x, str) and 0 < len(x) <= MAX_NAME
               for x in (cluster, connect, connector)):
        return render_error("this button names no connector; nothing was done")
    if cluster not in bot.config.clusters:
        return render_error(f"no cluster named {cluster!r} in this bot's config; nothing was "
                            "done")
    if connect not in [e.name for e in bot.config.clusters[cluster].connect]:
        return render_error(f"cluster {cluster!r} has no Connect cluster named {connect!r} in "
                            "this bot's config; nothing was done")
    return cluster, connect, connector


async def _trace_click(bot: Bot, body: dict[str, Any]) -> Message:
    target = _target(bot, body)
    if isinstance(target, Message):
        return target
    cluster, connect, connector = target
    try:
        async with ConnectService(bot.services, cluster, connect) as svc:
            c, lag, lag_error = await svc.detail(connector)
    except KafkaOpsError as e:
        return render_error(bot.public(e, f"trace of connector {connector}"),
                            retriable=e.retriable)
    return render_connector(connect, cluster, c, lag, lag_error)


async def _restart_click(bot: Bot, body: dict[str, Any]) -> Message:
    target = _target(bot, body)
    if isinstance(target, Message):
        return target
    cluster, connect, connector = target
    user = (body.get("user") or {}).get("id", "")
    decision = await bot.permissions.check(user, ACTION)
    if not decision.allowed:
        await bot.audit(actor=user, action=ACTION, target=f"{connect}/{connector}",
                        params={"button": "restart", "connector": connector},
                        result="refused", error="permission denied", cluster=cluster)
        return render_denied(ACTION, decision.reason)
    request = ChangeRequest("restart", connector, failed_only=True)
    try:
        bot.services.require_writable(cluster, f"restart connector {connector!r}")
        async with ConnectService(bot.services, cluster, connect) as svc:
            plan = await svc.plan(request)
    except KafkaOpsError as e:
        return render_error(bot.public(e, f"restart of connector {connector}"),
                            retriable=e.retriable)
    if plan.noop or plan.blocked:
        return render_nothing_to_change(plan)
    return await bot.confirmations.request(
        ACTION, target=f"{connect}/{connector}", summary=render_connect_plan(plan),
        params=_params(connect, request), requester=user,
        channel=(body.get("channel") or {}).get("id", ""), cluster=cluster,
        command_text=f"{bot.command_name} connect restart {connector} --failed-only")
