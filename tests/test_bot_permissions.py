"""Who may do what: the pure rule as a table, then user group membership read through the
local Slack's usergroups.users.list, cached, and denied (with the reason) when unreadable."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from kafkaops.bot.permissions import Permissions, decide, groups_to_check
from kafkaops.core.config import RoleConfig, parse_config
from tests.slack_server import BOT_TOKEN, SlackServer

ROLES = {
    "oncall": RoleConfig(users=["U1"], usergroups=["S_ONCALL"]),
    "sre": RoleConfig(users=["U2"], usergroups=["S_SRE", "S_ONCALL"]),
}
PERMS = {"flag.write": ["oncall", "sre"], "failover": ["sre"], "dlq.replay": []}
GROUPS = {"S_ONCALL": frozenset({"U3"}), "S_SRE": frozenset({"U4"})}


@pytest.mark.parametrize(
    ("user", "action", "groups", "allowed", "role"),
    [
        ("U1", "flag.write", {}, True, "oncall"),  # by user ID, no group needed
        ("U2", "flag.write", {}, True, "sre"),
        ("U3", "flag.write", GROUPS, True, "oncall"),  # through a user group
        ("U4", "flag.write", GROUPS, True, "sre"),
        ("U4", "failover", GROUPS, True, "sre"),
        ("U1", "failover", GROUPS, False, None),  # oncall may not fail over
        ("U3", "failover", GROUPS, True, "sre"),  # S_ONCALL is in sre too
        ("U9", "flag.write", GROUPS, False, None),
        ("U1", "offsets.reset", GROUPS, False, None),  # not named: denied
        ("U1", "dlq.replay", GROUPS, False, None),  # named with no roles: denied
        ("U3", "flag.write", {"S_ONCALL": None, "S_SRE": frozenset()}, False, None),
    ],
)
def test_decide(user: str, action: str, groups: dict, allowed: bool, role: str | None) -> None:
    d = decide(user, action, ROLES, PERMS, groups)
    assert (d.allowed, d.role) == (allowed, role)


def test_denial_reasons_say_what_to_do() -> None:
    assert "no role may run offsets.reset" in decide("U1", "offsets.reset", ROLES, PERMS, {}).reason
    d = decide("U9", "flag.write", ROLES, PERMS, GROUPS)
    assert "(allowed: oncall, sre)" in d.reason and "add you" in d.reason
    d = decide("U3", "flag.write", ROLES, PERMS, {"S_ONCALL": None, "S_SRE": frozenset()})
    assert "S_ONCALL could not be read from Slack" in d.reason
    assert "usergroups:read" in d.reason


@pytest.mark.parametrize(
    ("user", "action", "groups"),
    [
        ("U1", "flag.write", []),
        ("U9", "flag.write", ["S_ONCALL", "S_SRE"]),
        ("U9", "failover", ["S_SRE", "S_ONCALL"]),
        ("U9", "nothing", []),
    ],
)
def test_groups_to_check(user: str, action: str, groups: list[str]) -> None:
    assert groups_to_check(user, action, ROLES, PERMS) == groups


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_group_members_come_from_slack_and_are_cached() -> None:
    cfg = parse_config(
        {
            "roles": {"oncall": {"usergroups": ["S0ONCALL", "S0GONE"]}},
            "permissions": {"flag.write": ["oncall"]},
        }
    )
    clock = Clock()
    async with SlackServer(usergroups={"S0ONCALL": ["U0CAROL"]}) as slack:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
        perms = Permissions(cfg, client, cache_seconds=300, clock=clock)
        carol, bob = (
            await perms.check("U0CAROL", "flag.write"),
            await perms.check("U0BOB", "flag.write"),
        )
        assert carol.allowed and carol.role == "oncall"
        assert not bob.allowed
        assert "S0GONE could not be read" in bob.reason  # no_such_subteam from Slack
        asked = [c.params["usergroup"] for c in slack.calls_to("usergroups.users.list")]
        # S0ONCALL read once and cached; the unreadable group is asked again next time
        assert sorted(asked) == ["S0GONE", "S0GONE", "S0ONCALL"]

        slack.usergroups["S0ONCALL"] = ["U0BOB"]  # bob joins the on-call group in Slack
        assert not (await perms.check("U0BOB", "flag.write")).allowed  # still cached
        clock.now += 301
        assert (await perms.check("U0BOB", "flag.write")).allowed
        assert not (await perms.check("U0CAROL", "flag.write")).allowed


async def test_concurrent_checks_share_one_group_lookup() -> None:
    import asyncio

    cfg = parse_config(
        {"roles": {"oncall": {"usergroups": ["S0ONCALL"]}}, "permissions": {"x": ["oncall"]}}
    )
    async with SlackServer(usergroups={"S0ONCALL": ["U0CAROL"]}) as slack:
        perms = Permissions(cfg, AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
        results = await asyncio.gather(*(perms.check("U0CAROL", "x") for _ in range(20)))
        assert all(r.allowed for r in results)
        assert len(slack.calls_to("usergroups.users.list")) == 1
