"""`/kafka flag ...` against real flags on the embedded broker: reads for anyone; writes
only for permitted roles, through Confirm, compare-and-set, and audited with the Slack user
as actor (read back with the `kafkaops audit list --json` command itself)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.core.flags.service import FlagState
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import KAFKAOPS, cli_env, unique
from tests.slack_server import button_click


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


async def new_flag(rb: RunningBot, **kw: object) -> str:
    key = unique("bot-flag")
    svc = await rb.bot.services.flags()
    await svc.create(key, owner="payments", actor="setup@test", face="cli", **kw)  # type: ignore[arg-type]
    return key


async def flag(rb: RunningBot, key: str) -> FlagState:
    return await (await rb.bot.services.flags()).get(key)


async def ask(rb: RunningBot, text: str, user: str) -> str:
    """Send a write; the pending confirmation id from the prompt."""
    _, _, url = await rb.command(text, user=user)
    prompt = await rb.reply(url)
    assert CONFIRM_ACTION_ID in prompt.action_values, prompt.text
    return prompt.action_values[CONFIRM_ACTION_ID]


async def confirm(rb: RunningBot, pid: str, user: str) -> str:
    url = rb.slack.response_url()
    path = url[len(rb.slack.url) - 1 :]
    await rb.click(button_click(CONFIRM_ACTION_ID, pid, response_url=url, user=user))
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == path and "running…" not in c.params["text"]
    )
    return final.text


async def test_list_and_get_show_the_flag(rb: RunningBot) -> None:
    key = await new_flag(rb, description="new checkout flow")
    reply = await rb.page_with("flag list", f"*{key}*", user="U0BOB")
    row = next(b["text"]["text"] for b in reply.blocks
               if b["type"] == "section" and f"*{key}*" in b["text"]["text"])
    assert f"*{key}* · *off* · v1\nvalue `true` · owner payments · " in row
    # ⋯ on the flag: turn it on, roll it out, its history (each asks for Confirm when run)
    menu = rb_menu(reply, key)
    assert menu[:2] == [f"flag toggle {key} --on --cluster primary",
                        f"flag rollout {key} 10 --cluster primary"]
    _, _, url = await rb.command(f"flag get {key}", user="U0BOB")
    got = await rb.reply(url)
    assert f"*{key}* is *off*" in got.text and "new checkout flow" in got.text
    assert "*Owner*\npayments" in got.text
    assert f"flag toggle {key} --on --cluster primary" in got.action_values.values()


def rb_menu(reply: Any, key: str) -> list[str]:
    """The commands of the ⋯ menu of a flag's row."""
    for b in reply.blocks:
        if b["type"] == "section" and f"*{key}*" in b["text"]["text"]:
            return [o["value"] for o in b["accessory"]["options"]]
    raise AssertionError(f"no row for {key}")


async def test_user_without_the_role_cannot_toggle(rb: RunningBot) -> None:
    key = await new_flag(rb)
    _, _, url = await rb.command(f"flag toggle {key} --on", user="U0BOB")
    reply = await rb.reply(url)
    assert "Denied: flag.write" in reply.text and reply.action_values == {}
    state = await flag(rb, key)
    assert (state.enabled, state.version) == (False, 1)


async def test_permitted_toggle_goes_through_confirm_and_is_audited_with_the_slack_user(
    rb: RunningBot, config_file: Path
) -> None:
    key = await new_flag(rb)
    pid = await ask(rb, f"flag toggle {key} --reason 'incident 42'", user="U0CAROL")
    prompt = rb.slack.calls_to("response_url")[-1].text
    assert f"*{key}*: switch off → on" in prompt
    assert "after: on, value true (v2)" in prompt
    assert (await flag(rb, key)).enabled is False  # nothing before Confirm

    done = await confirm(rb, pid, user="U0CAROL")
    assert f"*{key}* (toggle): on, value true (v2)" in done
    state = await flag(rb, key)
    assert (state.enabled, state.version, state.updated_by, state.reason) == (
        True,
        2,
        "U0CAROL",
        "incident 42",
    )
    proc = await asyncio.create_subprocess_exec(
        KAFKAOPS,
        "--config",
        str(config_file),
        "audit",
        "list",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    mine = [r for r in json.loads(out) if r["target"] == key and r["face"] == "slack"]
    assert [(r["actor"], r["action"], r["result"]) for r in mine] == [
        ("U0CAROL", "flag.toggle", "ok")
    ]


async def test_a_change_between_prompt_and_confirm_is_a_conflict_and_writes_nothing(
    rb: RunningBot,
) -> None:
    key = await new_flag(rb)
    pid = await ask(rb, f"flag rollout {key} 30", user="U0ALICE")
    svc = await rb.bot.services.flags()
    await svc.rollout(key, 50, actor="someone@else", face="cli")  # v2, while the prompt waits
    done = await confirm(rb, pid, user="U0ALICE")
    assert "failed" in done and "version" in done
    state = await flag(rb, key)
    assert (state.rollout, state.version, state.updated_by) == (50, 2, "someone@else")


async def test_rollout_set_and_rollback(rb: RunningBot) -> None:
    key = await new_flag(rb, type="string", default="v1", value="v2")
    await confirm(rb, await ask(rb, f"flag rollout {key} 25", user="U0ALICE"), user="U0ALICE")
    done = await confirm(
        rb, await ask(rb, f'flag set {key} "v3 beta"', user="U0ALICE"), user="U0CAROL"
    )
    assert "requested by <@U0ALICE> · confirmed by <@U0CAROL>" in done
    state = await flag(rb, key)
    assert (state.rollout, state.value, state.version) == (25, "v3 beta", 3)
    assert state.reason == "(requested by U0ALICE in Slack)"
    await confirm(rb, await ask(rb, f"flag rollback {key} 1", user="U0ALICE"), user="U0ALICE")
    state = await flag(rb, key)
    assert (state.rollout, state.value, state.version) == (100, "v2", 4)
    _, _, url = await rb.command(f"flag history {key}")
    history = (await rb.reply(url)).text
    assert history.index("rollback") < history.index("rollout")  # newest first


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("flag rollout {key} 150", "rollout"),
        ("flag rollout {key} lots", "rollout"),
        ("flag toggle {key} --on --off", "not allowed with argument"),
        ("flag toggle nosuch-flag-xyz", "no flag named 'nosuch-flag-xyz'"),
        ("flag toggle {key} --if-version 7", "version"),
        ("flag rollback {key} 1", "already at version 1"),
        # a change that changes nothing is said, with no Confirm button (new_flag: off, 100%)
        ("flag rollout {key} 100", "nothing to change"),
        ("flag toggle {key} --off", "nothing to change"),
    ],
)
async def test_bad_flag_writes_change_nothing(rb: RunningBot, text: str, problem: str) -> None:
    key = await new_flag(rb)
    status, ack, url = await rb.command(text.format(key=key), user="U0ALICE")
    body = json.loads(ack)
    if "Working on" in body.get("text", ""):
        reply = await rb.reply(url)
        assert reply.action_values == {}
        shown = reply.text
    else:
        shown = json.dumps(body)
    assert problem in shown
    assert (await flag(rb, key)).version == 1


async def test_flag_eval_answers_is_this_user_in(rb: RunningBot) -> None:
    key = await new_flag(rb)
    svc = await rb.bot.services.flags()
    await svc.toggle(key, True, actor="setup@test", face="cli")
    _, _, url = await rb.command(f"flag eval {key} cust-1 cust-2")
    text = (await rb.reply(url)).text
    assert "cust-1" in text and "cust-2" in text and "true" in text
