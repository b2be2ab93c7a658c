"""The console's Connect screens driven with Pilot against the real Connect worker: the
connector list (state, task counts, type, sink lag, the problem), a connector's tasks with
the failed task's trace (scrollable) and its config, changes confirmed with Cancel focused,
refusals on screen, and a worker killed while the console watches it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.console.connect import ConnectorScreen, ConnectScreen
from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.demo.connect_worker import ConnectWorker
from tests.conftest import produce, unique
from tests.connect_support import (
    connect_config,
    file_sink,
    put_connector,
    status,
    wait_state,
)

WAIT = 60.0


def rows(screen: Any, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(screen: Any, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).render())


async def wait_until(pilot: Pilot[Any], cond: Callable[[], object], what: str,
                     within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}")


def row_of(screen: Any, name: str) -> list[str] | None:
    return next((r for r in rows(screen, "connect-table") if r[0] == name), None)


async def open_connect(pilot: Pilot[Any], app: KafkaOpsApp, name: str) -> ConnectScreen:
    await pilot.press("C")
    await wait_until(pilot, lambda: isinstance(app.screen, ConnectScreen)
                     and row_of(app.screen, name), f"{name} on the Connect screen")
    screen = app.screen
    assert isinstance(screen, ConnectScreen)
    return screen


async def highlight(pilot: Pilot[Any], screen: ConnectScreen, name: str) -> None:
    table = screen.query_one("#connect-table", DataTable)
    table.focus()
    table.move_cursor(row=[r[0] for r in rows(screen, "connect-table")].index(name))
    await pilot.pause()


@pytest.fixture
def data(config_data: dict, connect_worker: ConnectWorker) -> dict:
    return connect_config(config_data, connect_worker.url)


@pytest.mark.parametrize("size", [(200, 50), (100, 30)], ids=["200x50", "100x30"])
async def test_list_then_a_failed_tasks_trace_and_config(data: dict, connect_trio,
                                                         size: tuple[int, int]) -> None:
    _, src, good, bad = connect_trio
    async with Services(parse_config(data, "<t>")) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=size) as pilot:
            screen = await open_connect(pilot, app, bad)
            await wait_until(pilot, lambda: (row_of(screen, good) or [""] * 6)[5] == "OK",
                             "the healthy sink's lag")
            assert row_of(screen, bad)[1:4] == ["sink", "RUNNING", "1 FAILED"]
            assert row_of(screen, bad)[7].startswith(
                "task 0: org.apache.kafka.connect.errors.ConnectException: Couldn't find")
            assert row_of(screen, src)[1:4] == ["source", "RUNNING", "1 RUNNING"]
            assert row_of(screen, good)[4] == "0"
            names = [r[0] for r in rows(screen, "connect-table")]
            assert names.index(bad) < names.index(good)  # failing connectors first
            summary = text_of(screen, "connect-summary")
            assert "Connect ingest · Kafka Connect 3.9.0 · 1 worker" in summary
            assert "failing" in summary

            await highlight(pilot, screen, bad)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConnectorScreen)
                             and rows(app.screen, "connector-tasks"), "the tasks")
            detail = app.screen
            assert rows(detail, "connector-tasks")[0][:2] == ["0", "FAILED"]
            trace = text_of(detail, "connector-detail")
            assert trace.startswith("Task 0 · FAILED")
            assert "Caused by: java.nio.file.NoSuchFileException" in trace
            pane = detail.query_one("#connector-pane")
            if size == (100, 30):
                assert pane.max_scroll_y > 0  # longer than the pane: it scrolls
                pane.scroll_end(animate=False)
                await pilot.pause()
                assert pane.scroll_y > 0
            await pilot.press("v")
            config = text_of(detail, "connector-detail")
            assert config.startswith("Config (secrets redacted)")
            assert "connector.class" in config and "FileStreamSinkConnector" in config
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, "the list again")


async def test_restart_failed_asks_with_cancel_focused_then_brings_it_back(
        data: dict, connect_worker: ConnectWorker, bootstrap: str, tmp_path: Path) -> None:
    topic, bad = unique("lines"), unique("bad")
    await produce(bootstrap, topic, [b'"x"'])
    await put_connector(connect_worker.url, bad, file_sink(tmp_path / "missing" / "o.txt", topic))
    await wait_state(connect_worker.url, bad, "RUNNING", ["FAILED"])
    async with Services(parse_config(data, "<t>")) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(200, 50)) as pilot:
            screen = await open_connect(pilot, app, bad)
            await highlight(pilot, screen, bad)
            await pilot.press("F")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
            dialog = app.screen
            # the dialog is pushed before its focus is set: wait for focus, then check it
            await wait_until(pilot, lambda: app.focused is not None, "focus in the dialog")
            asked = str(dialog.query_one("#confirm-summary", Static).render())
            assert f"Restart failed task(s) 0 of {bad}" in asked
            assert "Now: RUNNING, tasks 1 FAILED" in asked
            assert app.focused is dialog.query_one("#confirm-no", Button)
            await pilot.press("enter")  # Enter alone cancels
            await wait_until(pilot, lambda: app.screen is screen, "the list again")
            await wait_until(pilot, lambda: "cancelled" in text_of(screen, "connect-result"),
                             "the cancel")
            assert text_of(screen, "connect-result") == \
                "restart cancelled: nothing was changed"
            assert [t["state"] for t in (await status(connect_worker.url, bad))["tasks"]] \
                == ["FAILED"]

            (tmp_path / "missing").mkdir()  # the cause is fixed
            await pilot.press("F")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
            await wait_until(pilot, lambda: app.focused is not None, "the dialog mounted")
            await pilot.click("#confirm-yes")
            await wait_until(pilot, lambda: "done" in text_of(screen, "connect-result"),
                             "the restart")
            assert text_of(screen, "connect-result") == \
                f"restart done: {bad} is RUNNING, tasks 1 RUNNING"
            await wait_until(pilot, lambda: row_of(screen, bad)[3] == "1 RUNNING",
                             "the list to show it running")
    reported = await status(connect_worker.url, bad)
    assert [t["state"] for t in reported["tasks"]] == ["RUNNING"]
    async with Services(parse_config(data, "<t>")) as services:
        records = await (await services.audit()).records()
    assert [(r.action, r.face, r.result) for r in records if r.target == f"ingest/{bad}"] \
        == [("connect.restart", "console", "ok")]


async def test_nothing_to_change_and_read_only_say_so_without_a_dialog(
        data: dict, connect_trio) -> None:
    good = connect_trio[2]
    async with Services(parse_config(data, "<t>")) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(200, 50)) as pilot:
            screen = await open_connect(pilot, app, good)
            await highlight(pilot, screen, good)
            await pilot.press("u")
            await wait_until(pilot, lambda: text_of(screen, "connect-result"), "an answer")
            assert text_of(screen, "connect-result") == (
                f"nothing to change: {good} is RUNNING, not paused or stopped: resume changes "
                "nothing")
            assert not isinstance(app.screen, ConfirmScreen)
    data["clusters"]["primary"]["read_only"] = True
    async with Services(parse_config(data, "<t>")) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(200, 50)) as pilot:
            screen = await open_connect(pilot, app, good)
            await highlight(pilot, screen, good)
            await pilot.press("x")
            await pilot.pause()
            assert text_of(screen, "connect-result").startswith(
                "refused: cluster 'primary' is read-only")
            assert not isinstance(app.screen, ConfirmScreen)


async def test_a_worker_killed_while_watched_shows_unreachable_with_its_age(
        config_data: dict, bootstrap: str, tmp_path: Path) -> None:
    worker = ConnectWorker(bootstrap, group_id=unique("doomed-connect")).start()
    try:
        await worker.wait_ready()
        name = unique("watched")
        await put_connector(worker.url, name, file_sink(tmp_path / "o.txt", unique("t")))
        await wait_state(worker.url, name, "RUNNING", ["RUNNING"])
        data = connect_config(config_data, worker.url)
        async with Services(parse_config(data, "<t>")) as services:
            app = KafkaOpsApp(services)
            async with app.run_test(size=(200, 50)) as pilot:
                screen = await open_connect(pilot, app, name)
                assert row_of(screen, name)[2] == "RUNNING"
                worker.kill()
                await pilot.press("r")
                await wait_until(pilot, lambda: "not answering" in text_of(
                    screen, "connect-summary"), "the screen to see the worker gone")
                summary = text_of(screen, "connect-summary")
                assert "Connect ingest not answering for " in summary
                assert "(last answer " in summary and "is unreachable" in summary
                state = row_of(screen, name)[2]
                assert state.startswith("UNKNOWN · was RUNNING ") and state.endswith(" ago")
                assert state != "RUNNING"
                assert app.connection.status == "connected"  # Kafka itself is fine
                assert row_of(screen, name)[4] == "unknown"
    finally:
        worker.stop()


async def test_text_from_the_rest_api_cannot_drive_the_terminal(
        data: dict, connect_worker: ConnectWorker, tmp_path: Path) -> None:
    # a config value with a terminal escape (anyone who may create connectors can write one)
    name = unique("esc")
    await put_connector(connect_worker.url, name, {
        **file_sink(tmp_path / "o.txt", unique("t")), "transforms.x.note": "\x1b[2J\x1b]0;pwn\x07"})
    await wait_state(connect_worker.url, name, "RUNNING", ["RUNNING"])
    async with Services(parse_config(data, "<t>")) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(200, 50)) as pilot:
            screen = await open_connect(pilot, app, name)
            await highlight(pilot, screen, name)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConnectorScreen)
                             and rows(app.screen, "connector-tasks"), "the tasks")
            await pilot.press("v")
            config = text_of(app.screen, "connector-detail")
            assert "\\x1b[2J\\x1b]0;pwn\\x07" in config and "\x1b" not in config


async def test_a_failed_tasks_trace_cannot_drive_the_terminal(
        data: dict, connect_worker: ConnectWorker, tmp_path: Path) -> None:
    # a sink's file path (anyone who may create connectors chooses it) comes back inside
    # the failed task's trace
    from tests.test_messages_console import screen_text

    name = unique("esctrace")
    missing = tmp_path / "missing\x1b]0;pwned\x07" / "o.txt"
    await put_connector(connect_worker.url, name, file_sink(missing, unique("t")))
    await wait_state(connect_worker.url, name, "RUNNING", ["FAILED"])
    async with Services(parse_config(data, "<t>")) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(200, 50)) as pilot:
            screen = await open_connect(pilot, app, name)
            await highlight(pilot, screen, name)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConnectorScreen)
                             and "Task 0 · FAILED" in screen_text(app), "the trace")
            shown = screen_text(app)
            assert "missing\\x1b]0;pwned\\x07" in shown and "\x1b" not in shown
            assert "\x07" not in text_of(app.screen, "connector-detail")


async def test_palette_and_no_connect_configured(config: Any) -> None:
    async with Services(config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=(120, 30)) as pilot:
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Go to Connect" in titles
            await pilot.press("C")
            await wait_until(pilot, lambda: isinstance(app.screen, ConnectScreen)
                             and text_of(app.screen, "connect-summary"), "the screen")
            assert text_of(app.screen, "connect-summary").startswith(
                "No Kafka Connect configured for cluster primary: add "
                "clusters.primary.connect: [{name, url}]")
            await asyncio.sleep(0)
