"""`kafkaops usage`: what each team and topic produces and stores, and the chargeback report.

    kafkaops usage [--window 1h] [--by team|topic] [--topic GLOB] [--team NAME] [--json|--csv]
    kafkaops usage record                     write this hour's sample to _kafkaops.usage
    kafkaops usage report --month 2026-11 [--csv|--json]

`usage` reads the cluster once, now: records in over the window from the log's time index
(the first offset of the window by record time, to the end offset now), bytes from the
record batches of those ranges (exact when every batch was read, else estimated from
sampled batches with a 95% interval), stored bytes, retention, compression and the groups
reading each topic, with the window before for the top movers. No second sample is needed,
so nothing is waited for.

`usage report` prices a month from the hourly samples that `usage record` (or the bot)
keeps on `_kafkaops.usage`: each row shows quantity x price, totals add up to the rows.

Exit codes: 0 done; 1 the cluster did not answer or no sample covers the month; 2 bad usage
or config (no costs: for a report).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from datetime import UTC, datetime
from typing import Any

from kafkaops.cli.common import Context, print_json, table
from kafkaops.core.config import Duration
from kafkaops.core.errors import ConfigError, KafkaOpsError, UsageError
from kafkaops.core.usage.model import Amount, TeamUsage, TopicUsage, UsageReport
from kafkaops.core.usage.summary import human_bytes, shown

DEFAULT_WINDOW = 3600.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "usage", help="usage per team and topic: bytes in, stored, movers; chargeback",
        description="What each team and topic produced over a window and stores now, read "
        "off the log itself; `usage report` prices a month for chargeback.")
    p.add_argument("--window", type=_window, default=DEFAULT_WINDOW, metavar="DURATION",
                   help="the window ending now (e.g. 15m, 1h, 7d; default 1h)")
    p.add_argument("--by", choices=("team", "topic"), default="team",
                   help="one row per team (default) or per topic")
    p.add_argument("--topic", metavar="GLOB", help="only topics matching this pattern")
    p.add_argument("--team", metavar="NAME", help="only topics of this team (or 'unowned')")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON for scripts")
    fmt.add_argument("--csv", action="store_true", help="print CSV for spreadsheets")
    p.set_defaults(func=usage_cmd)
    usub = p.add_subparsers(dest="usage_command", metavar="COMMAND", parser_class=type(p))
    r = usub.add_parser("report", help="monthly chargeback: storage and ingress, priced",
                        description="Storage (GB-months, every replica) and ingress (GB) "
                        "per topic and team for a month, priced with costs: from config, "
                        "from the hourly samples on _kafkaops.usage.")
    r.add_argument("--month", required=True, metavar="YYYY-MM", help="the month, e.g. 2026-11")
    rfmt = r.add_mutually_exclusive_group()
    rfmt.add_argument("--json", action="store_true", help="print JSON for scripts")
    rfmt.add_argument("--csv", action="store_true", help="print CSV for spreadsheets")
    r.set_defaults(func=report_cmd)
    rec = usub.add_parser("record", help="measure now and keep the sample on _kafkaops.usage",
                          description="Measure every topic over the last hour and write the "
                          "sample the monthly report is made of (the bot does this every "
                          "hour; run it from cron where no bot runs).")
    rec.add_argument("--json", action="store_true", help="print JSON for scripts")
    rec.set_defaults(func=record_cmd)


def _window(text: str) -> float:
    try:
        value = float(Duration.parse(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a duration such as 15m, 1h or 7d (got {text!r})") from None
    if not 1 <= value <= 31 * 86400:
        raise argparse.ArgumentTypeError(f"a window from 1s to 31d (got {text!r})")
    return value


def _check_team(ctx: Context, team: str | None) -> None:
    from kafkaops.core.usage.teams import UNOWNED

    if team is not None and team != UNOWNED and team not in ctx.config.teams:
        known = ", ".join([*ctx.config.teams, UNOWNED])
        raise UsageError(f"--team {team!r}: no such team under teams: (known: {known})")


# ---------------------------------------------------------------- usage


async def usage_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.usage.service import UsageService

    _check_team(ctx, args.team)
    async with ctx.services() as services:
        report = await UsageService(services).measure(args.window, topic=args.topic,
                                                       team=args.team)
    if args.json:
        print_json(report)
    elif args.csv:
        write_csv(report, args.by)
    else:
        print(render(report, args.by))
    for note in report.notes:
        sys.stderr.write(f"kafkaops: {note}\n")
    return 0


def window_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _rate(n: float | None, window: float) -> str:
    if n is None:
        return "unknown"
    per = n / window
    return f"{per:,.2f}" if per < 100 else f"{per:,.0f}"


def _change(before: Amount, now: Amount) -> str:
    if before.value is None or now.value is None:
        return "unknown"
    if not before.value:
        return "new" if now.value else "-"
    return f"{(now.value - before.value) / before.value:+.0%}"


def render(report: UsageReport, by: str) -> str:
    when = datetime.fromtimestamp(report.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    w = report.window
    lines = [f"usage on {report.cluster}: the {window_text(w)} ending {when} · bytes as the "
             "broker stores them (compressed where produced so); ± is the 95% interval of "
             "an estimate from sampled batches", ""]
    if by == "team":
        lines.append(table(
            ["Team", "Topics", "Records in", "Rec/s", "Bytes in", "Bytes/s", "Payload in",
             "Stored", "Stored x replicas", "Before", "Change"],
            [[t.team, t.topics, f"{t.records_in:,}", _rate(t.records_in, w), shown(t.bytes_in),
              human_bytes(None if t.bytes_in.value is None else t.bytes_in.value / w) + "/s",
              shown(t.payload_in), shown(t.bytes_stored), shown(t.bytes_stored_replicated),
              shown(t.bytes_in_previous), _change(t.bytes_in_previous, t.bytes_in)]
             for t in report.teams],
            right=range(1, 11)))
    else:
        lines.append(table(
            ["Topic", "Team", "Records in", "Rec/s", "Bytes in", "Stored", "Retention",
             "Compression", "Ratio", "Before", "Change", "Groups"],
            [[t.topic, t.team, f"{t.records_in:,}", _rate(t.records_in, w), shown(t.bytes_in),
              shown(t.bytes_stored), _retention(t), t.compression or "not reported",
              "-" if t.compression_ratio is None else f"{t.compression_ratio:.1f}x",
              shown(t.bytes_in_previous), _change(t.bytes_in_previous, t.bytes_in),
              _groups(t)]
             for t in report.topics],
            right=(2, 3, 4, 5, 8, 9, 10)))
    cut = [t.topic for t in report.topics if t.window_cut]
    if report.movers:
        lines += ["", f"Top movers (bytes in, against the {window_text(w)} before):"]
        for m in report.movers:
            ratio = "new" if m.ratio is None else f"{m.ratio:.1f}x"
            lines.append(f"  {m.kind} {m.name}: {human_bytes(m.before)} -> "
                         f"{human_bytes(m.now)} ({ratio})")
    estimated = sum(1 for t in report.topics if t.bytes_in.error or t.bytes_stored.error)
    source = ("every figure exact: every batch of the ranges measured was read"
              if not estimated else
              f"{estimated} topic(s) estimated from sampled batches (±: 95% interval)")
    lines += ["", f"Source: the log itself ({source}); read {human_bytes(report.bytes_read)} "
              f"in {report.fetches} fetch(es), budget {human_bytes(report.budget)}; "
              "log-dir sizes are not used"]
    if cut:
        lines.append(f"Retention deleted records of the windows of {len(cut)} topic(s) "
                     f"({', '.join(cut[:5])}{', ...' if len(cut) > 5 else ''}): their "
                     "counts are lower bounds")
    return "\n".join(lines)


def _retention(t: TopicUsage) -> str:
    if t.retention_ms is None:
        return "not reported"
    from kafkaops.core.policy.rules import parse_number
    from kafkaops.core.policy.rules import shown as shown_kind

    try:
        return shown_kind("duration", parse_number("duration", t.retention_ms, "retention.ms"))
    except ValueError:
        return t.retention_ms


def _groups(t: TopicUsage) -> str:
    if t.groups is None:
        return "unknown"
    if not t.groups:
        return "-"
    return ", ".join(t.groups[:3]) + (f" +{len(t.groups) - 3}" if len(t.groups) > 3 else "")


def _amount_cols(prefix: str, a: Amount) -> dict[str, Any]:
    return {prefix: "" if a.value is None else f"{a.value:.0f}",
            f"{prefix}_error": "" if math.isinf(a.error) else f"{a.error:.0f}",
            f"{prefix}_source": a.source}


def csv_dicts(report: UsageReport, by: str) -> list[dict[str, Any]]:
    """The rows `--csv` writes (one per team or topic)."""
    w = report.window
    rows: list[dict[str, Any]] = []
    items: list[TeamUsage] | list[TopicUsage]
    items = list(report.teams) if by == "team" else list(report.topics)
    for t in items:
        row: dict[str, Any] = {"cluster": report.cluster, "window_seconds": f"{w:g}"}
        if isinstance(t, TeamUsage):
            row |= {"team": t.team, "topics": t.topics}
        else:
            row |= {"topic": t.topic, "team": t.team, "partitions": t.partitions,
                    "replication_factor": t.replication_factor}
        row["records_in"] = t.records_in
        row["records_in_per_s"] = f"{t.records_in / w:.4f}"
        row |= _amount_cols("bytes_in", t.bytes_in)
        row |= _amount_cols("payload_in", t.payload_in)
        row |= _amount_cols("bytes_stored", t.bytes_stored)
        row |= _amount_cols("bytes_in_previous", t.bytes_in_previous)
        if isinstance(t, TopicUsage):
            row |= {"retention_ms": t.retention_ms or "",
                    "compression": t.compression or "",
                    "compression_ratio": ("" if t.compression_ratio is None
                                          else f"{t.compression_ratio:.3f}"),
                    "groups": " ".join(t.groups or ()), "window_cut": t.window_cut}
        rows.append(row)
    return rows


def write_csv(report: UsageReport, by: str) -> None:
    rows = csv_dicts(report, by)
    fields = list(rows[0]) if rows else ["cluster", "window_seconds", by]
    out = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    out.writeheader()
    out.writerows(rows)


# ---------------------------------------------------------------- record and report


async def record_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.usage import history

    async with ctx.services() as services:
        sample = await history.record(services)
        signed = history.signing_key(services) is not None
    if args.json:
        print_json({"cluster": sample.cluster, "at": sample.at, "hour": sample.hour,
                    "topics": len(sample.topics), "signed": signed, "topic": history.TOPIC})
        return 0
    print(f"usage sample of {len(sample.topics)} topic(s) on {sample.cluster} kept on "
          f"{history.TOPIC} for {sample.hour}:00 UTC"
          + ("" if signed else " (unsigned: set audit.signing_key to sign samples)"))
    return 0


async def report_cmd(args: argparse.Namespace, ctx: Context) -> int:
    import time

    from kafkaops.core.usage import history
    from kafkaops.core.usage.chargeback import bill, csv_rows, month_bounds, to_json

    try:
        month_bounds(args.month)
    except ValueError as e:
        raise UsageError(f"--month: {e}") from None
    costs = ctx.config.costs
    if costs is None:
        raise ConfigError(f"{ctx.config.source}: costs: not configured; add e.g. "
                          "costs: {storage_gb_month: 0.10, ingress_gb: 0.02, currency: USD}")
    async with ctx.services() as services:
        kept = await history.read(services)
        cluster = services.cluster_name
    if not kept.exists:
        raise KafkaOpsError(f"no usage history on cluster {cluster!r}: {history.TOPIC} does "
                            "not exist (run `kafkaops usage record` hourly, or the bot)")
    b = bill(kept.samples, args.month, cluster=cluster, teams=ctx.config.teams, costs=costs,
             now=time.time())
    if kept.rejected:
        sys.stderr.write(f"kafkaops: {kept.rejected} sample(s) left out: "
                         f"{'; '.join(kept.reasons)}\n")
    if not kept.signed:
        sys.stderr.write("kafkaops: samples are not signed (no audit.signing_key): anyone "
                         f"who may produce to {history.TOPIC} could alter them\n")
    if not b.samples:
        sys.stderr.write(f"kafkaops: no sample of {cluster} in {args.month}\n")
    if args.csv:
        csv.writer(sys.stdout, lineterminator="\n").writerows(csv_rows(b))
    elif args.json:
        print_json(to_json(b))
    else:
        print(render_bill(b))
    return 0 if b.samples else 1


def render_bill(b: Any) -> str:
    from kafkaops.core.usage.chargeback import fmt

    cur = b.currency
    lines = [f"chargeback {b.month} on {b.cluster} · {b.hours_sampled} of "
             f"{b.hours_in_month.quantize(1)} hours sampled ({b.samples} samples) · "
             f"storage {fmt(b.storage_price)} {cur}/GB-month (every replica), ingress "
             f"{fmt(b.ingress_price)} {cur}/GB", ""]
    rows = []
    for r in b.rows:
        label = {"topic": r.topic, "team": f"{r.team} total", "total": "TOTAL"}[r.kind]
        rows.append([r.team if r.kind == "topic" else "", label,
                     f"{fmt(r.storage_gb_month)} x {fmt(b.storage_price)} = "
                     f"{fmt(r.storage_cost)}",
                     f"{fmt(r.ingress_gb)} x {fmt(b.ingress_price)} = {fmt(r.ingress_cost)}",
                     f"{fmt(r.total_cost)} {cur}" + (" ~" if r.estimated else "")])
    lines.append(table(["Team", "Topic", "Storage GB-month x price", "Ingress GB x price",
                        "Total"], rows, right=(4,)))
    if any(r.estimated for r in b.rows):
        lines += ["", "~ some stored bytes were estimated from sampled batches"]
    return "\n".join(lines)
