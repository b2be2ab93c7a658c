"""Alerts end to end: the embedded broker, real bot replicas (evaluator, event watchers,
notifier consumer group) and the local Slack server recording every Web API call.

- a consumer group falling behind fires one message in the rule's channel, even with two
  replicas evaluating and notifying; catching up turns that same message into "resolved";
- Slack answering 429 with Retry-After delays the message but does not lose it;
- an event rule turns a matching record into one message with the configured text, and a
  burst into one message with a count;
- an alert @mentions its owner and links its runbook; what happens to it afterwards
  (acknowledged, resolved, fired again, much worse, snoozed) is a reply in its thread
  saying who and when, a re-fire and a worsening also sent to the channel (they notify);
- alerts about a team's topics go to the team's channel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as AkTP

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from tests.alerts_support import (
    BotRep,
    alerts_config,
    all_text,
    bot_with_alerts,
    more_evaluations,
    posts,
    quiet,
    replicas,
    thread_replies,
    updates,
    wait_until,
)
from tests.conftest import produce, unique
from tests.offsets_support import commit_as_consumer, make_known_topic, stopped_group
from tests.slack_server import Call, SlackServer, button_click


async def new_topic(bootstrap: str, partitions: int = 1) -> str:
    name = unique("al")
    async with KafkaConnection("setup", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec(name, partitions)])
    return name


async def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """Commit `offset` on partition 0 as the group's own (stopped) consumer would."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([AkTP(topic, 0)])
        await consumer.commit({AkTP(topic, 0): offset})
    finally:
        await consumer.stop()


def behind_rule(group: str, channel: str = "C0ORDERS") -> dict:
    return {"name": unique("behind"), "match": {"cluster": "primary", "group": group},
            "when": "lag > 10", "for": "0s", "severity": "critical", "channel": channel}


async def test_a_group_falling_behind_is_posted_once_by_two_replicas_and_resolved_in_place(
    config_data: dict, bootstrap: str
) -> None:
    topic = await new_topic(bootstrap)
    await produce(bootstrap, topic, [b"x"] * 5)
    group = unique("orders")
    await commit(bootstrap, group, topic, 5)  # caught up: lag 0
    async with SlackServer() as slack:
        rule = behind_rule(group)
        cfg = alerts_config(config_data, slack, [rule])
        async with replicas(cfg, slack, n=2) as reps:
            await more_evaluations(reps, 2)
            assert posts(slack, "C0ORDERS") == []  # nothing wrong yet

            await produce(bootstrap, topic, [b"y"] * 20)  # the group falls 20 behind
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=30)
            text = all_text(post)
            assert rule["name"] in text and f"group {group} on primary" in text
            assert "lag *20*" in text and "CRITICAL" in text
            assert post.params["attachments"][0]["color"] == "#D72B3F"
            buttons = {e["action_id"]: e["value"] for b in post.params["attachments"][0]["blocks"]
                       if b["type"] == "actions" for e in b["elements"]}
            assert json.loads(buttons["kafkaops.alert.lag"]) == {"cluster": "primary",
                                                                 "group": group}
            assert buttons["kafkaops.alert.snooze"].startswith("a-")
            assert f"`/kafka lag {group} --cluster primary`" in text  # Slack's own words
            assert "kafkaops " not in text

            # both replicas keep evaluating the same firing condition: still one message
            await wait_until(lambda: all(
                any(("firing", 1) in v.delivered for v in r.alerts.log.book.alerts.values())
                for r in reps), 30, "the delivery seen by both replicas")
            await more_evaluations(reps, 3)
            assert len(posts(slack, "C0ORDERS")) == 1
            ts = (await slack.wait_for("chat.postMessage"))[0]
            posted_ts = _answer_ts(slack, ts)

            await commit(bootstrap, group, topic, 25)  # caught up again
            (upd,) = await slack.wait_for("chat.update", within=30)
            assert upd.params["channel"] == "C0ORDERS" and upd.params["ts"] == posted_ts
            text = all_text(upd)
            assert "RESOLVED after" in text and rule["name"] in text
            assert upd.params["attachments"][0]["color"] == "#2EB67D"
            # and the thread says so, without notifying the channel again
            (done,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("thread_ts") == posted_ts, within=30)
            assert "*Resolved after" in all_text(done) and "reply_broadcast" not in done.params
            await more_evaluations(reps, 3)
            assert len(posts(slack, "C0ORDERS")) == 1 and len(updates(slack)) == 1


def _answer_ts(slack: SlackServer, call: object) -> str:
    """The ts the local Slack gave the first chat.postMessage (it numbers them in order)."""
    index = [c for c in slack.calls if c.method in ("chat.postMessage",
                                                    "chat.postEphemeral")].index(call)
    return f"{1700000000 + index + 1}.000100"


class RateLimitedSlack(SlackServer):
    """Answers chat.postMessage with 429 and Retry-After: 1 the first `limit` times."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage" and self.limit > 0:
            self.limit -= 1
            await request.read()
            await self._record(_call("chat.postMessage(429)"))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": "1"})
        return await super()._api(request)


def _call(method: str):  # noqa: ANN202 - a slack_server.Call
    from tests.slack_server import Call

    return Call(method, {})


async def test_slack_rate_limiting_delays_the_alert_but_does_not_lose_it(
    config_data: dict, bootstrap: str
) -> None:
    topic = await new_topic(bootstrap)
    await produce(bootstrap, topic, [b"x"] * 30)
    group = unique("orders")
    await commit(bootstrap, group, topic, 5)  # 25 behind from the start
    async with RateLimitedSlack(limit=2) as slack:
        cfg = alerts_config(config_data, slack, [behind_rule(group)])
        async with replicas(cfg, slack, n=1) as (rep,):
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=30)
            refused = slack.calls_to("chat.postMessage(429)")
            assert len(refused) == 2
            # each retry waited for Retry-After (1 s) after the refusal before it
            assert refused[1].at - refused[0].at >= 0.9
            assert post.at - refused[1].at >= 0.9
            assert "lag *25*" in all_text(post)
            m = rep.services.metrics
            await quiet([rep])
            assert m.value("kafkaops_slack_api_errors_total",
                           {"method": "chat.postMessage", "error": "ratelimited"}) == 2
            assert m.value("kafkaops_alert_notifications_total", {"kind": "post"}) == 1
            assert len(posts(slack, "C0ORDERS")) == 1


def event_rule(topic: str, channel: str = "C0CICD") -> dict:
    return {"name": unique("pipeline-failed"), "watch": {"cluster": "primary", "topic": topic},
            "filter": 'status == "failed" and branch == "main"',
            "message": "{pipeline} failed on {branch} at {stage}: {url}",
            "channel": channel, "max_per_minute": 6}


def pipeline(status: str, n: int = 0, branch: str = "main") -> bytes:
    return json.dumps({"pipeline": f"deploy-{n}", "status": status, "branch": branch,
                       "stage": "test", "url": f"https://ci.example/{n}"}).encode()


async def test_a_matching_record_becomes_one_message_with_the_configured_text(
    config_data: dict, bootstrap: str
) -> None:
    topic = await new_topic(bootstrap, partitions=2)
    async with SlackServer() as slack:
        cfg = alerts_config(config_data, slack, [event_rule(topic)])
        async with replicas(cfg, slack, n=2) as reps:
            await produce(bootstrap, topic, [pipeline("ok", 1), pipeline("failed", 2, "dev")],
                          partition=0)
            await produce(bootstrap, topic, [pipeline("failed", 7)], partition=1)
            await produce(bootstrap, topic, [pipeline("ok", 3)], partition=0)
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == "C0CICD", within=30)
            assert post.params["text"] == "deploy-7 failed on main at test: https://ci.example/7"
            # every record was read once, by one replica or the other, and nothing else is
            # on its way to Slack
            await wait_until(lambda: sum(w.read for r in reps for w in r.alerts.watchers) == 4,
                             30, "the four records read")
            await quiet(reps)
            assert len(posts(slack, "C0CICD")) == 1


async def test_a_burst_of_matches_is_one_message_with_a_count(
    config_data: dict, bootstrap: str
) -> None:
    topic = await new_topic(bootstrap)
    async with SlackServer() as slack:
        rule = event_rule(topic)
        cfg = alerts_config(config_data, slack, [rule], event_window="2s")
        async with replicas(cfg, slack, n=1) as (rep,):
            burst = [pipeline("failed", i % 3) for i in range(500)] + [pipeline("ok", 9)] * 50
            await produce(bootstrap, topic, burst, linger_ms=20)
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == "C0CICD", within=30)
            text = all_text(post)
            assert "*500* matching records" in text
            for i in range(3):
                assert f"deploy-{i} failed on main at test: https://ci.example/{i}" in text
            assert "×167" in text and "×166" in text
            watcher = rep.alerts.watchers[0]
            await wait_until(lambda: watcher.read >= 550, 30, "the whole burst read")
            await quiet([rep])
            assert len(posts(slack, "C0CICD")) == 1


async def test_the_replica_that_takes_over_closes_the_message_the_other_posted(
    config_data: dict, bootstrap: str
) -> None:
    topic = await new_topic(bootstrap)
    await produce(bootstrap, topic, [b"x"] * 30)
    group = unique("orders")
    await commit(bootstrap, group, topic, 5)  # 25 behind
    async with SlackServer() as slack:
        cfg = alerts_config(config_data, slack, [behind_rule(group)])
        async with replicas(cfg, slack, n=2) as reps:
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=30)
            posted_ts = _answer_ts(slack, post)
            await wait_until(lambda: sum(r.alerts.dispatcher.stats.delivered for r in reps) == 1,
                             30, "the delivery recorded")
            poster = next(r for r in reps if r.alerts.dispatcher.stats.delivered == 1)
            other = next(r for r in reps if r is not poster)
            await poster.alerts.stop()  # leaves the group: the other replica owns it all now
            await wait_until(lambda: len(other.alerts.dispatcher.stats.partitions) == 4
                             and other.alerts.dispatcher.ready.is_set(), 60, "the takeover")

            await commit(bootstrap, group, topic, 30)  # caught up
            (upd,) = await slack.wait_for("chat.update", within=30)
            assert upd.params["ts"] == posted_ts and "RESOLVED" in all_text(upd)
            await quiet([other])
            assert len(posts(slack, "C0ORDERS")) == 1


# ---------------------------------------------------------------- threads, owners, buttons


def _buttons(call: Any) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in call.params["attachments"][0]["blocks"]
            if b["type"] == "actions" for e in b["elements"]}


async def _click(rb: Any, action_id: str, value: str, user: str, ts: str) -> str:
    url = rb.slack.response_url()
    status, _ = await rb.click(button_click(action_id, value, response_url=url, user=user,
                                            channel="C0ORDERS", message_ts=ts,
                                            is_ephemeral=False))
    assert status == 200
    return all_text(await rb.reply(url))


def _in_thread(slack: SlackServer, ts: str, words: str) -> Callable[[Call], bool]:
    return lambda c: c.params.get("thread_ts") == ts and words in all_text(c)


async def test_an_alert_mentions_its_owner_links_its_runbook_and_keeps_its_story_in_its_thread(
    config_data: dict, bootstrap: str
) -> None:
    """Acknowledge, resolve, fire again (notifying the channel), snooze: each one a reply in
    the alert's thread saying who and when; the message itself kept up to date."""
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})  # 23 behind
    rule = {"name": unique("stopped"), "match": {"group": group}, "when": "lag > 10",
            "channel": "C0ORDERS", "owner": "<!subteam^S0ONCALL>",
            "runbook": "https://runbooks.example/consumer-lag"}
    async with bot_with_alerts(config_data, [rule]) as (rb, alerts):
        slack = rb.slack
        (post,) = await slack.wait_for(
            "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=30)
        root = _answer_ts(slack, post)
        # the owner is @mentioned where notifications read, and the runbook is a link button
        assert post.params["text"].endswith("<!subteam^S0ONCALL>")
        assert "Owner: <!subteam^S0ONCALL>" in all_text(post)
        buttons = _buttons(post)
        assert buttons["kafkaops.alert.runbook"]["url"] == rule["runbook"]
        assert {"kafkaops.alert.ack", "kafkaops.alert.lag", "kafkaops.alert.snooze"} <= set(
            buttons)
        alert_id = buttons["kafkaops.alert.ack"]["value"]

        # Acknowledge (anyone): who is on it, on the message and in its thread
        said = await _click(rb, "kafkaops.alert.ack", alert_id, "U0CAROL", root)
        assert f"You are on `{alert_id}`" in said
        (acked,) = await slack.wait_for("chat.update", lambda c: c.params.get("ts") == root)
        assert ":eyes: <@U0CAROL> is on it (acknowledged since <!date^" in all_text(acked)
        assert "kafkaops.alert.ack" not in _buttons(acked)  # someone is on it already
        (reply,) = await slack.wait_for("chat.postMessage",
                                        _in_thread(slack, root, "acknowledged at"))
        assert "<@U0CAROL> acknowledged at <!date^" in all_text(reply)
        assert "reply_broadcast" not in reply.params
        records = await (await rb.bot.services.audit()).records()
        assert [(r.actor, r.action, r.result) for r in records if r.target == alert_id] == [
            ("U0CAROL", "alert.ack", "ok")]

        # it resolves: the message turns green (still naming who was on it), the thread
        # says after how long
        await commit_as_consumer(bootstrap, group, known.name, {0: 30, 1: 30})
        (green,) = await slack.wait_for("chat.update", lambda c: "RESOLVED" in all_text(c),
                                        within=30)
        assert green.params["ts"] == root and "<@U0CAROL> is on it" in all_text(green)
        (done,) = await slack.wait_for("chat.postMessage",
                                       _in_thread(slack, root, "Resolved after"), within=30)
        assert "reply_broadcast" not in done.params

        # it fires again within renotify_interval: the same message is updated, and the
        # thread gets a reply that is also sent to the channel, so people are notified
        await commit_as_consumer(bootstrap, group, known.name, {0: 12, 1: 25})
        (again,) = await slack.wait_for("chat.postMessage",
                                        _in_thread(slack, root, "Fired again"), within=30)
        assert again.params["reply_broadcast"] is True
        assert "(2nd time in" in all_text(again) and "<!subteam^S0ONCALL>" in all_text(again)
        (upd,) = await slack.wait_for("chat.update",
                                      lambda c: "fired again: 2 times" in all_text(c))
        assert upd.params["ts"] == root
        assert ":eyes:" not in all_text(upd)  # an acknowledgement was for the last episode

        # snooze: who and until when, in the thread
        said = await _click(rb, "kafkaops.alert.snooze.4h", alert_id, "U0ALICE", root)
        assert f"Snoozed `{alert_id}` until" in said
        (zzz,) = await slack.wait_for("chat.postMessage",
                                      _in_thread(slack, root, "snoozed it until"))
        assert "<@U0ALICE> snoozed it until <!date^" in all_text(zzz)
        await quiet([BotRep(alerts)])  # type: ignore[list-item]
        assert len(posts(slack, "C0ORDERS")) == 1  # everything else went to the thread
        assert len(thread_replies(slack, "C0ORDERS", root)) == 4


async def test_a_firing_alert_that_gets_much_worse_says_so_in_its_thread_and_notifies(
    config_data: dict, bootstrap: str
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})  # 23 behind
    rule = {"name": unique("behind"), "match": {"group": group}, "when": "lag > 10",
            "channel": "C0ORDERS"}
    async with bot_with_alerts(config_data, [rule]) as (rb, alerts):
        slack = rb.slack
        (post,) = await slack.wait_for(
            "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=30)
        root = _answer_ts(slack, post)
        await more_evaluations([BotRep(alerts)], 3)  # a steady lag says nothing new
        assert thread_replies(slack, "C0ORDERS") == []

        await commit_as_consumer(bootstrap, group, known.name, {0: 0, 1: 0})  # 60 behind
        (worse,) = await slack.wait_for("chat.postMessage",
                                        _in_thread(slack, root, "*Worse*"), within=30)
        assert worse.params["reply_broadcast"] is True
        assert "lag *60* (was lag *23* when it fired)" in all_text(worse)
        (upd,) = await slack.wait_for("chat.update", lambda c: c.params.get("ts") == root)
        assert "lag *60*" in all_text(upd)
        await quiet([BotRep(alerts)])  # type: ignore[list-item]
        assert len(thread_replies(slack, "C0ORDERS", root)) == 1  # once per doubling


async def test_alerts_about_a_teams_topics_go_to_the_teams_channel_and_mention_its_owner(
    config_data: dict, bootstrap: str
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    teams = {"payments": {"match": [known.name[:4] + "*"], "channel": "#payments-oncall",
                          "owner": ["S0PAYMENTS", "<@U0ALICE>"]},
             "other": {"match": ["nothing.*"], "channel": "#other"}}
    rule = {"name": unique("behind"), "match": {"group": group}, "when": "lag > 10",
            "channel": "C0ORDERS"}
    async with bot_with_alerts(config_data, [rule], teams=teams) as (rb, _):
        (post,) = await rb.slack.wait_for(
            "chat.postMessage", lambda c: "lag" in all_text(c), within=30)
        assert post.params["channel"] == "#payments-oncall"
        assert post.params["text"].endswith("<!subteam^S0PAYMENTS> <@U0ALICE>")
        assert posts(rb.slack, "C0ORDERS") == []
