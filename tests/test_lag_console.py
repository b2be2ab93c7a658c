"""The console's lag screens driven with Pilot against the real broker: the group list with
state, members, lag, status and sort; a group's partitions showing the same numbers as
`kafkaops lag --json`, "no offset", the sparkline and members; and the sparkline maths."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.lag import GroupLagScreen, LagScreen, sparkline
from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env
from .lag_support import LagTopic, live_group, make_topic, stopped_group

SIZE = (180, 50)
WAIT = 30.0


@pytest.fixture(scope="module")
async def topic(bootstrap: str) -> LagTopic:
    return await make_topic(bootstrap, {0: 30, 1: 20, 2: 10})


def rows(screen: Any, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(screen: Any, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).render())


async def wait_until(pilot: Pilot[Any], cond: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}")


def group_row(screen: LagScreen, group: str) -> list[str] | None:
    return next((r for r in rows(screen, "lag-groups") if r[0] == group), None)


async def test_group_list_then_partitions_match_the_cli(config, config_file, bootstrap, topic):
    stopped = await stopped_group(bootstrap, topic.name, {0: 7, 1: 20})
    caught_up = await stopped_group(bootstrap, topic.name, {0: 30, 1: 20, 2: 10})
    async with Services(config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = LagScreen()
            await app.push_screen(screen)
            await wait_until(pilot, lambda: group_row(screen, stopped)
                             and group_row(screen, caught_up), "both groups")
            row = group_row(screen, stopped)
            assert row[1:4] == ["Empty", "0", "23"]
            assert row[5] == "STOP" and row[8] == topic.name
            assert group_row(screen, caught_up)[3:6] == ["0", "0s", "OK"]
            order = [r[0] for r in rows(screen, "lag-groups")]
            assert order.index(stopped) < order.index(caught_up)  # worst status first
            summary = text_of(screen, "lag-summary")
            assert "STOP" in summary and "status from one snapshot" in summary
            assert "sorted by worst status first" in summary
            await pilot.press("s", "s")
            assert "sorted by name A-Z" in text_of(screen, "lag-summary")
            names = [r[0] for r in rows(screen, "lag-groups")]
            assert names == sorted(names)

            table = screen.query_one("#lag-groups", DataTable)
            table.focus()
            table.move_cursor(row=names.index(stopped))
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, GroupLagScreen)
                             and len(rows(app.screen, "group-partitions")) == 3, "partitions")
            detail = app.screen
            shown = rows(detail, "group-partitions")
            assert [r[:5] for r in shown] == [
                [topic.name, "0", "7", "30", "23"],
                [topic.name, "1", "20", "20", "0"],
                [topic.name, "2", "no offset", "10", "-"],
            ]
            assert [r[6] for r in shown] == ["STOP", "OK", "no offset"]
            assert shown[1][5] == "0s" and shown[2][5] == "-"
            assert "status STOP" in text_of(detail, "group-summary")
            assert "members: none" in text_of(detail, "group-members")
            assert "lag over" in text_of(detail, "group-spark")

            # the CLI reports the same numbers
            cli = await asyncio.to_thread(
                subprocess.run, [KAFKAOPS, "--config", str(config_file), "lag", "-g", stopped,
                                 "--json"], capture_output=True, text=True, env=cli_env(),
                timeout=60)
            data = json.loads(cli.stdout)
            assert [[r["topic"], str(r["partition"]),
                     "no offset" if r["committed"] is None else str(r["committed"]),
                     str(r["end"]), "-" if r["lag"] is None else str(r["lag"])]
                    for r in data["partitions"]] == [r[:5] for r in shown]

            # a refresh adds a point to the sparkline
            await pilot.press("r")
            await wait_until(pilot, lambda: len(detail.series) >= 2, "a second snapshot")
            await pilot.pause()
            assert "now 23 · peak 23" in text_of(detail, "group-spark")
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, "the group list again")


async def test_live_group_members_and_offset_reset_key(config, bootstrap):
    t = await make_topic(bootstrap, {0: 10})
    async with live_group(bootstrap, t.name, {0: 4}) as live, Services(config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            detail = GroupLagScreen(live.group)
            await app.push_screen(detail)
            await wait_until(pilot, lambda: rows(detail, "group-partitions"), "the partition")
            assert rows(detail, "group-partitions")[0][:5] == [t.name, "0", "4", "10", "6"]
            members = text_of(detail, "group-members")
            assert members.startswith("members (1):")
            # Tansu reports no client id, host or assignment: say so, do not make them up
            assert "client id: not reported" in members or "client id: aiokafka" in members
            assert "state Stable" in text_of(detail, "group-summary")
            await pilot.press("o")
            from kafkaops.console.offsets import OffsetResetScreen

            await wait_until(pilot, lambda: isinstance(app.screen, OffsetResetScreen),
                             "the offset reset dialog")


async def test_unknown_group_says_so(config):
    async with Services(config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            detail = GroupLagScreen("no-such-group-for-lag")
            await app.push_screen(detail)
            await wait_until(pilot, lambda: "no members and no committed offsets"
                             in text_of(detail, "group-summary"), "the explanation")
            assert rows(detail, "group-partitions") == []


@pytest.mark.parametrize(
    ("values", "width", "expected"),
    [
        ([], 10, ""),
        ([0, 0, 0], 10, "▁▁▁"),
        ([0, 7, 14], 10, "▁▅█"),
        ([5, None, 10], 10, "▅ █"),
        ([1, 2, 3, 4, 8], 3, "▄▅█"),  # the newest `width`, scaled to their own peak
        ([None, None], 5, "  "),
        ([3], 0, ""),
    ],
)
def test_sparkline(values, width, expected):
    assert sparkline(values, width) == expected
