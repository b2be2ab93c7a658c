"""`kafkaops config show|check`: the config as kafkaops reads it, secrets redacted."""

from __future__ import annotations

import argparse

import yaml

from kafkaops.cli.common import Context, add_json, print_json
from kafkaops.core.config import redacted


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="show or check the config (secrets redacted)")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="print the config as read, with every secret redacted")
    add_json(show)
    show.set_defaults(func=show_cmd)
    check = csub.add_parser("check", help="validate the config file and exit")
    check.set_defaults(func=check_cmd)


def show_cmd(args: argparse.Namespace, ctx: Context) -> int:
    data = redacted(ctx.config)
    if args.json:
        print_json({"source": ctx.config.source, "config": data})
    else:
        print(f"# read from {ctx.config.source}")
        print(yaml.safe_dump(data, sort_keys=False).rstrip())
    return 0


def check_cmd(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config
    print(
        f"{config.source}: ok ({len(config.clusters)} clusters, "
        f"{len(config.alerts.rules)} alert rules, {len(config.dr.pairs)} DR pairs)"
    )
    return 0
