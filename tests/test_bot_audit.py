"""What the audit trail keeps of the bot, read back with `kafkaops audit list --json` (a
separate process, as an auditor would) and `/kafka audit`:

- a refusal for want of a role, and a refusal because the cluster is read-only (written to
  a trail that may be written: read-only means nothing is written there), from Slack, the
  CLI and the console;
- a Cancel and an expiry, with who asked;
- a confirmed change with both users (requested_by, confirmed_by), its --reason and the
  Slack channel;
- a forged record and a replayed copy on the audit topic, marked in both listings;
- every trail the config names in one listing, the cluster per row.
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.bot.render.confirm import CANCEL_ACTION_ID, CONFIRM_ACTION_ID
from kafkaops.core.audit.chain import build_record
from kafkaops.core.messages.service import MessageService
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import KAFKAOPS, cli_env, produce, unique
from tests.slack_server import button_click


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def audited(config_data: dict, tmp_path: Path) -> tuple[dict, Path]:
    """Config with a fresh audit topic and dr read-only, and the same config as a file."""
    data = copy.deepcopy(config_data)
    data["audit"]["topic"] = unique("_kafkaops.audit")
    data["clusters"]["dr"]["read_only"] = True
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return data, path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def rb(audited: tuple[dict, Path], clock: Clock) -> AsyncIterator[RunningBot]:
    async with running_bot(audited[0], clock=clock) as r:
        yield r


async def kafkaops(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(path), *args], capture_output=True,
        text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)


async def audit_list(path: Path, *args: str) -> list[dict[str, Any]]:
    out = await kafkaops(path, "audit", "list", "--json", *args)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


async def flag(rb: RunningBot) -> str:
    key = unique("audited-flag")
    await (await rb.bot.services.flags()).create(key, owner="sre", actor="setup@test", face="cli")
    return key


async def ask(rb: RunningBot, text: str, user: str) -> str:
    _, _, url = await rb.command(text, user=user, channel="C0WARROOM")
    return (await rb.reply(url)).action_values[CONFIRM_ACTION_ID]


async def click(rb: RunningBot, value: str, user: str, action: str = CONFIRM_ACTION_ID
                ) -> str:
    url = rb.slack.response_url()
    status, _ = await rb.click(button_click(action, value, response_url=url, user=user))
    assert status == 200
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == url[len(rb.slack.url) - 1:]
        and "running…" not in c.params["text"])
    return final.text


def about(rows: list[dict[str, Any]], target: str, face: str = "slack") -> list[dict[str, Any]]:
    return [r for r in rows if r["target"] == target and r["face"] == face]


async def test_refusals_cancels_expiries_and_both_users_are_on_the_trail(
    rb: RunningBot, audited: tuple[dict, Path], clock: Clock
) -> None:
    _, path = audited
    denied, ro, done, cancelled, expired = [await flag(rb) for _ in range(5)]

    # no role
    _, _, url = await rb.command(f"flag toggle {denied}", user="U0BOB", channel="C0WARROOM")
    assert "Denied: flag.write" in (await rb.reply(url)).text
    # a read-only cluster, from Slack and from the CLI (dr keeps nothing of kafkaops)
    _, _, url = await rb.command(f"flag toggle {ro} --cluster dr", user="U0ALICE")
    assert "cluster 'dr' is read-only" in (await rb.reply(url)).text
    out = await kafkaops(path, "-c", "dr", "flags", "toggle", ro, "--reason", "try", "--yes")
    assert out.returncode == 1 and "cluster 'dr' is read-only" in out.stderr
    # asked by carol with a reason, confirmed by alice
    value = await ask(rb, f"flag toggle {done} --on --reason 'incident 9'", user="U0CAROL")
    assert f"*{done}* (toggle): on" in await click(rb, value, user="U0ALICE")
    # cancelled by its requester
    value = await ask(rb, f"flag toggle {cancelled} --on", user="U0CAROL")
    assert "cancelled by <@U0CAROL>" in await click(rb, value, "U0CAROL", CANCEL_ACTION_ID)
    # clicked after it expired
    value = await ask(rb, f"flag toggle {expired} --on", user="U0CAROL")
    clock.now += 11 * 60
    assert "expired" in await click(rb, value, user="U0ALICE")

    rows = await audit_list(path)
    keys = ("actor", "action", "result", "cluster", "trail", "requested_by", "confirmed_by",
            "reason", "channel", "problem")

    def view(r: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(r[k] for k in keys)

    assert [view(r) for r in about(rows, denied)] == [
        ("U0BOB", "flag.write", "refused", "primary", "primary", None, None, None,
         "C0WARROOM", None)]
    assert [view(r) for r in about(rows, ro)] == [
        ("U0ALICE", "flag.write", "refused", "dr", "primary", None, None, None, "C0INCIDENT",
         None)]
    (cli_refusal,) = [r for r in about(rows, ro, face="cli") if r["result"] == "refused"]
    assert (cli_refusal["action"], cli_refusal["result"], cli_refusal["cluster"],
            cli_refusal["trail"], cli_refusal["reason"]) == (
        "flags.toggle", "refused", "dr", "primary", "try")
    assert "cluster 'dr' is read-only" in cli_refusal["error"]
    assert [view(r) for r in about(rows, done)] == [
        ("U0ALICE", "flag.toggle", "ok", "primary", "primary", "U0CAROL", "U0ALICE",
         "incident 9 (requested by U0CAROL in Slack)", "C0WARROOM", None)]
    assert [view(r) for r in about(rows, cancelled)] == [
        ("U0CAROL", "flag.write", "cancelled", "primary", "primary", "U0CAROL", None, None,
         "C0WARROOM", None)]
    assert [view(r) for r in about(rows, expired)] == [
        ("U0ALICE", "flag.write", "expired", "primary", "primary", "U0CAROL", None, None,
         "C0WARROOM", None)]
    # nothing at all was written to the read-only cluster's trail
    assert [r for r in rows if r["trail"] == "dr"] == []


def forged(target: str) -> bytes:
    """An audit record as someone with produce rights but no key would write it."""
    fields = build_record(
        key=b"not-the-key", change_id="f" * 32, time_ms=int(time.time() * 1000),
        cluster="primary", actor="U0ALICE", face="slack", action="flag.toggle", target=target,
        params={}, result="ok", detail=None, error=None, writer="mallory-1", seq=1, prev="",
        head=None)
    return json.dumps(fields).encode()


async def test_forged_and_replayed_records_are_marked_in_both_listings(
    rb: RunningBot, audited: tuple[dict, Path], bootstrap: str
) -> None:
    data, path = audited
    topic = data["audit"]["topic"]
    real = await flag(rb)  # writes one genuine record (flag.create by setup@test)
    fake = unique("forged-flag")
    await produce(bootstrap, topic, [forged(fake)], partition=0)
    genuine = (await (await rb.bot.services.audit()).records())[-2]
    assert genuine.target == real
    conn = await rb.bot.services.connection()  # replay the genuine record's own bytes
    (msg,) = [m for m in await MessageService(conn).read(topic) if m.offset == genuine.offset]
    await produce(bootstrap, topic, [msg.value or b""], partition=0)
    await produce(bootstrap, topic, [b"{not an audit record"], partition=0)

    out = await kafkaops(path, "audit", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    mine = [r for r in rows if r["trail"] == "primary"]
    problems = sorted((r["offset"], r["target"], r["problem"]) for r in mine if r["problem"])
    assert [p[1:] for p in problems] == [(fake, "bad-signature"), (real, "duplicate")]
    # not an audit record at all: not a row, named by its offset
    (note,) = out.stderr.splitlines()
    assert note.startswith(f"kafkaops: skipped {topic} offset {problems[-1][0] + 1}: ")
    assert [r["problem"] for r in mine if r["offset"] == genuine.offset] == [None]

    out = await kafkaops(path, "audit", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    (forged_line,) = [ln for ln in lines if fake in ln]
    assert " FORGED " in forged_line
    assert sum(" REPLAYED " in ln for ln in lines if real in ln) == 1
    assert "3 record(s) failed verification" in out.stdout
    (read,) = [ln for ln in lines if ln.startswith("trails read: ")]
    assert "primary (" in read and "dr (" in read

    _, _, url = await rb.command("audit 50")
    shown = (await rb.reply(url)).text
    (slack_line,) = [ln for ln in shown.splitlines() if f"`{fake}`" in ln]
    assert slack_line.endswith(" · :rotating_light: *FORGED*")
    assert "3 records failed verification" in shown
    assert "1 record on *primary*'s trail is not an audit record at all" in shown
    assert "of dr, primary" in shown or "of primary, dr" in shown  # every trail, said plainly

    # -c names one trail, and the listing says which
    out = await kafkaops(path, "-c", "dr", "audit", "list")
    assert out.returncode == 0
    assert out.stdout == f"no audit records on {topic} (dr)\n"  # dr is read-only: empty


async def test_a_read_only_refusal_in_the_console_is_on_a_writable_trail(
    audited: tuple[dict, Path],
) -> None:
    """The third face: a flag switched in the console on a read-only cluster. The refusal
    goes on the trail of a cluster that may be written (here dr), naming primary."""
    from kafkaops.console.app import KafkaOpsApp
    from kafkaops.console.flags import FlagsScreen
    from kafkaops.core.config import parse_config
    from kafkaops.core.services import Services
    from tests.test_flags_console import SIZE, find, text_of, wait_until

    rw_data, _ = audited
    rw_data = copy.deepcopy(rw_data)
    rw_data["clusters"]["dr"]["read_only"] = False
    key = unique("ro-console")
    async with Services(parse_config(rw_data, "<rw>")) as rw:
        await (await rw.flags()).create(key, actor="setup@test", face="cli")
    ro_data = copy.deepcopy(rw_data)
    ro_data["clusters"]["primary"]["read_only"] = True
    async with Services(parse_config(ro_data, "<read-only>")) as services, Services(
            parse_config(rw_data, "<rw>")) as rw:
        app = KafkaOpsApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = FlagsScreen()
            await app.push_screen(screen)
            await find(pilot, screen, key)
            await pilot.press("space")
            await wait_until(pilot, lambda: "refused" in text_of(screen, "flag-result"),
                             "refusal")
            deadline = time.monotonic() + 30
            while not (on_dr := await (await rw.audit("dr")).records()):
                assert time.monotonic() < deadline, "no refusal on dr's trail"
                await pilot.pause(0.2)
        on_primary = await (await rw.audit("primary")).records()
    assert [(r.face, r.action, r.target, r.result, r.cluster) for r in on_dr] == [
        ("console", "flag.write", key, "refused", "primary")]
    assert "read-only" in (on_dr[0].error or "")
    assert [r.result for r in on_primary if r.target == key] == ["ok"]  # the create only


async def test_audit_verify_in_slack_checks_every_trail_and_names_the_bad_one(
    rb: RunningBot, audited: tuple[dict, Path], clusters: Any
) -> None:
    """A forged record on the dr trail (where a failover writes its steps): `/kafka audit
    verify` checks every cluster's trail and says which one failed; --cluster names one."""
    data, _ = audited
    topic = data["audit"]["topic"]
    await flag(rb)  # a genuine record on primary's trail
    await produce(clusters.bootstrap("dr"), topic, [forged(unique("on-dr"))], partition=0)
    _, _, url = await rb.command("audit verify")
    reply = await rb.reply(url)
    assert reply.text.startswith("audit trails: 1 not OK: OK on primary")
    assert "FAILED on dr: 1 bad records" in reply.text
    assert ":rotating_light: *Audit trail FAILED verification:* 1 bad record." in reply.text
    assert "`_kafkaops" in reply.text and "on dr: 1 records" in reply.text
    _, _, url = await rb.command("audit verify --cluster primary")
    only = await rb.reply(url)
    assert only.text.startswith("audit trail OK on primary"), only.text
