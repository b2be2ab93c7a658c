"""Nothing changes by accident: every confirmation opens on Cancel (an Enter alone never goes
ahead; `y` or a deliberate move to the yes button does), and a change that would change
nothing is refused by core with "nothing to change", writing no flag record and no audit
row, from the console, the CLI and core itself. Driven with Pilot and the real CLI against
the embedded broker; assertions read the screen, the flags topic and the audit trail."""

from __future__ import annotations

import asyncio
import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.widgets import Static

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.dlq import ConfirmReplayScreen, DlqTopicScreen
from kafkaops.console.flags import ConfirmFlagScreen, FlagsScreen, RolloutScreen
from kafkaops.console.messages import header_text
from kafkaops.core.config import parse_config
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.errors import NothingToChange
from kafkaops.core.flags.service import FLAGS_TOPIC
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services

from .conftest import KAFKAOPS, cli_env, unique
from .test_dlq_kafka import make_world, read
from .test_flags_console import SIZE, find, on_topic, text_of, wait_until

ME = "tester@ci"


def own_audit(config_data: dict[str, Any]) -> dict[str, Any]:
    """The session config with an audit topic of this test's own, so its rows can be counted."""
    data = copy.deepcopy(config_data)
    data["audit"] = {"signing_key": "test-signing-key", "topic": unique("_kafkaops.audit")}
    return data


async def flag_records(services: Services) -> int:
    """Records on the flags topic (its end offset): a write of any kind moves it."""
    conn = await services.connection()
    water = await conn.high_watermarks([TopicPartition(FLAGS_TOPIC, 0)])
    return water[TopicPartition(FLAGS_TOPIC, 0)][1]


async def audit_rows(services: Services, target: str) -> list[tuple[str, str]]:
    return [(r.action, r.result) for r in await (await services.audit()).records()
            if r.target == target]


# ---------------------------------------------------------------- the dialog


async def test_critical_flag_dialog_opens_on_cancel_and_ignores_enter(
    config_data: dict[str, Any],
) -> None:
    config = parse_config(own_audit(config_data))
    key = unique("crit")
    async with Services(config) as services:
        svc = await services.flags()
        await svc.create(key, owner="payments", tags=["critical"], actor=ME, face="cli")
        await svc.rollout(key, 25, actor=ME, face="cli")
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = FlagsScreen()
            await app.push_screen(screen)
            await find(pilot, screen, key)

            # the Enter that submits the rollout box, then a stray second Enter
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, RolloutScreen), "rollout box")
            await pilot.press("ctrl+a", "ctrl+k", *"30", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmFlagScreen),
                             "the confirmation")
            assert "rollout 25% → 30%" in text_of(app.screen, "confirm-summary")
            # the dialog is pushed before its focus is set: wait for focus, then check it
            await wait_until(pilot, lambda: app.screen.focused is not None, "focus in the dialog")
            assert app.screen.focused is not None and app.screen.focused.id == "confirm-no"
            await pilot.press("enter")
            await wait_until(pilot, lambda: "cancelled" in text_of(screen, "flag-result"),
                             "cancelled by Enter")
            assert (await on_topic(config, key)).rollout == 25.0

            # a deliberate move to the yes button, then Enter, goes ahead
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, RolloutScreen), "rollout box")
            await pilot.press("ctrl+a", "ctrl+k", *"30", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmFlagScreen),
                             "the confirmation again")
            await pilot.press("tab")
            assert app.screen.focused is not None and app.screen.focused.id == "confirm-yes"
            await pilot.press("enter")
            await wait_until(pilot, lambda: "done" in text_of(screen, "flag-result"), "done")
            state = await on_topic(config, key)
            assert (state.rollout, state.version) == (30.0, 3)

            # and `y` goes ahead from the first moment
            await pilot.press("space")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmFlagScreen),
                             "the toggle confirmation")
            await pilot.press("y")
            await wait_until(pilot, lambda: "done" in text_of(screen, "flag-result")
                             and "switch off → on" in text_of(screen, "flag-result"), "switched")
            assert (await on_topic(config, key)).enabled is True


async def test_rollout_to_the_same_percentage_asks_nothing_and_writes_nothing(
    config_data: dict[str, Any],
) -> None:
    config = parse_config(own_audit(config_data))
    key = unique("same")
    async with Services(config) as services:
        svc = await services.flags()
        await svc.create(key, tags=["critical"], actor=ME, face="cli")
        await svc.rollout(key, 25, actor=ME, face="cli")
        before = await flag_records(services)
        audited = await audit_rows(services, key)
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = FlagsScreen()
            await app.push_screen(screen)
            await find(pilot, screen, key)
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, RolloutScreen), "rollout box")
            await pilot.press("ctrl+a", "ctrl+k", *"25", "enter")
            await wait_until(pilot, lambda: "nothing to change" in text_of(
                screen, "flag-result"), "nothing to change")
            assert not isinstance(app.screen, ConfirmFlagScreen)
        assert await flag_records(services) == before
        assert await audit_rows(services, key) == audited
        assert (await on_topic(config, key)).version == 2


# ---------------------------------------------------------------- core and the CLI


@pytest.mark.parametrize("change", ["toggle-on", "toggle-off-when-off", "rollout", "set",
                                    "rollback-to-same-content"])
async def test_core_refuses_a_change_that_changes_nothing(
    config_data: dict[str, Any], change: str,
) -> None:
    config = parse_config(own_audit(config_data))
    key = unique("noop")
    async with Services(config) as services:
        svc = await services.flags()
        await svc.create(key, owner="team-a", actor=ME, face="cli")  # v1: off
        await svc.rollout(key, 25, actor=ME, face="cli")  # v2
        if change != "toggle-off-when-off":
            await svc.toggle(key, True, actor=ME, face="cli")  # v3: on
            await svc.toggle(key, False, actor=ME, face="cli")  # v4: off
            await svc.toggle(key, True, actor=ME, face="cli")  # v5: on, as v3 was
        before = await flag_records(services)
        audited = await audit_rows(services, key)
        version = (await svc.get(key)).version
        with pytest.raises(NothingToChange, match="nothing to change: flag .* is already"):
            if change == "toggle-on":
                await svc.toggle(key, True, actor=ME, face="console")
            elif change == "toggle-off-when-off":
                await svc.toggle(key, False, actor=ME, face="console")
            elif change == "rollout":
                await svc.rollout(key, "25", actor=ME, face="slack")
            elif change == "set":
                await svc.set(key, owner="team-a", rollout=25, actor=ME, face="cli")
            else:
                await svc.rollback(key, 3, actor=ME, face="cli")
        assert await flag_records(services) == before
        assert await audit_rows(services, key) == audited
        assert (await svc.get(key)).version == version
        # a real change still goes through
        await svc.rollout(key, 26, actor=ME, face="cli")
        assert (await svc.get(key)).version == version + 1


def kafkaops(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, "--config", str(config_file), *args], capture_output=True,
                          text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)


async def test_cli_no_op_says_nothing_to_change_and_writes_nothing(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    data = own_audit(config_data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    config = parse_config(data)
    key = unique("cli")
    async with Services(config) as services:
        await (await services.flags()).create(key, actor=ME, face="cli")
        first = await asyncio.to_thread(kafkaops, path, "flags", "rollout", key, "25", "--yes")
        assert first.returncode == 0, first.stderr
        before = await flag_records(services)
        audited = await audit_rows(services, key)
        again = await asyncio.to_thread(kafkaops, path, "flags", "rollout", key, "25", "--yes")
        assert again.returncode == 0
        assert "nothing to change" in again.stderr and "nothing was written" in again.stderr
        assert "Traceback" not in again.stderr
        off = await asyncio.to_thread(kafkaops, path, "flags", "toggle", key, "--off", "--yes")
        assert off.returncode == 0 and "nothing to change" in off.stderr
        assert await flag_records(services) == before
        assert await audit_rows(services, key) == audited


# ---------------------------------------------------------------- dead letters


async def test_replaying_nothing_is_refused_without_an_audit_row(
    config_data: dict[str, Any], tmp_path: Path, bootstrap: str,
) -> None:
    world = await make_world(config_data, tmp_path, bootstrap)
    async with Services(world.config) as services:
        svc = DeadLetterService(services)
        done = await svc.replay(world.dlq, actor=ME, face="cli", positions=[(0, 0)])
        assert done.count == 1
        rows = len(await (await services.audit()).records())
        with pytest.raises(NothingToChange, match=r"nothing to change: no record of .* \(1 "
                           "replayed before"):
            await svc.replay(world.dlq, actor=ME, face="cli", positions=[(0, 0)])
        assert len(await (await services.audit()).records()) == rows
        assert [m.key for m in await read(services, world.orders)] == [b"o-1"]


async def test_replay_dialog_counts_agree_with_the_header(
    config_data: dict[str, Any], tmp_path: Path, bootstrap: str,
) -> None:
    world = await make_world(config_data, tmp_path, bootstrap)
    async with Services(world.config) as services:
        await DeadLetterService(services).replay(world.dlq, actor=ME, face="cli",
                                                 positions=[(0, 0)])
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = DlqTopicScreen(world.dlq)
            await app.push_screen(screen)
            await wait_until(pilot, lambda: "6 records · 1 replayed" in text_of(
                screen, "dlq-summary"), "the header")
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmReplayScreen),
                             "the confirmation")
            summary = str(app.screen.query_one("#confirm-summary", Static).render())
            # 6 shown = 5 replayed now + 1 replayed before
            assert f"Replay 5 of the 6 records shown of {world.dlq}" in summary
            assert "skipping 1 replayed before" in summary
            await pilot.press("escape")


@pytest.mark.parametrize(("raw", "shown"), [
    (b"orders", "orders"),
    (b"\x00\x00\x00\x03", "3 (4-byte integer)"),
    (b"\x00\x00\x00\x00\x00\x00\x04\xd2", "1234 (8-byte integer)"),
    (b"line one\n\tat Foo.bar", "line one\n\tat Foo.bar"),
    (b"\x1b[31mred!", "(9 bytes) 1b 5b 33 31 6d 72 65 64 21"),
    (None, "(null)"),
])
def test_header_values_are_readable(raw: bytes | None, shown: str) -> None:
    assert header_text(raw) == shown
