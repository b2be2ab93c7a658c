"""`/kafka flag ...`: feature flags from Slack.

Reads (anyone): `flag list [--tag T]`, `flag get NAME`, `flag history NAME`,
`flag eval NAME USER...`. Writes (permission flag.write, then Confirm): `flag toggle NAME
[--on|--off]`, `flag rollout NAME PERCENT`, `flag set NAME VALUE`, `flag rollback NAME
VERSION`, each with `--reason TEXT` and `--if-version N`.

A write is core's plan (FlagService.plan_*), shown in the prompt (its describe()) and kept
in the pending confirmation; Confirm applies that plan against the version it showed: if
someone changes the flag before Confirm is clicked, the write is a conflict and nothing is
written (core's compare-and-set), never a silent overwrite. Core's FlagService audits every
write, with the confirming Slack user as actor and `slack` as face.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.flags import (
    render_evaluations,
    render_flag,
    render_flag_history,
    render_flag_list,
    render_flag_plan,
    render_flag_written,
)
from kafkaops.core.errors import UsageError
from kafkaops.core.flags.service import (
    FlagPlan,
    FlagService,
    check_key,
    check_rollout,
    parse_value,
)

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

ACTION = "flag.write"
MAX_EVAL_USERS = 20


def _name(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME")


def _write_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", default="", metavar="TEXT", help="why (kept with the flag)")
    p.add_argument("--if-version", type=int, metavar="N", help="the version you last saw")


def register(bot: Bot, services: Services) -> None:
    def list_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tag", metavar="T")

    def eval_args(p: argparse.ArgumentParser) -> None:
        _name(p)
        p.add_argument("users", nargs="+", metavar="USER")

    def toggle_args(p: argparse.ArgumentParser) -> None:
        _name(p)
        g = p.add_mutually_exclusive_group()
        g.add_argument("--on", dest="enabled", action="store_const", const=True)
        g.add_argument("--off", dest="enabled", action="store_const", const=False)
        _write_options(p)

    def rollout_args(p: argparse.ArgumentParser) -> None:
        _name(p)
        p.add_argument("percent", metavar="PERCENT")
        _write_options(p)

    def set_args(p: argparse.ArgumentParser) -> None:
        _name(p)
        p.add_argument("value", metavar="VALUE")
        _write_options(p)

    def rollback_args(p: argparse.ArgumentParser) -> None:
        _name(p)
        p.add_argument("version", type=int, metavar="VERSION")
        _write_options(p)

    bot.command(
        "flag list", summary="every flag: state, rollout, owner, version", arguments=list_args
    )(flag_list)
    flag = ("flag", "name")
    bot.command("flag get", names=flag, summary="one flag's full state", arguments=_name
                )(flag_get)
    bot.command("flag history", names=flag, summary="a flag's changes, newest first",
                arguments=_name)(flag_history)
    bot.command(
        "flag eval", names=flag,
        summary="what given users get from a flag, as the SDK decides",
        arguments=eval_args,
    )(flag_eval)
    bot.command(
        "flag toggle", names=flag,
        summary="switch a flag on or off (flip without --on/--off)",
        arguments=toggle_args,
        action=ACTION,
    )(flag_toggle)
    bot.command(
        "flag rollout", names=flag,
        summary="set the percentage of users who get the flag",
        arguments=rollout_args,
        action=ACTION,
    )(flag_rollout)
    bot.command(
        "flag set", names=flag,
        summary="change the value served when the flag is on",
        arguments=set_args,
        action=ACTION,
    )(flag_set)
    bot.command(
        "flag rollback", names=flag,
        summary="restore a flag as it was at an earlier version",
        arguments=rollback_args,
        action=ACTION,
    )(flag_rollback)
    bot.confirmable(ACTION, run_flag_write)


# ---------------------------------------------------------------- reads


async def flag_list(inv: Invocation) -> Message:
    flags = await (await inv.services.flags(inv.cluster)).list_flags()
    if inv.args.tag:
        flags = [f for f in flags if inv.args.tag in f.tags]
    return render_flag_list(inv.cluster, flags, tag=inv.args.tag, page=inv.page,
                            again=inv.again)


async def flag_get(inv: Invocation) -> Message:
    state = await (await inv.services.flags(inv.cluster)).get(check_key(inv.args.name))
    return render_flag(inv.cluster, state)


async def flag_history(inv: Invocation) -> Message:
    svc = await inv.services.flags(inv.cluster)
    changes = await svc.history(check_key(inv.args.name))
    return render_flag_history(inv.args.name, changes, start=svc.history_start, page=inv.page,
                               again=inv.again, command=inv.bot.command_name)


async def flag_eval(inv: Invocation) -> Message:
    if len(inv.args.users) > MAX_EVAL_USERS:
        raise UsageError(f"at most {MAX_EVAL_USERS} users at a time (use the CLI for more)")
    svc = await inv.services.flags(inv.cluster)
    return render_evaluations(inv.args.name, await svc.evaluate(inv.args.name, inv.args.users))


# ---------------------------------------------------------------- writes (confirmed)


async def _planning(inv: Invocation) -> tuple[FlagService, str, int | None]:
    key = check_key(inv.args.name)
    inv.services.require_writable(inv.cluster, f"change flag {key!r}")
    return await inv.services.flags(inv.cluster), key, inv.args.if_version


async def _ask(inv: Invocation, plan: FlagPlan) -> Message:
    """Confirm / Cancel for core's plan; the confirmation keeps the plan, so Confirm writes
    exactly what the prompt showed, against the version it showed."""
    same = plan.nothing_to_change()
    if same:  # said to the person: no prompt, nothing written or audited
        from kafkaops.bot.render.admin import render_nothing_to_change

        return render_nothing_to_change(same)
    plan = plan.pin()  # against the version the prompt shows
    return await inv.confirm(
        ACTION,
        target=plan.key,
        summary=render_flag_plan(plan),
        params={"op": plan.op, "key": plan.key, "plan": plan.to_json(),
                "reason": inv.args.reason},
    )


async def flag_toggle(inv: Invocation) -> Message:
    svc, key, seen = await _planning(inv)
    return await _ask(inv, await svc.plan_toggle(key, inv.args.enabled, expect_version=seen,
                                                 reason=inv.args.reason))


async def flag_rollout(inv: Invocation) -> Message:
    pct = check_rollout(inv.args.percent)
    svc, key, seen = await _planning(inv)
    return await _ask(inv, await svc.plan_rollout(key, pct, expect_version=seen,
                                                  reason=inv.args.reason))


async def flag_set(inv: Invocation) -> Message:
    svc, key, seen = await _planning(inv)
    cur = await svc.get(key)
    value = parse_value(cur.type, inv.args.value, "VALUE")
    return await _ask(inv, await svc.plan_set(key, value=value, expect_version=seen,
                                              reason=inv.args.reason))


async def flag_rollback(inv: Invocation) -> Message:
    svc, key, seen = await _planning(inv)
    return await _ask(inv, await svc.plan_rollback(key, inv.args.version, expect_version=seen,
                                                   reason=inv.args.reason))


async def run_flag_write(ex: Execution) -> Message:
    """The confirmed write: the plan the prompt showed, against its version (else Conflict)."""
    p = ex.params
    try:
        plan = FlagPlan.from_json(p["plan"])
        if (plan.key, plan.op) != (p["key"], p["op"]):
            raise ValueError(f"its plan changes {plan.key!r}, it names {p['key']!r}")
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"this confirmation does not hold a flag change ({e})") from None
    svc = await ex.services.flags(ex.cluster)
    reason = p.get("reason") or ""
    if ex.requester != ex.confirmer:
        reason = (reason + " " if reason else "") + f"(requested by {ex.requester} in Slack)"
    reason = reason or plan.reason  # a rollback's is "rollback to version N"
    state = await svc.apply(plan, actor=ex.confirmer, face="slack", reason=reason)
    return render_flag_written(ex.cluster, state, plan.key, plan.op)
