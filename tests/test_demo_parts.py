"""`kafkaops demo` runs more than traffic: seeded feature flags and the MM2-shaped DR
replicator. Checked through a running demo process with separate `kafkaops` commands."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from kafkaops.demo.catalogue import DEMO_FLAGS, DEMO_TOPICS

from .test_demo import _run, _start_demo


def _wait_json(args: list[str], ok, what: str, within: float = 45.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        r = _run(*args)
        if r.returncode == 0:
            last = json.loads(r.stdout)
            if ok(last):
                return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: last answer {last}")


def test_demo_seeds_flags_and_replicates_to_dr(tmp_path: Path) -> None:
    proc, ports, cfg = _start_demo(tmp_path)
    with proc:
        try:
            flags = _wait_json(["--config", str(cfg), "flags", "list", "--json"],
                               lambda fs: len(fs) == len(DEMO_FLAGS), "demo flags")
            by_key = {f["key"]: f for f in flags}
            payment = by_key["checkout.new-payment-flow"]
            assert payment["enabled"] is True and payment["rollout"] == 25.0
            assert "critical" in payment["tags"]
            assert by_key["search.semantic-ranking"]["enabled"] is False

            status = _wait_json(
                ["--config", str(cfg), "dr", "status", "--json"],
                lambda s: any(t["target_end"] for t in s["topics"]),
                "records replicated to dr")
            assert status["pair"] == "main" and status["active"] == "primary"
            assert status["heartbeat_ok"] is True
            remote = {t["remote_topic"] for t in status["topics"]}
            assert "primary.orders.events" in remote
            assert {f"primary.{t.name}" for t in DEMO_TOPICS} <= remote
            topics_on_dr = _run("-b", f"127.0.0.1:{ports['dr']}", "topics", "--json")
            assert "primary.orders.events" in {t["name"] for t in json.loads(topics_on_dr.stdout)}
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
