"""The dead-letter and audit screens with Pilot against the embedded broker: counts and
grouped reasons, marking and replaying with confirmation (and cancelling), the read-only
refusal, a bad filter, and the audit trail with verification."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.audit import AuditScreen
from kafkaops.console.dlq import ConfirmReplayScreen, DlqScreen, DlqTopicScreen
from kafkaops.core.config import parse_config
from kafkaops.core.services import Services

from .conftest import produce
from .test_dlq_kafka import ends, make_world, read
from .test_messages_console import SIZE, screen_text, wait_until


@pytest.fixture
async def world(config_data, tmp_path, bootstrap):
    return await make_world(config_data, tmp_path, bootstrap)


def rows(screen: Any, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(screen: Any, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).render())


async def test_dlq_list_shows_counts_and_reasons_then_opens_records(world):
    async with Services(world.config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = DlqScreen()
            await app.push_screen(screen)
            await wait_until(pilot, lambda: any(r[0] == world.dlq for r in rows(
                screen, "dlq-topics")), "the dead-letter topic")
            row = next(r for r in rows(screen, "dlq-topics") if r[0] == world.dlq)
            assert row[1] == world.orders and row[2] == "6" and row[3] == "0"
            assert row[5] == "IllegalStateException: Order <n> not found (2)"
            table = screen.query_one("#dlq-topics", DataTable)
            table.focus()
            table.move_cursor(row=[r[0] for r in rows(screen, "dlq-topics")].index(world.dlq))
            await pilot.pause()
            reasons = rows(screen, "dlq-reasons")
            assert reasons[0][:2] == ["2", "IllegalStateException: Order <n> not found"]
            assert reasons[0][2] == "java.lang.IllegalStateException: Order 1 not found"
            assert len(reasons) == 5
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, DlqTopicScreen)
                             and len(rows(app.screen, "dlq-records")) == 6, "the records")


async def test_mark_and_replay_with_confirmation(world):
    async with Services(world.config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = DlqTopicScreen(world.dlq)
            await app.push_screen(screen)
            await wait_until(pilot, lambda: len(rows(screen, "dlq-records")) == 6, "records")
            screen.query_one("#dlq-records", DataTable).focus()
            await pilot.pause()
            shown = text_of(screen, "dlq-detail")
            assert f"origin     {world.orders} partition 0 offset 10 (spring)" in shown
            assert "error      java.lang.IllegalStateException: Order 1 not found" in shown
            assert "group      orders-service" in shown
            await pilot.press("space", "space")  # marks 0:0 and 0:1
            assert [r[0] for r in rows(screen, "dlq-records")][:3] == ["✓", "✓", ""]
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmReplayScreen),
                             "the confirmation")
            summary = str(app.screen.query_one("#confirm-summary", Static).render())
            assert f"Replay 2 of the 2 records marked of {world.dlq}" in summary
            assert f"2 to {world.orders}" in summary
            # the dialog opens on Cancel: an Enter alone cancels
            # the dialog is pushed before its focus is set: wait for focus, then check it
            await wait_until(pilot, lambda: app.screen.focused is not None, "focus in the dialog")
            assert app.screen.focused is not None and app.screen.focused.id == "confirm-no"
            await pilot.press("enter")
            await wait_until(pilot, lambda: "cancelled" in text_of(screen, "dlq-result"),
                             "cancelled by Enter")
            assert await read(services, world.orders) == []
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmReplayScreen),
                             "the confirmation again")
            await pilot.press("n")  # cancel: nothing happens
            await wait_until(pilot, lambda: "cancelled" in text_of(screen, "dlq-result"),
                             "cancelled")
            assert await read(services, world.orders) == []

            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmReplayScreen),
                             "the confirmation again")
            await pilot.press("y")
            await wait_until(pilot, lambda: "replayed 2 records" in text_of(
                screen, "dlq-result"), "the replay result")
            assert "(s)" not in screen_text(app)
            await wait_until(pilot, lambda: [r[4] for r in rows(screen, "dlq-records")][:3]
                             == ["yes", "yes", ""], "replayed marks")
            assert sorted(m.key for m in await read(services, world.orders)) == [b"o-1", b"o-2"]
            (rec,) = await (await services.audit()).records()
            assert rec.face == "console" and rec.action == "dlq.replay" and rec.result == "ok"


async def test_filter_then_replay_all_shown_and_bad_filter(world):
    async with Services(world.config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = DlqTopicScreen(world.dlq)
            await app.push_screen(screen)
            await wait_until(pilot, lambda: len(rows(screen, "dlq-records")) == 6, "records")
            await pilot.press("slash")
            box = screen.query_one("#dlq-filter", Input)
            box.value = "status =="
            await pilot.press("enter")
            await wait_until(pilot, lambda: "bad filter" in text_of(screen, "status"),
                             "the filter error")
            assert len(rows(screen, "dlq-records")) == 6
            box.value = 'status == "late"'
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(rows(screen, "dlq-records")) == 1, "1 record")
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmReplayScreen),
                             "the confirmation")
            assert 'Replay 1 of the 1 record shown (matching status == "late")' in str(
                app.screen.query_one("#confirm-summary", Static).render())
            await pilot.click("#confirm-yes")
            await wait_until(pilot, lambda: "replayed 1 record:" in text_of(
                screen, "dlq-result"), "the replay result")
            assert "(s)" not in screen_text(app)
    async with Services(world.config) as s:
        assert [m.key for m in await read(s, world.orders)] == [b"o-3"]


async def test_detail_pane_shows_the_highlighted_record_from_the_start(world):
    """Opened, the first record is highlighted and its detail shown (no move needed); a
    filter that puts another record under the cursor shows that one, not the old one."""
    def detail_names(screen: Any) -> str:
        p, o = rows(screen, "dlq-records")[screen.query_one("#dlq-records", DataTable)
                                           .cursor_row][1].split(":")
        return f"{world.dlq}  partition {p}  offset {o}"

    async with Services(world.config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            # as a person gets there: the list of dead-letter topics, Enter on this one
            topics = DlqScreen()
            await app.push_screen(topics)
            await wait_until(pilot, lambda: any(r[0] == world.dlq for r in rows(
                topics, "dlq-topics")), "the dead-letter topic")
            table = topics.query_one("#dlq-topics", DataTable)
            table.focus()
            table.move_cursor(row=[r[0] for r in rows(topics, "dlq-topics")].index(world.dlq))
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, DlqTopicScreen)
                             and len(rows(app.screen, "dlq-records")) == 6, "the records")
            screen = app.screen
            await wait_until(pilot, lambda: detail_names(screen) in text_of(
                screen, "dlq-detail"), "the first record's detail")
            assert detail_names(screen).endswith("partition 0  offset 0")
            await pilot.press("slash")
            screen.query_one("#dlq-filter", Input).value = 'status == "late"'
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(rows(screen, "dlq-records")) == 1, "1 record")
            assert not detail_names(screen).endswith("partition 0  offset 0")
            await wait_until(pilot, lambda: detail_names(screen) in text_of(
                screen, "dlq-detail"), "the filtered record's detail")


async def test_read_only_cluster_refuses_on_screen(world):
    data = copy.deepcopy(world.data)
    data["clusters"]["primary"]["read_only"] = True
    async with Services(parse_config(data)) as services:
        before = await ends(services, world.orders, world.customers)
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = DlqTopicScreen(world.dlq)
            await app.push_screen(screen)
            await wait_until(pilot, lambda: len(rows(screen, "dlq-records")) == 6, "records")
            await pilot.press("R")
            await wait_until(pilot, lambda: "read-only" in text_of(screen, "dlq-result"),
                             "the refusal")
            assert not isinstance(app.screen, ConfirmReplayScreen)
        assert await ends(services, world.orders, world.customers) == before


async def test_audit_screen_lists_and_verifies(world, bootstrap):
    async with Services(world.config) as services:
        from kafkaops.core.dlq.service import DeadLetterService

        await DeadLetterService(services).replay(world.dlq, actor="ann@host", face="slack",
                                                 positions=[(0, 0)])
        await DeadLetterService(services).replay(world.dlq, actor="bob@host", face="cli",
                                                 positions=[(0, 1)])
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = AuditScreen()
            await app.push_screen(screen)
            await wait_until(pilot, lambda: len(rows(screen, "audit-records")) == 2, "2 rows")
            newest, oldest = rows(screen, "audit-records")
            # a count says its noun right: "newest 2 records", never "record(s)"
            assert "newest 2 records ·" in text_of(screen, "audit-summary")
            assert "(s)" not in screen_text(app)
            # the outcome's offset: each change is an intent record, then its outcome
            assert newest[1:7] == ["bob@host", "cli", "dlq.replay", world.dlq, "ok", "3"]
            assert oldest[1:3] == ["ann@host", "slack"]
            screen.query_one("#audit-records", DataTable).focus()
            await pilot.pause()
            assert '"replayed": 1' in text_of(screen, "audit-detail")
            await pilot.press("v")
            await wait_until(pilot, lambda: "trail verified" in text_of(screen, "audit-verify"),
                             "verification")
            # a forged record produced by hand: verify names it
            await produce(bootstrap, world.audit_topic, [b'{"forged": true}'], partition=0)
            await pilot.press("v")
            await wait_until(pilot, lambda: "FAILED" in text_of(screen, "audit-verify"),
                             "failed verification")
            assert "partition 0 offset 4: malformed" in text_of(screen, "audit-verify")
            assert screen_text(app)
