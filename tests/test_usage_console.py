"""The Usage (U) and Compliance (P) screens with Pilot against the embedded broker: a team's
row with its bytes and sparkline, the window key, a non-compliant topic with its rule and
value, the fix planned, cancelled, then confirmed and applied (the violation goes, audited),
at 200x50 and 100x30, and the read-only refusal on an audit trail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual.widgets import Button, DataTable, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.compliance import ComplianceScreen
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.console.usage import UsageScreen, sparkline
from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .conftest import produce, unique
from .test_messages_console import screen_text, wait_until

SEVEN_YEARS = str(7 * 365 * 86_400_000)


def rows(screen: Any, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(screen: Any, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).render())


class World:
    def __init__(self, config_data: dict) -> None:
        self.tag = unique("c")
        self.team = f"team-{self.tag}"
        self.orders = f"orders.{self.tag}"
        self.iac = f"iac.{self.tag}"
        data = json.loads(json.dumps(config_data))
        data["teams"] = {self.team: {"match": [f"*.{self.tag}"], "channel": "#team"}}
        data["policies"] = [{"name": "iac-retention", "match": {"topic": f"iac.{self.tag}"},
                             "require": {"retention": ">= 7y", "cleanup_policy": "delete"}}]
        self.config = parse_config(data, "<console test>")


@pytest.fixture
async def world(config_data: dict, bootstrap: str) -> World:
    w = World(config_data)
    async with Services(parse_config(config_data, "<setup>")) as s:
        await (await s.topics()).create_topics([
            NewTopicSpec(w.orders, 2),
            NewTopicSpec(w.iac, 1, configs={"retention.ms": "86400000",
                                            "cleanup.policy": "delete"})])
    await produce(bootstrap, w.orders, [b"o" * 100] * 40)
    await produce(bootstrap, w.iac, [b"change"] * 3)
    return w


@pytest.mark.parametrize("size", [(200, 50), (100, 30)])
async def test_usage_shows_the_team_with_bytes_and_a_sparkline(world: World, size) -> None:
    async with Services(world.config) as services:
        app = KafkaOpsApp(services, start="usage")
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, UsageScreen) and any(
                r[0] == world.team for r in rows(app.screen, "usage-teams")), "the team row")
            screen = app.screen
            row = next(r for r in rows(screen, "usage-teams") if r[0] == world.team)
            assert row[1] == "2" and row[2] == "43"  # two topics, 40 + 3 records
            # exact (every batch read: no ±), at least the 4,018 bytes of keys and values
            assert row[3].endswith(" kB") and float(row[3][:-3]) * 1000 >= 4018
            assert row[6] == "new"
            # all records came in the last slice of the hour
            assert row[7] == sparkline([0] * 11 + [43]) and row[7].endswith("█")
            topic = next(r for r in rows(screen, "usage-topics") if r[0] == world.orders)
            assert topic[1] == world.team
            assert "from the log itself (exact: every batch read" in text_of(
                screen, "usage-summary")
            assert "Usage" in screen_text(app)
            await pilot.press("w")
            await wait_until(pilot, lambda: text_of(screen, "usage-summary").startswith(
                "last 6h"), "the 6h window")


@pytest.mark.parametrize("size", [(200, 50), (100, 30)])
async def test_compliance_shows_the_violation_and_the_fix_clears_it(world: World,
                                                                    size) -> None:
    async with Services(world.config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=size) as pilot:
            await pilot.press("P")
            await wait_until(pilot, lambda: isinstance(app.screen, ComplianceScreen) and any(
                r[0] == world.iac for r in rows(app.screen, "compliance-findings")),
                "the violation")
            screen = app.screen
            (row,) = [r for r in rows(screen, "compliance-findings") if r[0] == world.iac]
            assert row[:6] == [world.iac, world.team, "iac-retention", "retention.ms >= 7y",
                               "VIOLATION", "86400000 (1d)"]
            assert row[6] == f"kafkaops -c primary policy fix {world.iac}"
            assert "1 violation" in text_of(screen, "compliance-summary")
            table = screen.query_one("#compliance-findings", DataTable)
            table.move_cursor(row=[r[0] for r in rows(screen, "compliance-findings")].index(
                world.iac))
            await pilot.press("F")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the plan")
            plan = str(app.screen.query_one("#confirm-summary", Static).render())
            assert f"retention.ms: 86400000 -> {SEVEN_YEARS}   (iac-retention)" in plan
            assert app.screen.focused is app.screen.query_one("#confirm-no", Button)
            await pilot.press("n")  # cancel first: nothing happens
            await wait_until(pilot, lambda: "cancelled: nothing was changed" in text_of(
                screen, "compliance-result"), "the cancel")
            await pilot.press("F")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the plan")
            await pilot.press("tab", "enter")  # to the yes button, deliberately
            await wait_until(pilot, lambda: "fixed" in text_of(screen, "compliance-result"),
                             "the outcome")
            assert text_of(screen, "compliance-result") == (
                f"fixed {world.iac}: retention.ms={SEVEN_YEARS}")
            # checked again: the violation is gone and nothing else is left
            await wait_until(pilot, lambda: "every topic complies" in text_of(
                screen, "compliance-summary"), "the check after the fix")
            assert rows(screen, "compliance-findings") == []
        records = await (await services.audit()).records()
        assert [(r.action, r.face, r.result) for r in records if r.target == world.iac] == [
            ("topic.config", "console", "ok")]
        configs = await (await services.topics()).configs([world.iac], None)
        assert {c.name: c.value for c in configs[world.iac]} == {
            "retention.ms": SEVEN_YEARS, "cleanup.policy": "delete"}


async def test_compliance_fix_is_refused_on_a_read_only_cluster(world: World,
                                                                config_data: dict) -> None:
    data = json.loads(json.dumps(config_data))
    data["clusters"]["primary"]["read_only"] = True
    data["teams"] = {world.team: {"match": [f"*.{world.tag}"]}}
    data["policies"] = [{"name": "iac-retention", "match": {"topic": world.iac},
                         "require": {"retention": ">= 7y"}}]
    async with Services(parse_config(data, "<ro>")) as services:
        app = KafkaOpsApp(services, start="compliance")
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, ComplianceScreen) and any(
                r[0] == world.iac for r in rows(app.screen, "compliance-findings")),
                "the violation")
            await pilot.press("F")
            await wait_until(pilot, lambda: "refused" in text_of(app.screen,
                                                                 "compliance-result"),
                             "the refusal")
            assert "cluster 'primary' is read-only" in text_of(app.screen, "compliance-result")
            assert not isinstance(app.screen, ConfirmScreen)
            refused: list[tuple[str, str]] = []
            for _ in range(200):  # written by a worker of the console: wait while it runs
                trail = await (await services.audit("dr")).records()
                refused = [(r.action, r.result) for r in trail if r.target == world.iac]
                if refused:
                    break
                await pilot.pause(0.1)
            assert refused == [("topic.config", "refused")]
