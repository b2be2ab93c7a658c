"""teams:, costs: and policies: in config: the issue's example loads, topics go to the first
matching team (or "unowned"), and every mistake is an error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.core.config import load_config, parse_config
from kafkaops.core.errors import ConfigError
from kafkaops.core.usage.teams import UNOWNED, owners, team_channel, team_of

ROOT = Path(__file__).resolve().parent.parent
BASE = {"clusters": {"primary": {"bootstrap_servers": "k:9092"}}}
ISSUE = {
    **BASE,
    "teams": {
        "payments": {"match": ["orders.*", "billing.*"], "channel": "#payments-oncall"},
        "platform": {"match": ["logs.*", "metrics.*", "k8s.*"]},
    },
    "costs": {"storage_gb_month": 0.10, "ingress_gb": 0.02, "currency": "USD"},
    "policies": [
        {"name": "iac-retention", "match": {"topic": "iac.*"},
         "require": {"retention": ">= 7y", "cleanup_policy": "delete",
                     "min_insync_replicas": ">= 2"}},
        {"name": "logs-compressed", "match": {"topic": "logs.*"},
         "require": {"compression_type": ["lz4", "snappy", "zstd"]}},
    ],
}


def test_the_issues_config_loads() -> None:
    config = parse_config(ISSUE, "c.yaml")
    assert config.teams["payments"].channel == "#payments-oncall"
    assert config.teams["platform"].channel is None
    assert config.costs is not None and config.costs.storage_gb_month == 0.10
    assert config.costs.currency == "USD"
    assert [p.name for p in config.policies] == ["iac-retention", "logs-compressed"]


def test_the_example_config_has_teams_costs_and_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PASSWORD", "x")
    config = load_config(ROOT / "config.example.yaml")
    assert set(config.teams) == {"payments", "platform"}
    assert config.costs is not None and config.costs.ingress_gb == 0.02
    assert {p.name for p in config.policies} == {"iac-retention", "logs-compressed"}


def test_defaults_without_the_sections() -> None:
    config = parse_config(BASE)
    assert config.teams == {} and config.costs is None and config.policies == []


@pytest.mark.parametrize(("topic", "team"), [
    ("orders.events", "payments"),
    ("orders.events.dlq", "payments"),
    ("billing.invoices", "payments"),
    ("logs.app", "platform"),
    ("k8s.events", "platform"),
    ("Logs.app", UNOWNED),           # topic names are case-sensitive
    ("iac.changes", UNOWNED),
    ("orders", UNOWNED),             # "orders.*" needs the dot
])
def test_a_topic_belongs_to_the_first_matching_team(topic: str, team: str) -> None:
    teams = parse_config(ISSUE).teams
    assert team_of(teams, topic) == team


def test_overlapping_patterns_go_to_the_team_listed_first() -> None:
    teams = parse_config({**BASE, "teams": {"a": {"match": ["x.*"]},
                                            "b": {"match": ["x.y*", "z"]}}}).teams
    assert owners(teams, ["x.yz", "z", "q"]) == {"x.yz": "a", "z": "b", "q": UNOWNED}


def test_team_channel_of_a_topic() -> None:
    teams = parse_config(ISSUE).teams
    assert team_channel(teams, "orders.events") == "#payments-oncall"
    assert team_channel(teams, "logs.app") is None        # platform names no channel
    assert team_channel(teams, "iac.changes") is None     # unowned
    assert team_channel(teams, None) is None


@pytest.mark.parametrize(("extra", "message"), [
    ({"teams": {"payments": {"match": []}}}, "teams.payments.match: give the topic patterns"),
    ({"teams": {"payments": {"match": "orders.*"}}}, "teams.payments.match: expected a list"),
    ({"teams": {"payments": {"match": ["orders.*"], "channel": "payments"}}},
     "teams.payments.channel: 'payments' is neither a Slack channel id"),
    ({"teams": {"payments": {"match": ["o"], "chanel": "#p"}}},
     "teams.payments.chanel: unknown key; did you mean 'channel'?"),
    ({"teams": {"unowned": {"match": ["o"]}}}, "teams.unowned: 'unowned' is what topics"),
    ({"teams": {"a b": {"match": ["o"]}}}, "teams.a b: a team name is letters"),
    ({"teams": {"p": {"match": [""]}}}, "teams.p.match[0]: a topic pattern of 1 to 249"),
    ({"costs": {"storage_gb_month": -1}}, "costs.storage_gb_month: a price of 0 or more"),
    ({"costs": {"ingress_gb": ".nan"}}, "costs.ingress_gb: expected a number"),
    ({"costs": {"currency": "dollars"}}, "costs.currency: a three-letter ISO 4217 code"),
    ({"costs": {"storage": 1}}, "costs.storage: unknown key"),
])
def test_bad_teams_and_costs_name_the_key(extra: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({**BASE, **extra}, "c.yaml")
    assert str(e.value).startswith("c.yaml: ")
    assert message in str(e.value)


def test_nan_price_refused() -> None:
    with pytest.raises(ConfigError, match="costs.ingress_gb: a price of 0 or more"):
        parse_config({**BASE, "costs": {"ingress_gb": float("nan")}}, "c.yaml")


@pytest.mark.parametrize(("policy", "message"), [
    ({"name": "p", "require": {"retention": ">= 7 years"}},
     "policies[0] (p): require.retention: a duration such as"),
    ({"name": "p", "require": {"retentoin": ">= 7y"}},
     "require.retentoin: not a topic config nor partitions/replication_factor; did you mean"),
    ({"name": "p", "require": {"compression_type": ">= lz4"}},
     "require.compression_type: >= compares numbers, and compression.type is a name"),
    ({"name": "p", "require": {"compression_type": []}},
     "require.compression_type: the list of allowed values is empty"),
    ({"name": "p", "require": {"cleanup_policy": ""}}, "require.cleanup_policy: give a value"),
    ({"name": "p", "require": {}}, "policies[0] (p): require: name at least one config"),
    ({"name": "p", "match": {"topc": "x"}, "require": {"partitions": ">= 3"}},
     "match.topc: unknown key (expected one of: topic, cluster, team)"),
    ({"name": "p", "match": {"team": "ghosts"}, "require": {"partitions": ">= 3"}},
     "match.team: no team named 'ghosts' under teams:"),
    ({"name": "p", "require": {"retention": ">= 1d", "retention.ms": "<= 9d"}},
     "require.retention.ms: retention.ms is required twice"),
    ({"name": "p", "require": {"min_insync_replicas": ">= two"}},
     "require.min_insync_replicas: a number"),
    ({"name": "p", "require": {"unclean_leader_election_enable": "maybe"}},
     "require.unclean_leader_election_enable: true or false"),
    ({"name": "", "require": {"partitions": 3}}, "policies[0].name: give the policy a name"),
])
def test_bad_policies_name_the_policy_and_key(policy: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({**BASE, "policies": [policy]}, "c.yaml")
    assert message in str(e.value)


def test_a_policy_name_used_twice() -> None:
    p = {"name": "p", "require": {"partitions": 3}}
    with pytest.raises(ConfigError, match=r"policies\[1\] \(p\).name: 'p' is used twice"):
        parse_config({**BASE, "policies": [p, p]}, "c.yaml")
