"""`/kafka connect ...` through the bot's real HTTP endpoint against the real Connect worker:
the list and a failed task's trace for anyone; restart / pause / resume only with the
connect.write permission, after Confirm, audited with the Slack user, and seen in what the
REST API reports; nothing to change asks nothing; forged button values change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.bot.render.connect import RESTART_ACTION, TRACE_ACTION
from kafkaops.demo.connect_worker import ConnectWorker
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import produce, unique
from tests.connect_support import (
    connect_config,
    file_sink,
    put_connector,
    status,
    wait_state,
)
from tests.slack_server import button_click

PERMISSIONS = {"connect.write": ["oncall"], "flag.write": ["oncall"]}


@pytest.fixture
async def rb(config_data: dict, connect_worker: ConnectWorker) -> AsyncIterator[RunningBot]:
    async with running_bot(connect_config(config_data, connect_worker.url),
                           permissions=PERMISSIONS) as r:
        yield r


async def ask(rb: RunningBot, text: str, user: str = "U0BOB") -> str:
    _, _, url = await rb.command(text, user=user)
    return (await rb.reply(url)).text


async def confirm(rb: RunningBot, text: str, user: str) -> str:
    """Run a change command, click Confirm on its prompt, and return the outcome."""
    _, _, url = await rb.command(text, user=user)
    prompt = await rb.reply(url)
    pid = prompt.action_values[CONFIRM_ACTION_ID]
    click_url = rb.slack.response_url()
    await rb.click(button_click(CONFIRM_ACTION_ID, pid, response_url=click_url, user=user))
    (done,) = await rb.slack.wait_for(
        "response_url",
        lambda c: c.path.endswith(click_url.rsplit("/", 1)[1]) and "running…" not in c.text,
        within=60)
    return done.text


async def audited(rb: RunningBot, target: str) -> list[tuple[str, str, str, str]]:
    records = await (await rb.bot.services.audit()).records()
    return [(r.actor, r.face, r.action, r.result) for r in records if r.target == target]


async def test_list_and_a_failed_tasks_trace_for_anyone(rb: RunningBot, connect_trio) -> None:
    _, src, good, bad = connect_trio
    # the session's worker holds other tests' connectors too: the trio's may be on any page
    pages = [p async for p in rb.pages("connect", user="U0BOB")]
    rows = [b["text"]["text"] for p in pages for b in p.blocks
            if b["type"] == "section" and "accessory" in b]
    bad_row = next(r for r in rows if f"*{bad}*" in r)
    assert bad_row.splitlines()[0] == f":red_circle: *{bad}* · sink · *RUNNING* · tasks 1 FAILED"
    assert "\ntask 0: org.apache.kafka.connect.errors.ConnectException" in bad_row
    assert "failing: " in pages[0].params["text"]
    for name in (src, good):
        (row,) = [r for r in rows if f"*{name}*" in r]
        assert row.startswith(f":large_green_circle: *{name}* · ")
    detail = await ask(rb, f"connect {bad}")
    assert "State *RUNNING*" in detail and "tasks: 1 FAILED" in detail
    assert "*Task 0* · FAILED" in detail
    assert "Caused by: java.nio.file.NoSuchFileException" in detail
    assert f"`kafkaops connect status {bad}`" in detail


async def test_changes_need_the_permission(rb: RunningBot, connect_worker: ConnectWorker,
                                           connect_trio) -> None:
    good = connect_trio[2]
    reply = await ask(rb, f"connect pause {good}", user="U0BOB")
    assert "Denied: connect.write" in reply
    assert (await status(connect_worker.url, good))["connector"]["state"] == "RUNNING"
    assert ("U0BOB", "slack", "connect.write", "refused") in await audited(rb, good)


async def test_restart_failed_only_after_confirm_brings_it_back(
        rb: RunningBot, connect_worker: ConnectWorker, bootstrap: str, tmp_path: Path) -> None:
    topic, bad = unique("lines"), unique("bad")
    await produce(bootstrap, topic, [b'"x"'])
    await put_connector(connect_worker.url, bad, file_sink(tmp_path / "missing" / "o.txt", topic))
    await wait_state(connect_worker.url, bad, "RUNNING", ["FAILED"])
    (tmp_path / "missing").mkdir()
    done = await confirm(rb, f"connect restart {bad} --failed-only", user="U0CAROL")
    assert f"restart done: {bad} is RUNNING, tasks 1 RUNNING" in done
    assert [t["state"] for t in (await status(connect_worker.url, bad))["tasks"]] \
        == ["RUNNING"]
    assert await audited(rb, f"ingest/{bad}") == [
        ("U0CAROL", "slack", "connect.restart", "ok")]


async def test_pause_then_resume_change_what_the_rest_api_reports(
        rb: RunningBot, connect_worker: ConnectWorker, tmp_path: Path) -> None:
    name = unique("pz")
    await put_connector(connect_worker.url, name, file_sink(tmp_path / "o.txt", unique("t")))
    await wait_state(connect_worker.url, name, "RUNNING", ["RUNNING"])
    _, _, url = await rb.command(f"connect pause {name}", user="U0ALICE")
    prompt = await rb.reply(url)
    assert f"Pause {name}: RUNNING → PAUSED" in prompt.text and "Now: *RUNNING*" in prompt.text
    pid = prompt.action_values[CONFIRM_ACTION_ID]
    click_url = rb.slack.response_url()
    await rb.click(button_click(CONFIRM_ACTION_ID, pid, response_url=click_url, user="U0ALICE"))
    await rb.slack.wait_for("response_url", lambda c: "pause done" in c.text, within=60)
    assert (await status(connect_worker.url, name))["connector"]["state"] == "PAUSED"
    done = await confirm(rb, f"connect resume {name}", user="U0ALICE")
    assert f"resume done: {name} is RUNNING, tasks 1 RUNNING" in done
    assert (await status(connect_worker.url, name))["connector"]["state"] == "RUNNING"


async def test_nothing_to_change_asks_nothing(rb: RunningBot, connect_trio) -> None:
    good = connect_trio[2]
    _, _, url = await rb.command(f"connect resume {good}", user="U0ALICE")
    reply = await rb.reply(url)
    assert reply.action_values == {}
    assert f"Nothing to change: {good} is RUNNING, not paused or stopped" in reply.text


@pytest.mark.parametrize(("text", "words"), [
    ("connect nope", "Connector nope not found"),
    ("connect restart nope", "Connector nope not found"),
    ("connect --connect other", "no Connect cluster named 'other'"),
])
async def test_unknown_names_get_one_clear_answer(rb: RunningBot, text: str,
                                                  words: str) -> None:
    reply = await ask(rb, text, user="U0ALICE")
    assert words in reply
    assert "http://" not in reply  # the worker's address stays in the bot's log


@pytest.mark.parametrize(("text", "words"), [
    ("connect restart x --task 1 --failed-only", "not allowed with argument"),
    ("connect restart x --task one", "invalid int value"),
    ("connect pause", "the following arguments are required: NAME"),
])
async def test_malformed_commands_are_answered_in_the_ack(rb: RunningBot, text: str,
                                                          words: str) -> None:
    status_code, ack, _ = await rb.command(text, user="U0ALICE")
    assert status_code == 200 and words in ack and "Nothing was run" in ack


@pytest.mark.parametrize("value", [
    "not json", json.dumps({"cluster": "primary"}),
    json.dumps({"cluster": "elsewhere", "connect": "ingest", "connector": "x"}),
    json.dumps({"cluster": "primary", "connect": "forged", "connector": "x"}),
    json.dumps({"cluster": "primary", "connect": "ingest", "connector": 5}),
])
@pytest.mark.parametrize("action", [RESTART_ACTION, TRACE_ACTION])
async def test_forged_button_values_change_nothing(rb: RunningBot, value: str,
                                                   action: str) -> None:
    url = rb.slack.response_url()
    await rb.click(button_click(action, value, response_url=url, user="U0ALICE",
                                is_ephemeral=False))
    reply = await rb.reply(url)
    assert "nothing was done" in reply.text and reply.action_values == {}
