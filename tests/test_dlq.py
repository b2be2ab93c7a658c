"""Dead letters as pure functions: recognition by name, origin and reason from the headers
Spring Kafka, Kafka Connect and kafkaops write, grouping, replay headers."""

from __future__ import annotations

import struct

import pytest

from kafkaops.core.config import DeadLetterConfig
from kafkaops.core.dlq.headers import (
    group_reasons,
    origin_by_name,
    parse_dead_letter,
    reason_key,
    replay_headers,
)
from kafkaops.core.dlq.model import REPLAY_ID, REPLAY_OF, Origin
from kafkaops.core.messages.model import Message

CFG = DeadLetterConfig(topics={"jdbc-sink-errors": "customers"})


@pytest.mark.parametrize(("topic", "origin"), [
    ("orders.dlq", "orders"), ("orders-dlq", "orders"), ("orders.DLT", "orders"),
    ("orders-dlt", "orders"), ("orders.events.dlq", "orders.events"),
    ("jdbc-sink-errors", "customers"), ("orders", None), (".dlq", None),
    ("_kafkaops.audit", None), ("orders.dlq.archive", None),
])
def test_origin_by_name(topic, origin):
    assert origin_by_name(topic, CFG) == origin


def spring(topic="orders", partition=3, offset=1234, fqcn="java.lang.IllegalStateException",
           message="Order 42 not found"):
    return [
        ("kafka_dlt-original-topic", topic.encode()),
        ("kafka_dlt-original-partition", struct.pack(">i", partition)),
        ("kafka_dlt-original-offset", struct.pack(">q", offset)),
        ("kafka_dlt-original-timestamp", struct.pack(">q", 1_700_000_000_000)),
        ("kafka_dlt-original-consumer-group", b"orders-service"),
        ("kafka_dlt-exception-fqcn", fqcn.encode()),
        ("kafka_dlt-exception-message", message.encode()),
        ("kafka_dlt-exception-stacktrace", b"at com.acme.Orders.handle(Orders.java:42)"),
    ]


def connect(topic="customers"):
    return [
        ("__connect.errors.topic", topic.encode()), ("__connect.errors.partition", b"1"),
        ("__connect.errors.offset", b"77"), ("__connect.errors.connector.name", b"jdbc-sink"),
        ("__connect.errors.task.id", b"0"), ("__connect.errors.stage", b"VALUE_CONVERTER"),
        ("__connect.errors.class.name", b"org.apache.kafka.connect.json.JsonConverter"),
        ("__connect.errors.exception.class.name",
         b"org.apache.kafka.connect.errors.DataException"),
        ("__connect.errors.exception.message", b"Converting byte[] to Kafka Connect data failed"),
    ]


def ours(topic="payments"):
    return [("kafkaops.origin.topic", topic.encode()), ("kafkaops.origin.partition", b"0"),
            ("kafkaops.origin.offset", b"9"), ("kafkaops.error.class", b"ValueError"),
            ("kafkaops.error.message", b"amount '12.50' is negative")]


def msg(headers, topic="orders.dlq"):
    return Message(topic, 0, 5, 1, b"k", b'{"id": 1}', tuple(headers))


@pytest.mark.parametrize(("headers", "origin", "cls", "reason"), [
    (spring(), Origin("orders", 3, 1234, 1_700_000_000_000, "orders-service", "spring"),
     "java.lang.IllegalStateException", "IllegalStateException: Order <n> not found"),
    (connect(), Origin("customers", 1, 77, None, "jdbc-sink", "connect"),
     "org.apache.kafka.connect.errors.DataException",
     "DataException: Converting byte[] to Kafka Connect data failed"),
    (ours(), Origin("payments", 0, 9, None, None, "kafkaops"), "ValueError",
     "ValueError: amount <value> is negative"),
    ([], Origin("orders", framework="name"), None, "no error headers"),
    ([("kafka_dlt-original-topic", b"orders"), ("kafka_dlt-original-partition", b"2"),
      ("kafka_dlt-original-offset", b"10")],
     Origin("orders", 2, 10, None, None, "spring"), None, "no error headers"),
])
def test_parse_dead_letter(headers, origin, cls, reason):
    dl = parse_dead_letter(msg(headers), origin_by_name("orders.dlq", CFG))
    assert dl.origin == origin
    assert dl.error_class == cls
    assert dl.reason == reason


@pytest.mark.parametrize(("cls", "message", "expected"), [
    ("java.lang.NullPointerException", None, "NullPointerException"),
    ("com.acme.Orders$Invalid", "bad order 17", "Invalid: bad order <n>"),
    (None, "timeout after 30000 ms", "timeout after <n> ms"),
    ("E", "user 0b5a5c1e-2a9c-4b44-9a43-0f4e8f1b2c3d missing", "E: user <id> missing"),
    ("E", "hash deadbeefcafe1234 wrong", "E: hash <id> wrong"),
    ("E", "first line\nsecond line", "E: first line"),
    ("E", "field \"sku\" invalid", "E: field <value> invalid"),
    ("E", "v2 of schema", "E: v2 of schema"),
])
def test_reason_key(cls, message, expected):
    assert reason_key(cls, message) == expected


def test_spring_wrapper_is_grouped_by_its_cause():
    headers = spring(fqcn="org.springframework.kafka.listener.ListenerExecutionFailedException",
                     message="Listener method 'com.acme.Orders.on' threw exception; Unexpected "
                     "end-of-input at line 1, column 17")
    headers.append(("kafka_dlt-exception-cause-fqcn",
                    b"com.fasterxml.jackson.core.io.JsonEOFException"))
    dl = parse_dead_letter(msg(headers), "orders")
    assert dl.reason == "JsonEOFException: Unexpected end-of-input at line <n>, column <n>"
    assert dl.error_class == "org.springframework.kafka.listener.ListenerExecutionFailedException"
    assert dl.cause_class == "com.fasterxml.jackson.core.io.JsonEOFException"


def test_group_reasons_counts_and_keeps_a_real_example():
    letters = [parse_dead_letter(msg(spring(message=f"Order {n} not found")), "orders")
               for n in (1, 2, 3)]
    letters.append(parse_dead_letter(msg(connect()), None))
    groups = group_reasons(letters)
    assert [(g.reason, g.count) for g in groups] == [
        ("IllegalStateException: Order <n> not found", 3),
        ("DataException: Converting byte[] to Kafka Connect data failed", 1)]
    assert groups[0].example == "java.lang.IllegalStateException: Order 1 not found"


def test_replay_headers_drop_dead_letter_headers_and_mark_the_replay():
    m = msg([("trace-id", b"abc"), *spring(), *connect(), *ours()])
    assert replay_headers(m, "r1") == [
        ("trace-id", b"abc"), (REPLAY_OF, b"orders.dlq/0/5"), (REPLAY_ID, b"r1")]


def test_replay_plan_says_what_goes_where_and_escapes_what_records_wrote():
    from kafkaops.core.dlq.model import ReplayItem, ReplayPlan

    plan = ReplayPlan("primary", "orders.dlq", (
        ReplayItem(0, 1, "orders", "Boom: \x1b[2Jcleared"),
        ReplayItem(0, 2, "customers", "Timeout")), ((0, 0),), ((1, 5),), filter="a == 1")
    lines = plan.describe()
    assert lines[0] == "replay 2 records of orders.dlq on primary: 1 to customers, 1 to orders"
    assert lines[1:3] == ["filter: a == 1",
                          "skipping 1 replayed before, 1 with no known origin (use --to TOPIC)"]
    assert lines[3] == "0:1 → orders · Boom: \\x1b[2Jcleared"  # a terminal escape, shown
    assert plan.describe(chosen="marked")[0].startswith("replay 2 of the 4 records marked of ")
    assert plan.positions == ((0, 0), (0, 1), (0, 2), (1, 5))
    assert ReplayPlan.from_jsonable(plan.to_jsonable()) == plan
    assert plan.nothing_to_change() == ""
    empty = ReplayPlan("primary", "orders.dlq", (), ((0, 0),), ())
    assert "nothing was written" in empty.nothing_to_change()
