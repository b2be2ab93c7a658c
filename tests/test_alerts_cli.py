"""`kafkaops alerts check|run|list` and `kafkaops config check`, through the installed
command against the embedded broker."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from kafkaops.core.metrics import parse_text
from kafkaops.demo.embedded import free_port
from tests.conftest import KAFKAOPS, cli_env, unique
from tests.offsets_support import make_known_topic, stopped_group


def kafkaops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, *args], capture_output=True, text=True, env=cli_env(),
                          timeout=90)


def write(tmp_path: Path, config_data: dict, rules: list[dict[str, Any]]) -> tuple[Path, str]:
    topic = unique("_alerts")
    data = {**config_data, "alerts": {"interval": "1s", "min_firing": "0s", "topic": topic,
                                      "group": unique("kafkaops-alerts"), "rules": rules}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, topic


async def test_config_check_names_the_rule_that_does_not_parse(tmp_path: Path,
                                                               config_data: dict) -> None:
    path, _ = write(tmp_path, config_data, [
        {"name": "fine", "when": "lag > 5", "channel": "C0FINE"},
        {"name": "orders-behind", "match": {"group": "orders-*"}, "when": "lag_secs > 300",
         "channel": "C0123ORDERS"},
    ])
    for args in (["config", "check"], ["alerts", "check"]):
        out = await asyncio.to_thread(kafkaops, "--config", str(path), *args)
        assert out.returncode == 2, out.stdout
        assert out.stdout == ""
        first = out.stderr.splitlines()[0]
        assert first == (f"kafkaops: {path}: alerts.rules[1] (orders-behind): when: unknown "
                         "metric 'lag_secs'; did you mean 'lag_seconds'? (known: "
                         "baseline, bytes_in_rate, connector_failed, data_loss, dr_lag, "
                         "dr_lag_seconds, failed_tasks, heartbeat_age, lag, lag_seconds, "
                         "members, offline_partitions, policy_unknown, policy_violations, "
                         "rpo_exceeded, status, under_replicated_partitions, unreachable) "
                         "(column 1)")


async def test_check_says_what_would_fire_and_publishes_nothing(
    tmp_path: Path, config_data: dict, bootstrap: str
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})  # lag 23, no members
    path, _ = write(tmp_path, config_data, [
        {"name": "stopped", "match": {"group": group}, "when": "status == STOP",
         "channel": "C0ORDERS"},
        {"name": "far-behind", "match": {"group": group}, "when": "lag > 20", "for": "2m",
         "channel": "C0ORDERS"},
        {"name": "very-far", "match": {"group": group}, "when": "lag > 1000",
         "channel": "C0ORDERS"},
        {"name": "ci", "watch": {"topic": "cicd"}, "filter": 'status == "failed"',
         "channel": "#cicd"},
    ])
    out = await asyncio.to_thread(kafkaops, "--config", str(path), "alerts", "check", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    got = {r["rule"]: (r["condition"], r["outcome"], r["values"])
           for r in data["metric_rules"]}
    assert got == {
        "stopped": ("true", "would fire", {"status": "STOP"}),
        "far-behind": ("true", "pending", {"lag": "23"}),
        "very-far": ("false", "ok", {"lag": "23"}),
    }
    assert data["event_rules"][0]["topic"] == "cicd" and data["unreachable"] == []

    out = await asyncio.to_thread(kafkaops, "--config", str(path), "alerts", "check")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["RULE", "SUBJECT", "NOW", "CONDITION", "OUTCOME"]
    assert any(ln.startswith("stopped ") and ln.endswith("would fire") for ln in lines)
    assert any(ln.startswith("far-behind ") and "pending (fires after holding 2m00s)" in ln
               for ln in lines)
    assert not any(ln.startswith("very-far") for ln in lines)  # false: only with --all
    assert "3 metric rule(s), 3 subject(s): 1 ok, 1 pending, 1 would fire" in out.stdout

    # nothing was written: the alerts topic has nothing firing
    listed = await asyncio.to_thread(kafkaops, "--config", str(path), "alerts", "list",
                                     "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


async def test_run_once_publishes_and_list_shows_it(
    tmp_path: Path, config_data: dict, bootstrap: str
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    path, _ = write(tmp_path, config_data, [
        {"name": "stopped", "match": {"group": group}, "when": "status == STOP",
         "severity": "critical", "channel": "C0ORDERS"},
    ])
    out = await asyncio.to_thread(kafkaops, "--config", str(path), "alerts", "run", "--once")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    assert line.startswith(f"FIRING   stopped [critical] group {group} on primary: status STOP")
    # a second run finds it firing already: nothing new is published
    again = await asyncio.to_thread(kafkaops, "--config", str(path), "alerts", "run", "--once")
    assert again.returncode == 0 and again.stdout == "", again.stderr

    listed = await asyncio.to_thread(kafkaops, "--config", str(path), "alerts", "list",
                                     "--json")
    (alert,) = json.loads(listed.stdout)
    assert (alert["rule"], alert["severity"], alert["subject"], alert["posted"]) == (
        "stopped", "critical", {"cluster": "primary", "group": group}, False)


async def test_run_serves_metrics_until_sigterm(
    tmp_path: Path, config_data: dict, bootstrap: str
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    path, _ = write(tmp_path, config_data, [])
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS, "--config", str(path), "alerts", "run", "--metrics-port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env())
    assert proc.stderr is not None
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert f"metrics on http://127.0.0.1:{port}/metrics" in line.decode()
        key = (("cluster", "primary"), ("group", group))
        async with aiohttp.ClientSession() as s:
            for _ in range(100):  # the first evaluation may still be running
                async with s.get(f"http://127.0.0.1:{port}/metrics") as r:
                    assert r.status == 200
                    m = parse_text(await r.text())
                if key in m.get("kafkaops_group_lag", {}):
                    break
                await asyncio.sleep(0.2)
        assert m["kafkaops_group_lag"][key] == 23
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0


async def test_kafkaops_bot_posts_alerts_and_serves_metrics_next_to_healthz(
    tmp_path: Path, config_data: dict, bootstrap: str
) -> None:
    from tests.slack_server import BOT_TOKEN, SIGNING_SECRET, SlackServer

    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    port = free_port()
    async with SlackServer() as slack:
        path, _ = write(tmp_path, config_data, [
            {"name": "stopped", "match": {"group": group}, "when": "status == STOP",
             "severity": "critical", "channel": "C0ORDERS"}])
        data = yaml.safe_load(path.read_text())
        data["slack"] = {"mode": "http", "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET,
                         "api_url": slack.api_url, "http": {"host": "127.0.0.1", "port": port}}
        path.write_text(yaml.safe_dump(data))
        proc = await asyncio.create_subprocess_exec(
            KAFKAOPS, "--config", str(path), "bot", stderr=asyncio.subprocess.PIPE,
            env=cli_env())
        assert proc.stderr is not None
        try:
            (post,) = await slack.wait_for(
                "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=60)
            assert f"group {group} on primary: status STOP" in post.params["text"]
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200
                async with s.get(f"http://127.0.0.1:{port}/metrics") as r:
                    m = parse_text(await r.text())
            assert m["kafkaops_group_lag"][(("cluster", "primary"), ("group", group))] == 23
            assert m["kafkaops_alerts_firing"][(("rule", "stopped"),
                                                ("severity", "critical"))] == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(proc.stderr.read(), 30)
            code = await asyncio.wait_for(proc.wait(), 30)
        assert code == 0, rest.decode()
        assert BOT_TOKEN not in rest.decode() and SIGNING_SECRET not in rest.decode()
