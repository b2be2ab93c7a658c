"""`/kafka topic config TOPIC KEY=VALUE ... [--delete KEY]` through the bot's HTTP endpoint
and the local Slack: the diff is the Confirm prompt, Confirm applies exactly that plan,
audited with the Slack user; no permission, nothing to change, bad input and a config
changed under the prompt all leave the topic as it was."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import unique
from tests.slack_server import button_click

PERMISSIONS = {"topic.write": ["oncall"]}


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data, permissions=PERMISSIONS) as r:
        yield r


async def new_topic(services: Services) -> str:
    name = unique("slack-cfg")
    await (await services.topics()).create_topics(
        [NewTopicSpec(name, 1, configs={"retention.ms": "600000", "cleanup.policy": "delete"})])
    return name


async def configs(services: Services, topic: str) -> dict[str, str | None]:
    detail = await (await services.topics()).topic_detail(topic)
    return {c.name: c.value for c in detail.configs}


async def confirm(rb: RunningBot, pid: str, user: str) -> str:
    url = rb.slack.response_url()
    path = url[len(rb.slack.url) - 1:]
    await rb.click(button_click(CONFIRM_ACTION_ID, pid, response_url=url, user=user))
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == path and "running…" not in c.params["text"])
    return final.text


async def test_the_diff_is_the_prompt_and_confirm_applies_it(rb: RunningBot,
                                                             services: Services) -> None:
    topic = await new_topic(services)
    _, _, url = await rb.command(
        f"topic config {topic} retention.ms=3600000 --delete cleanup.policy", user="U0CAROL")
    prompt = await rb.reply(url)
    assert f"Change configs of topic '{topic}' on cluster 'primary'" in prompt.text
    shown = html.unescape(prompt.text)  # Slack shows &gt; as >, also inside code blocks
    assert "• `cleanup.policy`: delete → *broker default*" in shown
    assert "• `retention.ms`: 600000 → *3600000*" in shown
    assert "```" not in shown  # lines that read on a phone, not a column table
    assert await configs(services, topic) == {"cleanup.policy": "delete",
                                              "retention.ms": "600000"}
    done = await confirm(rb, prompt.action_values[CONFIRM_ACTION_ID], user="U0CAROL")
    assert "done" in done and "retention.ms = 3600000" in done
    assert await configs(services, topic) == {"retention.ms": "3600000"}
    records = await (await rb.bot.services.audit()).records()
    mine = [(r.actor, r.face, r.action, r.result) for r in records
            if r.target == topic and r.result != "intent"]
    assert mine == [("U0CAROL", "slack", "topic.config", "ok")]


async def test_without_the_permission_nothing_is_planned(rb: RunningBot,
                                                         services: Services) -> None:
    topic = await new_topic(services)
    _, _, url = await rb.command(f"topic config {topic} retention.ms=1", user="U0BOB")
    assert "Denied: topic.write" in (await rb.reply(url)).text
    assert (await configs(services, topic))["retention.ms"] == "600000"


@pytest.mark.parametrize(("args", "says"), [
    ("retention.ms=600000", "already has these configs: nothing to change"),
    ("retention.msx=1", "'retention.msx' is not a topic config; did you mean 'retention.ms'?"),
    ("retention.ms=soon", "retention.ms='soon': must be a whole number >= -1"),
    ("retention.ms", "KEY=VALUE 'retention.ms': expected NAME=VALUE"),
    ("", "nothing to change: give --set NAME=VALUE or --delete NAME"),
])
async def test_what_changes_nothing_gets_no_prompt(rb: RunningBot, services: Services,
                                                   args: str, says: str) -> None:
    topic = await new_topic(services)
    _, _, url = await rb.command(f"topic config {topic} {args}".strip(), user="U0ALICE")
    reply = await rb.reply(url)
    assert says in reply.text
    assert reply.action_values == {}
    assert await configs(services, topic) == {"cleanup.policy": "delete",
                                              "retention.ms": "600000"}
    records = await (await rb.bot.services.audit()).records()
    assert [r for r in records if r.target == topic] == []


async def test_a_config_changed_under_the_prompt_changes_nothing(rb: RunningBot,
                                                                 services: Services) -> None:
    topic = await new_topic(services)
    _, _, url = await rb.command(f"topic config {topic} retention.ms=60000", user="U0ALICE")
    prompt = await rb.reply(url)
    from kafkaops.core.admin.topic_admin import TopicAdmin

    admin = TopicAdmin(services)
    await admin.apply(await admin.plan_alter_config(topic, {"retention.ms": "120000"}, []),
                      actor="someone@else", face="cli")
    done = await confirm(rb, prompt.action_values[CONFIRM_ACTION_ID], user="U0ALICE")
    assert "changed since the plan" in done
    assert (await configs(services, topic))["retention.ms"] == "120000"
