"""Risky actions through the generic confirmation: permission per role (user IDs and user
groups), Confirm / Cancel by the right people only, at most once, and never after expiry.

The action under test is registered through the public extension points
(`bot.command(..., action=...)`, `bot.confirmable(...)`, `inv.confirm(...)`) and writes a
real record to a topic on the embedded broker, so "nothing changed" is read off the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.app import Bot
from kafkaops.bot.confirm import Execution
from kafkaops.bot.render.common import Message, section
from kafkaops.bot.render.confirm import CANCEL_ACTION_ID, CONFIRM_ACTION_ID
from kafkaops.bot.router import Invocation
from kafkaops.core.topics.service import NewTopicSpec
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import produce, unique
from tests.slack_server import button_click


class Clock:
    """The confirmations' clock, moved by the test (expiry without waiting ten minutes)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def demo_write(bootstrap: str):  # noqa: ANN201
    """Registers `/kafka demo write TOPIC VALUE`, a confirmable action that produces VALUE."""

    def setup(bot: Bot) -> None:
        async def run(ex: Execution) -> Message:
            async def write() -> int:
                await produce(bootstrap, ex.params["topic"], [ex.params["value"].encode()])
                return 1

            await ex.audited(write)
            return Message(f"wrote to {ex.target}", (section(f"wrote to `{ex.target}`"),))

        bot.confirmable("demo.write", run)

        def args(p: argparse.ArgumentParser) -> None:
            p.add_argument("topic")
            p.add_argument("value")

        async def handler(inv: Invocation) -> Message:
            summary = Message(
                f"write {inv.args.value!r}", (section(f"write `{inv.args.value}`"),)
            )
            return await inv.confirm(
                "demo.write",
                target=inv.args.topic,
                summary=summary,
                params={"topic": inv.args.topic, "value": inv.args.value},
            )

        bot.command("demo write", summary="write a record", arguments=args, action="demo.write")(
            handler
        )

    return setup


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def rb(config_data: dict, bootstrap: str, clock: Clock) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data, clock=clock, setup=demo_write(bootstrap)) as r:
        yield r


async def new_topic(rb: RunningBot) -> str:
    name = unique("confirm")
    await (await rb.bot.services.topics()).create_topics([NewTopicSpec(name, 1)])
    return name


async def records(rb: RunningBot, topic: str) -> int:
    detail = await (await rb.bot.services.topics()).topic_detail(topic)
    return detail.summary.messages or 0


async def trail(rb: RunningBot, target: str) -> list[tuple[str, str, str, str]]:
    """(actor, face, action, result) of the audit records about `target`, oldest first."""
    records = await (await rb.bot.services.audit()).records()
    return [(r.actor, r.face, r.action, r.result) for r in records if r.target == target]


async def request(rb: RunningBot, topic: str, user: str) -> str:
    """Ask for the demo write; returns the pending confirmation id from the prompt's buttons."""
    _, _, url = await rb.command(f"demo write {topic} hello", user=user)
    prompt = await rb.reply(url)
    buttons = prompt.action_values
    assert set(buttons) == {CONFIRM_ACTION_ID, CANCEL_ACTION_ID}
    assert buttons[CONFIRM_ACTION_ID] == buttons[CANCEL_ACTION_ID]
    return buttons[CONFIRM_ACTION_ID]


async def click(rb: RunningBot, action: str, pid: str, user: str):  # noqa: ANN201 - Call
    """Click a button; the bot's final answer (after any "running…" progress message)."""
    url = rb.slack.response_url()
    path = url[len(rb.slack.url) - 1 :]
    status, ack = await rb.click(button_click(action, pid, response_url=url, user=user))
    assert status == 200 and ack == ""
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == path and "running…" not in c.params["text"]
    )
    return final


async def test_user_in_no_role_is_denied_before_any_prompt(rb: RunningBot) -> None:
    topic = await new_topic(rb)
    _, _, url = await rb.command(f"demo write {topic} hello", user="U0BOB")
    reply = await rb.reply(url)
    assert reply.action_values == {}
    assert reply.params["response_type"] == "ephemeral"
    assert "Denied: demo.write" in reply.text
    assert "<@U0BOB> is not in a role allowed to run demo.write (allowed: oncall)" in reply.text
    assert await records(rb, topic) == 0
    assert await trail(rb, topic) == [("U0BOB", "slack", "demo.write", "refused")]


async def test_usergroup_member_confirms_once_others_are_refused_replays_do_nothing(
    rb: RunningBot,
) -> None:
    topic = await new_topic(rb)
    pid = await request(rb, topic, user="U0CAROL")  # in role oncall through user group S0ONCALL
    prompt = rb.slack.calls_to("response_url")[-1]
    assert f"Confirm demo.write: {topic}" in prompt.text
    assert "requested by <@U0CAROL>" in prompt.text

    # mallory is in a user group, but not one of a permitted role
    refused = await click(rb, CONFIRM_ACTION_ID, pid, user="U0MALLORY")
    assert refused.params["replace_original"] is False  # the prompt stays for carol
    assert "Only <@U0CAROL> or a member of a role allowed to run *demo.write*" in refused.text
    assert await records(rb, topic) == 0

    done = await click(rb, CONFIRM_ACTION_ID, pid, user="U0CAROL")
    assert done.params["replace_original"] is True
    assert f"wrote to `{topic}`" in done.text
    assert "requested by <@U0CAROL> and confirmed" in done.text
    assert await records(rb, topic) == 1

    again = await click(rb, CONFIRM_ACTION_ID, pid, user="U0CAROL")
    assert "was already confirmed by <@U0CAROL>" in again.text
    assert "Nothing was done again" in again.text
    assert await records(rb, topic) == 1
    assert await trail(rb, topic) == [
        ("U0MALLORY", "slack", "demo.write", "refused"),
        ("U0CAROL", "slack", "demo.write", "ok"),
    ]
    # and the trail is readable from Slack, newest first
    _, _, url = await rb.command("audit 50")
    shown = (await rb.reply(url)).text
    # two lines a record, newest first: what and its result; when, who, from where
    rows = [ln for ln in shown.split("\n*") if f"`{topic}`" in ln]
    carol = next(r for r in rows if "<@U0CAROL>" in r)
    mallory = next(r for r in rows if "<@U0MALLORY>" in r)
    assert rows.index(carol) < rows.index(mallory)
    assert carol.startswith(f"demo.write* `{topic}` · ok\n")
    assert re.search(r"\n\d\d-\d\d \d\d:\d\d:\d\d UTC · <@U0CAROL> \(slack\) · primary$",
                     carol)
    assert "refused: not allowed to confirm this request: U0MALLORY is not in a role" in mallory


async def test_another_permitted_user_may_confirm(rb: RunningBot) -> None:
    topic = await new_topic(rb)
    pid = await request(rb, topic, user="U0CAROL")
    done = await click(rb, CONFIRM_ACTION_ID, pid, user="U0ALICE")  # oncall by user ID
    assert "requested by <@U0CAROL> · confirmed by <@U0ALICE>" in done.text
    assert await records(rb, topic) == 1


async def test_simultaneous_clicks_run_the_action_once(rb: RunningBot) -> None:
    topic = await new_topic(rb)
    pid = await request(rb, topic, user="U0ALICE")
    replies = await asyncio.gather(
        *(click(rb, CONFIRM_ACTION_ID, pid, user=u) for u in ("U0ALICE", "U0CAROL", "U0ALICE"))
    )
    texts = [r.text for r in replies]
    assert sum("Nothing was done again" in t for t in texts) == 2
    assert await records(rb, topic) == 1


async def test_expired_confirmation_does_nothing_and_says_so(
    rb: RunningBot, clock: Clock
) -> None:
    topic = await new_topic(rb)
    pid = await request(rb, topic, user="U0ALICE")
    clock.now += 10 * 60 + 1
    expired = await click(rb, CONFIRM_ACTION_ID, pid, user="U0ALICE")
    assert "expired (older than 10 min). Nothing was changed" in expired.text
    assert f"run `/kafka demo write {topic} hello` again" in expired.text
    assert await records(rb, topic) == 0
    # a later click on it (its buttons were still showing) replaces it as well: expired,
    # with no button left to click
    later = await click(rb, CONFIRM_ACTION_ID, pid, user="U0ALICE")
    assert "expired (older than 10 min). Nothing was changed" in later.text
    assert later.params["replace_original"] is True and later.action_values == {}
    assert await records(rb, topic) == 0


async def test_cancel_changes_nothing_and_closes_the_prompt(rb: RunningBot) -> None:
    topic = await new_topic(rb)
    pid = await request(rb, topic, user="U0ALICE")
    refused = await click(rb, CANCEL_ACTION_ID, pid, user="U0BOB")
    assert "Only <@U0ALICE>" in refused.text
    cancelled = await click(rb, CANCEL_ACTION_ID, pid, user="U0ALICE")
    assert cancelled.params["replace_original"] is True
    assert "cancelled by <@U0ALICE>. Nothing was changed." in cancelled.text
    confirm_after = await click(rb, CONFIRM_ACTION_ID, pid, user="U0ALICE")
    assert "was already cancelled" in confirm_after.text
    assert await records(rb, topic) == 0


async def test_unknown_confirmation_does_nothing(rb: RunningBot) -> None:
    reply = await click(rb, CONFIRM_ACTION_ID, "no-such-confirmation", user="U0ALICE")
    assert "not known to the bot" in reply.text


async def test_action_nobody_is_permitted_is_denied(config_data: dict, bootstrap: str) -> None:
    async with running_bot(
        config_data, permissions={"flag.write": ["oncall"]}, setup=demo_write(bootstrap)
    ) as rb:
        _, _, url = await rb.command("demo write some-topic v", user="U0ALICE")
        reply = await rb.reply(url)
        assert "no role may run demo.write" in reply.text
        assert "anything not named is denied" in reply.text
