"""Snoozing an alert from its Slack message: only people with `alerts.snooze` may, for 1h,
4h or until it resolves, and unsnooze; the channel's message says who snoozed it until
when; every snooze and every refusal is on the audit trail. Through the bot's real HTTP
listener, the alerts topic on the embedded broker and the local Slack."""

from __future__ import annotations

import time

from kafkaops.bot.render.alerts import (
    SNOOZE_4H_ACTION,
    SNOOZE_ACTION,
    SNOOZE_RESOLVED_ACTION,
    UNSNOOZE_ACTION,
)
from kafkaops.core.alerts.book import AlertBook
from kafkaops.core.alerts.model import AlertEvent
from tests.alerts_support import all_text
from tests.conftest import unique
from tests.offsets_support import commit_as_consumer, make_known_topic, stopped_group
from tests.test_alerts_bot import bot_with_alerts, buttons_of, click


async def snooze_rows(rb, alert_id: str) -> list[tuple[str, str, str, str]]:  # noqa: ANN001
    records = await (await rb.bot.services.audit()).records()
    return [(r.actor, r.action, r.result, r.params.get("snooze", "")) for r in records
            if r.target == alert_id]


async def test_snooze_needs_its_permission_and_shows_in_the_channel(
    config_data: dict, bootstrap: str
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 12, 1: 25})
    rule = {"name": unique("stopped"), "match": {"group": group},
            "when": "status == STOP and lag > 10", "channel": "C0ORDERS"}
    async with bot_with_alerts(config_data, [rule]) as (rb, alerts):
        (post,) = await rb.slack.wait_for(
            "chat.postMessage", lambda c: c.params.get("channel") == "C0ORDERS", within=30)
        buttons = buttons_of(post)
        assert {SNOOZE_ACTION, SNOOZE_4H_ACTION, SNOOZE_RESOLVED_ACTION} <= set(buttons)
        alert_id = buttons[SNOOZE_ACTION]

        # bob is in no role: refused, told why, audited; nothing on the topic or in Slack
        for action in (SNOOZE_ACTION, SNOOZE_4H_ACTION, SNOOZE_RESOLVED_ACTION,
                       UNSNOOZE_ACTION):
            text = await click(rb, action, alert_id, user="U0BOB")
            assert "Denied: alerts.snooze" in text and "allowed: oncall" in text
        book = await alerts.log.read_book()
        assert not book.get(alert_id).snoozed(time.time())  # type: ignore[union-attr]
        assert rb.slack.calls_to("chat.update") == []
        assert [(a, act, res) for a, act, res, _ in await snooze_rows(rb, alert_id)] == [
            ("U0BOB", "alert.snooze", "refused")] * 3 + [("U0BOB", "alert.unsnooze", "refused")]

        # alice (on call) snoozes for 4h: the channel's message says so, with Unsnooze
        before = time.time()
        text = await click(rb, SNOOZE_4H_ACTION, alert_id, user="U0ALICE")
        assert f"Snoozed `{alert_id}` until" in text
        (update,) = await rb.slack.wait_for("chat.update", within=30)
        view = (await alerts.log.read_book()).get(alert_id)
        assert view is not None and view.message is not None
        # the alert's own message, as the alerts topic names it
        assert (update.params["channel"], update.params["ts"]) == ("C0ORDERS", view.message.ts)
        shown = all_text(update)
        assert "Snoozed by <@U0ALICE> until <!date^" in shown
        assert set(buttons_of(update)) >= {UNSNOOZE_ACTION}
        assert SNOOZE_ACTION not in buttons_of(update)
        assert view.snoozed_by == "U0ALICE"
        assert before + 4 * 3600 - 5 <= (view.snoozed_until or 0) <= time.time() + 4 * 3600

        # until it resolves, then unsnooze: each one updates the message again
        await click(rb, SNOOZE_RESOLVED_ACTION, alert_id, user="U0CAROL")
        (_, until_resolved) = await rb.slack.wait_for("chat.update", count=2, within=30)
        assert "Snoozed by <@U0CAROL> until it resolves" in all_text(until_resolved)
        view = (await alerts.log.read_book()).get(alert_id)
        assert view is not None and view.snoozed_seq == view.seq and view.snoozed(time.time())

        text = await click(rb, UNSNOOZE_ACTION, alert_id, user="U0ALICE")
        assert "Lifted the snooze" in text
        (*_, lifted) = await rb.slack.wait_for("chat.update", count=3, within=30)
        assert "Snooze lifted by <@U0ALICE>" in all_text(lifted)
        assert SNOOZE_ACTION in buttons_of(lifted)
        view = (await alerts.log.read_book()).get(alert_id)
        assert view is not None and not view.snoozed(time.time())

        rows = [r for r in await snooze_rows(rb, alert_id) if r[2] == "ok"]
        assert rows == [("U0ALICE", "alert.snooze", "ok", "Snooze 4h"),
                        ("U0CAROL", "alert.snooze", "ok", "Snooze until resolved"),
                        ("U0ALICE", "alert.unsnooze", "ok", "Unsnooze")]
        # /kafka alerts shows it firing, no longer snoozed
        _, _, url = await rb.command("alerts")
        assert "snoozed" not in all_text(await rb.reply(url))

        # and a resolution still closes the message
        await commit_as_consumer(bootstrap, group, known.name, {0: 30, 1: 30})
        await rb.slack.wait_for("chat.update", lambda c: "RESOLVED" in all_text(c), within=30)


async def test_a_snooze_of_an_unknown_alert_changes_nothing(config_data: dict) -> None:
    async with bot_with_alerts(config_data, []) as (rb, alerts):
        text = await click(rb, SNOOZE_4H_ACTION, "a-" + "0" * 20, user="U0ALICE")
        assert "no alert a-00000000000000000000 on the alerts topic; nothing was snoozed" in text
        assert (await alerts.log.read_book()).alerts == {}
        assert rb.slack.calls_to("chat.update") == []


# ---------------------------------------------------------------- the fold (pure)


def _firing(seq: int, at: float) -> AlertEvent:
    return AlertEvent(type="firing", alert_id="a-1", at=at, seq=seq)


def test_the_newest_snooze_is_in_force_and_until_resolved_ends_with_the_episode() -> None:
    book = AlertBook()
    book.apply(_firing(1, 100.0), 0)
    view = book.get("a-1")
    assert view is not None
    book.apply(AlertEvent(type="snoozed", alert_id="a-1", at=101.0, until=5000.0, by="U1"))
    assert view.snoozed(200.0) and not view.snoozed(5001.0)
    # a later, shorter snooze is what holds now (not the longest one)
    book.apply(AlertEvent(type="snoozed", alert_id="a-1", at=102.0, until=300.0, by="U2"))
    assert (view.snoozed(200.0), view.snoozed(301.0), view.snoozed_by) == (True, False, "U2")
    # lifted
    book.apply(AlertEvent(type="snoozed", alert_id="a-1", at=103.0, until=0.0, by="U3"))
    assert (view.snoozed(200.0), view.snoozed_by) == (False, "")
    # until this episode resolves, however long that takes
    book.apply(AlertEvent(type="snoozed", alert_id="a-1", at=104.0, seq=1, by="U4"))
    assert view.snoozed(10**9)
    book.apply(AlertEvent(type="resolved", alert_id="a-1", at=105.0, seq=1), 1)
    assert not view.snoozed(106.0)
    book.apply(_firing(2, 200.0), 2)
    assert not view.snoozed(201.0)  # the next episode is posted again
    # a snooze record that round-trips through JSON keeps "until resolved" apart from 0
    back = AlertEvent.decode(AlertEvent(type="snoozed", alert_id="a-1", at=1.0, seq=2).encode())
    lift = AlertEvent.decode(AlertEvent(type="snoozed", alert_id="a-1", at=1.0, until=0.0
                                        ).encode())
    assert (back.until, back.seq, lift.until) == (None, 2, 0.0)
