"""Flags through core against the real embedded broker: the write path (compare-and-set,
read back, audited), concurrent writers, history and rollback, and bad input."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from kafkaops.core.config import Config, parse_config
from kafkaops.core.errors import Conflict, NotFound, Refused, UsageError
from kafkaops.core.flags.service import FLAGS_TOPIC, FlagService, FlagState
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services

from .conftest import unique

ME = "alice@laptop"


@pytest.fixture
async def second(config: Config) -> AsyncIterator[Services]:
    """A second, independent writer (another console, bot or CLI process)."""
    async with Services(config) as s:
        yield s


async def topic_end(services: Services) -> int:
    conn = await services.connection()
    tp = TopicPartition(FLAGS_TOPIC, 0)
    return (await conn.high_watermarks([tp]))[tp][1]


async def audit_of(services: Services, key: str) -> list[tuple[str, str]]:
    records = await (await services.audit()).records()
    return [(r.action, r.result) for r in records if r.target == key]


async def fresh_view(config: Config, key: str) -> FlagState | None:
    """What a reader that starts now (another process) sees for `key`."""
    async with Services(config) as s:
        svc = await s.flags()
        return svc.store.flags.get(key)


async def test_lifecycle_create_toggle_rollout_set_rollback_delete(
    services: Services, config: Config
) -> None:
    key = unique("checkout")
    svc = await services.flags()
    created = await svc.create(
        key, owner="payments", description="new checkout", tags=["critical"], actor=ME,
        face="cli", reason="JIRA-1",
    )
    assert (created.version, created.enabled, created.value, created.default) == (1, False, True,
                                                                                  False)
    assert created.created_by == ME and created.critical
    on = await svc.toggle(key, actor=ME, face="cli")
    assert (on.version, on.enabled) == (2, True)
    rolled = await svc.rollout(key, 30, expect_version=2, actor=ME, face="console")
    assert (rolled.version, rolled.rollout) == (3, 30.0)
    owned = await svc.set(key, owner="checkout-team", actor=ME, face="slack", reason="reorg")
    assert (owned.version, owned.owner, owned.rollout, owned.reason) == (
        4, "checkout-team", 30.0, "reorg"
    )
    back = await svc.rollback(key, 2, actor=ME, face="cli")
    assert (back.version, back.rollout, back.enabled, back.owner) == (5, 100.0, True, "payments")
    assert back.reason == "rollback to version 2"

    assert await fresh_view(config, key) == back  # another process reads the same state

    history = await svc.history(key)
    assert [(c.op, c.outcome, c.version) for c in history] == [
        ("create", "applied", 1),
        ("toggle", "applied", 2),
        ("rollout", "applied", 3),
        ("set", "applied", 4),
        ("rollback", "applied", 5),
    ]
    await svc.delete(key, expect_version=5, actor=ME, face="cli")
    with pytest.raises(NotFound, match="no flag named"):
        await svc.get(key)
    assert await fresh_view(config, key) is None
    # a flag created again continues the numbering, so "version 3" is never ambiguous
    again = await svc.create(key, actor=ME, face="cli")
    assert again.version == 6
    assert await audit_of(services, key) == [
        ("flag.create", "ok"),
        ("flag.toggle", "ok"),
        ("flag.rollout", "ok"),
        ("flag.set", "ok"),
        ("flag.rollback", "ok"),
        ("flag.delete", "ok"),
        ("flag.create", "ok"),
    ]


async def test_typed_config_values_and_variants(services: Services) -> None:
    svc = await services.flags()
    key = unique("timeout")
    s = await svc.create(key, type="number", default=1500, actor=ME, face="cli")
    assert (s.value, s.default) == (1500, 1500)
    s = await svc.set(key, value=2000, enabled=True, rollout=25, actor=ME, face="cli")
    results = await svc.evaluate(key, [f"u{i}" for i in range(400)])
    assert {r.value for r in results} == {1500, 2000}
    key2 = unique("theme")
    from kafkaops.core.flags.service import Variant

    await svc.create(key2, type="json", default={"theme": "light"}, actor=ME, face="cli")
    s = await svc.set(
        key2, variants=[Variant("dark", {"theme": "dark"}, 1), Variant("blue", {"theme": "b"}, 1)],
        enabled=True, actor=ME, face="cli",
    )
    got = {r.variant for r in await svc.evaluate(key2, [f"u{i}" for i in range(100)])}
    assert got == {"dark", "blue"}


async def test_two_writers_on_the_same_version_one_wins_one_conflicts(
    services: Services, second: Services, config: Config
) -> None:
    key = unique("race")
    a, b = await services.flags(), await second.flags()
    await a.create(key, actor="alice", face="console")
    await b.start()
    assert (await b.get(key)).version == 1
    results = await asyncio.gather(
        a.rollout(key, 30, expect_version=1, actor="alice", face="console"),
        b.rollout(key, 50, expect_version=1, actor="bob", face="slack"),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, FlagState)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    winner = won[0]
    assert winner.version == 2
    assert "version 2" in str(lost[0]) and winner.updated_by in str(lost[0])
    assert await fresh_view(config, key) == winner
    assert (await a.get(key)) == winner and (await b.get(key)) == winner
    audits = await audit_of(services, key)
    # the loser's turned-away write is audited too, as refused
    assert sorted(audits) == [("flag.create", "ok"), ("flag.rollout", "ok"),
                              ("flag.rollout", "refused")]


async def test_a_race_decided_by_the_log_shows_both_attempts_and_repairs_the_tail(
    services: Services, second: Services, config: Config
) -> None:
    """Both writers pass their checks before either record lands (the two phases of a write
    run interleaved); the log's order decides, every reader agrees, and the loser restates
    the winner so compaction cannot resurrect the losing record."""
    key = unique("race")
    a, b = await services.flags(), await second.flags()
    await a.create(key, actor="alice", face="console")

    def rollout(pct: float, who: str):  # noqa: ANN202 - a build function for _prepare
        def build(cur: FlagState | None, version: int, at: str) -> FlagState:
            assert cur is not None
            return dataclasses.replace(cur, rollout=pct, version=version, updated_by=who,
                                       updated_at=at)
        return build

    pa = await a._prepare(key, "rollout", rollout(30, "alice"), 1, actor="alice",
                          face="console", reason="", params={})
    pb = await b._prepare(key, "rollout", rollout(50, "bob"), 1, actor="bob", face="slack",
                          reason="", params={})
    results = await asyncio.gather(a._commit(pa), b._commit(pb), return_exceptions=True)
    won = [r for r in results if isinstance(r, FlagState)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "came first" in str(lost[0]) and "rejected" in str(lost[0])
    loser = "bob" if won[0].updated_by == "alice" else "alice"

    history = await a.history(key)
    assert [(c.op, c.by, c.outcome) for c in history] == [
        ("create", "alice", "applied"),
        ("rollout", won[0].updated_by, "applied"),
        ("rollout", loser, "rejected"),
        ("restate", loser, "applied"),
    ]
    assert history[2].note.startswith("expected version 1, but version 2 was in force")
    assert history[3].state == won[0]
    for view in (await a.get(key), await b.get(key), await fresh_view(config, key)):
        assert view == won[0]
    # (its own key: other tests forge records on the same topic meanwhile)
    assert key not in a.store.log.unhealthy_tails() + b.store.log.unhealthy_tails()


async def test_bad_input_gives_a_clear_error_and_writes_nothing(services: Services) -> None:
    svc = await services.flags()
    key = unique("guarded")
    await svc.create(key, type="number", default=5, actor=ME, face="cli")
    before_end, before = await topic_end(services), await svc.get(key)
    cases = [
        (svc.toggle(unique("nope"), actor=ME, face="cli"), NotFound, "no flag named"),
        (svc.set(key, value="fast", actor=ME, face="cli"), UsageError,
         "a number flag takes a number, got 'fast'"),
        (svc.rollout(key, 150, actor=ME, face="cli"), UsageError,
         "rollout must be a percentage from 0 to 100, got 150"),
        (svc.rollback(key, 9, actor=ME, face="cli"), NotFound,
         "version 9 of flag .* is not on the topic \\(versions kept: 1\\)"),
        (svc.set(key, value=7, expect_version=4, actor=ME, face="cli"), Conflict,
         "is at version 1 .*not 4; nothing was written"),
        (svc.create(key, actor=ME, face="cli"), Conflict, "already exists"),
        (svc.create("bad key!", actor=ME, face="cli"), UsageError, "invalid flag key"),
        (svc.create(unique("t"), type="colour", actor=ME, face="cli"), UsageError,
         "unknown flag type 'colour'"),
        (svc.set(key, actor=ME, face="cli"), UsageError, "nothing to change"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            await call
    assert await topic_end(services) == before_end
    assert await svc.get(key) == before


async def test_read_only_cluster_refuses_flag_writes(config_data: dict) -> None:
    data = {**config_data, "clusters": {
        "primary": {**config_data["clusters"]["primary"], "read_only": True}}}
    ro = parse_config(data, "<read-only>")
    async with Services(ro) as s:
        svc = await s.flags()
        before = await topic_end(s)
        with pytest.raises(Refused, match="read-only"):
            await svc.create(unique("ro"), actor=ME, face="cli")
        assert await topic_end(s) == before
        assert isinstance(await svc.list_flags(), list)  # reading is fine


async def test_a_reader_started_before_the_flags_topic_existed_sees_later_flags(
    services: Services, second: Services
) -> None:
    topic = unique("_kafkaops.flags-t")  # a flags topic of its own, created by the writer
    await services.connection()  # metadata cached before the topic exists
    reader = FlagService(services, services.cluster_name, services.cluster_config(), topic=topic)
    writer = FlagService(second, second.cluster_name, second.cluster_config(), topic=topic)
    try:
        assert await reader.list_flags() == [] and not reader.topic_exists
        made = await writer.create("fresh", actor=ME, face="cli")
        assert await reader.get("fresh") == made
    finally:
        await reader.stop()
        await writer.stop()


async def test_flag_writes_go_on_after_another_part_dropped_the_connection(config: Config) -> None:
    """A console screen or a bot command drops a cluster's connection when it stops
    answering (Services.drop); the flags of the same process must write through the next
    connection, not fail on the stopped one until a restart."""
    key = unique("dropped")
    async with Services(config) as services:
        svc = await services.flags()
        await svc.create(key, owner="payments", actor=ME, face="cli")
        await services.drop()  # what console/base.py does on ClusterUnreachable
        on = await svc.toggle(key, actor=ME, face="cli")
        assert (on.version, on.enabled) == (2, True)
    assert (await fresh_view(config, key)).enabled is True  # on the topic, read afresh
