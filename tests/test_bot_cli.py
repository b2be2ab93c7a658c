"""`kafkaops bot` as people start it: from config, ready line, health, signed requests,
SIGTERM; tokens never printed; a missing or refused token is a clear error, not a trace."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import aiohttp
import yaml

from tests.conftest import KAFKAOPS, cli_env
from tests.slack_server import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackServer,
    form_body,
    post_signed,
    slash_command,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp: Path, config_data: dict, slack: dict) -> Path:
    path = tmp / "bot.yaml"
    path.write_text(yaml.safe_dump({**config_data, "slack": slack}))
    return path


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env or cli_env(),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_bot_command_serves_http_until_sigterm_and_never_prints_tokens(
    tmp_path: Path, config_data: dict
) -> None:
    port = free_port()
    async with SlackServer() as slack:
        env = {**cli_env(), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        cfg = write_config(
            tmp_path,
            config_data,
            {
                "mode": "http",
                "bot_token": "${SLACK_BOT_TOKEN}",
                "signing_secret": "${SLACK_SIGNING_SECRET}",
                "api_url": slack.api_url,
                "http": {"host": "127.0.0.1", "port": port},
            },
        )
        proc = await asyncio.create_subprocess_exec(
            KAFKAOPS, "--config", str(cfg), "bot", stderr=asyncio.subprocess.PIPE, env=env
        )
        assert proc.stderr is not None
        seen = b""
        try:
            while b"ready" not in seen:
                line = await asyncio.wait_for(proc.stderr.readline(), 30)
                assert line, seen.decode()
                seen += line
            assert f"/kafka ready, HTTP on http://127.0.0.1:{port}/slack/events".encode() in seen
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200
                url = slack.response_url()
                status, _ = await post_signed(
                    s,
                    f"http://127.0.0.1:{port}/slack/events",
                    form_body(slash_command("status", response_url=url)),
                )
                assert status == 200
                (reply,) = await slack.wait_for_response(url)
                assert "*primary*" in reply.text
            (auth,) = slack.calls_to("auth.test")[:1]
            assert auth.token == BOT_TOKEN
        finally:
            proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(proc.stderr.read(), 30)
            code = await proc.wait()
        log = (seen + rest).decode()
        assert code == 0, log
        assert "kafkaops bot: stopping" in log
        for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN):
            assert secret not in log


async def test_missing_token_variable_is_a_clear_error(tmp_path: Path, config_data: dict) -> None:
    env = {k: v for k, v in cli_env().items() if k != "KAFKAOPS_TEST_UNSET_TOKEN"}
    cfg = write_config(
        tmp_path,
        config_data,
        {
            "mode": "socket",
            "bot_token": "${KAFKAOPS_TEST_UNSET_TOKEN}",
            "app_token": "xapp-x",
        },
    )
    code, out = await run("--config", str(cfg), "bot", env=env)
    assert code == 2
    assert "slack.bot_token: environment variable KAFKAOPS_TEST_UNSET_TOKEN is not set" in out
    assert "Traceback" not in out


async def test_refused_token_is_a_clear_error(tmp_path: Path, config_data: dict) -> None:
    async with SlackServer() as slack:
        cfg = write_config(
            tmp_path,
            config_data,
            {
                "mode": "http",
                "bot_token": "xoxb-revoked",
                "signing_secret": "s",
                "api_url": slack.api_url,
                "http": {"host": "127.0.0.1", "port": free_port()},
            },
        )
        code, out = await run("--config", str(cfg), "bot")
    assert code == 2
    assert "slack.bot_token was refused by" in out and "invalid_auth" in out
    assert "xoxb-revoked" not in out and "Traceback" not in out


async def test_port_option_only_in_http_mode(tmp_path: Path, config_data: dict) -> None:
    async with SlackServer() as slack:
        cfg = write_config(
            tmp_path,
            config_data,
            {
                "mode": "socket",
                "bot_token": BOT_TOKEN,
                "app_token": APP_TOKEN,
                "api_url": slack.api_url,
            },
        )
        code, out = await run("--config", str(cfg), "bot", "--port", "3999")
    assert code == 2 and "--port applies to HTTP mode only" in out
    assert BOT_TOKEN not in out
