"""Alert messages in Slack against stored JSON (tests/fixtures/slack/alert_*.json), and what
a reader must find in them.

To accept a deliberate change of layout: `KAFKAOPS_UPDATE_FIXTURES=1 pytest
tests/test_alerts_render.py`, then read the diff of tests/fixtures/slack/ before committing.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from kafkaops.bot.render.alerts import (
    render_ack_reply,
    render_action,
    render_alert_list,
    render_firing,
    render_notice,
    render_resolved,
    render_snooze_reply,
    render_thread,
)
from kafkaops.core.alerts.book import Action, AlertBook, MessageRef
from kafkaops.core.alerts.model import AlertEvent, Subject
from tests.slack_server import _texts

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
UPDATE = os.environ.get("KAFKAOPS_UPDATE_FIXTURES") == "1"
T0 = 1_700_000_000.0

FIRING = AlertEvent(
    type="firing", alert_id="a-26dcbee0eebf16fff212", at=T0 + 120, rule="orders-behind",
    seq=1, severity="critical", channel="C0123ORDERS",
    subject=Subject(cluster="primary", group="orders-billing"), when="lag_seconds > 300",
    values={"lag_seconds": 412.0}, summary="group orders-billing on primary: lag_seconds 6m52s",
    since=T0, for_seconds=120.0, by="bot-1:42",
)
RESOLVED = AlertEvent(
    type="resolved", alert_id=FIRING.alert_id, at=T0 + 840, rule="orders-behind", seq=1,
    severity="critical", channel="C0123ORDERS", subject=FIRING.subject,
    when=FIRING.when, values={"lag_seconds": 3.0}, fired_at=FIRING.at, by="bot-2:7",
)
NOTICE = AlertEvent(
    type="notice", alert_id="n-1", at=T0, rule="pipeline-failed", severity="warning",
    channel="C0456CICD", subject=Subject(cluster="primary", topic="cicd.pipeline-events"),
    text="deploy-api failed on main at test: https://ci.example/1", count=1,
    examples=(("deploy-api failed on main at test: https://ci.example/1", 1),),
    first_at=T0 - 2, last_at=T0 - 2,
)
BURST = AlertEvent(
    type="notice", alert_id="n-2", at=T0, rule="pipeline-failed", severity="warning",
    channel="C0456CICD", subject=NOTICE.subject, text="deploy-api failed on main <at> test",
    count=500, examples=(("deploy-api failed on main <at> test", 480),
                         ("deploy-web failed on main at lint", 15)),
    first_at=T0 - 30, last_at=T0 - 1,
)


def check(name: str, payload: dict[str, Any]) -> None:
    path = FIXTURES / f"{name}.json"
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if UPDATE or not path.exists():
        path.write_text(text)
    assert json.loads(path.read_text()) == payload, f"{name}: layout changed"


def seen(payload: dict[str, Any]) -> str:
    return "\n".join(_texts(payload))


def test_firing_alert() -> None:
    p = render_firing(FIRING)
    check("alert_firing", p)
    text = seen(p)
    assert p["text"] == ("CRITICAL: orders-behind: group orders-billing on primary: "
                         "lag_seconds 6m52s")
    assert p["attachments"][0]["color"] == "#D72B3F"
    assert "Rule: `lag_seconds &gt; 300`" in text and "(for: 2m)" in text
    # the next step in Slack's own words, never a terminal command
    assert "`/kafka lag orders-billing --cluster primary`" in text
    assert "kafkaops " not in text


def test_refire_updates_say_how_often() -> None:
    msg = MessageRef("C0123ORDERS", "1.2", T0 - 600, 1, 2)
    p = render_action(Action("refire", FIRING, FIRING, msg, 3))
    check("alert_refire", p)
    assert "fired again: 3 times since" in seen(p)


def test_resolved_alert_is_green_and_says_how_long() -> None:
    p = render_resolved(RESOLVED, FIRING)
    check("alert_resolved", p)
    text = seen(p)
    assert p["text"] == "RESOLVED after 12m: orders-behind: group orders-billing on primary"
    assert p["attachments"][0]["color"] == "#2EB67D"
    assert "now lag_seconds *3s*" in text and "Was: lag_seconds *6m52s*" in text
    actions = [b for b in p["attachments"][0]["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["kafkaops.alert.lag"]


def test_single_notice_is_the_configured_text() -> None:
    p = render_notice(NOTICE)
    check("alert_notice", p)
    assert p["text"] == "deploy-api failed on main at test: https://ci.example/1"


def test_burst_notice_counts_and_escapes() -> None:
    p = render_notice(BURST)
    check("alert_notice_burst", p)
    text = seen(p)
    assert "*500* matching records" in text
    assert "• deploy-api failed on main &lt;at&gt; test  ×480" in text
    assert "• … 5 more with other messages" in text


@pytest.mark.parametrize("count", [0, 45])
def test_alert_list(count: int) -> None:
    book = AlertBook()
    for i in range(count):
        book.apply(AlertEvent(
            type="firing", alert_id=f"a-{i:020x}", at=T0 + i, rule="orders-behind", seq=1,
            severity="warning", subject=Subject(cluster="primary", group=f"orders-{i}"),
            values={"lag": 1000 + i}), i)
    p = render_alert_list(book.firing(), T0 + 3600)
    check(f"alert_list_{count}", p)
    text = seen(p)
    if count == 0:
        assert text.startswith("No alerts firing.")
    else:
        assert "45 alerts firing" in text and "1–10 of 45 alerts" in text
        assert all(len(b["text"]["text"]) <= 3000 for b in p["blocks"] if b["type"] == "section")
        # ten a page, each with Acknowledge (nobody is on them yet)
        rows = [b for b in p["blocks"] if "accessory" in b]
        assert len(rows) == 10
        assert {r["accessory"]["action_id"] for r in rows} == {"kafkaops.alert.ack"}


def test_thread_replies_say_what_happened_who_and_when() -> None:
    """What the alert's thread gets: fired again and worse also sent to the channel (they
    notify), resolved after how long, acknowledged and snoozed by whom until when."""
    owned = dataclasses.replace(FIRING, owner=("S0ONCALL",))
    msg = MessageRef("C0123ORDERS", "1.2", T0 - 600, 1, 2)
    refire = render_thread(Action("refire", owned, owned, msg, 3))
    assert refire is not None
    check("alert_thread_refire", refire)
    assert refire["reply_broadcast"] is True
    assert "*Fired again* (3rd time in 12m)" in seen(refire)  # posted, then refired once
    assert "<!subteam^S0ONCALL>" in seen(refire)  # the owner is notified again
    worse = dataclasses.replace(owned, type="changed", values={"lag_seconds": 1300.0})
    changed = render_thread(Action("change", worse, owned, msg, 4))
    assert changed is not None
    check("alert_thread_worse", changed)
    assert changed["reply_broadcast"] is True
    assert "lag_seconds *21m40s* (was lag_seconds *6m52s* when it fired)" in seen(changed)
    resolved = render_thread(Action("resolve", RESOLVED, FIRING, msg, 5))
    assert resolved is not None
    check("alert_thread_resolved", resolved)
    assert "reply_broadcast" not in resolved and "*Resolved after 12m*" in seen(resolved)
    assert render_thread(Action("post", FIRING, FIRING, None, 1)) is None  # the post itself
    ack = render_ack_reply("U0CAROL", T0 + 200)
    check("alert_thread_ack", ack)
    assert "<@U0CAROL> acknowledged at <!date^" in seen(ack)
    snooze = render_snooze_reply("U0ALICE", T0 + 4 * 3600, lifted=False)
    check("alert_thread_snooze", snooze)
    assert "<@U0ALICE> snoozed it until <!date^" in seen(snooze)
    until_resolved = render_snooze_reply("U0ALICE", None, lifted=False)
    assert "until it resolves" in seen(until_resolved)
    lifted = render_snooze_reply("U0BOB", None, lifted=True)
    assert "<@U0BOB> lifted the snooze" in seen(lifted)
