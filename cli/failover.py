"""`kafkaops failover plan|execute|resume|status` and `kafkaops failback ...`: the DR
runbook (core/dr/failover.py).

    kafkaops failover plan    [--pair NAME] [--json]     pre-checks, translated offsets, steps
    kafkaops failover execute [--pair NAME] [--yes] [--force] [--json]
    kafkaops failover resume  [--pair NAME] [--yes] [--json]   finish a run that was killed
    kafkaops failover status  [--pair NAME] [--json]     the newest run and its progress
    kafkaops failback plan|execute|resume|status ...     the same, back to the primary

`execute` prints the plan and asks (or takes --yes); a failed pre-check refuses, changing
nothing, unless --force (some checks, such as a read-only or unreachable target, refuse
even then). Exit codes: 0 done, 1 refused or failed, 2 bad usage or config, 3 the plan
changed between showing it and running it.

Rehearsing a crash (game days, and the tests): with KAFKAOPS_FAILOVER_STOP_AT=<point> the
run stops at that point and waits there (kill it, then `resume`). Points: start, fence,
intent:<group>, committed:<group>, group:<group>, activate, complete; and inside each
audited step, between its intent record and the step (before:<step>:<target>@<cluster>)
and between the step and its outcome record (after:...), e.g.
after:commit-offsets:<group>@dr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json, table
from kafkaops.core.audit.log import local_actor
from kafkaops.core.dr.failover import FailoverService
from kafkaops.core.dr.outcome import FailoverResult
from kafkaops.core.dr.plan import FailoverPlan
from kafkaops.core.dr.rpo import fmt_age as age

STOP_ENV = "KAFKAOPS_FAILOVER_STOP_AT"
_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for direction, what in (
        ("failover", "move the DR pair's active cluster to the secondary"),
        ("failback", "move the DR pair's active cluster back to the primary"),
    ):
        p = sub.add_parser(direction, help=f"{what}: plan, execute, resume, status")
        fsub = p.add_subparsers(dest=f"{direction}_command", required=True,
                                metavar="{plan,execute,resume,status}",
                                parser_class=type(p))
        plan = fsub.add_parser(
            "plan", help="pre-checks, each group's translated offsets and the steps; changes "
            "nothing")
        _common(plan)
        plan.set_defaults(func=plan_cmd, direction=direction)
        ex = fsub.add_parser(
            "execute", help="run it: fence, commit translated offsets, flip the active cluster")
        _common(ex)
        add_yes(ex)
        ex.add_argument("--force", action="store_true",
                        help="go ahead although heartbeat, lag or group pre-checks failed")
        ex.set_defaults(func=execute_cmd, direction=direction)
        res = fsub.add_parser("resume", help="finish a run that was interrupted")
        _common(res)
        add_yes(res)
        res.set_defaults(func=resume_cmd, direction=direction)
        st = fsub.add_parser("status", help="the newest run and how far it got")
        _common(st)
        st.set_defaults(func=status_cmd, direction=direction)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pair", metavar="NAME", help="DR pair from the config (default: the first)")
    add_json(p)


async def _stop_hook(point: str) -> None:
    wanted = os.environ.get(STOP_ENV)
    if wanted and wanted == point:
        sys.stderr.write(f"kafkaops: stopped at {point} ({STOP_ENV}); kill me, then resume\n")
        sys.stderr.flush()
        await asyncio.Event().wait()


async def plan_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        plan = await FailoverService(services).plan(args.pair, direction=args.direction)
    if args.json:
        print_json(_plan_json(plan))
    else:
        sys.stdout.write(render_plan(plan) + "\n")
    return 0


def _plan_json(plan: FailoverPlan) -> dict[str, object]:
    import dataclasses

    data: dict[str, object] = {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)}
    data["allowed"] = plan.allowed
    data["forceable"] = plan.forceable
    return data


async def execute_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        svc = FailoverService(services)
        plan = await svc.plan(args.pair, direction=args.direction)
        text = render_plan(plan)
        if not args.json:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        if plan.failed and not (args.force and plan.forceable):
            # refuse before asking: execute says why and changes nothing
            await svc.execute(args.pair, direction=args.direction, force=args.force,
                              plan=plan)
        confirm(args, text if args.json else "\n".join(plan.describe(force=args.force)))
        hook = _stop_hook if os.environ.get(STOP_ENV) else None
        result = await svc.execute(args.pair, direction=args.direction, force=args.force,
                                   actor=local_actor(), face="cli", hook=hook, plan=plan)
    _emit(args, result)
    return 0


async def resume_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        svc = FailoverService(services)
        current = await svc.status(args.pair)
        if current is not None and current.state == "running":
            confirm(args, f"About to resume {current.direction} {current.run_id} "
                          f"({current.source} -> {current.target}).")
        hook = _stop_hook if os.environ.get(STOP_ENV) else None
        result = await svc.resume(args.pair, actor=local_actor(), face="cli", hook=hook)
    _emit(args, result)
    return 0


async def status_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        result = await FailoverService(services).status(args.pair)
    if args.json:
        print_json(result)
    elif result is None:
        print("no failover or failback has run for this pair")
    else:
        print(render_result(result))
    return 0


def _emit(args: argparse.Namespace, result: FailoverResult) -> None:
    if args.json:
        print_json(result)
    else:
        print(render_result(result))


def render_plan(plan: FailoverPlan) -> str:
    lines = [
        f"{plan.direction} plan for pair {plan.pair}: {plan.source} -> {plan.target} "
        f"(epoch {plan.epoch} -> {plan.new_epoch}, RPO {age(plan.rpo_seconds)})",
        f"heartbeat {age(plan.heartbeat_age_seconds)} old, replication lag "
        f"{age(plan.replication_lag_seconds)}",
        "",
        "pre-checks:",
    ]
    lines += [f"  [{_MARK[c.status]}] {c.name}: {c.detail}" for c in plan.prechecks]
    rows = [
        (g.group, p.topic, p.partition, p.source_offset, _cp(p.checkpoint),
         age(p.checkpoint_age_seconds), p.translated, p.method,
         f"{p.target_start}..{p.target_end}" if p.target_end is not None else None,
         p.current, p.offset, p.reprocess, g.action)
        for g in plan.groups for p in g.partitions
    ]
    lines.append("")
    if rows:
        lines.append(table(
            ["GROUP", "TARGET TOPIC", "P", "SOURCE OFFSET", "CHECKPOINT", "CP AGE",
             "TRANSLATED", "FROM", "TARGET LOG", "NOW", "COMMIT", "RE-READ", "ACTION"],
            rows, right=(2, 3, 5, 6, 9, 10, 11),
        ))
        notes = [f"  {g.group} {p.topic}/{p.partition}: {p.note}"
                 for g in plan.groups for p in g.partitions if p.note]
        notes += [f"  {g.group}: {g.reason}" for g in plan.groups if g.action == "leave"]
        if notes:
            lines += ["", "notes:", *notes]
    else:
        lines.append("(no consumer groups to move)")
    lines += ["", "steps:"]
    lines += [f"  {i}. {s}" for i, s in enumerate(plan.steps, 1)]
    lines.append("")
    if plan.allowed:
        lines.append("pre-checks passed: `execute` will run these steps")
    elif plan.forceable:
        lines.append("pre-checks FAILED: `execute` refuses unless --force")
    else:
        lines.append("pre-checks FAILED: `execute` refuses, even with --force")
    return "\n".join(lines)


def _cp(cp: tuple[int, int] | None) -> str | None:
    return None if cp is None else f"{cp[0]}->{cp[1]}"


def render_result(r: FailoverResult) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at))
    lines = [
        f"{r.direction} {r.run_id} of pair {r.pair}: {r.source} -> {r.target}, {r.state}"
        + (" (forced)" if r.force else ""),
        f"started by {r.by} at {when}; active now: {r.active} (epoch {r.epoch})",
        "",
    ]
    lines += [f"  {s.name}: {s.status}, {s.detail}" for s in r.steps]
    if r.groups:
        lines.append("")
        lines.append(table(
            ["GROUP", "STATUS", "OFFSETS", "DETAIL"],
            [(g.group, g.status,
              " ".join(f"{o.topic}/{o.partition}={o.offset}" for o in g.offsets) or "-",
              g.detail) for g in r.groups],
        ))
    if r.state == "running":
        lines += ["", "not finished: `kafkaops failover resume` continues from here"]
    return "\n".join(lines)
