"""`kafkaops bot`: run the Slack bot, in Socket Mode or HTTP mode as config `slack:` says.

Tokens come from config (which takes them from the environment through ${VAR}); they are
checked against Slack before the bot announces itself ready, and never printed or logged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys

from kafkaops.cli.common import Context, need_extra


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bot", help="run the Slack bot (slash command, buttons) from config slack:"
    )
    p.add_argument(
        "--mode", choices=["socket", "http"], help="override slack.mode (socket or http)"
    )
    p.add_argument(
        "--port", type=int, metavar="N", help="HTTP mode: port (overrides slack.http.port)"
    )
    p.set_defaults(func=bot_cmd)


def _logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("kafkaops.bot", "kafkaops.alerts"):  # the bot's and core alerting's
        ours = logging.getLogger(name)
        ours.setLevel(logging.INFO)
        ours.addHandler(handler)
        ours.propagate = False
    # Slack's libraries at DEBUG print request bodies; never go below INFO for them
    for name in ("slack_bolt", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


async def bot_cmd(args: argparse.Namespace, ctx: Context) -> int:
    need_extra("bot", "`kafkaops bot`")
    from kafkaops.bot.app import build_bot
    from kafkaops.bot.transports import EVENTS_PATH, HttpTransport, transport_for

    _logging(args.verbose)
    services = ctx.services()
    async with services:
        bot = build_bot(services)
        await bot.verify_token()
        transport = transport_for(bot, args.mode)
        if args.port is not None:
            if not isinstance(transport, HttpTransport):
                from kafkaops.core.errors import UsageError

                raise UsageError("--port applies to HTTP mode only (--mode http)")
            transport.port = args.port
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await transport.start()
        from kafkaops.bot.alerts import BotAlerts

        alerts = BotAlerts(services, bot.client)  # rules, event rules, Slack notifier
        alerts.start_in_background()  # keeps trying while the alerts cluster is down
        from kafkaops.core.usage.history import UsageRecorder

        # hourly samples for `kafkaops usage report`, the first soon after start (a
        # restart in the same hour leaves one sample after compaction)
        recorder = UsageRecorder(services, first_after=5.0)
        if services.config.costs is not None:
            await recorder.start()
        try:
            if isinstance(transport, HttpTransport):
                where = (f"HTTP on {transport.url}{EVENTS_PATH} "
                         f"(health: {transport.health_url}/healthz)")
            else:
                hp = transport.health_port
                where = "Socket Mode" + (f" (health: port {hp} /healthz)" if hp else "")
            # What starting made (modules, clients, the bolt app: most of the heap) lives
            # as long as the process: out of the garbage collector's reach from here on.
            # Otherwise each full collection walks all of it with the loop stopped, 25 ms
            # (70 ms on a busy machine) every few hundred commands, late for every ack of
            # the burst it falls on (docs/benchmarks.md, Slack ack); 3 ms after this.
            gc.collect()
            gc.freeze()
            sys.stderr.write(f"kafkaops bot: {bot.command_name} ready, {where}\n")
            sys.stderr.flush()
            await stop.wait()
            sys.stderr.write("kafkaops bot: stopping\n")
        finally:
            await recorder.stop()
            await alerts.stop()
            await transport.stop()
    return 0
