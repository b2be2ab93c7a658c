"""The bot's side of alerting, through its real HTTP listener: /metrics shows the lag of a
known group with the right values; the buttons on an alert message (show lag, snooze 1h,
audited); `/kafka alerts` lists what is firing; bad button values change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from kafkaops.bot.alerts import BotAlerts
from kafkaops.bot.render.alerts import SHOW_LAG_ACTION, SNOOZE_ACTION
from kafkaops.core.metrics import CONTENT_TYPE, parse_text
from tests.alerts_support import (
    HEARTBEAT_MS,
    SESSION_MS,
    all_text,
    more_evaluations,
    posts,
    quiet,
    wait_until,
)
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import unique
from tests.offsets_support import commit_as_consumer, make_known_topic, stopped_group
from tests.slack_server import button_click


@asynccontextmanager
async def bot_with_alerts(config_data: dict, rules: list[dict[str, Any]]
                          ) -> AsyncIterator[tuple[RunningBot, BotAlerts]]:
    data = {**config_data, "alerts": {
        "interval": "500ms", "min_firing": "0s", "topic": unique("_alerts"),
        "group": unique("kafkaops-alerts"), "rules": rules}}
    async with running_bot(data) as rb:
        alerts = BotAlerts(rb.bot.services, rb.bot.client, session_timeout_ms=SESSION_MS,
                           heartbeat_ms=HEARTBEAT_MS, spacing=0.0)
        await alerts.start()
        try:
            await alerts.wait_ready(60)
            yield rb, alerts
        finally:
            await alerts.stop()


async def scrape(rb: RunningBot) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.get(rb.transport.url + "/metrics") as r:
        return r.status, r.headers["Content-Type"], await r.text()


async def test_metrics_show_the_lag_of_a_known_group(config_data: dict, bootstrap: str) -> None:
    known = await make_known_topic(bootstrap)  # 30 records in partitions 0 and 1
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    async with bot_with_alerts(config_data, []) as (rb, alerts):
        await wait_until(lambda: alerts.evaluator.last is not None, 30, "an evaluation")
        status, ctype, text = await scrape(rb)
        assert status == 200 and ctype == CONTENT_TYPE
        m = parse_text(text)
        base = (("cluster", "primary"), ("group", group))
        part = m["kafkaops_group_partition_lag"]
        assert part[(*base, ("partition", "0"), ("topic", known.name))] == 18
        assert part[(*base, ("partition", "1"), ("topic", known.name))] == 5
        assert m["kafkaops_group_lag"][base] == 23
        assert m["kafkaops_group_topic_lag"][(*base, ("topic", known.name))] == 23
        # the record at offset 12 is 18 minutes older than the newest (one a minute)
        secs = m["kafkaops_group_partition_lag_seconds"][
            (*base, ("partition", "0"), ("topic", known.name))]
        assert secs >= 18 * 60
        status_rows = {dict(k)["status"]: v for k, v in m["kafkaops_group_status"].items()
                       if dict(k)["group"] == group}
        assert status_rows["STOP"] == 1 and sum(status_rows.values()) == 1
        assert m["kafkaops_group_members"][base] == 0
        assert m["kafkaops_cluster_up"][(("cluster", "primary"),)] == 1
        assert m["kafkaops_alert_evaluations_total"][()] >= 1
        # the group catching up is the next scrape's news, after the next evaluation
        await commit_as_consumer(bootstrap, group, known.name, {0: 30, 1: 30})
        await more_evaluations([_Rep(alerts)], 2)
        m = parse_text((await scrape(rb))[2])
        assert m["kafkaops_group_lag"][base] == 0
        # without rules nothing is written to Kafka: no alerts topic was created
        conn = await rb.bot.services.connection()
        assert alerts.log.topic not in (await conn.metadata([alerts.log.topic])).topics


class _Rep:
    """more_evaluations() reads a replica's evaluation counter."""

    def __init__(self, alerts: BotAlerts) -> None:
        self.alerts = alerts

    @property
    def evaluations(self) -> int:
        return int(self.alerts.services.metrics.value("kafkaops_alert_evaluations_total") or 0)


def buttons_of(post: Any) -> dict[str, str]:
    return {e["action_id"]: e["value"] for b in post.params["attachments"][0]["blocks"]
            if b["type"] == "actions" for e in b["elements"]}


async def click(rb: RunningBot, action_id: str, value: str, user: str = "U0ALICE") -> str:
    url = rb.slack.response_url()
    payload = button_click(action_id, value, response_url=url, user=user, channel="C0ORDERS",
                           is_ephemeral=False)
    status, _ = await rb.click(payload)
    assert status == 200
    return all_text(await rb.reply(url))


async def test_alert_buttons_show_lag_and_snooze_with_an_audit_record(
    config_data: dict, bootstrap: str
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    rule = {"name": unique("stopped"), "match": {"group": group},
            "when": "status == STOP and lag > 10", "channel": "C0ORDERS"}
    async with bot_with_alerts(config_data, [rule]) as (rb, alerts):
        (post,) = await rb.slack.wait_for(
            "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=30)
        values = buttons_of(post)

        text = await click(rb, SHOW_LAG_ACTION, values[SHOW_LAG_ACTION])
        assert f"*{group}* is *STOP*" in text and "lag 23 records" in text

        alert_id = values[SNOOZE_ACTION]
        text = await click(rb, SNOOZE_ACTION, alert_id, user="U0CAROL")
        assert f"Snoozed `{alert_id}` until" in text
        await wait_until(lambda: (alerts.log.book.get(alert_id) or _None).snoozed_until,
                         30, "the snooze on the topic")
        records = await (await rb.bot.services.audit()).records()
        mine = [(r.actor, r.face, r.action, r.result) for r in records if r.target == alert_id]
        assert mine == [("U0CAROL", "slack", "alert.snooze", "ok")]

        # `/kafka alerts` lists it as firing and snoozed
        _, _, url = await rb.command("alerts")
        listing = all_text(await rb.reply(url))
        assert rule["name"] in listing and f"group {group} on primary" in listing
        assert "snoozed until" in listing

        # the channel's message says who snoozed it (tests/test_bot_snooze.py has more)
        (snoozed,) = await rb.slack.wait_for("chat.update", within=30)
        assert "Snoozed by <@U0CAROL> until" in all_text(snoozed)
        # resolving still closes the message; firing again while snoozed posts nothing
        await commit_as_consumer(bootstrap, group, known.name, {0: 30, 1: 30})
        (upd,) = await rb.slack.wait_for(
            "chat.update", lambda c: "RESOLVED" in all_text(c), within=30)
        await commit_as_consumer(bootstrap, group, known.name, {0: 12, 1: 25})
        await wait_until(lambda: (alerts.log.book.get(alert_id) or _None).seq == 2
                         and alerts.log.book.get(alert_id).state == "firing",  # type: ignore[union-attr]
                         30, "the alert firing again")
        await quiet([_Rep(alerts)])  # type: ignore[list-item]
        assert len(posts(rb.slack, "C0ORDERS")) == 1
        assert len(rb.slack.calls_to("chat.update")) == 2  # the snooze, the resolution


class _None:
    snoozed_until = None
    seq = 0


async def test_bad_button_values_change_nothing(config_data: dict, bootstrap: str) -> None:
    async with bot_with_alerts(config_data, []) as (rb, alerts):
        text = await click(rb, SNOOZE_ACTION, "a-../../etc")
        assert "'a-../../etc' is not an alert id; nothing was snoozed" in text
        text = await click(rb, SHOW_LAG_ACTION, json.dumps({"cluster": "nope", "group": "g"}))
        assert "no cluster named 'nope'" in text
        text = await click(rb, SHOW_LAG_ACTION, "not json")
        assert "this button carries no consumer group" in text
        assert (await alerts.log.read_book()).alerts == {}
        records = await (await rb.bot.services.audit()).records()
        assert not [r for r in records if r.action == "alert.snooze" and "etc" in r.target]
