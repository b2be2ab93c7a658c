"""Alerts in the console, driven with Pilot against the embedded broker: the header's count
of firing alerts, the alerts screen (`!`) and Enter on a group alert; what the header says
with no rules, and with an alerts cluster that does not answer. Alerts are published the
way the bot does it, by a real evaluator (its own Services) on a group made to fall behind
with a real consumer's commit; the console only reads the alerts topic.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from kafkaops.console.alerts import AlertsScreen, alert_rows, for_text, target_text
from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.base import FiringAlerts, alerts_badge, firing_alerts
from kafkaops.console.lag import GroupLagScreen
from kafkaops.core.alerts.book import AlertBook
from kafkaops.core.alerts.model import AlertEvent, Subject
from kafkaops.core.alerts.runner import AlertEvaluator, Evaluation
from kafkaops.core.config import Config, parse_config
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .conftest import produce, unique
from .offsets_support import commit_as_consumer, stopped_group
from .test_console_shell import SIZE, rows, screen_text, wait_until

RECORDS = 10
COMMITTED = 2  # the group's committed offset: lag RECORDS - COMMITTED = 8 > 5


def header(app: KafkaOpsApp) -> str:
    return screen_text(app).splitlines()[0]


def alerts_config(config_data: dict[str, Any], rules: list[dict[str, Any]],
                  **alerts: Any) -> Config:
    """The session's clusters with alerting on a fresh topic, evaluated every half second."""
    return parse_config({**config_data, "alerts": {
        "interval": "500ms", "min_firing": "0s", "topic": unique("_alerts"),
        "group": unique("kafkaops-alerts"), "rules": rules, **alerts,
    }}, "<console alerts test>")


def behind_rule(name: str, group: str) -> dict[str, Any]:
    return {"name": name, "match": {"cluster": "primary", "group": group}, "when": "lag > 5",
            "for": "0s", "severity": "critical", "channel": "C0ORDERS"}


@contextlib.asynccontextmanager
async def console(config: Config) -> AsyncIterator[tuple[KafkaOpsApp, Pilot[Any]]]:
    async with Services(config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            yield app, pilot


@contextlib.asynccontextmanager
async def evaluator(bot: Services) -> AsyncIterator[Callable[[], Awaitable[Evaluation]]]:
    """The bot's alert evaluator (one, as a bot replica keeps it), evaluated on demand."""
    ev = AlertEvaluator(bot)
    try:
        yield ev.evaluate
    finally:
        await ev.log.stop()


async def behind_group(services: Services, bootstrap: str) -> tuple[str, str]:
    """A topic of RECORDS records and a group without members committed at COMMITTED."""
    topic = unique("alerted")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    await produce(bootstrap, topic, [f"r{i}".encode() for i in range(RECORDS)], partition=0)
    return topic, await stopped_group(bootstrap, topic, {0: COMMITTED})


# ---------------------------------------------------------------- with the broker


async def test_firing_alert_shows_in_the_header_and_on_the_alerts_screen(
    config_data: dict[str, Any], services: Services, bootstrap: str
) -> None:
    topic, group = await behind_group(services, bootstrap)
    rule = unique("behind")
    cfg = alerts_config(config_data, [behind_rule(rule, group)])
    async with Services(cfg) as bot, evaluator(bot) as evaluate, console(cfg) as (app, pilot):
        # nothing published yet: the alerts topic does not even exist, and that is 0 firing
        await wait_until(pilot, lambda: "0 firing" in header(app), "0 firing in the header")
        # the alerts count and the topic list load independently: wait for the list too
        await wait_until(pilot, lambda: "● connected" in header(app), "connected")

        evaluation = await evaluate()  # what the bot does every interval
        assert evaluation.published and [e.type for e in evaluation.events] == ["firing"]
        await wait_until(pilot, lambda: "▲ 1 firing" in header(app), "1 firing in the header")
        assert app.screen.query_one("#header-alerts").has_class("-critical")

        await pilot.press("!")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen)
                         and rows(app, "alerts-table"), "the alert on the alerts screen")
        (row,) = rows(app, "alerts-table")
        assert row[0] == "▲ FIRING" and row[1:4] == ["critical", rule, f"group {group}"]
        assert re.fullmatch(r"\d\d:\d\d:\d\d", row[4]), row  # since: when it fired, today
        assert row[6:10] == ["lag 8", "lag > 5", "C0ORDERS", "not posted yet"]
        text = screen_text(app)
        assert "1 firing (critical 1)" in text and "Alerts" in text.splitlines()[0]

        # Enter: the group's live lag
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupLagScreen)
                         and rows(app, "group-partitions"), "the group's partitions")
        assert app.screen.title == f"Group {group}"
        assert rows(app, "group-partitions")[0][:5] == [topic, "0", "2", "10", "8"]
        assert "▲ 1 firing" in header(app)  # the header is the same on every screen

        # the group catches up: the evaluator resolves the alert, the screen says so
        await commit_as_consumer(bootstrap, group, topic, {0: RECORDS})
        evaluation = await evaluate()
        assert [e.type for e in evaluation.events] == ["resolved"]
        await pilot.press("escape", "r")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen)
                         and rows(app, "alerts-table")[0][0] == "✓ resolved", "resolved")
        (row,) = rows(app, "alerts-table")
        assert row[1:4] == ["critical", rule, f"group {group}"]
        assert re.fullmatch(r"\S+, resolved \S+ ago", row[5]), row
        assert row[6] == "lag 0"
        await wait_until(pilot, lambda: "0 firing" in header(app), "0 firing in the header")
        assert "no alerts firing · 1 resolved in the last" in screen_text(app)


async def test_without_rules_the_header_says_nothing_about_alerts(config: Config) -> None:
    assert not config.alerts.rules
    async with console(config) as (app, pilot):
        await wait_until(pilot, lambda: "connected" in header(app), "the header")
        assert "firing" not in header(app) and "alerts" not in header(app)
        assert not app.screen.query_one("#header-alerts").display
        # and nothing reads the alerts topic
        assert not [w for w in app.workers if w.group == "alerts-header"]
        # the screen still opens, and says why there is nothing to count
        await pilot.press("!")
        await wait_until(pilot, lambda: "no metric alert rules" in screen_text(app),
                         "the alerts screen")
        assert "firing" not in header(app)


async def test_unreachable_alerts_cluster_leaves_the_console_working(
    config_data: dict[str, Any]
) -> None:
    data = {**config_data, "clusters": {**config_data["clusters"],
                                        "gone": {"bootstrap_servers": "127.0.0.1:1"}}}
    cfg = alerts_config(data, [behind_rule(unique("r"), "any-*")], cluster="gone")
    async with console(cfg) as (app, pilot):
        await wait_until(pilot, lambda: "alerts unknown" in header(app), "alerts unknown")
        badge = app.screen.query_one("#header-alerts", Static)
        assert "127.0.0.1:1" in str(badge.tooltip)
        # the console's own cluster is fine, and the header says so
        await wait_until(pilot, lambda: rows(app, "topics"), "the topic list")
        assert "connected" in header(app)
        await pilot.press("!")
        await wait_until(pilot, lambda: "alerts cluster 'gone' unreachable" in
                         screen_text(app), "the error on the alerts screen")
        assert "connected" in header(app) and "alerts unknown" in header(app)
        assert app.is_running


# ---------------------------------------------------------------- pure functions


@pytest.mark.parametrize(("severities", "firing", "worst"), [
    ([], 0, None),
    (["info"], 1, "info"),
    (["warning", "critical", "info"], 3, "critical"),
    (["info", "warning"], 2, "warning"),
])
def test_firing_alerts(severities: list[str], firing: int, worst: str | None) -> None:
    assert firing_alerts(severities, 5.0) == FiringAlerts(firing, worst, 5.0)


@pytest.mark.parametrize(("state", "words", "kind"), [
    (FiringAlerts(), "alerts …", "-none"),
    (FiringAlerts(error="refused"), "alerts unknown", "-unknown"),
    (FiringAlerts(0, None, 1.0), "0 firing", "-none"),
    (FiringAlerts(2, "critical", 1.0), "▲ 2 firing", "-critical"),
    (FiringAlerts(1, "warning", 1.0), "▲ 1 firing", "-warning"),
    (FiringAlerts(3, "info", 1.0), "▲ 3 firing", "-info"),
    (FiringAlerts(1, "bogus", 1.0), "▲ 1 firing", "-critical"),
])
def test_alerts_badge(state: FiringAlerts, words: str, kind: str) -> None:
    assert alerts_badge(state) == (words, kind)


def test_alerts_badge_keeps_the_last_count_when_a_read_fails() -> None:
    words, kind = alerts_badge(FiringAlerts(2, "warning", 0.0, "unreachable"))
    assert re.fullmatch(r"▲ 2 firing \(as of \d\d:\d\d:\d\d\)", words)
    assert kind == "-warning -stale"


def _ev(kind: str, aid: str, at: float, severity: str = "warning", seq: int = 1,
        **kw: Any) -> AlertEvent:
    return AlertEvent(type=kind, alert_id=aid, at=at, rule=f"rule-{aid}", seq=seq,  # type: ignore[arg-type]
                      severity=severity, channel="#ops", when="lag > 5",
                      subject=Subject(cluster="primary", group=f"g-{aid}"), **kw)


def test_alert_rows_firing_worst_first_then_recently_resolved_newest_first() -> None:
    now = 100_000.0
    book = AlertBook()
    for ev in [
        _ev("firing", "w-old", now - 600, values={"lag": 9}),
        _ev("firing", "c-new", now - 60, "critical", values={"lag_seconds": 125.0}),
        _ev("firing", "w-new", now - 30),
        _ev("firing", "r1", now - 900), _ev("resolved", "r1", now - 300, values={"lag": 0}),
        _ev("firing", "r2", now - 900), _ev("resolved", "r2", now - 100),
        _ev("firing", "old", now - 200_000), _ev("resolved", "old", now - 100_000),
        _ev("delivered", "w-old", now - 590, of="firing", ts="1.2", target="C1"),
        _ev("snoozed", "w-new", now - 20, until=now + 3600),
    ]:
        book.apply(ev)
    got = [(r.alert_id, r.state, r.value, r.slack) for r in alert_rows(book, now)]
    assert got == [
        ("c-new", "firing", "lag_seconds 2m05s", "not posted yet"),
        ("w-old", "firing", "lag 9", "posted"),
        ("w-new", "firing", "-", got[2][3]),
        ("r2", "resolved", "-", "not posted"),
        ("r1", "resolved", "lag 0", "not posted"),
    ]
    assert got[2][3].startswith("snoozed until ")
    rows_ = {r.alert_id: r for r in alert_rows(book, now)}
    assert for_text(rows_["c-new"], now) == "1m00s"
    assert for_text(rows_["r1"], now) == "10m00s, resolved 5m00s ago"
    # the resolved alert older than a day is gone from the list, a wider window keeps it
    assert "old" in {r.alert_id for r in alert_rows(book, now, recent=200_000)}


@pytest.mark.parametrize(("subject", "text"), [
    (Subject(cluster="p", group="g"), "group g"),
    (Subject(cluster="p", group="g", topic="t"), "group g · topic t"),
    (Subject(cluster="p", topic="t"), "topic t"),
    (Subject(pair="east-west"), "DR pair east-west"),
    (Subject(cluster="p"), "cluster p"),
])
def test_target_text(subject: Subject, text: str) -> None:
    assert target_text(subject) == text
