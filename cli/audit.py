"""`kafkaops audit [list]` shows who changed what, when, from where, from every cluster's
trail (or the one -c names), marking each record that fails verification; `kafkaops audit
verify` checks the same trails' signatures and chains (exit 1 naming each bad record, or a
trail that could not be read)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from kafkaops.cli.common import Context, print_json, table
from kafkaops.core.audit.model import AuditRecord, VerifyReport
from kafkaops.core.audit.trails import list_trails, mark, trails_of, verify_trails
from kafkaops.core.errors import UsageError
from kafkaops.core.messages.times import parse_time
from kafkaops.core.untrusted import printable


def _list_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Defaults are suppressed on the subcommand so `audit --json list` keeps --json.
    d = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--limit", "-n", type=int, metavar="N", help="only the newest N records", **d)
    p.add_argument("--since", metavar="T", help="only records since T: 10m, 2h, 7d or an ISO time",
                   **d)
    p.add_argument("--json", action="store_true", help="print JSON for scripts", **d)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="the audit trail: who changed what, when, from where",
                       description="Every change made through kafkaops (console, Slack, CLI) "
                       "is a signed record on the cluster's audit topic.")
    _list_options(p, suppress=False)
    p.set_defaults(func=list_cmd)
    audit_sub = p.add_subparsers(dest="audit_command", metavar="{list,verify}")
    lp = audit_sub.add_parser("list", help="list audit records (the default)")
    _list_options(lp, suppress=True)
    lp.set_defaults(func=list_cmd)
    vp = audit_sub.add_parser(
        "verify", help="check signatures, sequences and links; exit 1 naming each bad record")
    vp.add_argument("--json", action="store_true", help="print JSON for scripts",
                    default=argparse.SUPPRESS)
    vp.set_defaults(func=verify_cmd)


async def list_cmd(args: argparse.Namespace, ctx: Context) -> int:
    """Every cluster's trail merged by time (failover steps are on the target's trail),
    or only the one -c / -b names; each record marked when it fails verification (a record
    that is not an audit record at all is named on stderr by offset). A trail that does not
    answer is named on stderr and the exit code is 1: its records are unknown, not absent."""
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit N: N must be 1 or more")
    since = parse_time(args.since) if args.since else None
    async with ctx.services() as services:
        one = bool(getattr(args, "cluster", None) or getattr(args, "bootstrap", None))
        listing = await list_trails(services, trails_of(services, one=one), since_ms=since,
                                    limit=args.limit)
    read = [t for t in listing.trails if t.error is None]
    if args.json:
        print_json(listing.records)
    elif not listing.records:
        topics = ", ".join(sorted({t.topic for t in listing.trails}))
        print(f"no audit records on {topics} ({', '.join(t.cluster for t in read) or '-'})")
    else:
        print(render_records(listing.records, verified=listing.verified))
        print("trails read: " + ", ".join(f"{t.cluster} ({t.topic}, {t.records} records)"
                                          for t in read))
        if not listing.verified:
            print("not verified: audit.signing_key is not set")
        if listing.problems:
            print(f"{listing.problems} record(s) failed verification (CHECK): not written by "
                  "kafkaops with the signing key, altered or replayed; `kafkaops audit verify` "
                  "says how")
    for t in listing.trails:
        for offset, why in t.skipped:
            sys.stderr.write(f"kafkaops: skipped {t.topic} offset {offset}: {printable(why)} "
                             f"(on cluster {t.cluster!r}; `kafkaops audit verify` checks the "
                             "whole trail)\n")
    for t in listing.unread:
        sys.stderr.write(f"kafkaops: the audit trail of cluster {t.cluster!r} was not read: "
                         f"{printable(t.error or '')}; its records are unknown\n")
    return 1 if listing.unread else 0


def render_records(records: list[AuditRecord], *, verified: bool = True) -> str:
    return table(
        ["TIME", "TRAIL", "CLUSTER", "ACTOR", "FACE", "ACTION", "TARGET", "CHECK", "RESULT",
         "OFFSET"],
        [(_time(r.time), r.trail, r.cluster, r.actor, r.face, r.action, r.target,
          mark(r, verified),
          r.result if r.result == "ok" else f"{r.result}: {r.error or ''}".strip(),
          str(r.offset)) for r in records],
        right=(9,),
    )


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


async def verify_cmd(args: argparse.Namespace, ctx: Context) -> int:
    """Every cluster's trail (or only the one -c / -b names), as `audit list` reads them: a
    failover writes its steps on the target's trail, so checking only the default cluster's
    said OK with the other unread. A trail that does not answer is UNKNOWN, and exit 1."""
    async with ctx.services() as services:
        one = bool(getattr(args, "cluster", None) or getattr(args, "bootstrap", None))
        checks = await verify_trails(services, trails_of(services, one=one))
    if getattr(args, "json", False):
        print_json(checks)
    else:
        for t in checks:
            text = (render_report(t.report, t.cluster) if t.report is not None else
                    f"UNKNOWN  {t.topic} on {t.cluster}: not read: {printable(t.error or '')}")
            sys.stdout.write(text + "\n")
    return 0 if all(t.ok for t in checks) else 1


def render_report(r: VerifyReport, cluster: str) -> str:
    head = (f"head: offset {r.head_offset}, sig {r.head_sig[:16]}…"
            if r.head_offset is not None and r.head_sig else "head: (empty trail)")
    summary = (f"{r.topic} on {cluster}: {r.records} records from offset {r.log_start}, "
               f"{r.writers} writers; {head}")
    if r.ok:
        return f"OK  {summary}"
    lines = [f"FAILED  {summary}", f"{len(r.problems)} bad record(s):"]
    lines += [f"  partition {p.partition} offset {p.offset}: {p.kind}: {p.message}"
              for p in r.problems]
    return "\n".join(lines)
