"""Bot replicas running alerting for real: each with its own Services (its own Kafka
clients, evaluator, event watchers and notifier group member), all posting to one local
Slack (tests/slack_server.py) from the embedded broker."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from kafkaops.bot.alerts import BotAlerts
from kafkaops.core.config import Config, parse_config
from kafkaops.core.services import Services
from tests.bot_harness import bot_config_data
from tests.conftest import unique
from tests.slack_server import BOT_TOKEN, Call, SlackServer, _texts

#: short consumer-group timings: Tansu completes a join after half the session timeout
SESSION_MS = 2000
HEARTBEAT_MS = 300


def alerts_config(base: dict[str, Any], slack: SlackServer, rules: list[dict[str, Any]],
                  **alerts: Any) -> Config:
    """The session's clusters, the local Slack, and alerting with a fresh topic and group
    prefix, evaluated every half second (tests wait on conditions, not on the clock)."""
    data = bot_config_data(base, slack)
    data["alerts"] = {
        "interval": "500ms", "min_firing": "0s", "event_window": "500ms",
        "topic": unique("_alerts"), "group": unique("kafkaops-alerts"),
        "rules": copy.deepcopy(rules), **alerts,
    }
    return parse_config(data, "<alerts test>")


@dataclass
class Replica:
    services: Services
    alerts: BotAlerts

    @property
    def evaluations(self) -> int:
        v = self.services.metrics.value("kafkaops_alert_evaluations_total")
        return int(v or 0)


@asynccontextmanager
async def replicas(config: Config, slack: SlackServer, n: int = 1, *,
                   ready: bool = True) -> AsyncIterator[list[Replica]]:
    """`n` bot replicas with alerting started (and, with `ready`, every consumer group
    joined), stopped on exit."""
    async with AsyncExitStack() as stack:
        out: list[Replica] = []
        for _ in range(n):
            services = await stack.enter_async_context(Services(config))
            client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
            ba = BotAlerts(services, client, session_timeout_ms=SESSION_MS,
                           heartbeat_ms=HEARTBEAT_MS, spacing=0.0)
            await ba.start()
            stack.push_async_callback(ba.stop)
            out.append(Replica(services, ba))
        if ready:
            await asyncio.gather(*(r.alerts.wait_ready(60) for r in out))
            await settled(out)
        yield out


async def settled(reps: list[Replica], within: float = 60.0) -> None:
    """Until the notifier group is stable: every partition of the alerts topic owned by
    exactly one replica, and each replica caught up on what it owns."""
    deadline = time.monotonic() + within
    while True:
        owned = [p for r in reps for p in r.alerts.dispatcher.stats.partitions]
        total = len(await reps[0].alerts.log.partitions())
        if sorted(owned) == list(range(total)) and all(
                r.alerts.dispatcher.ready.is_set() for r in reps):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"notifier group not settled: owned {owned} of {total}")
        await asyncio.sleep(0.1)


async def wait_until(cond: Callable[[], bool], within: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {within:g} s for {what or cond}")
        await asyncio.sleep(0.05)


async def more_evaluations(reps: list[Replica], n: int = 3, within: float = 30.0) -> None:
    """Until every replica evaluated `n` more times: whatever they would publish, they have."""
    targets = [r.evaluations + n for r in reps]
    await wait_until(lambda: all(r.evaluations >= t for r, t in zip(reps, targets, strict=True)),
                     within, f"{n} more evaluations")


async def quiet(reps: list[Replica], within: float = 30.0) -> None:
    """Until nothing is on its way to Slack: no event rule holds an open group, no notice
    waits to be published, and no notifier has work left in what it owns."""
    def idle() -> bool:
        for r in reps:
            if any(w.grouper.open for w in r.alerts.watchers):
                return False
            d = r.alerts.dispatcher
            for part in d._parts.values():
                if not part.live or part.book.pending(time.time(), renotify=d.renotify,
                                                      horizon=part.is_new):
                    return False
        return True

    await wait_until(idle, within, "alerting to go quiet")
    await more_evaluations(reps, 2, within)  # and one more round of everything after that
    await wait_until(idle, within, "alerting to stay quiet")


def all_text(call: Call) -> str:
    """Every text a person sees in a message: text, blocks, and blocks inside attachments."""
    return "\n".join(_texts(call.params))


def posts(slack: SlackServer, channel: str) -> list[Call]:
    """New messages in a channel (not replies in a thread)."""
    return [c for c in slack.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and not c.params.get("thread_ts")]


def thread_replies(slack: SlackServer, channel: str, ts: str | None = None) -> list[Call]:
    """Replies in the threads of a channel (of the message `ts`, when given)."""
    return [c for c in slack.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and c.params.get("thread_ts")
            and (ts is None or c.params["thread_ts"] == ts)]


def updates(slack: SlackServer, channel: str | None = None) -> list[Call]:
    return [c for c in slack.calls_to("chat.update")
            if channel is None or c.params.get("channel") == channel]


class BotRep:
    """A bot's own alerting as a replica (for more_evaluations() and quiet())."""

    def __init__(self, alerts: BotAlerts) -> None:
        self.alerts = alerts
        self.services = alerts.services

    @property
    def evaluations(self) -> int:
        return int(self.alerts.services.metrics.value("kafkaops_alert_evaluations_total") or 0)


@asynccontextmanager
async def bot_with_alerts(config_data: dict[str, Any], rules: list[dict[str, Any]], *,
                          teams: dict[str, Any] | None = None, **alerts: Any,
                          ) -> AsyncIterator[tuple[Any, BotAlerts]]:
    """The bot on its HTTP listener (tests/bot_harness.py) with its alerting running:
    (RunningBot, BotAlerts)."""
    from tests.bot_harness import running_bot

    data = {**config_data, "alerts": {
        "interval": "500ms", "min_firing": "0s", "topic": unique("_alerts"),
        "group": unique("kafkaops-alerts"), "rules": rules, **alerts}}
    if teams is not None:
        data["teams"] = teams
    async with running_bot(data) as rb:
        ba = BotAlerts(rb.bot.services, rb.bot.client, session_timeout_ms=SESSION_MS,
                       heartbeat_ms=HEARTBEAT_MS, spacing=0.0)
        await ba.start()
        try:
            await ba.wait_ready(60)
            yield rb, ba
        finally:
            await ba.stop()
