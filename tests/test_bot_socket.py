"""The bot in Socket Mode: slack-bolt's AsyncSocketModeHandler connects to the local Slack's
WebSocket (URL from apps.connections.open), receives envelopes and acknowledges them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from kafkaops.bot.app import Bot, build_bot
from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.bot.transports import SocketTransport
from kafkaops.core.config import parse_config
from kafkaops.core.errors import ConfigError
from kafkaops.core.services import Services
from tests.bot_harness import bot_config_data
from tests.conftest import unique
from tests.slack_server import (
    BOT_USER_ID,
    SlackServer,
    _texts,
    button_click,
    event_body,
    slash_command,
)
from tests.test_bot_confirm import demo_write


@dataclass
class SocketBot:
    bot: Bot
    transport: SocketTransport
    slack: SlackServer


@pytest.fixture
async def sb(config_data: dict, bootstrap: str) -> AsyncIterator[SocketBot]:
    async with SlackServer(usergroups={"S0ONCALL": ["U0CAROL"]}) as slack:
        cfg = parse_config(bot_config_data(config_data, slack, mode="socket"), "<socket test>")
        async with Services(cfg) as services:
            bot = build_bot(services)
            demo_write(bootstrap)(bot)
            transport = SocketTransport(bot, health_host="127.0.0.1", health_port=0)
            await transport.start()
            try:
                await slack.wait_connected()
                yield SocketBot(bot, transport, slack)
            finally:
                await transport.stop()


async def test_connects_with_the_app_token_and_reports_healthy(sb: SocketBot) -> None:
    (opened,) = sb.slack.calls_to("apps.connections.open")
    assert opened.token == sb.slack.app_token
    health = f"http://127.0.0.1:{sb.transport.health_port}/healthz"
    async with aiohttp.ClientSession() as s, s.get(health) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["mode"] == "socket" and body["status"] == "ok"


async def test_slash_command_is_acked_over_the_socket_and_answered(sb: SocketBot) -> None:
    url = sb.slack.response_url()
    ack = await sb.slack.send_envelope("slash_commands", slash_command("status", response_url=url))
    assert ack["payload"] == {"response_type": "ephemeral", "text": "Working on `/kafka status`…"}
    (reply,) = await sb.slack.wait_for_response(url)
    assert "*primary*" in reply.text and "all partitions online and in sync" in reply.text


async def test_malformed_command_gets_usage_in_the_socket_ack(sb: SocketBot) -> None:
    url = sb.slack.response_url()
    ack = await sb.slack.send_envelope("slash_commands", slash_command("topic", response_url=url))
    text = ack["payload"]["blocks"][0]["text"]["text"]
    assert "the following arguments are required: NAME. Nothing was run." in text
    assert "`/kafka topic NAME`" in text


async def test_confirmation_click_arrives_over_the_socket(sb: SocketBot) -> None:
    topic = unique("socket-confirm")
    url = sb.slack.response_url()
    await sb.slack.send_envelope(
        "slash_commands", slash_command(f"demo write {topic} v", response_url=url, user="U0CAROL")
    )
    (prompt,) = await sb.slack.wait_for_response(url)
    pid = prompt.action_values[CONFIRM_ACTION_ID]
    click_url = sb.slack.response_url()
    ack = await sb.slack.send_envelope(
        "interactive", button_click(CONFIRM_ACTION_ID, pid, response_url=click_url, user="U0CAROL")
    )
    assert ack.get("payload") in (None, {})
    done = await sb.slack.wait_for(
        "response_url", lambda c: c.path.endswith(click_url.rsplit("/", 1)[1])
        and "wrote to" in c.text
    )
    assert f"wrote to `{topic}`" in done[0].text
    detail = await (await sb.bot.services.topics()).topic_detail(topic)
    assert detail.summary.messages == 1


async def test_another_workspace_is_refused_over_the_socket_too(sb: SocketBot) -> None:
    url = sb.slack.response_url()
    ack = await sb.slack.send_envelope(
        "slash_commands", slash_command("status", response_url=url, team="T0EVIL"))
    assert "Working on" not in json.dumps(ack)
    refused = sb.bot.services.metrics.value("kafkaops_slack_requests_refused_total",
                                            {"reason": "wrong_workspace"})
    assert refused == 1
    ok = sb.slack.response_url()
    await sb.slack.send_envelope("slash_commands", slash_command("status", response_url=ok))
    await sb.slack.wait_for_response(ok)  # ours is answered, and after it: nothing for theirs
    assert sb.slack.calls_to("response_url", url[len(sb.slack.url) - 1:]) == []


async def test_reconnects_when_slack_drops_the_connection(sb: SocketBot) -> None:
    await sb.slack.drop_connection()
    await sb.slack.wait_connected()  # the handler asked for a new URL and came back
    assert len(sb.slack.calls_to("apps.connections.open")) >= 2
    url = sb.slack.response_url()
    ack = await sb.slack.send_envelope("slash_commands", slash_command("help", response_url=url))
    assert "/kafka status" in json.dumps(ack["payload"])


async def test_refused_app_token_is_a_clear_error(config_data: dict) -> None:
    async with SlackServer(app_token="xapp-the-real-one") as slack:
        cfg = parse_config(bot_config_data(config_data, slack, mode="socket"), "<socket test>")
        async with Services(cfg) as services:
            transport = SocketTransport(build_bot(services))
            with pytest.raises(ConfigError, match=r"slack.app_token was refused .*invalid_auth"):
                await transport.start()
            assert slack._ws is None  # never connected


async def test_refused_bot_token_is_a_clear_error(config_data: dict) -> None:
    async with SlackServer(bot_token="xoxb-the-real-one") as slack:
        cfg = parse_config(bot_config_data(config_data, slack, mode="socket"), "<socket test>")
        async with Services(cfg) as services:
            with pytest.raises(ConfigError, match=r"slack.bot_token was refused .*invalid_auth"):
                await build_bot(services).verify_token()


async def test_a_mention_and_the_home_tab_arrive_over_the_socket(sb: SocketBot) -> None:
    """Events API envelopes: `@kafkaops status` is answered in the mention's thread, and
    opening the Home tab publishes the on-call view read from the clusters."""
    body = json.loads(event_body({
        "type": "app_mention", "user": "U0BOB", "channel": "C0INCIDENT",
        "text": f"<@{BOT_USER_ID}> status", "ts": "1700000070.000100",
        "event_ts": "1700000070.000100"}))
    await sb.slack.send_envelope("events_api", body)
    (answer,) = await sb.slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == "1700000070.000100")
    assert answer.params["channel"] == "C0INCIDENT"
    assert "*primary*" in answer.text and "requested by <@U0BOB>" in answer.text

    body = json.loads(event_body({"type": "app_home_opened", "user": "U0ALICE",
                                  "channel": "D0HOME", "tab": "home",
                                  "event_ts": "1700000080.000100"}))
    await sb.slack.send_envelope("events_api", body)
    (published,) = await sb.slack.wait_for("views.publish", within=60)
    assert published.params["user_id"] == "U0ALICE"
    view = published.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    shown = "\n".join(_texts(view["blocks"]))
    assert view["type"] == "home" and "Consumer groups behind" in shown
    assert "*primary*" in shown and "Recent changes" in shown
