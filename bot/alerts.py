"""Alerts in the bot: the Slack notifier, and the alerting parts `kafkaops bot` runs.

`BotAlerts(services, client)` starts, sharing one AlertLog (core/alerts/log.py):
- the evaluator (core/alerts/runner.py): metric rules every alerts.interval, events to
  `_kafkaops.alerts`; it also feeds the lag /metrics shows;
- one EventWatcher per event rule (core/alerts/events.py);
- the AlertDispatcher: this replica's share of the notifier consumer group, delivering
  through `SlackNotifier`.

With several bot replicas every part runs in each; the consumer groups make each record
handled by one replica, and the `delivered` records make each Slack message posted once.

`SlackNotifier` posts and updates messages. On 429 it reports Slack's Retry-After and the
dispatcher holds every delivery that long; on a network error or a Slack-side failure it
reports a retriable error (the dispatcher backs off); a refusal (channel not found, bot not
in the channel) is retried rarely and logged. An alert is committed only once Slack has
accepted its message. Every failed call is counted in /metrics
(kafkaops_slack_api_errors_total{method, error}).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from kafkaops.bot.render.alerts import render_action, render_thread
from kafkaops.core.alerts.book import Action
from kafkaops.core.alerts.config import compile_rules
from kafkaops.core.alerts.events import EventWatcher
from kafkaops.core.alerts.log import HEARTBEAT_MS, SESSION_TIMEOUT_MS, AlertLog
from kafkaops.core.alerts.notify import AlertDispatcher, Delivery, DeliveryError
from kafkaops.core.alerts.runner import AlertEvaluator
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.metrics import CONTENT_TYPE
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from kafkaops.core.metrics import MetricsRegistry
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.bot.alerts")

METRICS_PATH = "/metrics"
#: Slack errors that pass by themselves: try again soon
RETRIABLE_ERRORS = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org",
})
#: chat.update errors after which a new message is posted instead (the old one is gone)
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
#: the smallest gap between two messages to one channel (Slack allows about one a second)
CHANNEL_SPACING = 1.0


class SlackNotifier:
    """Delivers alert actions with chat.postMessage / chat.update (core's Notifier): the
    alert's own message, and what happens to it as replies in its thread (a re-fire or a
    markedly worse value also to the channel: `reply_broadcast`)."""

    def __init__(self, client: AsyncWebClient, *, metrics: MetricsRegistry | None = None,
                 spacing: float = CHANNEL_SPACING, command: str = "/kafka") -> None:
        self.client = client
        self.metrics = metrics
        self.spacing = spacing
        self.command = command
        self._last: dict[str, float] = {}

    async def deliver(self, action: Action) -> Delivery:
        body = render_action(action, command=self.command)
        msg = action.message
        if action.kind in ("refire", "change", "resolve") and msg is not None:
            try:
                resp = await self._call("chat.update", channel=msg.channel, ts=msg.ts, **body)
            except _Gone:
                log.info("alert %s: its message %s is gone; posting a new one",
                         action.alert_id, msg.ts)
            else:
                delivery = Delivery(str(resp.get("channel") or msg.channel),
                                    str(resp.get("ts") or msg.ts))
                # the thread reply last: the update is idempotent, so a retry after a
                # failed reply updates again and replies once
                reply = render_thread(action)
                if reply is not None:
                    await self._call("chat.postMessage", channel=delivery.channel,
                                     thread_ts=delivery.ts, **reply)
                return delivery
        resp = await self._call("chat.postMessage", channel=action.event.channel, **body)
        return Delivery(str(resp.get("channel") or action.event.channel), str(resp["ts"]))

    async def _call(self, method: str, **kwargs: Any) -> Any:
        channel = str(kwargs.get("channel", ""))
        wait = self._last.get(channel, 0.0) + self.spacing - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last[channel] = time.monotonic()
        fn = getattr(self.client, method.replace(".", "_"))  # chat_postMessage, chat_update
        try:
            return await fn(**kwargs)
        except SlackApiError as e:
            resp = e.response
            error = str(resp.get("error") or f"HTTP {resp.status_code}")
            self._count(method, error)
            if resp.status_code == 429 or error == "ratelimited":
                retry_after = _retry_after(resp.headers)
                raise DeliveryError(f"Slack rate-limited {method} (Retry-After "
                                    f"{retry_after:g} s)", retry_after=retry_after) from None
            if method == "chat.update" and error in GONE_ERRORS:
                raise _Gone(error) from None
            if error in RETRIABLE_ERRORS or resp.status_code >= 500:
                raise DeliveryError(f"Slack failed {method} to {channel}: {error}") from None
            raise DeliveryError(
                f"Slack refused {method} to {channel}: {error} (check the rule's channel, and "
                "that the bot is invited to it: /invite @kafkaops)", retriable=False) from None
        except (TimeoutError, OSError, aiohttp.ClientError) as e:
            self._count(method, "network")
            raise DeliveryError(f"cannot reach Slack for {method}: {e or type(e).__name__}"
                                ) from None

    def _count(self, method: str, error: str) -> None:
        if self.metrics is not None:
            self.metrics.inc("kafkaops_slack_api_errors_total",
                             {"method": method, "error": error})


class _Gone(Exception):
    """chat.update found no message to update."""


def _retry_after(headers: Any) -> float:
    value = None
    for k, v in dict(headers or {}).items():
        if str(k).lower() == "retry-after":
            value = v[0] if isinstance(v, list) else v
    try:
        return max(1.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


class BotAlerts:
    """Everything alerting in one bot replica: evaluator, event watchers, notifier."""

    def __init__(self, services: Services, client: AsyncWebClient, *,
                 clock: Callable[[], float] = time.time,
                 session_timeout_ms: int = SESSION_TIMEOUT_MS,
                 heartbeat_ms: int = HEARTBEAT_MS, spacing: float = CHANNEL_SPACING) -> None:
        self.services = services
        self.rules = compile_rules(services.config)
        self.log = AlertLog(services)
        metrics = services.metrics
        self.notifier = SlackNotifier(client, metrics=metrics, spacing=spacing,
                                      command=services.config.slack.command)
        self.evaluator = AlertEvaluator(services, log_=self.log, rules=self.rules, clock=clock,
                                        metrics=metrics)
        self.watchers = [
            EventWatcher(services, r, log_=self.log, clock=clock, metrics=metrics,
                         session_timeout_ms=session_timeout_ms, heartbeat_ms=heartbeat_ms)
            for r in self.rules.event
        ]
        self.dispatcher = AlertDispatcher(
            services, self.notifier, log_=self.log, clock=clock, metrics=metrics,
            session_timeout_ms=session_timeout_ms, heartbeat_ms=heartbeat_ms)
        self._background: asyncio.Task[None] | None = None
        self.started = asyncio.Event()

    @property
    def has_rules(self) -> bool:
        """Without rules nothing is posted: only the evaluator runs, feeding /metrics, and
        nothing is written to Kafka."""
        return bool(self.rules.metric or self.rules.event)

    async def start(self) -> None:
        """Start every part now; raises (a KafkaOpsError) when the alerts cluster does not
        answer. `start_in_background` keeps trying instead."""
        try:
            if self.has_rules:
                await self.dispatcher.start()
            for w in self.watchers:
                await w.start()
            await self.evaluator.start()
        except BaseException:
            await self.stop()
            raise
        self.started.set()

    async def wait_ready(self, within: float = 60.0) -> None:
        """Until the notifier and every event rule joined their groups (for tests and for
        the bot's startup message)."""
        async with asyncio.timeout(within):
            if self.has_rules:
                await self.dispatcher.ready.wait()
            for w in self.watchers:
                await w.ready.wait()

    def start_in_background(self, retry: float = 10.0) -> None:
        """Start, retrying every `retry` seconds while the alerts cluster is down: the bot
        answers slash commands meanwhile."""

        async def keep_trying() -> None:
            while True:
                try:
                    await self.start()
                    log.info("alerts: %d metric and %d event rule(s) running; alerts go "
                             "through %s on cluster %s", len(self.rules.metric),
                             len(self.rules.event), self.log.topic, self.log.cluster)
                    return
                except asyncio.CancelledError:
                    raise
                except KafkaOpsError as e:
                    if not e.retriable:  # config or a guardrail: waiting will not fix it
                        log.error("alerts: not running: %s", e)
                        return
                    log.error("alerts: cannot start (%s); retrying in %.0f s", e, retry)
                    await asyncio.sleep(retry)
                except Exception as e:
                    log.error("alerts: cannot start (%s); retrying in %.0f s", e, retry)
                    await asyncio.sleep(retry)

        self._background = asyncio.create_task(keep_trying(), name="alerts-start")

    async def stop(self) -> None:
        task, self._background = self._background, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            await self.evaluator.stop()
            for w in self.watchers:
                await w.stop()
            await self.dispatcher.stop()
            await self.log.stop()


def metrics_handler(services: Services, *, token: str | None = None
                    ) -> Callable[[web.Request], Any]:
    """GET /metrics: Prometheus text from Services.metrics (no Kafka request per scrape).
    With `token`, a scrape must send `Authorization: Bearer <token>` (else 401)."""
    expected = f"Bearer {token}".encode() if token else None

    async def handle(request: web.Request) -> web.Response:
        if expected is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                log.warning("refused a /metrics scrape from %s: %s", request.remote or "?",
                            "wrong bearer token" if given else "no bearer token")
                return web.Response(status=401, text="bearer token required",
                                    headers={"WWW-Authenticate": "Bearer"})
        # rendered off the loop: 0.8 s for 500 groups x 100 partitions, and the bot has
        # 3 s to acknowledge Slack
        body = await asyncio.to_thread(services.metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return handle
