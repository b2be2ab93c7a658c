"""Alerts on Kafka Connect connectors end to end: the real worker, the bot's evaluator and
notifier, its HTTP endpoint, and the local Slack. A FAILED task fires `failed_tasks > 0`
once, with Restart and Show trace buttons; Show trace answers the clicker; Restart needs
connect.write and a Confirm; once the connector runs again the same message turns green.
And the rule's config checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkaops.bot.alerts import BotAlerts
from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.bot.render.connect import RESTART_ACTION, TRACE_ACTION
from kafkaops.core.alerts.config import compile_rules
from kafkaops.core.alerts.model import Subject, alert_id
from kafkaops.core.config import parse_config
from kafkaops.core.errors import ConfigError
from kafkaops.demo.connect_worker import ConnectWorker
from tests.alerts_support import (
    HEARTBEAT_MS,
    SESSION_MS,
    Replica,
    all_text,
    more_evaluations,
    posts,
    updates,
)
from tests.bot_harness import running_bot
from tests.conftest import produce, unique
from tests.connect_support import connect_config, file_sink, put_connector, wait_state
from tests.slack_server import button_click

CHANNEL = "C0CONNECT"


def rule(connector: str, **extra: object) -> dict:
    return {"name": unique("connector-failing"), "channel": CHANNEL, "severity": "critical",
            "match": {"cluster": "primary", "connector": connector},
            "when": "failed_tasks > 0", "for": "0s", **extra}


async def test_a_failed_task_alerts_once_with_buttons_and_resolves_in_place(
        config_data: dict, connect_worker: ConnectWorker, bootstrap: str,
        tmp_path: Path) -> None:
    topic, bad = unique("lines"), unique("bad")
    await produce(bootstrap, topic, [b'"x"'])
    await put_connector(connect_worker.url, bad, file_sink(tmp_path / "missing" / "o.txt", topic))
    await wait_state(connect_worker.url, bad, "RUNNING", ["FAILED"])
    the_rule = rule(bad)
    data = connect_config(config_data, connect_worker.url)
    data["alerts"] = {"interval": "500ms", "min_firing": "0s", "topic": unique("_alerts"),
                      "group": unique("kafkaops-alerts"), "rules": [the_rule]}
    async with running_bot(data, permissions={"connect.write": ["oncall"]}) as rb:
        alerts = BotAlerts(rb.bot.services, rb.bot.client, session_timeout_ms=SESSION_MS,
                           heartbeat_ms=HEARTBEAT_MS, spacing=0.0)
        await alerts.start()
        try:
            await alerts.wait_ready(60)
            slack = rb.slack
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == CHANNEL, within=60)
            text = all_text(post)
            assert the_rule["name"] in text and "CRITICAL" in text
            assert f"connector {bad} (Connect ingest) on primary" in text
            assert "failed_tasks *1*" in text
            assert f"/kafka connect {bad} --connect ingest --cluster primary" in text
            buttons = {e["action_id"]: e["value"] for b in post.params["attachments"][0]["blocks"]
                       if b["type"] == "actions" for e in b["elements"]}
            target = {"cluster": "primary", "connect": "ingest", "connector": bad}
            assert json.loads(buttons[RESTART_ACTION]) == target
            assert json.loads(buttons[TRACE_ACTION]) == target
            await more_evaluations([Replica(rb.bot.services, alerts)], 3)
            assert len(posts(slack, CHANNEL)) == 1  # once, however often it is evaluated

            # Show trace: anyone, answered to the clicker only
            url = slack.response_url()
            await rb.click(button_click(TRACE_ACTION, buttons[TRACE_ACTION], response_url=url,
                                        user="U0BOB", channel=CHANNEL, is_ephemeral=False))
            shown = await rb.reply(url)
            assert "Caused by: java.nio.file.NoSuchFileException" in shown.text
            assert shown.params.get("replace_original") is False

            # Restart: not without connect.write
            url = slack.response_url()
            await rb.click(button_click(RESTART_ACTION, buttons[RESTART_ACTION],
                                        response_url=url, user="U0BOB", channel=CHANNEL,
                                        is_ephemeral=False))
            assert "Denied: connect.write" in (await rb.reply(url)).text

            # the cause is fixed; someone on call restarts it from the alert, and confirms
            (tmp_path / "missing").mkdir()
            url = slack.response_url()
            await rb.click(button_click(RESTART_ACTION, buttons[RESTART_ACTION],
                                        response_url=url, user="U0CAROL", channel=CHANNEL,
                                        is_ephemeral=False))
            prompt = await rb.reply(url)
            assert f"Restart failed task(s) 0 of {bad}" in prompt.text
            click_url = slack.response_url()
            await rb.click(button_click(CONFIRM_ACTION_ID, prompt.action_values[
                CONFIRM_ACTION_ID], response_url=click_url, user="U0CAROL"))
            await slack.wait_for("response_url", lambda c: f"restart done: {bad} is RUNNING"
                                 in c.text, within=60)

            (upd,) = await slack.wait_for("chat.update", lambda c: c.params.get("channel")
                                          == CHANNEL, within=60)
            assert upd.params["ts"] == _posted_ts(slack, post)
            resolved = all_text(upd)
            assert "RESOLVED after" in resolved and the_rule["name"] in resolved
            assert upd.params["attachments"][0]["color"] == "#2EB67D"
            await more_evaluations([Replica(rb.bot.services, alerts)], 3)
            assert len(posts(slack, CHANNEL)) == 1 and len(updates(slack)) == 1
            records = await (await rb.bot.services.audit()).records()
            assert [(r.actor, r.action, r.result) for r in records
                    if r.target == f"ingest/{bad}"] == [("U0BOB", "connect.write", "refused"),
                                                        ("U0CAROL", "connect.restart", "ok")]
        finally:
            await alerts.stop()


async def test_the_consoles_alerts_screen_opens_the_failing_connector(
        config_data: dict, connect_worker: ConnectWorker, connect_trio) -> None:
    from kafkaops.console.alerts import AlertsScreen, target_text
    from kafkaops.console.app import KafkaOpsApp
    from kafkaops.console.connect import ConnectorScreen
    from kafkaops.core.alerts.runner import AlertEvaluator
    from kafkaops.core.services import Services
    from tests.test_connect_console import rows, wait_until

    bad = connect_trio[3]
    the_rule = rule(bad)
    data = connect_config(config_data, connect_worker.url)
    data["alerts"] = {"interval": "500ms", "min_firing": "0s", "topic": unique("_alerts"),
                      "group": unique("kafkaops-alerts"), "rules": [the_rule]}
    cfg = parse_config(data, "<t>")
    async with Services(cfg) as bot:
        ev = AlertEvaluator(bot)
        try:
            evaluation = await ev.evaluate()  # what the bot does every interval
        finally:
            await ev.log.stop()
    assert [e.type for e in evaluation.events] == ["firing"]
    assert evaluation.events[0].subject.label() == f"connector {bad} (Connect ingest) on primary"
    assert target_text(evaluation.events[0].subject) == f"connector {bad} (ingest)"
    async with Services(cfg) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.press("!")
            await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen)
                             and rows(app.screen, "alerts-table"), "the alert")
            (row,) = rows(app.screen, "alerts-table")
            assert row[2:4] == [the_rule["name"], f"connector {bad} (ingest)"]
            assert "failed_tasks 1" in row
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConnectorScreen)
                             and rows(app.screen, "connector-tasks"), "the connector")
            assert rows(app.screen, "connector-tasks")[0][:2] == ["0", "FAILED"]


def _posted_ts(slack: object, call: object) -> str:
    """The ts the local Slack gave a chat.postMessage (it numbers them in order)."""
    calls = [c for c in slack.calls  # type: ignore[attr-defined]
             if c.method in ("chat.postMessage", "chat.postEphemeral")]
    return f"{1700000000 + calls.index(call) + 1}.000100"


def test_connector_alert_ids_do_not_move_the_others() -> None:
    group = Subject(cluster="primary", group="g")
    assert alert_id("r", group) == alert_id("r", Subject(cluster="primary", group="g"))
    a = alert_id("r", Subject(cluster="primary", connect="ingest", connector="s3"))
    b = alert_id("r", Subject(cluster="primary", connect="other", connector="s3"))
    assert len({a, b, alert_id("r", Subject(cluster="primary"))}) == 3
    back = Subject.from_json(Subject(cluster="p", connect="i", connector="s3").to_json())
    assert back.label() == "connector s3 (Connect i) on p"


@pytest.mark.parametrize(("patch", "message"), [
    ({"when": "failed_tasks > 0 and lag > 5"}, "mixes them"),
    ({"match": {"group": "x"}}, "match.group: a rule on Connect connectors"),
    ({"match": {"connect": "nope"}}, "match.connect: 'nope' matches no Connect cluster "
                                     "(configured: ingest)"),
    ({"match": {"cluster": "dr"}}, "needs a Kafka Connect cluster of a cluster matching 'dr'"),
    ({"when": "connector_failed > 1"}, "connector_failed is true or false"),
])
def test_bad_connector_rules_name_the_problem(config_data: dict, patch: dict,
                                              message: str) -> None:
    data = connect_config(config_data, "http://connect:8083")
    data["alerts"] = {"rules": [{**rule("x"), "match": {}, **patch}]}
    with pytest.raises(ConfigError, match="alerts.rules\\[0\\]") as e:
        parse_config(data, "c.yaml")
    assert message in str(e.value)


def test_a_connector_rule_without_connect_configured_is_an_error(config_data: dict) -> None:
    data = {**config_data, "alerts": {"rules": [rule("x")]}}
    with pytest.raises(ConfigError, match="needs a Kafka Connect cluster"):
        parse_config(data, "c.yaml")
    ok = connect_config(config_data, "http://connect:8083")
    ok["alerts"] = {"rules": [rule("s3-*", match={"connect": "in*", "connector": "s3-*"})]}
    (compiled,) = compile_rules(parse_config(ok, "c.yaml")).metric
    assert compiled.scope == "connector"
