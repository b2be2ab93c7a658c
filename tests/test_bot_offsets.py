"""`/kafka offsets reset ...`: planned, confirmed, applied exactly as planned, read back,
audited with the Slack user; refused while the group has members; bad input changes nothing.
Groups and topics are made with plain aiokafka clients (tests/offsets_support.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from tests.bot_harness import RunningBot, running_bot
from tests.offsets_support import (
    KnownTopic,
    commit_as_consumer,
    joined_consumer,
    make_known_topic,
    read_committed,
    stopped_group,
)
from tests.slack_server import button_click


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


@pytest.fixture(scope="module")
async def known(bootstrap: str) -> KnownTopic:
    return await make_known_topic(bootstrap)


async def confirm(rb: RunningBot, pid: str, user: str) -> str:
    url = rb.slack.response_url()
    path = url[len(rb.slack.url) - 1 :]
    await rb.click(button_click(CONFIRM_ACTION_ID, pid, response_url=url, user=user))
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == path and "running…" not in c.params["text"]
    )
    return final.text


async def test_reset_to_earliest_is_planned_confirmed_and_verified(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    _, _, url = await rb.command(
        f"offsets reset {group} --topic {known.name} --to-earliest", user="U0CAROL"
    )
    prompt = await rb.reply(url)
    assert "replays *37*, skips *0* records" in prompt.text
    # one line a partition: committed now -> after, the move, the log
    assert "`P0` 12 → *0* · replay 12 · log 0–30" in prompt.text
    assert "`P1` 25 → *0* · replay 25 · log 0–30" in prompt.text
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}

    done = await confirm(rb, prompt.action_values[CONFIRM_ACTION_ID], user="U0CAROL")
    assert "the committed offsets read back match the plan" in done
    assert await read_committed(bootstrap, group, known.name) == {0: 0, 1: 0, 2: 0}
    records = await (await rb.bot.services.audit()).records()
    mine = [(r.actor, r.face, r.action, r.result) for r in records if r.target == group]
    assert mine == [("U0CAROL", "slack", "offsets.reset", "ok")]


async def test_offsets_moved_after_the_prompt_make_confirm_change_nothing(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    _, _, url = await rb.command(
        f"offsets reset {group} -t {known.name} --shift-by -5 -p 0", user="U0ALICE"
    )
    prompt = await rb.reply(url)
    await commit_as_consumer(bootstrap, group, known.name, {0: 20})  # moved under the plan
    done = await confirm(rb, prompt.action_values[CONFIRM_ACTION_ID], user="U0ALICE")
    assert "failed" in done
    assert await read_committed(bootstrap, group, known.name) == {0: 20, 1: 25, 2: None}


async def test_active_group_is_refused_before_any_prompt(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 3})
    consumer = await joined_consumer(bootstrap, group, known.name, "billing-worker")
    try:
        _, _, url = await rb.command(
            f"offsets reset {group} -t {known.name} --to-latest", user="U0ALICE"
        )
        reply = await rb.reply(url)
    finally:
        await consumer.stop()
    assert reply.action_values == {}
    assert f"group '{group}' has 1 active member" in reply.text
    assert "Nothing was changed" in reply.text


async def test_user_without_the_role_cannot_reset(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 3})
    _, _, url = await rb.command(f"offsets reset {group} -t {known.name} --to-latest", user="U0BOB")
    assert "Denied: offsets.reset" in (await rb.reply(url)).text
    assert await read_committed(bootstrap, group, known.name) == {0: 3, 1: None, 2: None}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("offsets reset G -t T --to-earliest --to-latest", "not allowed with argument"),
        ("offsets reset G --to-earliest", "the following arguments are required: --topic"),
        ("offsets reset G -t T --to-latest -p x", "partition must be a number"),
        ("offsets reset nosuch-group-xyz -t {topic} --to-latest", "not found"),
        ("offsets reset {group} -t {topic} --to-time yesterday", "time"),
    ],
)
async def test_bad_resets_change_nothing(
    rb: RunningBot, bootstrap: str, known: KnownTopic, text: str, problem: str
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 7})
    _, ack, url = await rb.command(text.format(group=group, topic=known.name), user="U0ALICE")
    body = json.loads(ack)
    shown = (await rb.reply(url)).text if "Working on" in body.get("text", "") else json.dumps(body)
    assert problem in shown
    assert await read_committed(bootstrap, group, known.name) == {0: 7, 1: None, 2: None}
