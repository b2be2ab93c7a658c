"""`kafkaops connect ...`: Kafka Connect connectors and tasks.

    kafkaops connect list [--json]                     every connector: state, tasks, sink lag
    kafkaops connect status NAME [--json]              state, tasks with traces, sink lag
    kafkaops connect config NAME [--json]              its config, secrets redacted
    kafkaops connect offsets NAME [--reset] [--json]   committed offsets; reset when STOPPED
    kafkaops connect plugins [--json]                  connector plugins on the worker
    kafkaops connect restart NAME [--task N | --failed-only] [--yes] [--json]
    kafkaops connect pause|resume|stop|delete NAME [--yes] [--json]

`--connect NAME` picks the Connect cluster of the Kafka cluster (`-c`); default: its first.
A change prints what will happen and the state now, asks on a terminal, takes --yes in
scripts, refuses with neither, is refused on a read-only cluster, and is audited. A change
that changes nothing says so and writes nothing. Exit codes: 0 done, 1 failed (a restarted
task that failed again, an unreachable worker), 2 bad usage or config (a URL that is not
Connect, refused credentials), 3 the Connect cluster kept rebalancing (409).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json, table
from kafkaops.core.audit.log import local_actor
from kafkaops.core.connect.model import (
    ChangePlan,
    ChangeRequest,
    ChangeResult,
    ConnectListing,
    Connector,
    SinkLag,
)
from kafkaops.core.connect.rules import counts_text, problem
from kafkaops.core.connect.service import ConnectService
from kafkaops.core.lag.status import age

CHANGES = ("restart", "pause", "resume", "stop", "delete")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("connect", help="Kafka Connect: connectors, tasks, traces, restart",
                       description="Kafka Connect connectors and tasks, from the Connect "
                       "clusters named under clusters.<name>.connect in config.")
    csub = p.add_subparsers(dest="connect_command", metavar="COMMAND", required=True,
                            parser_class=type(p))

    def command(name: str, help_: str, *, connector: bool = True) -> argparse.ArgumentParser:
        c = csub.add_parser(name, help=help_, description=help_)
        if connector:
            c.add_argument("name", metavar="NAME", help="connector name")
        c.add_argument("--connect", metavar="NAME",
                       help="Connect cluster (default: the cluster's first)")
        add_json(c)
        return c

    ls = command("list", "every connector: state, task counts, type, sink lag", connector=False)
    ls.add_argument("--no-lag", action="store_true", help="do not read the sinks' lag")
    ls.set_defaults(func=list_cmd)
    command("status", "a connector's state, its tasks with traces, its sink lag"
            ).set_defaults(func=status_cmd)
    command("config", "a connector's config, secrets redacted").set_defaults(func=config_cmd)
    command("plugins", "connector plugins installed on the worker", connector=False
            ).set_defaults(func=plugins_cmd)
    off = command("offsets", "a connector's committed offsets (--reset: back to the start, "
                  "when STOPPED)")
    off.add_argument("--reset", action="store_true",
                     help="reset them (the connector must be STOPPED; confirmed, audited)")
    add_yes(off)
    off.set_defaults(func=offsets_cmd)
    r = command("restart", "restart a connector and all its tasks, only what failed, or one "
                "task")
    which = r.add_mutually_exclusive_group()
    which.add_argument("--task", type=_task_id, metavar="N", help="only task N")
    which.add_argument("--failed-only", action="store_true",
                       help="only the failed tasks (and the connector if it failed)")
    add_yes(r)
    r.set_defaults(func=change_cmd, action="restart")
    for name, help_ in (("pause", "pause a connector (its tasks stop processing)"),
                        ("resume", "resume a paused or stopped connector"),
                        ("stop", "stop a connector (tasks shut down; offsets can be reset)"),
                        ("delete", "delete a connector (its offsets stay)")):
        c = command(name, help_)
        add_yes(c)
        c.set_defaults(func=change_cmd, action=name)


def _task_id(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"task must be a number (got {text!r})") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"task must be 0 or more (got {text!r})")
    return n


def _service(args: argparse.Namespace, services: Any) -> ConnectService:
    return ConnectService(services, None, args.connect)


# ---------------------------------------------------------------- reads


async def list_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, _service(args, services) as connect:
        listing = await connect.listing(lag=not args.no_lag)
    if args.json:
        print_json(listing)
        return 0
    print(render_listing(listing))
    return 0


def render_listing(listing: ConnectListing) -> str:
    w = listing.worker
    workers = len(listing.workers)
    head = (f"Connect {listing.connect} (cluster {listing.cluster}) at {listing.url} · "
            f"Kafka Connect {w.version} · {workers} worker{'s' if workers != 1 else ''}")
    if not listing.connectors:
        return head + "\nno connectors"
    rows = []
    for c in listing.connectors:
        lag = listing.lag.get(c.name)
        rows.append((c.name, c.type, c.state, counts_text(c.task_counts), _lag(c, lag),
                     _lag_status(c, lag, listing.lag_error), problem(c)[:100]))
    out = head + "\n" + table(["CONNECTOR", "TYPE", "STATE", "TASKS", "SINK LAG", "LAG STATUS",
                               "PROBLEM"], rows, right=(4,))
    if listing.lag_error:
        out += f"\nsink lag unknown: {listing.lag_error}"
    return out


def _lag(c: Connector, lag: SinkLag | None) -> str:
    if c.type != "sink":
        return ""
    if lag is None or lag.lag is None:
        return "unknown"
    return f"{lag.lag:,}" + (f" ({age(lag.lag_seconds)})" if lag.lag_seconds else "")


def _lag_status(c: Connector, lag: SinkLag | None, error: str | None) -> str:
    if c.type != "sink":
        return ""
    return lag.status if lag is not None else "UNKNOWN"


async def status_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, _service(args, services) as connect:
        c, lag, lag_error = await connect.detail(args.name)
    if args.json:
        print_json({"cluster": connect.cluster, "connect": connect.name,
                    "connector": c, "problem": problem(c) or None,
                    "task_counts": c.task_counts,
                    "lag": lag, "lag_error": lag_error})
        return 0
    print(render_status(connect, c, lag, lag_error))
    return 0


def render_status(connect: ConnectService, c: Connector, lag: SinkLag | None,
                  lag_error: str | None) -> str:
    short = c.class_name.rsplit(".", 1)[-1] or "?"
    lines = [f"Connector {c.name} ({c.type}, {short}) on Connect {connect.name} "
             f"(cluster {connect.cluster})",
             f"State: {c.state}" + (f" on {c.worker_id}" if c.worker_id else ""),
             f"Tasks: {counts_text(c.task_counts)}"]
    if c.group is not None:
        if lag is not None and lag.lag is not None:
            lines.append(f"Sink lag: {lag.lag:,} records ({age(lag.lag_seconds)}) behind, "
                         f"{lag.status} · group {c.group}")
        else:
            lines.append(f"Sink lag: unknown · group {c.group}"
                         + (f" ({lag_error or (lag.error if lag else '')})"
                            if lag_error or (lag and lag.error) else ""))
    if c.trace:
        lines += ["", "Connector trace:", c.trace.rstrip()]
    for t in c.tasks:
        lines.append("")
        lines.append(f"Task {t.id}: {t.state}" + (f" on {t.worker_id}" if t.worker_id else ""))
        if t.trace:
            lines.append(t.trace.rstrip())
    return "\n".join(lines)


async def config_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, _service(args, services) as connect:
        c = await connect.connector(args.name)
    if args.json:
        print_json(dict(c.config))
    else:
        print(table(["KEY", "VALUE"], sorted(c.config.items())))
    return 0


async def plugins_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, _service(args, services) as connect:
        plugins = await connect.plugins()
    if args.json:
        print_json(plugins)
    else:
        print(table(["TYPE", "CLASS", "VERSION"],
                    [(p.type, p.class_name, p.version) for p in plugins]))
    return 0


async def offsets_cmd(args: argparse.Namespace, ctx: Context) -> int:
    if args.reset:
        args.action, args.task, args.failed_only = "reset-offsets", None, False
        return await change_cmd(args, ctx)
    async with ctx.services() as services, _service(args, services) as connect:
        offsets = await connect.offsets(args.name)
    if args.json:
        print_json(offsets)
    elif not offsets.offsets:
        print(f"{args.name}: no committed offsets")
    else:
        print(table(["PARTITION", "OFFSET"], [
            (_kv(o.partition), "reset (none)" if o.offset is None else _kv(o.offset))
            for o in offsets.offsets]))
    return 0


def _kv(d: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(dict(d).items()))


# ---------------------------------------------------------------- changes


async def change_cmd(args: argparse.Namespace, ctx: Context) -> int:
    request = ChangeRequest(args.action, args.name, task=getattr(args, "task", None),
                            failed_only=bool(getattr(args, "failed_only", False)))
    async with ctx.services() as services, _service(args, services) as connect:
        services.require_writable(connect.cluster, f"{request.action} connector "
                                                   f"{request.connector!r}")
        plan = await connect.plan(request)
        if plan.noop or plan.blocked:
            return _not_applied(args, plan)
        text = render_plan(plan)
        if not args.json:
            print(text, flush=True)
        confirm(args, text if args.json else f"About to {_what(plan)}.")

        def retrying(note: str) -> None:
            sys.stderr.write(f"kafkaops: {note}\n")

        result = await connect.apply(plan, actor=local_actor(), face="cli", on_retry=retrying)
    if args.json:
        print_json(change_json(plan, result))
    else:
        print(render_result(result))
    still = _still_failed(result)
    if still:
        sys.stderr.write(f"kafkaops: {plan.request.connector} still has failed work after the "
                         f"restart: {still}\n")
        return 1
    return 0


def _what(plan: ChangePlan) -> str:
    r = plan.request
    extra = (f" task {r.task}" if r.task is not None else " (failed only)" if r.failed_only
             else "")
    return f"{r.action} connector {r.connector}{extra} on Connect {plan.connect} " \
           f"(cluster {plan.cluster})"


def _not_applied(args: argparse.Namespace, plan: ChangePlan) -> int:
    from kafkaops.core.errors import Refused

    if args.json:
        print_json(change_json(plan, None))
    if plan.blocked:
        raise Refused(f"cannot {plan.request.action}: {plan.blocked}; nothing was changed")
    if not args.json:
        print(f"Nothing to change: {plan.noop}. Nothing was written.")
    return 0


def render_plan(plan: ChangePlan) -> str:
    now = f"Now: {plan.state}, tasks {counts_text(_counts(plan.tasks))}"
    return f"{plan.will}\n{now}"


def _counts(tasks: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tasks:
        out[t.state] = out.get(t.state, 0) + 1
    return out


def render_result(result: ChangeResult) -> str:
    name = result.plan.request.connector
    if result.state == "DELETED":
        return f"Done: {name} is deleted."
    retried = (f" after {len(result.retries)} retr{'y' if len(result.retries) == 1 else 'ies'} "
               "while Connect rebalanced" if result.retries else "")
    return (f"Done{retried}: {name} is {result.state}, tasks "
            f"{counts_text(_counts(result.tasks))} ({result.message}).")


def _still_failed(result: ChangeResult) -> str:
    plan = result.plan
    if plan.request.action != "restart":
        return ""
    targets = set(plan.targets)
    failed = [t for t in result.tasks if t.state == "FAILED" and (t.id in targets or not targets)]
    if result.state == "FAILED":
        return "the connector is FAILED"
    if failed:
        from kafkaops.core.connect.rules import trace_headline

        return f"task {failed[0].id} FAILED again: {trace_headline(failed[0].trace)}"
    return ""


def change_json(plan: ChangePlan, result: ChangeResult | None) -> dict[str, Any]:
    """The --json document of a change: the plan, and what the REST API reports after."""
    return {
        "cluster": plan.cluster, "connect": plan.connect, "connector": plan.request.connector,
        "action": plan.request.action, "task": plan.request.task,
        "failed_only": plan.request.failed_only, "will": plan.will, "state_before": plan.state,
        "tasks_before": list(plan.tasks), "targets": list(plan.targets),
        "noop": plan.noop, "blocked": plan.blocked, "read_only": plan.read_only,
        "applied": result is not None and not plan.noop,
        "state_after": None if result is None else result.state,
        "tasks_after": None if result is None else list(result.tasks),
        "message": None if result is None else result.message,
        "rebalance_retries": [] if result is None else list(result.retries),
    }
