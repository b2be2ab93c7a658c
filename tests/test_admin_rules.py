"""The pure rules of admin changes (core/admin/rules.py, plans.py), as tables."""

from __future__ import annotations

import pytest

from kafkaops.core.admin.plans import AdminPlan, Change
from kafkaops.core.admin.rules import (
    DEFAULT,
    UNREPORTED,
    check_config,
    check_topic_name,
    config_changes,
    parse_acks,
    parse_assignments,
    parse_compression,
    parse_headers,
    reports_defaults,
    set_on_topic,
)
from kafkaops.core.errors import UsageError

#: DescribeConfigs as Apache Kafka answers it: every config, with its source
APACHE = [("cleanup.policy", "delete", "default"), ("retention.ms", "3600000", "topic"),
          ("segment.bytes", "1073741824", "default"), ("min.insync.replicas", "2",
                                                         "broker (static)")]
#: as Tansu answers it: only configs set on the topic, each claiming source "default"
TANSU = [("retention.ms", "3600000", "default")]


@pytest.mark.parametrize("name", ["orders", "a.b_c-D9", "x" * 249])
def test_valid_topic_names(name: str) -> None:
    assert check_topic_name(name) == name


@pytest.mark.parametrize(("name", "why"), [
    ("", "topic name is empty"),
    (".", "not allowed by Kafka"),
    ("..", "not allowed by Kafka"),
    ("x" * 250, "250 characters long; Kafka allows at most 249"),
    ("a/b", "characters Kafka does not allow ('/')"),
    ("ordérs", "('é')"),
    ("a\x1bb", "('\\x1b')"),
])
def test_invalid_topic_names(name: str, why: str) -> None:
    with pytest.raises(UsageError, match=None) as e:
        check_topic_name(name)
    assert why in str(e.value)


@pytest.mark.parametrize(("name", "value"), [
    ("retention.ms", "-1"), ("retention.ms", "604800000"), ("cleanup.policy", "compact,delete"),
    ("compression.type", "zstd"), ("min.cleanable.dirty.ratio", "0.5"),
    ("unclean.leader.election.enable", "TRUE"), ("message.timestamp.type", "LogAppendTime"),
    ("confluent.placement.constraints", "{}"), ("redpanda.remote.read", "true"),
])
def test_valid_configs(name: str, value: str) -> None:
    check_config(name, value)


@pytest.mark.parametrize(("name", "value", "why"), [
    ("retention.ms", "-2", "must be a whole number >= -1"),
    ("retention.ms", "1.5", "must be a whole number >= -1"),
    ("cleanup.policy", "compact,", "comma-separated list of delete, compact"),
    ("compression.type", "brotli", "one of uncompressed, zstd, lz4, snappy, gzip, producer"),
    ("min.cleanable.dirty.ratio", "2", "a number between 0 and 1"),
    ("preallocate", "yes", "true or false"),
    ("retentoin.ms", "1", "did you mean 'retention.ms'?"),
    ("", "1", "a topic config name is empty"),
])
def test_invalid_configs(name: str, value: str, why: str) -> None:
    with pytest.raises(UsageError) as e:
        check_config(name, value)
    assert why in str(e.value)


def test_a_broker_that_reports_defaults_is_told_apart() -> None:
    assert reports_defaults(n for n, _, _ in APACHE)
    assert not reports_defaults(n for n, _, _ in TANSU)
    assert set_on_topic(APACHE) == {"retention.ms": "3600000"}
    assert set_on_topic(TANSU) == {"retention.ms": "3600000"}


@pytest.mark.parametrize(("reported", "sets", "deletes", "changes"), [
    # a set to the value already set on the topic changes nothing
    (APACHE, {"retention.ms": "3600000"}, [], []),
    (TANSU, {"retention.ms": "3600000"}, [], []),
    # a set of a config at its default pins it: a change, shown with the default's source
    (APACHE, {"cleanup.policy": "delete"}, [],
     [("cleanup.policy", "delete (default)", "delete")]),
    # on a broker that does not report defaults, the value before is not made up
    (TANSU, {"cleanup.policy": "compact"}, [], [("cleanup.policy", UNREPORTED, "compact")]),
    # a delete of a config not set on the topic changes nothing...
    (APACHE, {}, ["cleanup.policy"], []),
    (TANSU, {}, ["cleanup.policy"], []),
    # ...of one set on it goes back to the default
    (APACHE, {}, ["retention.ms"], [("retention.ms", "3600000", DEFAULT)]),
    (TANSU, {}, ["retention.ms"], [("retention.ms", "3600000", DEFAULT)]),
    (APACHE, {"retention.ms": "1", "min.insync.replicas": "1"}, [],
     [("min.insync.replicas", "2 (broker (static))", "1"), ("retention.ms", "3600000", "1")]),
])
def test_config_changes(reported: list[tuple[str, str, str]], sets: dict[str, str],
                        deletes: list[str], changes: list[tuple[str, str, str]]) -> None:
    assert config_changes(reported, sets, deletes) == changes


def test_assignments_and_headers() -> None:
    assert parse_assignments(["a=1", "b=x=y", "a=1"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(UsageError, match="a given twice"):
        parse_assignments(["a=1", "a=2"])
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        parse_assignments(["=1"])
    assert parse_headers(["k=v", "k=w", "e="]) == (("k", b"v"), ("k", b"w"), ("e", b""))
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        parse_headers(["=v"])


def test_acks_and_compression() -> None:
    assert [parse_acks(a) for a in ("all", "-1", "1", "0", "ALL")] == ["all", "all", 1, 0,
                                                                       "all"]
    assert parse_compression("none") is None and parse_compression("ZSTD") == "zstd"
    with pytest.raises(UsageError):
        parse_compression("brotli")


def test_a_plan_survives_json_and_reads_as_a_diff() -> None:
    plan = AdminPlan(action="topic.config", cluster="primary", target="orders",
                     title="Change configs of topic 'orders' on cluster 'primary'",
                     state=("configs set on the topic: retention.ms=3600000",),
                     changes=(Change("retention.ms", "3600000", "1"),
                              Change("cleanup.policy", UNREPORTED, "compact")),
                     params={"topic": "orders", "set": {"retention.ms": "1"}},
                     warnings=("mind the consumers",), planned_at=1.5)
    assert AdminPlan.from_jsonable(plan.to_jsonable()) == plan
    assert plan.lines() == [
        "Change configs of topic 'orders' on cluster 'primary'", "",
        "Now:", "  configs set on the topic: retention.ms=3600000", "",
        "Will change:",
        "  retention.ms    3600000  ->  1",
        f"  cleanup.policy  {UNREPORTED}  ->  compact",
        "", "Warning: mind the consumers",
    ]
    assert plan.summary() == ("Change configs of topic 'orders' on cluster 'primary': "
                              f"retention.ms 3600000 -> 1, cleanup.policy {UNREPORTED} -> "
                              "compact")


def test_growing_a_topic_warns_about_key_ordering() -> None:
    from kafkaops.core.admin.topic_admin import partitions_plan

    plan = partitions_plan("primary", "orders", 3, 6, 1200, False)
    assert plan.changes == (Change("partitions", "3", "6"),)
    assert plan.state == ("3 partitions, 1,200 messages kept",)
    [warning] = plan.warnings
    assert warning.startswith("records with a key go to partition hash(key) mod the "
                              "partition count")
    assert "Warning: records with a key" in plan.text()


def test_broker_configs_mark_defaults_only_where_the_broker_says_so() -> None:
    from kafkaops.cli.brokers import render
    from kafkaops.core.admin.brokers import Broker, broker_config
    from kafkaops.core.records import BrokerInfo

    entries = [
        {"config_names": "log.retention.hours", "config_value": "168", "config_source": 5,
         "is_sensitive": False, "read_only": True},
        {"config_names": "num.partitions", "config_value": "6", "config_source": 4,
         "is_sensitive": False, "read_only": True},
        {"config_names": "ssl.key.password", "config_value": None, "config_source": 4,
         "is_sensitive": True, "read_only": True},
        {"config_names": "old.style", "config_value": "x", "is_default": True},
    ]
    configs = tuple(broker_config(e) for e in entries)
    assert [(c.name, c.value, c.source, c.is_default) for c in configs] == [
        ("log.retention.hours", "168", "default", True),
        ("num.partitions", "6", "broker (static)", False),
        ("ssl.key.password", None, "broker (static)", False),
        ("old.style", "x", "default", True)]
    text = render("primary", [Broker(BrokerInfo(1, "kafka-1", 9092, "r1", True), configs),
                              Broker(BrokerInfo(111, "tansu", 9092), ())])
    assert "broker 1: 4 configs, 2 at their default (marked *)" in text
    assert "* log.retention.hours  168" in text
    assert "  num.partitions       6" in text
    assert "(hidden: sensitive)" in text
    assert "broker 111: reports no configs" in text
