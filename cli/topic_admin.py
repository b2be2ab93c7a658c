"""`kafkaops topic ...`: show one topic, and change topics. The words are rpk's.

    kafkaops topic NAME                      the topic (as `topic describe NAME`)
    kafkaops topic describe NAME             reaches a topic named like a verb
    kafkaops topic create NAME -p N [-r R] [--topic-config k=v ...]
    kafkaops topic delete NAME
    kafkaops topic alter-config NAME --set k=v ... [--delete k ...]
    kafkaops topic add-partitions NAME --num N

Every change shows its plan (the state now, then each change as before -> after), asks on
a terminal, takes --yes in scripts, --dry-run to stop at the plan, --json, --reason; it is
refused on a read-only cluster and audited. Exit codes: 0 done (or nothing to change), 1
failed or refused, 2 bad usage, 3 the topic changed under the plan.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from kafkaops.cli.admin_common import add_change_options, run_change
from kafkaops.cli.common import Context, add_json
from kafkaops.core.admin.plans import (
    TOPIC_CONFIG,
    TOPIC_CREATE,
    TOPIC_DELETE,
    TOPIC_PARTITIONS,
    AdminPlan,
)
from kafkaops.core.admin.rules import parse_assignments
from kafkaops.core.services import Services

VERBS = ("describe", "create", "delete", "alter-config", "add-partitions")


class _AnyWord(dict[str, Any]):
    """argparse's choices for the verbs: every word is accepted (a word that is not a verb
    is a topic name, shown with describe); listing shows the verbs."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)


class _VerbOrTopic(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands where a word that is not a verb is a topic to describe, so `kafkaops
    topic orders` keeps working next to `kafkaops topic create orders`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _AnyWord()

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        parser = super().add_parser(name, **kwargs)
        dict.__setitem__(self.choices, name, parser)  # type: ignore[arg-type]
        return parser

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if values and values[0] not in self._name_parser_map:
            values = ["describe", *values]
        super().__call__(parser, namespace, values, option_string)


def _positive(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "topic", help="one topic: partitions, leaders, ISR, offsets, configs; or create, "
        "delete, alter-config, add-partitions",
        epilog="`kafkaops topic NAME` shows a topic; `topic describe NAME` shows a topic "
        "named like one of the verbs. Changes show their plan first.")
    tsub = p.add_subparsers(dest="topic_command", metavar="{" + ",".join(VERBS) + "} | NAME",
                            required=True, parser_class=type(p), action=_VerbOrTopic)

    d = tsub.add_parser("describe", help="partitions, leaders, ISR, offsets, configs")
    d.add_argument("name", metavar="NAME")
    add_json(d)
    d.set_defaults(func=describe_cmd)

    c = tsub.add_parser("create", help="create a topic",
                        description="Create a topic. Configs are checked before anything is "
                        "sent (name, value), as Apache Kafka would check them.")
    c.add_argument("name", metavar="NAME")
    c.add_argument("--partitions", "-p", type=_positive, required=True, metavar="N")
    c.add_argument("--replication-factor", "-r", type=_positive, default=1, metavar="R",
                   help="replicas per partition (default 1; at most the broker count)")
    c.add_argument("--topic-config", action="append", default=[], metavar="NAME=VALUE",
                   help="a topic config, e.g. retention.ms=86400000 (repeat)")
    add_change_options(c)
    c.set_defaults(func=create_cmd)

    x = tsub.add_parser("delete", help="delete a topic and every record in it")
    x.add_argument("name", metavar="NAME")
    add_change_options(x)
    x.set_defaults(func=delete_cmd)

    a = tsub.add_parser("alter-config", help="set or delete topic configs (diff first)",
                        description="Set or delete configs of a topic. The diff against what "
                        "the broker reports is shown first; a config set to its current value "
                        "changes nothing.")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--set", "-s", action="append", default=[], metavar="NAME=VALUE",
                   dest="set_configs", help="set a config (repeat)")
    a.add_argument("--delete", "-d", action="append", default=[], metavar="NAME",
                   dest="delete_configs", help="back to the broker default (repeat)")
    add_change_options(a)
    a.set_defaults(func=alter_cmd)

    g = tsub.add_parser("add-partitions", help="grow a topic to N partitions",
                        description="Grow a topic to N partitions in total. Records with a "
                        "key are spread by hash(key) mod the partition count, so new records "
                        "of a key may land on another partition than its earlier ones.")
    g.add_argument("name", metavar="NAME")
    g.add_argument("--num", "-n", type=_positive, required=True, metavar="N",
                   help="the partition count after the change")
    add_change_options(g)
    g.set_defaults(func=grow_cmd)


async def describe_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.cli.topics import topic_cmd

    return await topic_cmd(args, ctx)


Planner = Callable[[Services], Awaitable[AdminPlan]]


async def create_cmd(args: argparse.Namespace, ctx: Context) -> int:
    configs = parse_assignments(args.topic_config)

    async def plan(services: Services) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_create(
            args.name, args.partitions, args.replication_factor, configs)

    return await run_change(args, ctx, TOPIC_CREATE, args.name, plan)


async def delete_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async def plan(services: Services) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_delete(args.name)

    return await run_change(args, ctx, TOPIC_DELETE, args.name, plan)


async def alter_cmd(args: argparse.Namespace, ctx: Context) -> int:
    sets = parse_assignments(args.set_configs, "--set")

    async def plan(services: Services) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_alter_config(args.name, sets,
                                                            args.delete_configs)

    return await run_change(args, ctx, TOPIC_CONFIG, args.name, plan)


async def grow_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async def plan(services: Services) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_add_partitions(args.name, args.num)

    return await run_change(args, ctx, TOPIC_PARTITIONS, args.name, plan)
