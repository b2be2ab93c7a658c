"""The bot in HTTP mode: signed slash commands to its aiohttp endpoint, replies recorded by
the local Slack, data from the embedded broker."""

from __future__ import annotations

import json
import time

import pytest

from kafkaops.core.errors import ConfigError
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import produce, unique
from tests.slack_server import form_body, post_signed, slash_command


@pytest.fixture
async def rb(config_data: dict) -> RunningBot:
    async with running_bot(config_data) as r:
        yield r


async def test_health_endpoint_answers_200(rb: RunningBot) -> None:
    async with rb.session.get(rb.transport.url + "/healthz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ok"
    assert body["mode"] == "http"
    assert body["command"] == "/kafka"


async def test_status_acks_at_once_then_answers_with_every_cluster(rb: RunningBot) -> None:
    status, ack, url = await rb.command("status")
    assert status == 200
    assert json.loads(ack) == {"response_type": "ephemeral", "text": "Working on `/kafka status`…"}
    reply = await rb.reply(url)
    assert reply.params["response_type"] == "ephemeral"
    # both embedded clusters, their broker (Tansu's node id is 111) and healthy partitions
    assert "*primary*" in reply.text and "*dr*" in reply.text
    assert "all partitions online and in sync" in reply.text
    assert "111 `127.0.0.1:" in reply.text
    assert reply.params["text"].startswith("Kafka status: primary: 1 broker, 0 offline")


async def test_topics_lists_matching_topics_with_their_message_counts(
    rb: RunningBot, bootstrap: str
) -> None:
    prefix = unique("bot-topics")
    await produce(bootstrap, f"{prefix}-orders", [b"a", b"b", b"c"])
    await produce(bootstrap, f"{prefix}-payments", [b"x"])
    _, _, url = await rb.command(f"topics {prefix}")
    reply = await rb.reply(url)
    assert f"2 topics matching `{prefix}`" in reply.text
    # one short section per topic, two lines: its shape, what it keeps; and a Details button
    rows = {b["text"]["text"].split("*")[1]: b["text"]["text"].split("\n")
            for b in reply.blocks if b["type"] == "section" and "accessory" in b}
    assert rows[f"{prefix}-orders"][0].endswith(" partitions · RF 1 · healthy")
    assert rows[f"{prefix}-orders"][1].startswith("3 messages kept · ")
    assert rows[f"{prefix}-payments"][1].startswith("1 message kept · ")
    details = {v for k, v in reply.accessories.items() if k.startswith("kafkaops.run.")}
    assert details == {f"topic {prefix}-orders --cluster primary",
                       f"topic {prefix}-payments --cluster primary"}


async def test_topic_shows_partitions_and_offsets(rb: RunningBot, bootstrap: str) -> None:
    name = unique("bot-topic")
    await produce(bootstrap, name, [b"1", b"2"], partition=0)
    _, _, url = await rb.command(f"topic {name}")
    reply = await rb.reply(url)
    assert f"Topic {name}" in reply.text
    part_rows = [ln.split() for ln in reply.text.splitlines() if ln.strip().startswith("0 ")]
    assert part_rows == [["0", "111", "111", "0", "2", "2"]]  # P LEADER ISR EARLIEST LATEST N


async def test_unknown_topic_is_a_clear_ephemeral_error(rb: RunningBot) -> None:
    name = unique("missing")
    _, _, url = await rb.command(f"topic {name} --public")
    reply = await rb.reply(url)
    assert reply.params["response_type"] == "ephemeral"  # mistakes are not posted to the channel
    assert f"topic {name!r} not found on cluster 'primary'" in reply.text


async def test_public_reply_goes_to_the_channel_and_names_the_requester(rb: RunningBot) -> None:
    _, ack, url = await rb.command("status --public", user="U0BOB")
    assert json.loads(ack)["response_type"] == "ephemeral"  # "working…" stays private
    reply = await rb.reply(url)
    assert reply.params["response_type"] == "in_channel"
    assert "requested by <@U0BOB> · `/kafka status --public`" in reply.text


async def test_cluster_option_picks_another_cluster(rb: RunningBot) -> None:
    _, _, url = await rb.command("status --cluster dr")
    reply = await rb.reply(url)
    assert "*dr*" in reply.text and "*primary*" not in reply.text


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        ("frobnicate", "unknown subcommand 'frobnicate'", "/kafka help"),
        ("topis", "unknown subcommand 'topis'; did you mean 'topics'?", "/kafka topics"),
        ("topic", "the following arguments are required: NAME", "/kafka topic NAME"),
        ("topics a b", "unrecognized arguments: b", "/kafka topics [--internal] [FILTER]"),
        ("status --cluster nowhere", "no cluster named 'nowhere' (configured: primary, dr)", ""),
        ('topic "unclosed', "cannot read the command: no closing quotation", ""),
    ],
)
async def test_malformed_command_gets_usage_in_the_ack_and_runs_nothing(
    rb: RunningBot, text: str, problem: str, usage: str
) -> None:
    status, ack, url = await rb.command(text)
    assert status == 200
    body = json.loads(ack)
    assert body["response_type"] == "ephemeral"
    shown = body["blocks"][0]["text"]["text"]
    end = "" if problem.endswith("?") else "."
    assert shown.startswith(f":warning: {problem}{end} Nothing was run.")
    assert f"`{usage}" in shown
    # a well-formed command sent afterwards is answered; the malformed one never was
    _, _, after = await rb.command("topic also-missing-" + unique())
    await rb.reply(after)
    assert rb.slack.calls_to("response_url", url[len(rb.slack.url) - 1 :]) == []


async def test_help_shows_the_five_things_people_do_most_in_the_ack(rb: RunningBot) -> None:
    status, ack, _ = await rb.command("help")
    body = json.loads(ack)
    entries = [b["text"]["text"] for b in body["blocks"]
               if b["type"] == "section" and b["text"]["text"].startswith("`/kafka ")]
    assert [e.split("`")[1] for e in entries] == [
        "/kafka lag", "/kafka alerts", "/kafka status", "/kafka flag toggle FLAG",
        "/kafka dlq list"]
    assert all("\n_e.g._ `/kafka " in e for e in entries)  # each with an example
    text = json.dumps(body["blocks"])
    assert "`/kafka help TOPIC`" in text and "--public" in text
    assert "kafkaops " not in text  # Slack's own words only
    # the rest is under its topic
    _, ack, _ = await rb.command("help dlq")
    text = json.dumps(json.loads(ack)["blocks"])
    assert "`/kafka dlq replay TOPIC`" in text and "/kafka dlq show [--filter EXPR]" in text


async def test_forged_signature_and_stale_timestamp_get_401_and_no_slack_call(
    rb: RunningBot,
) -> None:
    url = rb.slack.response_url()
    body = form_body(slash_command("status", response_url=url))
    forged, _ = await post_signed(rb.session, rb.events_url, body, secret="not-the-secret")
    stale, _ = await post_signed(
        rb.session, rb.events_url, body, timestamp=int(time.time()) - 6 * 60
    )
    async with rb.session.post(rb.events_url, data=body) as resp:  # no signature at all
        unsigned = resp.status
    assert (forged, stale, unsigned) == (401, 401, 401)
    # the same body, correctly signed, is answered: so nothing above was merely slow
    ok, _ = await post_signed(rb.session, rb.events_url, form_body(
        slash_command("help", response_url=rb.slack.response_url())))
    assert ok == 200
    assert rb.slack.calls_to("response_url") == []
    assert {c.method for c in rb.slack.calls} <= {"auth.test"}


async def test_expired_response_url_falls_back_to_chat_post_ephemeral(rb: RunningBot) -> None:
    rb.slack.expire_response_urls = True
    _, _, url = await rb.command("status", user="U0BOB", channel="C0OPS")
    (call,) = await rb.slack.wait_for("chat.postEphemeral")
    assert call.params["channel"] == "C0OPS" and call.params["user"] == "U0BOB"
    assert "*primary*" in call.text
    assert call.token == rb.slack.bot_token


async def test_http_mode_refuses_to_start_without_a_signing_secret(config_data: dict) -> None:
    from kafkaops.bot.app import build_bot
    from kafkaops.bot.transports import HttpTransport
    from kafkaops.core.config import parse_config
    from kafkaops.core.services import Services

    data = dict(config_data, slack={"mode": "http", "bot_token": "xoxb-x", "signing_secret": ""})
    async with Services(parse_config(data, "<t>")) as services:
        bot = build_bot(services)
        with pytest.raises(ConfigError, match="slack.signing_secret is empty"):
            HttpTransport(bot)
