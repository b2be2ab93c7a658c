"""The console's DR screen, driven with Pilot in the console app: it shows the same numbers
as `kafkaops dr status` under the cluster header, and the failover plan on `p`."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.dr import DrScreen
from kafkaops.core.services import Services

from .drkit import close_world, make_world, now_ms, produce_to


def dr_console(services: Services) -> KafkaOpsApp:
    """The console opened on its DR screen (the first pair in config: each test's only one)."""
    return KafkaOpsApp(services, start="dr")


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
        app = dr_console(w.services)
        async with app.run_test(size=(160, 60)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DrScreen))
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

            # the header is the console's: cluster name and connection state
            header = str(app.screen.query_one("#header-cluster", Static).render())
            assert "primary" in header
            await settle(pilot, lambda: "connected" in text(
                app.screen.query_one("#header-state", Static)))

            await pilot.press("p")
            plan = screen.query_one("#dr-plan", Static)
            await settle(pilot, lambda: "failover plan" in text(plan))
            shown = text(plan)
            assert "replication lag" in shown and "FAIL" in shown
            assert f"group {w.groups[0]}: move" in shown
            assert "refuses unless --force" in shown
            await pilot.press("p")
            assert not plan.display
            # `f` is the app-wide Flags key, not the plan: it leaves the DR screen
            await pilot.press("f")
            await settle(pilot, lambda: app.current_mode == "flags")
    finally:
        await close_world(w)


async def test_dr_screen_says_what_is_wrong_without_dr_config(services: Services) -> None:
    app = dr_console(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, DrScreen))
        status = app.screen.query_one("#status", Static)
        await settle(pilot, lambda: "error" in text(status))
        assert "no DR pairs configured" in text(status)
