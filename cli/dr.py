"""`kafkaops dr status [--pair NAME] [--json] [--partitions]`: replication and RPO of a DR
pair, as the console's DR screen and Slack's `/kafka dr` show them (core/dr/status.py).

Which cluster answered, and when, comes first (`clusters` in --json): a cluster that did
not answer within a few seconds makes every value read from it UNKNOWN, and the RPO
verdict is OK only when both answered."""

from __future__ import annotations

import argparse
import sys
import time

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json, table
from kafkaops.core.audit.log import local_actor
from kafkaops.core.dr.failover import FailoverService
from kafkaops.core.dr.model import DrStatus
from kafkaops.core.dr.rpo import answer_text, heartbeat_verdict, rpo_verdict
from kafkaops.core.dr.rpo import fmt_age as age
from kafkaops.core.dr.status import DrService


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dr", help="disaster recovery: replication lag, RPO, active cluster")
    dsub = p.add_subparsers(dest="dr_command", required=True, metavar="{status,resign}",
                            parser_class=type(p))
    s = dsub.add_parser(
        "status", help="per topic lag in records and seconds, checkpoints, heartbeats, RPO",
        description="Replication from the pair's active cluster to its standby, read from "
        "MirrorMaker 2's own topics: lag per topic, checkpoint age per group, heartbeat "
        "age, the RPO estimate against the configured RPO, and which cluster is active.",
    )
    s.add_argument("--pair", metavar="NAME", help="DR pair from the config (default: the first)")
    s.add_argument("--partitions", action="store_true", help="show every partition")
    add_json(s)
    s.set_defaults(func=status_cmd)
    r = dsub.add_parser(
        "resign", help="write the active record of a failover run before signing was on "
        "again, signed, after you check it",
        description="Once dr.signing_key or audit.signing_key is set, readers apply only "
        "signed control records, so a failover run while they were unsigned no longer "
        "counts and the pair reads as its primary at epoch 0. This shows the newest "
        "unsigned active record (who, when, which clusters hold it) and, once confirmed, "
        "writes it again signed to both clusters, audited. Run it before giving followers "
        "the verify key. A record whose signature does not verify is never re-signed.",
    )
    r.add_argument("--pair", metavar="NAME", help="DR pair from the config (default: the first)")
    add_yes(r)
    add_json(r)
    r.set_defaults(func=resign_cmd)


async def status_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        status = await DrService(services).status(args.pair)
    if args.json:
        print_json(status)
    else:
        sys.stdout.write(render_status(status, partitions=args.partitions) + "\n")
    return 0


async def resign_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        svc = FailoverService(services)
        plan = await svc.plan_resign(args.pair)
        text = "\n".join(plan.describe())
        if not plan.changes:  # says so and writes nothing
            if args.json:
                print_json({"resigned": False, "plan": plan, "words": plan.describe()})
            else:
                print(text)
            return 0
        if not args.json:
            print(text)
            sys.stdout.flush()
        confirm(args, text)
        after = await svc.resign(args.pair, plan=plan, actor=local_actor(), face="cli")
    if args.json:
        print_json({"resigned": True, "plan": plan, "after": after, "words": after.describe()})
    else:
        print(f"re-signed: {after.signed.cluster!r} active at epoch {after.signed.epoch} "
              f"for signed readers")
        for line in after.describe()[1:]:
            print(line)
    return 0


def render_status(s: DrStatus, *, partitions: bool = False) -> str:
    lines = [
        f"DR pair {s.pair}: {s.source} -> {s.target} "
        f"(MM2 {s.source_alias} -> {s.target_alias}, {s.policy} policy)",
        f"active      {s.active} (epoch {s.epoch})",
    ]
    lines += [f"{'clusters' if i == 0 else '':<12}{answer_text(c)}"
              for i, c in enumerate(s.clusters)]
    lines.append(
        f"RPO         estimate {age(s.rpo_estimate_seconds)} / target {age(s.rpo_seconds)}  "
        f"{rpo_verdict(s)}  ({s.rpo_basis})")
    hb = next((h for h in s.heartbeats if h.age_seconds is not None), None)
    where = f" ({hb.topic} on {s.target})" if hb else ""
    if hb:
        lines.append(f"heartbeat   {age(s.heartbeat_age_seconds)} old{where}  "
                     f"{heartbeat_verdict(s)}")
    elif not s.target_reachable:
        lines.append(f"heartbeat   UNKNOWN: {s.target} did not answer")
    else:
        lines.append("heartbeat   none found  UNKNOWN")
    lines.append("")
    if s.topics:
        lines.append(table(
            ["TOPIC", "REMOTE", "PARTITIONS", "SOURCE END", "TARGET END", "LAG", "LAG TIME",
             "STATE"],
            [(t.topic, t.remote_topic, t.partitions, t.source_end, t.target_end, t.lag_messages,
              age(t.lag_seconds), t.state) for t in s.topics],
            right=(2, 3, 4, 5, 6),
        ))
        if partitions:
            lines.append("")
            lines.append(table(
                ["TOPIC", "PARTITION", "SOURCE END", "TARGET END", "LAST SYNC", "LAG",
                 "LAG TIME", "FROM"],
                [(t.topic, r.partition, r.source_end, r.target_end,
                  f"{r.last_sync[0]}->{r.last_sync[1]}" if r.last_sync else None,
                  r.lag_messages, age(r.lag_seconds), r.method)
                 for t in s.topics for r in t.rows],
                right=(1, 2, 3, 5, 6),
            ))
    elif not s.source_reachable:
        lines.append(f"(replicated topics UNKNOWN: {s.source} did not answer)")
    else:
        lines.append("(no replicated topics found)")
    lines.append("")
    if s.groups:
        lines.append(table(
            ["GROUP", "PARTITIONS", "CHECKPOINT AGE", "OLDEST PARTITION", "MOVES ON FAILOVER"],
            [(g.group, g.partitions, age(g.age_seconds), age(g.oldest_partition_age_seconds),
              g.moves_on_failover) for g in s.groups],
            right=(1, 2, 3),
        ))
    elif not s.target_reachable:
        lines.append(f"(MM2 checkpoints UNKNOWN: {s.target} did not answer)")
    else:
        lines.append("(no MM2 checkpoints for any group)")
    if s.problems:
        lines.append("")
        lines.append("problems:")
        lines += [f"  - {p}" for p in s.problems]
    if s.failover is not None:
        f = s.failover
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(f.started_at))
        lines.append("")
        lines.append(
            f"last {f.direction}: {f.run_id} {f.source} -> {f.target}, {f.state}, "
            f"{f.groups_done}/{f.groups_total} groups, by {f.by} at {when}"
        )
    return "\n".join(lines)
