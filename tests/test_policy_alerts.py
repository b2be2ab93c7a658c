"""Alerts on policies and cost spikes: a non-compliant topic fires one alert in its team's
channel through the real evaluator, notifier and local Slack, and resolves once
`kafkaops policy fix` has made it compliant; a topic no team with a channel owns goes to
the rule's channel; a producer that suddenly writes far more than its hour before fires
`bytes_in_rate > 3 * baseline`.
And the pure parts: comparing a metric with another, routing by team."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from kafkaops.core.alerts.book import AlertBook
from kafkaops.core.alerts.conditions import RuleSyntaxError, evaluate, parse_when
from kafkaops.core.alerts.config import compile_rules
from kafkaops.core.alerts.evaluate import AlertTracker
from kafkaops.core.alerts.model import Observation, Subject
from kafkaops.core.alerts.runner import AlertEvaluator
from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec
from tests.alerts_support import all_text, more_evaluations, posts, replicas, updates
from tests.bot_harness import bot_config_data
from tests.conftest import KAFKAOPS, cli_env, produce, unique
from tests.slack_server import SlackServer

SEVEN_YEARS = str(7 * 365 * 86_400_000)


@pytest.mark.parametrize(("rate", "base", "fires"), [
    (31.0, 10.0, True), (30.0, 10.0, False), (5.0, 0.0, True), (0.0, 0.0, False),
    (10.0, None, None), (None, 1.0, None),
])
def test_a_metric_compared_with_three_times_another(rate, base, fires) -> None:
    expr = parse_when("bytes_in_rate > 3 * baseline")
    assert evaluate(expr, {"bytes_in_rate": rate, "baseline": base}) is fires


@pytest.mark.parametrize(("when", "message"), [
    ("bytes_in_rate > 3 * lag", "bytes_in_rate (a count on a topic) cannot be compared with lag"),
    ("bytes_in_rate > 3 *", "expected a metric after 3 *"),
    ("bytes_in_rate > 3m * baseline", "a factor has no unit: drop 'm'"),
    ("bytes_in_rate > baselin", "expected a number, found 'baselin'"),
    ("policy_violations > 0 and lag > 1", "a rule watches one kind of subject"),
])
def test_bad_comparisons_say_what_and_where(when: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as e:
        from kafkaops.core.alerts.conditions import scope_of

        scope_of(parse_when(when), when)
    assert message in str(e.value)


def config_with(base: dict, rules: list[dict], **extra: object) -> dict:
    data = {**base, "teams": {"payments": {"match": ["orders.*"], "channel": "#payments"},
                              "platform": {"match": ["logs.*"]}}, **extra}
    data["alerts"] = {"rules": rules}
    return data


def test_policy_and_usage_alerts_go_to_the_team_channel(config_data: dict) -> None:
    config = parse_config(config_with(config_data, [
        {"name": "spike", "when": "bytes_in_rate > 3 * baseline", "channel": "C0COSTS"},
        {"name": "offline", "when": "offline_partitions > 0", "channel": "C0TOPICS",
         "team": "platform"},
        {"name": "policies", "when": "policy_violations > 0", "channel": "C0POLICY"},
    ]))
    spike, offline, policies = compile_rules(config).metric
    orders = Subject(cluster="primary", topic="orders.events")
    logs = Subject(cluster="primary", topic="logs.app")          # platform names no channel
    other = Subject(cluster="primary", topic="misc")              # nobody's
    assert [spike.route(s)[0] for s in (orders, logs, other)] == ["#payments", "C0COSTS",
                                                                   "C0COSTS"]
    assert policies.route(orders)[0] == "#payments"
    # a rule naming its team goes there whatever the topic: the rule's channel, as the
    # platform team names none
    assert offline.route(orders)[0] == "C0TOPICS"
    tracker = AlertTracker([policies])
    events, _ = tracker.step(0.0, [Observation(orders, {"policy_violations": 2})],
                             observed={"primary"}, book=AlertBook())
    assert [(e.type, e.channel) for e in events] == [("firing", "#payments")]


async def create(config_data: dict, name: str, configs: dict[str, str]) -> None:
    async with Services(parse_config(config_data, "<t>")) as s:
        await (await s.topics()).create_topics([NewTopicSpec(name, 1, configs=configs)])


async def test_a_non_compliant_topic_is_one_alert_in_its_teams_channel_until_fixed(
        config_data: dict, tmp_path: Path) -> None:
    tag = unique("pa")
    mine, stray = f"iac.{tag}", f"iac.{tag}-stray"
    channel = f"#platform-{tag}"
    bad = {"retention.ms": "86400000", "cleanup.policy": "delete"}
    good = {"retention.ms": SEVEN_YEARS, "cleanup.policy": "delete"}
    await create(config_data, mine, bad)
    await create(config_data, stray, bad)
    await create(config_data, f"iac.{tag}-fine", good)
    rule = {"name": unique("policy"), "match": {"cluster": "primary", "topic": f"iac.{tag}*"},
            "when": "policy_violations > 0", "for": "0s", "severity": "warning",
            "channel": "C0FALLBACK"}
    async with SlackServer() as slack:
        data = bot_config_data(config_data, slack)
        data["teams"] = {"platform": {"match": [mine], "channel": channel}}
        data["policies"] = [{"name": "iac-retention", "match": {"topic": f"iac.{tag}*"},
                             "require": {"retention": ">= 7y", "cleanup_policy": "delete"}}]
        data["alerts"] = {"interval": "500ms", "min_firing": "0s", "topic": unique("_alerts"),
                          "group": unique("kafkaops-alerts"), "rules": [rule]}
        async with replicas(parse_config(data, "<policy alerts>"), slack) as reps:
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == channel, within=60)
            text = all_text(post)
            assert rule["name"] in text and f"topic {mine} on primary" in text
            assert "policy_violations *1*" in text
            assert f"/kafka policy --topic {mine} --cluster primary" in text
            # the topic nobody's channel owns goes to the rule's channel; the good one nowhere
            (fallback,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == "C0FALLBACK",
                within=60)
            assert f"topic {stray} on primary" in all_text(fallback)
            await more_evaluations(reps, 3)
            assert len(posts(slack, channel)) == 1 and len(posts(slack, "C0FALLBACK")) == 1
            assert not any(f"iac.{tag}-fine" in all_text(c)
                           for c in slack.calls_to("chat.postMessage"))

            # fixed from the CLI
            cfg = tmp_path / "policy.yaml"
            cfg.write_text(yaml.safe_dump({**config_data, "policies": data["policies"]}))
            fixed = await asyncio.to_thread(
                subprocess.run, [KAFKAOPS, "--config", str(cfg), "policy", "fix", mine, "--yes"],
                capture_output=True, text=True, env=cli_env(), timeout=90,
                stdin=subprocess.DEVNULL)
            assert fixed.returncode == 0, fixed.stderr
            (upd,) = await slack.wait_for(
                "chat.update", lambda c: c.params.get("channel") == channel, within=60)
            assert "RESOLVED" in all_text(upd)
            await more_evaluations(reps, 3)
            assert len(posts(slack, channel)) == 1 and len(updates(slack, channel)) == 1


async def produce_at(bootstrap: str, topic: str, count: int, stamp_ms: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, b"c" * 200, timestamp_ms=stamp_ms + i)
                               for i in range(count)])
    finally:
        await producer.stop()


async def test_a_cost_spike_fires_in_the_teams_channel(config_data: dict, bootstrap: str
                                                       ) -> None:
    """An hour of quiet traffic (10 records, half an hour ago), then ten times as much in the
    last 5 minutes: bytes_in_rate is far over 3 x baseline. A steady topic does not fire."""
    tag = unique("spike")
    spiky, steady = f"orders.{tag}", f"orders.{tag}-steady"
    now = int(time.time() * 1000)
    await create(config_data, spiky, {})
    await create(config_data, steady, {})
    await produce_at(bootstrap, spiky, 10, now - 1_800_000)
    await produce_at(bootstrap, spiky, 100, now - 60_000)
    await produce_at(bootstrap, steady, 60, now - 1_800_000)
    await produce(bootstrap, steady, [b"c" * 200] * 2)
    data = config_with(config_data, [
        {"name": "cost-spike", "match": {"topic": f"orders.{tag}*"},
         "when": "bytes_in_rate > 3 * baseline", "channel": "C0COSTS"}])
    async with Services(parse_config(data, "<spike>")) as services:
        evaluator = AlertEvaluator(services)
        done = await evaluator.evaluate(publish=False)
    assert not done.errors
    results = {r.subject.topic: r for r in done.results}
    spike = results[spiky]
    assert spike.holds is True
    assert spike.values["bytes_in_rate"] > 30 * spike.values["baseline"] > 0
    assert results[steady].holds is False
    (event,) = done.events
    assert (event.type, event.subject.topic, event.channel) == ("firing", spiky, "#payments")
