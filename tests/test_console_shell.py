"""The console shell, driven with Pilot against the embedded broker: header and connection
state, topic list (search, sorting, internal topics), topic detail, cluster overview, help,
command palette, and an unreachable or lost cluster.

Assertions read what the user sees: the rendered screen (`screen_text`) and the cells of
the tables. Nothing is timed: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable

from kafkaops.console import app as console_app
from kafkaops.console.app import NAV, ConnectionState, KafkaOpsApp, NavEntry
from kafkaops.console.base import BrokenScreen, backoff
from kafkaops.console.format import duration_ms, matches
from kafkaops.console.topic_detail import config_rows
from kafkaops.console.topics import sort_topics, visible_topics
from kafkaops.core.config import Config, adhoc_config, parse_config
from kafkaops.core.records import NOT_REPORTED, ConfigEntry, TopicSummary
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec
from kafkaops.demo.embedded import EmbeddedClusters, free_port

from .conftest import KAFKAOPS, cli_env, produce, unique
from .lag_support import stopped_group

SIZE = (170, 50)
WAIT = 20.0  # seconds a condition may take before the test fails, screen dumped


# ---------------------------------------------------------------- reading the screen


def screen_text(app: KafkaOpsApp) -> str:
    """The terminal as the user sees it, as plain text (what export_screenshot draws)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def rows(app: KafkaOpsApp, table_id: str) -> list[list[str]]:
    """Every row of a table on the current screen, cells as plain text."""
    table = app.screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def names(app: KafkaOpsApp) -> list[str]:
    """Topic names in the topic list, top to bottom."""
    return [r[0] for r in rows(app, "topics")]


def row_for(app: KafkaOpsApp, table_id: str, first: str) -> list[str] | None:
    return next((r for r in rows(app, table_id) if r[0] == first), None)


async def wait_until(pilot: Pilot[Any], cond: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    pytest.fail(f"timed out waiting for {what}; the screen shows:\n{screen_text(pilot.app)}")


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*text)


# ---------------------------------------------------------------- data on the broker


@dataclass(frozen=True)
class Shop:
    prefix: str
    """Common prefix of this module's topics, to search for."""
    orders: str
    """3 partitions, retention 7d, delete, lz4; 30 records in partition 0 (3 batches)."""
    audit: str
    """1 partition, compact, retention infinite."""
    logs: str
    """5 partitions, created without configs: the broker reports none."""
    internal: str
    """Leading underscore: internal, hidden by default."""
    decoy: str
    """A topic the search for `prefix` must leave out."""


@pytest.fixture(scope="module")
async def shop(config: Config, bootstrap: str) -> Shop:
    prefix = unique("shell")
    shop = Shop(prefix, f"{prefix}-orders", f"{prefix}-audit", f"{prefix}-logs",
                f"_{prefix}-state", unique("decoy"))
    async with Services(config) as services:
        await (await services.topics()).create_topics([
            NewTopicSpec(shop.orders, 3, configs={
                "retention.ms": "604800000", "cleanup.policy": "delete",
                "compression.type": "lz4"}),
            NewTopicSpec(shop.audit, 1, configs={
                "retention.ms": "-1", "cleanup.policy": "compact"}),
            NewTopicSpec(shop.logs, 5),
            NewTopicSpec(shop.internal, 1),
            NewTopicSpec(shop.decoy, 1),
        ], exist_ok=False)
    # three producers, so three multi-record batches: the ListOffsets gap on Tansu answers
    # 21 here; the console must show the true end offset, 30
    for batch in range(3):
        await produce(bootstrap, shop.orders, [f"order-{batch}-{i}".encode() for i in range(10)],
                      partition=0, linger_ms=20)
    return shop


@contextlib.asynccontextmanager
async def console(config: Config, **kwargs: Any) -> AsyncIterator[tuple[KafkaOpsApp, Pilot[Any]]]:
    async with Services(config) as services:
        app = KafkaOpsApp(services, **kwargs)
        async with app.run_test(size=SIZE) as pilot:
            yield app, pilot


async def search(pilot: Pilot[Any], text: str) -> None:
    await pilot.press("slash")
    await type_text(pilot, text)


# ---------------------------------------------------------------- topic list


async def test_topic_list_shows_partitions_configs_and_true_end_offsets(
    config: Config, shop: Shop
) -> None:
    async with console(config, banner="demo: primary and dr are up") as (app, pilot):
        await wait_until(pilot, lambda: row_for(app, "topics", shop.orders), "the orders row")
        # name, partitions, RF, retention, cleanup, compression, end offsets, messages, health
        assert row_for(app, "topics", shop.orders) == [
            shop.orders, "3", "1", "7d", "delete", "lz4", "30", "30", "ok"]
        assert row_for(app, "topics", shop.audit) == [
            shop.audit, "1", "1", "infinite", "compact", "-", "0", "0", "ok"]
        assert row_for(app, "topics", shop.logs) == [
            shop.logs, "5", "1", "-", "-", "-", "0", "0", "ok"]
        assert row_for(app, "topics", shop.internal) is None  # internal: hidden by default

        # the session's broker holds every test's topics: narrow to ours so they are on screen
        await pilot.press("slash", *shop.prefix, "enter")
        await wait_until(pilot, lambda: len(rows(app, "topics")) == 3, "the shop's topics")
        text = screen_text(app)
        assert shop.orders in text and shop.logs in text
        assert "demo: primary and dr are up" in text
        header = text.splitlines()[0]
        assert "primary" in header and "connected" in header and "Topics" in header
        assert "internal hidden (i shows)" in text
        assert "updated " in text

        await pilot.press("i")
        await wait_until(pilot, lambda: row_for(app, "topics", shop.internal), "internal shown")
        await pilot.press("i")
        assert row_for(app, "topics", shop.internal) is None


async def test_incremental_search_narrows_as_you_type(config: Config, shop: Shop) -> None:
    async with console(config) as (app, pilot):
        await wait_until(pilot, lambda: row_for(app, "topics", shop.orders), "the topic list")
        assert row_for(app, "topics", shop.decoy) is not None

        ours = sorted([shop.audit, shop.logs, shop.orders])
        await search(pilot, shop.prefix)
        await wait_until(pilot, lambda: sorted(names(app)) == ours, "only this module's topics")
        await type_text(pilot, "-o")
        await wait_until(pilot, lambda: names(app) == [shop.orders], "only the orders topic")
        assert f'search "{shop.prefix}-o"' in screen_text(app)

        await type_text(pilot, "zzz")
        await wait_until(pilot, lambda: names(app) == [], "no rows")
        assert "no topic matches" in screen_text(app)

        await pilot.press("escape")  # clears the search
        await wait_until(pilot, lambda: shop.decoy in names(app), "every topic again")
        assert "search" not in screen_text(app).split("sorted by")[0]


async def test_sorting_by_key_and_by_clicking_a_header(config: Config, shop: Shop) -> None:
    async with console(config) as (app, pilot):
        await wait_until(pilot, lambda: row_for(app, "topics", shop.orders), "the topic list")
        await search(pilot, shop.prefix)
        await pilot.press("enter")  # keep the search, back to the table
        await wait_until(pilot, lambda: names(app) == [shop.audit, shop.logs, shop.orders],
                         "this module's topics by name")

        await pilot.press("s")  # next column: partitions, largest first
        assert names(app) == [shop.logs, shop.orders, shop.audit]
        assert "Partitions ▼" in screen_text(app)
        await pilot.press("S")  # reversed
        assert names(app) == [shop.audit, shop.orders, shop.logs]
        assert "Partitions ▲" in screen_text(app)

        # click the "End offsets" header: largest first
        table = app.screen.query_one("#topics", DataTable)
        x = 0
        for key, column in table.columns.items():
            if key.value == "end":
                break
            x += column.get_render_width(table)
        assert await pilot.click("#topics", offset=(x + 2, 0))
        assert names(app)[0] == shop.orders
        assert "End offsets ▼" in screen_text(app)
        assert await pilot.click("#topics", offset=(x + 2, 0))  # again: reversed
        assert names(app)[-1] == shop.orders
        assert "End offsets ▲" in screen_text(app)


# ---------------------------------------------------------------- topic detail


async def test_enter_opens_detail_with_partitions_offsets_and_configs(
    config: Config, shop: Shop
) -> None:
    async with console(config) as (app, pilot):
        await wait_until(pilot, lambda: row_for(app, "topics", shop.orders), "the topic list")
        await search(pilot, f"{shop.prefix}-orders")
        await pilot.press("enter", "enter")  # leave the search, open the highlighted topic
        await wait_until(pilot, lambda: app.screen.query("#partitions")
                         and len(rows(app, "partitions")) == 3, "three partition rows")

        #   partition leader replicas isr  earliest latest messages
        assert rows(app, "partitions") == [
            ["0", "111", "111", "111", "0", "30", "30"],
            ["1", "111", "111", "111", "0", "0", "0"],
            ["2", "111", "111", "111", "0", "0", "0"],
        ]
        # (the Source column shows what the broker says; Tansu calls these "default")
        assert [r[:2] for r in rows(app, "configs")] == [
            ["cleanup.policy", "delete"],
            ["compression.type", "lz4"],
            ["retention.ms", "604800000 (7d)"],
        ]
        text = screen_text(app)
        assert f"Topics › {shop.orders}" in text.splitlines()[0]
        assert "3 partitions" in text and "30 messages" in text
        assert f"Configs not listed: {NOT_REPORTED}" in text

        await pilot.press("escape")  # back to the list, search kept
        await wait_until(pilot, lambda: app.screen.query("#topics"), "the topic list again")
        assert names(app) == [shop.orders]


async def test_detail_of_a_topic_without_configs_says_not_reported(
    config: Config, shop: Shop
) -> None:
    async with console(config) as (app, pilot):
        await wait_until(pilot, lambda: row_for(app, "topics", shop.logs), "the topic list")
        await search(pilot, shop.logs)
        await pilot.press("enter", "enter")
        await wait_until(pilot, lambda: app.screen.query("#configs")
                         and len(rows(app, "partitions")) == 5, "five partition rows")
        assert rows(app, "configs") == [
            ["retention.ms", NOT_REPORTED, "-"],
            ["cleanup.policy", NOT_REPORTED, "-"],
            ["compression.type", NOT_REPORTED, "-"],
        ]
        assert [r[0] for r in rows(app, "partitions")] == ["0", "1", "2", "3", "4"]


# ---------------------------------------------------------------- overview, help, palette


async def test_cluster_overview_shows_brokers_and_counts(config: Config, shop: Shop) -> None:
    async with console(config) as (app, pilot):
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.query("#brokers")
                         and rows(app, "brokers"), "the broker table")
        assert rows(app, "brokers") == [["111", "127.0.0.1", config.clusters["primary"]
                                         .bootstrap_servers.rsplit(":", 1)[1], "-", "controller"]]
        # the table and the facts are filled together; the screen is redrawn after
        await wait_until(pilot, lambda: "Controller    111" in screen_text(app), "the facts")
        text = screen_text(app)
        assert "Cluster" in text.splitlines()[0] and "connected" in text.splitlines()[0]
        assert "0 offline, 0 under-replicated" in text
        topics_line = next(line for line in text.splitlines() if line.strip().startswith("Topics "))
        assert int(topics_line.split()[1].replace(",", "")) >= 4  # this module's, at least

        await pilot.press("t")  # and back
        await wait_until(pilot, lambda: app.screen.query("#topics"), "the topic list")


async def test_help_screen_lists_screens_and_keys(config: Config) -> None:
    async with console(config) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: "Screens: each key works" in screen_text(app), "help")
        text = screen_text(app)
        for entry in NAV:
            assert entry.title in text
        assert "Search" in text and "Sort" in text and "open the highlighted topic" in text
        assert "Reverse" in text  # S: left out of the footer for room, listed here
        # Textual's own focus and copy keys are not this screen's keys
        assert "Focus Next" not in text and "Copy selected text" not in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: "Screens: each key works" not in screen_text(app),
                         "help closed")
        assert app.is_running


async def test_command_palette_switches_screens(config: Config) -> None:
    async with console(config) as (app, pilot):
        await pilot.press("ctrl+p")
        await type_text(pilot, "Go to Cluster")
        await wait_until(pilot, lambda: "Go to Cluster" in screen_text(app), "the command")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_mode == "overview"
                         and app.screen.query("#brokers"), "the overview")
        assert "Cluster" in screen_text(app).splitlines()[0]


async def test_a_broken_screen_module_shows_an_error_not_a_crash(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = NavEntry("x", "Broken", "kafkaops.console.no_such_module:Nothing", "test")
    monkeypatch.setattr(console_app, "NAV", [*NAV, broken])
    async with console(config) as (app, pilot):
        app.action_goto("no_such_module")
        await wait_until(pilot, lambda: isinstance(app.screen, BrokenScreen)
                         and "could not be opened" in screen_text(app), "the stand-in")
        assert "No module named 'kafkaops.console.no_such_module'" in screen_text(app)
        await pilot.press("t")
        await wait_until(pilot, lambda: app.screen.query("#topics"), "the topic list")


# ---------------------------------------------------------------- bad input


async def test_unknown_start_screen_is_refused_before_the_ui_starts(config: Config) -> None:
    async with Services(config) as services:
        with pytest.raises(KeyError, match="no console screen named 'nope'.*topics"):
            KafkaOpsApp(services, start="nope")


def test_cli_console_with_unknown_screen_exits_2(bootstrap: str) -> None:
    out = subprocess.run(
        [KAFKAOPS, "-b", bootstrap, "console", "--screen", "nope"],
        capture_output=True, text=True, env=cli_env(), timeout=60, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert "no console screen named 'nope'" in out.stderr
    assert "Traceback" not in out.stderr


# ---------------------------------------------------------------- unreachable clusters


async def test_unreachable_cluster_is_shown_and_retried_without_crashing() -> None:
    dead = adhoc_config("127.0.0.1:1")
    async with console(dead) as (app, pilot):
        await wait_until(pilot, lambda: "unreachable" in screen_text(app).splitlines()[0],
                         "unreachable in the header")
        text = screen_text(app)
        assert "cluster unreachable" in text and "127.0.0.1:1" in text
        # the next try's time, or (once that time came) that it is trying again now
        assert "Next try at" in text or "Trying again now" in text
        # it keeps trying: the header counts down again after each attempt
        await wait_until(pilot, lambda: "retrying in" in screen_text(app).splitlines()[0],
                         "a retry countdown")
        # and the console still works: another screen, help, and back
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.query("#brokers")
                         and "cluster unreachable" in screen_text(app), "overview unreachable")
        await pilot.press("question_mark", "escape", "t", "r")
        await wait_until(pilot, lambda: "cluster unreachable" in screen_text(app),
                         "topics unreachable")
        assert app.is_running


async def test_lost_cluster_keeps_the_last_data_and_says_so() -> None:
    clusters = EmbeddedClusters(["lost"])
    await asyncio.to_thread(clusters.start)
    try:
        bootstrap = clusters.bootstrap("lost")
        cfg = adhoc_config(bootstrap)
        topic = unique("lost")
        async with Services(cfg) as services:
            await (await services.topics()).create_topics([NewTopicSpec(topic, 2)])
        async with console(cfg) as (app, pilot):
            await wait_until(pilot, lambda: row_for(app, "topics", topic), "the topic row")
            clusters.brokers["lost"].process.kill()  # the broker dies
            await pilot.press("r")
            await wait_until(pilot, lambda: "unreachable" in screen_text(app).splitlines()[0],
                             "unreachable in the header")
            text = screen_text(app)
            assert "Showing data from" in text
            row = row_for(app, "topics", topic)
            assert row is not None
            # the numbers stay as they were read; the verdict does not stay "ok"
            assert row[:8] == [topic, "2", "1", "-", "-", "-", "0", "0"]
            assert row[8].startswith("UNKNOWN · was ok ") and row[8].endswith(" ago")
            assert app.is_running
    finally:
        clusters.stop()


async def test_frozen_cluster_turns_verdicts_unknown_until_it_answers_again() -> None:
    """A broker that hangs (SIGSTOP) rather than dies: the topic list's health and the lag
    screen's status stop saying ok/OK while it does not answer, and come back once it does."""
    clusters = EmbeddedClusters(["frozen"])
    await asyncio.to_thread(clusters.start)
    broker = clusters.brokers["frozen"].process
    try:
        bootstrap = clusters.bootstrap("frozen")
        # lag status from the first snapshot (no warm-up), as the shared test config has
        cfg = parse_config({"clusters": {"frozen": {"bootstrap_servers": bootstrap}},
                            "lag": {"warmup": "0s", "hold": "0s"},
                            "policies": [{"name": "deletes", "match": {"topic": "frozen-*"},
                                          "require": {"cleanup_policy": "delete"}}]},
                           "<frozen>")
        topic = unique("frozen")
        async with Services(cfg) as services:
            await (await services.topics()).create_topics(
                [NewTopicSpec(topic, 1, configs={"cleanup.policy": "delete"})])
        await produce(bootstrap, topic, [b"a", b"b", b"c"], partition=0)
        group = await stopped_group(bootstrap, topic, {0: 3})
        async with console(cfg) as (app, pilot):
            await wait_until(pilot, lambda: (row_for(app, "topics", topic) or [""])[-1] == "ok",
                             "the topic row, health ok")
            await pilot.press("l")
            await wait_until(pilot, lambda: app.screen.query("#lag-groups")
                             and (row_for(app, "lag-groups", group) or [""] * 6)[5] == "OK",
                             "the group, status OK")
            await pilot.press("P")
            await wait_until(pilot, lambda: "every topic complies" in screen_text(app),
                             "the compliance verdict")
            await pilot.press("c")
            await wait_until(pilot, lambda: "0 under-replicated" in screen_text(app),
                             "the cluster's partitions")
            await pilot.press("l")
            broker.send_signal(signal.SIGSTOP)
            await pilot.press("r")
            await wait_until(pilot, lambda: "unreachable" in screen_text(app).splitlines()[0],
                             "unreachable in the header")
            await wait_until(pilot, lambda: (row_for(app, "lag-groups", group) or [""] * 6)[5]
                             .startswith("UNKNOWN · was OK "), "the group's status UNKNOWN")
            text = screen_text(app)
            assert "status UNKNOWN: no answer for" in text and "OK all" not in text
            assert "Showing data from" in text
            await pilot.press("t", "r")
            await wait_until(pilot, lambda: (row_for(app, "topics", topic) or [""])[-1]
                             .startswith("UNKNOWN · was ok "), "the topic's health UNKNOWN")
            await pilot.press("P", "r")
            await wait_until(pilot, lambda: "UNKNOWN now: no answer for" in screen_text(app),
                             "compliance UNKNOWN")
            assert "every topic complies" not in screen_text(app)
            await pilot.press("c", "r")
            await wait_until(pilot, lambda: any(
                ln.strip().startswith("Partitions") and "UNKNOWN now: no answer for" in ln
                for ln in screen_text(app).splitlines()), "the partitions' health UNKNOWN")
            broker.send_signal(signal.SIGCONT)
            await pilot.press("t", "r")
            await wait_until(pilot, lambda: (row_for(app, "topics", topic) or [""])[-1] == "ok",
                             "health ok again once the broker answers")
            await pilot.press("l", "r")
            await wait_until(pilot, lambda: (row_for(app, "lag-groups", group) or [""] * 6)[5]
                             == "OK", "status OK again")
            assert "status UNKNOWN" not in screen_text(app)
    finally:
        broker.send_signal(signal.SIGCONT)
        clusters.stop()


async def test_console_connects_once_the_cluster_comes_up(config: Config, bootstrap: str) -> None:
    """Nothing listens at first; then a TCP relay to the broker opens on that port."""
    topic = unique("comes-up")  # a topic of its own: the shared broker may hold no other yet
    async with Services(config) as services:
        await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    port = free_port()
    cfg = adhoc_config(f"127.0.0.1:{port}")
    host, broker_port = bootstrap.rsplit(":", 1)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(broker_port))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async with console(cfg) as (app, pilot):
        await wait_until(pilot, lambda: "unreachable" in screen_text(app).splitlines()[0],
                         "unreachable in the header")
        server = await asyncio.start_server(relay, "127.0.0.1", port)
        try:
            await pilot.press("r")
            await wait_until(pilot, lambda: "connected" in screen_text(app).splitlines()[0],
                             "connected in the header")
            await wait_until(pilot, lambda: row_for(app, "topics", topic), "the topic's row")
            assert "cluster unreachable" not in screen_text(app)
        finally:
            server.close()


# ---------------------------------------------------------------- pure functions


@pytest.mark.parametrize(("failures", "delay"), [
    (0, 0), (1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (20, 30)])
def test_backoff(failures: int, delay: float) -> None:
    assert backoff(failures) == delay


@pytest.mark.parametrize(("value", "shown"), [
    (None, "-"), ("", "-"), ("-1", "infinite"), ("0", "0ms"), ("604800000", "7d"),
    ("129600000", "36h"), ("5400000", "90m"), ("90000", "90s"), ("1500", "1500ms"),
    ("abc", "abc")])
def test_duration_ms(value: str | None, shown: str) -> None:
    assert duration_ms(value) == shown


@pytest.mark.parametrize(("name", "query", "hit"), [
    ("orders.dlq", "", True), ("orders.dlq", "DLQ", True), ("orders.dlq", "ord dlq", True),
    ("orders.dlq", "dlq pay", False), ("payments", "ord", False)])
def test_search_matches(name: str, query: str, hit: bool) -> None:
    assert matches(name, query) is hit


def _t(name: str, end: int | None = None, retention: str | None = None,
       internal: bool = False) -> TopicSummary:
    return TopicSummary(name, 1, 1, internal, end_offsets_total=end, retention_ms=retention)


def test_sorting_puts_unknown_values_last_in_both_directions() -> None:
    topics = [_t("a", 5), _t("b", None), _t("c", 9), _t("d", 5)]
    assert [t.name for t in sort_topics(topics, "end", True)] == ["c", "a", "d", "b"]
    assert [t.name for t in sort_topics(topics, "end", False)] == ["a", "d", "c", "b"]
    spans = [_t("a", retention="-1"), _t("b", retention="1000"), _t("c")]
    assert [t.name for t in sort_topics(spans, "retention", True)] == ["a", "b", "c"]


def test_visible_topics_hides_internal_and_filters() -> None:
    topics = [_t("orders"), _t("_offsets", internal=True), _t("payments")]
    assert [t.name for t in visible_topics(topics)] == ["orders", "payments"]
    assert [t.name for t in visible_topics(topics, show_internal=True)] == [
        "_offsets", "orders", "payments"]
    assert [t.name for t in visible_topics(topics, query="PAY")] == ["payments"]


def test_config_rows_mark_missing_summary_configs_not_reported() -> None:
    got = config_rows((ConfigEntry("retention.ms", "3600000", "topic"),
                       ConfigEntry("sasl.secret", None, "topic")))
    assert got == [
        ("retention.ms", "3600000 (1h)", "topic"),
        ("sasl.secret", "(not shown: sensitive or unset)", "topic"),
        ("cleanup.policy", NOT_REPORTED, "-"),
        ("compression.type", NOT_REPORTED, "-"),
    ]


@pytest.mark.parametrize(("state", "label"), [
    (ConnectionState("connecting"), "connecting"),
    (ConnectionState("connected"), "connected"),
    (ConnectionState("unreachable", "x", retry_at=104.2), "unreachable, retrying in 5s"),
    (ConnectionState("unreachable", "x", retry_at=99.0), "unreachable, retrying now"),
    (ConnectionState("unreachable", "x", retry_at=None), "unreachable, retrying now"),
])
def test_connection_state_label(state: ConnectionState, label: str) -> None:
    assert state.label(now=100.0) == label


def test_nav_entries_are_well_formed() -> None:
    keys = [e.key for e in NAV]
    modes = [e.mode for e in NAV]
    assert len(set(keys)) == len(keys) and len(set(modes)) == len(modes)
    for entry in NAV:
        cls = console_app.load_screen_class(entry.target)
        assert cls.__name__ == entry.target.rsplit(":", 1)[1]
