"""`kafkaops doctor` as people run it: one line per check, saying what is wrong and what to
do; exit 0 when everything answers, 1 when anything does not. Against the session's
embedded brokers, a broker that wants SASL credentials, a port nothing listens on, a
listener that never answers, the local Slack, the demo/test Schema Registry and the real
Connect worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.demo.embedded import answers_kafka, broker_binary, free_port
from tests.conftest import KAFKAOPS, cli_env
from tests.schema_support import registry_url  # noqa: F401 - a fixture
from tests.slack_server import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, SlackServer


async def doctor(cfg: Path, *args: str, env: dict[str, str] | None = None
                 ) -> tuple[int, list[str], str]:
    """Run `kafkaops --config CFG doctor`: (exit code, stdout lines, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS, "--config", str(cfg), "doctor", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env or cli_env())
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode or 0, out.decode().splitlines(), err.decode()


def write(tmp: Path, data: dict[str, Any]) -> Path:
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def lines_about(lines: list[str], check: str, target: str) -> list[str]:
    """Lines are `STATUS CHECK     TARGET: detail`, in columns."""
    return [ln for ln in lines if ln[6:16].rstrip() == check and ln[16:].startswith(f"{target}:")]


def one_line(lines: list[str], check: str, target: str) -> str:
    found = lines_about(lines, check, target)
    assert len(found) == 1, "\n".join(lines)
    return found[0]


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[str]:
    """A Tansu broker that requires SASL authentication; it knows no user, so any
    credentials are refused as a wrong password would be."""
    from kafkaops.demo.embedded import _die_with_parent  # SIGKILL with us, as the fixtures

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/", "--authentication"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "off"}, preexec_fn=_die_with_parent(os.getpid()))  # noqa: PLW1509
    try:
        for _ in range(500):
            if answers_kafka("127.0.0.1", port, timeout=0.5):
                break
            assert proc.poll() is None, "the SASL broker exited"
            import time

            time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def silent_listener() -> AsyncIterator[str]:
    """A TCP listener that accepts connections and never answers (a wrong service, or a
    broker that hangs)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(Exception):
            await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


def slack_section(slack: SlackServer, **keys: Any) -> dict[str, Any]:
    return {"mode": "http", "bot_token": "${SLACK_BOT_TOKEN}",
            "signing_secret": "${SLACK_SIGNING_SECRET}", "api_url": slack.api_url,
            "http": {"host": "127.0.0.1", "port": free_port()}, **keys}


def slack_env(token: str = BOT_TOKEN) -> dict[str, str]:
    return {**cli_env(), "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": SIGNING_SECRET}


async def test_everything_answers_one_ok_line_each_and_exit_0(
        tmp_path: Path, config_data: dict, clusters: Any, registry_url: str  # noqa: F811
) -> None:
    async with SlackServer() as slack:
        data = {**config_data, "slack": slack_section(slack)}
        data["clusters"] = {n: dict(c) for n, c in config_data["clusters"].items()}
        data["clusters"]["primary"]["schema_registry"] = {"url": registry_url}
        cfg = write(tmp_path, data)
        code, lines, err = await doctor(cfg, env=slack_env())
        (auth,) = slack.calls_to("auth.test")
        json_code, json_lines, _ = await doctor(cfg, "--json", env=slack_env())
    assert code == 0, "\n".join(lines) + err
    assert lines[0] == (f"ok    config    {cfg}: 2 clusters, Slack (http mode), "
                        "1 schema registry")
    for name in ("primary", "dr"):
        line = one_line(lines, "cluster", name)
        assert line.startswith(f"ok    cluster   {name}: 1 broker, ")
        assert f"at {clusters.bootstrap(name)}, cluster id kafkaops-{name} (" in line
    assert one_line(lines, "slack", "bot token").startswith(
        f"ok    slack     bot token: auth.test: bot @kafkaops in workspace 'kafkaops test' "
        f"({TEAM_ID})")
    assert one_line(lines, "slack", "http mode").startswith("ok    slack     http mode: ")
    assert one_line(lines, "registry", registry_url).startswith(
        f"ok    registry  {registry_url}: answers; compatibility BACKWARD; used by primary")
    assert one_line(lines, "signing", "flags").startswith(
        "ok    signing   flags: flag records signed and verified (Ed25519); services verify "
        "with FlagClient(verify_key='ed25519:")
    assert len(lines) == 7
    assert auth.token == BOT_TOKEN  # the real token went to Slack ...
    assert BOT_TOKEN not in "\n".join(lines) + err and SIGNING_SECRET not in err  # ... only

    assert json_code == 0
    checks = json.loads("\n".join(json_lines))
    assert {(c["check"], c["target"], c["status"]) for c in checks} == {
        ("config", str(cfg), "ok"), ("cluster", "primary", "ok"), ("cluster", "dr", "ok"),
        ("slack", "bot token", "ok"), ("slack", "http mode", "ok"),
        ("registry", registry_url, "ok"), ("signing", "flags", "ok")}


async def test_refused_credentials_a_wrong_port_and_a_silent_listener_one_line_each(
        tmp_path: Path, bootstrap: str, sasl_broker: str) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with silent_listener() as silent:
        cfg = write(tmp_path, {"clusters": {
            "primary": {"bootstrap_servers": bootstrap},
            "secure": {"bootstrap_servers": sasl_broker, "security_protocol": "SASL_PLAINTEXT",
                       "sasl": {"mechanism": "SCRAM-SHA-512", "username": "ops",
                                "password": "${KAFKA_PASSWORD}"}},
            "plain": {"bootstrap_servers": sasl_broker},  # the same broker without SASL
            "wrongport": {"bootstrap_servers": closed},
            "silent": {"bootstrap_servers": silent, "request_timeout": "1s"},
        }})
        code, lines, err = await doctor(cfg, env={**cli_env(), "KAFKA_PASSWORD": "hunter2"})
    assert code == 1, err
    assert err == ""
    assert one_line(lines, "cluster", "primary").startswith("ok    cluster   primary: ")
    assert one_line(lines, "cluster", "secure") == (
        f"FAIL  cluster   secure: at {sasl_broker} refused the SASL credentials (user 'ops', "
        "SCRAM-SHA-512): the broker ended the SCRAM exchange with an error — check "
        "clusters.secure.sasl (username, password, mechanism)")
    assert one_line(lines, "cluster", "plain") == (
        f"FAIL  cluster   plain: unreachable: {sasl_broker} accepts connections but gave no "
        "Kafka answer with security_protocol PLAINTEXT — check clusters.plain."
        "security_protocol (does the broker want TLS or SASL?) and that it is a Kafka listener")
    assert one_line(lines, "cluster", "wrongport") == (
        f"FAIL  cluster   wrongport: unreachable: nothing listens on {closed} (connection "
        "refused) — check the port in clusters.wrongport.bootstrap_servers and that the "
        "brokers run")
    silent_line = one_line(lines, "cluster", "silent")
    assert silent_line.startswith("FAIL  cluster   silent: ")
    assert (f"{silent} accepts connections but gave no Kafka answer with security_protocol "
            "PLAINTEXT") in silent_line
    assert one_line(lines, "slack", "bot token") == (
        "skip  slack     bot token: no slack.bot_token in config (the bot is not set up here)")
    assert "hunter2" not in "\n".join(lines)
    assert one_line(lines, "signing", "flags") == (  # a warning: it does not fail the exit
        "WARN  signing   flags: flag records are unsigned (neither flags.signing_key nor "
        "audit.signing_key is set): anyone who can produce to the flags topic can change a "
        "flag; set flags.signing_key (or audit.signing_key)")
    assert len(lines) == 8  # config, signing, five clusters, slack


async def test_a_bad_slack_token_is_one_line_naming_what_to_fix(
        tmp_path: Path, config_data: dict) -> None:
    async with SlackServer() as slack:
        cfg = write(tmp_path, {**config_data, "slack": slack_section(slack)})
        code, lines, err = await doctor(cfg, env=slack_env("xoxb-revoked"))
        (auth,) = slack.calls_to("auth.test")
    assert code == 1, err
    assert auth.token == "xoxb-revoked"
    assert one_line(lines, "slack", "bot token") == (
        f"FAIL  slack     bot token: auth.test at {slack.api_url}: refused (invalid_auth) — "
        "check slack.bot_token (xoxb-...)")
    assert one_line(lines, "cluster", "primary").startswith("ok ")
    assert "xoxb-revoked" not in "\n".join(lines) + err


async def test_slack_out_of_reach_is_one_line_naming_the_url_not_the_token(
        tmp_path: Path, config_data: dict) -> None:
    async with SlackServer() as slack:
        api_url = slack.api_url
    # the local Slack is gone: nothing listens at its address any more
    cfg = write(tmp_path, {**config_data, "slack": {
        "mode": "http", "bot_token": "${SLACK_BOT_TOKEN}",
        "signing_secret": "${SLACK_SIGNING_SECRET}", "api_url": api_url}})
    code, lines, err = await doctor(cfg, env=slack_env())
    assert code == 1, err
    line = one_line(lines, "slack", "bot token")
    assert line.startswith(f"FAIL  slack     bot token: auth.test at {api_url}: cannot reach "
                           "Slack's Web API ("), line
    assert line.endswith("); check slack.api_url and the network"), line


async def test_socket_mode_checks_the_app_token_and_the_workspace(
        tmp_path: Path, config_data: dict) -> None:
    async with SlackServer() as slack:
        cfg = write(tmp_path, {**config_data, "slack": {
            "mode": "socket", "bot_token": BOT_TOKEN, "app_token": "xapp-wrong",
            "api_url": slack.api_url, "team_id": "T0OTHER"}})
        code, lines, _ = await doctor(cfg)
        (opened,) = slack.calls_to("apps.connections.open")
    assert code == 1
    assert opened.token == "xapp-wrong"
    assert one_line(lines, "slack", "bot token") == (
        f"FAIL  slack     bot token: the token is for workspace 'kafkaops test' ({TEAM_ID}), "
        "but slack.team_id is T0OTHER — use that workspace's token or fix slack.team_id")
    assert one_line(lines, "slack", "app token") == (
        f"FAIL  slack     app token: apps.connections.open at {slack.api_url}: refused "
        "(invalid_auth) — check slack.app_token (xapp-..., with the connections:write scope)")


async def test_unset_environment_variables_are_named(tmp_path: Path, config_data: dict) -> None:
    cfg = write(tmp_path, {**config_data, "slack": {
        "mode": "http", "bot_token": "${KAFKAOPS_TEST_UNSET_TOKEN}", "signing_secret": "s",
        "api_url": "http://127.0.0.1:1/api/"}})
    env = {k: v for k, v in cli_env().items() if k != "KAFKAOPS_TEST_UNSET_TOKEN"}
    code, lines, _ = await doctor(cfg, env=env)
    assert code == 1
    assert lines[0] == (
        f"FAIL  config    {cfg}: slack.bot_token: environment variable "
        "KAFKAOPS_TEST_UNSET_TOKEN is not set (the config refers to it as "
        "${KAFKAOPS_TEST_UNSET_TOKEN}) — set them in the environment")
    assert one_line(lines, "slack", "bot token").startswith(
        "FAIL  slack     bot token: cannot check: slack.bot_token: environment variable "
        "KAFKAOPS_TEST_UNSET_TOKEN is not set")
    assert one_line(lines, "cluster", "primary").startswith("ok ")  # the rest is still checked


@pytest.mark.parametrize(("text", "problem"), [
    ("clusters: {primary: {bootstrap_servers: 'h:1', raed_only: true}}",
     "clusters.primary.raed_only: unknown key; did you mean 'read_only'?"),
    ("clusters: [", "not valid YAML"),
])
async def test_a_config_that_does_not_load_is_one_line_and_exit_1(
        tmp_path: Path, text: str, problem: str) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    code, lines, err = await doctor(cfg)
    assert code == 1 and err == ""
    (line,) = lines
    assert line.startswith(f"FAIL  config    config: {cfg}: ") and problem in line


async def test_unreachable_registry_and_connect_urls(tmp_path: Path, config_data: dict) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    data = {**config_data, "clusters": {"primary": {
        **config_data["clusters"]["primary"],
        "schema_registry": {"url": dead, "timeout": "2s"},
        "connect": [{"name": "ingest", "url": dead}]}}}
    code, lines, _ = await doctor(write(tmp_path, data))
    assert code == 1
    reg = one_line(lines, "registry", dead)
    assert reg.startswith(f"FAIL  registry  {dead}: schema registry {dead} unreachable: ")
    assert reg.endswith("— check clusters.primary.schema_registry.url")
    conn = one_line(lines, "connect", "primary/ingest")
    assert conn.startswith("FAIL  connect   primary/ingest: ") and dead in conn
    assert "clusters.primary.connect[0]" in conn


async def test_connect_answers_and_must_run_on_the_cluster_it_is_listed_under(
        tmp_path: Path, config_data: dict, connect_worker: Any) -> None:
    url = connect_worker.url
    data = {**config_data, "clusters": {
        "primary": {**config_data["clusters"]["primary"],
                    "connect": [{"name": "ingest", "url": url}]},
        "dr": {**config_data["clusters"]["dr"], "connect": [{"name": "wrong", "url": url}]}}}
    code, lines, _ = await doctor(write(tmp_path, data))
    assert code == 1
    assert one_line(lines, "connect", "primary/ingest").startswith(
        f"ok    connect   primary/ingest: Kafka Connect 3.9.0 at {url} (")
    assert one_line(lines, "connect", "dr/wrong") == (
        f"FAIL  connect   dr/wrong: {url} runs on Kafka cluster id kafkaops-primary, but "
        "cluster dr has id kafkaops-dr — list it under the cluster its workers use")


async def test_any_command_says_refused_credentials_in_one_line(
        tmp_path: Path, sasl_broker: str) -> None:
    cfg = write(tmp_path, {"clusters": {"secure": {
        "bootstrap_servers": sasl_broker, "security_protocol": "SASL_PLAINTEXT",
        "sasl": {"mechanism": "SCRAM-SHA-256", "username": "ops", "password": "wrong"}}}})
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS, "--config", str(cfg), "topics", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=cli_env())
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and out == b""
    assert err.decode() == (
        f"kafkaops: cluster 'secure' at {sasl_broker} refused the SASL credentials (user 'ops', "
        "SCRAM-SHA-256): the broker ended the SCRAM exchange with an error — check "
        "clusters.secure.sasl (username, password, mechanism)\n")


async def test_signing_dr_control_line_ok_with_a_key_warn_without_none_without_pairs(
        tmp_path: Path, bootstrap: str) -> None:
    pairs = {"pairs": [{"name": "main", "primary": "primary", "secondary": "primary2"}]}
    clusters = {"primary": {"bootstrap_servers": bootstrap},
                "primary2": {"bootstrap_servers": bootstrap}}
    cfg = write(tmp_path, {"clusters": clusters, "dr": pairs,
                           "audit": {"signing_key": "test-signing-key"}})
    code, lines, err = await doctor(cfg)
    assert code == 0, err
    assert one_line(lines, "signing", "dr control").startswith(
        "ok    signing   dr control: control records signed and verified (Ed25519); followers "
        "verify with ActiveClusterWatcher(verify_key='ed25519:")

    cfg = write(tmp_path, {"clusters": clusters, "dr": pairs})
    code, lines, err = await doctor(cfg)
    assert code == 0, err  # a warning does not fail the exit
    assert one_line(lines, "signing", "dr control") == (
        "WARN  signing   dr control: DR control records are unsigned (neither dr.signing_key "
        "nor audit.signing_key is set): anyone who can produce to _kafkaops.control can name "
        "the active cluster of a pair; set dr.signing_key (or audit.signing_key)")

    cfg = write(tmp_path, {"clusters": clusters, "dr": {**pairs, "verify_key": "ed25519:x"}})
    code, lines, err = await doctor(cfg)
    assert code == 1 and err == ""
    assert one_line(lines, "signing", "dr control").startswith(
        "FAIL  signing   dr control: ")
    assert "dr.verify_key: " in one_line(lines, "signing", "dr control")

    cfg = write(tmp_path, {"clusters": {"primary": clusters["primary"]}})
    code, lines, err = await doctor(cfg)
    assert lines_about(lines, "signing", "dr control") == []  # no pair: nothing to sign
