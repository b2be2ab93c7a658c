"""Owners, runbooks, team routing, acknowledgements and "much worse" as a specification:
what config accepts and refuses (with the key named), where an alert goes and whom it
@mentions, when a firing alert counts as markedly worse, and how the book folds `acked`
and `changed` records (duplicates, old episodes, records someone wrote by hand). Pure."""

from __future__ import annotations

from typing import Any

import pytest

from kafkaops.bot.render.alerts import mentions, render_firing, runbook_link
from kafkaops.core.alerts.book import AlertBook
from kafkaops.core.alerts.conditions import parse_when
from kafkaops.core.alerts.config import compile_rules
from kafkaops.core.alerts.evaluate import AlertTracker, worse
from kafkaops.core.alerts.model import AlertEvent, Observation, Subject
from kafkaops.core.config import owner_ids, parse_config
from kafkaops.core.errors import ConfigError
from kafkaops.core.lag.status import Status
from tests.slack_server import _texts

RULE = {"name": "behind", "match": {"group": "billing-*"}, "when": "lag > 100",
        "channel": "C0ORDERS"}


def config(rule: dict[str, Any] | None = None, teams: dict[str, Any] | None = None,
           **more: Any) -> Any:
    data: dict[str, Any] = {"clusters": {"primary": {"bootstrap_servers": "k:9092"}},
                            "alerts": {"rules": [{**RULE, **(rule or {})}]}, **more}
    if teams is not None:
        data["teams"] = teams
    return parse_config(data, "config.yaml")


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(("owner", "ids"), [
    ("S0ONCALL", ("S0ONCALL",)),
    ("<!subteam^S0ONCALL>", ("S0ONCALL",)),
    ("<!subteam^S0ONCALL|@oncall>", ("S0ONCALL",)),
    (["<@U0ALICE>", "U0BOB", "W0CAROL"], ("U0ALICE", "U0BOB", "W0CAROL")),
    ("S0ONCALL, U0ALICE S0ONCALL", ("S0ONCALL", "U0ALICE")),
    (None, ()),
])
def test_owners_are_slack_ids_however_written(owner: Any, ids: tuple[str, ...]) -> None:
    assert owner_ids(owner, "x") == ids
    assert compile_rules(config({"owner": owner})).metric[0].owner == ids


@pytest.mark.parametrize(("rule", "teams", "problem"), [
    ({"owner": "@oncall"}, None,
     "alerts.rules[0] (behind): owner: '@oncall' is not a Slack user group or user"),
    ({"owner": ["U0ALICE", "<!channel>"]}, None,
     "alerts.rules[0] (behind): owner[1]: '<!channel>' is not a Slack user group or user"),
    ({"runbook": "javascript:alert(1)"}, None,
     "alerts.rules[0] (behind): runbook: expected an http:// or https:// link"),
    ({"runbook": "https://wiki/runbook with spaces"}, None, "runbook: expected an http"),
    ({"team": "payments"}, None, "team: no team named 'payments' under teams:"),
    ({"channel": None}, None, "channel: required (a Slack channel id or #name), or name a "
                              "team with a channel"),
    ({"channel": None, "team": "payments"}, {"payments": {"match": ["orders.*"]}},
     "team: team 'payments' has no channel"),
    ({}, {"payments": {"match": []}}, "teams.payments.match: give the topic patterns"),
    ({}, {"payments": {"match": ["o.*"], "channel": "payments oncall"}},
     "teams.payments.channel: 'payments oncall' is neither"),
    ({}, {"payments": {"match": ["o.*"], "owner": "everyone"}},
     "teams.payments.owner: 'everyone' is not a Slack user group or user"),
    ({}, {"payments": {"match": ["o.*"], "chanel": "#p"}},
     "teams.payments.chanel: unknown key; did you mean 'channel'?"),
])
def test_bad_owners_runbooks_and_teams_are_config_errors_naming_the_key(
        rule: dict[str, Any], teams: dict[str, Any] | None, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        config(rule, teams)
    assert problem in str(e.value)
    assert str(e.value).startswith("config.yaml: ")


# ---------------------------------------------------------------- routing


TEAMS = {"payments": {"match": ["orders.*"], "channel": "#payments", "owner": "S0PAY"},
         "search": {"match": ["docs"], "owner": "S0SEARCH"}}


@pytest.mark.parametrize(("rule", "subject", "topics", "where"), [
    # a group's alert goes where the team owning one of its topics says
    ({}, Subject("primary", "billing-1"), ("orders.v1",), ("#payments", ("S0PAY",))),
    # a team without a channel lends only its owner
    ({}, Subject("primary", "billing-2"), ("docs",), ("C0ORDERS", ("S0SEARCH",))),
    # no team owns it: the rule's own channel and owner
    ({"owner": "U0ALICE"}, Subject("primary", "billing-3"), ("misc",),
     ("C0ORDERS", ("U0ALICE",))),
    # the rule's owner wins over the team's
    ({"owner": "U0ALICE"}, Subject("primary", "billing-4"), ("orders.v1",),
     ("#payments", ("U0ALICE",))),
    # `team:` routes there whatever the topic
    ({"team": "payments"}, Subject("primary", "billing-5"), ("misc",), ("#payments", ("S0PAY",))),
])
def test_an_alert_goes_to_the_team_that_owns_its_topics(
        rule: dict[str, Any], subject: Subject, topics: tuple[str, ...],
        where: tuple[str, tuple[str, ...]]) -> None:
    (mr,) = compile_rules(config(rule, TEAMS)).metric
    tracker = AlertTracker([mr])
    book = AlertBook()
    (ev,), _ = tracker.step(100.0, [Observation(subject, {"lag": 500}, topics)],
                            observed={"primary"}, book=book)
    assert (ev.channel, ev.owner) == where


def test_an_event_rule_is_routed_by_its_watched_topic() -> None:
    cfg = parse_config({"clusters": {"primary": {"bootstrap_servers": "k:9092"}},
                        "teams": TEAMS, "alerts": {"rules": [
                            {"name": "ci", "watch": {"topic": "orders.v1"}, "channel": "C0CI",
                             "runbook": "https://runbooks.example/ci"}]}}, "c.yaml")
    (er,) = compile_rules(cfg).event
    assert (er.channel, er.owner, er.runbook) == ("#payments", ("S0PAY",),
                                                  "https://runbooks.example/ci")


# ---------------------------------------------------------------- much worse


@pytest.mark.parametrize(("when", "before", "now", "is_worse"), [
    ("lag > 100", {"lag": 150}, {"lag": 299}, False),
    ("lag > 100", {"lag": 150}, {"lag": 300}, True),
    ("lag_seconds >= 5m", {"lag_seconds": 400.0}, {"lag_seconds": 900.0}, True),
    ("members < 3", {"members": 2}, {"members": 1}, True),
    ("members < 3", {"members": 2}, {"members": 2}, False),
    ("status >= WARN", {"status": "WARN"}, {"status": Status.STOP}, True),
    ("status >= WARN", {"status": "STOP"}, {"status": Status.WARN}, False),
    ("lag > 100 and members == 0", {"lag": 150, "members": 0}, {"lag": 400, "members": 0},
     True),
    ("not lag > 100", {"lag": 1}, {"lag": 50}, False),  # no direction to judge by
    ("lag > 100", {"lag": None}, {"lag": 500}, False),  # unknown before: nothing to compare
    ("lag > 100", {"lag": "a lot"}, {"lag": 500}, False),  # a hand-written record
])
def test_much_worse_is_double_in_the_direction_the_rule_bounds(
        when: str, before: dict[str, Any], now: dict[str, Any], is_worse: bool) -> None:
    assert worse(parse_when(when), before, now) is is_worse


def test_a_firing_alert_is_told_worse_once_per_doubling_and_never_after_it_resolved() -> None:
    (mr,) = compile_rules(config()).metric
    tracker, book = AlertTracker([mr]), AlertBook()
    s = Subject("primary", "billing-1")

    def step(t: float, lag: int) -> list[str]:
        events, _ = tracker.step(t, [Observation(s, {"lag": lag})], observed={"primary"},
                                 book=book)
        return [f"{e.type}{e.step or ''}" for e in events]

    assert step(0, 150) == ["firing"]
    assert step(1, 290) == []
    assert step(2, 300) == ["changed1"]
    assert step(3, 590) == []  # against the last one told (300), not the first
    assert step(4, 600) == ["changed2"]
    assert step(5, 50) == ["resolved"]
    assert step(6, 150) == ["firing"]  # a new episode starts from its own values
    assert step(7, 290) == []


# ---------------------------------------------------------------- the book


def ev(type_: str, seq: int, at: float, **kw: Any) -> AlertEvent:
    return AlertEvent(type=type_, alert_id="a-1", at=at, seq=seq, rule="behind",  # type: ignore[arg-type]
                      subject=Subject("primary", "g"), **kw)


def pending(book: AlertBook, now: float = 1000.0) -> list[tuple[str, int, str]]:
    return [(a.kind, a.event.step, a.acked_by) for a in book.pending(now, renotify=1800.0)]


def test_an_acknowledgement_holds_for_its_episode_only() -> None:
    book = AlertBook()
    book.apply(ev("firing", 1, 100.0), 0)
    assert not book.apply(ev("acked", 0, 101.0, by="U0X"), 1)  # names no episode: ignored
    assert book.apply(ev("acked", 1, 102.0, by="U0CAROL"), 2)
    view = book.get("a-1")
    assert view is not None and (view.acked_by, view.acked_at) == ("U0CAROL", 102.0)
    book.apply(ev("delivered", 1, 103.0, of="firing", ts="1.1", target="C0"), 3)
    book.apply(ev("resolved", 1, 200.0), 4)
    assert pending(book) == [("resolve", 0, "U0CAROL")]  # its message still says who
    assert not book.apply(ev("acked", 1, 201.0, by="U0LATE"), 5)  # the episode is over
    book.apply(ev("firing", 2, 300.0), 6)
    assert book.get("a-1").acked_by == ""  # type: ignore[union-attr]


def test_much_worse_is_posted_once_however_many_replicas_wrote_it() -> None:
    book = AlertBook()
    book.apply(ev("firing", 1, 100.0, values={"lag": 150}), 0)
    assert book.apply(ev("changed", 1, 101.0, step=1), 1)
    book.apply(ev("delivered", 1, 102.0, of="firing", ts="1.1", target="C0"), 2)
    assert pending(book) == [("change", 1, "")]
    assert not book.apply(ev("changed", 1, 103.0, step=1), 3)  # the other replica's twin
    book.apply(ev("delivered", 1, 104.0, of="changed:1", ts="1.1", target="C0"), 4)
    assert pending(book) == []
    book.apply(ev("changed", 1, 105.0, step=2), 5)
    book.apply(ev("snoozed", 1, 106.0, until=5000.0), 6)
    assert pending(book) == []  # snoozed: nobody is told
    assert pending(book, now=6000.0) == [("change", 2, "")]
    assert not book.apply(ev("changed", 7, 107.0, step=9), 7)  # an episode that never was


def test_records_written_by_hand_cannot_mention_or_link_what_they_like() -> None:
    forged = AlertEvent.decode(
        b'{"type":"firing","alert_id":"a-1","at":1,"rule":"r","owner":["<!channel>",'
        b'"S0OK","here"],"runbook":"javascript:alert(1)","step":"x"}')
    assert forged.step == 0
    assert mentions(forged.owner) == "<!subteam^S0OK>"
    assert runbook_link(forged) is None
    shown = "\n".join(_texts(render_firing(forged)))
    assert "<!channel>" not in shown and "javascript:" not in shown
    assert AlertEvent.decode(b'{"type":"firing","alert_id":"a","at":1,"owner":"S0X"}').owner == ()
