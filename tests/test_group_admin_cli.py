"""`kafkaops group describe|delete` through the installed command against real consumer
groups on the embedded broker: a stopped group (committed offsets, no members) and an
active one (a running consumer). What is left afterwards is read with a plain consumer
(not the code under test) and `audit list --json`."""

from __future__ import annotations

import json
from pathlib import Path

from .admin_support import audit_rows, kafkaops, outcome
from .offsets_support import (
    KnownTopic,
    joined_consumer,
    make_known_topic,
    read_committed,
    stopped_group,
)


async def test_describe_a_stopped_group(config_file: Path, bootstrap: str) -> None:
    known: KnownTopic = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    out = await kafkaops(config_file, "group", "describe", group)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"group {group} on cluster primary: state Empty, 0 members"
    rows = [line.split() for line in lines if line.startswith(known.name)]
    assert rows == [[known.name, "0", "12", "30", "18", "-"],
                    [known.name, "1", "25", "30", "5", "-"],
                    [known.name, "2", "no", "offset", "0", "-", "-"]]
    doc = json.loads((await kafkaops(config_file, "group", "describe", group, "--json")).stdout)
    assert (doc["group"], doc["state"], doc["members"]) == (group, "Empty", [])
    assert [(p["partition"], p["committed"], p["end"], p["lag"]) for p in doc["partitions"]] \
        == [(0, 12, 30, 18), (1, 25, 30, 5), (2, None, 0, None)]


async def test_describe_an_active_group_says_what_the_broker_does_not_report(
    config_file: Path, bootstrap: str,
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 1})
    consumer = await joined_consumer(bootstrap, group, known.name, "billing-worker")
    try:
        doc = json.loads((await kafkaops(config_file, "group", "describe", group,
                                         "--json")).stdout)
        text = await kafkaops(config_file, "group", "describe", group)
    finally:
        await consumer.stop()
    [member] = doc["members"]
    assert member["member_id"].startswith("billing-worker-")
    # Tansu reports members by id only: client id, host and assignment come back empty,
    # and are shown as not reported (Apache Kafka reports all three)
    assert (member["client_id"], member["client_host"], member["assignment"]) == (
        None, None, None)
    [row] = [line for line in text.stdout.splitlines() if line.startswith("billing-worker-")]
    assert row.split()[1:] == ["not", "reported", "not", "reported", "not", "reported"]
    assert text.stdout.splitlines()[0].endswith("1 member")


async def test_an_empty_group_deletes_and_an_active_one_is_refused(
    config_file: Path, bootstrap: str,
) -> None:
    known = await make_known_topic(bootstrap)
    empty = await stopped_group(bootstrap, known.name, {0: 3, 1: 4})
    active = await stopped_group(bootstrap, known.name, {0: 7})

    consumer = await joined_consumer(bootstrap, active, known.name, "still-running")
    try:
        refused = await kafkaops(config_file, "group", "delete", active, "--yes")
        assert refused.returncode == 1
        assert refused.stderr.startswith(
            f"kafkaops: group {active!r} has 1 active member: still-running-")
        assert refused.stderr.endswith(
            "(client id not reported, host not reported). Only an empty group can be "
            "deleted: stop its consumers and try again (a consumer that stopped stays a "
            "member until its session times out). Nothing was changed.\n")
        assert refused.stdout == ""
        assert await read_committed(bootstrap, active, known.name) == {0: 7, 1: None,
                                                                      2: None}
        assert consumer.assignment()  # still a member, undisturbed
    finally:
        await consumer.stop()

    out = await kafkaops(config_file, "group", "delete", empty, "--yes")
    assert out.returncode == 0, out.stderr
    assert f"Delete consumer group {empty!r} on cluster 'primary'" in out.stdout
    assert f"committed offsets on 2 partitions of {known.name}" in out.stdout
    assert f"group {empty!r} is no longer listed by its coordinator" in out.stdout
    assert await read_committed(bootstrap, empty, known.name) == {0: None, 1: None, 2: None}
    gone = await kafkaops(config_file, "group", "describe", empty)
    assert gone.returncode == 1 and "not found" in gone.stderr

    assert outcome(await audit_rows(config_file, empty)) == [("group.delete", "ok")]
    [row] = await audit_rows(config_file, active)
    assert (row["action"], row["result"], row["face"]) == ("group.delete", "refused", "cli")
    assert "has 1 active member" in row["error"]


async def test_deleting_a_missing_group_is_exit_1_and_writes_nothing(config_file: Path
                                                                     ) -> None:
    out = await kafkaops(config_file, "group", "delete", "no-such-group-x1", "--yes")
    assert out.returncode == 1
    assert out.stderr == ("kafkaops: consumer group 'no-such-group-x1' not found on cluster "
                          "'primary' (no members and no committed offsets); `kafkaops lag` "
                          "lists every group\n")
    assert await audit_rows(config_file, "no-such-group-x1") == []
    blank = await kafkaops(config_file, "group", "delete", " ", "--yes")
    assert blank.returncode == 2
    assert blank.stderr == "kafkaops: consumer group id is empty\n"
