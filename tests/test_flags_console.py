"""The console's flags screens driven with Pilot against the real broker: the list, toggling
with a key (critical flags ask first), editing the rollout, live updates from other
writers, history with one-key rollback, and refusals. Assertions read the screen and the
flag state on the topic (through a separate reader)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.flags import ConfirmFlagScreen, FlagHistoryScreen, FlagsScreen, RolloutScreen
from kafkaops.core.config import Config, parse_config
from kafkaops.core.flags.service import FlagState
from kafkaops.core.services import Services

from .conftest import unique

SIZE = (180, 50)
WAIT = 20.0
ME = "tester@ci"


def rows(screen: Any, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(screen: Any, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).render())


def row_of(screen: FlagsScreen, key: str) -> list[str] | None:
    return next((r for r in rows(screen, "flags") if r[0] == key), None)


async def wait_until(pilot: Pilot[Any], cond: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def on_topic(config: Config, key: str) -> FlagState:
    """The flag as another process reads it from the topic now."""
    async with Services(config) as s:
        return await (await s.flags()).get(key)


async def find(pilot: Pilot[Any], screen: FlagsScreen, key: str) -> None:
    """Search for the flag the way a user does, so the cursor sits on it."""
    await wait_until(pilot, lambda: row_of(screen, key), f"{key} listed")
    await pilot.press("slash", *key, "enter")
    await wait_until(pilot, lambda: [r[0] for r in rows(screen, "flags")] == [key],
                     f"search narrowed to {key}")


async def test_list_toggle_rollout_and_live_updates(config: Config) -> None:
    key = unique("ui")
    async with Services(config) as services:
        svc = await services.flags()
        await svc.create(key, owner="search-team", tags=["beta"], actor=ME, face="cli")
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = FlagsScreen()
            await app.push_screen(screen)
            await find(pilot, screen, key)
            row = row_of(screen, key)
            assert row is not None
            assert row[1:7] == ["off", "100%", "true", "search-team", "1", row[6]]
            assert ME in row[6] and row[7] == "beta"

            await pilot.press("space")  # not critical: no question asked
            await wait_until(pilot, lambda: (row_of(screen, key) or [""])[1] == "on", "on")
            assert (await on_topic(config, key)).enabled is True
            # the row follows the topic; "done" comes once the audit outcome is written too
            await wait_until(pilot, lambda: "done" in text_of(screen, "flag-result"), "done")

            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, RolloutScreen), "rollout box")
            await pilot.press(*"150", "enter")  # typed over the old value; explained, not written
            assert "from 0 to 100, got 150" in text_of(app.screen, "flag-rollout-error")
            assert isinstance(app.screen, RolloutScreen)
            await pilot.press("ctrl+a", "ctrl+k", *"25", "enter")  # start, delete to end, type
            await wait_until(pilot, lambda: (row_of(screen, key) or ["", ""])[2] == "25%", "25%")
            state = await on_topic(config, key)
            assert (state.rollout, state.version, state.updated_by) == (25.0, 3, app_actor())

            # someone else (the CLI, a bot) changes the flag: the screen follows, no key pressed
            await svc.set(key, owner="growth", actor="bob@elsewhere", face="slack")
            await wait_until(pilot, lambda: (row_of(screen, key) or [""] * 5)[4] == "growth",
                             "the other writer's change on screen")
            assert "bob@elsewhere" in row_of(screen, key)[6]  # type: ignore[index]


def app_actor() -> str:
    from kafkaops.core.audit.log import local_actor

    return local_actor()


async def test_critical_flag_asks_before_toggling(config: Config) -> None:
    key = unique("crit")
    async with Services(config) as services:
        svc = await services.flags()
        await svc.create(key, owner="payments", tags=["critical"], actor=ME, face="cli")
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = FlagsScreen()
            await app.push_screen(screen)
            await find(pilot, screen, key)
            await pilot.press("space")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmFlagScreen),
                             "the confirmation")
            question = text_of(app.screen, "confirm-summary")
            assert "tagged critical" in question and "switch off → on" in question
            # core's plan in its own words: the state now and after, with the new version
            assert "now: off, value true (v1)" in question
            assert "after: on, value true (v2)" in question
            await pilot.press("n")
            await wait_until(pilot, lambda: "cancelled" in text_of(screen, "flag-result"),
                             "cancelled")
            assert (await on_topic(config, key)).version == 1  # nothing written

            await pilot.press("space")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmFlagScreen),
                             "the confirmation again")
            await pilot.press("y")
            await wait_until(pilot, lambda: (row_of(screen, key) or [""])[1] == "on", "on")
            state = await on_topic(config, key)
            assert (state.enabled, state.version) == (True, 2)


async def test_history_and_one_key_rollback(config: Config) -> None:
    key = unique("hist")
    async with Services(config) as services:
        svc = await services.flags()
        await svc.create(key, type="string", default="a", value="blue", actor=ME, face="cli")
        await svc.toggle(key, True, actor=ME, face="cli")  # v2: the version to go back to
        await svc.set(key, value="green", rollout=40, actor=ME, face="cli", reason="try green")
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = FlagsScreen()
            await app.push_screen(screen)
            await find(pilot, screen, key)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, FlagHistoryScreen)
                             and len(rows(app.screen, "flag-history")) == 3, "history")
            history = app.screen
            assert [r[2:4] + r[5:6] for r in rows(history, "flag-history")] == [
                ["create", "1", "applied"], ["toggle", "2", "applied"], ["set", "3", "applied"]]
            assert "try green" in rows(history, "flag-history")[2][6]
            await pilot.press("b")  # on the newest row: it is the current version
            await wait_until(pilot, lambda: "already at version 3"
                             in text_of(history, "flag-result"), "refusal")
            await pilot.press("up", "b")  # version 2
            await wait_until(pilot, lambda: len(rows(history, "flag-history")) == 4,
                             "the rollback in the history")
            assert rows(history, "flag-history")[3][2:4] == ["rollback", "4"]
            state = await on_topic(config, key)
            assert (state.version, state.value, state.rollout, state.enabled) == (
                4, "blue", 100.0, True)
            assert state.reason == "rollback to version 2"
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, "back to the list")
            await wait_until(pilot, lambda: (row_of(screen, key) or [""] * 6)[5] == "4",
                             "version 4 in the list")


async def test_read_only_cluster_refuses_and_writes_nothing(config_data: dict) -> None:
    key = unique("ro")
    async with Services(parse_config(config_data, "<rw>")) as rw:
        await (await rw.flags()).create(key, actor=ME, face="cli")
    data = {**config_data, "clusters": {
        "primary": {**config_data["clusters"]["primary"], "read_only": True}}}
    ro = parse_config(data, "<read-only>")
    async with Services(ro) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = FlagsScreen()
            await app.push_screen(screen)
            await find(pilot, screen, key)
            await pilot.press("space")
            await wait_until(pilot, lambda: "refused" in text_of(screen, "flag-result"),
                             "refusal")
            assert "read-only" in text_of(screen, "flag-result")
            assert (row_of(screen, key) or [""])[1] == "off"
    assert (await on_topic(parse_config(config_data, "<rw>"), key)).version == 1
