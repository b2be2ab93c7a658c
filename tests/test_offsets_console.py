"""The console's offset reset dialog, driven with Pilot on a minimal app that has `services`,
against the real broker: pick a mode, read the plan table, confirm or cancel, see the
offsets read back, and the refusals (active group, read-only cluster) on screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Static

from kafkaops.console.offsets import ConfirmResetScreen, OffsetResetScreen
from kafkaops.core.config import Config, parse_config
from kafkaops.core.offsets.model import ResetResult
from kafkaops.core.services import Services

from .offsets_support import (
    KnownTopic,
    joined_consumer,
    make_known_topic,
    read_committed,
    stopped_group,
)

START = {0: 12, 1: 25}
UNCHANGED = {0: 12, 1: 25, 2: None}
SIZE = (150, 45)


class ResetApp(App[None]):
    """Just enough app: `services`, and the dialog opened on mount."""

    def __init__(self, services: Services, dialog: OffsetResetScreen) -> None:
        super().__init__()
        self.services = services
        self.dialog = dialog
        self.dismissed: list[ResetResult | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.dismissed.append)


@pytest.fixture(scope="module")
async def known(bootstrap: str) -> KnownTopic:
    return await make_known_topic(bootstrap)


def status(screen: OffsetResetScreen) -> str:
    return str(screen.query_one("#reset-status", Static).render())


def rows(screen: OffsetResetScreen) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one("#plan-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def choose_mode(pilot: Pilot[None], downs: int) -> None:
    """Open the mode list from the keyboard and move `downs` entries down from earliest."""
    await pilot.click("#mode")
    await pilot.pause()
    for _ in range(downs):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()


async def test_plan_confirm_apply_read_back(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    dialog = OffsetResetScreen(group, known.name)
    app = ResetApp(services, dialog)
    async with app.run_test(size=SIZE) as pilot:
        await choose_mode(pilot, 4)  # shift
        await pilot.click("#value")
        await pilot.press("minus", "5")
        await pilot.click("#plan")
        await settle(pilot)
        assert rows(dialog) == [
            ["0", "12", "7", "0", "30", "replay 5", ""],
            ["1", "25", "20", "0", "30", "replay 5", ""],
            ["2", "no offset", "unchanged", "0", "0", "unchanged",
             "no committed offset to shift from: left unchanged"],
        ]
        assert "shifted by -5" in str(dialog.query_one("#plan-heading", Static).render())
        assert status(dialog).startswith("Total: replays 10 records, skips 0 (2 of 3 partitions")
        assert await read_committed(bootstrap, group, known.name) == UNCHANGED

        await pilot.click("#apply")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmResetScreen)
        text = str(confirm.query_one("#confirm-summary", Static).render())
        assert f"group '{group}' on topic '{known.name}' shifted by -5" in text
        assert "replays 10 records, skips 0 records" in text
        await pilot.click("#confirm-yes")
        await settle(pilot)

        assert app.screen is dialog
        # a "Read back" column after "New": what the group coordinator now reports
        assert [r[:4] for r in rows(dialog)] == [
            ["0", "12", "7", "7"], ["1", "25", "20", "20"],
            ["2", "no offset", "unchanged", "no offset"],
        ]
        assert status(dialog) == (
            "Applied: the committed offsets read back match the plan (3 partitions)."
        )
        assert dialog.query_one("#apply", Button).disabled
        await pilot.press("escape")
        await pilot.pause()
    assert await read_committed(bootstrap, group, known.name) == {0: 7, 1: 20, 2: None}
    assert len(app.dismissed) == 1 and app.dismissed[0] is not None
    assert app.dismissed[0].verified


async def test_cancel_and_editing_after_the_plan_change_nothing(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    dialog = OffsetResetScreen(group)  # no topic: typed in the dialog
    app = ResetApp(services, dialog)
    async with app.run_test(size=SIZE) as pilot:
        assert dialog.query_one("#topic", Input).has_focus
        await pilot.press(*known.name)
        await pilot.press("enter")  # Enter in a field plans
        await settle(pilot)
        assert [r[:3] for r in rows(dialog)] == [["0", "12", "0"], ["1", "25", "0"],
                                                 ["2", "no offset", "0"]]
        await pilot.click("#apply")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmResetScreen)
        await pilot.press("enter")  # the focus starts on Cancel
        await pilot.pause()
        assert app.screen is dialog
        assert status(dialog) == "Cancelled: nothing was changed."

        await pilot.click("#partitions")
        await pilot.press("1")  # the plan on screen no longer matches the fields
        await pilot.pause()
        assert rows(dialog) == []
        assert dialog.query_one("#apply", Button).disabled
        assert status(dialog) == "Changed: press Plan to see the new plan."
        await pilot.press("escape")
        await pilot.pause()
    assert app.dismissed == [None]
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


async def test_active_group_refusal_is_shown(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    consumer = await joined_consumer(bootstrap, group, known.name, "console-victim")
    dialog = OffsetResetScreen(group, known.name)
    try:
        async with ResetApp(services, dialog).run_test(size=SIZE) as pilot:
            await pilot.click("#plan")
            await settle(pilot)
            text = status(dialog)
            assert text.startswith(f"group {group!r} has 1 active member: console-victim-")
            assert "Nothing was changed." in text
            assert rows(dialog) == []
            assert dialog.query_one("#apply", Button).disabled
    finally:
        await consumer.stop()
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


async def test_bad_value_is_explained(services: Services, bootstrap: str, known: KnownTopic
                                      ) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    dialog = OffsetResetScreen(group, known.name)
    async with ResetApp(services, dialog).run_test(size=SIZE) as pilot:
        await choose_mode(pilot, 2)  # time
        await pilot.click("#value")
        await pilot.press(*"yesterday")
        await pilot.press("enter")
        await settle(pilot)
        assert status(dialog).startswith("cannot read time 'yesterday'")
        assert rows(dialog) == []
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


async def test_a_missing_topic_names_the_console_key_not_a_command(
    services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    dialog = OffsetResetScreen(group, "no-such-topic-here")
    async with ResetApp(services, dialog).run_test(size=SIZE) as pilot:
        await pilot.click("#plan")
        await settle(pilot)
        text = status(dialog)
        assert "topic 'no-such-topic-here' not found" in text
        # core's hint names `kafkaops topics`; the console gives its own key for it
        assert "key `t` (Topics)" in text and "kafkaops" not in text
        assert rows(dialog) == []
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED


@pytest.fixture
async def read_only_services(config: Config) -> AsyncIterator[Services]:
    data = {
        "clusters": {"primary": {"bootstrap_servers": config.clusters["primary"]
                                 .bootstrap_servers, "read_only": True}},
        "audit": {"signing_key": "test-signing-key"},
    }
    async with Services(parse_config(data, "ro.yaml")) as s:
        yield s


async def test_read_only_cluster_shows_the_plan_but_cannot_apply(
    read_only_services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, START)
    dialog = OffsetResetScreen(group, known.name)
    async with ResetApp(read_only_services, dialog).run_test(size=SIZE) as pilot:
        await pilot.click("#plan")
        await settle(pilot)
        assert len(rows(dialog)) == 3
        assert status(dialog) == (
            "cluster 'primary' is read-only (read_only: true in ro.yaml); refusing to reset "
            f"offsets of group {group!r}. This plan cannot be applied."
        )
        assert dialog.query_one("#apply", Button).disabled
        await pilot.click("#apply")
        await pilot.pause()
        assert pilot.app.screen is dialog
    assert await read_committed(bootstrap, group, known.name) == UNCHANGED
