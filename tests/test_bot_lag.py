"""`/kafka lag [GROUP]` against groups with known committed offsets on the embedded broker:
the numbers in the reply are the true end minus committed, in the same rows core's lag
engine gives `kafkaops lag --json` (LagSnapshot.rows())."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kafkaops.core.services import Services
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import KAFKAOPS, cli_env, unique
from tests.offsets_support import (
    KnownTopic,
    commit_as_consumer,
    make_known_topic,
    stopped_group,
)
from tests.slack_server import Call


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


@pytest.fixture(scope="module")
async def known(bootstrap: str) -> KnownTopic:
    return await make_known_topic(bootstrap)  # 30 records in partitions 0 and 1, 2 empty




def partition_rows(text: str, topic: str) -> dict[int, list[str]]:
    """partition -> [committed, end, lag] from a group's reply (two lines a partition)."""
    found = re.findall(rf"`{re.escape(topic)}\[(\d+)\]` lag \*([\d,]+)\*[^\n]*\n\s+"
                       r"committed ([\d,]+) of ([\d,]+)", text)
    return {int(p): [c.replace(",", ""), e.replace(",", ""), lag.replace(",", "")]
            for p, lag, c, e in found}


def group_rows(reply: Call, common: str) -> list[tuple[list[str], dict[str, Any]]]:
    """(the words of its first line, its button) of each group's section."""
    return [(b["text"]["text"].split("\n")[0].split(), b["accessory"]) for b in reply.blocks
            if b["type"] == "section" and f"*{common}" in b["text"]["text"]]


async def test_group_lag_matches_the_true_end_minus_committed(
    rb: RunningBot, known: KnownTopic, bootstrap: str, services: Services
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    _, _, url = await rb.command(f"lag {group}")
    reply = await rb.reply(url)
    rows = partition_rows(reply.text, known.name)
    assert rows[0] == ["12", "30", "18"]
    assert rows[1] == ["25", "30", "5"]
    # no members and records left unread: STOP, from the very first snapshot
    assert f"*{group}* is *STOP*" in reply.text
    assert "lag 23 records" in reply.text
    # the same figures `kafkaops lag --json` prints, run as a separate process
    out = await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "-b", bootstrap, "lag", "--group", group, "--json"],
        capture_output=True, text=True, env=cli_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    cli_rows = {
        r["partition"]: [str(r["committed"]), str(r["end"]), str(r["lag"])]
        for r in json.loads(out.stdout)["partitions"]
        if r["topic"] == known.name and r["committed"] is not None
    }
    assert cli_rows == {0: rows[0], 1: rows[1]}


async def test_overview_puts_stopped_groups_first_and_counts_statuses(
    rb: RunningBot, known: KnownTopic, bootstrap: str
) -> None:
    common = unique("lagmatch")
    caught_up, stopped, behind = f"{common}-a", f"{common}-b", f"{common}-c"
    await commit_as_consumer(bootstrap, caught_up, known.name, {0: 30, 1: 30})
    await commit_as_consumer(bootstrap, stopped, known.name, {0: 1, 1: 1})  # 58 behind
    await commit_as_consumer(bootstrap, behind, known.name, {0: 29, 1: 29})  # 2 behind
    # --match: only the groups whose name contains the text (here: just these three)
    _, _, url = await rb.command(f"lag --match {common}")
    reply = await rb.reply(url)
    assert f"3 groups matching `{common}`: 2 STOP, 1 OK · worst first" in reply.text
    rows = group_rows(reply, common)
    assert [r[0][1] for r in rows] == [f"*{stopped}*", f"*{behind}*", f"*{caught_up}*"]
    assert rows[0][0][2:7] == ["·", "*STOP*", "·", "lag", "58"]
    assert rows[2][0][2:7] == ["·", "*OK*", "·", "lag", "0"]
    # the next action on each: a stopped group that is behind can be reset; others looked at
    assert rows[0][1]["action_id"] == "kafkaops.reset.open" and rows[0][1]["text"]["text"] == (
        "Plan reset")
    assert json.loads(rows[0][1]["value"]) == {"cluster": "primary", "group": stopped}
    assert rows[2][1]["text"]["text"] == "Details"
    assert rows[2][1]["value"] == f"lag {caught_up} --cluster primary"


async def test_unknown_group_is_a_clear_error(rb: RunningBot) -> None:
    _, _, url = await rb.command("lag no-such-group-xyz --public")
    reply = await rb.reply(url)
    assert reply.params["response_type"] == "ephemeral"
    assert "consumer group 'no-such-group-xyz' not found on cluster 'primary'" in reply.text
