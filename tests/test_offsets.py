"""Offset reset in core: the maths as tables, then every mode against the real broker with
committed offsets read back by a plain consumer, guardrails, and the audit record."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from kafkaops.core.config import Config, parse_config
from kafkaops.core.errors import Conflict, NotFound, Refused, UsageError
from kafkaops.core.offsets.model import GroupActive, ResetPlan, ResetRequest, ResetTarget, iso_utc
from kafkaops.core.offsets.rules import build_plan, parse_target, plan_partition
from kafkaops.core.offsets.service import OffsetResetService
from kafkaops.core.records import to_jsonable
from kafkaops.core.services import Services

from .offsets_support import (
    KnownTopic,
    commit_as_consumer,
    joined_consumer,
    make_known_topic,
    read_committed,
    stopped_group,
)

NOW = 1_795_000_000_000  # a fixed "now" for the parsing table


# ---------------------------------------------------------------- pure: one partition


@pytest.mark.parametrize(
    ("current", "start", "end", "requested", "new", "skip", "replay", "clamped", "note"),
    [
        # plain moves inside the log
        (12, 0, 30, 0, 0, 0, 12, None, ""),
        (12, 0, 30, 30, 30, 18, 0, None, ""),
        (12, 0, 30, 12, 12, 0, 0, None, ""),
        # clamped, and counted from the clamped offset
        (12, 0, 30, 100, 30, 18, 0, "log end", "clamped to log end 30 (asked 100)"),
        (12, 10, 30, 3, 10, 0, 2, "log start", "clamped to log start 10 (asked 3)"),
        # no committed offset: nothing to count from
        (None, 0, 30, 5, 5, None, None, None, "no committed offset: the group will start here"),
        (None, 0, 0, None, None, None, None, None,
         "no committed offset to shift from: left unchanged"),
        # a committed offset below the log start resumes at the log start (records deleted)
        (5, 10, 30, 20, 20, 10, 0, None,
         "committed offset 5 is below log start 10: 5 records were deleted before the group "
         "read them"),
        # one past the log end resumes at the log end
        (50, 0, 30, 0, 0, 0, 30, None, "committed offset 50 is past log end 30"),
    ],
)
def test_plan_partition_table(
    current: int | None, start: int, end: int, requested: int | None, new: int | None,
    skip: int | None, replay: int | None, clamped: str | None, note: str,
) -> None:
    p = plan_partition(0, current, start, end, requested)
    assert (p.new, p.skip, p.replay, p.clamped, p.note) == (new, skip, replay, clamped, note)
    assert p.requested == requested and (p.log_start, p.log_end) == (start, end)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("earliest", None, ResetTarget("earliest")),
        ("latest", "", ResetTarget("latest")),
        ("offset", "0", ResetTarget("offset", 0, "0")),
        ("offset", "1_200", ResetTarget("offset", 1200, "1_200")),
        ("shift", "-10", ResetTarget("shift", -10, "-10")),
        ("shift", "+7", ResetTarget("shift", 7, "+7")),
        ("time", "1h", ResetTarget("time", NOW - 3_600_000, "1h")),
        ("time", "2026-11-25T02:00:00Z", ResetTarget("time", 1_795_572_000_000,
                                                     "2026-11-25T02:00:00Z")),
        ("time", "1795572000000", ResetTarget("time", 1_795_572_000_000, "1795572000000")),
    ],
)
def test_parse_target_accepts(mode: str, value: str | None, expected: ResetTarget) -> None:
    assert parse_target(mode, value, now_ms=NOW) == expected


@pytest.mark.parametrize(
    ("mode", "value", "message"),
    [
        ("sideways", None, "unknown reset mode 'sideways'"),
        ("earliest", "5", "reset to earliest takes no value"),
        ("offset", None, "reset mode offset needs a value"),
        ("offset", "-1", "offset -1 is negative: give an offset >= 0, or use --shift-by -1"),
        ("offset", "ten", "cannot read 'ten' as an offset"),
        ("shift", "0", "--shift-by 0 would change nothing"),
        ("shift", "1.5", "cannot read '1.5' as a whole number"),
        ("time", "yesterday", "cannot read time 'yesterday'"),
    ],
)
def test_parse_target_refuses(mode: str, value: str | None, message: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_target(mode, value, now_ms=NOW)
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("target", "words"),
    [
        (ResetTarget("earliest"), "to the earliest offset (log start)"),
        (ResetTarget("latest"), "to the latest offset (log end)"),
        (ResetTarget("offset", 42, "42"), "to offset 42"),
        (ResetTarget("shift", -10, "-10"), "shifted by -10"),
        (ResetTarget("time", 1_795_572_000_000, "1h"),
         "to the first record at or after 2026-11-25T02:00:00Z (1h ago)"),
        (ResetTarget("time", 1_795_572_000_000, "2026-11-25T02:00:00Z"),
         "to the first record at or after 2026-11-25T02:00:00Z"),
    ],
)
def test_target_describe(target: ResetTarget, words: str) -> None:
    assert target.describe() == words


def test_plan_survives_json() -> None:
    plan = build_plan(
        cluster="primary", group="g", topic="t", target=ResetTarget("shift", -5, "-5"),
        group_state="Empty", committed={0: 12, 1: None}, bounds={0: (0, 30), 1: (0, 0)},
    )
    data = json.loads(json.dumps(to_jsonable(plan)))
    assert ResetPlan.from_jsonable(data) == plan


# ---------------------------------------------------------------- against the broker


@pytest.fixture(scope="module")
async def known(bootstrap: str) -> KnownTopic:
    return await make_known_topic(bootstrap)


# (mode, value as typed or a function of the topic, expected rows {p: (new, skip, replay,
# clamped)}); the group starts at {0: 12, 1: 25, 2: no offset}; partitions 0 and 1 hold 30
# records with timestamps one minute apart, partition 2 is empty
MODE_CASES = [
    ("earliest", None, {0: (0, 0, 12, None), 1: (0, 0, 25, None), 2: (0, None, None, None)}),
    # 30 is the true end: Tansu's ListOffsets(latest) says 21 for these batches
    ("latest", None, {0: (30, 18, 0, None), 1: (30, 5, 0, None), 2: (0, None, None, None)}),
    ("time", lambda t: str(t.ts(15)),
     {0: (15, 3, 0, None), 1: (15, 0, 10, None), 2: (0, None, None, None)}),
    ("time", lambda t: iso_utc(t.ts(15.5)),  # between records 15 and 16: the next one
     {0: (16, 4, 0, None), 1: (16, 0, 9, None), 2: (0, None, None, None)}),
    ("time", lambda t: "2099-01-01T00:00:00Z",  # after every record: the log end
     {0: (30, 18, 0, None), 1: (30, 5, 0, None), 2: (0, None, None, None)}),
    ("time", lambda t: str(t.ts(-10)),  # before every record: the log start
     {0: (0, 0, 12, None), 1: (0, 0, 25, None), 2: (0, None, None, None)}),
    ("offset", "20", {0: (20, 8, 0, None), 1: (20, 0, 5, None), 2: (0, None, None, "log end")}),
    ("shift", "-5", {0: (7, 0, 5, None), 1: (20, 0, 5, None), 2: (None, None, None, None)}),
    ("shift", "+10",
     {0: (22, 10, 0, None), 1: (30, 5, 0, "log end"), 2: (None, None, None, None)}),
]


@pytest.mark.parametrize(
    ("mode", "value", "rows"), MODE_CASES,
    ids=["earliest", "latest", "time-exact", "time-between", "time-future", "time-past",
         "offset", "shift-back", "shift-forward"],
)
async def test_each_mode_commits_exactly_the_plan(
    services: Services, bootstrap: str, known: KnownTopic, mode: str, value: object,
    rows: dict[int, tuple[int | None, int | None, int | None, str | None]],
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    typed = value(known) if callable(value) else value
    svc = OffsetResetService(services)
    plan = await svc.plan(ResetRequest(group, known.name, parse_target(mode, typed)))

    got = {p.partition: (p.new, p.skip, p.replay, p.clamped) for p in plan.partitions}
    assert got == rows
    assert [(p.current, p.log_start, p.log_end) for p in plan.partitions] == [
        (12, 0, 30), (25, 0, 30), (None, 0, 0)
    ]
    assert plan.total_skip == sum(r[1] or 0 for r in rows.values())
    assert plan.total_replay == sum(r[2] or 0 for r in rows.values())
    assert plan.group_state == "Empty" and not plan.read_only
    # planning changed nothing
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}

    result = await svc.apply(plan, actor="tester@test", face="cli")
    assert result.verified and not result.mismatches
    expected = {p: (r[0] if r[0] is not None else {0: 12, 1: 25}.get(p)) for p, r in rows.items()}
    assert {c.partition: c.committed for c in result.checks} == expected
    # and a plain consumer of the group sees the same
    assert await read_committed(bootstrap, group, known.name) == expected


async def test_some_partitions_only(services: Services, bootstrap: str, known: KnownTopic
                                    ) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    svc = OffsetResetService(services)
    plan = await svc.plan(ResetRequest(group, known.name, parse_target("earliest"), (1,)))
    assert [(p.partition, p.current, p.new) for p in plan.partitions] == [(1, 25, 0)]
    await svc.apply(plan, actor="tester@test", face="cli")
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 0, 2: None}


async def test_past_the_log_end_is_clamped_and_says_so(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    svc = OffsetResetService(services)
    plan = await svc.plan(
        ResetRequest(group, known.name, parse_target("offset", "1000"), (0, 1))
    )
    for p in plan.partitions:
        assert (p.requested, p.new, p.clamped) == (1000, 30, "log end")
        assert p.note == "clamped to log end 30 (asked 1,000)"
    assert plan.total_skip == 18 + 5
    await svc.apply(plan, actor="tester@test", face="cli")
    assert await read_committed(bootstrap, group, known.name) == {0: 30, 1: 30, 2: None}


async def test_active_group_is_refused_and_named(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    consumer = await joined_consumer(bootstrap, group, known.name, "billing-worker")
    try:
        with pytest.raises(GroupActive) as e:
            await OffsetResetService(services).plan(
                ResetRequest(group, known.name, parse_target("earliest"))
            )
        member = consumer._coordinator.member_id  # the id the coordinator gave this member
        assert [m.member_id for m in e.value.members] == [member]
        assert f"group {group!r} has 1 active member: {member}" in str(e.value)
        assert "Nothing was changed." in str(e.value)
    finally:
        await consumer.stop()
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}


async def test_member_joining_after_the_plan_is_refused_at_apply(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    svc = OffsetResetService(services)
    plan = await svc.plan(ResetRequest(group, known.name, parse_target("latest")))
    consumer = await joined_consumer(bootstrap, group, known.name, "late-joiner")
    try:
        with pytest.raises(GroupActive, match="late-joiner"):
            await svc.apply(plan, actor="tester@test", face="cli")
    finally:
        await consumer.stop()
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}
    # the refused attempt is in the audit trail too
    last = [r for r in await (await services.audit()).records() if r.target == group][-1]
    assert (last.action, last.result, last.face) == ("offsets.reset", "refused", "cli")
    assert "late-joiner" in (last.error or "")


async def test_the_shared_commit_refuses_a_group_with_members_and_changes_nothing(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    """core/kafka/groups.py reads and commits for resets and failover alike: a member makes
    the coordinator refuse the whole commit (OffsetsRefused, busy), which the reset's
    commit says as GroupActive; the offsets read with and without a known coordinator
    agree with what a consumer reads."""
    from kafkaops.core.kafka import groups as kafka_groups
    from kafkaops.core.offsets import groups as offsets_groups
    from kafkaops.core.records import TopicPartition

    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    conn = await services.connection()
    tps = [TopicPartition(known.name, p) for p in (0, 1, 2)]
    coordinator = await kafka_groups.find_coordinator(conn, group)
    expected = {tps[0]: 12, tps[1]: 25, tps[2]: None}
    assert await kafka_groups.committed_offsets(conn, group, tps) == expected
    assert await kafka_groups.committed_offsets(conn, group, tps, coordinator) == expected
    # an empty group's commit goes through, and a consumer reads it back
    await kafka_groups.commit_offsets(conn, group, {tps[0]: 3, tps[1]: 4}, coordinator)
    assert await read_committed(bootstrap, group, known.name) == {0: 3, 1: 4, 2: None}
    consumer = await joined_consumer(bootstrap, group, known.name, "busy-worker")
    try:
        with pytest.raises(kafka_groups.OffsetsRefused) as refused:
            await kafka_groups.commit_offsets(conn, group, {tps[0]: 0, tps[1]: 0})
        assert refused.value.busy
        assert "stop its consumers first" in str(refused.value)
        with pytest.raises(GroupActive, match="gained members while the reset"):
            await offsets_groups.commit_offsets(conn, group, {tps[0]: 0}, coordinator)
    finally:
        await consumer.stop()
    assert await read_committed(bootstrap, group, known.name) == {0: 3, 1: 4, 2: None}


async def test_offsets_moved_since_the_plan_is_a_conflict(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    svc = OffsetResetService(services)
    plan = await svc.plan(ResetRequest(group, known.name, parse_target("earliest")))
    await commit_as_consumer(bootstrap, group, known.name, {0: 3})
    with pytest.raises(Conflict) as e:
        await svc.apply(plan, actor="tester@test", face="cli")
    assert "partition 0 committed offset 12 -> 3" in str(e.value)
    assert "make a new plan" in str(e.value)
    assert await read_committed(bootstrap, group, known.name) == {0: 3, 1: 25, 2: None}


async def test_apply_is_audited_with_the_plan(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    svc = OffsetResetService(services)
    plan = await svc.plan(ResetRequest(group, known.name, parse_target("shift", "-5")))
    await svc.apply(plan, actor="alice@laptop", face="console")
    last = [r for r in await (await services.audit()).records() if r.target == group][-1]
    assert (last.action, last.result, last.actor, last.face, last.cluster) == (
        "offsets.reset", "ok", "alice@laptop", "console", "primary"
    )
    assert last.params["topic"] == known.name
    assert (last.params["mode"], last.params["value"]) == ("shift", -5)
    assert [(p["partition"], p["current"], p["new"], p["replay"])
            for p in last.params["partitions"]] == [(0, 12, 7, 5), (1, 25, 20, 5), (2, None,
                                                                                    None, None)]
    assert last.detail == {"verified": True, "read_back": {"0": 7, "1": 20, "2": None}}


@pytest.mark.parametrize(
    ("group", "topic", "partitions", "error", "message"),
    [
        ("no-such-group", None, None, NotFound, "consumer group 'no-such-group' not found"),
        (None, "no-such-topic", None, NotFound, "topic 'no-such-topic' not found"),
        (None, None, (7,), UsageError, "has no partition 7 (it has 3: 0..2)"),
    ],
)
async def test_unknown_names_are_refused(
    services: Services, bootstrap: str, known: KnownTopic, group: str | None,
    topic: str | None, partitions: tuple[int, ...] | None, error: type[Exception], message: str,
) -> None:
    real = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    with pytest.raises(error) as e:
        await OffsetResetService(services).plan(
            ResetRequest(group or real, topic or known.name, parse_target("earliest"),
                         partitions)
        )
    assert message in str(e.value)
    assert await read_committed(bootstrap, real, known.name) == {0: 12, 1: 25, 2: None}
    if group:
        assert await read_committed(bootstrap, group, known.name) == {0: None, 1: None, 2: None}


@pytest.fixture
async def read_only_services(config: Config) -> AsyncIterator[Services]:
    data = {
        "default_cluster": "primary",
        "clusters": {
            name: {"bootstrap_servers": c.bootstrap_servers,
                   "read_only": name == "primary"}
            for name, c in config.clusters.items()
        },
        "audit": {"signing_key": "test-signing-key"},
    }
    async with Services(parse_config(data, "ro.yaml")) as s:
        yield s


async def test_read_only_cluster_plans_but_refuses_to_apply(
    read_only_services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    svc = OffsetResetService(read_only_services)
    plan = await svc.plan(ResetRequest(group, known.name, parse_target("earliest")))
    assert plan.read_only
    with pytest.raises(Refused) as e:
        await svc.apply(plan, actor="tester@test", face="cli")
    assert str(e.value) == (
        f"cluster 'primary' is read-only (read_only: true in ro.yaml); refusing to reset "
        f"offsets of group {group!r}"
    )
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}
    # a plan for another cluster is not applied here either
    other = dataclasses.replace(plan, cluster="dr")
    with pytest.raises(UsageError):
        await svc.apply(other, actor="tester@test", face="cli")


@pytest.mark.parametrize(
    ("target", "committed", "reason"),
    [
        (ResetTarget("earliest"), {0: 0, 1: 0}, "every partition is already at its target."),
        (ResetTarget("shift", 3, "3"), {}, "see the notes for the partitions left unchanged."),
        (ResetTarget("latest"), {0: 0, 1: 0}, ""),
    ],
)
def test_nothing_to_change_says_why(
    target: ResetTarget, committed: dict[int, int], reason: str
) -> None:
    plan = build_plan(cluster="c", group="g", topic="t", target=target, group_state="Empty",
                      committed=committed, bounds={0: (0, 5), 1: (0, 0)})
    assert plan.nothing_to_change() == (f"Nothing to change: {reason}" if reason else "")
