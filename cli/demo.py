"""`kafkaops demo`: two embedded clusters with realistic traffic, and the console on them.

`--headless` runs the same without the UI and prints how to connect. The brokers stop when
the demo stops, however it stops: the console quitting, Ctrl-C, SIGTERM, SIGHUP, an error,
or `--duration` running out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from kafkaops.cli.common import Context, need_extra
from kafkaops.core.errors import UsageError
from kafkaops.core.tasks import cancel_and_wait
from kafkaops.demo.catalogue import DEMO_GROUPS, DEMO_TOPICS
from kafkaops.demo.config_file import default_config_path
from kafkaops.demo.traffic import DEFAULT_RATE, FULL_RATE_RECORDS, SLOW_FACTOR, DemoStats
from kafkaops.demo.world import Demo

#: how often a line of progress is printed when stdout is not a terminal
LOG_EVERY_S = 30.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="start two local brokers with demo traffic and open the console on them",
        description=(
            "Start two embedded Kafka clusters (primary and dr; Tansu, in memory), create "
            f"{len(DEMO_TOPICS)} topics shaped like CI/CD, logs, metrics, Kubernetes, IaC, "
            "orders (with a dead-letter topic), config, CDC and chargeback traffic, run "
            "producers and consumer groups on them, and open the console. Everything stops "
            "when the demo stops."
        ),
        epilog="consumer groups: " + "; ".join(
            f"{g.group_id} ({g.description})" for g in DEMO_GROUPS),
    )
    p.add_argument("--headless", action="store_true",
                   help="no console: print how to connect and run until Ctrl-C or SIGTERM")
    p.add_argument("--rate", type=float, default=DEFAULT_RATE, metavar="N",
                   help=f"records per second over all topics (default {DEFAULT_RATE:g}; "
                        f"a tenth of it after {FULL_RATE_RECORDS:,} records, to keep the "
                        "in-memory brokers small)")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="stop by itself after this many seconds")
    p.add_argument("--config-out", metavar="FILE",
                   help=f"where to write the config naming the demo clusters (default "
                        f"{_home_relative(default_config_path())}; removed when the demo stops)")
    p.add_argument("--no-connect", action="store_true",
                   help="run without the Kafka Connect worker (it needs Java and ~200 MB)")
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=demo_cmd)


def _home_relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return "~/" + str(path.relative_to(Path.home()))
    return str(path)


def demo_cmd(args: argparse.Namespace, ctx: Context) -> int:
    # Synchronous on purpose: the brokers are started from the main thread (see Demo), then
    # the event loop runs the traffic and the console, then the brokers are stopped.
    need_extra("demo", "`kafkaops demo`")
    given = [flag for flag, value in (("--config", args.config), ("-b", args.bootstrap),
                                      ("-c", args.cluster)) if value]
    if given:
        raise UsageError(
            f"kafkaops demo starts its own clusters and writes their config; {given[0]} does "
            "not apply (use `kafkaops demo --config-out FILE` to choose where the config goes)"
        )
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration {args.duration:g}: give a number of seconds above 0")
    app_class = None if args.headless else _console_class()
    demo = Demo(rate=args.rate, config_path=Path(args.config_out or default_config_path()),
                seed=args.seed)
    from kafkaops.demo.replicator import DemoReplicator
    from kafkaops.demo.world import DemoFlags

    # MM2-shaped replication primary -> dr (remote topics, heartbeats, offset syncs,
    # checkpoints), so DR status and failover work in the demo with no JVM
    demo.parts.append(DemoReplicator(lambda: demo.services, "main"))
    demo.parts.append(DemoFlags(lambda: demo.services))
    # hourly usage samples (the first a minute in), for `kafkaops usage report`
    from kafkaops.core.usage.history import UsageRecorder

    demo.parts.append(UsageRecorder(lambda: demo.services))
    # a Schema Registry (the demo/test one) and framed Avro and Protobuf on two topics;
    # both clusters name the registry, so the console decodes them
    from kafkaops.demo.schema_traffic import DemoSchemaTraffic

    schemas = DemoSchemaTraffic(lambda: demo.bootstraps[demo.cluster_names[0]], seed=args.seed)
    demo.cluster_settings = {n: {"schema_registry": {"url": schemas.url}}
                             for n in demo.cluster_names}
    demo.parts.append(schemas)
    # Kafka Connect (a real worker, when Java is here): a FileStream source feeding a topic,
    # a healthy sink and one that fails (demo/connect_traffic.py)
    from kafkaops.demo.connect_traffic import DemoConnect

    connect = DemoConnect(lambda: demo.bootstraps[demo.cluster_names[0]],
                          enabled=not args.no_connect, seed=args.seed)
    why: list[str] = []
    demo.start_clusters()
    try:
        connect.launch()  # from the main thread, as the brokers: the JVM dies with it
        if connect.url is not None:
            demo.cluster_settings.setdefault(demo.cluster_names[0], {})["connect"] = [
                connect.entry()]
        demo.parts.append(connect)
        return asyncio.run(_run(demo, args, app_class, why))
    finally:
        connect.kill()
        demo.stop_clusters()
        if why:
            sys.stderr.write(f"kafkaops demo: stopped by {why[0]}; brokers stopped\n")


def _console_class() -> Any:
    """The console's app class, checked before any broker starts."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "kafkaops demo opens the console, which needs a terminal; "
            "run `kafkaops demo --headless` to run the demo without it"
        )
    try:
        from kafkaops.console.app import KafkaOpsApp
    except ImportError as e:
        raise UsageError(
            f"the console cannot be loaded ({e}); run `kafkaops demo --headless` to run the "
            "demo without it"
        ) from None
    return KafkaOpsApp


async def _run(demo: Demo, args: argparse.Namespace, app_class: Any, why: list[str]) -> int:
    """Start the demo, run it headless or under the console, stop it. `why` gets the name
    of the signal that stopped it, if one did."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    app: Any = None

    def on_signal(sig: signal.Signals) -> None:
        why.append(sig.name)
        stop.set()
        if app is not None:
            app.exit()

    previous = {sig: signal.getsignal(sig)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for sig in previous:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        starting = asyncio.create_task(demo.start())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # stopped while starting
            await cancel_and_wait(starting)
            return 0
        stopped.cancel()
        services = starting.result()  # raises what made the start fail
        if app_class is None:
            await _headless(demo, stop, args.duration)
        else:
            app = app_class(services, banner=_banner(demo))
            if args.duration:
                loop.call_later(args.duration, app.exit)
            await app.run_async()
        return 0
    finally:
        try:
            await asyncio.wait_for(demo.stop(), timeout=15)
        except TimeoutError:
            sys.stderr.write("kafkaops demo: producers and consumers did not stop in 15 s\n")
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)


def _banner(demo: Demo) -> str:
    where = ", ".join(f"{n} {b}" for n, b in demo.bootstraps.items())
    connect = _connect(demo)
    on = ("" if connect is None else " · Kafka Connect: press C" if connect.worker is not None
          else " · Kafka Connect off (see `kafkaops demo --headless`)")
    return f"demo: {where} · config {_home_relative(demo.config_path)}{on}"


def _connect(demo: Demo) -> Any:
    """The demo's Kafka Connect part, if it has one."""
    from kafkaops.demo.connect_traffic import DemoConnect

    return next((p for p in demo.parts if isinstance(p, DemoConnect)), None)


def connection_help(demo: Demo) -> str:
    """What --headless prints once the demo is up."""
    b = demo.bootstraps
    cfg = demo.config_path
    names = list(b)
    width = max(len(n) for n in [*names, "config"])
    lines = [
        "kafkaops demo: embedded clusters running (Tansu, in memory; they stop with the demo)",
        *(f"  {n.ljust(width)}  {addr}" for n, addr in b.items()),
        f"  {'config'.ljust(width)}  {cfg}",
        "",
        "Try, in another terminal:",
        f"  kafkaops --config {cfg} console",
        f"  kafkaops --config {cfg} topics",
        f"  kafkaops --config {cfg} topic orders.events",
        f"  kafkaops --config {cfg} -c {names[-1]} cluster",
        f"  kafkaops --config {cfg} usage --by team",
        f"  kafkaops --config {cfg} policy check",
        f"  kafkaops -b {b[names[0]]} topics --json",
        *(["", (_connect(demo).describe())] if _connect(demo) is not None else []),
        *([f"  kafkaops --config {cfg} connect list"]
          if _connect(demo) is not None and _connect(demo).worker is not None else []),
        "",
        f"Traffic: {demo.rate:g} records/s over {len(DEMO_TOPICS)} topics "
        f"(a tenth of it after {demo.full_rate_records:,} records).",
        "Consumer groups:",
        *(f"  {g.group_id:<17} {g.description}" for g in DEMO_GROUPS),
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def status_line(s: DemoStats, rate: float | None = None) -> str:
    """The running count: produced, rate, dead letters and the groups that are behind.

    `rate` is the recent produce rate; the average since the start when not given.
    """
    if rate is None:
        rate = s.produced / s.elapsed_s if s.elapsed_s > 0 else 0.0
    parts = [f"produced {s.produced:,} records ({rate:,.0f}/s)"]
    dlq = sum(v for k, v in s.per_topic.items() if k.endswith(".dlq"))
    if dlq:
        parts.append(f"dead letters {dlq:,}")
    behind = [
        f"{g} {n:,}{' (stopped)' if g in s.stopped_groups else ''}"
        for g, n in s.behind.items() if n >= 100 or g in s.stopped_groups
    ]
    if behind:
        parts.append("behind: " + ", ".join(behind))
    if s.slowed:
        parts.append(f"slowed to {s.rate:g}/s")
    return " · ".join(parts)


async def _headless(demo: Demo, stop: asyncio.Event, duration: float | None) -> None:
    out = sys.stdout
    print(connection_help(demo), flush=True)
    assert demo.traffic is not None
    tty = out.isatty()
    started = time.monotonic()
    last_log = started
    announced_slow = False
    shown_errors: tuple[str, ...] = ()
    samples: deque[tuple[float, int]] = deque(maxlen=11)  # (time, produced), about 10 s
    while not stop.is_set():
        wait = 1.0
        if duration is not None:
            left = started + duration - time.monotonic()
            if left <= 0:
                break
            wait = min(wait, left)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
        s = demo.traffic.stats()
        now = time.monotonic()
        samples.append((now, s.produced))
        rate = _recent_rate(samples)
        if s.slowed and not announced_slow:
            announced_slow = True
            _print_line(out, tty, f"produced {demo.full_rate_records:,} records: slowing to "
                                  f"{demo.rate * SLOW_FACTOR:g}/s to keep the in-memory "
                                  "brokers small")
        connect = _connect(demo)
        while connect is not None and connect.news:
            _print_line(out, tty, connect.news.pop(0))
        if s.errors and s.errors != shown_errors:
            shown_errors = s.errors
            _print_line(out, tty, f"retrying after: {s.errors[-1]}")
        if tty:
            out.write("\r\x1b[K" + status_line(s, rate)[: _width(out)])
            out.flush()
        elif now - last_log >= LOG_EVERY_S:
            last_log = now
            print(status_line(s, rate), flush=True)
    s = demo.traffic.stats()
    if tty:
        out.write("\r\x1b[K")
    print(status_line(s), flush=True)


def _recent_rate(samples: deque[tuple[float, int]]) -> float | None:
    if len(samples) < 2:
        return None
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else None


def _width(out: Any) -> int:
    """Columns of the terminal, so the running count never wraps (a wrapped line would not
    be overwritten by the next one)."""
    try:
        columns = os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError):
        return 100
    return columns - 1 if columns > 20 else 100  # a pty of unknown size says 0


def _print_line(out: Any, tty: bool, text: str) -> None:
    out.write(("\r\x1b[K" if tty else "") + text + "\n")
    out.flush()
