"""Alert rules as a specification: what `when` accepts and how it reads, what config errors
say, three-valued evaluation, stable alert ids, `for:` over a sequence of evaluations on a
fake clock, flap damping, and the book the notifier works from. Pure: no broker."""

from __future__ import annotations

from typing import Any

import pytest

from kafkaops.core.alerts.book import AlertBook
from kafkaops.core.alerts.conditions import (
    Cmp,
    RuleSyntaxError,
    Truth,
    evaluate,
    parse_when,
    scope_of,
)
from kafkaops.core.alerts.config import compile_rules
from kafkaops.core.alerts.evaluate import AlertTracker
from kafkaops.core.alerts.metrics import dr_observation
from kafkaops.core.alerts.model import AlertEvent, Observation, Subject, alert_id
from kafkaops.core.config import parse_config
from kafkaops.core.errors import ConfigError
from kafkaops.core.expr.kernel import BoolOp as BoolExpr
from kafkaops.core.expr.kernel import Not as NotExpr
from kafkaops.core.lag.status import Status

# ---------------------------------------------------------------- parsing `when`


@pytest.mark.parametrize(("text", "tree"), [
    ("lag > 1000", Cmp("lag", ">", 1000.0)),
    ("lag_seconds > 300", Cmp("lag_seconds", ">", 300.0)),
    ("lag_seconds >= 5m", Cmp("lag_seconds", ">=", 300.0)),
    ("lag_seconds > 1.5h", Cmp("lag_seconds", ">", 5400.0)),
    ("lag > 10_000", Cmp("lag", ">", 10000.0)),
    ("members == 0", Cmp("members", "==", 0.0)),
    ("members = 0", Cmp("members", "==", 0.0)),
    ("status == STOP", Cmp("status", "==", Status.STOP)),
    ("status == 'data loss'", Cmp("status", "==", Status.DATA_LOSS)),
    ("status in [ERR, stop, Stall]",
     Cmp("status", "in", (Status.ERR, Status.STOP, Status.STALL))),
    ("status >= WARN", Cmp("status", ">=", Status.WARN)),
    ("data_loss", Truth("data_loss")),
    ("data_loss == true", Cmp("data_loss", "==", True)),
    ("not data_loss", NotExpr(Truth("data_loss"))),
    ("broker_unreachable", Truth("unreachable")),
    ("offline_partitions > 0 or under_replicated > 0",
     BoolExpr("or", (Cmp("offline_partitions", ">", 0.0),
                     Cmp("under_replicated_partitions", ">", 0.0)))),
    ("lag > 100 and (members == 0 or status == ERR)",
     BoolExpr("and", (Cmp("lag", ">", 100.0), BoolExpr("or", (
         Cmp("members", "==", 0.0), Cmp("status", "==", Status.ERR)))))),
    ("lag > 1 && lag_seconds > 60", BoolExpr("and", (Cmp("lag", ">", 1.0),
                                                     Cmp("lag_seconds", ">", 60.0)))),
    ("rpo_exceeded or heartbeat_age > 2m",
     BoolExpr("or", (Truth("rpo_exceeded"), Cmp("heartbeat_age", ">", 120.0)))),
])
def test_when_reads_as_written(text: str, tree: Any) -> None:
    assert parse_when(text) == tree


@pytest.mark.parametrize(("text", "scope"), [
    ("lag > 1", "group"), ("status == STOP and members == 0", "group"),
    ("offline_partitions > 0", "topic"), ("unreachable", "cluster"),
    ("dr_lag_seconds > 60", "dr"),
])
def test_a_condition_is_about_one_kind_of_subject(text: str, scope: str) -> None:
    assert scope_of(parse_when(text), text) == scope


@pytest.mark.parametrize(("text", "problem", "column"), [
    ("", "the condition is empty", 1),
    ("lagg > 5", "unknown metric 'lagg'; did you mean 'lag'?", 1),
    ("lag_secs > 5", "unknown metric 'lag_secs'; did you mean 'lag_seconds'?", 1),
    ("lag > ", "expected a value after '>'", 7),
    ("lag >", "expected a value after '>'", 6),
    ("lag", "lag needs a comparison, e.g. `lag > 1000`", 1),
    ("lag > 5m", "lag is a count, not a duration: drop 'm'", 7),
    ("lag > 10k", "cannot read '10k'", 7),
    ("lag > five", "lag is a count: expected a number, found 'five'", 7),
    ("status == SLOW", "unknown lag status 'SLOW'", 11),
    ("status in ERR", "expected a list after `in`", 11),
    ("status in []", "the list is empty", 12),
    ("lag in [1]", "`in` compares a status with a list", 5),
    ("data_loss > 1", "data_loss is true or false: compare it with == or !=", 11),
    ("data_loss == maybe", "data_loss is true or false, not 'maybe'", 14),
    ("lag > 5 lag_seconds > 1", "expected `and` or `or` before 'lag_seconds'", 9),
    ("(lag > 5", "expected `)` to close the `(`", 1),
    ("lag > 5)", "unexpected ')'", 8),
    ('status == "STOP', "string is not closed", 11),
])
def test_when_that_does_not_parse_says_what_and_where(text: str, problem: str,
                                                      column: int) -> None:
    with pytest.raises(RuleSyntaxError) as e:
        parse_when(text)
    assert problem in e.value.message
    assert e.value.column + 1 == column
    assert f"(column {column})" in str(e.value)


def test_mixing_subjects_is_refused_with_the_metrics_named() -> None:
    with pytest.raises(RuleSyntaxError) as e:
        scope_of(parse_when("lag > 5 or offline_partitions > 0"), "")
    assert "lag on a consumer group; offline_partitions on a topic" in e.value.message


# ---------------------------------------------------------------- rules in config

CLUSTERS = {"primary": {"bootstrap_servers": "h:1"}, "dr": {"bootstrap_servers": "h:2"}}


def config_with(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"clusters": CLUSTERS, "alerts": {"rules": list(rules)}, **extra}


GOOD = {"name": "orders-behind", "match": {"cluster": "primary", "group": "orders-*"},
        "when": "lag_seconds > 300", "for": "2m", "severity": "critical",
        "channel": "C0123ORDERS"}


@pytest.mark.parametrize(("rule", "message"), [
    ({**GOOD, "when": "lag_secs > 300"},
     "alerts.rules[1] (orders-behind): when: unknown metric 'lag_secs'; did you mean "
     "'lag_seconds'?"),
    ({**GOOD, "when": "lag > 5m"},
     "alerts.rules[1] (orders-behind): when: lag is a count, not a duration"),
    ({**GOOD, "match": {"cluster": "primary", "grup": "x"}},
     "alerts.rules[1] (orders-behind): match.grup: a rule on consumer groups (lag_seconds) "
     "matches on cluster, group, topic, not grup"),
    ({**GOOD, "match": {"cluster": "prmary"}},
     "alerts.rules[1] (orders-behind): match.cluster: 'prmary' matches no cluster under "
     "clusters: (configured: primary, dr)"),
    ({**GOOD, "when": "offline_partitions > 0", "match": {"group": "x"}},
     "match.group: a rule on topics (offline_partitions) matches on cluster, topic"),
    ({**GOOD, "channel": "orders"},
     "alerts.rules[1] (orders-behind): channel: 'orders' is neither a Slack channel id"),
    ({**GOOD, "filter": "status == 1"},
     "alerts.rules[1] (orders-behind): filter: applies to event rules"),
    ({**GOOD, "when": "dr_lag_seconds > 60", "match": None},
     "when: dr_lag_seconds needs a DR pair under dr: pairs:"),
    ({"name": "ci", "watch": {"cluster": "primary"}, "channel": "C0456CICD"},
     "alerts.rules[1] (ci): watch.topic: required"),
    ({"name": "ci", "watch": {"cluster": "nope", "topic": "t"}, "channel": "C0456CICD"},
     "alerts.rules[1] (ci): watch.cluster: no cluster named 'nope'"),
    ({"name": "ci", "watch": {"topic": "t"}, "filter": 'status == "failed" and',
      "channel": "C0456CICD"},
     "alerts.rules[1] (ci): filter: bad filter: expected a field name or a value at the end"),
    ({"name": "ci", "watch": {"topic": "t"}, "message": "{pipeline failed",
      "channel": "C0456CICD"},
     "alerts.rules[1] (ci): message: unmatched '{' at column 1"),
    ({"name": "ci", "watch": {"topic": "t"}, "message": "{a..b} failed",
      "channel": "C0456CICD"},
     "alerts.rules[1] (ci): message: {a..b} is not a field name"),
    ({"name": "ci", "watch": {"topic": "t"}, "max_per_minute": 0, "channel": "C0456CICD"},
     "alerts.rules[1] (ci): max_per_minute: must be at least 1"),
    ({"name": "ci", "watch": {"topic": "t"}, "for": "1m", "channel": "C0456CICD"},
     "alerts.rules[1] (ci): for: applies to metric rules"),
    ({"name": "ci", "watch": {"topic": "t*"}, "channel": "C0456CICD"},
     "watch.topic: 't*': name one topic (no patterns)"),
])
def test_a_rule_that_does_not_parse_is_a_config_error_naming_it(rule: dict[str, Any],
                                                                 message: str) -> None:
    # the first rule is fine: the error must name the second one, by index and by name
    data = config_with({**GOOD, "name": "fine"}, {k: v for k, v in rule.items()
                                                   if v is not None})
    with pytest.raises(ConfigError) as e:
        parse_config(data, "alerts.yaml")
    assert str(e.value).startswith("alerts.yaml: ")
    assert message in str(e.value)


def test_the_bad_filter_keeps_its_caret_under_the_fault() -> None:
    data = config_with({"name": "ci", "watch": {"topic": "t"}, "channel": "#cicd",
                        "filter": 'status == "failed" and and'})
    with pytest.raises(ConfigError) as e:
        parse_config(data, "c.yaml")
    lines = str(e.value).splitlines()
    assert lines[-2].strip() == 'status == "failed" and and'
    assert lines[-1].index("^") - lines[-2].index("s") == len('status == "failed" and ')


def test_alerts_cluster_must_be_configured() -> None:
    data = config_with(GOOD)
    data["alerts"]["cluster"] = "nowhere"
    with pytest.raises(ConfigError, match="alerts.cluster: no cluster named 'nowhere'"):
        parse_config(data, "c.yaml")


async def test_alerts_cannot_live_on_a_read_only_cluster() -> None:
    from kafkaops.core.alerts.log import AlertLog
    from kafkaops.core.errors import Refused
    from kafkaops.core.services import Services

    data = config_with(GOOD, default_cluster="primary")
    data["clusters"] = {**CLUSTERS, "primary": {**CLUSTERS["primary"], "read_only": True}}
    config = parse_config(data, "c.yaml")  # loads: every read command still works
    async with Services(config) as services:
        with pytest.raises(Refused, match="cluster 'primary' is read-only .* write alert events "
                                          "there \\(set alerts.cluster to a writable cluster"):
            await AlertLog(services).partitions()
    data["alerts"]["cluster"] = "dr"
    assert parse_config(data, "c.yaml").alerts.cluster == "dr"


def test_good_rules_compile() -> None:
    cfg = parse_config(config_with(
        GOOD,
        {"name": "ci", "watch": {"cluster": "dr", "topic": "cicd.pipeline-events"},
         "filter": 'status == "failed"', "message": "{pipeline} failed at {stage}",
         "channel": "#cicd"},
        {"name": "down", "when": "unreachable", "channel": "C0ALLHANDS"},
    ), "c.yaml")
    rules = compile_rules(cfg)
    assert [r.name for r in rules.metric] == ["orders-behind", "down"]
    assert rules.metric[0].for_seconds == 120.0 and rules.metric[0].severity == "critical"
    ev = rules.event[0]
    assert (ev.cluster, ev.topic, ev.max_per_minute) == ("dr", "cicd.pipeline-events", 6)
    assert ev.filter is not None and ev.filter_text == 'status == "failed"'


# ---------------------------------------------------------------- evaluating


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("lag > 100", {"lag": 101}, True),
    ("lag > 100", {"lag": 100}, False),
    ("lag > 100", {"lag": None}, None),
    ("lag_seconds > 5m", {"lag_seconds": 301.0}, True),
    ("status == STOP", {"status": Status.STOP}, True),
    ("status != OK", {"status": Status.WARN}, True),
    ("status in [ERR, STOP]", {"status": Status.OK}, False),
    ("status >= STALL", {"status": Status.ERR}, True),
    ("status >= STALL", {"status": Status.WARN}, False),
    ("status == STOP", {"status": Status.UNKNOWN}, None),
    ("status == UNKNOWN", {"status": Status.UNKNOWN}, True),
    ("data_loss", {"data_loss": True}, True),
    ("not data_loss", {"data_loss": False}, True),
    ("members == 0", {"members": None}, None),
    # three-valued: unknown and false is false, unknown or true is true
    ("lag > 5 and members == 0", {"lag": None, "members": 2}, False),
    ("lag > 5 and members == 0", {"lag": None, "members": 0}, None),
    ("lag > 5 or members == 0", {"lag": None, "members": 0}, True),
    ("lag > 5 or members == 0", {"lag": None, "members": 1}, None),
    ("not lag > 5", {"lag": None}, None),
])
def test_evaluation_is_three_valued(text: str, values: dict[str, Any],
                                    expected: bool | None) -> None:
    assert evaluate(parse_when(text), values) is expected


def test_alert_ids_are_stable_and_name_the_subject() -> None:
    s = Subject(cluster="primary", group="orders-1")
    assert alert_id("orders-behind", s) == alert_id("orders-behind",
                                                    Subject(cluster="primary", group="orders-1"))
    others = {
        alert_id("orders-behind", Subject(cluster="dr", group="orders-1")),
        alert_id("orders-behind", Subject(cluster="primary", group="orders-2")),
        alert_id("orders-behind", Subject(cluster="primary", group="orders-1", topic="t")),
        alert_id("other-rule", s),
        # a group named like a topic is not that topic
        alert_id("orders-behind", Subject(cluster="primary", topic="orders-1")),
    }
    assert alert_id("orders-behind", s) not in others and len(others) == 5
    # fixed across versions and processes: a notifier replica must find the same key
    assert alert_id("orders-behind", s) == "a-26dcbee0eebf16fff212"


# ---------------------------------------------------------------- `for:` over time


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_rules(*rules: dict[str, Any], **alerts: Any) -> Any:
    data = config_with(*rules)
    data["alerts"].update(alerts)
    return compile_rules(parse_config(data, "c.yaml"))


def lag_obs(group: str, lag: int | None, **more: Any) -> Observation:
    return Observation(Subject(cluster="primary", group=group),
                       {"lag": lag, "lag_seconds": None, "status": Status.OK, "members": 1,
                        "data_loss": False, **more})


def run(tracker: AlertTracker, book: AlertBook, now: float, obs: list[Observation],
        observed: set[str] | None = None) -> list[AlertEvent]:
    events, _ = tracker.step(now, obs, observed={"primary"} if observed is None else observed,
                             book=book)
    for e in events:
        book.apply(e)
    return events


RULE = {"name": "behind", "match": {"group": "orders-*"}, "when": "lag > 100", "for": "2m",
        "severity": "critical", "channel": "C0123ORDERS"}


def test_for_fires_only_once_the_condition_held_that_long() -> None:
    tracker = AlertTracker(make_rules(RULE).metric, min_firing=0)
    book = AlertBook()
    t0 = 1_700_000_000.0
    timeline = [  # (seconds after t0, lag, what is published)
        (0, 500, []), (60, 600, []), (90, 50, []),          # dipped: the clock restarts
        (100, 700, []), (200, 800, []), (220, 900, ["firing"]),
        (235, 950, []), (250, 10, ["resolved"]), (260, 10, []),
    ]
    published = []
    for dt, lag, expected in timeline:
        events = run(tracker, book, t0 + dt, [lag_obs("orders-1", lag)])
        assert [e.type for e in events] == expected, f"at +{dt}s"
        published += events
    firing, resolved = published
    assert firing.seq == resolved.seq == 1
    assert firing.since == t0 + 100  # when the condition started to hold, for the message
    assert firing.values == {"lag": 900} and firing.summary.startswith(
        "group orders-1 on primary: lag 900")
    assert resolved.fired_at == firing.at
    # it fires again as a new episode
    run(tracker, book, t0 + 300, [lag_obs("orders-1", 999)])
    again = run(tracker, book, t0 + 421, [lag_obs("orders-1", 999)])
    assert [(e.type, e.seq) for e in again] == [("firing", 2)]


def test_unknown_neither_fires_nor_resolves_and_keeps_the_for_clock() -> None:
    tracker = AlertTracker(make_rules({**RULE, "for": "1m"}).metric, min_firing=0)
    book = AlertBook()
    t0 = 1_700_000_000.0
    assert run(tracker, book, t0, [lag_obs("orders-1", 500)]) == []
    assert run(tracker, book, t0 + 30, [lag_obs("orders-1", None)]) == []
    assert [e.type for e in run(tracker, book, t0 + 60, [lag_obs("orders-1", 500)])] == [
        "firing"]
    # the cluster did not answer: its subjects are unknown, nothing resolves
    assert run(tracker, book, t0 + 90, [], observed=set()) == []
    assert [e.type for e in run(tracker, book, t0 + 95, [lag_obs("orders-1", None)])] == []
    assert [e.type for e in run(tracker, book, t0 + 99, [lag_obs("orders-1", 0)])] == [
        "resolved"]


def test_min_firing_damps_a_flapping_condition() -> None:
    tracker = AlertTracker(make_rules({**RULE, "for": "0s"}).metric, min_firing=60)
    book = AlertBook()
    t0 = 1_700_000_000.0
    types = []
    for dt, lag in [(0, 500), (15, 0), (30, 500), (45, 0), (60, 0), (75, 0)]:
        types.append([e.type for e in run(tracker, book, t0 + dt, [lag_obs("orders-1", lag)])])
    assert types == [["firing"], [], [], [], ["resolved"], []]


def test_a_group_that_disappears_resolves_its_alert() -> None:
    tracker = AlertTracker(make_rules({**RULE, "for": "0s"}).metric, min_firing=0)
    book = AlertBook()
    t0 = 1_700_000_000.0
    run(tracker, book, t0, [lag_obs("orders-1", 500), lag_obs("orders-2", 500)])
    events = run(tracker, book, t0 + 15, [lag_obs("orders-2", 500)])
    assert [(e.type, e.subject.group) for e in events] == [("resolved", "orders-1")]
    assert "no longer reported" in events[0].summary


def test_only_matching_subjects_are_judged() -> None:
    tracker = AlertTracker(make_rules({**RULE, "for": "0s"}).metric, min_firing=0)
    events, results = tracker.step(1.0, [lag_obs("orders-1", 500), lag_obs("billing", 500)],
                                   observed={"primary"}, book=AlertBook())
    assert [r.subject.group for r in results] == ["orders-1"]
    assert [e.subject.group for e in events] == ["orders-1"]


def test_two_evaluator_replicas_fire_once_through_the_shared_book() -> None:
    """Replica B reads what A published (the topic) before its own evaluation: it does not
    fire again, and when it is first to see the recovery, it resolves A's alert."""
    rules = make_rules({**RULE, "for": "0s"}).metric
    a, b = AlertTracker(rules, by="a"), AlertTracker(rules, by="b")
    book_a, book_b = AlertBook(), AlertBook()
    t0 = 1_700_000_000.0
    fired = run(a, book_a, t0, [lag_obs("orders-1", 500)])
    for e in fired:
        book_b.apply(e)  # B follows the topic
    assert run(b, book_b, t0 + 1, [lag_obs("orders-1", 500)]) == []
    resolved = run(b, book_b, t0 + 20, [lag_obs("orders-1", 0)])
    assert [(e.type, e.seq, e.by) for e in resolved] == [("resolved", 1, "b")]


# ---------------------------------------------------------------- the notifier's book


def ev(kind: str, seq: int, at: float, aid: str = "a-1", **kw: Any) -> AlertEvent:
    return AlertEvent(type=kind, alert_id=aid, at=at, rule="behind", seq=seq,  # type: ignore[arg-type]
                      channel="C0123ORDERS", subject=Subject(cluster="p", group="g"), **kw)


def delivered(of: str, seq: int, at: float, ts: str = "1.1", aid: str = "a-1",
              times: int = 1, posted_at: float | None = None) -> AlertEvent:
    return AlertEvent(type="delivered", alert_id=aid, at=at, seq=seq, of=of, target="C0123",
                      ts=ts, posted_at=posted_at or at, times=times)


def kinds(book: AlertBook, now: float = 10_000.0, renotify: float = 1800.0,
          horizon: Any = None) -> list[tuple[str, str, int]]:
    return [(a.kind, a.alert_id, a.event.seq)
            for a in book.pending(now, renotify=renotify, horizon=horizon)]


def test_book_posts_a_firing_alert_once_whatever_the_duplicates() -> None:
    book = AlertBook()
    book.apply(ev("firing", 1, 100.0), 0)
    book.apply(ev("firing", 1, 101.0), 1)  # a second evaluator replica raced the first
    assert kinds(book) == [("post", "a-1", 1)]
    book.apply(delivered("firing", 1, 102.0), 2)
    assert kinds(book) == []
    book.apply(ev("resolved", 1, 200.0), 3)
    book.apply(ev("firing", 1, 201.0), 4)  # a late duplicate of an older state: ignored
    assert kinds(book) == [("resolve", "a-1", 1)]
    action = book.pending(10_000.0, renotify=1800.0)[0]
    assert action.message is not None and action.message.ts == "1.1"
    assert action.firing is not None and action.firing.at == 100.0
    book.apply(delivered("resolved", 1, 202.0), 5)
    assert kinds(book) == [] and book.firing() == []


def test_a_refire_soon_after_updates_the_same_message() -> None:
    book = AlertBook()
    for i, e in enumerate([ev("firing", 1, 100.0), delivered("firing", 1, 101.0),
                           ev("resolved", 1, 200.0),
                           delivered("resolved", 1, 201.0, posted_at=101.0),
                           ev("firing", 2, 300.0)]):
        book.apply(e, i)
    assert kinds(book, now=400.0) == [("refire", "a-1", 2)]
    # past the renotify interval it is a new message
    assert kinds(book, now=101.0 + 1800.0) == [("post", "a-1", 2)]


def test_fired_and_resolved_before_anyone_posted_it_is_one_message_if_new() -> None:
    book = AlertBook()
    book.apply(ev("firing", 1, 100.0), 5)
    book.apply(ev("resolved", 1, 150.0), 6)
    assert kinds(book) == [("post_resolved", "a-1", 1)]
    # history from before this notifier group's horizon is not re-posted
    assert kinds(book, horizon=lambda off: off is None or off >= 7) == []


def test_history_is_not_reposted_but_a_firing_alert_always_shows() -> None:
    book = AlertBook()
    book.apply(ev("firing", 1, 100.0), 0)
    book.apply(AlertEvent(type="notice", alert_id="n-1", at=100.0, rule="ci", text="x",
                          count=1), 1)
    assert kinds(book, horizon=lambda off: off is None or off >= 2) == [("post", "a-1", 1)]
    assert kinds(book) == [("post", "a-1", 1), ("notice", "n-1", 0)]


def test_snooze_holds_the_post_until_it_ends() -> None:
    book = AlertBook()
    book.apply(ev("firing", 1, 100.0), 0)
    book.apply(AlertEvent(type="snoozed", alert_id="a-1", at=101.0, until=3701.0), 1)
    assert kinds(book, now=200.0) == []
    assert kinds(book, now=3702.0) == [("post", "a-1", 1)]


def test_events_round_trip_through_json() -> None:
    e = ev("firing", 3, 100.5, values={"status": Status.STOP, "lag": 12, "lag_seconds": 1.23456},
           since=90.0, when="status == STOP", summary="s", for_seconds=60.0)
    back = AlertEvent.decode(e.encode())
    assert back.values == {"status": "STOP", "lag": 12, "lag_seconds": 1.235}
    assert (back.type, back.seq, back.subject, back.since, back.for_seconds) == (
        "firing", 3, Subject(cluster="p", group="g"), 90.0, 60.0)
    n = AlertEvent(type="notice", alert_id="n-1", at=1.0, count=500,
                   examples=(("a", 480), ("b", 20)))
    assert AlertEvent.decode(n.encode()).examples == (("a", 480), ("b", 20))


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"type": "firing"}', b"[1]",
                                 b'{"type": "party", "alert_id": "x", "at": 1}'])
def test_records_that_are_not_alert_events_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        AlertEvent.decode(raw)


def test_dr_rules_read_the_pair_status() -> None:
    from types import SimpleNamespace

    data = config_with({"name": "rpo", "match": {"pair": "main"},
                        "when": "rpo_exceeded or heartbeat_age > 2m", "channel": "#dr"},
                       dr={"pairs": [{"name": "main", "primary": "primary",
                                      "secondary": "dr"}]})
    tracker = AlertTracker(compile_rules(parse_config(data, "c.yaml")).metric)
    book = AlertBook()

    def status(rpo_ok: bool | None, hb: float | None) -> Observation:
        return dr_observation(SimpleNamespace(pair="main", rpo_ok=rpo_ok, heartbeat_age_seconds=hb,
                                              max_lag_messages=10, max_lag_seconds=5.0))

    assert run(tracker, book, 1.0, [status(True, 30.0)], {"dr:main"}) == []
    (fired,) = run(tracker, book, 2.0, [status(True, 300.0)], {"dr:main"})
    assert fired.subject == Subject(pair="main") and fired.values == {
        "rpo_exceeded": False, "heartbeat_age": 300.0}
    assert "DR pair main: rpo_exceeded no, heartbeat_age 5m00s" in fired.summary
    # the source unreachable: the RPO is unknown, the heartbeat still old: still firing
    assert run(tracker, book, 3.0, [status(None, 400.0)], {"dr:main"}) == []
    assert [e.type for e in run(tracker, book, 4.0, [status(True, 10.0)], {"dr:main"})] == [
        "resolved"]
