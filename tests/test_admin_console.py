"""Day-2 admin from the console, driven with Pilot against the embedded broker, reading the
screen: a topic created, reconfigured, grown (the clear error: the broker has no
CreatePartitions) and deleted, each state checked with `topics --json`; a record composed,
sent and read back by `tail --json`; a record copied as JSON and produced again edited; an
empty group deleted and an active one refused; everything in `audit list --json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Input, TextArea

from kafkaops.console.admin import ChangeScreen, TypedNameConfirm
from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.compose import ComposeScreen
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.console.lag import GroupLagScreen
from kafkaops.console.messages import MessagesScreen
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .admin_support import audit_rows, outcome, tail_json, topics_json
from .conftest import produce, unique
from .offsets_support import joined_consumer, make_known_topic, read_committed, stopped_group
from .test_console_shell import SIZE, row_for, screen_text, wait_until


def status(app: KafkaOpsApp, widget: str) -> str:
    return str(app.screen.query_one(widget).render())


async def until(pilot: Pilot[Any], text: str, what: str | None = None) -> None:
    await wait_until(pilot, lambda: text in screen_text(pilot.app), what or repr(text))


async def open_topic(pilot: Pilot[Any], app: KafkaOpsApp, topic: str) -> None:
    await wait_until(pilot, lambda: type(app.screen).__name__ == "TopicsScreen",
                     "the topic list")
    await pilot.press("slash", *topic, "enter")
    await wait_until(pilot, lambda: row_for(app, "topics", topic) is not None, "the topic row")
    await pilot.press("enter")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "TopicDetailScreen",
                     "the topic's detail")


async def confirm_yes(pilot: Pilot[Any], app: KafkaOpsApp) -> None:
    """The confirmation opens on Cancel; go ahead deliberately with its yes button."""
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
    # the dialog is pushed before its focus is set: wait for focus, then check it
    await wait_until(pilot, lambda: app.focused is not None, "focus in the dialog")
    assert app.focused is not None and app.focused.id == "confirm-no"
    await pilot.click("#confirm-yes")


async def test_a_topic_created_reconfigured_grown_and_deleted_from_the_console(
    services: Services, config_file: Path,
) -> None:
    name = unique("con")
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "connected" in screen_text(app), "the topic list")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ChangeScreen), "the dialog")
        await pilot.press(*name, "tab", "3", "tab", "tab", *"retention.ms=86400000", "enter")
        await until(pilot, "Will change:", "the plan")
        text = screen_text(app)
        assert f"Create topic '{name}' on cluster 'primary'" in text
        assert "3 partitions, replication factor 1" in text
        assert "retention.ms  not set  ->  86400000" in text

        await pilot.click("#change-apply")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        # the dialog is pushed before its focus is set: wait for focus, then check it
        await wait_until(pilot, lambda: app.focused is not None, "focus in the dialog")
        assert app.focused is not None and app.focused.id == "confirm-no"
        await pilot.press("enter")  # Enter on Cancel: nothing happens
        await until(pilot, "Cancelled: nothing was changed.")
        assert name not in await topics_json(config_file)

        await pilot.click("#change-apply")
        await confirm_yes(pilot, app)
        await until(pilot, "Done: the cluster shows what the plan said (audited).")
        assert f"topic '{name}' exists with 3 partitions" in screen_text(app)
        await pilot.press("escape")
        t = (await topics_json(config_file))[name]
        assert (t["partitions"], t["retention_ms"]) == (3, "86400000")

        await open_topic(pilot, app, name)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ChangeScreen), "configs dialog")
        await pilot.press(*"retention.ms=3600000 cleanup.policy=compact", "enter")
        await until(pilot, "retention.ms    86400000  ->  3600000", "the config diff")
        await pilot.click("#change-apply")
        await confirm_yes(pilot, app)
        await until(pilot, "Done: the cluster shows what the plan said (audited).")
        await pilot.press("escape")
        t = (await topics_json(config_file))[name]
        assert (t["retention_ms"], t["cleanup_policy"]) == ("3600000", "compact")

        await pilot.press("plus")
        await wait_until(pilot, lambda: isinstance(app.screen, ChangeScreen), "grow dialog")
        await pilot.press("6", "enter")
        await until(pilot, "this cluster does not support adding partitions")
        assert app.screen.query_one("#change-apply", Button).disabled
        await pilot.press("escape")
        assert (await topics_json(config_file))[name]["partitions"] == 3

        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ChangeScreen), "delete dialog")
        await until(pilot, "every record in", "the delete plan and its warning")
        await pilot.click("#change-apply")
        await wait_until(pilot, lambda: isinstance(app.screen, TypedNameConfirm), "typed")
        confirm = app.screen
        assert app.focused is not None and app.focused.id == "typed-no"
        await pilot.click("#typed-name")
        await pilot.press(*name[:-1])
        assert confirm.query_one("#typed-yes", Button).disabled
        await pilot.press("enter")  # not the name: nothing happens
        assert app.screen is confirm
        await pilot.press(name[-1])
        assert not confirm.query_one("#typed-yes", Button).disabled
        await pilot.click("#typed-yes")
        await until(pilot, f"topic '{name}' is gone")
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TopicsScreen",
                         "back on the topic list")
    assert name not in await topics_json(config_file)
    rows = await audit_rows(config_file, name)
    assert outcome(rows) == [("topic.create", "ok"), ("topic.config", "ok"),
                             ("topic.delete", "ok")]
    assert {r["face"] for r in rows} == {"console"}


async def test_a_composed_record_reads_back_identically(
    services: Services, config_file: Path,
) -> None:
    topic = unique("compose")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 2)])
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_topic(pilot, app, topic)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposeScreen), "compose")
        dialog = app.screen
        await pilot.click("#compose-key")
        await pilot.press(*"order-7")
        await pilot.click("#compose-headers")
        await pilot.press(*"source=ops", "enter", *"trace=ab12")
        await pilot.click("#compose-value")
        await pilot.press(*'{"order": 7, "status": "paid",}')
        await until(pilot, "not JSON: line 1, column 31: Expecting property name enclosed "
                           "in double quotes")
        await pilot.press("ctrl+s")
        await until(pilot, "the value is not JSON (line 1, column 31")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("left", "backspace")
        await until(pilot, "valid JSON, 30 bytes")
        await pilot.click("#compose-send")
        await confirm_yes(pilot, app)
        await wait_until(pilot, lambda: "Produced to partition" in status(app,
                                                                          "#compose-status"),
                         "the acknowledgement")
        assert isinstance(dialog, ComposeScreen) and dialog.ack is not None
        ack = dialog.ack
        assert status(app, "#compose-status").startswith(
            f"Produced to partition {ack.partition} at offset {ack.offset} (audited).")
    [rec] = await tail_json(config_file, topic)
    assert (rec["partition"], rec["offset"]) == (ack.partition, ack.offset)
    assert (rec["key"], rec["headers"], rec["value"]) == (
        "order-7", {"source": "ops", "trace": "ab12"}, '{"order": 7, "status": "paid"}')
    [row] = [r for r in await audit_rows(config_file, topic) if r["result"] == "ok"]
    assert (row["action"], row["face"], row["params"]["source"]) == (
        "topic.produce", "console", "console")


async def test_copy_a_record_as_json_and_produce_an_edited_copy(
    services: Services, config_file: Path, bootstrap: str,
) -> None:
    topic = unique("copy")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    await produce(bootstrap, topic, [b'{"status": "failed", "attempt": 1}'], key=b"order-9",
                  headers=[("origin", b"billing")])
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.app.push_screen(MessagesScreen(topic))
        await until(pilot, '"attempt": 1', "the record")
        await pilot.press("down")
        await pilot.press("Y")
        await wait_until(pilot, lambda: app.clipboard, "the clipboard")
        assert "copied partition 0 offset 0 as JSON" in screen_text(app)
        copied = json.loads(app.clipboard)
        [line] = await tail_json(config_file, topic)
        assert copied == line  # what tail --json prints for the record

        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposeScreen), "compose")
        dialog = app.screen
        assert dialog.query_one("#compose-key", Input).value == "order-9"
        assert dialog.query_one("#compose-headers", TextArea).text == "origin=billing"
        value = dialog.query_one("#compose-value", TextArea)
        assert value.text == '{"status": "failed", "attempt": 1}'
        assert "a copy of partition 0 offset 0" in screen_text(app)
        value.focus()
        await pilot.press("end", "left", "backspace", "2")
        await until(pilot, "valid JSON")
        await pilot.press("ctrl+s")
        await confirm_yes(pilot, app)
        await wait_until(pilot, lambda: "Produced to partition 0 at offset 1" in
                         status(app, "#compose-status"), "the acknowledgement")
    records = await tail_json(config_file, topic)
    assert [(r["offset"], r["key"], r["headers"], r["value"]) for r in records] == [
        (0, "order-9", {"origin": "billing"}, '{"status": "failed", "attempt": 1}'),
        (1, "order-9", {"origin": "billing"}, '{"status": "failed", "attempt": 2}')]


async def test_a_record_that_is_not_text_is_not_opened_for_editing(
    services: Services, bootstrap: str,
) -> None:
    topic = unique("binary")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    await produce(bootstrap, topic, [b"\x1b[2J\xff\xfe"], key=b"k")
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.app.push_screen(MessagesScreen(topic))
        await wait_until(pilot, lambda: app.screen.query_one("#messages").row_count == 1,
                         "the record")
        await pilot.press("down", "e")
        await until(pilot, "the record's value is not text (not UTF-8): it cannot be edited "
                           "here")
        assert isinstance(app.screen, MessagesScreen)


async def test_an_empty_group_deletes_and_an_active_one_is_refused(
    services: Services, config_file: Path, bootstrap: str,
) -> None:
    known = await make_known_topic(bootstrap)
    empty = await stopped_group(bootstrap, known.name, {0: 3})
    active = await stopped_group(bootstrap, known.name, {1: 4})
    app = KafkaOpsApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.app.push_screen(GroupLagScreen(empty))
        await until(pilot, known.name, "the group's partitions")
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ChangeScreen), "the dialog")
        await until(pilot, f"Delete consumer group '{empty}' on cluster 'primary'")
        await pilot.click("#change-apply")
        await confirm_yes(pilot, app)
        await until(pilot, f"group '{empty}' is no longer listed by its coordinator")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, GroupLagScreen),
                         "back from the deleted group")

        consumer = await joined_consumer(bootstrap, active, known.name, "console-member")
        try:
            await pilot.app.push_screen(GroupLagScreen(active))
            await pilot.press("X")
            await until(pilot, f"group '{active}' has 1 active member: console-member-")
            assert app.screen.query_one("#change-apply", Button).disabled
            await app.workers.wait_for_complete()  # the refusal's audit record
        finally:
            await consumer.stop()
    assert await read_committed(bootstrap, empty, known.name) == {0: None, 1: None, 2: None}
    assert await read_committed(bootstrap, active, known.name) == {0: None, 1: 4, 2: None}
    assert outcome(await audit_rows(config_file, empty)) == [("group.delete", "ok")]
    [refused] = await audit_rows(config_file, active)
    assert (refused["result"], refused["face"]) == ("refused", "console")
