"""`/kafka dlq ...` against real dead letters on the embedded broker: list and show for
anyone; replay only for permitted roles, planned, confirmed, pinned to the planned records,
once, and audited with the Slack user as actor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.core.topics.service import NewTopicSpec
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import produce, unique
from tests.slack_server import button_click


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


async def dead_letters(rb: RunningBot, bootstrap: str, n: int, origin: str | None = None) -> str:
    """`n` dead letters of a fresh origin topic, written with kafkaops' own headers."""
    origin = origin or unique("bot-orders")
    topics = await rb.bot.services.topics()
    await topics.create_topics([NewTopicSpec(origin, 1), NewTopicSpec(f"{origin}.dlq", 1)])
    for i in range(n):
        await produce(
            bootstrap,
            f"{origin}.dlq",
            [json.dumps({"order": i}).encode()],
            key=f"k{i}".encode(),
            headers=[
                ("kafkaops.origin.topic", origin.encode()),
                ("kafkaops.origin.partition", b"0"),
                ("kafkaops.origin.offset", str(100 + i).encode()),
                ("kafkaops.error.class", b"com.acme.PriceMissing"),
                ("kafkaops.error.message", f"no price for order {i}".encode()),
            ],
        )
    return origin


async def count(rb: RunningBot, topic: str) -> int:
    return (await (await rb.bot.services.topics()).topic_detail(topic)).summary.messages or 0


async def test_list_and_show_dead_letters(rb: RunningBot, bootstrap: str) -> None:
    origin = await dead_letters(rb, bootstrap, 3)
    listing = await rb.page_with("dlq list", f"*{origin}.dlq*", user="U0BOB")
    row = next(b for b in listing.blocks
               if b["type"] == "section" and f"*{origin}.dlq*" in b["text"]["text"])
    assert row["text"]["text"].startswith(f"*{origin}.dlq* → `{origin}` · 3 records\n")
    assert "PriceMissing" in row["text"]["text"]
    assert row["accessory"]["text"]["text"] == "Replay"
    assert row["accessory"]["value"] == f"dlq replay {origin}.dlq --cluster primary"
    _, _, url = await rb.command(f"dlq show {origin}.dlq -n 2", user="U0BOB")
    shown = (await rb.reply(url)).text
    assert "`0:0`" in shown and "`0:1`" in shown and "`0:2`" not in shown
    assert f"`0:0` from `{origin}[0] @100`" in shown


async def test_replay_is_denied_without_the_role(rb: RunningBot, bootstrap: str) -> None:
    origin = await dead_letters(rb, bootstrap, 2)
    _, _, url = await rb.command(f"dlq replay {origin}.dlq", user="U0BOB")
    reply = await rb.reply(url)
    assert "Denied: dlq.replay" in reply.text and reply.action_values == {}
    assert await count(rb, origin) == 0


async def test_confirmed_replay_moves_exactly_the_planned_records_once(
    rb: RunningBot, bootstrap: str
) -> None:
    origin = await dead_letters(rb, bootstrap, 3)
    _, _, url = await rb.command(f"dlq replay {origin}.dlq", user="U0CAROL")
    prompt = await rb.reply(url)
    assert f"replay *3* records of `{origin}.dlq` on primary: 3 to `{origin}`" in prompt.text
    pid = prompt.action_values[CONFIRM_ACTION_ID]
    # a fourth dead letter arrives while the prompt waits: not part of what was confirmed
    await produce(
        bootstrap,
        f"{origin}.dlq",
        [b'{"order": 3}'],
        headers=[("kafkaops.origin.topic", origin.encode())],
    )
    click_url = rb.slack.response_url()
    await rb.click(button_click(CONFIRM_ACTION_ID, pid, response_url=click_url, user="U0CAROL"))
    (done,) = await rb.slack.wait_for(
        "response_url",
        lambda c: c.path.endswith(click_url.rsplit("/", 1)[1]) and "running…" not in c.text,
    )
    assert f"replayed *3* records of `{origin}.dlq`: 3 to `{origin}`" in done.text
    assert await count(rb, origin) == 3
    records = await (await rb.bot.services.audit()).records()
    mine = [
        (r.actor, r.face, r.action, r.result, r.detail["replayed"])
        for r in records
        if r.target == f"{origin}.dlq"
    ]
    assert mine == [("U0CAROL", "slack", "dlq.replay", "ok", 3)]

    # the next replay offers only the newcomer; after it, nothing is left
    _, _, url = await rb.command(f"dlq replay {origin}.dlq", user="U0ALICE")
    prompt = await rb.reply(url)
    assert "replay *1* record of" in prompt.text and "skipping 3 replayed before" in prompt.text


async def test_nothing_to_replay_needs_no_confirmation(rb: RunningBot, bootstrap: str) -> None:
    origin = await dead_letters(rb, bootstrap, 1)
    _, _, url = await rb.command(
        f"dlq replay {origin}.dlq --filter 'value.order == 99'", user="U0ALICE"
    )
    reply = await rb.reply(url)
    assert reply.action_values == {}
    assert f"Nothing to replay from `{origin}.dlq`" in reply.text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("dlq replay {origin}.dlq --filter 'value.order =='", "bad filter"),
        ("dlq replay no-such-topic-xyz.dlq", "topic 'no-such-topic-xyz.dlq' not found"),
        ("dlq replay {origin}.dlq --to no-such-dest-xyz", "destination topic 'no-such-dest-xyz'"),
        ("dlq show {origin}.dlq --limit 500", "--limit N: N must be between 1 and 50"),
        ("dlq replay", "the following arguments are required: TOPIC"),
    ],
)
async def test_bad_replays_change_nothing(
    rb: RunningBot, bootstrap: str, text: str, problem: str
) -> None:
    origin = await dead_letters(rb, bootstrap, 1)
    _, ack, url = await rb.command(text.format(origin=origin), user="U0ALICE")
    body = json.loads(ack)
    shown = (await rb.reply(url)).text if "Working on" in body.get("text", "") else json.dumps(body)
    assert problem in shown
    assert await count(rb, origin) == 0
