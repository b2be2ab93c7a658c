"""A cluster marked `read_only: true` refuses every change, from the CLI and from Slack,
with one message, "cluster 'primary' is read-only (read_only: true in FILE); refusing to
...", exit 1 from the CLI, and nothing on the cluster changes: offset resets, flag writes,
dead-letter replay.

Each case sets up through a writable config (the same broker), tries the change through
the read-only one, then reads the state back through the writable one.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .bot_harness import RunningBot, running_bot
from .conftest import KAFKAOPS, cli_env, produce, unique
from .offsets_support import KnownTopic, make_known_topic, read_committed, stopped_group
from .slack_server import button_click


@pytest.fixture
def read_only_file(tmp_path: Path, config_data: dict) -> Path:
    """The test config with the primary cluster marked read-only."""
    data = json.loads(json.dumps(config_data))
    data["clusters"]["primary"]["read_only"] = True
    path = tmp_path / "read-only.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def refusal(path: Path) -> str:
    """The start of the one message every refused change prints."""
    return f"kafkaops: cluster 'primary' is read-only (read_only: true in {path}); refusing to "


async def kafkaops(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(config), *args], capture_output=True,
        text=True, env=cli_env(), timeout=60, stdin=subprocess.DEVNULL,
    )


def assert_refused(out: subprocess.CompletedProcess[str], path: Path, words: str) -> None:
    assert out.returncode == 1, out.stderr
    assert out.stderr == refusal(path) + words + "\n"
    assert out.stdout == ""


# ---------------------------------------------------------------- offset reset


@pytest.fixture(scope="module")
async def known(bootstrap: str) -> KnownTopic:
    return await make_known_topic(bootstrap)


@pytest.mark.parametrize(
    "mode", [["--to-earliest"], ["--to-latest"], ["--to-time", "1h"], ["--to-offset", "3"],
             ["--shift-by", "-2"]],
    ids=["earliest", "latest", "time", "offset", "shift"],
)
async def test_offset_reset_is_refused(
    read_only_file: Path, services: Services, bootstrap: str, known: KnownTopic,
    mode: list[str],
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    out = await kafkaops(read_only_file, "offsets", "reset", group, "--topic", known.name,
                         *mode, "--yes")
    assert_refused(out, read_only_file, f"reset offsets of group {group!r}")
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}
    # read-only means kafkaops writes nothing there, not even an audit record
    assert [r for r in await (await services.audit()).records() if r.target == group] == []


async def test_offset_reset_dry_run_still_shows_the_plan(
    read_only_file: Path, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    out = await kafkaops(read_only_file, "offsets", "reset", group, "--topic", known.name,
                         "--to-earliest", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith(
        "Dry run: nothing was changed.\n"
        "Cluster 'primary' is read-only: this plan cannot be applied."
    )
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}


# ---------------------------------------------------------------- flag writes


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["set", "{flag}", "false"], "change flag '{flag}'"),
        (["toggle", "{flag}"], "toggle flag '{flag}'"),
        (["rollout", "{flag}", "50"], "change the rollout of flag '{flag}'"),
        (["rollback", "{flag}", "1"], "roll back flag '{flag}'"),
        (["delete", "{flag}"], "delete flag '{flag}'"),
        (["create", "{flag}-new"], "create flag '{flag}-new'"),
    ],
    ids=["set", "toggle", "rollout", "rollback", "delete", "create"],
)
async def test_flag_writes_are_refused(
    read_only_file: Path, config_file: Path, args: list[str], words: str
) -> None:
    flag = unique("ro-flag")
    made = await kafkaops(config_file, "flags", "create", flag, "--yes")
    assert made.returncode == 0, made.stderr
    before = json.loads((await kafkaops(config_file, "flags", "get", flag, "--json")).stdout)

    out = await kafkaops(read_only_file, "flags", *[a.format(flag=flag) for a in args],
                         "--yes")
    assert_refused(out, read_only_file, words.format(flag=flag))

    after = await kafkaops(config_file, "flags", "get", flag, "--json")
    assert json.loads(after.stdout) == before  # same version, value, state
    if args[0] == "create":
        missing = await kafkaops(config_file, "flags", "get", f"{flag}-new")
        assert missing.returncode == 1 and f"{flag}-new" in missing.stderr


# ---------------------------------------------------------------- dead-letter replay


async def test_dead_letter_replay_is_refused(
    read_only_file: Path, services: Services, bootstrap: str
) -> None:
    origin = unique("payments")
    dlq = f"{origin}.dlq"
    await (await services.topics()).create_topics([NewTopicSpec(origin), NewTopicSpec(dlq)])
    await produce(bootstrap, dlq, [b"bad-1", b"bad-2"],
                  headers=[("kafkaops.origin.topic", origin.encode())])

    out = await kafkaops(read_only_file, "dlq", "replay", dlq, "--yes")
    assert_refused(out, read_only_file, f"replay dead letters of {dlq!r}")

    conn = await services.connection()
    water = await conn.high_watermarks([TopicPartition(origin, 0), TopicPartition(dlq, 0)])
    assert water[TopicPartition(origin, 0)] == (0, 0)  # nothing replayed
    assert water[TopicPartition(dlq, 0)] == (0, 2)


# ---------------------------------------------------------------- from Slack


@pytest.fixture
async def read_only_bot(config_data: dict) -> AsyncIterator[RunningBot]:
    data = json.loads(json.dumps(config_data))
    data["clusters"]["primary"]["read_only"] = True
    allowed = {a: ["oncall"] for a in ("flag.write", "dlq.replay", "offsets.reset")}
    async with running_bot(data, permissions=allowed) as r:
        yield r


async def slack_reply_after_confirm(rb: RunningBot, text: str) -> str:
    """Send a command as a permitted user; if it asks for Confirm, click it; the last reply."""
    _, _, url = await rb.command(text, user="U0ALICE")
    reply = await rb.reply(url)
    if CONFIRM_ACTION_ID not in reply.action_values:
        return str(reply.text)
    done_url = rb.slack.response_url()
    path = done_url[len(rb.slack.url) - 1:]
    await rb.click(button_click(CONFIRM_ACTION_ID, reply.action_values[CONFIRM_ACTION_ID],
                                response_url=done_url, user="U0ALICE"))
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == path and "running…" not in c.params["text"]
    )
    return str(final.text)


@pytest.mark.parametrize(
    "command",
    ["flag toggle {flag} --on", "flag rollout {flag} 50", "flag set {flag} false",
     "flag rollback {flag} 1"],
    ids=["toggle", "rollout", "set", "rollback"],
)
async def test_flag_writes_from_slack_are_refused(
    read_only_bot: RunningBot, services: Services, command: str
) -> None:
    flag = unique("ro-bot-flag")
    flags = await services.flags()
    await flags.create(flag, actor="setup@test", face="cli")
    before = await flags.get(flag)

    text = await slack_reply_after_confirm(read_only_bot, command.format(flag=flag))
    prefix = "cluster 'primary' is read-only (read_only: true in <bot test>); refusing to "
    assert prefix in text
    assert f"flag {flag!r}" in text.split(prefix, 1)[1]
    assert await flags.get(flag) == before


async def test_offset_reset_from_slack_is_refused(
    read_only_bot: RunningBot, services: Services, bootstrap: str, known: KnownTopic
) -> None:
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    text = await slack_reply_after_confirm(
        read_only_bot, f"offsets reset {group} --topic {known.name} --to-earliest"
    )
    assert (
        "cluster 'primary' is read-only (read_only: true in <bot test>); refusing to reset "
        f"offsets of group {group!r}"
    ) in text
    assert await read_committed(bootstrap, group, known.name) == {0: 12, 1: 25, 2: None}
    assert [r for r in await (await services.audit()).records() if r.target == group] == []


async def test_dead_letter_replay_from_slack_is_refused(
    read_only_bot: RunningBot, services: Services, bootstrap: str
) -> None:
    origin = unique("orders")
    dlq = f"{origin}.dlq"
    await (await services.topics()).create_topics([NewTopicSpec(origin), NewTopicSpec(dlq)])
    await produce(bootstrap, dlq, [b"bad-1"], headers=[("kafkaops.origin.topic", origin.encode())])

    text = await slack_reply_after_confirm(read_only_bot, f"dlq replay {dlq}")
    assert (
        "cluster 'primary' is read-only (read_only: true in <bot test>); refusing to replay "
        f"dead letters of {dlq!r}"
    ) in text
    conn = await services.connection()
    water = await conn.high_watermarks([TopicPartition(origin, 0)])
    assert water[TopicPartition(origin, 0)] == (0, 0)


# ---------------------------------------------------------------- failover onto a read-only cluster


@pytest.fixture
def failover_files(tmp_path: Path, config_data: dict) -> tuple[Path, Path, str]:
    """(writable config, config with the DR target read-only, pair name): one DR pair
    primary -> dr with a name of its own, so no other test's runs are seen."""
    pair = unique("pair")
    data = json.loads(json.dumps(config_data))
    data["dr"] = {"pairs": [{"name": pair, "primary": "primary", "secondary": "dr"}]}
    writable = tmp_path / "dr.yaml"
    writable.write_text(yaml.safe_dump(data))
    data["clusters"]["dr"]["read_only"] = True
    read_only = tmp_path / "dr-read-only.yaml"
    read_only.write_text(yaml.safe_dump(data))
    return writable, read_only, pair


async def test_failover_onto_a_read_only_cluster_is_refused(
    failover_files: tuple[Path, Path, str],
) -> None:
    writable, read_only, pair = failover_files
    before = await kafkaops(writable, "failover", "status", "--pair", pair, "--json")
    assert before.returncode == 0, before.stderr

    for extra in ([], ["--force"]):  # not even --force moves onto a read-only cluster
        out = await kafkaops(read_only, "failover", "execute", "--pair", pair, "--yes", *extra)
        assert out.returncode == 1
        assert f"cluster 'dr' is read-only (read_only: true in {read_only})" in out.stderr
        assert "nothing was changed" in out.stderr

    after = await kafkaops(writable, "failover", "status", "--pair", pair, "--json")
    assert json.loads(after.stdout) == json.loads(before.stdout) is None  # no run recorded
