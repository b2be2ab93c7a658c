"""Block Kit render functions against stored JSON (tests/fixtures/slack/*.json), and the
limits Slack enforces (a message over them is rejected whole).

To accept a deliberate change of layout: `KAFKAOPS_UPDATE_FIXTURES=1 pytest
tests/test_bot_render.py`, then read the diff of tests/fixtures/slack/ before committing.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from kafkaops.bot.render.audit import render_audit, render_verify
from kafkaops.bot.render.common import (
    MAX_BLOCKS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    Message,
    human_seconds,
    section,
)
from kafkaops.bot.render.confirm import render_already_used, render_outcome, render_prompt
from kafkaops.bot.render.dlq import render_dlq_list, render_replay_plan, render_replayed
from kafkaops.bot.render.flags import render_flag, render_flag_change, render_flag_list
from kafkaops.bot.render.lag import render_group_lag, render_lag_overview
from kafkaops.bot.render.offsets import render_reset_plan, render_reset_result
from kafkaops.bot.render.replies import render_denied, render_help, render_usage
from kafkaops.bot.render.topics import ClusterStatus, render_status, render_topic, render_topics
from kafkaops.core.audit.log import AuditProblem, AuditRecord, VerifyReport
from kafkaops.core.audit.trails import Listing, TrailRead
from kafkaops.core.dlq.service import DeadLetterTopic, ReasonGroup, ReplayItem, ReplayResult
from kafkaops.core.flags.service import FlagState, Rule, Variant
from kafkaops.core.lag.service import GroupLag, GroupMember, LagSnapshot, PartitionLag
from kafkaops.core.lag.status import PartitionState, Status, Trend
from kafkaops.core.offsets.service import (
    CommittedCheck,
    PartitionReset,
    ResetPlan,
    ResetResult,
    ResetTarget,
)
from kafkaops.core.records import (
    BrokerInfo,
    ClusterOverview,
    ConfigEntry,
    PartitionInfo,
    TopicDetail,
    TopicSummary,
)

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
UPDATE = os.environ.get("KAFKAOPS_UPDATE_FIXTURES") == "1"

BROKERS = (
    BrokerInfo(111, "kafka-1.internal", 9092, rack="eu-west-1a", is_controller=True),
    BrokerInfo(112, "kafka-2.internal", 9092, rack="eu-west-1b"),
)


def overview(
    name: str = "primary", offline: int = 0, under: int = 0, **kw: object
) -> ClusterOverview:
    return ClusterOverview(
        name=name,
        bootstrap_servers="kafka-1.internal:9092,kafka-2.internal:9092",
        cluster_id="lkc-7f3a",
        controller_id=111,
        brokers=BROKERS,
        topic_count=42,
        internal_topic_count=3,
        partition_count=310,
        offline_partitions=offline,
        under_replicated_partitions=under,
        **kw,  # type: ignore[arg-type]
    )


def summary(name: str, **kw: object) -> TopicSummary:
    base: dict[str, object] = dict(
        name=name,
        partitions=6,
        replication_factor=2,
        internal=False,
        end_offsets_total=120_000,
        messages=98_765,
        retention_ms="604800000",
        cleanup_policy="delete",
        compression="zstd",
    )
    base.update(kw)
    return TopicSummary(**base)  # type: ignore[arg-type]


DETAIL = TopicDetail(
    summary("orders.v1", partitions=3, messages=1_500, under_replicated=1),
    (
        PartitionInfo(0, 111, (111, 112), (111, 112), 0, 500),
        PartitionInfo(1, 112, (112, 111), (112,), 100, 600),
        PartitionInfo(2, 111, (111, 112), (111, 112), 0, 500),
    ),
    (
        ConfigEntry("cleanup.policy", "delete", "topic"),
        ConfigEntry("retention.ms", "604800000", "topic"),
        ConfigEntry("sasl.jaas.config", None, "topic"),
    ),
)


def audit_record(
    seq: int, actor: str, face: str, action: str, target: str, result: str, error: str | None = None
) -> AuditRecord:
    return AuditRecord(
        id=f"id{seq}",
        time=1_800_000_000_000 + seq * 61_000,
        cluster="primary",
        actor=actor,
        face=face,
        action=action,
        target=target,
        params={},
        result=result,
        detail=None,
        error=error,
        writer="bot-1",
        seq=seq,
        offset=100 + seq,
    )


FLAG = FlagState(
    key="checkout-v2",
    type="bool",
    enabled=True,
    value=True,
    default=False,
    rollout=30.0,
    variants=(),
    rules=(Rule("region", "in", ("eu-west-1", "eu-central-1")),),
    owner="payments",
    description="New checkout flow",
    tags=("critical", "checkout"),
    version=7,
    updated_by="U0CAROL",
    updated_at="2026-11-25T14:03:05.120Z",
    reason="incident 42",
    created_by="ops@host-1",
    created_at="2026-11-01T09:00:00.000Z",
)
PRICE = FlagState(
    key="price-test",
    type="string",
    enabled=False,
    value="b",
    default="a",
    variants=(Variant("a", "a", 1), Variant("b", "b", 3)),
    version=2,
    updated_by="ops@host-1",
    updated_at="2026-11-20T08:00:00Z",
)

DLQ_TOPICS = [
    DeadLetterTopic(
        "payments.dlq",
        "payments",
        3,
        1_204,
        1_204,
        (
            ReasonGroup("PriceMissing: no price for order #", 1_100, "no price for order 17"),
            ReasonGroup("Timeout: upstream took #ms", 104, "upstream took 5003ms"),
        ),
        replayed=40,
        frameworks=("spring",),
    ),
    DeadLetterTopic("orders-dlt", "orders", 1, 0, 0, ()),
]
PLAN = ReplayResult(
    "payments.dlq",
    True,
    None,
    (
        ReplayItem(0, 17, "payments", "PriceMissing: no price for order #"),
        ReplayItem(2, 4, "payments-eu", "Timeout: upstream took #ms"),
    ),
    already_replayed=((0, 3),),
    no_origin=(),
)
REPLAYED = ReplayResult(
    "payments.dlq",
    False,
    "r-7f3a",
    (
        ReplayItem(0, 17, "payments", "PriceMissing", 1, 5512),
        ReplayItem(2, 4, "payments-eu", "Timeout", 0, 88),
    ),
    already_replayed=(),
    no_origin=((1, 9),),
    recovered=0,
)

RESET = ResetPlan(
    cluster="primary",
    group="billing",
    topic="orders",
    target=ResetTarget("time", 1_800_000_000_000, "1h"),
    group_state="Empty",
    partitions=(
        PartitionReset(0, 1_200, 900, 900, 0, 1_500, 0, 300, None, ""),
        PartitionReset(1, None, 40, 40, 40, 90, None, None, None, "no offset committed before"),
        PartitionReset(
            2,
            700,
            650,
            600,
            650,
            800,
            0,
            50,
            "log start",
            "records before 650 were deleted by retention",
        ),
    ),
    total_skip=0,
    total_replay=350,
    read_only=False,
    planned_at=1_800_000_100.0,
)


def plag(
    topic: str,
    p: int,
    committed: int | None,
    end: int,
    status: Status,
    state: PartitionState = PartitionState.OK,
    secs: float | None = None,
    trend: Trend | None = None,
    eta: float | None = None,
    start: int = 0,
) -> PartitionLag:
    lag = None if committed is None or committed < start else end - committed
    lost = start - committed if committed is not None and committed < start else None
    return PartitionLag(
        topic,
        p,
        committed,
        start,
        end,
        lag,
        secs,
        state,
        status,
        trend,
        None,
        None,
        eta,
        lost,
        None,
    )


def glag(
    name: str,
    parts: tuple[PartitionLag, ...],
    status: Status,
    state: str = "Stable",
    members: int | None = 2,
    trend: Trend | None = None,
    eta: float | None = None,
    samples: int = 5,
) -> GroupLag:
    lags = [p.lag for p in parts if p.lag is not None]
    secs = [p.lag_seconds for p in parts if p.lag_seconds is not None]
    return GroupLag(
        group=name,
        state=state,
        members=None
        if members is None
        else tuple(GroupMember(f"m{i}", None, None, None) for i in range(members)),
        partitions=parts,
        topics=(),
        lag=sum(lags) if lags else None,
        lag_seconds=max(secs) if secs else None,
        status=status,
        trend=trend,
        eta_seconds=eta,
        samples=samples,
        window_seconds=240.0,
    )


BILLING = glag(
    "billing",
    (
        plag("orders", 0, 1_000, 5_200, Status.ERR, secs=912.0, trend=Trend.GROWING),
        plag("orders", 1, 4_100, 4_150, Status.OK, secs=3.2, trend=Trend.DRAINING, eta=12.0),
        plag("orders", 2, None, 300, Status.UNKNOWN, PartitionState.NO_OFFSET),
        plag("orders", 3, 10, 900, Status.DATA_LOSS, PartitionState.DATA_LOSS, start=120),
    ),
    Status.DATA_LOSS,
    trend=Trend.GROWING,
)
LAG = LagSnapshot(
    cluster="primary",
    taken_at=1_800_000_000.0,
    elapsed=0.4,
    groups=(
        glag(
            "audit-sink",
            (plag("audit", 0, 50, 50, Status.OK, secs=0.0),),
            Status.OK,
            trend=Trend.STEADY,
            eta=0.0,
        ),
        BILLING,
        glag(
            "search-indexer",
            (plag("docs", 0, 7, 907, Status.STOP, secs=5_400.0),),
            Status.STOP,
            state="Empty",
            members=0,
        ),
    ),
    requests={"Metadata": 1, "OffsetFetch": 1},
)

CASES: dict[str, Message] = {
    "status_healthy_and_unreachable": render_status(
        [
            ClusterStatus("primary", overview()),
            ClusterStatus(
                "dr", None, "cluster 'dr' unreachable at kafka-dr-1:9092: connection refused"
            ),
        ]
    ),
    "status_degraded_read_only": render_status(
        [
            ClusterStatus("primary", overview(offline=2, under=5)),
            ClusterStatus("dr", overview("dr", under=1, read_only=True)),
        ]
    ),
    "topics_list": render_topics(
        "primary",
        [
            summary("orders.v1"),
            summary(
                "payments",
                partitions=12,
                retention_ms="-1",
                cleanup_policy="compact",
                offline_partitions=1,
            ),
            summary("audit-log", retention_ms=None, cleanup_policy=None, messages=None),
        ],
        name_filter=None,
        hidden_internal=3,
    ),
    "topics_none_match": render_topics("primary", [], name_filter="<nope>"),
    "topic_detail": render_topic("primary", DETAIL),
    "help": render_help(
        "/kafka",
        [
            ("/kafka status", "clusters, brokers, offline and under-replicated partitions"),
            ("/kafka topic NAME", "one topic"),
        ],
    ),
    "usage_error": render_usage(
        "unknown subcommand 'topis'; did you mean 'topics'?",
        ["/kafka topics [--internal] [FILTER]"],
    ),
    "denied": render_denied(
        "flag.write",
        "<@U0BOB> is not in a role allowed to run flag.write (allowed: oncall); ask whoever "
        "runs the bot to add you to one of these roles in its config",
    ),
    "confirm_prompt": render_prompt(
        pending_id="pZ3x-opaque-id",
        kind="flag.write",
        target="checkout-v2",
        summary=Message("toggle checkout-v2 off", (section("*checkout-v2*: on → *off*"),)),
        requester="U0CAROL",
        cluster="primary",
        expires_at=1_800_000_600,
    ),
    "confirm_outcome": render_outcome(
        Message("checkout-v2 is off", (section("*checkout-v2* is now *off* (version 8)"),)),
        kind="flag.write",
        requester="U0CAROL",
        confirmer="U0ALICE",
        at=1_800_000_100,
    ),
    "audit_list": render_audit(Listing(
        [
            audit_record(1, "ops@host-1", "cli", "dlq.replay", "payments.dlq", "ok"),
            audit_record(
                2,
                "U0BOB",
                "slack",
                "flag.write",
                "checkout-v2",
                "refused",
                "permission denied: U0BOB is not in a role allowed to run flag.write",
            ),
            dataclasses.replace(
                audit_record(3, "U0MALLORY", "slack", "flag.write", "checkout-v2", "ok"),
                problem="bad-signature"),
            dataclasses.replace(
                audit_record(4, "U0CAROL", "slack", "flag.write", "checkout-v2", "ok"),
                trail="dr", cluster="dr"),
        ],
        [TrailRead("primary", "_kafkaops.audit", 3, 1), TrailRead("dr", "_kafkaops.audit", 1),
         TrailRead("dc3", "_kafkaops.audit", error="cluster 'dc3' unreachable (error id "
                   "E0123abcd)")],
    )),
    "audit_empty": render_audit(Listing([], [TrailRead("dr", "_kafkaops.audit")])),
    "audit_verify_ok": render_verify(
        VerifyReport("_kafkaops.audit", 120, 3, (), 0, 119, "9f2c" * 16), cluster="primary"
    ),
    "audit_verify_failed": render_verify(
        VerifyReport(
            "_kafkaops.audit",
            120,
            3,
            (
                AuditProblem(0, 57, "bad-signature", "signature does not match: forged or altered"),
                AuditProblem(0, 80, "missing", "writer bot-1 jumps from seq 11 to 13"),
            ),
            0,
            119,
            "9f2c" * 16,
        ),
        cluster="primary",
    ),
    "flag_list": render_flag_list("primary", [FLAG, PRICE], tag=None),
    "flag_detail": render_flag("primary", FLAG),
    "flag_change": render_flag_change(FLAG, "switch on → off", "off, 30% rollout (v8)"),
    "dlq_list": render_dlq_list("primary", DLQ_TOPICS, ".dlq, -dlt"),
    "dlq_replay_plan": render_replay_plan(PLAN, "primary", "value.region == 'eu'"),
    "dlq_replayed": render_replayed(REPLAYED),
    "usage_error_multiline": render_usage(
        "bad filter: expected a value after '==' (column 15)\n  value.order ==\n                ^",
        ["/kafka dlq show [--filter EXPR] [--limit N] TOPIC"],
    ),
    "offsets_reset_plan": render_reset_plan(RESET),
    "offsets_reset_result": render_reset_result(
        ResetResult(
            RESET,
            (CommittedCheck(0, 900, 900), CommittedCheck(1, 40, 40), CommittedCheck(2, 650, 700)),
            False,
            1_800_000_200.0,
        )
    ),
    "lag_overview": render_lag_overview(LAG),
    "lag_group": render_group_lag(LAG, BILLING),
    "confirm_already_used": render_already_used(
        "flag.write", "checkout-v2", "confirmed", "U0ALICE", 1_800_000_100
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_render_matches_stored_block_kit(name: str) -> None:
    got = CASES[name].to_slack()
    path = FIXTURES / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert got == expected


#: fixture name prefixes whose cases live in another test module (which checks them)
ELSEWHERE = ("dr_", "alert_")  # tests/test_bot_dr.py, tests/test_alerts_render.py


def test_every_fixture_belongs_to_a_case() -> None:
    mine = [p.stem for p in FIXTURES.glob("*.json") if not p.stem.startswith(ELSEWHERE)]
    assert sorted(mine) == sorted(CASES)


def assert_within_slack_limits(msg: Message) -> None:
    blocks = msg.to_slack().get("blocks", [])
    assert len(blocks) <= MAX_BLOCKS
    for b in blocks:
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= MAX_HEADER_TEXT
        if b["type"] == "section" and "text" in b:
            assert len(b["text"]["text"]) <= MAX_SECTION_TEXT
        for f in b.get("fields", []):
            assert len(f["text"]) <= 2000
        assert len(json.dumps(b)) < 3500


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_cases_are_within_slack_limits(name: str) -> None:
    assert_within_slack_limits(CASES[name])


def test_a_huge_topic_list_stays_within_limits_and_says_what_was_left_out() -> None:
    topics = [summary(f"team-{i:04d}.events.{'x' * 40}") for i in range(3000)]
    msg = render_topics("primary", topics, name_filter=None)
    assert_within_slack_limits(msg)
    shown = sum(1 for ln in json.dumps(msg.to_slack()).split("\\n") if ln.startswith("team-"))
    last = msg.blocks[-1]["text"]["text"]
    assert f"… {3000 - shown:,} more rows not shown" in last


def test_a_very_long_topic_name_is_clipped_not_rejected() -> None:
    d = TopicDetail(summary("t" * 400), DETAIL.partitions, DETAIL.configs)
    assert_within_slack_limits(render_topic("primary", d))


def test_text_from_outside_is_escaped() -> None:
    msg = render_topics("primary", [], name_filter="<!channel> & co")
    assert "&lt;!channel&gt; &amp; co" in msg.blocks[0]["text"]["text"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (0, "0s"),
        (59.4, "59s"),
        (60, "1m"),
        (725, "12m 5s"),
        (3600, "1h"),
        (12_000, "3h 20m"),
        (86_400, "1d"),
        (187_200, "2d 4h"),
    ],
)
def test_human_seconds(seconds: float | None, shown: str) -> None:
    assert human_seconds(seconds) == shown
