"""Flags: the pure parts, as tables. Rollout bucketing, variants, targeting, value parsing,
and the fold every reader applies to the topic (compare-and-set and compaction safety)."""

from __future__ import annotations

import json

import pytest

from kafkaops.core.errors import UsageError
from kafkaops.core.flags.evaluation import bucket, evaluate, in_rollout, pick_variant
from kafkaops.core.flags.model import (
    H_BY,
    H_EXPECTS,
    H_OP,
    H_WRITE_ID,
    FlagState,
    LogRecord,
    Rule,
    Variant,
    check_rollout,
    encode_state,
    parse_rule,
    parse_value,
    parse_variant,
    state_from_json,
    state_to_json,
)
from kafkaops.core.flags.store import FlagLog

USERS = [f"user-{i}" for i in range(10_000)]


def flag(**kw: object) -> FlagState:
    base: dict[str, object] = {
        "key": "checkout",
        "type": "bool",
        "enabled": True,
        "value": True,
        "default": False,
        "version": 1,
    }
    base.update(kw)
    return FlagState(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- rollout


@pytest.mark.parametrize(
    ("flag_key", "user", "expected"),
    [
        # pinned: a change to the hash would silently move users of every service in or
        # out of their rollouts, and other-language SDKs must compute the same buckets
        ("checkout", "user-1", 4900),
        ("checkout", "user-2", 606),
        ("new-search", "alice", 8261),
        ("new-search", "", 6653),
    ],
)
def test_bucket_is_pinned_for_the_same_flag_and_user(
    flag_key: str, user: str, expected: int
) -> None:
    assert bucket(flag_key, user) == expected
    assert bucket(flag_key, user) == expected  # and again: no per-process salt


def test_bucket_does_not_depend_on_the_process() -> None:
    # SHA-256 of "rollout\0checkout\0user-1": pinned so a refactor cannot silently reshuffle
    import hashlib

    digest = hashlib.sha256(b"rollout\x00checkout\x00user-1").digest()
    assert bucket("checkout", "user-1") == int.from_bytes(digest[:8], "big") % 10_000


def test_the_same_user_lands_in_different_buckets_for_different_flags() -> None:
    same = sum(bucket("a", u) == bucket("b", u) for u in USERS[:2000])
    assert same < 10  # independent hashes: about 2000/10000 expected by chance


@pytest.mark.parametrize("percent", [1, 10, 30, 50, 75, 99.5])
def test_rollout_share_is_within_two_points_over_10000_users(percent: float) -> None:
    share = sum(in_rollout("checkout", u, percent) for u in USERS) / len(USERS) * 100
    assert abs(share - percent) <= 2


@pytest.mark.parametrize(("low", "high"), [(10, 20), (30, 50), (0, 5), (50, 100), (12.5, 12.51)])
def test_raising_the_rollout_keeps_every_user_who_was_in(low: float, high: float) -> None:
    before = {u for u in USERS if in_rollout("checkout", u, low)}
    after = {u for u in USERS if in_rollout("checkout", u, high)}
    assert before <= after
    if high > low + 1:
        assert len(after) > len(before)


def test_zero_and_hundred_percent_are_nobody_and_everybody() -> None:
    assert not any(in_rollout("f", u, 0) for u in USERS)
    assert all(in_rollout("f", u, 100) for u in USERS)


def test_variants_split_by_weight_and_stay_with_the_user() -> None:
    variants = (Variant("control", "blue", 1), Variant("treatment", "green", 3))
    picks = [pick_variant("checkout", u, variants).name for u in USERS]
    share = picks.count("treatment") / len(picks)
    assert 0.73 <= share <= 0.77
    assert picks == [pick_variant("checkout", u, variants).name for u in USERS]


def test_changing_the_rollout_does_not_reshuffle_variants() -> None:
    variants = (Variant("a", "x", 1), Variant("b", "y", 1))
    f10 = flag(type="string", value="v", default="d", rollout=10, variants=variants)
    f50 = flag(type="string", value="v", default="d", rollout=50, variants=variants)
    for u in USERS[:3000]:
        e10, e50 = evaluate(f10, u), evaluate(f50, u)
        if e10.reason == "variant":
            assert e50.variant == e10.variant


# ---------------------------------------------------------------- evaluation


@pytest.mark.parametrize(
    ("state", "user", "attrs", "value", "reason"),
    [
        (flag(enabled=False), "u1", {}, False, "disabled"),
        (flag(), "u1", {}, True, "on"),
        (flag(), None, {}, True, "on"),
        (flag(rollout=0), "u1", {}, False, "outside_rollout"),
        (flag(rollout=50), None, {}, False, "no_user_key"),
        (flag(rules=(parse_rule("region in [eu-west-1]"),)), "u1", {"region": "eu-west-1"},
         True, "targeting_match"),
        (flag(rules=(parse_rule("region in [eu-west-1]"),)), "u1", {"region": "us-east-1"},
         False, "targeting_miss"),
        (flag(rules=(parse_rule("region in [eu-west-1]"),)), "u1", {}, False, "targeting_miss"),
        (flag(rules=(parse_rule("region not in [eu-west-1]"),)), "u1", {"region": "us-east-1"},
         True, "targeting_match"),
        (flag(rules=(parse_rule("region not in [eu-west-1]"),)), "u1", {}, False,
         "targeting_miss"),
        (flag(rules=(parse_rule("user in [u1, u2]"),)), "u2", {}, True, "targeting_match"),
        (flag(rules=(parse_rule("user in [u1, u2]"),)), "u3", {}, False, "targeting_miss"),
        (flag(rules=(parse_rule("region in [eu-west-1]"), parse_rule("plan = pro"))), "u1",
         {"region": "eu-west-1", "plan": "free"}, False, "targeting_miss"),
        (flag(rules=(parse_rule("beta = true"),)), "u1", {"beta": True}, True,
         "targeting_match"),
        (flag(enabled=False, rules=(parse_rule("region in [eu]"),)), "u1", {"region": "eu"},
         False, "disabled"),
        (None, "u1", {}, None, "not_found"),
    ],
)
def test_evaluate(
    state: FlagState | None, user: str | None, attrs: dict[str, object], value: object,
    reason: str,
) -> None:
    ev = evaluate(state, user, attrs, key="checkout")
    assert (ev.value, ev.reason) == (value, reason)


def test_rollout_inside_targeting_applies_to_matching_users_only() -> None:
    f = flag(rollout=30, rules=(parse_rule("region in [eu-west-1]"),))
    eu = [evaluate(f, u, {"region": "eu-west-1"}) for u in USERS]
    us = [evaluate(f, u, {"region": "us-east-1"}) for u in USERS]
    assert not any(e.value for e in us)
    share = sum(e.value for e in eu) / len(eu) * 100
    assert abs(share - 30) <= 2
    assert {e.reason for e in eu} == {"rollout", "outside_rollout"}


def test_config_value_rollout_serves_the_new_value_to_the_share_and_default_to_the_rest() -> None:
    f = flag(type="number", value=2000, default=1500, rollout=25)
    values = [evaluate(f, u).value for u in USERS]
    assert set(values) == {1500, 2000}
    assert abs(values.count(2000) / len(values) * 100 - 25) <= 2


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("type_", "text", "value"),
    [
        ("bool", "true", True),
        ("bool", "OFF", False),
        ("bool", "1", True),
        ("number", "42", 42),
        ("number", "2.5", 2.5),
        ("number", "-3", -3),
        ("string", "eu-west-1", "eu-west-1"),
        ("string", "42", "42"),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("json", "null", None),
    ],
)
def test_parse_value(type_: str, text: str, value: object) -> None:
    assert parse_value(type_, text) == value


@pytest.mark.parametrize(
    ("type_", "text", "message"),
    [
        ("bool", "maybe", "a bool flag takes true or false"),
        ("number", "abc", "a number flag takes a number"),
        ("number", "true", "a number flag takes a number"),
        ("number", "NaN", "a number flag takes a finite number"),
        ("json", "[NaN]", "not JSON data"),
        ("json", "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("json", "{oops", "not valid JSON"),
    ],
)
def test_parse_value_rejects_what_does_not_fit(type_: str, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_value(type_, text)


@pytest.mark.parametrize(
    ("given", "pct"), [(0, 0.0), (100, 100.0), ("30", 30.0), ("12.5%", 12.5), (0.01, 0.01)]
)
def test_check_rollout_accepts_percentages(given: object, pct: float) -> None:
    assert check_rollout(given) == pct


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (150, "from 0 to 100, got 150"),
        (-1, "from 0 to 100"),
        ("lots", "from 0 to 100, got 'lots'"),
        (12.345, "at most two decimals"),
        (True, "from 0 to 100"),
    ],
)
def test_check_rollout_rejects_the_rest(given: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_rollout(given)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("region in [eu-west-1]", Rule("region", "in", ("eu-west-1",))),
        ("region in [eu-west-1, eu-central-1]",
         Rule("region", "in", ("eu-west-1", "eu-central-1"))),
        ("plan not in ['free']", Rule("plan", "not in", ("free",))),
        ("plan = pro", Rule("plan", "in", ("pro",))),
        ("plan == pro", Rule("plan", "in", ("pro",))),
        ("tier != gold", Rule("tier", "not in", ("gold",))),
    ],
)
def test_parse_rule(text: str, rule: Rule) -> None:
    assert parse_rule(text) == rule
    assert parse_rule(str(rule)) == rule


@pytest.mark.parametrize("text", ["region", "region in eu", "in [a]", "region in []", "x ~ y"])
def test_parse_rule_rejects_garbage(text: str) -> None:
    with pytest.raises(UsageError):
        parse_rule(text)


@pytest.mark.parametrize(
    ("type_", "text", "variant"),
    [
        ("string", "control=blue", Variant("control", "blue", 1)),
        ("string", "treatment:3=green", Variant("treatment", "green", 3)),
        ("json", 'big:2={"size": 3}', Variant("big", {"size": 3}, 2)),
    ],
)
def test_parse_variant(type_: str, text: str, variant: Variant) -> None:
    assert parse_variant(type_, text) == variant


def test_state_json_round_trip() -> None:
    f = flag(
        type="json",
        value={"a": 1},
        default=None,
        rollout=12.5,
        variants=(Variant("x", [1], 2),),
        rules=(parse_rule("region in [eu]"),),
        tags=("critical",),
        owner="payments",
    )
    assert state_from_json(json.loads(json.dumps(state_to_json(f)))) == f


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"type": "colour"}, "unknown flag type"),
        ({"value": "yes"}, "bool flag takes true or false"),
        ({"rollout": 150}, "from 0 to 100"),
        ({"version": 0}, "invalid version"),
        ({"enabled": None}, "enabled must be"),
        ({"variants": [["a", 1]]}, "lacks or mistypes"),
        ({"variants": "ab"}, "lacks or mistypes"),
        ({"rules": [{"attribute": "a", "op": "like", "values": ["x"]}]}, "unknown rule"),
        ({"key": 5}, "invalid flag key"),
    ],
)
def test_invalid_states_are_refused(patch: dict[str, object], message: str) -> None:
    data = state_to_json(flag())
    data.update(patch)
    with pytest.raises(ValueError, match=message):
        state_from_json(data)


# ---------------------------------------------------------------- the fold

_offset = iter(range(1_000_000))


def rec(
    key: str,
    state: FlagState | None,
    expects: int,
    op: str = "set",
    *,
    by: str = "",
    offset: int | None = None,
) -> LogRecord:
    headers = [
        (H_EXPECTS, str(expects).encode()),
        (H_WRITE_ID, f"w{next(_offset)}".encode()),
        (H_OP, op.encode()),
        (H_BY, by.encode()),
    ]
    return LogRecord(
        offset if offset is not None else 0,
        key.encode(),
        None if state is None else encode_state(state),
        tuple(headers),
    )


def numbered(records: list[LogRecord]) -> list[LogRecord]:
    return [LogRecord(i, r.key, r.value, r.headers) for i, r in enumerate(records)]


def fold(records: list[LogRecord]) -> FlagLog:
    log = FlagLog(keep_history=True)
    for r in records:
        log.apply(r)
    return log


def compact(records: list[LogRecord]) -> list[LogRecord]:
    """What Kafka's cleaner leaves: the last record of each key (tombstones kept for now)."""
    last = {r.key: r.offset for r in records}
    return [r for r in records if last[r.key] == r.offset]


def test_of_two_writes_expecting_the_same_version_the_first_in_the_log_wins() -> None:
    v1 = flag(version=1)
    alice = flag(version=2, rollout=30, updated_by="alice")
    bob = flag(version=2, rollout=50, updated_by="bob")
    log = fold(numbered([
        rec("checkout", v1, 0, "create"),
        rec("checkout", alice, 1, "rollout", by="alice"),
        rec("checkout", bob, 1, "rollout", by="bob"),
    ]))
    assert log.flags["checkout"] == alice
    outcomes = [(c.by, c.outcome) for c in log.history["checkout"]]
    assert outcomes == [("", "applied"), ("alice", "applied"), ("bob", "rejected")]
    assert "expected version 1, but version 2 was in force (by alice)" in (
        log.history["checkout"][-1].note
    )
    assert log.unhealthy_tails() == ["checkout"]


def test_a_rejected_tail_would_win_after_compaction_and_a_restate_prevents_it() -> None:
    v1 = flag(version=1)
    alice = flag(version=2, rollout=30, updated_by="alice")
    bob = flag(version=2, rollout=50, updated_by="bob")
    raced = numbered([
        rec("checkout", v1, 0, "create"),
        rec("checkout", alice, 1),
        rec("checkout", bob, 1),
    ])
    # without a repair, compaction keeps bob's rejected record and a new reader believes it
    assert fold(raced).flags["checkout"] == alice
    assert fold(compact(raced)).flags["checkout"] == bob
    # the loser restates what is in force: every reader, compacted or not, sees alice
    repaired = numbered([*raced, rec("checkout", alice, 2, "restate")])
    assert fold(repaired).flags["checkout"] == alice
    assert fold(compact(repaired)).flags["checkout"] == alice
    assert fold(repaired).unhealthy_tails() == []


def test_restate_of_a_version_no_longer_in_force_is_not_applied() -> None:
    v1, v2, v3 = flag(version=1), flag(version=2, rollout=20), flag(version=3, rollout=40)
    log = fold(numbered([
        rec("checkout", v1, 0, "create"),
        rec("checkout", v2, 1),
        rec("checkout", v3, 2),
        rec("checkout", v2, 2, "restate"),  # expects 2, 3 is in force: lost like any write
        rec("checkout", v2, 3, "restate"),  # expects 3 but carries 2: not a restate of v3
    ]))
    assert log.flags["checkout"] == v3
    assert [c.outcome for c in log.history["checkout"][-2:]] == ["rejected", "ignored"]


def test_delete_is_a_tombstone_with_a_compare_and_set_header() -> None:
    v1 = flag(version=1)
    log = fold(numbered([
        rec("checkout", v1, 0, "create"),
        rec("checkout", None, 5, "delete"),  # stale: rejected, flag stays
    ]))
    assert "checkout" in log.flags
    log = fold(numbered([rec("checkout", v1, 0, "create"), rec("checkout", None, 1, "delete")]))
    assert "checkout" not in log.flags
    assert log.version_at_deletion("checkout") == 1


def test_recreated_flag_after_delete_and_a_stale_write_on_the_deleted_flag() -> None:
    v1 = flag(version=1)
    v2 = flag(version=2, enabled=False)
    log = fold(numbered([
        rec("checkout", v1, 0, "create"),
        rec("checkout", None, 1, "delete"),
        rec("checkout", flag(version=2, rollout=10), 1),  # someone who had not seen the delete
        rec("checkout", v2, 0, "create"),
    ]))
    assert log.flags["checkout"] == v2
    assert [c.outcome for c in log.history["checkout"]] == [
        "applied", "applied", "rejected", "applied"
    ]


def test_first_record_of_a_key_is_taken_as_is_because_compaction_removed_its_past() -> None:
    v7 = flag(version=7, rollout=70)
    log = fold([rec("checkout", v7, 6, offset=120)])
    assert log.flags["checkout"] == v7
    assert log.first_offset == 120


@pytest.mark.parametrize(
    ("record", "note"),
    [
        (LogRecord(1, b"checkout", encode_state(flag(version=2)), ()), "not a kafkaops write"),
        (LogRecord(1, b"checkout", b"{not json", ((H_EXPECTS, b"1"),)), "invalid flag state"),
        (LogRecord(1, b"other", encode_state(flag(version=2)), ((H_EXPECTS, b"1"),)),
         "record key 'other'"),
        (LogRecord(1, b"checkout", encode_state(flag(version=1)), ((H_EXPECTS, b"1"),)),
         "does not advance"),
    ],
)
def test_records_that_are_not_valid_writes_are_ignored_by_every_reader(
    record: LogRecord, note: str
) -> None:
    v1 = flag(version=1)
    log = fold([rec("checkout", v1, 0, "create", offset=0), record])
    assert log.flags.get("checkout") == v1 or record.key != b"checkout"
    change = log.history[record.key.decode()][-1]  # type: ignore[union-attr]
    assert change.outcome == "ignored" and note in change.note


@pytest.mark.parametrize(
    "script",
    [
        # (op, expects, version-or-None-for-delete) per key "a" / "b", with restates after
        # every rejected write, as writers do: compacted and full folds must agree
        [("a", 0, 1), ("b", 0, 1), ("a", 1, 2), ("a", 1, 2), ("a", 2, "restate"), ("b", 1, 2)],
        [("a", 0, 1), ("a", 1, None), ("a", 1, 2), ("a", 0, "restate-none"), ("a", 0, 2)],
        [("a", 0, 1), ("a", 0, 1), ("a", 1, "restate"), ("a", 1, 2), ("a", 2, 3)],
        [("a", 0, 1), ("a", 1, 2), ("a", 2, None)],
    ],
)
def test_compaction_never_changes_what_readers_see_when_writers_restate(
    script: list[tuple[str, int, object]],
) -> None:
    records = []
    for i, (key, expects, v) in enumerate(script):
        if v is None:
            records.append(rec(key, None, expects, "delete"))
        elif v == "restate-none":
            records.append(rec(key, None, expects, "restate"))
        elif v == "restate":
            records.append(rec(key, flag(key=key, version=expects, owner=f"w{expects}"),
                               expects, "restate"))
        else:
            assert isinstance(v, int)
            records.append(rec(key, flag(key=key, version=v, owner=f"w{v}"), expects))
        del i
    records = numbered(records)
    full = fold(records)
    assert full.unhealthy_tails() == []
    assert fold(compact(records)).flags == full.flags


@pytest.mark.parametrize(
    "value",
    [b"", b"null", b"[]", b"42", b'"text"', b'{"key": "checkout"}', b"\xff\xfe\x00",
     b'{"key": "checkout", "type": "bool", "enabled": true, "version": 2, "variants": 7}',
     b'{"key": "checkout", "type": "json", "enabled": true, "version": 2, "value": NaN}',
     b"[" * 5000 + b"]" * 5000],
)
def test_no_value_on_the_topic_can_break_a_reader(value: bytes) -> None:
    v1 = flag(version=1)
    log = fold([rec("checkout", v1, 0, "create", offset=0),
                LogRecord(1, b"checkout", value, ((H_EXPECTS, b"1"),))])
    assert log.flags["checkout"] == v1
    assert log.history["checkout"][-1].outcome == "ignored"
