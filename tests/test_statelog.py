"""The one compare-and-set log decided by log order (kafkaops.core.statelog).

The fold as a pure table (first write in the log wins, a later write expecting the same
version loses on every reader, a record out of order stays lost, forged and unsigned
records are ignored and reported), then two writers on the embedded broker racing for the
same version through `CasTopic`: exactly one wins, and the other learns from its own
read-back that it lost and who won.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from kafkaops.core.config import Config
from kafkaops.core.kafka.topicio import RawRecord, read_partition
from kafkaops.core.services import Services
from kafkaops.core.statelog.fold import CasFold, Invalid, Proposal
from kafkaops.core.statelog.outcomes import Outcomes
from kafkaops.core.statelog.signing import signature, verifies
from kafkaops.core.statelog.topic import CasTopic

from .conftest import unique

KEY = b"test signing key"


def write(key: str, version: int, expects: int, state: str | None, who: str) -> Proposal[str]:
    return Proposal(key, expects, version, state, write_id=who)


def fold_all(records: list[Proposal[str] | Invalid], *, gaps: bool = False) -> tuple[
    CasFold[str], list[str]
]:
    fold: CasFold[str] = CasFold(gaps=gaps, what="the thing")
    outcomes = [fold.apply(i, "k", r).outcome for i, r in enumerate(records)]
    return fold, outcomes


def test_of_two_writes_of_the_same_next_version_the_first_in_the_log_wins() -> None:
    fold, outcomes = fold_all([
        write("k", 1, 0, "created", "w0"),
        write("k", 2, 1, "alice's", "alice"),
        write("k", 2, 1, "bob's", "bob"),
    ])
    assert outcomes == ["applied", "applied", "rejected"]
    assert fold.states == {"k": "alice's"} and fold.version("k") == 2
    assert fold.unhealthy_tails() == ["k"]  # bob's loser is the key's last record


def test_the_loser_is_told_what_was_in_force() -> None:
    fold: CasFold[str] = CasFold(what="the thing")
    fold.apply(0, "k", write("k", 1, 0, "created", "w0"))
    fold.apply(1, "k", write("k", 2, 1, "alice's", "alice"))
    lost = fold.apply(2, "k", write("k", 2, 1, "bob's", "bob"))
    assert (lost.outcome, lost.write_id, lost.before, lost.after) == ("rejected", "bob", 2, 2)
    assert lost.note == "expected version 1, but version 2 was in force"
    gone = fold.apply(3, "k", write("k", 3, 2, None, "del"))
    assert gone.outcome == "applied" and "k" not in fold.states
    late = fold.apply(4, "k", write("k", 3, 2, "late", "late"))
    assert late.note == "expected version 2, but the thing did not exist"
    assert fold.deleted_versions == {"k": 2}


def test_a_record_out_of_order_stays_lost() -> None:
    # the writer of version 3 raced ahead of the write of version 2 it expects: the log
    # order decides, so version 3 loses on every reader and is not applied later either
    fold, outcomes = fold_all([
        write("k", 1, 0, "v1", "w1"),
        write("k", 3, 2, "v3", "w3"),
        write("k", 2, 1, "v2", "w2"),
    ])
    assert outcomes == ["applied", "rejected", "applied"]
    assert fold.states == {"k": "v2"} and fold.version("k") == 2


def test_versions_must_move_on_and_a_restate_must_repeat_the_version_in_force() -> None:
    fold, outcomes = fold_all([
        write("k", 1, 0, "v1", "w1"),
        write("k", 3, 1, "jump", "skip"),  # not the next version
        Proposal("k", 1, 1, "v1 again", "r1", restate=True),
        Proposal("k", 1, 2, "not v1", "r2", restate=True),
    ])
    assert outcomes == ["applied", "ignored", "applied", "ignored"]
    assert fold.states == {"k": "v1 again"}
    # where the log allows gaps (a re-created flag), a jump forward is a valid write
    _, outcomes = fold_all([write("k", 1, 0, "v1", "w1"), write("k", 5, 1, "v5", "w5")],
                           gaps=True)
    assert outcomes == ["applied", "applied"]


def test_the_first_record_of_a_key_is_taken_as_it_is() -> None:
    # its predecessors were removed by compaction or retention
    fold, outcomes = fold_all([write("k", 8, 7, "v8", "w8"), write("k", 9, 8, "v9", "w9")])
    assert outcomes == ["applied", "applied"] and fold.version("k") == 9


# ---------------------------------------------------------------- signed records


def signed(key: str, version: int, expects: int, state: str, *, with_key: bytes = KEY
           ) -> bytes:
    data: dict[str, Any] = {"key": key, "version": version, "expects": expects,
                            "state": state, "w": uuid.uuid4().hex}
    data["sig"] = signature(with_key, data)
    return json.dumps(data).encode()


def read_signed(r: RawRecord) -> tuple[str, Proposal[str] | Invalid] | None:
    """A reader that holds the key: only records that verify are writes."""
    if r.key is None:
        return None
    key = r.key.decode()
    try:
        data = json.loads(r.value or b"null")
        if not isinstance(data, dict) or not verifies(KEY, data):
            return key, Invalid("not signed with the log's key")
        if data["key"] != key:
            return key, Invalid(f"the record names key {data['key']!r}")
        return key, Proposal(key, data["expects"], data["version"], data["state"], data["w"])
    except (ValueError, KeyError, TypeError) as e:
        return key, Invalid(f"not a record of this log: {e}")


def raw(offset: int, key: str, value: bytes | None) -> RawRecord:
    return RawRecord(offset, 0, key.encode(), value)


def test_forged_and_unsigned_records_are_ignored_and_reported() -> None:
    fold: CasFold[str] = CasFold()
    unsigned = json.loads(signed("k", 2, 1, "forged"))
    del unsigned["sig"]
    tampered = json.loads(signed("k", 2, 1, "honest"))
    tampered["state"] = "changed after signing"
    log = [
        raw(0, "k", signed("k", 1, 0, "pending")),
        raw(1, "k", json.dumps(unsigned).encode()),
        raw(2, "k", signed("k", 2, 1, "other key", with_key=b"another key")),
        raw(3, "k", json.dumps(tampered).encode()),
        raw(4, "k", signed("other", 2, 1, "replayed from another key")),
        raw(5, "k", None),
        raw(6, "k", signed("k", 2, 1, "confirmed")),
    ]
    decisions = []
    for r in log:
        got = read_signed(r)
        assert got is not None
        decisions.append(fold.apply(r.offset, *got))
    assert [d.outcome for d in decisions] == ["applied"] + ["ignored"] * 5 + ["applied"]
    assert fold.states == {"k": "confirmed"}
    assert fold.tampered == {"k": [1, 2, 3, 4, 5]}
    assert "not signed" in decisions[1].note and "names key 'other'" in decisions[4].note


def test_a_signature_covers_every_field_and_needs_a_key() -> None:
    data = json.loads(signed("k", 1, 0, "x"))
    assert verifies(KEY, data)
    for field, value in (("version", 2), ("expects", 1), ("state", "y"), ("key", "j")):
        assert not verifies(KEY, {**data, field: value}), field
    assert not verifies(b"", {**data, "sig": signature(b"", data)})  # no key, no trust


# ---------------------------------------------------------------- outcomes


async def test_a_writer_learns_its_outcome_by_its_write_id() -> None:
    outcomes: Outcomes[str] = Outcomes()
    mine, theirs = outcomes.expect("mine"), outcomes.expect("theirs")
    assert not outcomes.settle("unknown", "applied")
    assert outcomes.settle("mine", "applied")
    assert not outcomes.settle("mine", "rejected")  # decided once
    assert mine.result() == "applied"
    outcomes.cancel_all()
    assert theirs.cancelled()


# ---------------------------------------------------------------- two writers, one broker


def replica(services: Services, topic: str) -> CasTopic[str]:
    return CasTopic(services, services.cluster_name, topic, {"cleanup.policy": "compact"},
                    read_signed, CasFold())


async def test_two_writers_racing_for_the_same_version_exactly_one_wins(
        config: Config) -> None:
    topic = unique("statelog")
    async with Services(config) as one, Services(config) as two:
        a, b = replica(one, topic), replica(two, topic)
        await a.put("k", signed("k", 1, 0, "created"))
        await a.catch_up()
        await b.catch_up()
        assert a.fold.version("k") == b.fold.version("k") == 1
        for round_ in range(5):  # both read version n, both write n+1 expecting n
            n = a.fold.version("k")
            ids = [uuid.uuid4().hex, uuid.uuid4().hex]
            values = []
            for who, w in zip(("a", "b"), ids, strict=True):
                data: dict[str, Any] = {"key": "k", "version": n + 1, "expects": n,
                                        "state": f"{who}{round_}", "w": w}
                data["sig"] = signature(KEY, data)
                values.append(json.dumps(data).encode())
            da, db = await asyncio.gather(a.propose("k", values[0], ids[0]),
                                          b.propose("k", values[1], ids[1]))
            assert sorted([da.outcome, db.outcome]) == ["applied", "rejected"], round_
            winner = "a" if da.outcome == "applied" else "b"
            loser = db if winner == "a" else da
            assert loser.note == f"expected version {n}, but version {n + 1} was in force"
            await a.catch_up()
            await b.catch_up()
            # both replicas hold the winner's state, as any new reader of the log does
            assert a.fold.states == b.fold.states == {"k": f"{winner}{round_}"}
        fresh = replica(one, topic)
        await fresh.catch_up()
        assert fresh.fold.states == a.fold.states
        conn = await one.connection()
        records, _ = await read_partition(conn, topic)
        assert len(records) == 11  # the create and both writes of every round stay in the log


async def test_a_write_not_read_back_is_an_unknown_outcome_not_a_win(
        services: Services) -> None:
    topic = unique("statelog")
    cas = replica(services, topic)

    def blind(r: RawRecord) -> None:  # a reader that cannot see its own records
        return None

    cas.read = blind
    with pytest.raises(Exception, match="did not read the write back; the outcome is unknown"):
        await cas.propose("k", signed("k", 1, 0, "x"), "w")
