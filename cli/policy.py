"""`kafkaops policy`: topics checked against the policies of config, and fixed.

    kafkaops policy check [--topic NAME] [--json]   each violation: topic, rule, value found,
                                                    the command that fixes it
    kafkaops policy fix TOPIC [--yes] [--reason TEXT] [--json]
                                                    plan the config changes, confirm, apply
                                                    (audited; refused on read-only clusters)

A config the broker does not report (the embedded broker reports only configs set
explicitly) is "unknown": listed, and never taken as compliant.

Exit codes (for CI): check: 0 every topic complies, 1 a violation or an unknown value
(`--allow-unknown`: unknowns alone exit 0), 2 bad usage or config (no policies);
fix: 0 done or nothing to change, 1 failed (the broker refused the change), 2 bad usage,
3 the topic's configs changed since the plan.
"""

from __future__ import annotations

import argparse
import sys

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json, table
from kafkaops.core.errors import ConfigError, NothingToChange
from kafkaops.core.policy.model import FixPlan, PolicyReport


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("policy", help="topic policies: check every topic, fix configs",
                       description="Topics checked against the policies: in config.")
    psub = p.add_subparsers(dest="policy_command", metavar="COMMAND", required=True,
                            parser_class=type(p))
    c = psub.add_parser("check", help="list every violation (exit 1 when any, for CI)",
                        description="Every topic against every policy: each violation with "
                        "the topic, the rule, the value found and the command that fixes it. "
                        "Exit 1 when any topic breaks a rule or a value is not reported.")
    c.add_argument("--topic", metavar="NAME", help="only this topic")
    c.add_argument("--allow-unknown", action="store_true",
                   help="values the broker does not report do not fail the check (they are "
                   "still listed)")
    add_json(c)
    c.set_defaults(func=check_cmd)
    f = psub.add_parser("fix", help="plan and apply the config changes a topic needs",
                        description="Plan the topic config changes that bring TOPIC into line "
                        "with the policies, show them, confirm, apply (audited).")
    f.add_argument("name", metavar="TOPIC", help="the topic to fix")
    f.add_argument("--reason", metavar="TEXT", help="why (kept in the audit trail)")
    add_yes(f)
    add_json(f)
    f.set_defaults(func=fix_cmd)


def _require_policies(ctx: Context) -> None:
    if not ctx.config.policies:
        raise ConfigError(f"{ctx.config.source}: policies: none configured; add e.g. "
                          "policies: [{name: logs-compressed, match: {topic: \"logs.*\"}, "
                          "require: {compression_type: [lz4, zstd]}}]")


async def check_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.policy.service import PolicyService

    _require_policies(ctx)
    async with ctx.services() as services:
        report = await PolicyService(services).check(args.topic)
    if args.json:
        print_json(report)
    else:
        print(render_check(report))
    failing = report.violations or (report.unknown and not args.allow_unknown)
    return 1 if failing else 0


def render_check(report: PolicyReport) -> str:
    head = (f"policies on {report.cluster}: {len(report.policies)} polic"
            f"{'y' if len(report.policies) == 1 else 'ies'}, {report.topics} topic(s) "
            f"matched, {len(report.violations)} violation(s), {len(report.unknown)} "
            "unknown (not reported by the broker)")
    if not report.findings:
        return head + "\nevery topic complies"
    rows = [[f.topic, f.team, f.policy, f.rule,
             "UNKNOWN" if f.status == "unknown" else "VIOLATION", f.found_shown, f.fix_command]
            for f in report.findings]
    return head + "\n" + table(["Topic", "Team", "Policy", "Rule", "Status", "Found", "Fix"],
                               rows)


async def fix_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.audit.log import local_actor
    from kafkaops.core.policy.service import PolicyService

    _require_policies(ctx)
    async with ctx.services() as services:
        svc = PolicyService(services)
        services.require_writable(svc.cluster, f"change configs of topic {args.name}")
        plan = await svc.plan_fix(args.name)
        if not plan.changes:
            raise NothingToChange(render_plan(plan) + "\nnothing to change: nothing was "
                                  "written")
        confirm(args, render_plan(plan))
        done = await svc.apply_fix(plan, actor=local_actor(), face="cli", reason=args.reason)
    if args.json:
        print_json(done)
    else:
        print(f"changed topic {done.topic} on {done.cluster}: "
              + ", ".join(f"{c.config}={c.after}" for c in done.changes))
    if done.not_fixable:
        sys.stderr.write("kafkaops: not fixed by a config change: "
                         + "; ".join(f"{f.rule} ({f.fix_command})" for f in done.not_fixable)
                         + "\n")
    return 0


def render_plan(plan: FixPlan) -> str:
    return plan.describe()
