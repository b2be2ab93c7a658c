"""`kafkaops dlq list|show|replay`: dead-letter topics, their reasons, and replay to the
origin topic (idempotent, confirmed, audited)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json, table
from kafkaops.core.audit.log import local_actor
from kafkaops.core.dlq.model import DeadLetterTopic, ReplayPlan, ReplayResult
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.errors import UsageError
from kafkaops.core.expr.filter import compile_filter
from kafkaops.core.messages.display import message_json, preview
from kafkaops.core.messages.model import Message


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="dead-letter topics: counts, reasons, replay")
    dsub = p.add_subparsers(dest="dlq_command", metavar="{list,show,replay}", required=True)

    lp = dsub.add_parser("list", help="dead-letter topics with counts and reasons grouped")
    add_json(lp)
    lp.add_argument("--sample", type=int, default=2000, metavar="N",
                    help="read the newest N records per partition for the reasons "
                    "(default 2000)")
    lp.set_defaults(func=list_cmd)

    sp = dsub.add_parser("show", help="a dead-letter topic's records with origin and reason")
    sp.add_argument("topic")
    sp.add_argument("--filter", "-f", metavar="EXPR", help="only records matching EXPR")
    sp.add_argument("--limit", "-n", type=int, default=100, metavar="N",
                    help="at most N records (default 100)")
    add_json(sp)
    sp.set_defaults(func=show_cmd)

    rp = dsub.add_parser(
        "replay", help="put dead letters back on their origin topic (once)",
        description="Replay the records of a dead-letter topic to the topic named in their "
        "headers (Spring kafka_dlt-original-topic, Kafka Connect __connect.errors.topic, "
        "kafkaops.origin.topic) or by the topic name. Records replayed before are skipped, "
        "so running it twice produces nothing the second time. Audited.")
    rp.add_argument("topic")
    rp.add_argument("--filter", "-f", metavar="EXPR", help="only records matching EXPR")
    rp.add_argument("--offset", action="append", metavar="P:O", dest="positions",
                    help="only the record at partition P offset O (repeat for several)")
    rp.add_argument("--to", metavar="TOPIC", help="replay to TOPIC instead of each origin")
    rp.add_argument("--dry-run", action="store_true", help="show what would be replayed; "
                    "change nothing")
    add_yes(rp)
    add_json(rp)
    rp.set_defaults(func=replay_cmd)


async def list_cmd(args: argparse.Namespace, ctx: Context) -> int:
    if args.sample < 1:
        raise UsageError("--sample N: N must be 1 or more")
    async with ctx.services() as services:
        topics = await DeadLetterService(services).list_topics(sample=args.sample)
    if args.json:
        print_json(topics)
    elif not topics:
        print("no dead-letter topics (names ending in "
              f"{', '.join(ctx.config.dead_letters.suffixes)}, or dead_letters.topics in config)")
    else:
        print(render_list(topics))
    return 0


def render_list(topics: list[DeadLetterTopic]) -> str:
    rows = table(
        ["DEAD-LETTER TOPIC", "ORIGIN", "MESSAGES", "REPLAYED", "FORMAT", "TOP REASON"],
        [(t.topic, t.origin, t.messages, t.replayed, ",".join(t.frameworks) or "-",
          f"{t.reasons[0].reason} ({t.reasons[0].count})" if t.reasons else "-")
         for t in topics],
        right=(2, 3),
    )
    details = []
    for t in topics:
        if len(t.reasons) > 1 or (t.reasons and t.read < t.messages):
            note = f" (newest {t.read:,} of {t.messages:,})" if t.read < t.messages else ""
            details.append(f"\n{t.topic} reasons{note}:")
            details += [f"  {r.count:>7,}  {r.reason}" for r in t.reasons[:10]]
            if len(t.reasons) > 10:
                details.append(f"  ... {len(t.reasons) - 10} more")
    return rows + "\n".join([""] + details if details else [])


def _positions(raw: list[str] | None) -> list[tuple[int, int]] | None:
    if not raw:
        return None
    out = []
    for item in raw:
        try:
            p, o = item.split(":")
            out.append((int(p), int(o)))
        except ValueError:
            raise UsageError(f"--offset {item}: expected PARTITION:OFFSET, e.g. 0:42") from None
    return out


async def show_cmd(args: argparse.Namespace, ctx: Context) -> int:
    where = compile_filter(args.filter) if args.filter else None
    async with ctx.services() as services:
        svc = DeadLetterService(services)
        letters = await svc.letters(args.topic, where=where, limit=args.limit)
        done = await svc.replayed_positions(args.topic)
    if args.json:
        print_json([{
            "partition": d.message.partition, "offset": d.message.offset,
            "timestamp": d.message.timestamp, "origin": d.origin, "error_class": d.error_class,
            "error_message": d.error_message, "reason": d.reason,
            "replayed": (d.message.partition, d.message.offset) in done,
            **_value_json(d.message),
        } for d in letters])
        return 0
    print(table(
        ["P:OFFSET", "ORIGIN", "REASON", "REPLAYED", "VALUE"],
        [(f"{d.message.partition}:{d.message.offset}",
          f"{d.origin.topic or '?'}" + (f" {d.origin.partition}:{d.origin.offset}"
                                        if d.origin.offset is not None else ""),
          d.reason[:60], (d.message.partition, d.message.offset) in done,
          preview(d.message.value, 50)) for d in letters]))
    return 0


def _value_json(m: Message) -> dict[str, Any]:
    """value (text, or null with value_base64) and, for a framed value, schema."""
    full = message_json(m)
    return {k: full[k] for k in ("value", "value_base64", "schema") if k in full}


async def replay_cmd(args: argparse.Namespace, ctx: Context) -> int:
    where = compile_filter(args.filter) if args.filter else None
    positions = _positions(args.positions)
    async with ctx.services() as services:
        svc = DeadLetterService(services)
        if not args.dry_run:
            services.require_writable(None, f"replay dead letters of {args.topic!r}")
        plan = await svc.plan_replay(args.topic, where=where, positions=positions, to=args.to)
        if args.dry_run or not plan.items:
            _print_plan(plan, args, dry=args.dry_run)
            return 0
        confirm(args, "\n".join(plan.describe(limit=50)))
        result = await svc.apply(plan, actor=local_actor(), face="cli")
    _print_result(result, args)
    return 0


def _print_plan(plan: ReplayPlan, args: argparse.Namespace, *, dry: bool) -> None:
    """The plan (a dry run), or why there is nothing to replay."""
    if args.json:
        print_json({"dry_run": True, **plan.to_jsonable()})
        return
    if not plan.items:
        skipped = plan.skipped()
        print(f"nothing to replay from {plan.topic}" + (": " + "; ".join(skipped) if skipped
                                                        else ""))
        return
    print("\n".join(plan.describe(limit=50)))
    if dry:
        print("dry run: nothing was changed")


def _print_result(r: ReplayResult, args: argparse.Namespace) -> None:
    if args.json:
        print_json(r)
        return
    out = sys.stdout
    if not r.items:  # everything chosen was replayed meanwhile (by another replay)
        out.write(f"nothing replayed from {r.topic}: {len(r.already_replayed):,} replayed "
                  "before\n")
        return
    out.write(f"replayed {r.count} record(s) of {r.topic} (replay id {r.replay_id})\n")
    rows = [(f"{i.partition}:{i.offset}", i.to_topic,
             f"{i.to_partition}:{i.to_offset}" if i.to_offset is not None else "-", i.reason[:70])
            for i in r.items[:50]]
    out.write(table(["FROM P:OFFSET", "TO TOPIC", "TO P:OFFSET", "REASON"], rows) + "\n")
    if r.count > 50:
        out.write(f"... and {r.count - 50} more\n")
    if r.already_replayed:
        out.write(f"skipped {len(r.already_replayed)} replayed before\n")
    if r.no_origin:
        out.write(f"skipped {len(r.no_origin)} with no known origin (use --to TOPIC)\n")
