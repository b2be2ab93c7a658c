"""Lag status needs evidence: a fresh view says "warming up" (never WARN or STOP) until a
group has enough snapshots over enough time, and a status changes only when the change
holds for a whole evaluation. The console, the CLI and the bot judge with the same rules
(config `lag:`) and say which. Pure tables for the rules, the lag engine against the
embedded broker, and the console's lag screen with Pilot."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.lag import LagScreen
from kafkaops.core.alerts.conditions import evaluate, parse_when
from kafkaops.core.config import parse_config
from kafkaops.core.lag.history import Settled, settle
from kafkaops.core.lag.model import lag_policy
from kafkaops.core.lag.service import LagService
from kafkaops.core.lag.status import LagPolicy, Status, policy_text
from kafkaops.core.services import Services

from .lag_support import live_group, make_topic, stopped_group
from .test_console_shell import screen_text

S = Status


# ---------------------------------------------------------------- the rules, as tables


@pytest.mark.parametrize(("samples", "span", "warming"), [
    (1, 0.0, True), (2, 0.0, True), (2, 40.0, True), (3, 29.9, True), (3, 30.0, False),
    (12, 300.0, False),
])
def test_warming_needs_three_snapshots_over_the_warmup(samples: int, span: float,
                                                       warming: bool) -> None:
    assert LagPolicy().warming(samples, span) is warming


def test_no_warmup_judges_the_first_snapshot() -> None:
    assert LagPolicy(warmup=0).warming(1, 0.0) is False


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"warmup": -1}, "cannot be negative"), ({"hold": -1}, "cannot be negative"),
    ({"warmup": 400}, "cannot be longer than the window"), ({"min_samples": 0}, "min_samples"),
])
def test_bad_policies_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LagPolicy(**kwargs)


def test_policy_text_is_what_every_face_prints() -> None:
    assert policy_text(LagPolicy()) == "window 5m00s, warm-up 30s, changes held 30s"
    assert policy_text(LagPolicy(warmup=0, hold=0)) == (
        "window 5m00s, no warm-up, changes at once")


def replay(raws: list[tuple[float, Status]], hold: float = 30.0) -> list[Status]:
    """The statuses shown for a run of raw verdicts (time, status)."""
    shown: list[Status] = []
    state: Settled | None = None
    for at, raw in raws:
        state = settle(state, raw, at, hold)
        shown.append(state.shown)
    return shown


@pytest.mark.parametrize(("raws", "shown"), [
    # the first verdict after the warm-up is shown as it is
    ([(0, S.OK)], [S.OK]),
    # a blip of WARN (shorter than the hold) never shows
    ([(0, S.OK), (5, S.WARN), (10, S.OK), (15, S.WARN), (20, S.OK)], [S.OK] * 5),
    # WARN -> ERR -> OK -> WARN within minutes (the flapping of the report) stays WARN
    ([(0, S.WARN), (20, S.ERR), (40, S.OK), (60, S.WARN), (80, S.OK), (100, S.WARN)],
     [S.WARN] * 6),
    # a status that holds for the whole hold is shown
    ([(0, S.OK), (5, S.WARN), (20, S.WARN), (35, S.WARN)], [S.OK, S.OK, S.OK, S.WARN]),
    # worse all the time but not the same: the mildest of what held is shown
    ([(0, S.OK), (5, S.ERR), (20, S.WARN), (35, S.ERR)], [S.OK, S.OK, S.OK, S.WARN]),
    # ... then ERR, once it held on its own
    ([(0, S.OK), (5, S.ERR), (20, S.WARN), (35, S.ERR), (50, S.ERR), (65, S.ERR)],
     [S.OK, S.OK, S.OK, S.WARN, S.WARN, S.ERR]),
    # better all the time: the worst of what held (a conservative step down)
    ([(0, S.ERR), (5, S.OK), (20, S.WARN), (35, S.OK)], [S.ERR, S.ERR, S.ERR, S.WARN]),
    # a flap across the shown status restarts the evidence
    ([(0, S.WARN), (5, S.OK), (20, S.ERR), (30, S.ERR), (45, S.ERR), (50, S.ERR)],
     [S.WARN] * 5 + [S.ERR]),
    # data loss is a fact: at once; so is having nothing to judge
    ([(0, S.OK), (5, S.DATA_LOSS), (10, S.UNKNOWN), (15, S.STOP)],
     [S.OK, S.DATA_LOSS, S.UNKNOWN, S.STOP]),
])
def test_hysteresis(raws: list[tuple[float, Status]], shown: list[Status]) -> None:
    assert replay(raws) == shown


def test_no_hold_changes_at_once() -> None:
    assert replay([(0, S.OK), (5, S.WARN), (10, S.OK)], hold=0) == [S.OK, S.WARN, S.OK]


def test_warming_up_reads_and_ranks() -> None:
    assert Status.parse("warming up") is Status.parse("WARMING") is S.WARMING_UP
    assert S.WARMING_UP.label == "warming up"
    assert S.OK.severity < S.WARMING_UP.severity < S.UNKNOWN.severity < S.WARN.severity
    assert not S.WARMING_UP.judged and not S.UNKNOWN.judged and S.OK.judged


@pytest.mark.parametrize("condition", ["status == STOP", "status != STOP", "status >= WARN",
                                       "status in [OK, WARN]"])
def test_alert_rules_neither_fire_nor_resolve_while_warming_up(condition: str) -> None:
    # None: not known, so a firing alert stays as it is and a new one does not fire
    assert evaluate(parse_when(condition), {"status": S.WARMING_UP}) is None


def test_the_policy_comes_from_config() -> None:
    cfg = parse_config({"clusters": {"p": {"bootstrap_servers": "h:1"}},
                        "lag": {"window": "10m", "warmup": "1m", "hold": "45s", "stall": "2m"}})
    pol = lag_policy(cfg)
    assert (pol.window, pol.warmup, pol.hold, pol.stall_seconds) == (600, 60, 45, 120)
    default = lag_policy(parse_config({"clusters": {"p": {"bootstrap_servers": "h:1"}}}))
    assert (default.window, default.warmup, default.hold) == (300, 30, 30)


# ---------------------------------------------------------------- the engine


async def test_engine_warms_up_before_judging(conn_services: Services, bootstrap: str) -> None:
    topic = await make_topic(bootstrap, {0: 30})
    stopped = await stopped_group(bootstrap, topic.name, {0: 7})
    async with live_group(bootstrap, topic.name, {0: 30}) as live:
        conn = await conn_services.connection()
        svc = LagService(conn, policy=LagPolicy(warmup=1.0, hold=0))
        groups = [stopped, live.group]
        for _ in range(2):
            snap = await svc.snapshot(groups)
            assert {g.status for g in snap.groups} == {S.WARMING_UP}
            assert all(p.trend is None and p.eta_seconds is None
                       for g in snap.groups for p in g.partitions)
        await asyncio.sleep(1.1)
        snap = await svc.snapshot(groups)
        g_stopped, g_live = snap.group(stopped), snap.group(live.group)
        assert g_stopped is not None and g_live is not None
        assert (g_stopped.status, g_live.status) == (S.STOP, S.OK)
        assert g_stopped.samples == 3


@pytest.fixture
async def conn_services(config: Any) -> Any:
    async with Services(config) as s:
        yield s


# ---------------------------------------------------------------- the console


def warm_config(config_data: dict[str, Any], warmup: str) -> Any:
    data = copy.deepcopy(config_data)
    data["lag"] = {"warmup": warmup, "hold": "30s"}
    return parse_config(data)


async def wait_until(pilot: Pilot[Any], cond: Callable[[], object], what: str,
                     within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}; the screen shows:\n"
                f"{screen_text(pilot.app)}")  # type: ignore[arg-type]


async def test_fresh_lag_screen_says_warming_up_not_warn_or_stop(
    config_data: dict[str, Any], bootstrap: str,
) -> None:
    topic = await make_topic(bootstrap, {0: 30, 1: 20})
    stopped = await stopped_group(bootstrap, topic.name, {0: 7, 1: 20})
    async with live_group(bootstrap, topic.name, {0: 30, 1: 20}) as live, \
            Services(warm_config(config_data, "2m")) as services:
        # a warm-up far longer than the test: the session's broker has many groups, so a
        # snapshot can take seconds on a loaded machine, and a third one past a short
        # warm-up would judge the groups before the screen is read
        app = KafkaOpsApp(services, start="lag")
        async with app.run_test(size=(180, 50)) as pilot:
            def row(group: str) -> list[str] | None:
                """The group's row in the table (the session's broker lists many groups:
                not all of them fit on the screen)."""
                screen = app.screen
                if not isinstance(screen, LagScreen) or screen.snapshot is None:
                    return None
                table = screen.query_one("#lag-groups", DataTable)
                rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
                return next((r for r in rows if r[0] == group), None)

            await wait_until(pilot, lambda: row(stopped) and row(live.group), "both groups")
            await pilot.press("r")  # a second snapshot at once ("2 snapshots in 0s")

            def summary() -> str:
                return str(app.screen.query_one("#lag-summary", Static).render())

            await wait_until(pilot, lambda: re.search(r"warming up: [2-9] snapshots", summary()),
                             "the second snapshot")
            text = screen_text(app)
            for group in (stopped, live.group):
                cells = row(group) or []
                assert cells[5] == "warming up", cells  # the Status column
                assert "WARN" not in cells and "STOP" not in cells and "OK" not in cells
            assert re.search(r"warming up: [2-9] snapshots in \d+s; a status needs 3 over 2m00s "
                             r"\(window 5m00s, warm-up 2m00s, changes held 30s\)", summary()), text


async def test_after_the_warmup_the_stopped_group_is_stop_and_the_live_one_ok(
    config_data: dict[str, Any], bootstrap: str,
) -> None:
    topic = await make_topic(bootstrap, {0: 30})
    stopped = await stopped_group(bootstrap, topic.name, {0: 7})
    async with live_group(bootstrap, topic.name, {0: 30}) as live, \
            Services(warm_config(config_data, "2s")) as services:
        app = KafkaOpsApp(services, start="lag")
        async with app.run_test(size=(180, 50)) as pilot:
            def status_of(group: str) -> str:
                screen = app.screen
                if not isinstance(screen, LagScreen) or screen.snapshot is None:
                    return ""
                g = screen.snapshot.group(group)
                return g.status.label if g else ""

            await wait_until(pilot, lambda: status_of(stopped) == "warming up",
                             "warming up first")
            for _ in range(3):  # three snapshots over the 2s warm-up
                await asyncio.sleep(1.0)
                await pilot.press("r")
            await wait_until(pilot, lambda: status_of(stopped) == "STOP"
                             and status_of(live.group) == "OK", "STOP and OK")
            assert "status over" in screen_text(app) and "warm-up 2s" in screen_text(app)
