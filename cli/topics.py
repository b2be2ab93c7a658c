"""`kafkaops cluster`, `kafkaops topics`, `kafkaops topic NAME`: the CLI twins of the
console's overview, topic list and topic detail (`topic` is registered with the topic
changes, in topic_admin.py)."""

from __future__ import annotations

import argparse
import sys

from kafkaops.cli.common import Context, add_json, print_json, table
from kafkaops.core.records import NOT_REPORTED, ClusterOverview, TopicDetail, TopicSummary
from kafkaops.core.textfmt import human_ms


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cluster", help="brokers, controller, topic and partition counts")
    add_json(p)
    p.set_defaults(func=cluster_cmd)

    p = sub.add_parser("topics", help="list topics with partitions, configs and end offsets")
    add_json(p)
    p.add_argument("--internal", action="store_true", help="include internal topics (_...)")
    p.add_argument("filter", nargs="?", help="only topics whose name contains this text")
    p.set_defaults(func=topics_cmd)


async def cluster_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        ov = await (await services.topics()).overview()
    if args.json:
        print_json(ov)
    else:
        print(render_overview(ov))
    return 0


def render_overview(ov: ClusterOverview) -> str:
    lines = [
        f"cluster      {ov.name}{'  (read-only)' if ov.read_only else ''}",
        f"bootstrap    {ov.bootstrap_servers}",
        f"cluster id   {ov.cluster_id or '-'}",
        f"controller   {ov.controller_id if ov.controller_id is not None else '-'}",
        f"topics       {ov.topic_count} ({ov.internal_topic_count} internal)",
        f"partitions   {ov.partition_count} "
        f"({ov.offline_partitions} offline, {ov.under_replicated_partitions} under-replicated)",
        "",
        table(
            ["BROKER", "HOST", "PORT", "RACK", "CONTROLLER"],
            [(b.node_id, b.host, str(b.port), b.rack, b.is_controller) for b in ov.brokers],
        ),
    ]
    return "\n".join(lines)


async def topics_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        topics = await (await services.topics()).list_topics()
    topics = [
        t
        for t in topics
        if (args.internal or not t.internal) and (not args.filter or args.filter in t.name)
    ]
    if args.json:
        print_json(topics)
    else:
        print(render_topics(topics))
    return 0


def render_topics(topics: list[TopicSummary]) -> str:
    return table(
        ["TOPIC", "PARTITIONS", "RF", "RETENTION", "CLEANUP", "COMPRESSION", "END OFFSETS"],
        [
            (
                t.name,
                t.partitions,
                t.replication_factor,
                human_ms(t.retention_ms),
                t.cleanup_policy,
                t.compression,
                t.end_offsets_total,
            )
            for t in topics
        ],
        right=(1, 2, 6),
    )




async def topic_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        detail = await (await services.topics()).topic_detail(args.name)
    if args.json:
        print_json(detail)
    else:
        sys.stdout.write(render_topic(detail) + "\n")
    return 0


def render_topic(d: TopicDetail) -> str:
    s = d.summary
    parts = table(
        ["PARTITION", "LEADER", "REPLICAS", "ISR", "EARLIEST", "LATEST", "MESSAGES"],
        [
            (p.partition, p.leader, p.replicas, p.isr, p.earliest, p.latest, p.messages)
            for p in d.partitions
        ],
        right=(0, 1, 4, 5, 6),
    )
    configs = (
        table(["CONFIG", "VALUE", "SOURCE"], [(c.name, c.value, c.source) for c in d.configs])
        if d.configs
        else "(no configs reported)"
    )
    return (
        f"topic {s.name}: {s.partitions} partitions, replication factor {s.replication_factor}, "
        f"{fmt_int(s.messages)} messages\n\n{parts}\n\n{configs}\n"
        f"configs not listed: {NOT_REPORTED}"
    )


def fmt_int(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"
