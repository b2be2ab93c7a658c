"""Audit signing and verification as pure functions: every kind of tampering, and interleaved
writers that must verify clean."""

from __future__ import annotations

import json

import pytest

from kafkaops.core.audit.chain import build_record, canonical, digest, sign, verify_trail

KEY = b"k3y"


class Trail:
    """Writers appending to one partition the way AuditLog does (head = the newest record)."""

    def __init__(self) -> None:
        self.values: list[bytes] = []
        self.state: dict[str, tuple[int, str]] = {}

    def write(self, writer: str, *, key: bytes = KEY, head_lag: int = 0, **over) -> dict:
        seq, prev = self.state.get(writer, (0, ""))
        pos = len(self.values) - 1 - head_lag  # head_lag: it read the head a bit earlier
        head = (pos, digest(self.values[pos])) if pos >= 0 else None
        fields = dict(
            key=key, change_id=f"c{len(self.values)}", time_ms=1000 + len(self.values),
            cluster="primary", actor="ann@host", face="cli", action="dlq.replay",
            target="orders.dlq", params={"filter": None}, result="ok", detail={"n": 1},
            error=None, writer=writer, seq=seq + 1, prev=prev, head=head)
        fields.update(over)
        rec = build_record(**fields)
        self.values.append(json.dumps(rec).encode())
        self.state[writer] = (seq + 1, rec["sig"])
        return rec

    def records(self, values: list[bytes] | None = None, start: int = 0):
        vals = self.values if values is None else values
        return [(0, start + i, v) for i, v in enumerate(vals)]


def kinds(report) -> list[tuple[int, str]]:
    return [(p.offset, p.kind) for p in report.problems]


def test_sign_is_over_sorted_fields_without_sig():
    a = {"b": 1, "a": [1, "é"], "sig": "x"}
    assert canonical(a) == '{"a":[1,"é"],"b":1}'.encode()
    assert sign(a, KEY) == sign({"a": [1, "é"], "b": 1}, KEY) != sign(a, b"other")


def test_clean_single_writer():
    t = Trail()
    for _ in range(5):
        t.write("w1")
    report = verify_trail(t.records(), KEY)
    assert report.ok and report.records == 5 and report.writers == 1
    assert report.head_offset == 4 and report.head_sig == json.loads(t.values[4])["sig"]


def test_clean_interleaved_writers_that_read_stale_heads():
    """Three writers at once: each saw an older head than the record before it."""
    t = Trail()
    t.write("a")
    t.write("b")
    t.write("c", head_lag=1)
    t.write("a", head_lag=2)
    t.write("b")
    t.write("c", head_lag=1)
    t.write("a")
    report = verify_trail(t.records(), KEY)
    assert report.ok, report.problems
    assert report.writers == 3


def test_empty_trail_is_clean():
    report = verify_trail([], KEY)
    assert report.ok and report.head_offset is None


def test_forged_record_without_the_key():
    t = Trail()
    t.write("w1")
    t.write("w1")
    t.write("intruder", key=b"guessed")
    report = verify_trail(t.records(), KEY)
    assert kinds(report) == [(2, "bad-signature")]
    assert "forged" in report.problems[0].message


def test_altered_copy_names_the_original_and_the_fields():
    t = Trail()
    t.write("w1")
    rec = t.write("w1", result="error", error="boom")
    t.write("w1")
    copy = dict(rec, result="ok", error=None)
    values = [*t.values, json.dumps(copy).encode()]
    report = verify_trail(t.records(values), KEY)
    assert kinds(report) == [(3, "altered")]
    assert "offset 1" in report.problems[0].message
    assert "error, result" in report.problems[0].message


def test_altered_in_place():
    t = Trail()
    t.write("w1")
    t.write("w1")
    t.write("w1")
    rec = json.loads(t.values[1])
    rec["actor"] = "someone-else"
    values = list(t.values)
    values[1] = json.dumps(rec).encode()
    report = verify_trail(t.records(values), KEY)
    assert kinds(report) == [(1, "bad-signature")]  # and seq 2 is not also called missing


def test_replayed_copy():
    t = Trail()
    t.write("w1")
    t.write("w1")
    t.write("w2")
    values = [*t.values, t.values[1]]
    report = verify_trail(t.records(values), KEY)
    assert kinds(report) == [(3, "duplicate")]
    assert "replayed copy of the record at offset 1" in report.problems[0].message


def test_missing_record_in_the_middle():
    t = Trail()
    for _ in range(4):
        t.write("w1")
    values = [t.values[0], t.values[1], t.values[3]]  # seq 3 removed, topic rewritten
    report = verify_trail(t.records(values), KEY)
    assert (2, "missing") in kinds(report)
    assert "seq 3 is missing" in next(p.message for p in report.problems if p.kind == "missing")


def test_whole_writer_removed_is_caught_by_head_links():
    t = Trail()
    t.write("a")
    t.write("b")  # b's only record
    t.write("a")
    values = [t.values[0], t.values[2]]
    report = verify_trail(t.records(values), KEY)
    assert kinds(report) == [(1, "rewritten")]


def test_missing_first_records_when_log_starts_at_zero():
    t = Trail()
    for _ in range(3):
        t.write("w1")
    report = verify_trail(t.records(t.values[1:]), KEY)
    assert (0, "missing") in kinds(report)
    # the same records after retention removed offset 0 are fine
    assert verify_trail(t.records(t.values[1:], start=1), KEY, log_start=1).ok


def test_reordered_records():
    t = Trail()
    for _ in range(4):
        t.write("w1")
    values = [t.values[0], t.values[2], t.values[1], t.values[3]]
    report = verify_trail(t.records(values), KEY)
    assert (2, "reordered") in kinds(report)
    assert all(k != "missing" for _, k in kinds(report))  # seq 2 is there, just late


@pytest.mark.parametrize(("value", "why"), [
    (b"not json", "not JSON"), (b"[1, 2]", "not a JSON object"), (b"", "empty value"),
    (b'{"v": 1}', "fields missing"),
])
def test_malformed_records(value, why):
    t = Trail()
    t.write("w1")
    report = verify_trail(t.records([*t.values, value]), KEY)
    assert kinds(report) == [(1, "malformed")]
    assert why in report.problems[0].message


def test_records_after_a_foreign_record_still_link_to_it():
    t = Trail()
    t.write("w1")
    t.values.append(b"junk")
    t.write("w1")  # saw the junk as its head
    report = verify_trail(t.records(), KEY)
    assert kinds(report) == [(1, "malformed")]


# ---------------------------------------------------------------- intents and outcomes


def change(t: Trail, writer: str, cid: str, *, outcome: str | None = "ok",
           closer: str | None = None) -> None:
    """A change as record_change writes it: its intent, then (unless killed) its outcome,
    by the same writer or, closing it afterwards, by `closer`."""
    t.write(writer, change_id=cid, result="intent", detail=None)
    if outcome is not None:
        t.write(closer or writer, change_id=cid, result=outcome)


@pytest.mark.parametrize(("build", "expected"), [
    # every intent has its outcome: clean, interleaved or not
    (lambda t: (change(t, "a", "x"), change(t, "b", "y")), []),
    (lambda t: (t.write("a", change_id="x", result="intent", detail=None),
                t.write("b", change_id="y", result="intent", detail=None),
                t.write("b", change_id="y", result="error", error="boom"),
                t.write("a", change_id="x", result="ok")), []),
    # a process killed between the two: its intent is reported, by offset
    (lambda t: (change(t, "a", "x"), change(t, "a", "y", outcome=None)), [(2, "no-outcome")]),
    (lambda t: (change(t, "a", "x", outcome=None), change(t, "b", "y")), [(0, "no-outcome")]),
    # ... and closed afterwards by another writer (a resume): clean again
    (lambda t: (change(t, "a", "x", outcome=None), change(t, "b", "y"),
                t.write("c", change_id="x", result="interrupted", error="found on resume")), []),
    # outcomes without an intent: refusals before a change, trails written before intents
    (lambda t: (t.write("a", result="refused", error="no permission"), t.write("a")), []),
])
def test_intents_reconcile_with_outcomes(build, expected):
    t = Trail()
    build(t)
    report = verify_trail(t.records(), KEY)
    assert kinds(report) == expected
    for p in report.problems:
        assert "has an intent and no outcome" in p.message and "dlq.replay" in p.message


def test_an_outcome_forged_to_close_an_intent_does_not_close_it():
    t = Trail()
    change(t, "a", "x", outcome=None)
    t.write("intruder", key=b"guessed", change_id="x", result="ok")
    report = verify_trail(t.records(), KEY)
    assert kinds(report) == [(0, "no-outcome"), (1, "altered")]


def test_an_altered_outcome_is_compared_with_the_outcome_not_the_intent():
    t = Trail()
    change(t, "a", "x", outcome="error")
    rec = json.loads(t.values[1])
    values = [*t.values, json.dumps(dict(rec, result="ok")).encode()]
    report = verify_trail(t.records(values), KEY)
    assert kinds(report) == [(2, "altered")]
    assert "offset 1" in report.problems[0].message and "changed: result" in \
        report.problems[0].message
