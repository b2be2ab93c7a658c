"""What the bot's HTTP endpoint accepts, tried as an attacker would over real signed HTTP:
malformed bodies and headers get 4xx (never a 500 or a traceback), another workspace or
app gets 403 before its command is read, a replayed or retried request runs nothing (on
this replica and on another one), and every refusal is logged once and counted in
/metrics by reason. /healthz and /metrics can move off the public port, and /metrics can
ask for a bearer token."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from urllib.parse import urlencode

import aiohttp
import pytest

from kafkaops.core.confirmations import REQUESTS_TOPIC
from kafkaops.core.metrics import parse_text
from tests.alerts_support import wait_until
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import unique
from tests.slack_server import (
    SIGNING_SECRET,
    button_click,
    form_body,
    post_signed,
    signature,
    slash_command,
)

REFUSED = "kafkaops_slack_requests_refused_total"


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


def refused(rb: RunningBot, reason: str) -> float:
    """The bot's own count of requests refused for `reason`."""
    return rb.bot.services.metrics.value(REFUSED, {"reason": reason}) or 0.0


async def scrape(rb: RunningBot, url: str | None = None, token: str | None = None
                 ) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with rb.session.get((url or rb.transport.url) + "/metrics", headers=headers) as r:
        return r.status, await r.text()


def refusal_logs(caplog: pytest.LogCaptureFixture, reason: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "kafkaops.bot" and f": {reason} (" in r.getMessage()]


async def post_raw(rb: RunningBot, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with rb.session.post(rb.events_url, data=body, headers=headers) as resp:
        return resp.status, await resp.text()


def signed(body: bytes, *, content_type: str = "application/x-www-form-urlencoded",
           timestamp: str | None = None) -> dict[str, str]:
    import time

    ts = timestamp if timestamp is not None else str(int(time.time()))
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature":
            signature(SIGNING_SECRET, ts, body), "Content-Type": content_type}


# ---------------------------------------------------------------- malformed requests

MALFORMED = {
    # name: (body, content type, timestamp header, expected status, reason)
    "json-body-not-json": (b'{"type": "block_actions", ', "application/json", None, 400,
                           "malformed"),
    "json-body-not-an-object": (b"[1, 2, 3]", "application/json", None, 400, "malformed"),
    "form-payload-broken": (urlencode({"payload": '{"type": "block_actions",'}).encode(),
                            "application/x-www-form-urlencoded", None, 400, "malformed"),
    "form-payload-not-an-object": (urlencode({"payload": '"just a string"'}).encode(),
                                   "application/x-www-form-urlencoded", None, 400,
                                   "malformed"),
    "body-not-utf8": (b"text=\xff\xfe&team_id=T0KAFKAOPS", "application/x-www-form-urlencoded",
                      None, 400, "malformed"),
    "timestamp-not-a-number": (b"command=%2Fkafka&text=status", "application/x-www-form-"
                               "urlencoded", "yesterday", 401, "malformed"),
    "timestamp-huge": (b"command=%2Fkafka&text=status", "application/x-www-form-urlencoded",
                       "9" * 40, 401, "malformed"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_request_gets_4xx_no_traceback_and_is_counted_once(
    rb: RunningBot, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, ctype, ts, status, reason = MALFORMED[case]
    caplog.set_level(logging.WARNING, "kafkaops.bot")
    before = refused(rb, reason)
    got, text = await post_raw(rb, body, signed(body, content_type=ctype, timestamp=ts))
    assert got == status
    assert "Traceback" not in text and "Error" not in text and "line " not in text
    assert refused(rb, reason) == before + 1
    assert len(refusal_logs(caplog, reason)) == 1
    _, metrics = await scrape(rb)
    assert parse_text(metrics)[REFUSED][(("reason", reason),)] == before + 1
    assert rb.slack.calls_to("response_url") == []


async def test_bad_signature_stale_and_unsigned_are_counted_by_reason(
    rb: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    caplog.set_level(logging.WARNING, "kafkaops.bot")
    body = form_body(slash_command("status", response_url=rb.slack.response_url()))
    assert (await post_signed(rb.session, rb.events_url, body, secret="guess"))[0] == 401
    assert (await post_signed(rb.session, rb.events_url, body,
                              timestamp=int(time.time()) + 6 * 60))[0] == 401
    assert (await post_raw(rb, body, {"Content-Type": "application/x-www-form-urlencoded"})
            )[0] == 401
    m = parse_text((await scrape(rb))[1])[REFUSED]
    assert m[(("reason", "bad_signature"),)] == 2
    assert m[(("reason", "stale"),)] == 1
    assert len(refusal_logs(caplog, "bad_signature")) == 2
    assert len(refusal_logs(caplog, "stale")) == 1
    assert rb.slack.calls_to("response_url") == []


# ---------------------------------------------------------------- workspace


async def test_another_workspace_gets_403_before_its_command_is_read(
    rb: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    """U0ALICE is on call in our workspace; a U0ALICE of another workspace is someone else,
    and a signed request from there (same app, installed there too) must not reach roles."""
    caplog.set_level(logging.WARNING, "kafkaops.bot")
    key = unique("ws-flag")
    await (await rb.bot.services.flags()).create(key, owner="sre", actor="setup@test", face="cli")
    url = rb.slack.response_url()
    body = form_body(slash_command(f"flag toggle {key}", response_url=url, team="T0EVIL"))
    status, text = await post_signed(rb.session, rb.events_url, body)
    assert (status, text) == (403, "this app does not serve that workspace")
    click = button_click("kafkaops.confirm", "primary.x", response_url=url, team="T0EVIL")
    assert (await rb.click(click))[0] == 403
    # a bad usage line would have been answered in the ack: nothing was parsed at all
    status, text = await post_signed(rb.session, rb.events_url, form_body(
        slash_command("frobnicate", response_url=url, team="T0EVIL")))
    assert (status, text) == (403, "this app does not serve that workspace")
    assert refused(rb, "wrong_workspace") == 3
    assert any("workspace 'T0EVIL' is not 'T0KAFKAOPS'" in m
               for m in refusal_logs(caplog, "wrong_workspace"))
    # our own workspace (learnt from auth.test: the config names none) is served
    ok, ack = await post_signed(rb.session, rb.events_url, form_body(
        slash_command("help", response_url=url)))
    assert ok == 200 and "Kafka from Slack" in ack
    assert rb.slack.calls_to("response_url") == []
    state = await (await rb.bot.services.flags()).get(key)
    assert state.version == 1


async def test_another_app_and_a_configured_workspace(config_data: dict) -> None:
    async with running_bot(config_data, slack_keys={"team_id": "T0OURS", "app_id": "A0OURS"}
                           ) as rb:
        url = rb.slack.response_url()
        # the local Slack's own team is not the configured one
        assert (await post_signed(rb.session, rb.events_url, form_body(
            slash_command("help", response_url=url))))[0] == 403
        assert (await post_signed(rb.session, rb.events_url, form_body(
            slash_command("help", response_url=url, team="T0OURS", app="A0THEIRS"))))[0] == 403
        status, ack = await post_signed(rb.session, rb.events_url, form_body(
            slash_command("help", response_url=url, team="T0OURS", app="A0OURS")))
        assert status == 200 and "Kafka from Slack" in ack
        assert refused(rb, "wrong_workspace") == 2


# ---------------------------------------------------------------- replays


async def test_a_replayed_command_runs_once_and_a_slack_retry_not_at_all(
    rb: RunningBot,
) -> None:
    url = rb.slack.response_url()
    body = form_body(slash_command("status", response_url=url))
    headers = signed(body)
    answers = [await post_raw(rb, body, headers) for _ in range(3)]
    assert answers[0][0] == 200 and "Working on" in answers[0][1]
    assert answers[1:] == [(200, ""), (200, "")]
    await rb.reply(url)
    # Slack's retry of a request (new signature, same body) is not run either
    retry_url = rb.slack.response_url()
    retry_body = form_body(slash_command("status", response_url=retry_url))
    status, text = await post_raw(rb, retry_body, {
        **signed(retry_body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert (status, text) == (200, "")
    assert (refused(rb, "replay"), refused(rb, "retry")) == (2, 1)
    # the one answer was the only one: a later command's reply arrives after it, none other
    _, _, later = await rb.command("status")
    await rb.reply(later)
    assert len(rb.slack.calls_to("response_url", url[len(rb.slack.url) - 1:])) == 1
    assert rb.slack.calls_to("response_url", retry_url[len(rb.slack.url) - 1:]) == []


async def test_a_request_replayed_to_another_replica_runs_on_one_only(
    config_data: dict,
) -> None:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_bot(config_data))
        b = await stack.enter_async_context(running_bot(config_data))
        url = a.slack.response_url()
        body = form_body(slash_command("status", response_url=url))
        headers = signed(body)  # captured once, sent to both replicas at the same time
        (sa, _), (sb, _) = await asyncio.gather(post_raw(a, body, headers),
                                                post_raw(b, body, headers))
        assert (sa, sb) == (200, 200)
        await a.reply(url)
        await wait_until(lambda: refused(a, "replay") + refused(b, "replay") == 1, 30,
                         "the second replica to refuse the replay")
        assert len(a.slack.calls_to("response_url", url[len(a.slack.url) - 1:])) == 1
        # the replicas shared it on the default cluster
        conn = await a.bot.services.connection("primary")
        assert REQUESTS_TOPIC in (await conn.metadata([REQUESTS_TOPIC])).topics


# ---------------------------------------------------------------- the early ack
# A checked slash command that acks with "Working on …" is answered before slack-bolt's
# dispatch (bot/transports.py); bolt then runs it in the background with its own answer
# dropped. Only a request that passed every check may get that answer.


async def test_an_early_acked_command_runs_once_even_when_the_bot_stops_at_once(
    rb: RunningBot,
) -> None:
    url = rb.slack.response_url()
    status, ack = await post_signed(rb.session, rb.events_url,
                                    form_body(slash_command("status", response_url=url)))
    assert status == 200
    assert json.loads(ack) == {"response_type": "ephemeral",
                               "text": "Working on `/kafka status`…"}
    # stopping lets the acknowledged command finish: bolt's dispatch, then the work it starts
    await rb.transport.stop()
    calls = rb.slack.calls_to("response_url", url[len(rb.slack.url) - 1:])
    assert len(calls) == 1
    assert calls[0].params["text"].startswith("Kafka status: primary: 1 broker")


async def test_forged_and_unsigned_commands_get_401_and_no_working_on(rb: RunningBot) -> None:
    url = rb.slack.response_url()
    body = form_body(slash_command("status", response_url=url))
    tampered = form_body(slash_command("status --public", response_url=url))
    answers = [
        await post_signed(rb.session, rb.events_url, body, secret="guess"),
        await post_raw(rb, body, {"Content-Type": "application/x-www-form-urlencoded"}),
        await post_raw(rb, tampered, signed(body)),  # signed for another body
    ]
    assert answers == [(401, "invalid request")] * 3
    assert refused(rb, "bad_signature") == 3
    # a later command's reply arrives; none went to the forged commands' response_url
    _, _, later = await rb.command("status")
    await rb.reply(later)
    assert rb.slack.calls_to("response_url", url[len(rb.slack.url) - 1:]) == []


async def test_a_command_from_another_team_or_app_gets_403_not_working_on(
    config_data: dict,
) -> None:
    async with running_bot(config_data, slack_keys={"team_id": "T0OURS", "app_id": "A0OURS"}
                           ) as rb:
        url = rb.slack.response_url()
        for team, app in (("T0EVIL", "A0OURS"), ("T0OURS", "A0THEIRS")):
            body = form_body(slash_command("status", response_url=url, team=team, app=app))
            status, text = await post_signed(rb.session, rb.events_url, body)
            assert (status, text) == (403, "this app does not serve that workspace")
        assert refused(rb, "wrong_workspace") == 2
        later = rb.slack.response_url()
        status, ack = await post_signed(rb.session, rb.events_url, form_body(
            slash_command("status", response_url=later, team="T0OURS", app="A0OURS")))
        assert status == 200 and "Working on" in ack
        await rb.reply(later)
        assert rb.slack.calls_to("response_url", url[len(rb.slack.url) - 1:]) == []


async def test_a_retry_of_an_early_acked_command_gets_todays_answer_and_no_second_run(
    rb: RunningBot,
) -> None:
    url = rb.slack.response_url()
    body = form_body(slash_command("status", response_url=url))
    status, ack = await post_raw(rb, body, signed(body))
    assert status == 200 and "Working on" in ack
    for n in ("1", "2"):
        got = await post_raw(rb, body, {**signed(body), "X-Slack-Retry-Num": n,
                                        "X-Slack-Retry-Reason": "http_timeout"})
        assert got == (200, "")
    await rb.reply(url)
    assert refused(rb, "retry") == 2
    _, _, later = await rb.command("status")
    await rb.reply(later)
    assert len(rb.slack.calls_to("response_url", url[len(rb.slack.url) - 1:])) == 1


async def test_each_text_gets_its_own_early_ack_the_second_time_too(rb: RunningBot) -> None:
    # the early ack is remembered per command text (bot/transports.py, Bot.working_ack):
    # help, a usage error and two commands, each sent twice, answer as bolt's ack would
    for _ in range(2):
        status, ack, url = await rb.command("status")
        assert (status, json.loads(ack)) == (200, {"response_type": "ephemeral",
                                                   "text": "Working on `/kafka status`…"})
        assert (await rb.reply(url)).params["text"].startswith("Kafka status: primary")
        status, ack, url = await rb.command("topics")
        assert status == 200 and json.loads(ack)["text"] == "Working on `/kafka topics`…"
        await rb.reply(url)
        status, ack, _ = await rb.command("help")
        assert status == 200 and "Working on" not in ack and "/kafka help TOPIC" in ack
        status, ack, _ = await rb.command("frobnicate")
        assert status == 200 and "unknown subcommand 'frobnicate'" in ack


# ---------------------------------------------------------------- health and metrics


async def test_health_port_takes_healthz_and_metrics_off_the_public_port(
    config_data: dict,
) -> None:
    async with running_bot(config_data, slack_keys={"health_port": 0,
                                                    "metrics_token": "scrape-me"}) as rb:
        public, admin = rb.transport.url, rb.transport.health_url
        assert public != admin
        async with aiohttp.ClientSession() as s:
            for path in ("/healthz", "/metrics"):
                async with s.get(public + path) as r:
                    assert r.status == 404, path
            async with s.get(admin + "/healthz") as r:
                assert r.status == 200 and (await r.json())["mode"] == "http"
        assert (await scrape(rb, admin))[0] == 401
        assert (await scrape(rb, admin, token="not-it"))[0] == 401
        status, text = await scrape(rb, admin, token="scrape-me")
        assert status == 200 and "kafkaops_cluster_up" in text
        # the public port still serves Slack
        status, ack = await post_signed(rb.session, rb.events_url, form_body(
            slash_command("help", response_url=rb.slack.response_url())))
        assert status == 200 and "Kafka from Slack" in ack


async def test_interaction_payload_with_our_workspace_is_served(rb: RunningBot) -> None:
    """The body check does not refuse what Slack really sends: a button click."""
    url = rb.slack.response_url()
    status, text = await rb.click(button_click("kafkaops.confirm", "nosuch", response_url=url))
    assert (status, text) == (200, "")
    reply = await rb.reply(url)
    assert "not known to the bot" in reply.text
