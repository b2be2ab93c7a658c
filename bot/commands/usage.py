"""`/kafka usage [--by team|topic] [--window 1h] [--team NAME] [--topic PATTERN]`,
`/kafka policy [check] [--topic NAME]` and `/kafka policy fix TOPIC`.

Reads are for anyone in the workspace. A fix needs the `topic.write` permission, is planned
from the topic's configs now (the plan is the confirmation's summary; a topic with nothing
to change is said at once and asks nothing), and runs on Confirm through core, which plans
again, refuses on a read-only cluster and audits the change with the confirming Slack user.
Where the cluster cannot change the topic's configs safely (no IncrementalAlterConfigs, and
only a classic AlterConfigs that would drop configs the broker does not show), Confirm ends
in that error, audited, and nothing changes.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.usage import (
    render_fix_done,
    render_fix_plan,
    render_nothing_to_fix,
    render_policy,
    render_usage,
)
from kafkaops.core.config import Duration
from kafkaops.core.errors import ConfigError, UsageError
from kafkaops.core.policy.service import PolicyService
from kafkaops.core.usage.service import UsageService
from kafkaops.core.usage.teams import UNOWNED

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

#: the permission a policy fix needs (the one topic config changes share)
ACTION = "topic.write"
#: the confirmable kind of a policy fix (`topic config` has its own under topic.write)
FIX_KIND = "policy.fix"
SLICES = 12


def _window(text: str) -> float:
    try:
        value = float(Duration.parse(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a duration such as 15m, 1h or 7d (got {text!r})"
                                         ) from None
    if not 60 <= value <= 31 * 86400:
        raise argparse.ArgumentTypeError(f"a window from 1m to 31d (got {text!r})")
    return value


def register(bot: Bot, services: Services) -> None:
    def usage_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--by", choices=("team", "topic"), default="team")
        p.add_argument("--window", type=_window, default=3600.0, metavar="DURATION")
        p.add_argument("--team", metavar="NAME")
        p.add_argument("--topic", metavar="PATTERN")

    def check_args(p: argparse.ArgumentParser) -> None:
        # `policy check` (the CLI's words) is the same command as `policy`
        p.add_argument("check", nargs="?", choices=("check",), help=argparse.SUPPRESS)
        p.add_argument("--topic", metavar="NAME")

    def fix_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="TOPIC")

    bot.command("usage", summary="bytes in and stored per team or topic, with the change "
                "against the window before", arguments=usage_args,
                examples=("", "--by topic --team payments", "--window 24h"))(usage_show)
    bot.command("policy", summary="topics that break the policies in config, with the fix",
                arguments=check_args, examples=("", "--topic iac.changes"))(policy_check)
    bot.command("policy fix", summary="change a topic's configs to what the policies require",
                arguments=fix_args, action=ACTION)(policy_fix)
    bot.confirmable(FIX_KIND, run_policy_fix, permission=ACTION)


async def usage_show(inv: Invocation) -> Message:
    team = inv.args.team
    config = inv.services.config
    if team is not None and team != UNOWNED and team not in config.teams:
        known = ", ".join([*config.teams, UNOWNED])
        raise UsageError(f"--team {team!r}: no such team (known: {known})")
    report = await UsageService(inv.services, inv.cluster).measure(
        inv.args.window, team=team, topic=inv.args.topic, buckets=SLICES)
    return render_usage(report, by=inv.args.by, command=inv.bot.command_name + " usage")


def _policies(inv: Invocation) -> None:
    if not inv.services.config.policies:
        raise ConfigError("no policies are configured for this bot")


async def policy_check(inv: Invocation) -> Message:
    _policies(inv)
    report = await PolicyService(inv.services, inv.cluster).check(inv.args.topic)
    return render_policy(report, command=inv.bot.command_name)


async def policy_fix(inv: Invocation) -> Message:
    _policies(inv)
    inv.services.require_writable(inv.cluster, f"change configs of topic {inv.args.name}")
    plan = await PolicyService(inv.services, inv.cluster).plan_fix(inv.args.name)
    if not plan.changes:
        return render_nothing_to_fix(plan)
    return await inv.confirm(FIX_KIND, target=plan.topic, summary=render_fix_plan(plan),
                             params={"topic": plan.topic,
                                     "set": {c.config: c.after for c in plan.changes}})


async def run_policy_fix(ex: Execution) -> Message:
    """The confirmed fix, planned again against the topic's configs now: it applies only
    what the prompt showed."""
    topic, wanted = ex.params.get("topic"), ex.params.get("set")
    if not isinstance(topic, str) or not isinstance(wanted, dict):
        raise UsageError(f"not a policy fix kafkaops asked for: {dict(ex.params)!r}")
    svc = PolicyService(ex.services, ex.cluster)
    plan = await svc.plan_fix(topic)
    if not plan.changes:
        return render_nothing_to_fix(plan)
    if {c.config: c.after for c in plan.changes} != wanted:
        raise UsageError(f"topic {topic}'s configs changed since the prompt; ask again")
    await svc.apply_fix(plan, actor=ex.confirmer, face="slack")
    return render_fix_done(plan)

