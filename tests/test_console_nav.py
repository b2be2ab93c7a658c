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
