"""The bot running for real against the local Slack (tests/slack_server.py) and the
embedded broker: config, services, the bolt app, and its HTTP transport on a free port."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from kafkaops.bot.app import Bot, build_bot
from kafkaops.bot.render.common import PAGE_ACTION
from kafkaops.bot.router import MAX_PAGE
from kafkaops.bot.transports import EVENTS_PATH, HttpTransport
from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from tests.slack_server import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    Call,
    SlackServer,
    button_click,
    event_body,
    form_body,
    interaction_body,
    post_signed,
    slash_command,
)

#: roles the bot tests use: alice by user ID, carol through the on-call user group
ROLES = {
    "oncall": {"users": ["U0ALICE"], "usergroups": ["S0ONCALL"]},
    "sre": {"users": ["U0SRE"]},
}
USERGROUPS = {"S0ONCALL": ["U0CAROL", "U0DAVE"], "S0OTHER": ["U0MALLORY"]}


def bot_config_data(
    base: dict[str, Any],
    slack: SlackServer,
    *,
    mode: str = "http",
    permissions: dict[str, list[str]] | None = None,
    roles: dict[str, Any] | None = None,
    slack_keys: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["slack"] = {
        "mode": mode,
        "bot_token": BOT_TOKEN,
        "app_token": APP_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_url": slack.api_url,
        "http": {"host": "127.0.0.1", "port": 0},
        "command": "/kafka",
        **(slack_keys or {}),
    }
    data["roles"] = copy.deepcopy(roles if roles is not None else ROLES)
    data["permissions"] = copy.deepcopy(
        permissions
        if permissions is not None
        else {
            "flag.write": ["oncall"],
            "dlq.replay": ["oncall"],
            "offsets.reset": ["oncall"],
            "demo.write": ["oncall"],
            "alerts.snooze": ["oncall"],
        }
    )
    return data


@dataclass
class RunningBot:
    bot: Bot
    transport: HttpTransport
    slack: SlackServer
    session: aiohttp.ClientSession

    @property
    def events_url(self) -> str:
        return self.transport.url + EVENTS_PATH

    async def command(
        self, text: str, *, user: str = "U0ALICE", channel: str = "C0INCIDENT"
    ) -> tuple[int, str, str]:
        """Send a signed `/kafka TEXT`; (HTTP status, ack body, the response_url used)."""
        url = self.slack.response_url()
        body = form_body(slash_command(text, response_url=url, user=user, channel=channel))
        status, ack = await post_signed(self.session, self.events_url, body)
        return status, ack, url

    async def click(self, payload: dict[str, Any]) -> tuple[int, str]:
        return await post_signed(self.session, self.events_url, interaction_body(payload))

    async def event(self, event: dict[str, Any]) -> tuple[int, str]:
        """Send a signed Events API request (JSON) carrying `event`."""
        return await post_signed(self.session, self.events_url, event_body(event),
                                 headers={"Content-Type": "application/json"})

    async def reply(self, response_url: str, count: int = 1):  # noqa: ANN201 - list[Call]
        """The message(s) the bot posted to a response_url, waiting for them."""
        calls = await self.slack.wait_for_response(response_url, count=count)
        return calls[-1] if count == 1 else calls

    async def pages(self, text: str, *, user: str = "U0ALICE") -> AsyncIterator[Call]:
        """Every page of a listing, as its reader sees them: `/kafka TEXT`, then a click on
        its Next button while it has one. The shared broker holds what other tests left, so a
        test's own object need not be on the first page."""
        _, _, url = await self.command(text, user=user)
        page = await self.reply(url)
        for _ in range(MAX_PAGE):
            yield page
            nxt = page.action_values.get(f"{PAGE_ACTION}.next")
            if nxt is None:
                return
            url = self.slack.response_url()
            status, _ = await self.click(button_click(f"{PAGE_ACTION}.next", nxt,
                                                      response_url=url, user=user))
            assert status == 200
            page = await self.reply(url)

    async def page_with(self, text: str, row: str, *, user: str = "U0ALICE") -> Call:
        """The page of the listing `/kafka TEXT` (paged through with Next) whose rows hold
        `row`; fails when no page does."""
        seen = []
        async for page in self.pages(text, user=user):
            if any(row in b["text"]["text"] for b in page.blocks
                   if b.get("type") == "section" and "text" in b):
                return page
            seen.append(page.text)
        raise AssertionError(f"no row with {row!r} on any of the {len(seen)} pages of "
                             f"`{text}`:\n" + "\n---\n".join(seen))


@asynccontextmanager
async def running_bot(
    config_data: dict[str, Any],
    *,
    usergroups: dict[str, list[str]] | None = None,
    permissions: dict[str, list[str]] | None = None,
    clock: Callable[[], float] | None = None,
    setup: Callable[[Bot], None] | None = None,
    slack_keys: dict[str, Any] | None = None,
    source: str = "<bot test>",
    confirm_ttl: float | None = None,
) -> AsyncIterator[RunningBot]:
    """The bot on a free port; `slack_keys` are added to config `slack:`, `source` is the
    config's file name as messages would show it."""
    groups = usergroups if usergroups is not None else USERGROUPS
    async with SlackServer(usergroups=groups) as slack:
        data = bot_config_data(config_data, slack, permissions=permissions,
                               slack_keys=slack_keys)
        cfg = parse_config(data, source)
        async with Services(cfg) as services:
            kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
            if confirm_ttl is not None:
                kwargs["confirm_ttl"] = confirm_ttl
            bot = build_bot(services, **kwargs)
            if setup is not None:
                setup(bot)
            transport = HttpTransport(bot)  # slack_keys {"health_port": 0}: any free port
            await transport.start()
            try:
                async with aiohttp.ClientSession() as session:
                    yield RunningBot(bot, transport, slack, session)
            finally:
                await transport.stop()
            # every message the bot sent reads on a phone: no code line wider than that
            assert slack.wide_code == [], f"code wider than a phone shows: {slack.wide_code}"
