"""`kafkaops topic create|alter-config|add-partitions|delete` through the installed command
against the embedded broker. Each state is read back with `topics --json` and `topic
describe`, and every change with `audit list --json`: what a person or a script sees.

The embedded broker (Tansu 0.6) offers IncrementalAlterConfigs, so config changes are
made for real; it does not offer CreatePartitions, so add-partitions ends in the clear
error (a broker without IncrementalAlterConfigs: tests/test_admin_unsupported.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec, TopicService

from .admin_support import audit_rows, kafkaops, outcome, topics_json
from .conftest import unique


async def test_a_topic_created_reconfigured_grown_and_deleted_shows_each_state(
    config_file: Path,
) -> None:
    name = unique("adm")
    made = await kafkaops(config_file, "topic", "create", name, "--partitions", "3",
                          "--topic-config", "retention.ms=86400000",
                          "--topic-config", "cleanup.policy=delete", "--yes")
    assert made.returncode == 0, made.stderr
    assert f"Create topic {name!r} on cluster 'primary'" in made.stdout
    assert "topic           does not exist  ->  3 partitions, replication factor 1" \
        in made.stdout
    assert f"topic {name!r} exists with 3 partitions" in made.stdout
    t = (await topics_json(config_file))[name]
    assert (t["partitions"], t["retention_ms"], t["cleanup_policy"]) == (3, "86400000",
                                                                         "delete")

    changed = await kafkaops(config_file, "topic", "alter-config", name,
                             "--set", "retention.ms=3600000", "--set", "cleanup.policy=compact",
                             "--yes")
    assert changed.returncode == 0, changed.stderr
    assert "retention.ms    86400000  ->  3600000" in changed.stdout
    assert "cleanup.policy  delete  ->  compact" in changed.stdout
    t = (await topics_json(config_file))[name]
    assert (t["retention_ms"], t["cleanup_policy"]) == ("3600000", "compact")

    back = await kafkaops(config_file, "topic", "alter-config", name,
                          "--delete", "cleanup.policy", "--yes", "--json")
    assert back.returncode == 0, back.stderr
    doc = json.loads(back.stdout)
    assert doc["changes"] == [{"item": "cleanup.policy", "before": "compact",
                               "after": "broker default"}]
    assert (doc["applied"], doc["verified"]) == (True, True)
    assert (await topics_json(config_file))[name]["cleanup_policy"] is None

    grow = await kafkaops(config_file, "topic", "add-partitions", name, "--num", "6", "--yes")
    assert grow.returncode == 1
    assert grow.stderr == (
        "kafkaops: this cluster does not support adding partitions: cluster 'primary' does "
        "not offer CreatePartitions. Nothing was changed.\n")
    assert (await topics_json(config_file))[name]["partitions"] == 3

    gone = await kafkaops(config_file, "topic", "delete", name, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert f"topic {name!r} is gone" in gone.stdout
    assert name not in await topics_json(config_file)

    rows = await audit_rows(config_file, name)
    assert outcome(rows) == [("topic.create", "ok"), ("topic.config", "ok"),
                             ("topic.config", "ok"), ("topic.delete", "ok")]
    ok = [r for r in rows if r["result"] == "ok"]
    assert ok[0]["params"] == {"topic": name, "partitions": 3, "replication_factor": 1,
                               "configs": {"retention.ms": "86400000",
                                           "cleanup.policy": "delete"}}
    assert ok[1]["params"]["set"] == {"retention.ms": "3600000", "cleanup.policy": "compact"}
    assert ok[1]["params"]["before"] == {"retention.ms": "86400000",
                                         "cleanup.policy": "delete"}
    assert ok[3]["detail"] == {"verified": True, "read_back": [f"topic {name!r} is gone"]}
    assert {r["face"] for r in rows} == {"cli"}


async def test_a_topic_named_like_a_verb_is_shown_with_describe(config_file: Path) -> None:
    for verb in ("create", "delete"):
        made = await kafkaops(config_file, "topic", "create", verb, "-p", "1", "--yes")
        assert made.returncode in (0, 1), made.stderr  # exists already from a rerun: fine
        shown = await kafkaops(config_file, "topic", "describe", verb, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["summary"]["name"] == verb
    plain = await kafkaops(config_file, "topic", "create", "--json")
    assert plain.returncode == 2
    assert "the following arguments are required: NAME" in plain.stderr


async def test_topic_name_alone_still_shows_the_topic(config_file: Path) -> None:
    name = unique("show")
    assert (await kafkaops(config_file, "topic", "create", name, "-p", "2", "--yes")
            ).returncode == 0
    text = await kafkaops(config_file, "topic", name)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"topic {name}: 2 partitions, replication factor 1")
    doc = await kafkaops(config_file, "topic", name, "--json")
    assert json.loads(doc.stdout)["summary"]["partitions"] == 2


async def test_changes_that_change_nothing_say_so_and_write_nothing(config_file: Path
                                                                    ) -> None:
    name = unique("same")
    assert (await kafkaops(config_file, "topic", "create", name, "-p", "2", "--topic-config",
                           "retention.ms=600000", "--yes")).returncode == 0
    before = await audit_rows(config_file, name)
    same = await kafkaops(config_file, "topic", "alter-config", name, "--set",
                          "retention.ms=600000", "--yes")
    assert same.returncode == 0
    assert same.stderr == (f"kafkaops: topic {name!r} on cluster 'primary' already has these "
                           "configs: nothing to change, nothing was written\n")
    assert same.stdout == ""
    unset = await kafkaops(config_file, "topic", "alter-config", name, "--delete",
                           "cleanup.policy", "--yes")
    assert unset.returncode == 0
    assert "nothing to change" in unset.stderr
    count = await kafkaops(config_file, "topic", "add-partitions", name, "--num", "2", "--yes")
    assert count.returncode == 0
    assert count.stderr == (f"kafkaops: topic {name!r} already has 2 partitions: nothing to "
                            "change, nothing was written\n")
    assert await audit_rows(config_file, name) == before


async def test_dry_run_shows_the_plan_and_changes_nothing(config_file: Path) -> None:
    name = unique("dry")
    out = await kafkaops(config_file, "topic", "create", name, "-p", "4", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("Dry run: nothing was changed.")
    doc = await kafkaops(config_file, "topic", "create", name, "-p", "4", "--dry-run", "--json")
    data = json.loads(doc.stdout)
    assert (data["action"], data["target"], data["applied"], data["dry_run"]) == (
        "topic.create", name, False, True)
    assert name not in await topics_json(config_file)
    assert await audit_rows(config_file, name) == []


async def test_a_terminal_is_asked_and_no_cancels(config_file: Path) -> None:
    name = unique("ask")
    no = await kafkaops(config_file, "topic", "create", name, "-p", "1", answer=b"n\n")
    assert no.returncode == 2
    assert no.stderr.endswith("kafkaops: cancelled: nothing was changed\n")
    assert name not in await topics_json(config_file)
    yes = await kafkaops(config_file, "topic", "create", name, "-p", "1", answer=b"y\n")
    assert yes.returncode == 0, yes.stderr
    assert name in await topics_json(config_file)
    script = await kafkaops(config_file, "topic", "delete", name)
    assert script.returncode == 2
    assert script.stderr.endswith("not a terminal and --yes not given: nothing was changed\n")
    assert name in await topics_json(config_file)


@pytest.fixture(scope="module")
async def shared(bootstrap: str) -> str:
    """A topic with 2 partitions and retention.ms=600000 that the refused commands leave
    as it is."""
    name = unique("kept")
    async with KafkaConnection("setup", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics(
            [NewTopicSpec(name, 2, configs={"retention.ms": "600000"})])
    return name


async def state(services: Services, topic: str) -> tuple[dict[str, int], list[str], int]:
    """(partitions per topic, the topic's configs, audit records): what a refused command
    must leave unchanged. Read in-process: each table below runs many commands."""
    topics = {t.name: t.partitions for t in await (await services.topics()).list_topics()}
    detail = await (await services.topics()).topic_detail(topic)
    audit = await (await services.audit()).records()
    return topics, [f"{c.name}={c.value}" for c in detail.configs], len(audit)


@pytest.mark.parametrize(("argv", "message"), [
    (["create", "bad name!", "-p", "1"], "topic name 'bad name!' has characters Kafka does "
     "not allow (' ', '!'); use letters, digits, '.', '_' and '-'"),
    (["create", "{new}", "-p", "0"], "--partitions must be at least 1 (got 0)"),
    (["create", "{new}", "-p", "100001"], "--partitions must be at most 10,000 (got 100,001)"),
    (["create", "{new}", "-p", "1", "-r", "3"], "--replication-factor 3 needs 3 brokers; "
     "cluster 'primary' has 1. Nothing was changed."),
    (["create", "{new}", "-p", "1", "--topic-config", "retention.msx=1"],
     "'retention.msx' is not a topic config; did you mean 'retention.ms'?"),
    (["create", "{new}", "-p", "1", "--topic-config", "retention.ms=7d"],
     "retention.ms='7d': must be a whole number >= -1 (milliseconds: 604800000 is 7 days; "
     "-1 keeps records forever)"),
    (["create", "{new}", "-p", "1", "--topic-config", "cleanup.policy=compacted"],
     "cleanup.policy='compacted': must be a comma-separated list of delete, compact"),
    (["create", "{new}", "-p", "1", "--topic-config", "retention.ms"],
     "--topic-config 'retention.ms': expected NAME=VALUE"),
    (["create", "__consumer_offsets2", "-p", "1"], "topic names starting with '__' are "
     "reserved (Kafka's and kafkaops' own topics); choose another name"),
    (["alter-config", "{topic}"], "nothing to change: give --set NAME=VALUE or --delete NAME"),
    (["alter-config", "{topic}", "--set", "retention.ms=1", "--delete", "retention.ms"],
     "retention.ms is both set and deleted"),
    (["alter-config", "{topic}", "--delete", "no.such.config"],
     "'no.such.config' is not a topic config"),
    (["alter-config", "{topic}", "--set", "min.insync.replicas=0"],
     "min.insync.replicas='0': must be a whole number >= 1"),
    (["add-partitions", "{topic}", "--num", "1"], "Kafka cannot remove partitions: topic "
     "'{topic}' has 2; --num must be more than 2. Nothing was changed."),
    (["add-partitions", "{topic}", "--num", "x"], None),
])
async def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    config_file: Path, services: Services, shared: str, argv: list[str],
    message: str | None,
) -> None:
    before = await state(services, shared)
    args = [a.format(topic=shared, new=unique("new")) for a in argv]
    out = await kafkaops(config_file, "topic", *args, "--yes")
    assert out.returncode == 2
    if message is None:  # argparse's own: its usage line, then the error
        assert out.stderr.splitlines()[-1].startswith("kafkaops: error: argument --num")
    else:
        assert out.stderr == f"kafkaops: {message.format(topic=shared)}\n"
    assert out.stdout == ""
    assert await state(services, shared) == before


@pytest.mark.parametrize(("argv", "message"), [
    (["create", "{topic}", "-p", "5"], "topic '{topic}' already exists on cluster 'primary' "
     "(2 partitions). Nothing was changed."),
    (["delete", "{missing}"], "topic '{missing}' not found on cluster 'primary' — check the "
     "name with `kafkaops topics`. Nothing was changed."),
    (["alter-config", "{missing}", "--set", "retention.ms=1"], "topic '{missing}' not found "
     "on cluster 'primary' — check the name with `kafkaops topics`. Nothing was changed."),
    (["delete", "_kafkaops.audit"], "refusing to delete '_kafkaops.audit': topics starting "
     "with '_kafkaops.' are Kafka's or kafkaops' own (the audit trail, flags, DR state). "
     "Nothing was changed."),
])
async def test_what_cannot_be_done_is_exit_1_and_changes_nothing(
    config_file: Path, services: Services, shared: str, argv: list[str], message: str,
) -> None:
    before = await state(services, shared)
    missing = unique("missing")
    args = [a.format(topic=shared, missing=missing) for a in argv]
    out = await kafkaops(config_file, "topic", *args, "--yes")
    assert out.returncode == 1
    assert out.stderr == f"kafkaops: {message.format(topic=shared, missing=missing)}\n"
    assert await state(services, shared) == before


async def test_brokers_with_configs_say_what_the_broker_reports(config_file: Path) -> None:
    out = await kafkaops(config_file, "brokers", "--configs")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "cluster primary: 1 broker"
    assert lines[3].split()[:2] == ["111", "127.0.0.1"] and lines[3].split()[-1] == "yes"
    # Tansu answers DescribeConfigs for its broker with no configs: nothing is made up
    assert lines[-1] == ("broker 111: reports no configs (the broker answers DescribeConfigs "
                         "with an empty list; nothing is shown as a default)")
    doc = json.loads((await kafkaops(config_file, "brokers", "--json")).stdout)
    assert [(b["node_id"], b["controller"], "configs" in b) for b in doc] == [
        (111, True, False)]
