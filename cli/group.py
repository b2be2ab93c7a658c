"""`kafkaops group describe GROUP` and `kafkaops group delete GROUP`.

describe: the group's state, its members (member id, client id, host, assigned
partitions: "not reported" where the broker leaves a field out) and its committed
offsets with log end and lag. delete: only an empty group; one with members is refused,
naming them. The plan is shown first; --yes, --dry-run, --json, --reason as every change.
"""

from __future__ import annotations

import argparse
import sys

from kafkaops.cli.admin_common import add_change_options, run_change
from kafkaops.cli.common import Context, add_json, print_json, table
from kafkaops.core.admin.groups import (
    NOT_REPORTED,
    GroupDescription,
    assignment_words,
)
from kafkaops.core.admin.plans import GROUP_DELETE, AdminPlan
from kafkaops.core.services import Services


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("group", help="describe a consumer group, or delete an empty one")
    gsub = p.add_subparsers(dest="group_command", metavar="COMMAND", required=True,
                            parser_class=type(p))
    d = gsub.add_parser("describe", help="state, members (client id, host, assignment), "
                        "committed offsets and lag")
    d.add_argument("group", metavar="GROUP")
    add_json(d)
    d.set_defaults(func=describe_cmd)

    x = gsub.add_parser("delete", help="delete an empty group and its committed offsets")
    x.add_argument("group", metavar="GROUP")
    add_change_options(x)
    x.set_defaults(func=delete_cmd)


async def describe_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.admin.groups import GroupAdmin

    async with ctx.services() as services:
        d = await GroupAdmin(services).describe(args.group)
    if args.json:
        print_json(d.to_jsonable())
    else:
        sys.stdout.write(render(d) + "\n")
    return 0


def _cell(v: object) -> str:
    return NOT_REPORTED if v is None else str(v)


def render(d: GroupDescription) -> str:
    n = len(d.members)
    head = (f"group {d.group} on cluster {d.cluster}: state {d.state}, "
            f"{n} member{'s' if n != 1 else ''}")
    out = [head]
    if d.error:
        out.append(f"(read in part: {d.error})")
    if d.members:
        out += ["", table(["MEMBER", "CLIENT ID", "HOST", "ASSIGNMENT"], [
            (m.member_id, _cell(m.client_id),
             _cell(m.client_host.lstrip("/") if m.client_host else None),
             assignment_words(m)) for m in d.members])]
    if d.partitions:
        out += ["", table(["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"], [
            (p.topic, p.partition, "no offset" if p.committed is None else p.committed,
             "unknown" if p.end is None else p.end, "-" if p.lag is None else p.lag,
             p.member or "-") for p in d.partitions], right=(1, 2, 3, 4))]
    else:
        out += ["", "no committed offsets"]
    return "\n".join(out)


async def delete_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async def plan(services: Services) -> AdminPlan:
        from kafkaops.core.admin.groups import GroupAdmin

        return await GroupAdmin(services).plan_delete(args.group)

    return await run_change(args, ctx, GROUP_DELETE, args.group, plan)
