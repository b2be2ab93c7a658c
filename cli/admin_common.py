"""What every admin change in the CLI shares (topic, group): the options and the steps,
plan -> show -> confirm -> apply -> read back."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json
from kafkaops.core.admin.plans import AdminPlan, AdminResult, refusal_words
from kafkaops.core.services import Services


def add_change_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    p.add_argument("--reason", default="", help="why: kept in the audit trail")
    add_yes(p)
    add_json(p)


async def run_change(args: argparse.Namespace, ctx: Context, action: str, target: str,
                     plan: Callable[[Services], Awaitable[AdminPlan]]) -> int:
    """Plan, print it, ask (or --yes), apply, print what was read back. Exit 0 when the
    cluster shows what the plan said, 1 when it does not."""
    from kafkaops.core.admin.apply import apply_plan
    from kafkaops.core.audit.log import local_actor

    async with ctx.services() as services:
        if not args.dry_run:  # refused before anything is read or asked
            services.require_writable(action=refusal_words(action, target))
        made = await plan(services)
        if args.dry_run:
            if args.json:
                print_json({**made.to_jsonable(), "applied": False, "dry_run": True})
            else:
                sys.stdout.write(made.text() + "\n\nDry run: nothing was changed.\n")
            return 0
        text = made.text()
        if not args.json:
            sys.stdout.write(text + "\n\n")
            sys.stdout.flush()
        title = made.title[0].lower() + made.title[1:]
        confirm(args, text if args.json else f"About to {title}.")
        result = await apply_plan(services, made, actor=local_actor(), face="cli",
                                  reason=args.reason or None)
    show_result(args, result)
    return 0 if result.verified else 1


def show_result(args: argparse.Namespace, result: AdminResult) -> None:
    if args.json:
        print_json({**result.to_jsonable(), "dry_run": False})
    else:
        lines = "\n".join(f"  {line}" for line in result.read_back)
        sys.stdout.write(f"Done. Read back from the cluster:\n{lines}\n")
    if not result.verified:
        sys.stderr.write("kafkaops: the cluster does not show what the plan said (see the "
                         "lines read back); the change was audited as made\n")
