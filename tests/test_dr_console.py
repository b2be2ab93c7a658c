"""The console's DR screen, driven with Pilot on a minimal app that has `services`: it shows
the same numbers as `kafkaops dr status`, and the failover plan on `f`."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import DataTable, Static

from kafkaops.console.dr import DrScreen
from kafkaops.core.services import Services

from .drkit import close_world, make_world, now_ms, produce_to


class DrApp(App[None]):
    def __init__(self, services: Services, pair: str) -> None:
        super().__init__()
        self.services = services
        self.pair = pair

    def on_mount(self) -> None:
        self.push_screen(DrScreen(self.pair))


def text(widget: Static) -> str:
    return str(widget.render())


async def settle(pilot: Any, predicate: Any, tries: int = 200) -> None:
    for _ in range(tries):
        await pilot.pause(0.05)
        if predicate():
            return
    raise AssertionError("the screen never showed it")


async def test_dr_screen_shows_status_lag_and_the_failover_plan(
    config_data: dict[str, Any],
) -> None:
    w = await make_world(config_data)
    try:
        await produce_to(w.services, "primary", w.topic, 0, 4, timestamp_ms=now_ms() - 300_000)
        app = DrApp(w.services, w.name)
        async with app.run_test(size=(160, 60)) as pilot:
            screen = app.screen
            assert isinstance(screen, DrScreen)
            topics = screen.query_one("#dr-topics", DataTable)
            await settle(pilot, lambda: topics.row_count == 1)
            row = topics.get_row_at(0)
            assert row[0] == w.topic and row[1] == w.remote
            assert (row[3], row[4], row[5]) == ("29", "25", "4")  # source end, target end, lag
            assert str(row[7]).endswith("behind") or "behind" in str(row[7])
            summary = text(screen.query_one("#dr-summary", Static))
            assert f"Pair          {w.name}" in summary
            assert "Active        primary (epoch 0)" in summary
            assert "BEYOND RPO" in summary  # 5 minutes behind, RPO 60 s
            groups = screen.query_one("#dr-groups", DataTable)
            assert groups.row_count == 1 and groups.get_row_at(0)[0] == w.groups[0]

            await pilot.press("f")
            plan = screen.query_one("#dr-plan", Static)
            await settle(pilot, lambda: "failover plan" in text(plan))
            shown = text(plan)
            assert "replication lag" in shown and "FAIL" in shown
            assert f"group {w.groups[0]}: move" in shown
            assert "refuses unless --force" in shown
            await pilot.press("f")
            assert not plan.display
    finally:
        await close_world(w)


async def test_dr_screen_says_what_is_wrong_without_dr_config(services: Services) -> None:
    app = DrApp(services, "main")
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.screen.query_one("#dr-status", Static)
        await settle(pilot, lambda: "error" in text(status))
        assert "no DR pairs configured" in text(status)
