"""The filter language: parsing, evaluation and the byte prefilter, as tables."""

from __future__ import annotations

import json

import pytest

from kafkaops.core.errors import UsageError
from kafkaops.core.expr.filter import compile_filter, extract
from kafkaops.core.expr.model import FilterError
from kafkaops.core.messages.model import Message


def msg(value: object = None, *, key: bytes | None = b"k1", headers=(), raw: bytes | None = None,
        partition: int = 0, offset: int = 7, timestamp: int = 1_700_000_000_000) -> Message:
    if raw is None and value is not None:
        raw = value.encode() if isinstance(value, str) else json.dumps(value).encode()
    return Message("orders", partition, offset, timestamp, key, raw, tuple(headers))


BUILD = {"status": "failed", "branch": "main", "code": 500, "ok": False, "retries": 2,
         "payload": {"user": {"id": 42, "name": "Zoë"}, "items": [{"sku": "A1"}, {"sku": "B2"}]},
         "tags": ["x", "y"], "odd key": "v", "none": None, "codestr": "500"}
HEADERS = (("trace-id", b"abc123"), ("kafka_dlt-exception-fqcn", b"java.lang.NullPointer"),
           ("__connect.errors.topic", b"orders"), ("bin", b"\xff\xfe"), ("dup", b"1"),
           ("dup", b"2"))

CASES = [
    # JSON fields
    ('status == "failed"', BUILD, True),
    ('status == "ok"', BUILD, False),
    ('status = "failed"', BUILD, True),
    ('status == "failed" and branch == "main"', BUILD, True),
    ('status == "failed" and branch == "dev"', BUILD, False),
    ('status == "ok" or branch == "main"', BUILD, True),
    ('status == "failed" && (branch == "dev" || code >= 500)', BUILD, True),
    ("not status == \"ok\"", BUILD, True),
    ('!(status == "failed")', BUILD, False),
    ('status != "ok"', BUILD, True),
    ('missing != "ok"', BUILD, False),  # absent field: every comparison is false
    ('not missing == "ok"', BUILD, True),
    ("code == 500", BUILD, True),
    ('code == "500"', BUILD, True),  # text that reads as a number compares as a number
    ("codestr == 500", BUILD, True),
    ("code > 499 and code < 501", BUILD, True),
    ("code <= 499", BUILD, False),
    ("retries >= 2.0", BUILD, True),
    ("ok == false", BUILD, True),
    ('ok == "false"', BUILD, True),
    ("none == null", BUILD, True),
    ("status == null", BUILD, False),
    ("payload.user.id == 42", BUILD, True),
    ('payload.user.name == "Zoë"', BUILD, True),
    ('payload.items[1].sku == "B2"', BUILD, True),
    ('payload.items[-1].sku == "B2"', BUILD, True),
    ('payload.items[5].sku == "B2"', BUILD, False),
    ('tags contains "y"', BUILD, True),
    ('tags contains "z"', BUILD, False),
    ('["odd key"] == "v"', BUILD, True),
    ('$.status == "failed"', BUILD, True),
    ('value.status == "failed"', BUILD, True),
    ('status in ["ok", "failed"]', BUILD, True),
    ("code in [404, 500]", BUILD, True),
    ('status in ["ok"]', BUILD, False),
    ('status ~ "^fail"', BUILD, True),
    ('status ~ "(?i)^FAIL"', BUILD, True),
    ('status !~ "^fail"', BUILD, False),
    ('"failed" == status', BUILD, True),
    # presence
    ("payload", BUILD, True),
    ("ok", BUILD, False),
    ("none", BUILD, False),
    ("missing", BUILD, False),
    # value text and bare strings
    ('value contains "failed"', BUILD, True),
    ('"failed"', BUILD, True),
    ('"nowhere"', BUILD, False),
    ('value contains "boom"', "plain text with boom inside", True),
    ('value == "plain"', "plain", True),
    ('status == "failed"', "not json at all", False),
    ('value contains "x"', None, False),  # tombstone
    # key
    ('key == "k1"', BUILD, True),
    ('key ~ "^k"', BUILD, True),
    ('key == "k2"', BUILD, False),
    # record position
    ("partition == 0 and offset == 7", BUILD, True),
    ("timestamp > 1600000000000", BUILD, True),
    ('topic == "orders"', BUILD, True),
]


@pytest.mark.parametrize(("expr", "value", "expected"), CASES)
def test_evaluate(expr: str, value: object, expected: bool) -> None:
    assert compile_filter(expr).matches(msg(value, headers=HEADERS)) is expected


HEADER_CASES = [
    ('header.trace-id == "abc123"', True),
    ('headers.trace-id ~ "^abc"', True),
    ('header["trace-id"] == "abc123"', True),
    ('header.kafka_dlt-exception-fqcn contains "NullPointer"', True),
    ('header.__connect.errors.topic == "orders"', True),
    ("header.trace-id", True),
    ("header.nope", False),
    ('header.nope != "x"', False),
    ('header.bin == "x"', False),  # not UTF-8: no text to compare
    ('header.dup == "2"', True),  # a repeated name: the last value, as Kafka's lastHeader()
]


@pytest.mark.parametrize(("expr", "expected"), HEADER_CASES)
def test_headers(expr: str, expected: bool) -> None:
    assert compile_filter(expr).matches(msg(BUILD, headers=HEADERS)) is expected


def test_binary_and_invalid_utf8_values_never_match_text_and_never_fail() -> None:
    for raw in (b"\xff\xfe\x00\x01", b"", b"\xc3\x28"):
        m = msg(raw=raw, key=b"\xff")
        for expr in ('value contains "x"', 'status == "x"', 'key == "x"', "status", '"x"'):
            assert compile_filter(expr).matches(m) is False


def test_json_key_fields() -> None:
    m = msg(BUILD, key=b'{"tenant": "acme", "id": 3}')
    assert compile_filter('key.tenant == "acme" and key.id == 3').matches(m)
    assert not compile_filter('key.tenant == "other"').matches(m)


def test_escaped_json_is_not_ruled_out_by_the_prefilter() -> None:
    # "failed" spelled with a \u escape: the bytes `failed` do not occur, the value matches
    m = msg(raw=b'{"status": "f\\u0061iled"}')
    f = compile_filter('status == "failed"')
    assert f.has_prefilter
    assert f.matches(m)
    assert f.select([m, msg({"status": "ok"})]) == [m]


@pytest.mark.parametrize("expr", [
    'status == "failed" and branch == "main"', '"failed"', 'key == "k1"',
    'status in ["failed", "x"]', 'status == "ok" or code == 500', 'value contains "main"',
])
def test_select_agrees_with_matches(expr: str) -> None:
    records = [msg(BUILD), msg({"status": "ok"}), msg("main text"), msg(raw=b"\xff"),
               msg(None), msg(BUILD, key=None), msg({"status": "failed", "branch": "dev"})]
    f = compile_filter(expr)
    assert f.select(records) == [r for r in records if f.matches(r)]


ERRORS = [
    ("", "the filter is empty", 0),
    ('status ==', "expected a value after '=='", 9),
    ('status == "failed', "string is not closed", 10),
    ('status == "a" branch == "b"', "expected `and` or `or`", 14),
    ('(status == "a"', "expected `)`", 0),
    ('status in "a"', "expected a list after `in`", 10),
    ('status in ["a" "b"]', "expected `,` or `]`", 15),
    ('status ~ "("', "bad regular expression", 7),
    ("status ~ 5", "must be a quoted regular expression", 7),
    ('"a" == "b"', "neither side is a field name", 4),
    ("500", "a bare number", 0),
    ("header", "name the header", 0),
    ("status # 1", "unexpected character '#'", 7),
    ("a. == 1", "expected a name after `.`", 3),
    ("status == and", "expected a value after '=='", 10),
]


@pytest.mark.parametrize(("expr", "message", "column"), ERRORS)
def test_parse_errors_say_what_and_where(expr: str, message: str, column: int) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(expr)
    err = info.value
    assert message in err.reason
    assert err.position == column
    assert isinstance(err, UsageError) and err.exit_code == 2
    assert f"(column {column + 1})" in str(err)
    assert str(err).splitlines()[-1] == "  " + " " * column + "^"


def test_extract_for_templates() -> None:
    m = msg(BUILD, headers=HEADERS)
    assert extract(m, "payload.user.name") == "Zoë"
    assert extract(m, "header.trace-id") == "abc123"
    assert extract(m, "nope") is None
    assert extract(m, "offset") == 7


def test_prefilter_rejects_records_without_the_needle_before_evaluating_them() -> None:
    # `tail --json --filter 'level == "ERROR"'` runs Filter.select on each batch: a value
    # without the bytes `ERROR` is dropped there, and the expression is never evaluated on it
    import dataclasses

    f = compile_filter('level == "ERROR"')
    assert f.has_prefilter
    seen: list[int] = []

    def spy(ctx) -> bool:
        seen.append(ctx.rec.offset)
        return f._pred(ctx)

    spied = dataclasses.replace(f, _pred=spy)
    info = msg({"level": "INFO", "msg": "request done"}, offset=1)
    error = msg({"level": "ERROR", "msg": "boom"}, offset=2)
    assert spied.select([info, error, msg(None, offset=3)]) == [error]
    assert seen == [2]
    seen.clear()
    assert not spied.matches(info)
    assert seen == []


def test_needle_in_another_field_is_evaluated_and_decides_on_the_named_field() -> None:
    f = compile_filter('level == "ERROR"')
    elsewhere = msg({"level": "INFO", "msg": "ERROR from upstream"}, offset=1)
    as_key = msg({"ERROR": "ERROR", "level": "WARN"}, offset=2)
    error = msg({"msg": "x", "level": "ERROR"}, offset=3)
    nested = msg({"inner": {"level": "ERROR"}}, offset=4)
    records = [elsewhere, as_key, error, nested]
    assert f.select(records) == [error]
    assert [r.offset for r in records if f.matches(r)] == [3]
    # the same on the key's JSON and on the raw key text
    k = compile_filter('key.level == "ERROR"')
    assert k.select([msg(BUILD, key=b'{"level": "INFO", "m": "ERROR"}'),
                     msg(BUILD, key=b'{"level": "ERROR"}', offset=9)]) == [
        msg(BUILD, key=b'{"level": "ERROR"}', offset=9)]
