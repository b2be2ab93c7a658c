"""How Slack reaches the bot: Socket Mode (outbound WebSocket, no public URL) or HTTP.

- `HttpTransport`: an aiohttp server on slack.http.{host,port} serving POST /slack/events
  (slash commands and interactions, each verified by slack-bolt against the signing
  secret: a bad signature or a timestamp older than five minutes gets 401) and GET /healthz.
- `SocketTransport`: slack-bolt's AsyncSocketModeHandler with the app token; it asks the
  Web API (apps.connections.open at slack.api_url) for a WebSocket URL and keeps the
  connection up. With slack.health_port set, /healthz is served there too (503 while the
  WebSocket is down).

Tokens are read from config only when a transport starts and are never logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError

from kafkaops.bot.app import Bot
from kafkaops.core.errors import ConfigError

log = logging.getLogger("kafkaops.bot")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


class Transport(Protocol):
    mode: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start an aiohttp app; returns the runner and the port bound (port 0: any free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    server = site._server  # aiohttp exposes the bound sockets only here
    bound = server.sockets[0].getsockname()[1] if server and server.sockets else port
    return runner, int(bound)


class HttpTransport:
    """Events API over HTTP: POST /slack/events, GET /healthz."""

    mode = "http"

    def __init__(self, bot: Bot, *, host: str | None = None, port: int | None = None) -> None:
        slack = bot.config.slack
        if not slack.signing_secret.is_set:
            slack.signing_secret.reveal()  # names the unset ${VAR}, if that is the cause
            raise ConfigError(
                f"{bot.config.source}: slack.signing_secret is empty; HTTP mode needs the "
                "app's signing secret to verify requests (usually ${SLACK_SIGNING_SECRET})"
            )
        self.bot = bot
        self.host = host if host is not None else slack.http.host
        self.port = port if port is not None else slack.http.port
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        from kafkaops.bot.alerts import METRICS_PATH, metrics_handler

        app = web.Application()
        app.router.add_post(EVENTS_PATH, self._events)
        app.router.add_get(HEALTH_PATH, self._health)
        app.router.add_get(METRICS_PATH, metrics_handler(self.bot.services))
        return app

    async def _events(self, request: web.Request) -> web.Response:
        bolt_req = await to_bolt_request(request)
        bolt_resp = await self.bot.app.async_dispatch(bolt_req)
        return await to_aiohttp_response(bolt_resp)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(_health_body(self.bot, self.mode, connected=True))

    async def start(self) -> None:
        self._runner, self.port = await _serve(self.web_app(), self.host, self.port)
        log.info("kafkaops bot listening on http://%s:%d%s", self.host, self.port, EVENTS_PATH)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"


class SocketTransport:
    """Socket Mode through slack-bolt's AsyncSocketModeHandler, plus an optional /healthz."""

    mode = "socket"

    def __init__(
        self, bot: Bot, *, health_host: str | None = None, health_port: int | None = None
    ) -> None:
        slack = bot.config.slack
        token = slack.app_token.reveal()
        if not token:
            raise ConfigError(
                f"{bot.config.source}: slack.app_token is empty; Socket Mode needs the "
                "app-level token (xapp-..., usually ${SLACK_APP_TOKEN})"
            )
        self.bot = bot
        self._app_token = token
        self.health_host = health_host if health_host is not None else slack.http.host
        self.health_port = health_port if health_port is not None else slack.health_port
        self.handler: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        # the handler's client binds to the running loop, so it is built here, not earlier
        self.handler = AsyncSocketModeHandler(
            self.bot.app, self._app_token, web_client=self.bot.client, ping_interval=10
        )
        if self.health_port is not None:
            from kafkaops.bot.alerts import METRICS_PATH, metrics_handler

            app = web.Application()
            app.router.add_get(HEALTH_PATH, self._health)
            app.router.add_get(METRICS_PATH, metrics_handler(self.bot.services))
            self._runner, self.health_port = await _serve(app, self.health_host, self.health_port)
        # Ask for the WebSocket URL ourselves first: the handler retries a refused token
        # forever, and a person starting the bot wants to hear that it is wrong at once.
        try:
            opened = await self.bot.client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as e:
            await self.stop()
            raise ConfigError(
                f"slack.app_token was refused by {self.bot.client.base_url} "
                f"({e.response.get('error')}); Socket Mode needs an app-level token "
                "(xapp-...) with the connections:write scope"
            ) from None
        self.handler.client.wss_uri = opened["url"]
        await self.handler.connect_async()
        log.info("kafkaops bot connected to Slack in Socket Mode")

    async def connected(self) -> bool:
        return self.handler is not None and await self.handler.client.is_connected()

    async def _health(self, request: web.Request) -> web.Response:
        up = await self.connected()
        return web.json_response(
            _health_body(self.bot, self.mode, connected=up), status=200 if up else 503
        )

    async def stop(self) -> None:
        if self.handler is not None:
            await self.handler.close_async()
            self.handler = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _health_body(bot: Bot, mode: str, *, connected: bool) -> dict[str, Any]:
    return {
        "status": "ok" if connected else "disconnected",
        "mode": mode,
        "command": bot.command_name,
        "uptime_s": round(time.time() - bot.started_at, 1),
    }


def transport_for(bot: Bot, mode: str | None = None) -> HttpTransport | SocketTransport:
    """The transport config's slack.mode (or `mode`) asks for."""
    mode = mode or bot.config.slack.mode
    if mode == "http":
        return HttpTransport(bot)
    if mode == "socket":
        return SocketTransport(bot)
    raise ConfigError(f"slack.mode: expected socket or http, got {mode!r}")
