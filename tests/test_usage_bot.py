"""`/kafka usage` and `/kafka policy ...` through the bot's real HTTP endpoint and the local
Slack: a team's bytes and sparkline for anyone; a violation with its fix; a fix only with
topic.write, after Confirm, applied (audited with the Slack user) and then checked clean;
a read-only cluster refuses the fix before any prompt (audited); bad input changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec
from tests.alerts_support import all_text
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import produce, unique
from tests.slack_server import button_click

SEVEN_YEARS = str(7 * 365 * 86_400_000)


class World:
    def __init__(self) -> None:
        self.tag = unique("b")
        self.team = f"team-{self.tag}"
        self.orders = f"orders.{self.tag}"
        self.iac = f"iac.{self.tag}"


@pytest.fixture
async def world(config_data: dict, bootstrap: str) -> World:
    w = World()
    async with Services(parse_config(config_data, "<setup>")) as s:
        await (await s.topics()).create_topics([
            NewTopicSpec(w.orders, 1),
            NewTopicSpec(w.iac, 1, configs={"retention.ms": "86400000",
                                            "cleanup.policy": "delete"})])
    await produce(bootstrap, w.orders, [b"p" * 100] * 30)
    return w


@pytest.fixture
async def rb(config_data: dict, world: World) -> AsyncIterator[RunningBot]:
    data = json.loads(json.dumps(config_data))
    data["teams"] = {world.team: {"match": [f"*.{world.tag}"], "channel": "#team"}}
    data["policies"] = [{"name": "iac-retention", "match": {"topic": world.iac},
                         "require": {"retention": ">= 7y", "cleanup_policy": "delete"}}]
    async with running_bot(data, permissions={"topic.write": ["oncall"]}) as r:
        yield r


async def reply(rb: RunningBot, text: str, user: str = "U0BOB"):  # noqa: ANN201
    _, _, url = await rb.command(text, user=user)
    return await rb.reply(url)


def blocks_text(msg) -> str:  # noqa: ANN001
    """Every text a person sees in the reply (text, blocks, fields, context)."""
    return all_text(msg)


async def test_usage_by_team_for_anyone(rb: RunningBot, world: World) -> None:
    msg = await reply(rb, f"usage --team {world.team}")
    shown = blocks_text(msg)
    assert f"*{world.team}* · 2 topics" in shown
    assert "*Records in*\n30" in shown
    assert "every batch read (exact)" in shown
    assert "`▁▁▁▁▁▁▁▁▁▁▁█`" in shown  # all of it in the last of 12 slices
    topics = blocks_text(await reply(rb, f"usage --by topic --topic {world.orders}"))
    assert f"*{world.orders}* · {world.team}" in topics


async def test_a_violation_with_its_fix(rb: RunningBot, world: World) -> None:
    shown = blocks_text(await reply(rb, "policy"))
    assert f"*{world.iac}* ({world.team}) · iac-retention: `retention.ms &gt;= 7y`" in shown
    assert "found *86400000 (1d)*" in shown
    assert f"fix: `/kafka policy fix {world.iac} --cluster primary` sets retention.ms=7y" in shown
    assert "kafkaops -c" not in shown  # Slack's words, not the CLI's


async def test_fix_needs_topic_write_then_confirm_and_clears_the_violation(
        rb: RunningBot, world: World) -> None:
    denied = await reply(rb, f"policy fix {world.iac}", user="U0BOB")
    assert "Denied: topic.write" in denied.text
    # the command the check suggests, as it is written there
    _, _, url = await rb.command(f"policy fix {world.iac} --cluster primary", user="U0ALICE")
    prompt = await rb.reply(url)
    assert f"retention.ms: 86400000 → *{SEVEN_YEARS}* (iac-retention)" in blocks_text(prompt)
    click_url = rb.slack.response_url()
    await rb.click(button_click(CONFIRM_ACTION_ID, prompt.action_values[CONFIRM_ACTION_ID],
                                response_url=click_url, user="U0ALICE"))
    (done,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path.endswith(click_url.rsplit("/", 1)[1])
        and "running…" not in c.text, within=60)
    assert done.text.startswith(
        f"Changed topic {world.iac} on primary: retention.ms={SEVEN_YEARS}\n")
    records = await (await rb.bot.services.audit()).records()
    rows = [(r.actor, r.face, r.action, r.result) for r in records if r.target == world.iac]
    assert ("U0ALICE", "slack", "topic.config", "ok") in rows
    assert ("U0BOB", "slack", "topic.write", "refused") in rows
    # checked again: compliant
    shown = blocks_text(await reply(rb, f"policy check --topic {world.iac}"))
    assert "Policies on primary: 0 violations, 0 unknown" in shown
    assert "Every topic complies (1 topic under 1 policy)." in shown


async def test_a_compliant_topic_asks_nothing(rb: RunningBot, world: World) -> None:
    msg = await reply(rb, f"policy fix {world.orders}", user="U0ALICE")
    assert "no topic config to change" in msg.text and "Nothing was changed" in msg.text
    assert CONFIRM_ACTION_ID not in (msg.action_values or {})


@pytest.mark.parametrize(("text", "words"), [
    ("usage --window 2x", "a duration such as 15m, 1h or 7d (got '2x')"),
    ("usage --window 5s", "a window from 1m to 31d"),
    ("usage --by group", "invalid choice: 'group'"),
    ("policy fix", "the following arguments are required: TOPIC"),
])
async def test_malformed_input_is_answered_in_the_ack(rb: RunningBot, text: str,
                                                      words: str) -> None:
    status, ack, url = await rb.command(text)
    assert status == 200
    shown = json.loads(ack)["blocks"][0]["text"]["text"]
    assert words in shown and "Nothing was run." in shown


async def test_an_unknown_team_is_said_and_nothing_runs(rb: RunningBot) -> None:
    msg = await reply(rb, "usage --team ghosts")
    assert "--team 'ghosts': no such team" in msg.text


async def test_fix_on_a_read_only_cluster_is_refused_without_a_prompt(
        config_data: dict, world: World) -> None:
    data = json.loads(json.dumps(config_data))
    data["clusters"]["primary"]["read_only"] = True
    data["teams"] = {world.team: {"match": [f"*.{world.tag}"]}}
    data["policies"] = [{"name": "iac-retention", "match": {"topic": world.iac},
                         "require": {"retention": ">= 7y"}}]
    async with running_bot(data, permissions={"topic.write": ["oncall"]}) as ro:
        msg = await reply(ro, f"policy fix {world.iac}", user="U0ALICE")
        assert "cluster 'primary' is read-only" in msg.text
        assert CONFIRM_ACTION_ID not in (msg.action_values or {})
        trail = await (await ro.bot.services.audit("dr")).records()
    assert [(r.actor, r.face, r.action, r.result) for r in trail
            if r.target == world.iac] == [("U0ALICE", "slack", "topic.write", "refused")]
    async with Services(parse_config(config_data, "<t>")) as s:
        configs = await (await s.topics()).configs([world.iac], ["retention.ms"])
    assert [c.value for c in configs[world.iac]] == ["86400000"]
