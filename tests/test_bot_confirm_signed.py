"""A Confirm click runs exactly what its prompt showed, whatever is written to
`_kafkaops.confirmations` by hand.

The attacker here can produce to the topic (a raw aiokafka producer, no kafkaops code) and
read it, but has no signing key: they write a next version of a pending flag toggle that
names another flag, or gives it a later expiry, or is garbage. The click that follows
changes nothing on the flags topic, the prompt says why, and the audit trail records the
refusal as `tampered`. A button whose digest names another request is refused the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.render.confirm import CONFIRM_ACTION_ID
from kafkaops.core.config import parse_config
from kafkaops.core.confirmations import (
    CONFIRMATIONS_TOPIC,
    Confirmation,
    ConfirmationStore,
    encode,
    is_sealed,
    request_digest,
    seal,
    signing_key,
)
from kafkaops.core.flags.service import FLAGS_TOPIC
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import produce, unique
from tests.slack_server import button_click
from tests.test_bot_confirm import demo_write


@pytest.fixture
async def rb(config_data: dict) -> AsyncIterator[RunningBot]:
    async with running_bot(config_data) as r:
        yield r


async def flag(rb: RunningBot) -> str:
    key = unique("signed-flag")
    await (await rb.bot.services.flags()).create(key, owner="sre", actor="setup@test", face="cli")
    return key


async def ask(rb: RunningBot, text: str, user: str = "U0CAROL") -> str:
    _, _, url = await rb.command(text, user=user)
    prompt = await rb.reply(url)
    return prompt.action_values[CONFIRM_ACTION_ID]


async def click(rb: RunningBot, value: str, user: str = "U0ALICE"):  # noqa: ANN201 - Call
    url = rb.slack.response_url()
    status, _ = await rb.click(button_click(CONFIRM_ACTION_ID, value, response_url=url, user=user))
    assert status == 200
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == url[len(rb.slack.url) - 1:]
        and "running…" not in c.params["text"])
    return final


async def pending(rb: RunningBot, value: str) -> Confirmation:
    cid = value.split("|")[0]
    rec = await ConfirmationStore(rb.bot.services, "primary").get(cid)
    assert rec is not None
    return rec


async def flags_records(rb: RunningBot) -> int:
    return (await (await rb.bot.services.topics()).topic_detail(FLAGS_TOPIC)).summary.messages or 0


def forged_next(rec: Confirmation, **changes: object) -> bytes:
    """A next version as an attacker writes it: right version numbers, no valid signature."""
    nxt = dataclasses.replace(rec, version=rec.version + 1, expects=rec.version,
                              write_id="attacker", **changes)  # type: ignore[arg-type]
    return encode(dataclasses.replace(nxt, sig="0" * 64))


FORGERIES = {
    "another-flag": lambda rec, other: forged_next(
        rec, target=other, params={**rec.params, "key": other}),
    "later-expiry": lambda rec, other: forged_next(rec, expires_at=rec.expires_at + 86400),
    "another-key": lambda rec, other: encode(seal(dataclasses.replace(
        rec, version=2, expects=1, params={**rec.params, "key": other}), b"guessed-key")),
    "garbage": lambda rec, other: b"\x00not a confirmation",
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_forged_next_version_changes_nothing_and_is_audited_as_tampered(
    rb: RunningBot, bootstrap: str, forgery: str
) -> None:
    asked, critical = await flag(rb), await flag(rb)
    value = await ask(rb, f"flag toggle {asked} --on --reason 'incident 12'")
    rec = await pending(rb, value)
    assert (rec.target, rec.params["key"]) == (asked, asked)
    await produce(bootstrap, CONFIRMATIONS_TOPIC, [FORGERIES[forgery](rec, critical)],
                  key=rec.id.encode(), partition=0)
    before = await flags_records(rb)

    reply = await click(rb, value)
    assert reply.params["replace_original"] is True  # the prompt itself says so
    assert f"This confirmation of *flag.write* `{asked}` was altered outside kafkaops" in (
        reply.text)
    assert "Nothing was changed" in reply.text

    flags = await rb.bot.services.flags()
    for key in (asked, critical):
        state = await flags.get(key)
        assert (state.enabled, state.version) == (False, 1), key
    assert await flags_records(rb) == before
    rows = [r for r in await (await rb.bot.services.audit()).records()
            if r.params.get("confirmation") == rec.id]
    assert [(r.actor, r.action, r.target, r.result) for r in rows] == [
        ("U0ALICE", "flag.write", asked, "tampered")]
    assert "without the signing key" in (rows[0].error or "")
    # every reader still sees the request as it was asked, and the forgery's offset
    again = ConfirmationStore(rb.bot.services, "primary")
    seen = await again.get(rec.id)
    assert seen is not None and (seen.version, seen.target, seen.expires_at) == (
        1, asked, rec.expires_at)
    assert len(again.tampered(rec.id)) == 1
    # and a second click is refused too: nothing runs on that confirmation any more
    assert "altered outside kafkaops" in (await click(rb, value, user="U0CAROL")).text
    assert (await flags.get(asked)).version == 1


async def test_a_button_naming_another_request_is_refused(rb: RunningBot) -> None:
    asked, other = await flag(rb), await flag(rb)
    value = await ask(rb, f"flag toggle {asked} --on")
    other_value = await ask(rb, f"flag toggle {other} --on")
    # the id of one request with the digest of another (a click crafted by hand)
    crafted = value.split("|")[0] + "|" + other_value.split("|")[1]
    reply = await click(rb, crafted)
    assert "altered outside kafkaops" in reply.text
    for key in (asked, other):
        assert (await (await rb.bot.services.flags()).get(key)).version == 1
    rows = [r for r in await (await rb.bot.services.audit()).records()
            if r.target == asked and r.face == "slack"]
    assert [(r.result, r.error) for r in rows] == [(
        "tampered", "confirmation refused: the button names a request other than the one "
        "kept for it")]
    # the real button still works: the request itself was not touched
    done = await click(rb, other_value)
    assert f"*{other}* (toggle): on" in done.text


async def test_records_on_the_topic_are_signed_with_the_confirmations_key(
    rb: RunningBot, config_data: dict
) -> None:
    value = await ask(rb, f"flag toggle {await flag(rb)} --on")
    rec = await pending(rb, value)
    key = signing_key(rb.bot.services.config)
    assert key == b"test-signing-key"  # audit.signing_key, as confirmations.signing_key is unset
    assert is_sealed(rec, key) and not is_sealed(rec, b"another")
    assert value.split("|")[1] == request_digest(rec, key)
    raw = json.loads(encode(rec))
    assert set(raw) >= {"sig", "params", "expires_at"}
    own = parse_config({**config_data, "confirmations": {"signing_key": "its-own"}}, "<t>")
    assert signing_key(own) == b"its-own"


async def test_without_any_key_nothing_is_shared(config_data: dict, bootstrap: str) -> None:
    data = {k: v for k, v in config_data.items() if k != "audit"}
    async with running_bot(data, setup=demo_write(bootstrap)) as rb:
        value = await ask(rb, f"demo write {unique('nokey')} v")
        assert "." not in value.split("|")[0]  # kept in this process's memory only
