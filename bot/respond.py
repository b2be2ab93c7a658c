"""Where a reply goes: the request's response_url, else the Web API.

Slash commands and button clicks carry a response_url (valid 30 minutes, 5 uses). Replies
go there first: it works in channels the bot was never invited to. When it fails (expired,
used up, network), the reply falls back to chat.postEphemeral / chat.postMessage /
chat.update, so a slow answer still reaches the person.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from kafkaops.bot.render.common import Message

log = logging.getLogger(__name__)


class Responder:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        response_url: str | None,
        channel: str | None,
        user: str,
        message_ts: str | None = None,
        original_ephemeral: bool = True,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.client = client
        #: posts to the response_url go through it when set and open (else slack_sdk opens
        #: a session, and a connection, per post)
        self.session = session
        self.response_url = response_url
        self.channel = channel
        self.user = user
        self.message_ts = message_ts
        self.original_ephemeral = original_ephemeral

    async def reply(self, msg: Message, *, public: bool) -> None:
        """A new message: in the channel when public, else only to the user."""
        body = {**msg.to_slack(), "response_type": "in_channel" if public else "ephemeral"}
        if await self._hook(body):
            return
        if public:
            await self._api("chat_postMessage", channel=self.channel, **msg.to_slack())
        else:
            await self._api("chat_postEphemeral", channel=self.channel, user=self.user,
                            **msg.to_slack())

    async def ephemeral(self, msg: Message) -> None:
        """Only to the user, leaving the message they clicked on as it is."""
        body = {**msg.to_slack(), "response_type": "ephemeral", "replace_original": False}
        if not await self._hook(body):
            await self._api("chat_postEphemeral", channel=self.channel, user=self.user,
                            **msg.to_slack())

    async def replace(self, msg: Message) -> None:
        """Replace the message that held the clicked button (e.g. a confirmation prompt)."""
        body = {**msg.to_slack(), "replace_original": True}
        if await self._hook(body):
            return
        if not self.original_ephemeral and self.message_ts:
            await self._api("chat_update", channel=self.channel, ts=self.message_ts,
                            **msg.to_slack())
        else:  # an ephemeral message can only be replaced through its response_url
            await self._api("chat_postEphemeral", channel=self.channel, user=self.user,
                            **msg.to_slack())

    async def _hook(self, body: dict[str, Any]) -> bool:
        if not self.response_url:
            return False
        try:
            resp = await AsyncWebhookClient(self.response_url,
                                            session=self.session).send_dict(body)
        except Exception as e:  # network: fall back to the Web API
            log.warning("response_url failed (%s); falling back to the Web API", type(e).__name__)
            return False
        if resp.status_code == 200:
            return True
        log.warning("response_url answered %s %r; falling back to the Web API",
                    resp.status_code, (resp.body or "")[:100])
        return False

    async def _api(self, method: str, **kwargs: Any) -> None:
        if not self.channel:
            log.error("cannot deliver a reply to %s: no response_url and no channel", self.user)
            return
        try:
            await getattr(self.client, method)(**kwargs)
        except SlackApiError as e:
            log.error("could not deliver a reply to %s (%s: %s)", self.user, method,
                      e.response.get("error"))
        except Exception as e:
            log.error("could not deliver a reply to %s (%s: %s)", self.user, method, e)
