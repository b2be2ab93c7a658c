"""`kafkaops`: the command line, and the wiring point that starts the console and the bot.

Each capability registers its subcommands from its own module (cli/topics.py, ...).
Handlers are async and receive the Context; errors from core become a message on stderr and
an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import inspect
import sys
from typing import Any

from kafkaops.cli.common import Context

#: modules listed first in --help; every other module of kafkaops.cli that has a
#: register(subparsers) function is found and added after them, in name order
FIRST = ["demo", "console", "topics"]

#: command -> the module that registers it. A known command imports only its own module,
#: so `kafkaops console` does not pay for importing the bot, DR and the rest (start time).
#: tests/test_cli_main.py checks this table against what the modules register.
COMMANDS = {
    "demo": "demo", "console": "console", "cluster": "topics", "topics": "topics",
    "topic": "topic_admin", "tail": "tail", "dlq": "dlq", "audit": "audit", "lag": "lag",
    "offsets": "offsets", "flags": "flags", "dr": "dr", "failover": "failover",
    "failback": "failover", "bot": "bot", "config": "config_cmd", "alerts": "alerts",
    "schemas": "schemas", "connect": "connect", "doctor": "doctor", "completion": "completion",
    "usage": "usage", "policy": "policy",
    "produce": "produce", "group": "group", "brokers": "brokers",
}
_GLOBAL_WITH_VALUE = {"--config", "-c", "--cluster", "-b", "--bootstrap"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with a short message, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"kafkaops: error: {message}\n")


def _command_modules() -> list[str]:
    import pkgutil

    import kafkaops.cli

    names = sorted(m.name for m in pkgutil.iter_modules(kafkaops.cli.__path__))
    names = [n for n in names if n not in ("main", "common")]
    return [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]


def command_of(argv: list[str]) -> str | None:
    """The subcommand named in argv (the first word that is not a global option)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in _GLOBAL_WITH_VALUE:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


class _Version(argparse.Action):
    """--version, reading the installed version only when asked (importlib.metadata costs
    more than the rest of the parser: it would delay every command, `console` included)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:  # noqa: A002
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import version

        sys.stdout.write(f"kafkaops {version('kafkaops')}\n")  # stdout, as argparse's own
        parser.exit()


def _epilog() -> str:
    """What people do most, in the CLI's words and the console's keys (from the one table of
    capabilities, core/capabilities.py)."""
    from kafkaops.core.capabilities import most_used, say

    lines = ["what people do most (the console's key in brackets):"]
    for cap in most_used():
        cli = say(cap.key, "cli") or ""
        key = f"  [{cap.console}]" if cap.console else ""
        lines.append(f"  {cli:<34} {cap.summary}{key}")
    lines.append("the Slack bot answers the same as /kafka ... (/kafka help)")
    return "\n".join(lines)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with argv naming a known command, only that command's module is loaded."""
    parser = _Parser(
        prog="kafkaops",
        description="The on-call console for Kafka: topics, messages, lag, flags, DR.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $KAFKAOPS_CONFIG or ~/.config/kafkaops/config.yaml)",
    )
    parser.add_argument("-c", "--cluster", metavar="NAME", help="cluster from the config to use")
    parser.add_argument(
        "-b",
        "--bootstrap",
        metavar="HOST:PORT",
        help="use this broker as a single unnamed cluster (as kcat -b)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the Kafka client's own log messages"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    command = command_of(argv) if argv is not None else None
    modules = [COMMANDS[command]] if command in COMMANDS else _command_modules()
    for name in modules:
        module = importlib.import_module(f"kafkaops.cli.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def run(argv: list[str] | None = None) -> int:
    from kafkaops.core.errors import KafkaOpsError

    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command != "console":
        gc.enable()  # off while starting (kafkaops/cli/__init__.py); the console's turns it on
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    import logging

    # aiokafka logs every failed connection attempt; we report the outcome once, ourselves
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL, format="%(name)s: %(message)s"
    )
    ctx = Context(args)
    saved = sys.stdout, sys.stderr
    if args.command not in _OWN_TERMINAL:
        sys.stdout, sys.stderr = _Printable(sys.stdout), _Printable(sys.stderr)
    try:
        result = args.func(args, ctx)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except KafkaOpsError as e:
        from kafkaops.core.untrusted import printable

        _audit_refusal(args, ctx, e)
        sys.stderr.write(f"kafkaops: {printable(str(e), multiline=True)}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("kafkaops: interrupted\n")
        return 130
    except BrokenPipeError:  # `kafkaops tail ... | head`
        return 0
    finally:
        sys.stdout, sys.stderr = saved


#: commands that draw on the terminal themselves (escape sequences are theirs to write)
_OWN_TERMINAL = {"console", "demo", "bot"}


class _Printable:
    """A text stream that shows control characters as visible escapes (newlines and tabs
    kept): the last guard, after each command escaped the fields it prints, so no text from
    a record (or an error message quoting one) reaches the terminal raw."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from kafkaops.core.untrusted import printable

        return int(self._stream.write(printable(text, multiline=True)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _audit_refusal(args: argparse.Namespace, ctx: Context, e: Exception) -> None:
    """A change a read-only cluster refused before it reached the audit trail's one path
    (the CLI checks first, so nothing is asked or planned): recorded now, on a trail that
    may be written (core/audit/trails.py), with this command as the action."""
    from kafkaops.core.errors import Refused

    if not isinstance(e, Refused) or e.cluster is None or e.audited:
        return
    from kafkaops.core.audit.log import local_actor
    from kafkaops.core.audit.trails import note_refusal

    words = [args.command] + [v for k, v in sorted(vars(args).items())
                              if k.endswith("_command") and isinstance(v, str)]
    target = next((v for k in ("name", "group", "topic", "pair")
                   if isinstance(v := getattr(args, k, None), str)), args.command)
    reason = getattr(args, "reason", None)

    async def record() -> None:
        async with ctx.services() as services:
            await note_refusal(services, e, actor=local_actor(), face="cli",
                               action=".".join(words), target=target,
                               context={"reason": reason if isinstance(reason, str) else None})

    try:
        asyncio.run(record())
    except Exception as err:  # the refusal is reported either way
        sys.stderr.write(f"kafkaops: (the refusal could not be audited: {err})\n")


def _exit_on_signals() -> None:
    """SIGTERM and SIGHUP raise SystemExit, so `finally` blocks run (clients close, the
    demo's embedded brokers stop). kafkaops.demo.embedded has the same for the tests; it is
    not imported here because its imports (ctypes, tempfile, ...) would cost every command's
    start about 10 ms of CPU."""
    import contextlib
    import signal

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, handler)


def main() -> None:
    _exit_on_signals()
    sys.exit(run())


if __name__ == "__main__":
    main()
