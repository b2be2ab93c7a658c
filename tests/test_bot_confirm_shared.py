"""Confirmations shared by several bot replicas through `_kafkaops.confirmations`.

Each replica is a whole bot (its own Services, bolt app, HTTP transport and local Slack)
on the same embedded broker, as two `kafkaops bot` processes would be. A prompt posted by
one is confirmed on the other; simultaneous clicks on both run the action once; a replica
started after the request still honours it; expiry holds across replicas; and where no
cluster can keep it (read-only) the confirmation stays in the asking process, as before.
The compare-and-set fold itself is checked as a pure table.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from kafkaops.bot.app import Bot
from kafkaops.bot.confirm import Execution
from kafkaops.bot.render.common import Message, section
from kafkaops.bot.render.confirm import CANCEL_ACTION_ID, CONFIRM_ACTION_ID
from kafkaops.bot.router import Invocation
from kafkaops.core.confirmations import (
    CONFIRMATIONS_TOPIC,
    Confirmation,
    ConfirmationLog,
    ConfirmationStore,
    encode,
    seal,
)
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import produce, unique
from tests.slack_server import button_click


class Clock:
    """The replicas' shared clock, moved by the test (expiry without waiting ten minutes)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def counted_write(bootstrap: str):  # noqa: ANN201
    """`/kafka demo write TOPIC VALUE`: produces VALUE once per run, with no compare-and-set
    of its own, so a second run would show as a second record."""

    def setup(bot: Bot) -> None:
        async def run(ex: Execution) -> Message:
            async def write() -> int:
                await produce(bootstrap, ex.params["topic"], [ex.params["value"].encode()])
                return 1

            await ex.audited(write)
            return Message(f"wrote to {ex.target}", (section(f"wrote to `{ex.target}`"),))

        bot.confirmable("demo.write", run)

        def args(p) -> None:  # noqa: ANN001
            p.add_argument("topic")
            p.add_argument("value")

        async def handler(inv: Invocation) -> Message:
            return await inv.confirm(
                "demo.write",
                target=inv.args.topic,
                summary=Message(f"write {inv.args.value!r}", (section("write"),)),
                params={"topic": inv.args.topic, "value": inv.args.value},
            )

        bot.command("demo write", summary="write a record", arguments=args, action="demo.write")(
            handler
        )

    return setup


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def pair(
    config_data: dict, bootstrap: str, clock: Clock
) -> AsyncIterator[tuple[RunningBot, RunningBot]]:
    """Replicas A and B."""
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            running_bot(config_data, clock=clock, setup=counted_write(bootstrap))
        )
        b = await stack.enter_async_context(
            running_bot(config_data, clock=clock, setup=counted_write(bootstrap))
        )
        yield a, b


async def ask(rb: RunningBot, text: str, user: str = "U0ALICE") -> str:
    """Send a risky command; the confirmation id the prompt's buttons carry."""
    _, _, url = await rb.command(text, user=user)
    prompt = await rb.reply(url)
    assert CONFIRM_ACTION_ID in prompt.action_values, prompt.text
    return prompt.action_values[CONFIRM_ACTION_ID]


async def click(rb: RunningBot, pid: str, user: str, action: str = CONFIRM_ACTION_ID):  # noqa: ANN201
    """Click on this replica; its final answer (after any "running…" progress)."""
    url = rb.slack.response_url()
    path = url[len(rb.slack.url) - 1 :]
    status, _ = await rb.click(button_click(action, pid, response_url=url, user=user))
    assert status == 200
    (final,) = await rb.slack.wait_for(
        "response_url", lambda c: c.path == path and "running…" not in c.params["text"]
    )
    return final


async def new_topic(rb: RunningBot) -> str:
    name = unique("shared-confirm")
    await (await rb.bot.services.topics()).create_topics([NewTopicSpec(name, 1)])
    return name


async def records(rb: RunningBot, topic: str) -> int:
    return (await (await rb.bot.services.topics()).topic_detail(topic)).summary.messages or 0


async def trail(rb: RunningBot, target: str) -> list[tuple[str, str, str, str]]:
    """(actor, face, action, result) of the audit records about `target`, oldest first."""
    recs = await (await rb.bot.services.audit()).records()
    return [(r.actor, r.face, r.action, r.result) for r in recs if r.target == target]


async def stored(rb: RunningBot, pid: str) -> Confirmation | None:
    """The confirmation as a fresh reader of the topic sees it (not the bot's own copy);
    `pid` as a button carries it (id|digest)."""
    cid = pid.split("|")[0]
    cluster = cid.rsplit(".", 1)[0]
    return await ConfirmationStore(rb.bot.services, cluster).get(cid)


# ---------------------------------------------------------------- across replicas


async def test_flag_toggle_asked_on_a_is_confirmed_on_b_once(
    pair: tuple[RunningBot, RunningBot],
) -> None:
    a, b = pair
    key = unique("shared-flag")
    await (await a.bot.services.flags()).create(key, owner="sre", actor="setup@test", face="cli")
    pid = await ask(a, f"flag toggle {key} --on --reason 'incident 7'", user="U0CAROL")
    assert pid.startswith("primary.")  # kept on the flag's cluster, not in A's memory
    pending = await stored(b, pid)
    assert pending is not None and pending.state == "pending"
    assert (pending.action, pending.requester, pending.target) == ("flag.write", "U0CAROL", key)
    assert pending.expires_at - pending.created_at == 600

    done = await click(b, pid, user="U0ALICE")
    assert f"*{key}* (toggle): on" in done.text
    assert "requested by <@U0CAROL> · confirmed by <@U0ALICE>" in done.text

    again = await click(a, pid, user="U0CAROL")  # the asking replica learns it was used
    assert "was already confirmed by <@U0ALICE>" in again.text

    state = await (await a.bot.services.flags()).get(key)
    assert (state.enabled, state.version, state.updated_by) == (True, 2, "U0ALICE")
    assert [t for t in await trail(a, key) if t[1] == "slack"] == [
        ("U0ALICE", "slack", "flag.toggle", "ok")
    ]
    final = await stored(a, pid)
    assert final is not None and (final.state, final.used_by) == ("done", "U0ALICE")


async def test_simultaneous_confirms_on_two_replicas_run_once(
    pair: tuple[RunningBot, RunningBot],
) -> None:
    a, b = pair
    topic = await new_topic(a)
    pid = await ask(a, f"demo write {topic} once")
    answers = await asyncio.gather(
        click(a, pid, user="U0ALICE"), click(b, pid, user="U0CAROL"),
        click(b, pid, user="U0ALICE"), click(a, pid, user="U0CAROL"),
    )
    texts = [t.text for t in answers]
    assert sum(f"wrote to `{topic}`" in t for t in texts) == 1, texts
    assert sum("was already confirmed by" in t for t in texts) == 3, texts
    assert await records(a, topic) == 1
    assert [t for t in await trail(a, topic) if t[3] == "ok"] == [
        (next(u for u, t in zip(("U0ALICE", "U0CAROL", "U0ALICE", "U0CAROL"), texts,
                                strict=True) if "wrote to" in t), "slack", "demo.write", "ok")
    ]


async def test_a_replica_started_after_the_request_honours_it(
    config_data: dict, bootstrap: str, clock: Clock
) -> None:
    async with running_bot(config_data, clock=clock, setup=counted_write(bootstrap)) as a:
        topic = await new_topic(a)
        pid = await ask(a, f"demo write {topic} after-restart")
    # A is gone (its memory with it); a new process comes up and gets the click
    async with running_bot(config_data, clock=clock, setup=counted_write(bootstrap)) as c:
        done = await click(c, pid, user="U0ALICE")
        assert f"wrote to `{topic}`" in done.text
        assert await records(c, topic) == 1
        assert await trail(c, topic) == [("U0ALICE", "slack", "demo.write", "ok")]


async def test_cancel_on_one_replica_stops_the_other(
    pair: tuple[RunningBot, RunningBot],
) -> None:
    a, b = pair
    topic = await new_topic(a)
    pid = await ask(a, f"demo write {topic} never")
    cancelled = await click(b, pid, user="U0ALICE", action=CANCEL_ACTION_ID)
    assert "cancel" in cancelled.text.lower()
    late = await click(a, pid, user="U0ALICE")
    assert "was already cancelled by <@U0ALICE>" in late.text
    assert await records(a, topic) == 0
    assert await trail(a, topic) == [("U0ALICE", "slack", "demo.write", "cancelled")]
    rec = await stored(b, pid)
    assert rec is not None and rec.state == "cancelled"


async def test_expiry_holds_across_replicas(
    pair: tuple[RunningBot, RunningBot], clock: Clock
) -> None:
    a, b = pair
    topic = await new_topic(a)
    pid = await ask(a, f"demo write {topic} too-late")
    clock.now += 10 * 60 + 1
    expired = await click(b, pid, user="U0ALICE")
    assert "expired" in expired.text and "Nothing was changed" in expired.text
    clock.now -= 10 * 60 + 1  # even a replica whose clock is behind sees it written back
    again = await click(a, pid, user="U0ALICE")  # the prompt loses its buttons there too
    assert "expired" in again.text and again.params["replace_original"] is True
    assert await records(a, topic) == 0
    assert await trail(a, topic) == [("U0ALICE", "slack", "demo.write", "expired")]
    rec = await stored(a, pid)
    assert rec is not None and rec.state == "expired"


async def test_read_only_cluster_keeps_the_confirmation_in_the_asking_process(
    config_data: dict, bootstrap: str, clock: Clock, services: Services
) -> None:
    data = copy.deepcopy(config_data)
    for c in data["clusters"].values():
        c["read_only"] = True  # kafkaops may write to neither: nothing is shared
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            running_bot(data, clock=clock, setup=counted_write(bootstrap))
        )
        b = await stack.enter_async_context(
            running_bot(data, clock=clock, setup=counted_write(bootstrap))
        )
        topic = unique("shared-confirm")  # created through a writable config
        await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
        pid = await ask(a, f"demo write {topic} local")
        assert "." not in pid.split("|")[0]  # a memory id, naming no cluster
        unknown = await click(b, pid, user="U0ALICE")
        assert "not known to the bot" in unknown.text
        assert await records(a, topic) == 0
        # A knows it and runs it; the change itself is refused by the guardrail, since
        # kafkaops never writes to a read-only cluster
        done = await click(a, pid, user="U0ALICE")
        assert "not known" not in done.text
        assert "cluster 'primary' is read-only" in done.text
        assert await records(a, topic) == 0
        again = await click(a, pid, user="U0ALICE")
        assert "was already confirmed by <@U0ALICE>" in again.text


async def test_forged_ids_are_unknown_and_change_nothing(
    pair: tuple[RunningBot, RunningBot],
) -> None:
    a, _ = pair
    for pid in ("primary.nosuchconfirmation", "nosuchcluster.abc", "", "abc"):
        reply = await click(a, pid, user="U0ALICE")
        assert "not known to the bot" in reply.text, pid


# ---------------------------------------------------------------- the fold (pure)


KEY = b"fold-test-key"


def _rec(state: str = "pending", version: int = 1, expects: int = 0, by: str | None = None,
         write_id: str = "w") -> tuple[bytes, bytes]:
    rec = Confirmation(
        id="primary.x", action="flag.write", requester="U1", target="f", params={"a": [1]},
        summary="s", created_at=0.0, expires_at=600.0, state=state,  # type: ignore[arg-type]
        used_by=by, version=version, expects=expects, write_id=write_id,
    )
    return b"primary.x", encode(seal(rec, KEY))


@pytest.mark.parametrize(
    ("log", "applied", "state", "used_by"),
    [
        # two claims that both read version 1: the first in the log wins, everywhere
        ([_rec(), _rec("confirmed", 2, 1, "A"), _rec("confirmed", 2, 1, "B")],
         [True, True, False], "confirmed", "A"),
        ([_rec(), _rec("cancelled", 2, 1, "B"), _rec("confirmed", 2, 1, "A")],
         [True, True, False], "cancelled", "B"),
        # the winner's done follows its claim; a stale write after it is ignored
        ([_rec(), _rec("confirmed", 2, 1, "A"), _rec("done", 3, 2, "A"),
          _rec("expired", 2, 1, "C")], [True, True, True, False], "done", "A"),
        # a reader meeting the key after compaction accepts what is left
        ([_rec("confirmed", 2, 1, "A")], [True], "confirmed", "A"),
        # a second "new" record for an existing id is ignored (ids are random)
        ([_rec(), _rec("pending", 1, 0)], [True, False], "pending", None),
        # damaged, foreign and tombstone records are ignored
        ([(b"primary.x", b"{not json"), (b"primary.x", None), (b"other", _rec()[1]), _rec()],
         [False, False, False, True], "pending", None),
    ],
)
def test_fold_applies_compare_and_set_in_log_order(
    log: list[tuple[bytes, bytes | None]], applied: list[bool], state: str, used_by: str | None
) -> None:
    fold = ConfirmationLog(KEY)
    assert [fold.apply(k, v) for k, v in log] == applied
    got = fold.states["primary.x"]
    assert (got.state, got.used_by, got.params) == (state, used_by, {"a": [1]})


def test_record_is_plain_json_with_every_field() -> None:
    _, value = _rec()
    data = json.loads(value)
    for f in ("id", "action", "requester", "target", "params", "summary", "created_at",
              "expires_at", "state", "sig"):
        assert f in data
    assert CONFIRMATIONS_TOPIC == "_kafkaops.confirmations"
