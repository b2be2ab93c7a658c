"""Every capability's screen is reachable from the app with its key, and `m` on a topic
tails its messages: the wiring of NAV, driven with Pilot against the embedded broker."""

from __future__ import annotations

import json
import re

import pytest

from kafkaops.console.app import NAV, KafkaOpsApp
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .conftest import produce, unique
from .test_console_shell import SIZE, row_for, screen_text, wait_until

# what each screen shows once it has loaded, whatever the broker holds (column headers
# are matched with any spacing: widths follow the data)
LOADED = {
    "Lag": r"Group\s+State\s+Members",
    "Flags": r"Flag\s+State\s+Rollout",
    "Dead letters": r"Dead-letter topic\s+Origin",
    "DR": r"DR",
    "Audit": r"Audit",
}


@pytest.mark.parametrize("title", sorted(LOADED))
async def test_nav_key_opens_the_screen(services: Services, title: str) -> None:
    entry = next(e for e in NAV if e.title == title)
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "connected" in screen_text(app), "the topic list")
        await pilot.press(entry.key)
        await wait_until(pilot, lambda: type(app.screen).__name__ in entry.target,
                         f"{title} screen")
        await wait_until(pilot, lambda: re.search(LOADED[title], screen_text(app)),
                         f"{title} content")
        assert "Traceback" not in screen_text(app)


async def test_m_on_a_topic_tails_its_messages(services: Services, bootstrap: str) -> None:
    topic = unique("navmsg")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    await produce(bootstrap, topic, [json.dumps({"order": i, "status": "paid"}).encode()
                                     for i in range(5)])
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: row_for(app, "topics", topic), "the topic in the list")
        await pilot.press("slash", *topic, "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TopicsScreen"
                         and app.screen.query_one("#topics").row_count == 1, "search narrowed")
        await pilot.press("m")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MessagesScreen",
                         "the messages screen")
        await wait_until(pilot, lambda: '"order": 4' in screen_text(app)
                         or '"order":4' in screen_text(app), "the last record on screen")


# ---------------------------------------------------------------- trust: keys go where they say


async def test_a_screen_key_opens_its_list_not_the_detail_left_open(
    services: Services, bootstrap: str,
) -> None:
    from kafkaops.console.lag import GroupLagScreen, LagScreen
    from kafkaops.console.messages import MessagesScreen
    from kafkaops.console.topics import TopicsScreen

    from .lag_support import stopped_group

    topic = unique("navback")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    await produce(bootstrap, topic, [b"x"] * 3)
    group = await stopped_group(bootstrap, topic, {0: 1})
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: row_for(app, "topics", topic), "the topic in the list")
        await pilot.press("slash", *topic, "enter", "m")
        await wait_until(pilot, lambda: isinstance(app.screen, MessagesScreen), "the tail")
        await pilot.press("D")
        await wait_until(pilot, lambda: app.current_mode == "dr", "the DR screen")
        await pilot.press("t")  # the topic list, not the tail left open there
        await wait_until(pilot, lambda: isinstance(app.screen, TopicsScreen), "the topic list")
        assert len(app.screen_stack) == 1

        app.open_group(group)
        await wait_until(pilot, lambda: isinstance(app.screen, GroupLagScreen), "the group")
        await pilot.press("c", "l")
        await wait_until(pilot, lambda: isinstance(app.screen, LagScreen), "the lag list")
        assert len(app.screen_stack) == 1


async def test_palette_opens_a_topic_and_a_group_by_name(
    services: Services, bootstrap: str,
) -> None:
    from kafkaops.console.lag import GroupLagScreen
    from kafkaops.console.topic_detail import TopicDetailScreen

    from .lag_support import stopped_group

    topic = unique("palette") + ".events"
    await (await services.topics()).create_topics([NewTopicSpec(topic, 2),
                                                   NewTopicSpec(topic + ".dlq", 1)])
    group = await stopped_group(bootstrap, topic, {0: 0})
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "connected" in screen_text(app), "the topic list")
        await pilot.press("ctrl+p")
        await pilot.press(*topic)
        await wait_until(pilot, lambda: f"Topic {topic}" in screen_text(app), "the topic hit")
        assert "No matches" not in screen_text(app)
        await pilot.press("enter")  # the exact name is the first hit
        await wait_until(pilot, lambda: isinstance(app.screen, TopicDetailScreen)
                         and f"Topics › {topic}" in screen_text(app).splitlines()[0]
                         and "2 partitions" in screen_text(app), "the topic's detail")
        assert app.current_mode == "topics"

        await pilot.press("ctrl+p")
        await pilot.press(*group)
        await wait_until(pilot, lambda: f"Group {group}" in screen_text(app), "the group hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupLagScreen)
                         and app.screen.group == group, "the group's partitions")
        assert app.current_mode == "lag"


@pytest.mark.parametrize("start", ["dr", "topics", "lag"])
async def test_footer_at_100x30_keeps_the_screen_keys_help_and_quit(
    services: Services, start: str,
) -> None:
    app = KafkaOpsApp(services, start=start)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "palette" in screen_text(app), "the footer")
        footer = [line for line in screen_text(app).splitlines() if line.strip()][-1]
        keys = footer.split()
        for key in ("D", "a", "!", "?", "q", "c", "t", "l"):
            assert key in keys, footer
        assert "Help" in footer and "Quit" in footer and "screens" in footer


async def test_a_click_on_a_footer_key_presses_it(services: Services) -> None:
    """The footer is one line of text (console/base.py KeyFooter): a click on a key's cells
    does what the key does, and the mouse over a key shows its tooltip."""
    from kafkaops.console.base import KeyFooter

    app = KafkaOpsApp(services)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "palette" in screen_text(app), "the footer")
        footer = [line for line in screen_text(app).splitlines() if line.strip()][-1]
        lag = footer.index(" l ") + 1  # the screen keys: " c t l ..."
        await pilot.hover(KeyFooter, offset=(lag, 0))
        assert "Lag" in str(app.screen.query_one(KeyFooter).tooltip)
        await pilot.click(KeyFooter, offset=(lag, 0))
        await wait_until(pilot, lambda: app.current_mode == "lag", "the lag screen")
        footer = [line for line in screen_text(app).splitlines() if line.strip()][-1]
        await pilot.click(KeyFooter, offset=(footer.index("Help"), 0))
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help")


async def test_o_on_the_lag_list_plans_an_offset_reset(
    services: Services, bootstrap: str,
) -> None:
    from kafkaops.console.lag import LagScreen
    from kafkaops.console.offsets import OffsetResetScreen

    from .lag_support import stopped_group

    topic = unique("oreset")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    await produce(bootstrap, topic, [b"x"] * 5)
    group = await stopped_group(bootstrap, topic, {0: 2})
    app = KafkaOpsApp(services, start="lag")
    async with app.run_test(size=SIZE) as pilot:
        def highlighted() -> str | None:
            s = app.screen
            return s.highlighted_group() if isinstance(s, LagScreen) else None

        await wait_until(pilot, lambda: isinstance(app.screen, LagScreen)
                         and app.screen.snapshot is not None
                         and app.screen.snapshot.group(group) is not None, "the group listed")
        table = app.screen.query_one("#lag-groups")
        order = [str(table.coordinate_to_cell_key(table.cursor_coordinate.__class__(i, 0))
                     .row_key.value) for i in range(table.row_count)]
        table.move_cursor(row=order.index(group))
        await wait_until(pilot, lambda: highlighted() == group, "the group highlighted")
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OffsetResetScreen),
                         "the offset reset dialog")
        assert group in screen_text(app) and topic in screen_text(app)
