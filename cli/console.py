"""`kafkaops console`: the terminal console on the selected cluster (-c NAME, -b HOST:PORT,
or the config's default)."""

from __future__ import annotations

import argparse

from kafkaops.cli.common import Context, need_extra


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("console", help="open the terminal console on the selected cluster")
    # choices are checked when the command runs: listing them here would import the
    # console (and Textual) for every kafkaops command
    p.add_argument("--screen", default="topics", metavar="NAME",
                   help="screen to open on: topics (default), cluster, ...")
    p.set_defaults(func=console_cmd)


async def console_cmd(args: argparse.Namespace, ctx: Context) -> int:
    import logging

    need_extra("console", "`kafkaops console`")

    from kafkaops.console.app import KafkaOpsApp, nav_entry
    from kafkaops.core.errors import UsageError

    try:
        nav_entry(args.screen)
    except KeyError as e:
        raise UsageError(str(e.args[0])) from None
    services = ctx.services()  # config errors are reported before the terminal is taken over
    # log records must not be written over the screen: send them to Textual's log instead
    from textual.logging import TextualHandler

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [TextualHandler()]
    try:
        async with services:
            await KafkaOpsApp(services, start=args.screen).run_async()
    finally:
        root.handlers = saved
    return 0
