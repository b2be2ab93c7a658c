"""A hint in a core error names a CLI command (`kafkaops lag`); each face shows it in its
own words: the CLI as is, Slack as the slash command (what the bot sends), the console as
its key, so nobody is told to type a command their face does not have. Against the
embedded broker: the error is core's own (a consumer group that does not exist)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.base import DataScreen
from kafkaops.core.capabilities import in_console_words, in_slack_words
from kafkaops.core.config import parse_config
from kafkaops.core.errors import NotFound
from kafkaops.core.services import Services

from .conftest import unique
from .test_console_confirm import kafkaops
from .test_flags_console import SIZE, text_of, wait_until


class MissingGroupScreen(DataScreen):
    """The console's load-and-report machinery on core's lag of a group that is not there."""

    def __init__(self, group: str) -> None:
        super().__init__()
        self.group = group

    async def load(self) -> Any:
        return await (await self.services.lag()).snapshot([self.group], missing_ok=False)

    def show(self, data: Any) -> None:
        pass


async def test_missing_group_hint_in_each_faces_words(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    group = unique("nogroup")
    config = parse_config(config_data)
    async with Services(config) as services:
        with pytest.raises(NotFound) as caught:
            await (await services.lag()).snapshot([group], missing_ok=False)
    core_text = str(caught.value)
    assert "`kafkaops lag` lists every group" in core_text

    # the CLI: as core says it
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data))
    cli = await asyncio.to_thread(kafkaops, path, "lag", "--group", group)
    assert cli.returncode != 0 and "Traceback" not in cli.stderr
    assert "`kafkaops lag` lists every group" in cli.stderr

    # Slack: what the bot sends for it (bot/app.py passes every error through this)
    slack = in_slack_words(core_text, "/kafka")
    assert "`/kafka lag` lists every group" in slack and "kafkaops" not in slack

    # the console: its key, on the screen's status line
    async with Services(config) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = MissingGroupScreen(group)
            await app.push_screen(screen)
            await wait_until(pilot, lambda: "not found" in text_of(screen, "status"),
                             "the error on the status line")
            shown = text_of(screen, "status")
            assert "key `l` (Lag) lists every group" in shown
            assert "kafkaops lag" not in shown


def test_console_words_mark_commands_it_has_no_key_for() -> None:
    text = "retry with `kafkaops usage report --month 2025-01`; see `kafkaops flags history k`"
    assert in_console_words(text) == (
        "retry with `kafkaops usage report --month 2025-01` (in a terminal); "
        "see key `f, then enter`")
