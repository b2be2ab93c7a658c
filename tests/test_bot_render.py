"""Block Kit render functions against stored JSON (tests/fixtures/slack/*.json), and the
limits Slack enforces (a message over them is rejected whole).

To accept a deliberate change of layout: `KAFKAOPS_UPDATE_FIXTURES=1 pytest
tests/test_bot_render.py`, then read the diff of tests/fixtures/slack/ before committing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from kafkaops.bot.render.admin import render_admin_plan, render_admin_result
from kafkaops.bot.render.alerts import render_alert_list
from kafkaops.bot.render.audit import render_audit, render_verify, render_verify_trails
from kafkaops.bot.render.common import (
    MAX_BLOCKS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    Message,
    human_seconds,
    section,
)
from kafkaops.bot.render.confirm import (
    render_already_used,
    render_cancelled,
    render_expired,
    render_outcome,
    render_prompt,
    render_running,
)
from kafkaops.bot.render.connect import (
    render_connect_done,
    render_connect_list,
    render_connect_plan,
    render_connector,
)
from kafkaops.bot.render.dlq import (
    render_dlq_list,
    render_dlq_show,
    render_replay_plan,
    render_replayed,
)
from kafkaops.bot.render.flags import (
    render_evaluations,
    render_flag,
    render_flag_change,
    render_flag_history,
    render_flag_list,
    render_flag_written,
    short,
)
from kafkaops.bot.render.lag import render_group_lag, render_lag_overview
from kafkaops.bot.render.offsets import render_reset_plan, render_reset_result
from kafkaops.bot.render.replies import (
    HelpEntry,
    render_denied,
    render_error,
    render_help,
    render_help_topic,
    render_unknown_topic,
    render_usage,
    with_requester,
)
from kafkaops.bot.render.schema import render_schema
from kafkaops.bot.render.topics import ClusterStatus, render_status, render_topic, render_topics
from kafkaops.bot.render.usage import render_fix_plan, render_policy
from kafkaops.bot.render.usage import render_usage as render_usage_report
from kafkaops.bot.render.views import ClusterLag, HomeState, render_home
from kafkaops.core.admin.plans import AdminPlan, AdminResult, Change
from kafkaops.core.alerts.book import Action, AlertBook
from kafkaops.core.alerts.model import AlertEvent, Subject
from kafkaops.core.audit.model import AuditProblem, AuditRecord, VerifyReport
from kafkaops.core.audit.trails import Listing, TrailCheck, TrailRead
from kafkaops.core.connect.model import (
    ChangePlan,
    ChangeRequest,
    ChangeResult,
    ConnectListing,
    Connector,
    SinkLag,
    TaskStatus,
    WorkerInfo,
)
from kafkaops.core.dlq.model import (
    DeadLetter,
    DeadLetterTopic,
    Origin,
    ReasonGroup,
    ReplayItem,
    ReplayPlan,
    ReplayResult,
)
from kafkaops.core.flags.service import Evaluation, FlagChange, FlagState, Rule, Variant
from kafkaops.core.lag.model import GroupLag, GroupMember, LagSnapshot, PartitionLag
from kafkaops.core.lag.status import PartitionState, Status, Trend
from kafkaops.core.messages.model import Message as MessageRecord
from kafkaops.core.offsets.model import (
    CommittedCheck,
    PartitionReset,
    ResetPlan,
    ResetResult,
    ResetTarget,
)
from kafkaops.core.policy.model import ConfigChange, Finding, Fix, FixPlan, PolicyReport
from kafkaops.core.records import (
    BrokerInfo,
    ClusterOverview,
    ConfigEntry,
    PartitionInfo,
    TopicDetail,
    TopicSummary,
)
from kafkaops.core.schema.browse import SubjectDetail
from kafkaops.core.schema.records import CompatibilityLevel, RegisteredSchema
from kafkaops.core.usage.model import Amount, Mover, TeamUsage, UsageReport
from tests.slack_server import _texts, wide_code_lines  # noqa: E402

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
PLAN = ReplayPlan(
    "primary",
    "payments.dlq",
    (
        ReplayItem(0, 17, "payments", "PriceMissing: no price for order #"),
        ReplayItem(2, 4, "payments-eu", "Timeout: upstream took #ms"),
    ),
    already_replayed=((0, 3),),
    no_origin=(),
    filter="value.region == 'eu'",
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

T_ALERTS = 1_800_003_600.0


def _msg(body: dict[str, object]) -> Message:
    return Message(str(body["text"]), tuple(body["blocks"]))  # type: ignore[arg-type]


def _alerts() -> AlertBook:
    book = AlertBook()
    for i in range(12):
        aid = f"a-{i:020x}"
        book.apply(AlertEvent(
            type="firing", alert_id=aid, at=1_800_000_000.0 + i * 60, rule="orders-behind",
            seq=1, severity="critical" if i % 3 == 0 else "warning",
            subject=Subject(cluster="primary", group=f"orders-{i}"),
            values={"lag": 1000 + i, "lag_seconds": 300.0 + i}), i)
    book.apply(AlertEvent(type="acked", alert_id="a-" + "0" * 20, at=1_800_000_100.0, seq=1,
                          by="U0CAROL"), 20)
    book.apply(AlertEvent(type="snoozed", alert_id=f"a-{1:020x}", at=1_800_000_200.0, seq=1,
                          until=1_800_007_200.0, by="U0ALICE"), 21)
    return book


ALERTS = _alerts()


def _amount(n: float, detail: str = "every batch read") -> Amount:
    return Amount(n, 0.0, "log", detail)


def _team(team: str, topics: int, bytes_in: float, before: float) -> TeamUsage:
    return TeamUsage(team=team, channel=None, topics=topics, members=(), records_in=1_204,
                     bytes_in=_amount(bytes_in), payload_in=_amount(bytes_in * 0.9),
                     bytes_stored=_amount(bytes_in * 40),
                     bytes_stored_replicated=_amount(bytes_in * 120), records_in_previous=900,
                     bytes_in_previous=_amount(before), buckets=(1, 3, 2, 8, 5, 0))


USAGE = UsageReport(
    cluster="primary", at=1_800_000_000.0, window=3600.0, topics=(),
    teams=(_team("payments", 3, 52_000_000.0, 12_000_000.0),
           _team("platform", 1, 1_500.0, 1_500.0), _team("unowned", 1, 0.0, 0.0)),
    movers=(Mover("topic", "orders.events", 12_000_000.0, 50_000_000.0),),
    fetches=12, bytes_read=1_000_000, budget=4_000_000)


def _finding(topic: str, key: str, rule: str, status: str, found: str, fix: Fix | None,
             instead: str = "") -> Finding:
    return Finding(cluster="primary", topic=topic, team="payments", policy="iac-retention",
                   rule=rule, key=key, status=status,  # type: ignore[arg-type]
                   found=found, found_shown=found, fix=fix,
                   fix_command=instead or f"kafkaops policy fix {topic}")


POLICY = PolicyReport(
    cluster="primary", at=1_800_000_000.0, policies=("iac-retention",), checked=3, topics=3,
    findings=(
        _finding("iac.changes", "retention.ms", "retention >= 7y", "violation", "1d",
                 Fix("retention.ms", "220752000000", "7y")),
        _finding("iac.audit", "min.insync.replicas", "min_insync_replicas >= 2", "unknown",
                 "not reported", None, "set min.insync.replicas to 2"),
    ))
FIX_PLAN = FixPlan(cluster="primary", topic="iac.changes", changes=(
    ConfigChange("retention.ms", "86400000", "220752000000", "iac-retention"),
    ConfigChange("cleanup.policy", None, "delete", "iac-retention")),
    not_fixable=(), keep={})
ADMIN_PLAN = AdminPlan(
    action="topic.config", cluster="primary", target="orders.events",
    title="Change configs of topic 'orders.events' on cluster 'primary'",
    state=("configs set on the topic: cleanup.policy=delete, retention.ms=600000",),
    changes=(Change("cleanup.policy", "delete", "broker default"),
             Change("message.timestamp.difference.max.ms", "9223372036854775807", "86400000")),
    params={}, warnings=("consumers reading with a timestamp filter may skip records",),
    planned_at=1_800_000_000.0)
HOME = HomeState(
    at=T_ALERTS, alerts=tuple(ALERTS.firing())[:3], alerts_error=None, rules=2,
    lag=(ClusterLag("primary", (BILLING, LAG.groups[2]), 3),
         ClusterLag("legacy", error="no answer within 15 s from legacy",
                    last_answer=T_ALERTS - 300)),
    dr=(), dr_error=None,
    changes=(audit_record(3, "U0CAROL", "slack", "flag.write", "checkout-v2", "ok"),
             audit_record(2, "U0BOB", "slack", "dlq.replay", "payments.dlq", "refused")),
    changes_error=None)
LETTERS = [
    DeadLetter(
        MessageRecord("payments.dlq", 0, 17, 1_800_000_000_000, b"k", b'{"order": 17}'),
        Origin("payments", 0, 5_512), "com.acme.PriceMissing", "no price for order 17",
        "PriceMissing: no price for order #"),
    DeadLetter(
        MessageRecord("payments.dlq", 2, 4, 1_800_000_060_000, None,
                      b'{"order": 4, "note": "' + b"x" * 200 + b'"}'),
        Origin("payments-eu"), "java.util.concurrent.TimeoutException",
        "upstream took 5003ms", "Timeout: upstream took #ms"),
]


def _change(op: str, version: int, by: str, at: str, state: FlagState, reason: str = ""
            ) -> FlagChange:
    return FlagChange(offset=version, key=state.key, op=op, outcome="applied",
                      expects=version - 1, version=version, write_id=f"w{version}", by=by,
                      at=at, reason=reason, note="", state=state, current_version=7,
                      current_by="U0CAROL")


HISTORY = [
    _change("create", 1, "ops@host-1", "2026-11-01T09:00:00Z",
            dataclasses.replace(FLAG, version=1, enabled=False, rollout=100.0)),
    _change("rollout", 7, "U0CAROL", "2026-11-25T14:03:05Z", FLAG, "incident 42"),
]
EVALS = [Evaluation("price-test", "customer-42", "b", "variant", "weight 3 of 4"),
         Evaluation("price-test", "customer-7", {"banner": "\U0001f6a7 works"}, "default",
                    stale=True)]
CONNECT = ConnectListing(
    "primary", "ingest", "http://connect:8083", 1_800_000_000.0,
    WorkerInfo("http://connect:8083", "3.9.0", "abc", "lkc-7f3a"),
    (
        Connector("s3-sink", "sink", "RUNNING", "10.0.0.5:8083", None, (
            TaskStatus(0, "FAILED", "10.0.0.5:8083",
                       "org.apache.kafka.connect.errors.ConnectException: Exiting "
                       "WorkerSinkTask due to unrecoverable exception.\n\tat org.apache.kafka."
                       "connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:"
                       "632)\nCaused by: java.nio.file.NoSuchFileException: /data/out/part-0"),
            TaskStatus(1, "RUNNING", "10.0.0.6:8083")), {}, "io.confluent.S3SinkConnector",
                  "connect-s3-sink"),
        Connector("pg-source", "source", "RUNNING", "10.0.0.6:8083", None, (
            TaskStatus(0, "RUNNING", "10.0.0.6:8083"),), {},
                  "io.debezium.PostgresConnector"),
    ),
    {"s3-sink": SinkLag("connect-s3-sink", 1_204, 95.0, "WARN")},
)
S3_TASKS = CONNECT.connectors[0].tasks
CONNECT_PLAN = ChangePlan(
    cluster="primary", connect="ingest",
    request=ChangeRequest("restart", "s3-sink", failed_only=True), state="RUNNING",
    tasks=S3_TASKS, will="restart task 0 (the one that FAILED)", targets=(0,))
SUBJECT = SubjectDetail(
    "orders-value", (1, 2, 3),
    RegisteredSchema(42, json.dumps({
        "type": "record", "name": "Order", "namespace": "com.acme.orders",
        "doc": "An order as the checkout service writes it; every field is documented in "
               "the data catalogue under orders.",
        "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]}),
        "AVRO", (), "orders-value", 3),
    CompatibilityLevel("BACKWARD", "subject"),
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
        [HelpEntry("/kafka lag", "consumer groups needing attention, worst first",
                   ("/kafka lag", "/kafka lag billing-service")),
         HelpEntry("/kafka status", "every cluster: brokers, offline and under-replicated "
                   "partitions", ("/kafka status",))],
        ["lag", "status", "flags", "dlq"],
    ),
    "help_topic": render_help_topic(
        "/kafka", "dlq",
        [HelpEntry("/kafka dlq list", "dead-letter topics: counts and reasons, with Replay",
                   ("/kafka dlq list",)),
         HelpEntry("/kafka dlq replay TOPIC", "put dead letters back on their origin topic, "
                   "after Confirm", ("/kafka dlq replay orders.events.dlq",))],
        ["/kafka dlq list", "/kafka dlq replay [--filter EXPR] [--to TOPIC] TOPIC"],
    ),
    "help_unknown_topic": render_unknown_topic("/kafka", "flgs", ["lag", "flags", "dlq"],
                                               "flags"),
    "topics_page_2": render_topics(
        "primary", [summary(f"team-{i:02d}.events") for i in range(25)], name_filter="team",
        page=2, again=lambda n: f"topics team --page {n}"),
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
    "audit_verify_trails": render_verify_trails([
        TrailCheck("primary", "_kafkaops.audit", True,
                   VerifyReport("_kafkaops.audit", 120, 3, (), 0, 119, "9f2c" * 16)),
        TrailCheck("dr", "_kafkaops.audit", False, VerifyReport(
            "_kafkaops.audit", 4, 1,
            (AuditProblem(0, 2, "bad-signature", "signature does not match: forged or altered"),),
            0, 3, "77aa" * 16)),
        TrailCheck("dc3", "_kafkaops.audit", False, None,
                   "cluster 'dc3' unreachable (error id E0123abcd)"),
    ]),
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
    "dlq_replay_plan": render_replay_plan(PLAN),
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
    "lag_group": render_group_lag(LAG, BILLING, again=lambda n: f"lag billing --page {n}"),
    "lag_overview_page_1_of_2": render_lag_overview(
        dataclasses.replace(LAG, groups=tuple(
            glag(f"svc-{i:02d}", (plag("orders", 0, 10, 10 + i, Status.OK, secs=float(i)),),
                 Status.OK) for i in range(13))),
        again=lambda n: f"lag --page {n}"),
    "dlq_show": render_dlq_show("payments.dlq", LETTERS, {(0, 17)}, scanned=(2_000, 9_000)),
    "flag_history": render_flag_history("checkout-v2", HISTORY, start=12),
    "flag_evaluations": render_evaluations("price-test", EVALS),
    "alerts_firing": _msg(render_alert_list(ALERTS.firing(), T_ALERTS,
                                            again=lambda n: f"alerts --page {n}")),
    "connect_list": render_connect_list(CONNECT),
    "connect_detail": render_connector("ingest", "primary", CONNECT.connectors[0],
                                       None, None),
    "schema": render_schema("primary", "http://registry:8081", SUBJECT),
    "usage_by_team": render_usage_report(USAGE, by="team", command="/kafka usage"),
    "policy_findings": render_policy(POLICY, command="/kafka"),
    "policy_fix_plan": render_fix_plan(FIX_PLAN),
    "admin_plan": render_admin_plan(ADMIN_PLAN),
    "admin_result": render_admin_result(AdminResult(ADMIN_PLAN, True, (
        "message.timestamp.difference.max.ms = 86400000", "cleanup.policy = broker default"))),
    "connect_restart_plan": render_connect_plan(CONNECT_PLAN),
    "connect_restarted": render_connect_done(ChangeResult(
        CONNECT_PLAN, "RUNNING", (S3_TASKS[1], dataclasses.replace(S3_TASKS[0], state="RUNNING",
                                                                    trace=None)),
        "restarted", retries=("409 rebalancing",))),
    "confirm_running": render_running("dlq.replay", "payments.dlq", "U0CAROL"),
    "confirm_cancelled": render_cancelled("flag.write", "checkout-v2", "U0ALICE"),
    "confirm_expired": render_expired("flag.write", "checkout-v2",
                                      "/kafka flag toggle checkout-v2 --off", 10),
    "flag_written": render_flag_written("primary", FLAG, FLAG.key, "toggle"),
    "home_view": Message("home", tuple(render_home(HOME)["blocks"])),
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


def test_a_huge_topic_list_shows_ten_and_pages_through_the_rest() -> None:
    topics = [summary(f"team-{i:04d}.events.{'x' * 40}") for i in range(3000)]
    msg = render_topics("primary", topics, name_filter=None, page=2,
                        again=lambda n: f"topics --page {n}")
    assert_within_slack_limits(msg)
    rows = [b for b in msg.blocks if "accessory" in b]
    assert len(rows) == 10 and "*team-0010.events." in rows[0]["text"]["text"]
    shown = json.dumps(msg.to_slack(), ensure_ascii=False)
    assert "11–20 of 3,000 topics" in shown
    buttons = {e["text"]["text"]: e["value"] for b in msg.blocks if b["type"] == "actions"
               for e in b["elements"]}
    assert buttons == {"Previous": "topics --page 1", "Next 10": "topics --page 3"}


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


# ---------------------------------------------------------------- what reads on a phone


def _every_reply() -> dict[str, Message]:
    """Every stored reply: this module's, DR's and the alerts' (as messages)."""
    from kafkaops.bot.render.alerts import render_action
    from tests.test_alerts_render import FIRING, RESOLVED
    from tests.test_bot_dr import DR_CASES

    out = dict(CASES)
    out.update({k: v() for k, v in DR_CASES.items()})
    for name, body in (("alert_firing", render_action(Action("post", FIRING, FIRING, None,
                                                                 1))),
                       ("alert_resolved", render_action(Action("resolve", RESOLVED, FIRING,
                                                                   None, 1)))):
        blocks = body["attachments"][0]["blocks"]
        out[name] = Message(body["text"], tuple(blocks))
    return out


REPLIES = _every_reply()


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_no_reply_has_a_code_line_wider_than_a_phone_shows(name: str) -> None:
    assert wide_code_lines(REPLIES[name].to_slack()) == []


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_no_reply_has_the_text_slips_people_noticed(name: str) -> None:
    shown = "\n".join(_texts(REPLIES[name].to_slack()))
    assert ".." not in shown.replace("...", "")  # "Nothing was changed.."
    assert "<@>" not in shown  # an empty user as a mention
    assert not re.search(r"\\u[0-9a-f]{4}", shown)  # unicode as JSON escapes
    assert not re.search(r"(?<![\d,.])1 (flags|records|groups|topics|partitions|alerts|"
                         r"members|changes|users|warnings|messages|connectors)\b", shown)
    assert not re.search(r"[a-z] (Trying|Nothing) ", shown)  # "are up Trying again"
    assert "(s)" not in shown  # "1 topic(s)": a count says its noun right
    assert "kafkaops lag" not in shown and "kafkaops flags" not in shown  # Slack's words


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_listings_show_at_most_ten_rows(name: str) -> None:
    rows = [b for b in REPLIES[name].to_slack().get("blocks", [])
            if b.get("type") == "section" and "accessory" in b]
    assert len(rows) <= 10


def test_nothing_was_changed_is_said_once_with_one_full_stop() -> None:
    denied = render_denied("flag.write", "ask whoever runs the bot to add you.")
    assert "add you. Nothing was changed." in denied.blocks[0]["text"]["text"]
    failed = render_error("the topic was deleted. Nothing was changed.")
    assert failed.text == "Failed: the topic was deleted. Nothing was changed."


def test_a_retriable_error_is_two_sentences() -> None:
    msg = render_error("no broker of cluster 'dr' is up", retriable=True)
    assert msg.text == "Failed: no broker of cluster 'dr' is up. Trying again later may help."


def test_counts_of_one_are_singular() -> None:
    import dataclasses

    one = dataclasses.replace(overview(), topic_count=1, internal_topic_count=1,
                              partition_count=1)
    shown = json.dumps(render_status([ClusterStatus("primary", one)]).to_slack())
    assert "1 topic (1 internal), 1 partition" in shown
    msg = render_flag_list("primary", [FLAG], tag=None)
    assert msg.text == "1 flag on primary, 1 on"
    assert "1 flag ·" in json.dumps(msg.to_slack(), ensure_ascii=False)


def test_an_unknown_user_is_said_so_never_an_empty_mention() -> None:
    prompt = render_prompt(pending_id="p", kind="flag.write", target="x",
                           summary=Message("x"), requester="", cluster="primary",
                           expires_at=1_800_000_600)
    shown = json.dumps(prompt.to_slack())
    assert "<@>" not in shown and "requested by an unknown user" in shown
    assert "requested by an unknown user" in json.dumps(
        with_requester(Message("x"), "", "/kafka status").to_slack())


def test_unicode_values_read_as_themselves() -> None:
    assert short({"banner": "\U0001f6a7 works"}) == '{"banner": "\U0001f6a7 works"}'
    shown = json.dumps(render_evaluations("price-test", EVALS).to_slack(), ensure_ascii=False)
    assert "\U0001f6a7" in shown and "\\ud83d" not in shown


def test_a_public_prompt_says_who_asked_once() -> None:
    prompt = render_prompt(pending_id="p", kind="flag.write", target="x",
                           summary=Message("x"), requester="U0CAROL", cluster="primary",
                           expires_at=1_800_000_600)
    public = with_requester(prompt, "U0CAROL", "/kafka flag toggle x --public")
    assert json.dumps(public.to_slack()).count("requested by") == 1
    status = with_requester(Message("ok"), "U0CAROL", "/kafka status --public")
    assert json.dumps(status.to_slack()).count("requested by <@U0CAROL>") == 1
