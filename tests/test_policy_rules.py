"""Policy rules, pure: what a requirement reads, what meets it, what is unknown, the fix."""

from __future__ import annotations

import math

import pytest

from kafkaops.core.config import parse_config
from kafkaops.core.policy.model import TopicFacts
from kafkaops.core.policy.rules import (
    check,
    compile_policies,
    fix_command,
    meets,
    parse_number,
    parse_requirement,
    shown,
)

BASE = {"clusters": {"primary": {"bootstrap_servers": "k:9092"}}}
POLICIES = compile_policies(parse_config({**BASE, "policies": [
    {"name": "iac-retention", "match": {"topic": "iac.*"},
     "require": {"retention": ">= 7y", "cleanup_policy": "delete",
                 "min_insync_replicas": ">= 2"}},
    {"name": "logs-compressed", "match": {"topic": "logs.*"},
     "require": {"compression_type": ["lz4", "snappy", "zstd"]}},
]}))


def facts(topic: str, configs: dict, *, rf: int = 3, partitions: int = 3,
          internal: bool = False) -> TopicFacts:
    return TopicFacts("primary", topic, "unowned", configs, partitions, rf, internal)


@pytest.mark.parametrize(("kind", "text", "value"), [
    ("duration", "7y", 7 * 365 * 86_400_000),
    ("duration", "30d", 30 * 86_400_000),
    ("duration", "2w", 14 * 86_400_000),
    ("duration", "12h", 43_200_000),
    ("duration", "500ms", 500),
    ("duration", "86400000", 86_400_000),     # a bare number is milliseconds
    ("size", "1GiB", 2**30),
    ("size", "1GB", 10**9),
    ("size", "1048576", 2**20),
    ("number", "2", 2),
])
def test_values_read_by_kind(kind: str, text: str, value: float) -> None:
    assert parse_number(kind, text) == value  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "text"), [
    ("duration", "7 years"), ("duration", "-5d"), ("duration", "1e400"), ("size", "1XB"),
    ("number", "2d"), ("number", "x" * 50), ("duration", ""),
])
def test_bad_values_are_refused(kind: str, text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(kind, text)  # type: ignore[arg-type]


def test_retention_minus_one_is_unlimited() -> None:
    assert parse_number("duration", "-1", "retention.ms") == math.inf
    assert shown("duration", math.inf) == "unlimited"
    with pytest.raises(ValueError):
        parse_number("duration", "-1", "segment.ms")  # only retention means forever by -1


@pytest.mark.parametrize(("key", "spec", "value", "ok"), [
    ("retention", ">= 7y", "220752000000", True),
    ("retention", ">= 7y", "220751999999", False),
    ("retention", ">= 7y", "-1", True),               # kept forever
    ("retention", "<= 30d", "-1", False),
    ("retention", "> 1d", "86400000", False),
    ("cleanup_policy", "delete", "delete", True),
    ("cleanup_policy", "delete", "compact", False),
    ("cleanup_policy", "delete", "compact,delete", False),
    ("cleanup_policy", "compact,delete", "delete, compact", True),   # a set: order, spaces
    ("compression_type", ["lz4", "snappy", "zstd"], "ZSTD", True),
    ("compression_type", ["lz4", "snappy", "zstd"], "producer", False),
    ("compression_type", "!= gzip", "lz4", True),
    ("min_insync_replicas", ">= 2", "2", True),
    ("min_insync_replicas", ">= 2", "1", False),
    ("min_insync_replicas", ">= 2", "two", False),   # a value that cannot be read fails
    ("max.message.bytes", "<= 1MiB", "1048576", True),
    ("max_message_bytes", "<= 1MiB", "1048577", False),
    ("partitions", [3, 6], "6", True),
    ("unclean_leader_election_enable", "false", "FALSE", True),
])
def test_meets(key: str, spec: object, value: str, ok: bool) -> None:
    assert meets(parse_requirement(key, spec), value) is ok  # type: ignore[arg-type]


def test_a_compliant_topic_has_no_findings() -> None:
    found, checked, covered = check(POLICIES, [facts("iac.changes", {
        "retention.ms": "220752000000", "cleanup.policy": "delete",
        "min.insync.replicas": "2"})])
    assert found == [] and checked == 1 and covered == 1


def test_violations_name_topic_rule_value_found_and_the_fix() -> None:
    found, _, _ = check(POLICIES, [facts("iac.changes", {
        "retention.ms": "86400000", "cleanup.policy": "compact",
        "min.insync.replicas": "2"})], cluster_flag="primary")
    assert [(f.topic, f.policy, f.rule, f.status, f.found_shown) for f in found] == [
        ("iac.changes", "iac-retention", "retention.ms >= 7y", "violation", "86400000 (1d)"),
        ("iac.changes", "iac-retention", "cleanup.policy == delete", "violation", "compact"),
    ]
    assert [(f.fix.config, f.fix.value) for f in found if f.fix] == [
        ("retention.ms", "220752000000"), ("cleanup.policy", "delete")]
    assert found[0].fix_command == "kafkaops -c primary policy fix iac.changes"


def test_a_config_not_reported_is_unknown_never_compliant() -> None:
    # what the embedded broker answers for a topic created with only retention.ms set
    found, _, _ = check(POLICIES, [facts("iac.changes", {"retention.ms": "-1"})])
    assert [(f.key, f.status, f.found, f.found_shown) for f in found] == [
        ("cleanup.policy", "unknown", None, "not reported"),
        ("min.insync.replicas", "unknown", None, "not reported"),
    ]
    # a sensitive value the broker would not show is unknown too
    found, _, _ = check(POLICIES, [facts("logs.app", {"compression.type": None})])
    assert [(f.status, f.found_shown) for f in found] == [("unknown", "not reported")]


def test_min_insync_above_the_replication_factor_is_not_offered_as_a_fix() -> None:
    found, _, _ = check(POLICIES, [facts("iac.x", {
        "retention.ms": "-1", "cleanup.policy": "delete", "min.insync.replicas": "1"}, rf=1)])
    (f,) = found
    assert f.fix is None
    assert "replication factor is 1: raise it to 2 or more first" in f.fix_command


def test_partitions_are_not_a_config_change() -> None:
    pol = compile_policies(parse_config({**BASE, "policies": [
        {"name": "wide", "require": {"partitions": ">= 6", "replication_factor": ">= 3"}}]}))
    found, _, _ = check(pol, [facts("orders", {}, rf=1, partitions=3)])
    assert [(f.key, f.status, f.found, f.fix) for f in found] == [
        ("partitions", "violation", "3", None), ("replication_factor", "violation", "1", None)]
    assert found[0].fix_command.startswith("not a topic config")


def test_fixes_for_each_comparison() -> None:
    def fix(key: str, spec: object) -> str | None:
        pol = compile_policies(parse_config({**BASE, "policies": [
            {"name": "p", "require": {key: spec}}]}))
        (f,) = check(pol, [facts("t", {})])[0]
        return f.fix.value if f.fix else None

    assert fix("retention", "> 1d") == "86400001"
    assert fix("retention", "< 1d") == "86399999"
    assert fix("segment_bytes", "<= 1GiB") == str(2**30)
    assert fix("compression_type", ["zstd", "lz4"]) == "zstd"
    assert fix("cleanup_policy", "delete,compact") == "compact,delete"
    assert fix("compression_type", "!= gzip") is None


def test_internal_topics_only_when_a_policy_names_them() -> None:
    pol = compile_policies(parse_config({**BASE, "policies": [
        {"name": "all", "require": {"partitions": ">= 3"}},
        {"name": "own", "match": {"topic": "_kafkaops.*"}, "require": {"partitions": ">= 3"}},
    ]}))
    found, _, _ = check(pol, [facts("_kafkaops.audit", {}, partitions=1, internal=True)])
    assert [f.policy for f in found] == ["own"]


def test_team_and_cluster_match() -> None:
    pol = compile_policies(parse_config({
        **BASE, "teams": {"pay": {"match": ["orders.*"]}},
        "policies": [{"name": "p", "match": {"team": "pay", "cluster": "prim*"},
                      "require": {"partitions": ">= 3"}}]}))
    mine = TopicFacts("primary", "orders.x", "pay", {}, 1, 1)
    theirs = TopicFacts("primary", "logs.x", "unowned", {}, 1, 1)
    other = TopicFacts("dr", "orders.x", "pay", {}, 1, 1)
    found, checked, _ = check(pol, [mine, theirs, other])
    assert [(f.cluster, f.topic) for f in found] == [("primary", "orders.x")] and checked == 1


def test_fix_command_quotes_what_a_shell_would_read() -> None:
    assert fix_command(None, "a;rm -rf") == "kafkaops policy fix 'a;rm -rf'"
    assert fix_command("prod east", "t") == "kafkaops -c 'prod east' policy fix t"
