"""How Slack reaches the bot: Socket Mode (outbound WebSocket, no public URL) or HTTP.

- `HttpTransport`: an aiohttp server on slack.http.{host,port} serving POST /slack/events
  (slash commands and interactions). Each request passes bot/guard.py's checks (timestamp,
  signature, body, workspace, replay) before slack-bolt reads it. A slash command that
  passed them all and whose ack is the fixed "Working on …" is answered at once, before
  slack-bolt's dispatch (most of an ack's CPU); bolt then runs it after the acks under way,
  its own answer dropped, and starts the command's work as for any command (the claim on
  the replay ledger included). GET /healthz and
  /metrics are served there too, unless slack.health_port is set: then they are served on
  that port only, and the public port serves nothing but /slack/events.
- `SocketTransport`: slack-bolt's AsyncSocketModeHandler with the app token; it asks the
  Web API (apps.connections.open at slack.api_url) for a WebSocket URL and keeps the
  connection up. With slack.health_port set, /healthz (503 while the WebSocket is down)
  and /metrics are served there.

/metrics asks for `Authorization: Bearer <slack.metrics_token>` when that is set.

GET /readyz, served beside /healthz, is readiness: 200 while at least one configured
cluster answers (status ready, or degraded with the clusters that do not), 503 when none
does, each cluster with when it last answered (core/kafka/readiness.py). /healthz stays liveness.

Tokens are read from config only when a transport starts and are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from kafkaops.bot.app import ACKED_EARLY, Bot
from kafkaops.bot.guard import Refusal, RequestGuard
from kafkaops.core.errors import ConfigError
from kafkaops.core.kafka.readiness import Readiness

log = logging.getLogger("kafkaops.bot")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
JSON = "application/json"  # what slack-bolt's aiohttp adapter answers an ack with


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


def _admin_routes(app: web.Application, bot: Bot, health: Any,
                  readiness: Readiness | None = None) -> None:
    """GET /healthz, GET /readyz and GET /metrics (behind the bearer token, when one is
    set)."""
    from kafkaops.bot.alerts import METRICS_PATH, metrics_handler

    token = bot.config.slack.metrics_token
    app.router.add_get(HEALTH_PATH, health)
    if readiness is not None:
        app.router.add_get(READY_PATH, _ready_handler(readiness))
    app.router.add_get(METRICS_PATH, metrics_handler(
        bot.services, token=token.reveal() if token.is_set else None))


class HttpTransport:
    """Events API over HTTP: POST /slack/events; GET /healthz and /metrics there, or on
    slack.health_port when set."""

    mode = "http"

    def __init__(self, bot: Bot, *, host: str | None = None, port: int | None = None,
                 health_port: int | None = None) -> None:
        slack = bot.config.slack
        if not slack.signing_secret.is_set:
            slack.signing_secret.reveal()  # names the unset ${VAR}, if that is the cause
            raise ConfigError(
                f"{bot.config.source}: slack.signing_secret is empty; HTTP mode needs the "
                "app's signing secret to verify requests (usually ${SLACK_SIGNING_SECRET})"
            )
        self.bot = bot
        #: answers GET /readyz: can the bot reach its clusters
        self.readiness = Readiness(bot.services)
        self.host = host if host is not None else slack.http.host
        self.port = port if port is not None else slack.http.port
        #: where /healthz and /metrics are served; None: on the public port
        self.health_port = health_port if health_port is not None else slack.health_port
        self.guard = RequestGuard(slack.signing_secret.reveal(), bot.workspace, bot.refused)
        self._runners: list[web.AppRunner] = []
        self._ack_bodies: dict[str, bytes] = {}  # command text -> its early ack's body

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(EVENTS_PATH, self._events)
        if self.health_port is None:
            _admin_routes(app, self.bot, self._health, self.readiness)
        return app

    def admin_app(self) -> web.Application:
        app = web.Application()
        _admin_routes(app, self.bot, self._health, self.readiness)
        return app

    async def _events(self, request: web.Request) -> web.Response:
        # counted as an ack under way: work spawned meanwhile waits for it
        with self.bot.acking():
            remote = request.remote or ""
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                self.bot.refused(Refusal("malformed", "body too large"), remote)
                return web.Response(status=413, text="request too large")
            refusal, text, data = await self.guard.inspect(request.headers, body,
                                                           remote=remote)
            if refusal is not None:
                return web.Response(status=refusal.status, text=refusal.text)
            early = self._early_ack(data, request.headers.get("Content-Type", ""))
            if early is None:
                bolt_req = AsyncBoltRequest(body=text, query=request.query_string,
                                            headers=dict(request.headers))
                return await to_aiohttp_response(await self.bot.app.async_dispatch(bolt_req))
            # Answered before slack-bolt's dispatch, which is most of an ack's CPU
            # (docs/benchmarks.md), for a request every check above has passed: bolt then
            # runs it after the acks under way, its own ack dropped (Slack has its answer)
            # and the command's work started from there as for any command. Even bolt's
            # request (which parses the body again) is built then, not before the ack.
            # The ack goes before the claim on the shared replay ledger (_kafkaops.requests,
            # Bot.first_time), and that is safe: the ack itself changes nothing, and the
            # command's work starts only once that claim has won (Bot.once), so a replay
            # sent to another replica may be told "Working on …" there but runs nothing
            # (the claim is a compare-and-set in the log: one replica wins). A replay sent
            # here was refused above, before any answer. Awaiting a Kafka produce and a
            # read back before every ack would put the broker's latency into each one.
            self.bot.spawn(self._dispatch_acked(text, request.query_string, request.headers),
                           f"{self.bot.command_name} command")
            body = await self._ack_body(str((data or {}).get("text", "")), early)
            return web.Response(body=body, content_type=JSON)

    def _early_ack(self, data: dict[str, Any] | None, content_type: str
                   ) -> dict[str, Any] | None:
        """The "Working on …" ack of a checked slash command (form fields, as Slack sends
        them, naming our command), when that is what bolt would answer; else None."""
        if (data is None or not content_type.startswith("application/x-www-form-urlencoded")
                or "payload" in data or "ssl_check" in data or "type" in data):
            return None
        return self.bot.working_ack(data)

    async def _ack_body(self, key: str, ack: dict[str, Any]) -> bytes:
        """The body bolt's ack(**ack) answers, encoded once per command text `key` (the
        "Working on …" ack is made of it alone: `Bot._working`)."""
        body = self._ack_bodies.get(key)
        if body is None:
            body = (await AsyncAck()(**ack)).body.encode()
            if len(self._ack_bodies) >= 512:
                self._ack_bodies.clear()
            self._ack_bodies[key] = body
        return body

    async def _dispatch_acked(self, text: str, query: str, headers: Mapping[str, str]
                              ) -> None:
        """Bolt's dispatch of a request already answered; what bolt answers is dropped."""
        bolt_req = AsyncBoltRequest(body=text, query=query, headers=dict(headers))
        bolt_req.context[ACKED_EARLY] = True
        resp = await self.bot.app.async_dispatch(bolt_req)
        if resp.status != 200:
            log.warning("a slash command acknowledged early was answered %d by slack-bolt: %s",
                        resp.status, resp.body[:200])

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(_health_body(self.bot, self.mode, connected=True))

    async def start(self) -> None:
        runner, self.port = await _serve(self.web_app(), self.host, self.port)
        self._runners.append(runner)
        if self.health_port is not None:
            try:
                runner, self.health_port = await _serve(self.admin_app(), self.host,
                                                        self.health_port)
            except ConfigError:
                await self.stop()
                raise
            self._runners.append(runner)
        log.info("kafkaops bot listening on http://%s:%d%s", self.host, self.port, EVENTS_PATH)

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for r in runners:
            await r.cleanup()
        await self.bot.drain()

    @property
    def url(self) -> str:
        return f"http://{_local(self.host)}:{self.port}"

    @property
    def health_url(self) -> str:
        """Where /healthz and /metrics are served."""
        if self.health_port is None:
            return self.url
        return f"http://{_local(self.host)}:{self.health_port}"


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


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
        #: answers GET /readyz: can the bot reach its clusters
        self.readiness = Readiness(bot.services)
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
            app = web.Application()
            _admin_routes(app, self.bot, self._health, self.readiness)
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
        await self.bot.drain()


def _ready_handler(readiness: Readiness) -> Any:
    async def ready(request: web.Request) -> web.Response:
        report = await readiness.check()
        return web.json_response(report.as_json(), status=200 if report.ready else 503)

    return ready


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
