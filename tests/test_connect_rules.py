"""The pure rules of the Connect capability, as tables: secrets redacted, the REST API's
JSON read (and rejected when it is not Connect's), task counts, traces in one line, and
what each change will do given the state now."""

from __future__ import annotations

import pytest

from kafkaops.core.connect.model import ChangeRequest, Connector, TaskStatus
from kafkaops.core.connect.rules import (
    counts_text,
    parse_connector,
    parse_expanded,
    parse_offsets,
    parse_worker,
    plan_change,
    problem,
    redact_config,
    sink_group,
    trace_headline,
)

TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file "
    "'/x/out.txt' for FileStreamSinkTask\n\tat org.apache.kafka.connect.file.Fi(F.java:74)\n"
    "Caused by: java.nio.file.NoSuchFileException: /x/out.txt\n\tat sun.nio.fs.U(U.java:92)\n"
)


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("connection.password", "hunter2", "***"),
    ("database.password", "hunter2", "***"),
    ("aws.secret.access.key", "AKIA...", "***"),
    ("consumer.override.sasl.jaas.config", "...password=\"x\";", "***"),
    ("value.converter.basic.auth.user.info", "ops:pw", "***"),
    ("splunk.hec.token", "abc", "***"),
    ("gcs.credentials.json", "{...}", "***"),
    ("ssl.keystore.key", "-----BEGIN", "***"),
    ("api.key", "k", "***"),
    ("connection.url", "jdbc:postgresql://ops:hunter2@db:5432/x", "jdbc:postgresql://ops:***@db:5432/x"),
    ("connection.url", "jdbc:postgresql://db:5432/x", "jdbc:postgresql://db:5432/x"),
    ("key.converter", "org.apache.kafka.connect.json.JsonConverter",
     "org.apache.kafka.connect.json.JsonConverter"),
    ("topics", "orders", "orders"),
    ("connection.password", "", ""),  # nothing to hide: an empty value says it is unset
])
def test_secrets_are_redacted(key: str, value: str, shown: str) -> None:
    assert redact_config({key: value}) == {key: shown}


def status(state: str = "RUNNING", tasks: list[dict] | None = None, **extra) -> dict:
    return {"name": "c", "connector": {"state": state, "worker_id": "w:8083", **extra},
            "tasks": tasks if tasks is not None else [], "type": "sink"}


def test_a_connector_is_read_from_expand_status_and_info() -> None:
    body = {"s3": {
        "status": status("RUNNING", [{"id": 1, "state": "FAILED", "worker_id": "w:8083",
                                      "trace": TRACE},
                                     {"id": 0, "state": "RUNNING", "worker_id": "w:8083"}]),
        "info": {"name": "s3", "type": "sink", "tasks": [], "config": {
            "connector.class": "io.confluent.S3SinkConnector", "topics": "orders",
            "aws.secret.access.key": "xyz"}}}}
    (c,) = parse_expanded(body)
    assert (c.name, c.type, c.state, c.class_name) == ("s3", "sink", "RUNNING",
                                                       "io.confluent.S3SinkConnector")
    assert [t.id for t in c.tasks] == [0, 1]  # by id, whatever order the worker sent
    assert c.failed_tasks[0].trace == TRACE
    assert c.config["aws.secret.access.key"] == "***"
    assert c.group == "connect-s3"
    assert c.task_counts == {"RUNNING": 1, "FAILED": 1}


@pytest.mark.parametrize("body", [
    [],                                              # a list: not Connect's answer
    {"s3": "RUNNING"},                               # entries are objects
    {"s3": {"status": {"connector": "RUNNING"}}},    # the connector is an object
    {"s3": {"status": status(tasks={"id": 0})}},     # tasks is a list
    {"s3": {"status": status(tasks=[{"state": "RUNNING"}])}},  # a task has an id
    {"s3": {"status": status(tasks=[{"id": True, "state": "RUNNING"}])}},
    {"s3": {"status": {"connector": {"state": 5}}}},  # a state is a string
])
def test_json_that_is_not_connects_is_rejected(body: object) -> None:
    with pytest.raises(ValueError):
        parse_expanded(body)


def test_a_connector_without_a_status_yet_is_unassigned() -> None:
    (c,) = parse_expanded({"new": {"info": {"name": "new", "type": "sink", "config": {}}}})
    assert (c.name, c.state, c.tasks, c.type) == ("new", "UNASSIGNED", (), "sink")


def test_worker_root_and_offsets_shapes() -> None:
    w = parse_worker("http://c", {"version": "3.9.0", "commit": "84ca",
                                  "kafka_cluster_id": "k1"})
    assert (w.version, w.kafka_cluster_id) == ("3.9.0", "k1")
    for bad in ({"status": "ok"}, "<html>", [], {"version": 3, "kafka_cluster_id": "k"}):
        with pytest.raises(ValueError):
            parse_worker("http://c", bad)
    offs = parse_offsets("src", {"offsets": [{"partition": {"filename": "/in"},
                                              "offset": {"position": 6}},
                                             {"partition": {"filename": "/b"}, "offset": None}]})
    assert [o.offset for o in offs.offsets] == [{"position": 6}, None]
    with pytest.raises(ValueError):
        parse_offsets("src", {"offsets": [{"offset": {}}]})


def test_hostile_sizes_are_bounded() -> None:
    c = parse_connector("x", status("FAILED", trace="E" * 1_000_000), None)
    assert c.trace is not None and len(c.trace) == 64 * 1024


def test_sink_group_follows_an_override() -> None:
    assert sink_group("s3", {}) == "connect-s3"
    assert sink_group("s3", {"consumer.override.group.id": "warehouse"}) == "warehouse"


@pytest.mark.parametrize(("counts", "text"), [
    ({}, "no tasks"),
    ({"RUNNING": 3}, "3 RUNNING"),
    ({"RUNNING": 2, "FAILED": 1}, "1 FAILED, 2 RUNNING"),
    ({"PAUSED": 1, "NEWSTATE": 2}, "1 PAUSED, 2 NEWSTATE"),
])
def test_counts_text(counts: dict[str, int], text: str) -> None:
    assert counts_text(counts) == text


def test_trace_headline_names_the_root_cause() -> None:
    assert trace_headline(TRACE) == (
        "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file "
        "'/x/out.txt' for FileStreamSinkTask (caused by java.nio.file.NoSuchFileException: "
        "/x/out.txt)")
    assert trace_headline(None) == "" and trace_headline("\n\n") == ""
    assert trace_headline("java.lang.OutOfMemoryError") == "java.lang.OutOfMemoryError"


def conn(state: str = "RUNNING", tasks: tuple[str, ...] = ("RUNNING",),
         ctype: str = "sink") -> Connector:
    return Connector("s3", ctype, state, "w", TRACE if state == "FAILED" else None,
                     tuple(TaskStatus(i, s, "w", TRACE if s == "FAILED" else None)
                           for i, s in enumerate(tasks)),
                     {}, "X", "connect-s3" if ctype == "sink" else None)


def test_problem_is_the_first_thing_that_failed() -> None:
    assert problem(conn()) == ""
    assert problem(conn(tasks=("RUNNING", "FAILED"))).startswith("task 1: org.apache")
    assert problem(conn("FAILED", ())).startswith("org.apache.kafka.connect.errors")


P = ChangeRequest
PLANS = [
    # (request, connector state, task states, noop?, blocked?, targets, words in `will`)
    (P("restart", "s3"), "RUNNING", ("RUNNING", "FAILED"), False, False, (0, 1),
     "the connector instance and all 2 task(s) (0, 1)"),
    (P("restart", "s3", failed_only=True), "RUNNING", ("RUNNING", "FAILED"), False, False,
     (1,), "Restart failed task(s) 1 of s3; running tasks are left alone"),
    (P("restart", "s3", failed_only=True), "FAILED", (), False, False, (),
     "Restart the connector instance (FAILED) of s3"),
    (P("restart", "s3", failed_only=True), "RUNNING", ("RUNNING",), True, False, (),
     "Restart nothing"),
    (P("restart", "s3", task=0), "RUNNING", ("FAILED",), False, False, (0,),
     "Restart task 0 of s3 (now FAILED)"),
    (P("restart", "s3"), "PAUSED", ("PAUSED",), False, False, (0,),
     "It stays PAUSED: restarting does not resume it"),
    (P("pause", "s3"), "RUNNING", ("RUNNING",), False, False, (), "RUNNING → PAUSED"),
    (P("pause", "s3"), "PAUSED", ("PAUSED",), True, False, (), "Pause s3"),
    (P("resume", "s3"), "PAUSED", ("PAUSED",), False, False, (), "PAUSED → RUNNING"),
    (P("resume", "s3"), "STOPPED", (), False, False, (), "STOPPED → RUNNING"),
    (P("resume", "s3"), "RUNNING", ("RUNNING",), True, False, (), "Resume s3"),
    (P("resume", "s3"), "RUNNING", ("FAILED",), True, False, (), "Resume s3"),
    (P("stop", "s3"), "RUNNING", ("RUNNING",), False, False, (), "RUNNING → STOPPED"),
    (P("stop", "s3"), "STOPPED", (), True, False, (), "Stop s3"),
    (P("delete", "s3"), "RUNNING", ("RUNNING",), False, False, (),
     "committed offsets stay (consumer group connect-s3)"),
    (P("reset-offsets", "s3"), "STOPPED", (), False, False, (), "beginning of its topics"),
    (P("reset-offsets", "s3"), "RUNNING", ("RUNNING",), False, True, (), "Reset the offsets"),
    (P("reset-offsets", "s3"), "PAUSED", ("PAUSED",), False, True, (), "Reset the offsets"),
]


@pytest.mark.parametrize(("req", "state", "tasks", "noop", "blocked", "targets", "words"),
                         PLANS)
def test_what_a_change_will_do(req, state, tasks, noop, blocked, targets, words) -> None:
    plan = plan_change(req, conn(state, tasks), cluster="primary", connect="ingest")
    assert (plan.noop is not None, plan.blocked is not None) == (noop, blocked)
    assert plan.targets == targets
    assert words in plan.will
    assert plan.state == state and plan.audit_action == f"connect.{req.action}"


def test_why_nothing_changes_and_why_it_is_blocked_are_said() -> None:
    plan = plan_change(P("resume", "s3"), conn("RUNNING", ("FAILED",)), cluster="p",
                       connect="i")
    assert plan.noop == ("s3 is RUNNING, not paused or stopped: resume changes nothing "
                         "(a FAILED connector needs a restart)")
    plan = plan_change(P("reset-offsets", "s3"), conn(), cluster="p", connect="i")
    assert plan.blocked == ("s3 is RUNNING: offsets can only be reset while it is STOPPED "
                            "(stop it first: `kafkaops connect stop s3`)")


def test_a_task_the_connector_does_not_have_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"connector 's3' has no task 7 \(tasks: 0, 1\)"):
        plan_change(P("restart", "s3", task=7), conn(tasks=("RUNNING", "RUNNING")),
                    cluster="p", connect="i")
