"""`kafkaops brokers [--configs]`: the cluster's brokers, and with --configs each broker's
configs with where each value comes from; defaults are marked only where the broker says
so, and a broker that reports no configs is said to report none."""

from __future__ import annotations

import argparse
import sys

from kafkaops.cli.common import Context, add_json, print_json, table
from kafkaops.core.admin.brokers import Broker


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("brokers", help="brokers (node id, host, rack, controller), with "
                       "--configs their configs")
    p.add_argument("--configs", action="store_true",
                   help="each broker's configs, with their source (default, static, dynamic)")
    add_json(p)
    p.set_defaults(func=brokers_cmd)


async def brokers_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.admin.brokers import list_brokers

    async with ctx.services() as services:
        brokers = await list_brokers(services, configs=args.configs)
        cluster = services.cluster_name
    if args.json:
        print_json([b.to_jsonable() for b in brokers])
    else:
        sys.stdout.write(render(cluster, brokers) + "\n")
    return 0


def render(cluster: str, brokers: list[Broker]) -> str:
    out = [f"cluster {cluster}: {len(brokers)} broker{'s' if len(brokers) != 1 else ''}", "",
           table(["BROKER", "HOST", "PORT", "RACK", "CONTROLLER"],
                 [(b.info.node_id, b.info.host, str(b.info.port), b.info.rack,
                   "yes" if b.info.is_controller else "") for b in brokers], right=(0,))]
    for b in brokers:
        if b.configs is None:
            continue
        out.append("")
        if not b.configs:
            out.append(f"broker {b.info.node_id}: reports no configs (the broker answers "
                       "DescribeConfigs with an empty list; nothing is shown as a default)")
            continue
        defaults = sum(1 for c in b.configs if c.is_default)
        out.append(f"broker {b.info.node_id}: {len(b.configs)} configs, {defaults} at their "
                   "default (marked *)")
        out.append(table(["CONFIG", "VALUE", "SOURCE"], [
            (("* " if c.is_default else "  ") + c.name,
             "(hidden: sensitive)" if c.sensitive else c.value, c.source)
            for c in b.configs]))
    return "\n".join(out)
