"""Slack the way an on-call engineer uses it, over signed HTTP against the local Slack and
the embedded brokers: buttons that run the next action (a DLQ listing's Replay opens the
Confirm), paging with Next, "did you mean" for a group, the App Home on-call view read
from live clusters (a cluster that does not answer shown as such), `@kafkaops` mentions,
the Investigate message shortcut, the offset-reset form (pickers, a bad time said next to
it, then the plan and Confirm), and prompts that expire say so instead of keeping live
buttons. Every message the bot sends is also checked by the harness for code blocks wider
than a phone shows (tests/bot_harness.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from kafkaops.bot.commands.home import INVESTIGATE
from kafkaops.bot.commands.offsets import FORM
from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.bot.render.lag import RESET_ACTION
from kafkaops.bot.render.views import HOME_REFRESH_ACTION
from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from tests.alerts_support import bot_with_alerts
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import unique
from tests.offsets_support import KnownTopic, make_known_topic, read_committed, stopped_group
from tests.slack_server import (
    BOT_USER_ID,
    Call,
    _texts,
    button_click,
    interaction_body,
    message_shortcut,
    post_signed,
    view_submission,
)
from tests.test_bot_dlq import dead_letters
from tests.test_bot_flags import new_flag


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


@pytest.fixture(scope="module")
async def known(bootstrap: str) -> KnownTopic:
    return await make_known_topic(bootstrap)  # 30 records in partitions 0 and 1


async def click(rb: RunningBot, action_id: str, value: str, *, user: str = "U0ALICE",
                ephemeral: bool = True, block: dict[str, Any] | None = None) -> str:
    """Click a button; the response_url its answer goes to."""
    url = rb.slack.response_url()
    payload = button_click(action_id, value, response_url=url, user=user,
                           is_ephemeral=ephemeral)
    if block is not None:
        payload["actions"][0].update(block)
    status, _ = await rb.click(payload)
    assert status == 200
    return url


def view_of(call: Call) -> dict[str, Any]:
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def seen(view: dict[str, Any]) -> str:
    return "\n".join(_texts(view.get("blocks", [])))


# ---------------------------------------------------------------- buttons for the next action


async def test_a_dlq_listings_replay_button_opens_the_confirm(
    rb: RunningBot, bootstrap: str
) -> None:
    origin = await dead_letters(rb, bootstrap, 2)
    listing = await rb.page_with("dlq list", f"*{origin}.dlq*", user="U0CAROL")
    replay = next(b["accessory"] for b in listing.blocks
                  if "accessory" in b and f"*{origin}.dlq*" in b["text"]["text"])
    assert replay["text"]["text"] == "Replay"
    # the click runs `dlq replay` for whoever clicks: the plan with Confirm, to them alone
    answer = await rb.reply(await click(rb, replay["action_id"], replay["value"],
                                        user="U0CAROL"))
    assert answer.params["response_type"] == "ephemeral"
    assert answer.params["replace_original"] is False  # the listing stays as it was
    assert f"replay *2* records of `{origin}.dlq` on primary: 2 to `{origin}`" in answer.text
    assert CONFIRM_ACTION_ID in answer.action_values
    # someone without the role clicking the same button is denied, as if they had typed it
    denied = await rb.reply(await click(rb, replay["action_id"], replay["value"],
                                        user="U0BOB"))
    assert "Denied: dlq.replay" in denied.text and denied.action_values == {}


async def test_next_pages_through_a_long_listing_in_place(
    rb: RunningBot, bootstrap: str
) -> None:
    prefix = unique("page")
    topics = await rb.bot.services.topics()
    from kafkaops.core.topics.service import NewTopicSpec

    await topics.create_topics([NewTopicSpec(f"{prefix}-{i:02d}", 1) for i in range(13)])
    _, _, url = await rb.command(f"topics {prefix}")
    first = await rb.reply(url)
    names = [b["text"]["text"].split("*")[1] for b in first.blocks if "accessory" in b]
    assert names == [f"{prefix}-{i:02d}" for i in range(10)]
    assert "1–10 of 13 topics" in first.text
    nxt = first.action_values["kafkaops.page.next"]
    assert nxt == f"topics {prefix} --page 2"
    second = await rb.reply(await click(rb, "kafkaops.page.next", nxt))
    assert second.params["replace_original"] is True  # the listing turns to its next page
    names = [b["text"]["text"].split("*")[1] for b in second.blocks if "accessory" in b]
    assert names == [f"{prefix}-{i:02d}" for i in range(10, 13)]
    assert "11–13 of 13 topics" in second.text
    assert set(second.action_values) == {"kafkaops.page.prev"}
    # --page typed gives the same page
    _, _, url = await rb.command(f"topics {prefix} --page 2")
    assert "11–13 of 13 topics" in (await rb.reply(url)).text


async def test_a_misspelt_group_gets_did_you_mean_with_buttons_that_run_it(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    # two letters swapped (a hex name can end in two equal ones: then the last one is wrong)
    typo = (group[:-2] + group[-1] + group[-2] if group[-1] != group[-2]
            else group[:-1] + "z")
    assert typo != group
    _, _, url = await rb.command(f"lag {typo}")
    reply = await rb.reply(url)
    assert f"consumer group '{typo}' not found on cluster 'primary'" in reply.text
    assert f"Did you mean `{group}`" in reply.text
    assert "`/kafka lag` lists every group" in reply.text  # Slack's words, not the CLI's
    button = next(v for k, v in reply.action_values.items() if k.startswith("kafkaops.run."))
    assert button == f"lag {group}"
    answer = await rb.reply(await click(rb, "kafkaops.run.0", button))
    assert f"*{group}* is *STOP*" in answer.text


async def test_a_misspelt_topic_or_flag_gets_did_you_mean_too(rb: RunningBot) -> None:
    from kafkaops.core.topics.service import NewTopicSpec

    topic = unique("orders")
    await (await rb.bot.services.topics()).create_topics([NewTopicSpec(topic, 1)])
    typo = topic[:-1]  # the last letter lost
    _, _, url = await rb.command(f"topic {typo}")
    reply = await rb.reply(url)
    assert f"Did you mean `{topic}`" in reply.text
    assert reply.action_values["kafkaops.run.0"] == f"topic {topic}"
    answer = await rb.reply(await click(rb, "kafkaops.run.0", f"topic {topic}"))
    assert f"Topic {topic}" in answer.text

    flag = await new_flag(rb)
    typo = flag.replace("-", "_", 1) if "-" in flag else flag + "x"
    _, _, url = await rb.command(f"flag toggle {typo} --on")  # a new flag is off
    reply = await rb.reply(url)
    assert f"Did you mean `{flag}`" in reply.text
    # the button asks for the same change: it still goes through Confirm
    assert reply.action_values["kafkaops.run.0"] == f"flag toggle {flag} --on"
    prompt = await rb.reply(await click(rb, "kafkaops.run.0", f"flag toggle {flag} --on"))
    assert CONFIRM_ACTION_ID in prompt.action_values


# ---------------------------------------------------------------- App Home


async def ancient_topic(bootstrap: str, records: int) -> str:
    """A one-partition topic whose records were written in 2001: a group stopped at its
    start is the oldest behind on the shared brokers, so the Home tab lists it first
    whatever other tests left behind."""
    name = unique("ancient")
    async with KafkaConnection("setup", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec(name, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for k in range(records):
            await producer.send_and_wait(name, b"x", partition=0,
                                         timestamp_ms=1_000_000_000_000 + k * 1000)
    finally:
        await producer.stop()
    return name


async def test_app_home_shows_the_on_call_view_from_live_clusters(
    config_data: dict, bootstrap: str
) -> None:
    topic = await ancient_topic(bootstrap, 23)
    group = await stopped_group(bootstrap, topic, {0: 0})  # 23 behind, STOP
    rule = {"name": unique("stopped"), "match": {"group": group}, "when": "lag > 10",
            "channel": "C0ORDERS"}
    data = {**config_data, "clusters": {
        **config_data["clusters"],
        # nothing listens here: this cluster never answers
        "legacy": {"bootstrap_servers": "127.0.0.1:9", "request_timeout": "2s"}}}
    async with bot_with_alerts(data, [rule]) as (rb, _):
        await rb.slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") ==
                                "C0ORDERS", within=30)  # the alert fired
        status, _ = await rb.event({"type": "app_home_opened", "user": "U0ALICE",
                                    "channel": "D0HOME", "tab": "home",
                                    "event_ts": "1700000000.000100"})
        assert status == 200
        (published,) = await rb.slack.wait_for("views.publish", within=60)
        assert published.params["user_id"] == "U0ALICE"
        view = view_of(published)
        assert view["type"] == "home"
        text = seen(view)
        # firing alerts, with Acknowledge
        assert rule["name"] in text and f"group {group} on primary" in text
        assert "kafkaops.alert.ack" in json.dumps(view)
        # groups behind, per cluster, read now
        assert f"*{group}* STOP · lag 23" in text
        # a cluster that did not answer is unknown, with when it last answered: never OK
        legacy = next(ln for ln in text.splitlines() if "*legacy*" in ln)
        assert "*UNKNOWN*, it did not answer (last answer never since the bot started)" in legacy
        assert "OK" not in legacy.replace("UNKNOWN", "")
        # recent changes come from the audit trails; DR pairs are said to be absent
        assert "Recent changes" in text and "No DR pairs are configured." in text
        # Refresh reads it all again
        await click(rb, HOME_REFRESH_ACTION, "refresh")
        await rb.slack.wait_for("views.publish", count=2, within=60)


# ---------------------------------------------------------------- @kafkaops, Investigate


async def test_a_mention_answers_like_the_slash_command_in_its_thread(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    status, _ = await rb.event({
        "type": "app_mention", "user": "U0BOB", "channel": "C0INCIDENT",
        "text": f"<@{BOT_USER_ID}> lag {group}", "ts": "1700000050.000100",
        "event_ts": "1700000050.000100"})
    assert status == 200
    (answer,) = await rb.slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == "1700000050.000100")
    assert answer.params["channel"] == "C0INCIDENT"
    assert f"*{group}* is *STOP*" in answer.text and "lag 23 records" in answer.text
    assert f"requested by <@U0BOB> · `/kafka lag {group}`" in answer.text
    # a mention in a thread answers in that thread; a bare mention gets help
    await rb.event({"type": "app_mention", "user": "U0BOB", "channel": "C0INCIDENT",
                    "text": f"<@{BOT_USER_ID}>", "ts": "1700000060.000100",
                    "thread_ts": "1700000055.000100", "event_ts": "1700000060.000100"})
    (helped,) = await rb.slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == "1700000055.000100")
    assert "What people do most" in helped.text


async def test_investigate_looks_up_the_topics_and_groups_a_message_names(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    url = rb.slack.response_url()
    text = f"paging: {group} is stuck again, is {known.name} still being written? (v2.1)"
    status, _ = await post_signed(rb.session, rb.events_url, interaction_body(
        message_shortcut(INVESTIGATE, text, response_url=url, user="U0BOB")))
    assert status == 200
    lag, topic = await rb.reply(url, count=2)
    assert f"*{group}* is *STOP*" in lag.text
    assert f"Topic {known.name}" in topic.text
    assert lag.params["response_type"] == topic.params["response_type"] == "ephemeral"
    # a message naming nothing on the cluster says what it looked for
    url = rb.slack.response_url()
    await post_signed(rb.session, rb.events_url, interaction_body(
        message_shortcut(INVESTIGATE, "lunch at noon?", response_url=url)))
    nothing = await rb.reply(url)
    assert "names no topic or consumer group of *primary*" in nothing.text
    assert "Looked for: `lunch`, `at`, `noon`" in nothing.text


# ---------------------------------------------------------------- the offset-reset form


async def test_plan_reset_opens_a_form_whose_submission_ends_in_the_plan_and_confirm(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    _, _, url = await rb.command("lag --match " + group)
    overview = await rb.reply(url)
    (button,) = [b["accessory"] for b in overview.blocks if "accessory" in b]
    assert (button["action_id"], button["text"]["text"]) == (RESET_ACTION, "Plan reset")
    await click(rb, RESET_ACTION, button["value"], user="U0CAROL", ephemeral=True)
    (opened,) = await rb.slack.wait_for("views.open")
    assert "Reading groups" in seen(view_of(opened))
    (filled,) = await rb.slack.wait_for("views.update", within=30)
    view = view_of(filled)
    assert view["callback_id"] == FORM
    pickers = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert pickers["group"]["initial_option"]["value"] == group
    assert [o["value"] for o in pickers["topic"]["options"]] == [known.name]  # its topics
    assert [o["value"] for o in pickers["to"]["options"]] == ["earliest", "latest", "time"]

    def values(when: str) -> dict[str, Any]:
        return {"group": {"type": "static_select", "selected_option": {"value": group}},
                "topic": {"type": "static_select", "selected_option": {"value": known.name}},
                "to": {"type": "radio_buttons", "selected_option": {"value": "time"}},
                "time": {"type": "plain_text_input", "value": when}}

    # a time that does not read is said next to it, and the form stays open
    status, body = await rb.click(view_submission(view, values("yesterday-ish"), user="U0CAROL"))
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"time"}
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}

    # a good one closes it, and the plan with Confirm is posted to the person
    status, body = await rb.click(view_submission(view, values("20m"), user="U0CAROL"))
    assert status == 200 and body in ("", "{}")
    (prompt,) = await rb.slack.wait_for("chat.postEphemeral", within=30)
    assert prompt.params["user"] == "U0CAROL"
    assert f"reset group `{group}` on `{known.name}`" in prompt.text
    assert CONFIRM_ACTION_ID in prompt.action_values
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}


async def test_offsets_reset_without_a_target_opens_the_form(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 3})
    status, ack, _ = await rb.command(f"offsets reset {group}", user="U0CAROL")
    assert status == 200 and "Usage" not in ack
    (opened,) = await rb.slack.wait_for("views.open")
    assert opened.params["trigger_id"]
    (filled,) = await rb.slack.wait_for("views.update", within=30)
    pickers = {b["block_id"]: b["element"] for b in view_of(filled)["blocks"]
               if b["type"] == "input"}
    assert pickers["group"]["initial_option"]["value"] == group
    # with a target it is the command, as before: the plan and Confirm
    _, _, url = await rb.command(f"offsets reset {group} --topic {known.name} --to-latest",
                                 user="U0CAROL")
    assert CONFIRM_ACTION_ID in (await rb.reply(url)).action_values


async def test_a_form_submission_is_the_submitters_command_and_nothing_more(
    rb: RunningBot, bootstrap: str, known: KnownTopic
) -> None:
    """The submitted values are untrusted: they become the command the submitter could
    have typed, checked as typed (their permission, the parser, the cluster)."""
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})

    def form(cluster: str = "primary", g: str = group) -> dict[str, Any]:
        view = {"type": "modal", "callback_id": FORM, "blocks": [],
                "private_metadata": json.dumps({"cluster": cluster, "channel": "C0INCIDENT"})}
        return view_submission(view, {
            "group": {"type": "static_select", "selected_option": {"value": g}},
            "topic": {"type": "static_select", "selected_option": {"value": known.name}},
            "to": {"type": "radio_buttons", "selected_option": {"value": "earliest"}}},
            user="U0BOB" if g == group and cluster == "primary" else "U0CAROL")

    async def answer(payload: dict[str, Any], n: int) -> Call:
        status, _ = await rb.click(payload)
        assert status == 200
        calls = await rb.slack.wait_for("chat.postEphemeral", count=n, within=30)
        return calls[-1]

    # Bob is in no role: denied as if he had typed it
    denied = await answer(form(), 1)
    assert denied.params["user"] == "U0BOB" and "Denied: offsets.reset" in denied.text
    # a "group" that reads as an option stays a group name: not found, no Confirm
    smuggled = await answer(form(g="--to-latest"), 2)
    assert "consumer group '--to-latest' not found" in smuggled.text
    assert CONFIRM_ACTION_ID not in smuggled.action_values
    # a cluster the config does not name
    unknown = await answer(form(cluster="elsewhere"), 3)
    assert "no cluster named 'elsewhere'" in unknown.text and unknown.action_values == {}
    # not signed by Slack: turned away, nothing posted
    body = interaction_body(form())
    status, _ = await post_signed(rb.session, rb.events_url, body, secret="not-the-secret")
    assert status == 401
    assert len(rb.slack.calls_to("chat.postEphemeral")) == 3
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}


# ---------------------------------------------------------------- prompts that expire


async def test_an_unused_prompt_is_marked_expired_when_its_time_is_up(
    config_data: dict, bootstrap: str
) -> None:
    async with running_bot(config_data, confirm_ttl=1.0) as rb:
        origin = await dead_letters(rb, bootstrap, 1)
        _, _, url = await rb.command(f"dlq replay {origin}.dlq --public", user="U0CAROL")
        prompt = await rb.reply(url)
        assert CONFIRM_ACTION_ID in prompt.action_values
        # --public: "requested by" once (the prompt says who asked)
        assert prompt.text.count("requested by") == 1
        (expired,) = await rb.slack.wait_for(
            "response_url", lambda c: c.path == url[len(rb.slack.url) - 1:]
            and "expired" in c.text, within=30)
        assert expired.params["replace_original"] is True and expired.action_values == {}
        assert "Nothing was changed" in expired.text

        # audited before the prompt was replaced: the trail says who asked, and that nobody
        # confirmed it in time
        records = await (await rb.bot.services.audit()).records()
        assert [(r.actor, r.result) for r in records if r.target == f"{origin}.dlq"] == [
            ("U0CAROL", "expired")]
