"""Disaster recovery from Slack: `/kafka dr` and `/kafka failover|failback plan|execute|
status|resume`, over real signed HTTP against the local Slack (tests/slack_server.py) and
the two embedded brokers (MM2 topics laid out by tests/drkit.py).

What a person sees is asserted (the messages posted to the response_url), and what a
failover leaves behind is read back with a real consumer: committed offsets on dr, the
active cluster, the audit trail with the confirming Slack user as actor.

The render functions are also checked against stored Block Kit JSON
(tests/fixtures/slack/dr_*.json). To accept a deliberate change of layout:
`KAFKAOPS_UPDATE_FIXTURES=1 pytest tests/test_bot_dr.py`, then read the fixture diff.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaops.bot.commands.dr import FULL_PLAN_ACTION, full_plan_button
from kafkaops.bot.render.common import MAX_BLOCKS, MAX_HEADER_TEXT, MAX_SECTION_TEXT, Message
from kafkaops.bot.render.confirm import CANCEL_ACTION_ID, CONFIRM_ACTION_ID, render_prompt
from kafkaops.bot.render.dr import render_dr_status, slash, verdict
from kafkaops.bot.render.dr_plan import render_plan, render_prompt_summary, render_refused
from kafkaops.bot.render.dr_run import (
    render_conflict,
    render_result,
    render_resume_summary,
    render_stopped,
)
from kafkaops.bot.render.views import message_view
from kafkaops.core.dr.control import ControlStore
from kafkaops.core.dr.failover import FailoverService
from kafkaops.core.dr.mm2_formats import Checkpoint, Heartbeat, OffsetSync
from kafkaops.core.dr.model import (
    DrStatus,
    GroupCheckpoints,
    HeartbeatInfo,
    PartitionReplication,
    RunSummary,
    TopicReplication,
)
from kafkaops.core.dr.outcome import FailoverResult, GroupOutcome, PartitionOffset, StepOutcome
from kafkaops.core.dr.plan import FailoverPlan, GroupPlan, PartitionPlan, Precheck
from kafkaops.core.dr.rpo import fmt_age
from kafkaops.core.kafka.groups import commit_offsets
from kafkaops.core.records import TopicPartition
from kafkaops.core.services import Services

from .bot_harness import RunningBot, running_bot
from .conftest import KAFKAOPS, cli_env
from .drkit import (
    World,
    close_world,
    committed_by_consumer,
    create_topic,
    dr_config,
    make_world,
    now_ms,
    pair,
    produce_to,
    tag,
    write_checkpoints,
    write_heartbeats,
    write_syncs,
)
from .slack_server import Call, button_click

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
UPDATE = os.environ.get("KAFKAOPS_UPDATE_FIXTURES") == "1"
ROOT = Path(__file__).resolve().parent.parent
PERMISSIONS = {"failover": ["oncall"]}
HOUR_MS = 3_600_000


# ================================================================ render functions (pure)

T0 = 1_800_000_000.0


def _status(**kw: Any) -> DrStatus:
    rows = (
        PartitionReplication(0, 0, 1_200, 1_150, (1_100, 1_100), 1_150, 50, 95.0, "offset-sync"),
        PartitionReplication(1, 0, 800, 800, (790, 790), 800, 0, 0.0, "offset-sync"),
    )
    base: dict[str, Any] = {
        "pair": "main", "primary": "primary", "secondary": "dr", "active": "primary",
        "epoch": 0, "source": "primary", "target": "dr", "source_alias": "primary",
        "target_alias": "dr", "policy": "default", "rpo_seconds": 60.0,
        "rpo_estimate_seconds": 95.0, "rpo_basis": "age of the oldest record not yet replicated",
        "rpo_ok": False, "heartbeat_age_seconds": 4.2, "heartbeat_ok": True,
        "heartbeats": (
            HeartbeatInfo("primary.heartbeats", "dr", "primary", 1_799_999_995_800, 4.2),
            HeartbeatInfo("heartbeats", "primary", "dr", 1_799_999_998_000, 2.0),
        ),
        "topics": (
            TopicReplication("orders", "primary.orders", 2, 2_000, 1_950, 50, 95.0, "behind",
                             rows),
            TopicReplication("billing.events", "primary.billing.events", 3, 12_345, 12_345, 0,
                             0.0, "ok"),
            TopicReplication("audit.<log>", "primary.audit.<log>", 1, 10, None, None, None,
                             "not replicated"),
        ),
        "groups": (
            GroupCheckpoints("orders-service", 2, 1_799_999_950_000, 50.0, 61.0, True),
            GroupCheckpoints("reporting", 3, 1_799_999_000_000, 1000.0, 1000.0, False),
        ),
        "max_lag_messages": 50, "max_lag_seconds": 95.0, "source_reachable": True,
        "target_reachable": True,
        "problems": ("1 record in primary.checkpoints.internal is not an MM2 record",),
        "failover": RunSummary("20261125T101500-ab12cd34", "failback", "dr", "primary",
                               "completed", T0 - 86_400, "U0CAROL", 2, 2),
        "generated_at": T0,
    }
    base.update(kw)
    return DrStatus(**base)


def _pp(group: str, p: int, n: int | None, cp: tuple[int, int] | None, offset: int | None,
        **kw: Any) -> PartitionPlan:
    base: dict[str, Any] = {
        "topic": "primary.orders", "partition": p, "source_topic": "orders",
        "source_offset": n, "checkpoint": cp, "checkpoint_age_seconds": 12.0 if cp else None,
        "translated": offset, "method": "checkpoint" if cp else "none", "target_start": 0,
        "target_end": 1_150, "current": None, "offset": offset,
        "reprocess": None if offset is None else 2, "note": "",
    }
    base.update(kw)
    return PartitionPlan(**base)


def _plan(**kw: Any) -> FailoverPlan:
    moving = GroupPlan(
        "orders-service", "move", "2 of 2 partitions translated",
        (_pp("orders-service", 0, 1_015, (1_015, 1_013), 1_013),
         _pp("orders-service", 1, 790, (790, 790), 790, reprocess=0)),
        12.0, 0, 0, 2,
    )
    untranslatable = GroupPlan(
        "orders-audit", "leave",
        "no partition could be translated: its consumers on the target will start from their "
        "auto.offset.reset (latest skips records; earliest re-reads all)",
        (_pp("orders-audit", 0, 3, None, None,
             note="behind every offset sync MM2 kept"),),
        None, 0, 0, None,
    )
    base: dict[str, Any] = {
        "pair": "main", "direction": "failover", "source": "primary", "target": "dr",
        "source_alias": "primary", "target_alias": "dr", "active": "primary", "epoch": 0,
        "new_epoch": 1, "rpo_seconds": 60.0, "heartbeat_age_seconds": 4.2,
        "replication_lag_seconds": 1.5,
        "prechecks": (
            Precheck("target reachable", "ok", "'dr' answers", overridable=False),
            Precheck("active cluster", "ok", "'primary' is active (epoch 0)", overridable=False),
            Precheck("heartbeat", "ok", "newest heartbeat in 'primary.heartbeats' on 'dr' is "
                     "4.2s old (RPO 60s)"),
            Precheck("replication lag", "ok", "worst 1.5s, 3 records not yet replicated (RPO 60s)"),
            Precheck("group orders-service", "ok", "2 partitions translated, about 2 records "
                     "read again"),
            Precheck("group orders-audit", "warn", untranslatable.reason),
        ),
        "groups": (moving, untranslatable),
        "steps": (
            "record the run in _kafkaops.control on 'dr' (epoch 0 -> 1)",
            "fence 'primary': mark it stood down in its _kafkaops.control (if reachable)",
            "commit offsets of group 'orders-service' on 'dr' (2 partitions, about 2 records "
            "read again), read them back",
            "leave group 'orders-audit' as it is: no partition could be translated",
            "make 'dr' active (epoch 1) in _kafkaops.control on 'dr' and 'primary'; clients "
            "following the control topic switch",
            "record the run complete; every step is in the audit trail",
        ),
        "generated_at": T0,
    }
    base.update(kw)
    return FailoverPlan(**base)


STALE = Precheck("heartbeat", "fail", "newest heartbeat in 'primary.heartbeats' on 'dr' is "
                 "10.0m old, beyond the RPO of 60s: MM2 may be down; data written since may "
                 "be lost")
WARN_LAG = Precheck("replication lag", "warn", "topic 'orders' is 40 records behind on 'dr' "
                    "(12s): they will be read again or lost")
WARN_MEMBERS = Precheck("groups stopped", "warn", "group 'orders-service' still has 2 members "
                        "on 'primary': stop them before the failover")
READ_ONLY = Precheck("target writable", "fail", "cluster 'dr' is read-only (read_only: true in "
                     "config.yaml): offsets and the active cluster cannot be written there",
                     overridable=False)


def _result(**kw: Any) -> FailoverResult:
    base: dict[str, Any] = {
        "pair": "main", "run_id": "20261125T101500-ab12cd34", "direction": "failover",
        "source": "primary", "target": "dr", "new_epoch": 1, "state": "completed",
        "by": "U0CAROL", "started_at": T0, "force": False,
        "steps": (
            StepOutcome("fence", "done", "marked on 'dr' and 'primary'"),
            StepOutcome("activate", "done", "'dr' active at epoch 1"),
            StepOutcome("mark-source", "done", "marked on 'dr' and 'primary'"),
        ),
        "groups": (
            GroupOutcome("orders-service", "done",
                         (PartitionOffset("primary.orders", 0, 1_013),
                          PartitionOffset("primary.orders", 1, 790)), "committed"),
            GroupOutcome("orders-audit", "left", (), "no partition could be translated"),
        ),
        "active": "dr", "epoch": 1,
    }
    base.update(kw)
    return FailoverResult(**base)


def _prompt(plan: FailoverPlan, force: bool = False) -> Message:
    """The prompt as `failover execute` posts it: the summary, Confirm, Full plan."""
    return render_prompt(
        pending_id="pZ3x-opaque-id", kind=plan.direction, target=plan.pair,
        summary=render_prompt_summary(plan, force=force), requester="U0ALICE",
        cluster=plan.target, expires_at=T0 + 600,
        extra=[full_plan_button(plan.pair, plan.direction)],
    )


def _modal(msg: Message) -> Message:
    """A view's blocks as a message (for the same checks)."""
    view = message_view("Failover plan", msg)
    return Message(view["title"]["text"], tuple(view["blocks"]))


DR_CASES: dict[str, Callable[[], Message]] = {
    "dr_status": lambda: render_dr_status([_status()]),
    "dr_status_two_pairs_one_unreachable": lambda: render_dr_status([
        _status(rpo_ok=True, rpo_estimate_seconds=0.4, problems=(), failover=None,
                max_lag_messages=0, max_lag_seconds=0.4),
        _status(pair="payments", source_reachable=False, rpo_ok=None,
                rpo_estimate_seconds=None, heartbeat_age_seconds=None, heartbeat_ok=None,
                heartbeats=(), topics=(), groups=(), max_lag_messages=None,
                max_lag_seconds=None, failover=None,
                rpo_basis="unknown: no replication lag and no heartbeat could be read",
                problems=("cluster 'primary' unreachable at 10.0.0.5:9092: connection refused "
                          "— check clusters.primary.bootstrap_servers",)),
    ]),
    "dr_failover_plan": lambda: render_plan(_plan()),
    "dr_failover_prompt_forced": lambda: _prompt(
        _plan(prechecks=(*_plan().prechecks, STALE)), force=True),
    "dr_failover_prompt_warnings": lambda: _prompt(_plan(prechecks=(
        *_plan().prechecks, WARN_LAG, WARN_MEMBERS))),
    "dr_failover_full_plan_modal": lambda: _modal(render_plan(
        _plan(prechecks=(*_plan().prechecks, WARN_LAG)), prompt=True)),
    "dr_failover_refused": lambda: render_refused(
        _plan(prechecks=(*_plan().prechecks, STALE)), force=False),
    "dr_failover_refused_read_only": lambda: render_refused(
        _plan(prechecks=(READ_ONLY, STALE)), force=True),
    "dr_failover_result": lambda: render_result(_result()),
    "dr_failover_stopped": lambda: render_stopped(
        "main", "failover",
        "cluster 'dr' unreachable at 10.0.0.6:9092: connection refused",
        _result(state="running", steps=(StepOutcome("fence", "done", "marked on 'dr' and "
                                                                     "'primary'"),),
                groups=(GroupOutcome("orders-service", "intent",
                                     (PartitionOffset("primary.orders", 0, 1_013),), ""),),
                active="primary", epoch=0),
    ),
    "dr_resume_prompt": lambda: render_prompt(
        pending_id="pZ3x-opaque-id", kind="failover.resume", target="main",
        summary=render_resume_summary(_result(
            state="running", steps=(StepOutcome("fence", "skipped", "'primary' not marked "
                                                "(unreachable); `kafkaops failover resume` "
                                                "marks it once it is reachable"),),
            groups=(GroupOutcome("orders-service", "done",
                                 (PartitionOffset("primary.orders", 0, 1_013),), "committed"),
                    GroupOutcome("billing", "planned",
                                 (PartitionOffset("primary.billing", 0, 77),), "")),
            active="primary", epoch=0), []),
        requester="U0ALICE", cluster="dr", expires_at=T0 + 600,
    ),
    "dr_failover_conflict": lambda: render_conflict(
        "main", "failover",
        "the plan changed since it was shown (offsets moved on, or a check changed; groups "
        "still consuming on the source keep moving: stop them first): look at the new plan "
        "and confirm again; nothing was changed",
    ),
}


@pytest.mark.parametrize("name", sorted(DR_CASES))
def test_render_matches_stored_block_kit(name: str) -> None:
    got = DR_CASES[name]().to_slack()
    path = FIXTURES / f"{name}.json"
    if UPDATE:
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))


def test_every_dr_fixture_belongs_to_a_case() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("dr_*.json")) == sorted(DR_CASES)


def within_slack_limits(msg: Message) -> None:
    blocks = msg.to_slack().get("blocks", [])
    assert 0 < len(blocks) <= MAX_BLOCKS
    for b in blocks:
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= MAX_HEADER_TEXT
        if b["type"] == "section" and "text" in b:
            assert len(b["text"]["text"]) <= MAX_SECTION_TEXT
        assert len(b.get("fields", [])) <= 10
        for f in b.get("fields", []):
            assert len(f["text"]) <= 2000


@pytest.mark.parametrize("name", sorted(DR_CASES))
def test_render_cases_are_within_slack_limits(name: str) -> None:
    within_slack_limits(DR_CASES[name]())


def test_a_plan_with_hundreds_of_groups_still_fits_a_confirmation_and_says_so() -> None:
    groups = tuple(
        GroupPlan(f"orders-service-{i:03d}", "move", "2 of 2 partitions translated",
                  (_pp("g", 0, 10, (10, 9), 9), _pp("g", 1, 10, (10, 9), 9)), 3.0, 0, 0, 2)
        for i in range(400)
    )
    steps = tuple(f"commit offsets of group 'orders-service-{i:03d}' on 'dr'" for i in range(400))
    plan = _plan(groups=groups, steps=steps)
    prompt = _prompt(plan)
    within_slack_limits(prompt)
    # the prompt is a summary whatever the plan's size: Confirm stays in view
    assert prompt.blocks[-1]["type"] == "actions"
    assert "Moves 400 consumer groups; about *800* records read again" in json.dumps(
        prompt.to_slack())
    assert lines_before(prompt, "Confirm") <= 15
    # the full plan (its modal) holds what fits and says what it left out
    modal = _modal(render_plan(plan, prompt=True))
    assert len(modal.blocks) <= 100
    text = json.dumps(modal.to_slack())
    assert "more groups not shown" in text and "no pre-check failed; 1 warned" in text


def test_the_prompt_says_each_warning_once_at_the_top_and_confirm_is_in_view() -> None:
    plan = _plan(prechecks=(*_plan().prechecks, WARN_LAG, WARN_MEMBERS))
    warned = [c for c in plan.prechecks if c.status == "warn"]
    assert len(warned) == 3  # the base plan warns about a group too
    prompt = _prompt(plan)
    first = prompt.blocks[1]["text"]["text"]  # after the header
    assert first.startswith(":warning: *3 warnings*\n")
    shown = json.dumps(prompt.to_slack())
    for w in warned:
        assert shown.count(f"*{w.name}*") == 1
    assert "pre-checks passed" not in shown  # never above (or beside) a warning
    assert lines_before(prompt, "Confirm") <= 15
    # a plan with many warnings lists five and counts the rest
    many = tuple(Precheck(f"lag of topic {i}", "warn", "behind") for i in range(9))
    prompt = _prompt(_plan(prechecks=(*_plan().prechecks, *many)))
    assert prompt.blocks[1]["text"]["text"].endswith("\n… 5 more in the full plan")
    assert lines_before(prompt, "Confirm") <= 15


def test_many_pairs_are_listed_in_one_line_each_when_they_do_not_fit() -> None:
    statuses = [_status(pair=f"pair-{i}") for i in range(12)]
    msg = render_dr_status(statuses)
    within_slack_limits(msg)
    text = json.dumps(msg.to_slack())
    assert "*More pairs*" in text and "DR pair-11: active primary (epoch 0)" in text


def test_outside_text_is_escaped_and_cli_advice_names_the_slash_command() -> None:
    text = json.dumps(render_dr_status([_status()]).to_slack())
    assert "audit.&lt;log&gt;" in text and "audit.<log>" not in text
    got = slash("run `kafkaops failover resume` first", "/ops")
    assert got == "run `/ops failover resume` first"
    assert slash("kafkaops is fine", "/ops") == "kafkaops is fine"  # only commands in backticks


@pytest.mark.parametrize(("ok", "word"), [(True, "OK"), (False, "BEYOND RPO"), (None, "UNKNOWN")])
def test_verdict_words_are_the_cli_s(ok: bool | None, word: str) -> None:
    assert verdict(ok) == word


# ================================================================ over real HTTP, real brokers


def bot_data(config_data: dict[str, Any], *specs: dict[str, Any],
             read_only: Sequence[str] = ()) -> dict[str, Any]:
    """The bot's config: the embedded clusters, the given DR pairs, some read-only."""
    data = copy.deepcopy(config_data)
    data["dr"] = {"pairs": [copy.deepcopy(s) for s in specs]}
    for name in read_only:
        data["clusters"][name]["read_only"] = True
    return data


def world_bot(config_data: dict[str, Any], w: World, **kw: Any) -> Any:
    assert w.pair_data is not None
    return running_bot(bot_data(config_data, w.pair_data, **kw), permissions=PERMISSIONS)


async def ask(rb: RunningBot, text: str, user: str = "U0ALICE") -> Call:
    """A signed `/kafka TEXT` and the reply posted to its response_url."""
    status, _, url = await rb.command(text, user=user)
    assert status == 200
    return await rb.reply(url)  # type: ignore[no-any-return]


async def click(rb: RunningBot, prompt: Call, user: str, *, count: int = 2,
                action: str = CONFIRM_ACTION_ID) -> list[Call]:
    """Click a button of `prompt` as `user`; the `count` messages posted back for it."""
    url = rb.slack.response_url()
    status, _ = await rb.click(
        button_click(action, prompt.action_values[action], response_url=url, user=user))
    assert status == 200
    return await rb.reply(url, count=count) if count > 1 else [await rb.reply(url)]


async def confirmed(rb: RunningBot, prompt: Call, user: str) -> Call:
    """Confirm as `user`: the first reply says it is running, the second is the result."""
    running, final = await click(rb, prompt, user)
    assert "running…" in running.text and f"<@{user}>" in running.text
    assert "running…" not in final.text
    return final


def row(text: str, first: str) -> str:
    """The line of a listing that starts with `first` (and the line under it, when it is
    indented: a row's second line)."""
    lines = text.split("\n")
    found = [i for i, ln in enumerate(lines) if ln.startswith(first)]
    assert len(found) == 1, (first, text)
    i = found[0]
    more = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("      ") else ""
    return lines[i] + ("\n" + more if more else "")


def lines_before(msg: Call | Message, words: str) -> int:
    """How many lines a reader scrolls through before `words` (a phone: each line of each
    block's text; a row of fields or buttons is one line)."""
    n = 0
    blocks = msg.blocks if isinstance(msg, Call) else msg.to_slack()["blocks"]
    for b in blocks:
        texts = ([b["text"]["text"]] if isinstance(b.get("text"), dict) else
                 [e.get("text", {}).get("text", "") if isinstance(e.get("text"), dict)
                  else e.get("text", "") for e in b.get("elements", [])])
        for t in texts:
            for ln in t.split("\n"):
                if words in ln:
                    return n
                if b["type"] not in ("actions", "context") or ln is t.split("\n")[0]:
                    n += 1
    raise AssertionError(f"{words!r} not in {msg.text}")


async def dr_offsets(clusters: Any, w: World, group: str | None = None) -> dict[int, int | None]:
    got = await committed_by_consumer(clusters.bootstrap("dr"), group or w.groups[0],
                                      w.tps(w.remote))
    return {tp.partition: o for tp, o in got.items()}


async def active(w: World) -> tuple[str, int]:
    view = await ControlStore(w.services.connection).read(w.services.config.dr.pairs[0])
    return view.active.cluster, view.active.epoch


async def audit_of(services: Services, cluster: str, where: Callable[[Any], bool]) -> list[Any]:
    return [r for r in await (await services.audit(cluster)).records() if where(r)]


async def kafkaops(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([KAFKAOPS, "--config", str(cfg), *args], env=cli_env(),
                              capture_output=True, text=True, timeout=90,
                              stdin=subprocess.DEVNULL)
    return await asyncio.to_thread(run)


async def test_dr_status_shows_the_numbers_kafkaops_dr_status_json_shows(
    config_data: dict[str, Any], tmp_path: Path,
) -> None:
    """A pair laid out by hand in MM2's formats, with ages hours old so that they read the
    same for minutes: 5 records of partition 0 not yet on dr, written 3 h ago; checkpoints
    4 h old; the newest heartbeat 5 h old; RPO 30 m."""
    t = tag()
    east, west, name = f"east-{t}", f"west-{t}", f"pair-{t}"
    topic, group = f"orders-{t}", f"g0-{t}"
    remote = f"{east}.{topic}"
    spec = pair(name, east, west, [f"g*-{t}"], rpo="30m")
    now = now_ms()
    async with Services(dr_config(config_data, spec)) as s:
        await create_topic(s, "primary", topic, 2)
        await create_topic(s, "dr", remote, 2)
        for cluster, tp, counts in (("primary", topic, (20, 5)), ("dr", remote, (15, 5))):
            for p, n in enumerate(counts):
                await produce_to(s, cluster, tp, p, n, timestamp_ms=now - 3 * HOUR_MS)
        await write_syncs(s, "primary", f"mm2-offset-syncs.{west}.internal",
                          [OffsetSync(topic, 0, 0, 0), OffsetSync(topic, 1, 0, 0)])
        await write_checkpoints(s, "dr", f"{east}.checkpoints.internal", [
            (Checkpoint(group, remote, 0, 10, 10), now - 4 * HOUR_MS),
            (Checkpoint(group, remote, 1, 5, 5), now - 4 * HOUR_MS)])
        await write_heartbeats(s, "dr", f"{east}.heartbeats",
                               [Heartbeat(west, east, now - 5 * HOUR_MS)])

    async with running_bot(bot_data(config_data, spec), permissions=PERMISSIONS) as rb:
        # anyone may read DR status: U0BOB is in no role
        reply = await ask(rb, f"dr --pair {name}", user="U0BOB")
        everything = await ask(rb, "dr status", user="U0BOB")  # the CLI's words work too
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(bot_data(config_data, spec)))
    out = await kafkaops(cfg, "dr", "status", "--pair", name, "--json")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)

    text = reply.text
    [t_cli] = cli["topics"]
    assert row(text, f"`{topic}`") == (
        f"`{t_cli['topic']}` → `{t_cli['remote_topic']}` · *{t_cli['state']}*\n"
        f"      lag {t_cli['lag_messages']} ({fmt_age(t_cli['lag_seconds'])}) · ends "
        f"{t_cli['source_end']} → {t_cli['target_end']} · {t_cli['partitions']} partitions"
    ) == (f"`{topic}` → `{remote}` · *behind*\n"
          "      lag 5 (3.0h) · ends 25 → 20 · 2 partitions")
    [g_cli] = cli["groups"]
    assert row(text, f"*{group}*") == (
        f"*{g_cli['group']}* · {g_cli['partitions']} partitions · checkpoint "
        f"{fmt_age(g_cli['age_seconds'])} old (oldest partition "
        f"{fmt_age(g_cli['oldest_partition_age_seconds'])}) · moves on failover"
    ) == (f"*{group}* · 2 partitions · checkpoint 4.0h old (oldest partition 4.0h) · "
          "moves on failover")
    assert (cli["active"], cli["epoch"], cli["rpo_ok"], cli["heartbeat_ok"]) == (
        "primary", 0, False, False)
    assert "active cluster *primary* (epoch 0)" in text
    rpo = f"{fmt_age(cli['rpo_estimate_seconds'])} / target {fmt_age(cli['rpo_seconds'])}"
    assert f"{rpo} · *BEYOND RPO*" in text and rpo == "3.0h / target 30.0m"
    hb = fmt_age(cli["heartbeat_age_seconds"])
    assert f"{hb} old · *BEYOND RPO*" in text and hb == "5.0h"
    assert f"{cli['max_lag_messages']} records · {fmt_age(cli['max_lag_seconds'])}" in text
    assert ":red_circle:" in text
    # without --pair: every configured pair (here the one)
    assert row(everything.text, f"`{topic}`") == row(text, f"`{topic}`")


async def test_failover_plan_shows_checks_translated_offsets_and_steps(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        async with world_bot(config_data, w) as rb:
            reply = await ask(rb, f"failover plan --pair {w.name}")
        core = await FailoverService(w.services).plan(w.name)
        text = reply.text
        assert f"Failover plan for pair {w.name}" in text and reply.action_values == {}
        assert "every pre-check passed" in text
        for c in core.prechecks:
            assert f":white_check_mark: *{c.name}*" in text
        [g] = core.groups
        for p in g.partitions:
            assert p.checkpoint is not None
            (line,) = [ln for ln in text.split("\n")
                       if ln.startswith(f"      `{p.topic}[{p.partition}]`")]
            assert (f"source {p.source_offset} → commit *{p.offset}* (checkpoint "
                    f"{p.checkpoint[0]}→{p.checkpoint[1]}, ") in line
            assert line.endswith(f" · re-read {p.reprocess}")
        # MM2's translation of 15 and 5, and the records partition 0 reads again
        assert [(p.offset, p.reprocess) for p in g.partitions] == [(13, 2), (5, 0)]
        assert "about *2* records read again" in text
        for i, step in enumerate(core.steps, 1):
            assert f"{i}. {step.replace('>', '&gt;')}" in text
        assert await dr_offsets(clusters, w) == {0: None, 1: None}  # a plan changes nothing
    finally:
        await close_world(w)


async def test_execute_shows_the_plan_and_confirm_commits_mm2_translation_as_the_confirmer(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        async with world_bot(config_data, w) as rb:
            prompt = await ask(rb, f"failover execute --pair {w.name}", user="U0ALICE")
            assert {CONFIRM_ACTION_ID, CANCEL_ACTION_ID} <= set(prompt.action_values)
            assert f"Confirm failover: {w.name}" in prompt.text
            # a short summary: what moves, how much is read again, the RPO; Confirm in view
            assert "`dr` becomes active instead of `primary` (epoch 0 → 1)" in prompt.text
            assert "Moves 1 consumer group; about *2* records read again" in prompt.text
            assert "RPO target " in prompt.text and "every pre-check passed" in prompt.text
            assert lines_before(prompt, "Confirm") <= 15
            assert "*Steps*" not in prompt.text  # the full plan is one click away
            # Full plan: a modal with every group's offsets and each step
            modal = await full_plan(rb, prompt, "U0ALICE")
            assert "*Steps*" in modal and "source 15 → commit *13*" in modal
            assert "source 5 → commit *5*" in modal
            assert await dr_offsets(clusters, w) == {0: None, 1: None}

            # someone in no role cannot confirm it for Alice; nothing runs
            [no] = await click(rb, prompt, "U0BOB", count=1)
            assert "Nothing was done" in no.text
            assert await active(w) == ("primary", 0)

            # Carol is on call (through the user group): her click runs it, as her
            final = await confirmed(rb, prompt, "U0CAROL")
            text = final.text
            assert "*completed*" in text and "Active cluster now: *dr* (epoch 1)" in text
            assert f"*group {w.groups[0]}*: done, committed" in text
            for step in ("fence", "activate", "mark-source"):
                assert f":white_check_mark: *{step}*: done" in text
            assert "confirmed by <@U0CAROL>" in text

            assert await dr_offsets(clusters, w) == {0: 13, 1: 5}
            assert await active(w) == ("dr", 1)
            result = await FailoverService(w.services).status(w.name)
            assert result is not None and result.by == "U0CAROL"
            steps = await audit_of(w.services, "dr",
                                   lambda r: r.params.get("run_id") == result.run_id)
            assert {(r.actor, r.face) for r in steps} == {("U0CAROL", "slack")}
            assert [r.action for r in steps if r.result == "ok"] == [
                "dr.failover.start", "dr.failover.fence", "dr.failover.fence",
                "dr.failover.commit-offsets", "dr.failover.activate",
                "dr.failover.mark-source", "dr.failover.complete"]

            # afterwards: status of the run, and /kafka dr shows dr active
            status = await ask(rb, f"failover status --pair {w.name}")
            assert result.run_id in status.text and "*completed*" in status.text
            dr = await ask(rb, f"dr --pair {w.name}", user="U0BOB")
            assert "active cluster *dr* (epoch 1)" in dr.text
            assert f"`{result.run_id}` primary → dr, *completed*, 1/1 groups" in dr.text
            # the same failover again is refused and points the other way
            again = await ask(rb, f"failover execute --pair {w.name} --force")
            assert again.action_values == {} and "*refused*" in again.text
            assert "`/kafka failback` goes the other way" in again.text
    finally:
        await close_world(w)


async def test_a_plan_that_changed_before_confirm_changes_nothing(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        async with world_bot(config_data, w) as rb:
            prompt = await ask(rb, f"failover execute --pair {w.name}")
            # another group of the pair started consuming on the primary: the plan would
            # now move it too (offsets that merely moved on do not change the plan)
            primary = await w.services.connection("primary")
            await commit_offsets(primary, f"glate-{w.tag}", {TopicPartition(w.topic, 0): 12})
            final = await confirmed(rb, prompt, "U0ALICE")
        assert f"*failover* of pair `{w.name}` was *not run*" in final.text
        assert "the plan changed since it was shown" in final.text
        assert "nothing was changed" in final.text
        assert f"/kafka failover execute --pair {w.name}` shows the new plan" in final.text
        assert await dr_offsets(clusters, w) == {0: None, 1: None}
        assert await active(w) == ("primary", 0)
        assert await FailoverService(w.services).status(w.name) is None
    finally:
        await close_world(w)


async def test_failed_prechecks_refuse_with_the_reasons_unless_forced(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data, heartbeats=False)
    try:
        old = now_ms() - 600_000  # ten minutes: beyond the 60 s RPO
        await write_heartbeats(w.services, "dr", f"{w.east}.heartbeats",
                               [Heartbeat(w.west, w.east, old)])
        async with world_bot(config_data, w) as rb:
            refused = await ask(rb, f"failover execute --pair {w.name}")
            assert refused.action_values == {}  # no Confirm to click
            text = refused.text
            assert "*refused*. Nothing was changed." in text
            assert ":x: *heartbeat*: newest heartbeat" in text and "beyond the RPO" in text
            assert f"`/kafka failover execute --pair {w.name} --force` goes ahead" in text
            assert await dr_offsets(clusters, w) == {0: None, 1: None}
            assert await active(w) == ("primary", 0)
            [audited] = await audit_of(w.services, "dr", lambda r: r.target == w.name
                                       and r.action == "dr.failover")
            assert (audited.actor, audited.face, audited.result) == ("U0ALICE", "slack",
                                                                     "refused")
            assert "heartbeat" in (audited.error or "")

            prompt = await ask(rb, f"failover execute --pair {w.name} --force")
            assert CONFIRM_ACTION_ID in prompt.action_values
            assert "pre-checks FAILED (heartbeat) and --force overrides them" in prompt.text
            final = await confirmed(rb, prompt, "U0ALICE")
        assert "*completed* (forced over failed pre-checks)" in final.text
        assert await dr_offsets(clusters, w) == {0: 13, 1: 5}
    finally:
        await close_world(w)


async def test_a_user_without_the_failover_permission_is_denied_and_audited(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        async with world_bot(config_data, w) as rb:
            for sub in ("execute --force", "plan", "resume", "status"):
                reply = await ask(rb, f"failover {sub} --pair {w.name}", user="U0BOB")
                assert "Denied: failover" in reply.text and reply.action_values == {}
            back = await ask(rb, f"failback execute --pair {w.name}", user="U0BOB")
            assert "Denied: failover" in back.text
        refusals = await audit_of(w.services, "primary", lambda r: r.actor == "U0BOB"
                                  and w.name in str(r.params.get("command", "")))
        assert len(refusals) == 5
        assert {(r.face, r.action, r.result, r.target) for r in refusals} == {
            ("slack", "failover", "refused", w.name)}
        assert all("permission denied" in (r.error or "") for r in refusals)
        assert await dr_offsets(clusters, w) == {0: None, 1: None}
        assert await active(w) == ("primary", 0)
    finally:
        await close_world(w)


async def test_a_read_only_target_is_refused_even_with_force(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        async with world_bot(config_data, w, read_only=["dr"]) as rb:
            reply = await ask(rb, f"failover execute --pair {w.name} --force")
        assert reply.action_values == {}
        assert ":x: *target writable*: cluster 'dr' is read-only" in reply.text
        assert "This cannot be overridden with `--force` (it was given)." in reply.text
        assert await dr_offsets(clusters, w) == {0: None, 1: None}
        assert await active(w) == ("primary", 0)
        # kafkaops writes nothing on a read-only cluster: the refusal is on the primary's trail
        assert await audit_of(w.services, "dr", lambda r: r.target == w.name) == []
        [audited] = await audit_of(w.services, "primary", lambda r: r.target == w.name)
        assert (audited.actor, audited.action, audited.result) == ("U0ALICE", "dr.failover",
                                                                   "refused")
    finally:
        await close_world(w)


class Crash(Exception):
    """Stands in for the bot (or the CLI) dying at a step."""


async def test_a_run_that_stopped_part_way_is_resumed_from_slack(
    config_data: dict[str, Any], clusters: Any,
) -> None:
    w = await make_world(config_data)
    try:
        def crash(point: str) -> None:
            if point == "fence":
                raise Crash(point)

        with pytest.raises(Crash):
            await FailoverService(w.services).execute(w.name, actor="ops@host", hook=crash)
        async with world_bot(config_data, w) as rb:
            status = await ask(rb, f"failover status --pair {w.name}")
            assert "*running*" in status.text
            assert f"`/kafka failover resume --pair {w.name}` continues" in status.text

            prompt = await ask(rb, f"failover resume --pair {w.name}")
            assert f"Confirm failover.resume: {w.name}" in prompt.text
            assert f"1 group still to move ({w.groups[0]})" in prompt.text
            assert await dr_offsets(clusters, w) == {0: None, 1: None}
            final = await confirmed(rb, prompt, "U0ALICE")
            assert "*completed*" in final.text
            assert "Active cluster now: *dr* (epoch 1)" in final.text
            assert await dr_offsets(clusters, w) == {0: 13, 1: 5}

            result = await FailoverService(w.services).status(w.name)
            assert result is not None
            commits = await audit_of(w.services, "dr", lambda r: r.params.get("run_id")
                                     == result.run_id and r.action.endswith("commit-offsets"))
            assert [(r.actor, r.face) for r in commits] == [("U0ALICE", "slack")]

            nothing = await ask(rb, f"failback resume --pair {w.name}")
            assert f"Nothing to resume for pair `{w.name}`" in nothing.text
            assert nothing.action_values == {}
    finally:
        await close_world(w)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("failover execute --pair nosuch", "no DR pair named 'nosuch' (configured: {pair})"),
        ("dr --pair nosuch", "no DR pair named 'nosuch'"),
        ("failover", "failover needs a subcommand: use one of plan, execute, status, resume"),
        ("failback launch", "unknown failback subcommand 'launch'"),
        ("failover plan --force", "unrecognized arguments: --force"),
        ("dr --pair", "expected one argument"),
        ("dr lag", "invalid choice: 'lag'"),
    ],
)
async def test_bad_input_gets_the_usage_line_in_the_ack(
    config_data: dict[str, Any], text: str, problem: str,
) -> None:
    name = f"pair-{tag()}"
    spec = pair(name, "e", "w", ["g*"])
    async with running_bot(bot_data(config_data, spec), permissions=PERMISSIONS) as rb:
        status, ack, _ = await rb.command(text)
    assert status == 200
    body = json.loads(ack)
    shown = json.dumps(body)
    assert problem.format(pair=name) in body["text"], shown
    assert "Nothing was run" in shown and "Usage" in shown


async def full_plan(rb: RunningBot, prompt: Call, user: str) -> str:
    """Click a prompt's Full plan button: the text of the modal it fills in."""
    from tests.slack_server import _texts

    before = len(rb.slack.calls_to("views.update"))
    url = rb.slack.response_url()
    status, _ = await rb.click(button_click(FULL_PLAN_ACTION, prompt.action_values[
        FULL_PLAN_ACTION], response_url=url, user=user))
    assert status == 200
    opened = rb.slack.calls_to("views.open")[-1]
    assert "Reading the plan" in json.dumps(opened.params)
    updates = await rb.slack.wait_for("views.update", count=before + 1)
    view = updates[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    return "\n".join(_texts(view["blocks"]))
