"""Pure parts of alerting: event-rule grouping and rate limiting on a fake clock, message
templates, the `delivered` records, and the Prometheus text /metrics serves."""

from __future__ import annotations

import math
from typing import Any

import pytest

from kafkaops.core.alert_events import EventGrouper, Match, render_message
from kafkaops.core.alert_log import Delivery, delivered_events
from kafkaops.core.alerts import Action, AlertEvent, EventRule, MessageRef, Subject
from kafkaops.core.messages import Message
from kafkaops.core.metrics import (
    MetricsRegistry,
    escape_label,
    format_value,
    parse_text,
    sample_line,
)


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


@pytest.mark.parametrize(("raw", "escaped"), [
    ("plain", "plain"), ('say "hi"', 'say \\"hi\\"'), ("a\\b", "a\\\\b"), ("l1\nl2", "l1\\nl2"),
])
def test_label_values_are_escaped(raw: str, escaped: str) -> None:
    assert escape_label(raw) == escaped
    line = sample_line("x", {"group": raw}, 1)
    assert parse_text(line) == {"x": {(("group", raw),): 1.0}}


@pytest.mark.parametrize(("value", "text"), [
    (3, "3"), (2.5, "2.5"), (1e20, "1e+20"), (math.nan, "NaN"), (math.inf, "+Inf"),
    (-math.inf, "-Inf"), (0.0, "0"),
])
def test_values_are_written_as_prometheus_reads_them(value: float, text: str) -> None:
    assert format_value(value) == text


def test_registry_renders_help_type_and_samples() -> None:
    reg = MetricsRegistry()
    reg.inc("kafkaops_slack_api_errors_total", {"method": "chat.postMessage",
                                                "error": "ratelimited"})
    reg.inc("kafkaops_slack_api_errors_total", {"method": "chat.postMessage",
                                                "error": "ratelimited"})
    reg.set("kafkaops_cluster_up", {"cluster": "primary"}, 1)
    text = reg.render()
    assert "# TYPE kafkaops_slack_api_errors_total counter" in text
    assert ('kafkaops_slack_api_errors_total{error="ratelimited",method="chat.postMessage"} 2'
            in text.splitlines())
    assert "# HELP kafkaops_group_partition_lag Records the group has not read yet, per " \
           "partition" in text
    parsed = parse_text(text)  # raises on a line that is neither a comment nor a sample
    assert parsed["kafkaops_cluster_up"] == {(("cluster", "primary"),): 1.0}
