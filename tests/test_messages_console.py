"""The tail screen with Pilot against the embedded broker: live rows, pause/resume, jump,
filter (and a bad one), the detail pane in JSON / text / hex, binary and 1 MB values."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.messages import MessagesScreen, parse_jump, render_detail
from kafkaops.core.errors import UsageError
from kafkaops.core.messages.display import decode_value
from kafkaops.core.messages.model import Message, StartAt
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .conftest import unique
from .test_messages import BIG, produce_records

SIZE = (180, 50)
WAIT = 20.0


def screen_text(app: Any) -> str:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


async def wait_until(pilot: Pilot[Any], cond: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}; the screen shows:\n{screen_text(pilot.app)}")


def offsets(screen: MessagesScreen) -> list[int]:
    table: DataTable[Any] = screen.query_one("#messages", DataTable)
    return [int(str(table.get_row_at(i)[1]).replace(",", "")) for i in range(table.row_count)]


def detail(screen: MessagesScreen) -> str:
    return str(screen.query_one("#detail", Static).render())


def info(screen: MessagesScreen) -> str:
    return str(screen.query_one("#tail-info", Static).render())


def status(screen: MessagesScreen) -> str:
    return str(screen.query_one("#status", Static).render())


RECORDS = [
    (b"k0", b'{"status": "failed", "n": 0}', [("trace-id", b"t0")]),
    (b"k1", "plain text ünïcode".encode(), []),
    (b"\xff\x01", b"\xff\xfe\x00binary", [("bin", b"\xff\x00")]),
    (b"k3", b"", []),
    (b"k4", BIG, []),
    (b"k5", b'{"status": "ok", "n": 5}', []),
]


@pytest.fixture
async def topic(services: Services, bootstrap: str) -> str:
    name = unique("tailui")
    await (await services.topics()).create_topics([NewTopicSpec(name, 1)])
    await produce_records(bootstrap, name, RECORDS, base_ts=int(time.time() * 1000) - 60_000)
    return name


async def test_tail_screen_shows_records_detail_views_and_pauses(services, topic, bootstrap):
    app = KafkaOpsApp(services)
    screen = MessagesScreen(topic, start=StartAt.beginning())
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(screen)
        await wait_until(pilot, lambda: offsets(screen) == [5, 4, 3, 2, 1, 0], "six rows")
        # rows are in the table before they are drawn: wait for the screen to show them
        await wait_until(pilot, lambda: "plain text ünïcode" in screen_text(app)
                         and "not text" in screen_text(app), "the rows drawn")
        assert "live, newest first" in info(screen) and "read 6" in info(screen)
        # the newest record is selected and shown; go down to the oldest, the JSON one
        assert screen.query_one("#messages", DataTable).has_focus
        assert "offset 5" in detail(screen)
        for _ in range(5):
            await pilot.press("down")
        await wait_until(pilot, lambda: "offset 0" in detail(screen), "detail of offset 0")
        assert "paused, 0 new (End: newest)" in info(screen)
        d = detail(screen)
        assert '"status": "failed"' in d and "value (JSON" in d and "trace-id: t0" in d
        await pilot.press("v")  # text view: the raw JSON text
        assert '{"status": "failed", "n": 0}' in detail(screen)
        await pilot.press("v")  # hex view
        assert "00000000  7b 22 73 74" in detail(screen)
        await pilot.press("v")  # back to auto
        await pilot.press("up", "up")  # the binary record
        d = detail(screen)
        assert "binary, shown as hex" in d and "ff fe 00 62" in d and "bin: (2 bytes) ff 00" in d
        await pilot.press("up")  # empty value
        assert "value (empty, 0 bytes)" in detail(screen)
        await pilot.press("up")  # 1 MB
        assert f"{len(BIG):,} bytes, shown in part" in detail(screen)
        await pilot.press("end")  # back to the newest, following
        await wait_until(pilot, lambda: "live, newest first" in info(screen)
                         and "offset 5" in detail(screen), "the newest again")

        await pilot.press("space")
        assert "[paused]" in info(screen)
        await produce_records(bootstrap, topic, [(b"k6", b"while paused", [])],
                              base_ts=int(time.time() * 1000))
        await pilot.pause(0.5)
        assert offsets(screen) == [5, 4, 3, 2, 1, 0]  # nothing moves while paused
        await pilot.press("space")
        assert "live" in info(screen)
        await wait_until(pilot, lambda: offsets(screen)[:1] == [6], "the record sent while paused")
        assert "offset 6" in detail(screen)


def rows_pt(screen: MessagesScreen) -> list[tuple[int, int, str]]:
    """(partition, offset, time) of every row, top to bottom."""
    table: DataTable[Any] = screen.query_one("#messages", DataTable)
    out = []
    for i in range(table.row_count):
        p, o, t = table.get_row_at(i)[:3]
        out.append((int(str(p)), int(str(o).replace(",", "")), str(t)))
    return out


async def test_live_tail_merges_partitions_newest_first_and_stays_on_the_newest(
    services, bootstrap,
):
    """Records land partition by partition (p0's, then p1's, then p2's) but were written
    interleaved in time: the tail shows them by time, the newest on the first row, and keeps
    the newest there as more arrive, unless the user scrolls away."""
    name = unique("merge")
    await (await services.topics()).create_topics([NewTopicSpec(name, 3)])
    base = int(time.time() * 1000) - 60_000
    for p in range(3):  # timestamps base + p, base + 3 + p, base + 6 + p seconds
        await produce_records(bootstrap, name, [(b"k", f"p{p}-{i}".encode(), [])
                                                for i in range(3)],
                              partition=p, base_ts=base + p * 1000, step_ms=3000)
    app = KafkaOpsApp(services)
    screen = MessagesScreen(name, start=StartAt.beginning())
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(screen)
        await wait_until(pilot, lambda: len(rows_pt(screen)) == 9, "nine rows")
        got = rows_pt(screen)
        assert [(p, o) for p, o, _ in got] == [
            (2, 2), (1, 2), (0, 2), (2, 1), (1, 1), (0, 1), (2, 0), (1, 0), (0, 0)]
        times = [t for _, _, t in got]
        assert times == sorted(times, reverse=True)  # newest first, never backwards
        assert "partition 2  offset 2" in detail(screen)

        # a newer record arrives: it is the first row, highlighted and in the detail pane
        await produce_records(bootstrap, name, [(b"k", b"newest", [])], partition=0,
                              base_ts=int(time.time() * 1000))
        await wait_until(pilot, lambda: rows_pt(screen)[0][:2] == (0, 3), "the newest first")
        assert "partition 0  offset 3" in detail(screen)

        # scrolling away pauses the view; what arrives meanwhile is counted, not shown
        await pilot.press("down")
        await wait_until(pilot, lambda: "paused, 0 new" in info(screen), "paused")
        assert "partition 2  offset 2" in detail(screen)  # the highlighted row's record
        await produce_records(bootstrap, name, [(b"k", b"n1", []), (b"k", b"n2", [])],
                              partition=1, base_ts=int(time.time() * 1000))
        await wait_until(pilot, lambda: "paused, 2 new" in info(screen), "2 new")
        assert rows_pt(screen)[0][:2] == (0, 3)
        table: DataTable[Any] = screen.query_one("#messages", DataTable)
        assert table.cursor_row == 1 and "partition 2  offset 2" in detail(screen)

        # End: back to the newest, following again
        await pilot.press("end")
        await wait_until(pilot, lambda: rows_pt(screen)[0][:2] == (1, 4), "the newest again")
        assert table.cursor_row == 0 and "partition 1  offset 4" in detail(screen)
        assert "live, newest first" in info(screen)
        times = [t for _, _, t in rows_pt(screen)]
        assert times == sorted(times, reverse=True)


async def test_tail_screen_filter_and_jump(services, topic):
    app = KafkaOpsApp(services)
    screen = MessagesScreen(topic, start=StartAt.beginning())
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(screen)
        await wait_until(pilot, lambda: len(offsets(screen)) == 6, "six rows")
        await pilot.press("slash")
        box = screen.query_one("#tail-filter", Input)
        assert box.has_focus
        box.value = 'status == "ok" or'
        await pilot.press("enter")
        await wait_until(pilot, lambda: "bad filter" in status(screen), "the filter error")
        assert "expected a field name or a value" in status(screen)
        assert len(offsets(screen)) == 6  # a bad filter changes nothing
        box.value = 'status == "ok"'
        await pilot.press("enter")
        await wait_until(pilot, lambda: offsets(screen) == [5], "only the ok record")
        assert 'where status == "ok"' in info(screen)

        await pilot.press("slash")
        box.value = ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(offsets(screen)) == 6, "filter cleared")

        await pilot.press("g")
        jump = screen.query_one("#tail-jump", Input)
        jump.value = "4"
        await pilot.press("enter")
        await wait_until(pilot, lambda: offsets(screen) == [5, 4], "jumped to offset 4")
        assert "from offset 4" in info(screen)
        await pilot.press("g")
        jump.value = "-1"
        await pilot.press("enter")
        await wait_until(pilot, lambda: offsets(screen) == [5], "jumped to the last one")
        await pilot.press("g")
        jump.value = "next thursday"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "cannot read time" in status(screen), "jump error")
        assert offsets(screen) == [5]


@pytest.mark.parametrize(("text", "expected"), [
    ("end", StartAt.end()), ("beginning", StartAt.beginning()), ("42", StartAt.at_offset(42)),
    ("-10", StartAt.at_offset(-10)), ("0", StartAt.at_offset(0)),
    ("1795615200000", StartAt.at_time(1_795_615_200_000)),
])
def test_parse_jump(text, expected):
    assert parse_jump(text) == expected


def test_parse_jump_rejects():
    with pytest.raises(UsageError):
        parse_jump("soon")


@pytest.mark.parametrize(("raw", "kind", "shown"), [
    (b'{"a": [1, 2]}', "json", '{\n  "a": [\n    1,\n    2\n  ]\n}'),
    (b"hello", "text", "hello"),
    (b"42", "json", "42"),
    (b"\xff\x00", "binary", "00000000  ff 00"),
    (b"\xc3\x28", "binary", "00000000  c3 28"),
    (b"", "empty", "(empty)"),
    (None, "null", "(null)"),
    (b"{not json", "text", "{not json"),
])
def test_decode_value(raw, kind, shown):
    d = decode_value(raw)
    assert d.kind == kind
    assert d.text.startswith(shown)


def test_decode_large_values_are_cut_for_display():
    d = decode_value(b"x" * 1_000_000, limit=1000)
    assert d.kind == "text" and len(d.text) == 1000 and d.truncated and d.size == 1_000_000
    d = decode_value(bytes(range(256)) * 10, limit=64)
    assert d.kind == "binary" and d.truncated and "more bytes not shown" in d.text


def test_render_detail_of_a_tombstone_with_binary_key():
    m = Message("t", 1, 9, 1_700_000_000_000, b"\x00\xff", None, ())
    text = str(render_detail(m, "auto"))
    assert "partition 1  offset 9" in text and "(2 bytes, not text) 00 ff" in text
    assert "null (tombstone)" in text and "headers    (none)" in text
