"""The demo as an on-call engineer first meets it: its config names alert rules, and the
alerts screen shows the consumer group the lag screen calls STOP (after the warm-up every
face waits for before judging a status)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from kafkaops.console.app import KafkaOpsApp
from kafkaops.core.alerts.config import compile_rules
from kafkaops.demo.world import Demo

from .test_console_shell import screen_text

#: the demo's lag warm-up (30 s) plus two alert evaluations (10 s each) and slack
WITHIN = 120.0


async def wait_until(pilot: Pilot[Any], cond: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.5)
    pytest.fail(f"timed out waiting for {what}; the screen shows:\n"
                f"{screen_text(pilot.app)}")  # type: ignore[arg-type]


async def test_demo_alerts_screen_shows_the_stopped_group(tmp_path: Path) -> None:
    demo = Demo(config_path=tmp_path / "config.yaml", seed=7)
    demo.start_clusters()
    try:
        services = await demo.start()
        rules = compile_rules(services.config)
        assert {r.name for r in rules.metric} == {"consumer-stopped", "consumer-falling-behind"}
        app = KafkaOpsApp(services, start="alerts")
        async with app.run_test(size=(180, 50)) as pilot:
            await wait_until(pilot, lambda: "warehouse-loader" in screen_text(app)
                             and "consumer-stopped" in screen_text(app), "the STOP alert")
            assert "firing" in screen_text(app).splitlines()[0]  # the header's count
            await pilot.press("l")
            await wait_until(pilot, lambda: any(
                line.split()[:1] == ["warehouse-loader"] and "STOP" in line
                for line in screen_text(app).splitlines()), "STOP on the lag screen")
    finally:
        await demo.stop()
        demo.stop_clusters()
