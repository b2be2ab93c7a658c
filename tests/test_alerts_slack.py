"""Alerts end to end: the embedded broker, real bot replicas (evaluator, event watchers,
notifier consumer group) and the local Slack server recording every Web API call.

- a consumer group falling behind fires one message in the rule's channel, even with two
  replicas evaluating and notifying; catching up turns that same message into "resolved";
- Slack answering 429 with Retry-After delays the message but does not lose it;
- an event rule turns a matching record into one message with the configured text, and a
  burst into one message with a count.
"""

from __future__ import annotations

import json

from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as AkTP

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from tests.alerts_support import (
    alerts_config,
    all_text,
    more_evaluations,
    posts,
    quiet,
    replicas,
    updates,
    wait_until,
)
from tests.conftest import produce, unique
from tests.slack_server import SlackServer


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
            assert f"kafkaops -c primary lag --group {group}" in text

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
