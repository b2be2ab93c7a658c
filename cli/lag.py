"""`kafkaops lag`: consumer lag per group and partition, in records and seconds, with status.

    kafkaops lag [--group G ...] [--window 30s] [--fail-on ERR,STOP] [--summary] [--json]

Prints one row per group and partition (committed, end, lag, lag time, status), then one
row per group (state, members, total lag, oldest unread record, status, trend, ETA).

Status needs time, judged by the same rules in every face (config `lag:`: window 5m,
warm-up 30s, changes held 30s, stall 60s by default), printed under the tables. Without
--window one snapshot is taken: too little evidence for any status, so every group reads
"warming up" (DATA LOSS, a fact of one snapshot, excepted). With --window the command takes
snapshots through that time (one every window/5, at least a second apart): at least the
warm-up, after which STOP, WARN, REWIND are judged, and STALL / ERR once an offset stood
still for the stall time. Lag must grow by more than 5 s of production to count as growing
(WARN). --fail-on that names a judged status, given without --window, takes a window of the
warm-up (and says so on stderr) rather than run a check that could never fail.

Exit codes: 0 done; 1 a status named in --fail-on was found, a named group does not exist,
or the cluster is unreachable; 2 bad usage (a --window shorter than the warm-up included).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from typing import Any

from kafkaops.cli.common import Context, add_json, print_json, table
from kafkaops.core.config import Duration
from kafkaops.core.errors import UsageError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.lag.model import GroupLag, LagSnapshot, lag_policy, status_basis
from kafkaops.core.lag.service import LagService
from kafkaops.core.lag.stamps import TimestampStore, store_for
from kafkaops.core.lag.status import WINDOW_ONLY, LagPolicy, PartitionState, Status, age, eta_text

#: window taken when --fail-on names a status only a window can show and the config has
#: no warm-up (the warm-up is taken otherwise)
DEFAULT_WINDOW = 10.0
#: statuses one snapshot can show
ONE_SNAPSHOT = frozenset({Status.DATA_LOSS, Status.UNKNOWN, Status.WARMING_UP})


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "lag",
        help="consumer lag per group and partition: records, seconds, status, ETA",
        description="Consumer lag of every consumer group (or the named ones): committed "
        "offset, true log end, lag in records and in seconds (age of the next record the "
        "group will read), and a status. One snapshot reads 'warming up' (only DATA_LOSS is "
        "told at once); --window, at least the warm-up of config lag:, judges the rest.",
    )
    p.add_argument("--group", "-g", action="append", metavar="GROUP",
                   help="only this consumer group (repeat for more); default: every group")
    p.add_argument("--window", type=_window, metavar="DURATION",
                   help="take snapshots through this long (e.g. 30s, 2m; at least the "
                   "warm-up, config lag.warmup) and judge status over them; default: one "
                   "snapshot")
    p.add_argument("--fail-on", type=_statuses, metavar="STATUS,...",
                   help="exit 1 when any group or partition has one of these statuses "
                   "(OK, WARN, ERR, STOP, STALL, REWIND, DATA_LOSS, UNKNOWN, WARMING_UP), "
                   "e.g. ERR,STOP")
    p.add_argument("--summary", action="store_true",
                   help="one row per group only, no partition rows")
    add_json(p)
    p.set_defaults(func=lag_cmd)


def _window(text: str) -> float:
    try:
        value = float(Duration.parse(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a duration such as 10s, 30s or 2m (got {text!r})") from None
    if value != 0 and value < 2:
        raise argparse.ArgumentTypeError(
            f"a window under 2s cannot show a trend (got {text!r}); use 0 for one snapshot")
    return value


def _statuses(text: str) -> frozenset[Status]:
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("name at least one status, e.g. ERR,STOP")
    try:
        return frozenset(Status.parse(t) for t in items)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


async def lag_cmd(args: argparse.Namespace, ctx: Context) -> int:
    fail_on: frozenset[Status] = args.fail_on or frozenset()
    window: float | None = args.window
    policy = lag_policy(ctx.config)
    if window is None:
        needs = sorted(s.value for s in fail_on - ONE_SNAPSHOT)
        window = 0.0
        if needs:
            window = policy.warmup or (DEFAULT_WINDOW if fail_on & WINDOW_ONLY else 0.0)
        if window:
            sys.stderr.write(
                f"kafkaops: {', '.join(needs)} can only be told over time: taking snapshots "
                f"for {age(window)} (--window sets how long)\n")
    elif 0 < window < policy.warmup:
        raise UsageError(
            f"--window {age(window)} ends before the warm-up ({age(policy.warmup)}, config "
            "lag.warmup): no status could be judged; give at least that, or 0 for one "
            "snapshot")
    async with ctx.services() as services:
        conn = await services.connection()
        store = store_for(services.config, conn.config.bootstrap_servers)
        snap = await take(conn, args.group, window, policy, store)
    if args.json:
        print_json(as_json(snap))
    else:
        sys.stdout.write(render(snap, summary=args.summary) + "\n")
    if fail_on:
        hits = matching(snap, fail_on)
        if hits:
            sys.stderr.write("kafkaops: --fail-on matched: " + "; ".join(hits) + "\n")
            return 1
    return 0


async def take(conn: KafkaConnection, groups: list[str] | None, window: float,
               policy: LagPolicy | None = None,
               store: TimestampStore | None = None) -> LagSnapshot:
    """One snapshot, or snapshots through `window` seconds judged together, by `policy`
    (the config's, which every face uses); `store` keeps record timestamps for next time."""
    policy = policy or LagPolicy()
    if window <= 0:
        svc = LagService(conn, policy=policy, store=store)
        try:
            return await svc.snapshot(groups, missing_ok=False)
        finally:
            await svc.stop()
    interval = max(1.0, window / 5)
    # keep every snapshot of this short run (the policy thins them to one per window/12)
    keep = max(policy.max_samples, int(policy.window / interval) + 4)
    svc = LagService(conn, policy=dataclasses.replace(policy, max_samples=keep), store=store)
    try:
        first = await svc.snapshot(groups, missing_ok=False)
        snap = first
        names = [g.group for g in first.groups] if groups is None else groups
        while snap.taken_at - first.taken_at < window:
            await asyncio.sleep(min(interval, first.taken_at + window - snap.taken_at))
            # every later snapshot reads the same groups, so each is judged on all of them
            snap = await svc.snapshot(names)
    finally:
        await svc.stop()
    return snap


def matching(snap: LagSnapshot, statuses: frozenset[Status]) -> list[str]:
    """Groups with a matching status (its own, or one of its partitions')."""
    hits = []
    for g in snap.groups:
        found = {g.status} | {p.status for p in g.partitions
                              if p.state is not PartitionState.NO_OFFSET}
        matched = sorted(s.label for s in found & statuses)
        if matched:
            hits.append(f"{g.group} {'/'.join(matched)}")
    return hits


def basis(snap: LagSnapshot) -> str:
    text = status_basis(snap)
    samples = max((g.samples for g in snap.groups), default=1)
    if samples <= 1 and snap.groups:
        pol = snap.policy or LagPolicy()
        text += f"; --window {age(max(pol.warmup, 2.0))} waits for a status"
    return text


def render(snap: LagSnapshot, *, summary: bool = False) -> str:
    if not snap.groups:
        return f"no consumer groups on cluster {snap.cluster!r}"
    out: list[str] = []
    if not summary:
        out.append(table(
            ["GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "LAG TIME",
             "STATUS", "TREND", "ETA", "NOTE"],
            [row for g in snap.groups for row in _partition_rows(g)],
            right=(2, 3, 4, 5, 6),
        ))
        out.append("")
    out.append(table(
        ["GROUP", "STATE", "MEMBERS", "LAG", "LAG TIME", "STATUS", "TREND", "ETA"],
        [(g.group, g.state, g.member_count, g.lag, age(g.lag_seconds), g.status.label,
          g.trend.value if g.trend else None, eta_text(g.eta_seconds, g.lag, g.trend))
         for g in snap.groups],
        right=(2, 3, 4),
    ))
    errors = [f"{g.group}: {g.error}" for g in snap.groups if g.error]
    if errors:
        out += ["", *errors]
    out += ["", f"{basis(snap)}; lag time = age of the next record each group will read"]
    return "\n".join(out)


def _partition_rows(g: GroupLag) -> list[tuple[Any, ...]]:
    rows = []
    for p in g.partitions:
        note = None
        if p.state is PartitionState.DATA_LOSS:
            note = f"data loss: {p.lost:,} records deleted before the group read them"
        elif p.state is not PartitionState.OK:
            note = p.state.value
        rows.append((
            g.group, p.topic, p.partition,
            "no offset" if p.committed is None else p.committed,
            p.end, p.lag, age(p.lag_seconds) if p.lag_seconds is not None else None,
            p.status.label if p.state is not PartitionState.NO_OFFSET else None,
            p.trend.value if p.trend else None, eta_text(p.eta_seconds, p.lag, p.trend), note,
        ))
    return rows


#: GroupLag's fields in the --json "groups" objects: all but the partitions, which are
#: listed flat under "partitions"
_GROUP_FIELDS = tuple(f.name for f in dataclasses.fields(GroupLag) if f.name != "partitions")


def as_json(snap: LagSnapshot) -> dict[str, Any]:
    """The --json document; records stay records (the JSON writer serializes them)."""
    groups = []
    for g in snap.groups:
        data = {name: getattr(g, name) for name in _GROUP_FIELDS}
        data["member_count"] = g.member_count
        groups.append(data)
    pol = snap.policy or LagPolicy()
    return {
        "cluster": snap.cluster,
        "taken_at": snap.taken_at,
        "elapsed": round(snap.elapsed, 3),
        "requests": snap.requests,
        "status_basis": basis(snap),
        "policy": {"window": pol.window, "warmup": pol.warmup, "min_samples": pol.min_samples,
                   "hold": pol.hold, "stall_seconds": pol.stall_seconds},
        "groups": groups,
        "partitions": snap.rows(),
    }
