"""`kafkaops offsets reset`: move a consumer group, after showing exactly what will move.

    kafkaops offsets reset GROUP --topic T [--partition P ...]
        (--to-earliest | --to-latest | --to-time T | --to-offset N | --shift-by N)
        [--dry-run] [--yes] [--json]

The plan (per partition: committed offset now, new offset, records skipped or replayed,
where it was clamped) is printed first; the change asks on a terminal, takes --yes in
scripts, refuses with neither, and is refused on a read-only cluster. After committing, the
offsets are read back from the group coordinator and compared with the plan.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json, table
from kafkaops.core.audit.log import local_actor
from kafkaops.core.offsets.model import ResetPlan, ResetRequest, ResetResult
from kafkaops.core.offsets.rules import parse_target, writable_action
from kafkaops.core.offsets.service import OffsetResetService

_MODES = {
    "to_earliest": "earliest",
    "to_latest": "latest",
    "to_time": "time",
    "to_offset": "offset",
    "shift_by": "shift",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("offsets", help="reset a consumer group's committed offsets")
    osub = p.add_subparsers(dest="offsets_command", metavar="COMMAND", required=True,
                            parser_class=type(p))
    r = osub.add_parser(
        "reset",
        help="move a group to earliest, latest, a time, an offset, or by N (plan first)",
        description="Move a consumer group's committed offsets on one topic. The plan is "
        "shown first; the group must have no active members.",
    )
    r.add_argument("group", metavar="GROUP", help="consumer group id")
    r.add_argument("--topic", "-t", required=True, help="topic whose offsets move")
    r.add_argument(
        "--partition", "-p", action="append", type=_partitions, metavar="P",
        help="only this partition (repeat, or 0,1,2); default: every partition",
    )
    mode = r.add_mutually_exclusive_group(required=True)
    mode.add_argument("--to-earliest", action="store_true", help="to the log start")
    mode.add_argument("--to-latest", action="store_true", help="to the log end (skip the rest)")
    mode.add_argument(
        "--to-time", metavar="T",
        help="to the first record at or after T: 1h / 30m / 2d ago, an ISO time "
        "(2026-11-25T02:00:00Z; local time without a zone), or epoch ms",
    )
    mode.add_argument("--to-offset", metavar="N", help="to offset N (clamped to the log)")
    mode.add_argument(
        "--shift-by", metavar="N", help="+N forward (skip N records), -N back (replay N)"
    )
    r.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    add_yes(r)
    add_json(r)
    r.set_defaults(func=reset_cmd)


def _partitions(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"partition must be a number or a list such as 0,1,2 (got {text!r})"
        ) from None
    if not out or any(p < 0 for p in out):
        raise argparse.ArgumentTypeError(f"partition must be a number >= 0 (got {text!r})")
    return out


async def reset_cmd(args: argparse.Namespace, ctx: Context) -> int:
    # `is not None`: an empty value ('--to-offset ""') is a mode given without a value
    chosen = [(dest, mode) for dest, mode in _MODES.items()
              if getattr(args, dest) not in (None, False)]
    dest, mode = chosen[0]  # argparse made exactly one required
    value = getattr(args, dest)
    target = parse_target(mode, None if isinstance(value, bool) else value)
    partitions = (
        tuple(sorted({p for group in args.partition for p in group})) if args.partition else None
    )
    async with ctx.services() as services:
        if not args.dry_run:  # refuse before any question is asked
            services.require_writable(action=writable_action(args.group))
        svc = OffsetResetService(services)
        plan = await svc.plan(ResetRequest(args.group, args.topic, target, partitions))
        if args.dry_run or not plan.changing:
            emit(args, plan, None, dry_run=args.dry_run)
            return 0
        text = render_plan(plan)
        if not args.json:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        confirm(args, text if args.json else f"About to reset {plan.summary()}.")
        result = await svc.apply(plan, actor=local_actor(), face="cli")
    emit(args, plan, result, dry_run=False)
    if not result.verified:
        bad = ", ".join(
            f"partition {c.partition}: planned {_off(c.planned)}, committed {_off(c.committed)}"
            for c in result.mismatches
        )
        sys.stderr.write(
            f"kafkaops: committed offsets read back do not match the plan ({bad})\n"
        )
        return 1
    return 0


def emit(
    args: argparse.Namespace, plan: ResetPlan, result: ResetResult | None, *, dry_run: bool
) -> None:
    if args.json:
        print_json(plan_json(plan, result, dry_run=dry_run))
        return
    if result is None:
        out = render_plan(plan)
        if not plan.changing:
            out += "\n" + plan.nothing_to_change()
        elif dry_run:
            out += "\nDry run: nothing was changed."
            if plan.read_only:
                out += (
                    f"\nCluster {plan.cluster!r} is read-only: this plan cannot be applied."
                )
        sys.stdout.write(out + "\n")
    else:
        sys.stdout.write(render_result(result) + "\n")


# ---------------------------------------------------------------- output


def _off(v: int | None) -> str:
    return "no offset" if v is None else f"{v:,}"


def render_plan(plan: ResetPlan) -> str:
    rows = [
        (
            p.partition,
            _off(p.current),
            "unchanged" if p.new is None else f"{p.new:,}",
            p.log_start,
            p.log_end,
            p.move,
            p.note or "",
        )
        for p in plan.partitions
    ]
    head = (
        f"Offset reset plan: group {plan.group} on topic {plan.topic}, cluster {plan.cluster} "
        f"(group state {plan.group_state})\n"
        f"{plan.target.describe()}"
    )
    body = table(
        ["PARTITION", "COMMITTED", "NEW", "LOG START", "LOG END", "MOVE", "NOTE"],
        rows,
        right=(0, 1, 2, 3, 4),
    )
    n = len(plan.changing)
    total = (
        f"Total: {n} of {len(plan.partitions)} partitions change; replays "
        f"{plan.total_replay:,} records, skips {plan.total_skip:,} records."
    )
    return f"{head}\n\n{body}\n{total}"


def render_result(result: ResetResult) -> str:
    plan = result.plan
    rows = [
        (c.partition, _off(c.planned), _off(c.committed), "ok" if c.ok else "MISMATCH")
        for c in result.checks
    ]
    body = table(["PARTITION", "PLANNED", "COMMITTED", "CHECK"], rows, right=(0, 1, 2))
    if result.verified:
        verdict = (
            f"Committed offsets read back match the plan ({len(result.checks)} partitions). "
            f"Group {plan.group} {plan.target.describe()}: replays {plan.total_replay:,} "
            f"records, skips {plan.total_skip:,}."
        )
    else:
        verdict = (
            f"MISMATCH on {len(result.mismatches)} partition(s): the committed offsets are "
            "not what the plan said."
        )
    return f"Applied. Read back from the group coordinator:\n\n{body}\n{verdict}"


def plan_json(
    plan: ResetPlan, result: ResetResult | None, *, dry_run: bool
) -> dict[str, Any]:
    """The --json document: the plan, and after applying what was read back."""
    read_back = {c.partition: c.committed for c in result.checks} if result else {}
    return {
        "cluster": plan.cluster,
        "group": plan.group,
        "topic": plan.topic,
        "mode": plan.target.mode,
        "value": plan.target.value,
        "target": plan.target.describe(),
        "group_state": plan.group_state,
        "read_only": plan.read_only,
        "dry_run": dry_run,
        "applied": result is not None,
        "verified": None if result is None else result.verified,
        "total_skip": plan.total_skip,
        "total_replay": plan.total_replay,
        "summary": plan.summary(),
        "partitions": [
            {
                "partition": p.partition,
                "current": p.current,
                "new": p.new,
                "requested": p.requested,
                "log_start": p.log_start,
                "log_end": p.log_end,
                "skip": p.skip,
                "replay": p.replay,
                "clamped": p.clamped,
                "changes": p.changes,
                "note": p.note,
                **({"committed_after": read_back.get(p.partition)} if result else {}),
            }
            for p in plan.partitions
        ],
    }
