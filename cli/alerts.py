"""`kafkaops alerts`: the alert rules from config, without Slack.

    kafkaops alerts check [--all] [--json]     evaluate the metric rules once: what would fire
    kafkaops alerts run [--once] [--json] [--metrics-port N]
                                               evaluate every alerts.interval and publish
                                               firing/resolved events (and event rules'
                                               notices) to the alerts topic
    kafkaops alerts list [--json]              alerts firing now, as the alerts topic says

`check` writes nothing. A single evaluation knows the current values and what one snapshot
can tell (STOP, DATA_LOSS; WARN/ERR/STALL need a window of snapshots, which `run` and the
bot build up), so a rule with `for:` shows as pending rather than firing.

`run` is the evaluator of `kafkaops bot` without the Slack side: whatever posts to Slack
(a bot replica) picks its events up from the topic. `--metrics-port N` serves Prometheus
metrics at http://HOST:N/metrics (and /healthz) while it runs; the bot serves the same on
its own HTTP listener.

Exit codes: 0 done; 1 `check`: a cluster did not answer (the check is incomplete), `run
--once`: the events could not be published; 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import Any

from kafkaops.cli.common import (
    Context,
    add_json,
    need_extra,
    print_json,
    print_json_lines,
    table,
)
from kafkaops.core.alerts.metrics import show_value
from kafkaops.core.alerts.model import AlertEvent
from kafkaops.core.alerts.runner import Evaluation
from kafkaops.core.lag.status import age


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="alert rules: check them, run the evaluator, list firing")
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    check = asub.add_parser(
        "check", help="evaluate the metric rules once and print what would fire (writes "
        "nothing)")
    check.add_argument("--all", action="store_true",
                       help="also list subjects whose condition is false")
    add_json(check)
    check.set_defaults(func=check_cmd)

    run = asub.add_parser(
        "run", help="evaluate every alerts.interval and publish events to the alerts topic "
        "(no Slack)")
    run.add_argument("--once", action="store_true", help="evaluate once, publish, exit")
    run.add_argument("--metrics-port", type=int, metavar="N",
                     help="serve Prometheus metrics on this port at /metrics")
    run.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                     help="address for --metrics-port (default 127.0.0.1)")
    add_json(run)
    run.set_defaults(func=run_cmd)

    lst = asub.add_parser("list", help="alerts firing now, as the alerts topic says")
    add_json(lst)
    lst.set_defaults(func=list_cmd)


# ---------------------------------------------------------------- check


def verdicts(ev: Evaluation, book: Any) -> list[dict[str, Any]]:
    """One row per rule and subject: what the evaluation says and what would happen."""
    changes = {(e.alert_id, e.type) for e in ev.events}
    rows = []
    for r in ev.results:
        view = book.get(r.alert_id)
        firing_now = view is not None and view.state == "firing"
        if (r.alert_id, "firing") in changes:
            outcome = "would fire"
        elif (r.alert_id, "resolved") in changes:
            outcome = "would resolve"
        elif firing_now:
            outcome = "firing"
        elif r.holds is True:
            outcome = "pending"
        elif r.holds is None:
            outcome = "unknown"
        else:
            outcome = "ok"
        rows.append({
            "rule": r.rule, "alert_id": r.alert_id, "subject": r.subject.to_json(),
            "condition": {True: "true", False: "false", None: "unknown"}[r.holds],
            "values": {k: show_value(k, v) for k, v in r.values.items()},
            "outcome": outcome,
        })
    return rows


async def check_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.alerts.log import AlertLog
    from kafkaops.core.alerts.runner import AlertEvaluator
    from kafkaops.core.errors import KafkaOpsError

    services = ctx.services()
    async with services:
        log = AlertLog(services)
        warnings: list[str] = []
        try:
            log.book = await log.read_book()
        except KafkaOpsError as e:
            warnings.append(f"cannot read {log.topic} (what is firing now is not shown): {e}")
        evaluator = AlertEvaluator(services, log_=log)
        ev = await evaluator.evaluate(publish=False)
        rows = verdicts(ev, log.book)
        rules = evaluator.rules
        by_rule = {r.name: r for r in rules.metric}
        events = [{"rule": r.name, "cluster": r.cluster, "topic": r.topic,
                   "filter": r.filter_text, "message": r.message, "channel": r.channel,
                   "max_per_minute": r.max_per_minute} for r in rules.event]
        if args.json:
            print_json({"metric_rules": rows, "event_rules": events,
                        "unreachable": list(ev.unreachable),
                        "errors": list(ev.errors) + warnings})
            return 1 if ev.unreachable else 0
        for w in warnings:
            sys.stderr.write(f"kafkaops: {w}\n")
        shown = rows if args.all else [r for r in rows if r["outcome"] != "ok"]
        if shown:
            print(table(
                ["RULE", "SUBJECT", "NOW", "CONDITION", "OUTCOME"],
                [(r["rule"], _subject(r["subject"]),
                  ", ".join(f"{k} {v}" for k, v in r["values"].items()),
                  by_rule[r["rule"]].when, _outcome(r["outcome"], by_rule[r["rule"]]))
                 for r in shown]))
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no subjects"
        print(f"{len(rules.metric)} metric rule(s), {len(rows)} subject(s): {summary}")
        for c in ev.unreachable:
            print(f"cluster {c}: UNREACHABLE")
        for e in ev.errors:
            if not any(e.startswith(f"cluster {c!r} unreachable") for c in ev.unreachable):
                print(f"problem: {e}")
        for r in rules.event:
            flt = f" where {r.filter_text}" if r.filter_text else ""
            print(f"event rule {r.name}: {r.topic} on {r.cluster}{flt} -> {r.channel} "
                  f"(at most {r.max_per_minute} a minute)")
        return 1 if ev.unreachable else 0


def _subject(s: dict[str, str]) -> str:
    if "pair" in s:
        return f"pair {s['pair']}"
    parts = [f"{k} {s[k]}" for k in ("group", "topic") if k in s]
    return (", ".join(parts) + f" on {s['cluster']}") if parts else f"cluster {s['cluster']}"


def _outcome(outcome: str, rule: Any) -> str:
    if outcome == "pending" and rule.for_seconds:
        return f"pending (fires after holding {age(rule.for_seconds)})"
    return outcome


# ---------------------------------------------------------------- run


def _event_line(e: AlertEvent) -> str:
    if e.type == "notice":
        return f"NOTICE   {e.rule}: {e.count} record(s): {e.text}"
    return f"{e.type.upper():<8} {e.rule} [{e.severity}] {e.summary} ({e.alert_id})"


async def run_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.alerts.events import EventWatcher
    from kafkaops.core.alerts.log import AlertLog
    from kafkaops.core.alerts.runner import AlertEvaluator

    if args.metrics_port is not None and not args.once:
        need_extra("bot", "`kafkaops alerts run --metrics-port`")  # aiohttp serves /metrics
    services = ctx.services()
    async with services:
        log = AlertLog(services)

        def show(ev: Evaluation) -> None:
            events = ev.events if ev.published else ()
            if args.json:
                print_json_lines(e.to_json() for e in events)
            else:
                for e in events:
                    sys.stdout.write(_event_line(e) + "\n")
            for c in ev.unreachable:
                sys.stderr.write(f"kafkaops: cluster {c!r} unreachable\n")
            sys.stdout.flush()

        evaluator = AlertEvaluator(services, log_=log, metrics=services.metrics, listener=show)
        if args.once:
            try:
                log.book = await log.read_book()
                ev = await evaluator.evaluate()
            finally:
                await log.stop()
            return 1 if ev.events and not ev.published else 0
        runner = None
        if args.metrics_port is not None:
            runner = await _serve_metrics(services, args.metrics_host, args.metrics_port)
        watchers = [EventWatcher(services, r, log_=log, metrics=services.metrics)
                    for r in evaluator.rules.event]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            for w in watchers:
                await w.start()
            await evaluator.start()
            where = (f"; metrics on http://{args.metrics_host}:{args.metrics_port}/metrics"
                     if runner is not None else "")
            sys.stderr.write(
                f"kafkaops alerts: {len(evaluator.rules.metric)} metric and "
                f"{len(watchers)} event rule(s), every {age(evaluator.interval)}, publishing "
                f"to {log.topic} on {log.cluster}{where}\n")
            sys.stderr.flush()
            await stop.wait()
        finally:
            await evaluator.stop()
            for w in watchers:
                await w.stop()
            await log.stop()
            if runner is not None:
                await runner.cleanup()
    return 0


async def _serve_metrics(services: Any, host: str, port: int) -> Any:
    from aiohttp import web

    from kafkaops.core.errors import ConfigError
    from kafkaops.core.metrics import CONTENT_TYPE

    started = time.time()

    async def metrics(request: web.Request) -> web.Response:
        # rendered off the loop: 0.8 s for 500 groups x 100 partitions, and the bot has
        # 3 s to acknowledge Slack
        body = await asyncio.to_thread(services.metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "uptime_s": round(time.time() - started, 1)})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(f"--metrics-port {port}: cannot listen on {host}:{port} "
                          f"({e.strerror or e})") from None
    return runner


# ---------------------------------------------------------------- list


async def list_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.alerts.log import AlertLog

    services = ctx.services()
    async with services:
        book = await AlertLog(services).read_book()
    now = time.time()
    firing = book.firing()
    rows = []
    for v in firing:
        ev = v.firing or v.event
        rows.append({
            "alert_id": v.alert_id, "rule": ev.rule, "severity": ev.severity,
            "subject": ev.subject.to_json(), "since": v.fired_at,
            "firing_for_seconds": round(now - v.fired_at, 1), "summary": ev.summary,
            "channel": ev.channel, "posted": ("firing", v.seq) in v.delivered,
            "snoozed_until": v.snoozed_until if (v.snoozed_until or 0) > now else None,
        })
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no alerts firing")
        return 0
    print(table(["RULE", "SEVERITY", "SUBJECT", "FOR", "NOW", "SLACK"],
                [(r["rule"], r["severity"], _subject(r["subject"]),
                  age(r["firing_for_seconds"]), r["summary"].split(": ", 1)[-1],
                  ("posted" if r["posted"] else "not yet")
                  + (" (snoozed)" if r["snoozed_until"] else ""))
                 for r in rows]))
    return 0
