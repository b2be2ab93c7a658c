"""Pure parts of alerting: event-rule grouping and rate limiting on a fake clock, message
templates, the `delivered` records, and the Prometheus text /metrics serves."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from kafkaops.core.alerts.book import Action, MessageRef
from kafkaops.core.alerts.events import EventGrouper, Match, render_message
from kafkaops.core.alerts.model import AlertEvent, EventRule, Subject
from kafkaops.core.alerts.notify import Delivery, delivered_events
from kafkaops.core.lag.model import GroupLag, LagSnapshot, PartitionLag, TopicLag
from kafkaops.core.lag.status import PartitionState, Status
from kafkaops.core.messages.model import Message
from kafkaops.core.metrics import MetricsRegistry, parse_text


def rule(max_per_minute: int = 6) -> EventRule:
    return EventRule(name="pipeline-failed", channel="C0CICD", severity="warning",
                     cluster="primary", topic="cicd", filter_text=None, filter=None,
                     message="{pipeline} failed", max_per_minute=max_per_minute)


def m(text: str, offset: int, partition: int = 0, at: float = 100.0) -> Match:
    return Match(text, at, partition, offset)


# ---------------------------------------------------------------- grouping


def test_a_burst_of_500_is_one_notice_with_a_count() -> None:
    g = EventGrouper(rule(), window=10.0)
    for i in range(500):
        g.add(m(f"deploy-{i % 3} failed", i, at=100.0 + i / 100), now=1000.0 + i / 100)
    assert not g.due(1009.9) and g.due(1010.0)
    n = g.notice(1010.0)
    assert n.type == "notice" and n.count == 500
    assert n.examples == (("deploy-0 failed", 167), ("deploy-1 failed", 167),
                          ("deploy-2 failed", 166))
    assert n.text == "deploy-0 failed" and (n.first_at, n.last_at) == (100.0, 104.99)
    g.sent(1010.0)
    assert not g.open and g.due_at(1010.0) is None


def test_notice_ids_are_stable_for_the_same_records() -> None:
    def notice() -> AlertEvent:
        g = EventGrouper(rule(), window=0.0)
        for i in (5, 6, 7):
            g.add(m("x", i, partition=1), now=1.0)
        g.add(m("y", 3, partition=0), now=1.0)
        return g.notice(2.0)

    assert notice().alert_id == notice().alert_id
    g = EventGrouper(rule(), window=0.0)
    g.add(m("x", 8, partition=1), now=1.0)
    assert g.notice(2.0).alert_id != notice().alert_id


def test_the_rate_limit_holds_the_next_group_and_counts_it() -> None:
    g = EventGrouper(rule(max_per_minute=2), window=1.0)
    sent_at = []
    t = 0.0
    offset = 0
    while t < 130.0:  # a match every second for two minutes
        g.add(m("x", offset), now=t)
        offset += 1
        if g.due(t):
            n = g.notice(t)
            sent_at.append((t, n.count))
            g.sent(t)
        t += 1.0
    # two a minute, each a window after its group opened; the third waits for the minute
    # and holds everything that matched meanwhile
    assert sent_at == [(1.0, 2), (3.0, 2), (61.0, 58), (63.0, 2), (121.0, 58), (123.0, 2)]
    assert g.open and g.notice(129.0).count == 6  # 124..129 wait for the next minute


def test_distinct_messages_beyond_ten_are_counted_not_listed() -> None:
    g = EventGrouper(rule(), window=0.0)
    for i in range(25):
        g.add(m(f"msg {i}", i), now=0.0)
    n = g.notice(0.0)
    assert len(n.examples) == 10 and n.count == 25


def test_revoked_partitions_leave_the_group_and_commit_waits_for_the_rest() -> None:
    g = EventGrouper(rule(), window=5.0)
    g.add(m("a", 10, partition=0), now=0.0)
    g.add(m("b", 11, partition=0), now=0.0)
    g.add(m("c", 40, partition=1), now=0.0)
    assert (g.first_offset(0), g.first_offset(1), g.first_offset(2)) == (10, 40, None)
    g.drop({0})
    assert g.first_offset(0) is None and g.notice(5.0).count == 1
    g.drop({1})
    assert not g.open and g.due_at(100.0) is None


# ---------------------------------------------------------------- templates


def rec(value: bytes | None, **kw: Any) -> Message:
    return Message("cicd", 2, 41, 1_700_000_000_000, kw.get("key"), value,
                   tuple(kw.get("headers", ())))


@pytest.mark.parametrize(("template", "value", "expected"), [
    ("{pipeline} failed on {branch} at {stage}: {url}",
     b'{"pipeline":"deploy","branch":"main","stage":"test","url":"https://ci/1"}',
     "deploy failed on main at test: https://ci/1"),
    ("{pipeline} at {stage}", b'{"pipeline":"deploy"}', "deploy at (no stage)"),
    ("{payload.items[0].sku} x{payload.n}", b'{"payload":{"items":[{"sku":"A1"}],"n":2.0}}',
     "A1 x2"),
    ("{{literal}} {ok}", b'{"ok":true}', "{literal} true"),
    ("{obj}", b'{"obj":{"a":[1,2]}}', '{"a":[1,2]}'),
    ("{value}", b"plain text", "plain text"),
    ("{topic}/{partition}@{offset} {header.trace-id}", b"{}", "cicd/2@41 abc"),
    ("{missing}", b"not json", "(no missing)"),
])
def test_message_templates_use_the_filter_language_names(template: str, value: bytes,
                                                         expected: str) -> None:
    assert render_message(template, rec(value, headers=[("trace-id", b"abc")])) == expected


def test_a_huge_field_is_clipped() -> None:
    out = render_message("{v}", rec(b'{"v":"' + b"x" * 2000 + b'"}'))
    assert len(out) == 500 and out.endswith("…")


# ---------------------------------------------------------------- delivered records


def action(kind: str, msg: MessageRef | None = None) -> Action:
    ev = AlertEvent(type="firing", alert_id="a-1", at=50.0, rule="r", seq=2, channel="#ops",
                    subject=Subject(cluster="p", group="g"))
    return Action(kind, ev, ev, msg, 7)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "expected"), [
    ("post", [("firing", 100.0, 1)]),
    ("refire", [("firing", 10.0, 4)]),
    ("resolve", [("resolved", 10.0, 3)]),
    ("post_resolved", [("firing", 100.0, 1), ("resolved", 100.0, 1)]),
    ("notice", [("notice", 100.0, 1)]),
])
def test_delivered_records_keep_the_message_and_its_history(kind: str,
                                                            expected: list[Any]) -> None:
    msg = MessageRef("C0OPS", "111.2", 10.0, 1, 3)
    out = delivered_events(action(kind, msg), Delivery("C0OPS", "111.2"), at=100.0, by="me")
    assert [(e.of, e.posted_at, e.times) for e in out] == expected
    assert all((e.type, e.alert_id, e.seq, e.ts, e.target, e.by) ==
               ("delivered", "a-1", 2, "111.2", "C0OPS", "me") for e in out)


# ---------------------------------------------------------------- metrics text


def lines(reg: MetricsRegistry) -> list[str]:
    return reg.render().splitlines()


@pytest.mark.parametrize(("raw", "escaped"), [
    ("plain", "plain"), ('say "hi"', 'say \\"hi\\"'), ("a\\b", "a\\\\b"), ("l1\nl2", "l1\\nl2"),
])
def test_label_values_are_escaped(raw: str, escaped: str) -> None:
    reg = MetricsRegistry()
    reg.set("kafkaops_cluster_up", {"cluster": raw}, 1)
    assert f'kafkaops_cluster_up{{cluster="{escaped}"}} 1.0' in lines(reg)
    assert parse_text(reg.render())["kafkaops_cluster_up"] == {(("cluster", raw),): 1.0}


@pytest.mark.parametrize(("value", "text"), [
    (3, "3.0"), (2.5, "2.5"), (1e20, "1e+20"), (1764085271.5, "1.7640852715e+09"),
    (math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (0.0, "0.0"),
])
def test_values_are_written_as_prometheus_reads_them(value: float, text: str) -> None:
    reg = MetricsRegistry()
    reg.set("kafkaops_alert_evaluation_duration_seconds", {}, value)
    assert f"kafkaops_alert_evaluation_duration_seconds {text}" in lines(reg)
    (read,) = parse_text(reg.render())["kafkaops_alert_evaluation_duration_seconds"].values()
    assert read == value or (math.isnan(read) and math.isnan(value))


def test_registry_renders_help_type_and_samples() -> None:
    reg = MetricsRegistry()
    reg.inc("kafkaops_slack_api_errors_total", {"method": "chat.postMessage",
                                                "error": "ratelimited"})
    reg.inc("kafkaops_slack_api_errors_total", {"method": "chat.postMessage",
                                                "error": "ratelimited"})
    reg.set("kafkaops_cluster_up", {"cluster": "primary"}, 1)
    text = reg.render()
    assert "# TYPE kafkaops_slack_api_errors_total counter" in text
    assert ('kafkaops_slack_api_errors_total{error="ratelimited",method="chat.postMessage"} 2.0'
            in text.splitlines())
    assert "# HELP kafkaops_group_partition_lag Records the group has not read yet, per " \
           "partition" in text
    assert "_created" not in text  # no creation-time series next to the counters
    parsed = parse_text(text)
    assert parsed["kafkaops_cluster_up"] == {(("cluster", "primary"),): 1.0}


def test_firing_alerts_are_replaced_whole() -> None:
    reg = MetricsRegistry()
    crit, warn = (("rule", "a"), ("severity", "critical")), (("rule", "b"), ("severity", "warning"))
    reg.replace("kafkaops_alerts_firing", {crit: 2, warn: 1})
    reg.replace("kafkaops_alerts_firing", {crit: 0})
    assert parse_text(reg.render())["kafkaops_alerts_firing"] == {crit: 0.0}


def test_each_registry_keeps_its_own_numbers_out_of_the_default_one() -> None:
    from prometheus_client import REGISTRY, generate_latest

    one, two = MetricsRegistry(), MetricsRegistry()
    one.inc("kafkaops_alert_evaluations_total", by=3)
    two.inc("kafkaops_alert_evaluations_total")
    assert one.value("kafkaops_alert_evaluations_total") == 3
    assert parse_text(two.render())["kafkaops_alert_evaluations_total"] == {(): 1.0}
    assert b"kafkaops_" not in generate_latest(REGISTRY)
    # nor does the default registry's process and Python runtime data reach a scrape
    assert "process_" not in one.render() and "python_" not in one.render()


@pytest.mark.parametrize(("name", "labels", "problem"), [
    ("kafkaops_clusterup", {"cluster": "primary"}, "not one of core/metrics.py's KNOWN"),
    ("kafkaops_cluster_up", {}, "takes labels ['cluster'], not []"),
    ("kafkaops_cluster_up", {"cluster": "p", "group": "g"},
     "takes labels ['cluster'], not ['cluster', 'group']"),
])
def test_an_unknown_metric_or_wrong_labels_are_refused(name: str, labels: dict[str, str],
                                                        problem: str) -> None:
    reg = MetricsRegistry()
    before = reg.render()
    with pytest.raises(ValueError, match=re.escape(problem)):
        reg.set(name, labels, 1)
    with pytest.raises(ValueError, match=re.escape(problem)):
        reg.inc(name, labels)
    assert reg.render() == before


def group_lag(group: str, lags: dict[int, int | None], status: Status,
              members: int | None = 1) -> GroupLag:
    """A group reading partitions of "orders"; None: a partition it never committed."""
    parts = tuple(
        PartitionLag("orders", p, None if lag is None else 100 - lag, 0, 100, lag,
                     None if lag is None else lag * 2.0,
                     PartitionState.NO_OFFSET if lag is None else PartitionState.OK,
                     Status.UNKNOWN if lag is None else status, None, None, None, None, None,
                     None)
        for p, lag in lags.items())
    known = [x for x in lags.values() if x is not None]
    total = sum(known) if known else None
    secs = max(known) * 2.0 if known else None
    return GroupLag(group, "Stable", None if members is None else (), parts,
                    (TopicLag("orders", len(parts), total, secs, status, None, None),),
                    total, secs, status, None, None, 1, 0.0)


def test_lag_series_follow_the_latest_snapshot_of_each_cluster() -> None:
    reg = MetricsRegistry()
    reg.observe_lag(LagSnapshot("primary", 1000.0, 0.25, (
        group_lag("billing", {0: 18, 1: None}, Status.STOP, members=0),
        group_lag("audit", {0: 0}, Status.OK, members=None)), {}))
    reg.observe_lag(LagSnapshot("dr", 1000.0, 0.5, (group_lag("billing", {0: 4}, Status.OK),), {}))
    m = parse_text(reg.render())
    billing = (("cluster", "primary"), ("group", "billing"))
    p0 = (*billing, ("partition", "0"), ("topic", "orders"))
    assert m["kafkaops_group_partition_lag"][p0] == 18
    assert m["kafkaops_group_partition_lag_seconds"][p0] == 36.0
    # a partition the group never committed has no lag to show
    assert (*billing, ("partition", "1"), ("topic", "orders")) not in \
        m["kafkaops_group_partition_lag"]
    assert m["kafkaops_group_topic_lag"][(*billing, ("topic", "orders"))] == 18
    assert m["kafkaops_group_lag"][billing] == 18
    assert m["kafkaops_group_lag"][(("cluster", "dr"), ("group", "billing"))] == 4
    statuses = {dict(k)["status"]: v for k, v in m["kafkaops_group_status"].items()
                if k[:2] == billing}
    assert statuses == {s.value: (1.0 if s is Status.STOP else 0.0) for s in Status}
    assert m["kafkaops_group_members"][billing] == 0
    # members unknown (the group could not be described): no members series for it
    assert (("cluster", "primary"), ("group", "audit")) not in m["kafkaops_group_members"]
    assert m["kafkaops_group_data_loss"][billing] == 0
    assert m["kafkaops_lag_snapshot_duration_seconds"][(("cluster", "dr"),)] == 0.5
    # a group gone from the cluster's next snapshot is gone from the next scrape
    reg.observe_lag(LagSnapshot("primary", 1015.0, 0.25,
                                (group_lag("audit", {0: 0}, Status.OK),), {}))
    m = parse_text(reg.render())
    assert set(m["kafkaops_group_lag"]) == {(("cluster", "primary"), ("group", "audit")),
                                            (("cluster", "dr"), ("group", "billing"))}
    assert not any(k[:2] == billing for k in m["kafkaops_group_status"])
