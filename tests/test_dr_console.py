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
    from .test_console_shell import screen_text

    raise AssertionError(f"the screen never showed it; it shows:\n{screen_text(pilot.app)}")


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
            assert row[0] == w.topic and row[7] == w.remote
            assert (row[5], row[6], row[2]) == ("29", "25", "4")  # source end, target end, lag
            assert "behind" in str(row[1])  # the state, next to the name
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
            assert f"{w.groups[0]}: move" in shown
            assert "the console refuses" in shown and "--force` overrides" in shown
            # the plan takes the tables' place; e refuses a plan whose pre-checks failed
            assert not screen.query_one("#dr-tables").display
            await pilot.press("e")
            await settle(pilot, lambda: "refused: pre-checks failed" in text(plan))
            assert "nothing was changed" in text(plan)
            await pilot.press("p")
            assert not screen.query_one("#dr-plan-box").display
            assert screen.query_one("#dr-tables").display
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


def visible(app: KafkaOpsApp) -> str:
    from .test_console_shell import screen_text

    return screen_text(app)


async def test_plan_scrolls_at_100x30_and_the_console_executes_it(
    config_data: dict[str, Any],
) -> None:
    from kafkaops.console.dr import ConfirmFailoverScreen
    from kafkaops.core.audit.log import local_actor
    from kafkaops.core.dr.control import ControlStore

    w = await make_world(config_data, groups=6)
    try:
        app = dr_console(w.services)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DrScreen)
                         and "Clusters" in visible(app))
            screen = app.screen
            assert isinstance(screen, DrScreen)
            await pilot.press("p")
            plan = screen.query_one("#dr-plan", Static)
            await settle(pilot, lambda: "pre-checks passed" in text(plan))
            last = "pre-checks passed: e executes it"
            assert "failover plan" in visible(app) and last not in visible(app)
            await pilot.press("end")
            await settle(pilot, lambda: last in visible(app))
            await pilot.press("home")
            await settle(pilot, lambda: "failover plan" in visible(app)
                         and last not in visible(app))
            box = screen.query_one("#dr-plan-box")
            await pilot.press("j", "j")
            await settle(pilot, lambda: box.scroll_y == 2)
            await pilot.press("k")
            await settle(pilot, lambda: box.scroll_y == 1)
            await pilot.press("pagedown")
            await settle(pilot, lambda: box.scroll_y > 2)

            # execute: the confirmation opens on Cancel, so Enter changes nothing
            await pilot.press("e")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmFailoverScreen))
            assert "make dr the active cluster (epoch 0 → 1)" in text(
                app.screen.query_one("#confirm-summary", Static))
            await pilot.press("enter")
            await settle(pilot, lambda: "cancelled: nothing was changed" in text(plan))
            view = await ControlStore(w.services.connection).read(w.services.config.dr.pairs[0])
            assert (view.active.cluster, view.active.epoch) == ("primary", 0)

            await pilot.press("e")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmFailoverScreen))
            await pilot.press("y")
            await settle(pilot, lambda: "failover completed" in text(plan), tries=600)
            shown = text(plan)
            for step in ("run recorded", "primary fenced (stood down)",
                         f"group {w.groups[0]}: offsets committed on dr",
                         f"group {w.groups[5]}: done", "dr active at epoch 1", "run completed"):
                assert f"✓ {step}" in shown, step
            assert "active now dr (epoch 1)" in shown
            assert "✓ primary's control topic names dr active" in shown
            # the audit's hook points around each step are not steps of their own
            assert "before:" not in shown and "after:" not in shown
            await pilot.press("end")
            await settle(pilot, lambda: "failover completed" in visible(app))
            await settle(pilot, lambda: "Active        dr (epoch 1)" in visible(app))
        view = await ControlStore(w.services.connection).read(w.services.config.dr.pairs[0])
        assert (view.active.cluster, view.active.epoch) == ("dr", 1)
        records = await (await w.services.audit("dr")).records()
        mine = [r for r in records if r.action.startswith("dr.failover.") and r.result == "ok"
                and r.params.get("pair") == w.name]
        assert {r.face for r in mine} == {"console"} and {r.actor for r in mine} == {
            local_actor()}
        assert [r.action for r in mine][-1] == "dr.failover.complete"
    finally:
        await close_world(w)


async def test_read_only_target_refuses_execute_on_screen(config_data: dict[str, Any]) -> None:
    from kafkaops.core.dr.control import ControlStore
    from kafkaops.core.services import Services as Svc

    from .drkit import dr_config

    w = await make_world(config_data)
    try:
        data = w.config_data(config_data)
        data["clusters"] = {**data["clusters"], "dr": {**data["clusters"]["dr"],
                                                       "read_only": True}}
        async with Svc(dr_config(data, w.pair_data)) as ro:
            app = dr_console(ro)
            async with app.run_test(size=(100, 30)) as pilot:
                await settle(pilot, lambda: isinstance(app.screen, DrScreen))
                await pilot.press("p")
                plan = app.screen.query_one("#dr-plan", Static)
                await settle(pilot, lambda: "FAILED" in text(plan))
                await pilot.press("e")
                await settle(pilot, lambda: "refused" in text(plan) and "read-only" in text(plan))
        view = await ControlStore(w.services.connection).read(w.services.config.dr.pairs[0])
        assert view.active.cluster == "primary"
    finally:
        await close_world(w)
