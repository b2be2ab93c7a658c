"""`kafkaops flags`: feature flags and config values on `_kafkaops.flags`.

    kafkaops flags list [--tag T] [--json]
    kafkaops flags get NAME [--json]
    kafkaops flags create NAME [--type bool|string|number|json] [--default V] [--value V]
                              [--owner O] [--description D] [--tag T ...]
    kafkaops flags set NAME [VALUE] [--default V] [--owner O] [--description D] [--tag T ...]
                           [--variant NAME[:WEIGHT]=VALUE ...] [--clear-variants]
                           [--rule 'ATTR in [A, B]' ...] [--clear-rules]
    kafkaops flags toggle NAME [--on | --off]
    kafkaops flags rollout NAME PERCENT
    kafkaops flags history NAME [--json]
    kafkaops flags rollback NAME VERSION
    kafkaops flags delete NAME
    kafkaops flags eval NAME --user KEY [--user KEY ...] [--attr k=v ...] [--json]

Every write takes --if-version N (the version you last saw: on a mismatch, exit 3 and
nothing is written), --reason TEXT, --yes and --json. Without --if-version the write is
made against the version shown in the confirmation, so a change made by someone else while
you read the prompt is a conflict (exit 3), never silently overwritten. The prompt is core's
plan of the change (FlagPlan.describe(): the change, the state now, the state after with its
version), and that plan is what is applied.
"""

from __future__ import annotations

import argparse
from typing import Any

from kafkaops.cli.common import (
    Context,
    add_json,
    add_yes,
    confirm,
    json_text,
    print_json,
    table,
)
from kafkaops.core.errors import NothingToChange, UsageError
from kafkaops.core.flags.service import (
    FLAG_TYPES,
    Evaluation,
    FlagChange,
    FlagPlan,
    FlagService,
    FlagState,
    check_key,
    check_rollout,
    check_type,
    local_actor,
    parse_rule,
    parse_value,
    parse_variant,
    state_summary,
    state_to_json,
)
from kafkaops.core.flags.signing import UNSIGNED_NOTE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "flags",
        help="feature flags and config values: list, change, roll out, roll back",
        description="Feature flags and config values kept in the compacted topic "
        "_kafkaops.flags. Writes are compare-and-set and audited.",
    )
    fsub = p.add_subparsers(
        dest="flags_command", metavar="COMMAND", required=True, parser_class=type(p)
    )

    c = fsub.add_parser("list", help="every flag with its state, rollout, owner and version")
    c.add_argument("--tag", help="only flags with this tag")
    add_json(c)
    c.set_defaults(func=list_cmd)

    c = fsub.add_parser("get", help="one flag's full state")
    c.add_argument("name", metavar="NAME")
    add_json(c)
    c.set_defaults(func=get_cmd)

    c = fsub.add_parser(
        "resign",
        help="write a flag's last unsigned state again, signed (after turning signing on)",
        description="A flag written before flag records were signed has only unsigned "
        "records: with a signing key configured they are not applied and services serve "
        "their default. This writes the last unsigned state again as a new, signed version "
        "(compare-and-set and audited, like any change). Check it first with "
        "`kafkaops flags history NAME`.",
    )
    c.add_argument("name", metavar="NAME")
    _write_options(c, if_version=False)
    c.set_defaults(func=resign_cmd)

    c = fsub.add_parser("create", help="a new flag (it starts disabled)")
    c.add_argument("name", metavar="NAME")
    c.add_argument("--type", default="bool", choices=FLAG_TYPES, help="value type (bool)")
    c.add_argument("--default", metavar="V", help="value when off / not targeted")
    c.add_argument("--value", metavar="V", help="value when on (bool: the opposite of default)")
    c.add_argument("--owner", default="", help="team or person answerable for it")
    c.add_argument("--description", default="", help="what it does")
    c.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="T",
        help="tag (repeat); 'critical' makes the console ask before changes",
    )
    _write_options(c, if_version=False)
    c.set_defaults(func=create_cmd)

    c = fsub.add_parser("set", help="change a flag's value or other fields")
    c.add_argument("name", metavar="NAME")
    c.add_argument("value", metavar="VALUE", nargs="?", help="value served when on")
    c.add_argument("--default", metavar="V", help="value when off / not targeted")
    c.add_argument("--owner", help="team or person answerable for it")
    c.add_argument("--description", help="what it does")
    c.add_argument("--tag", action="append", metavar="T", help="replace the tags (repeat)")
    c.add_argument(
        "--variant",
        action="append",
        metavar="NAME[:WEIGHT]=VALUE",
        help="replace the variants (repeat); weight defaults to 1",
    )
    c.add_argument("--clear-variants", action="store_true", help="remove every variant")
    c.add_argument(
        "--rule",
        action="append",
        metavar="RULE",
        help="replace the targeting rules (repeat), e.g. 'region in [eu-west-1]'",
    )
    c.add_argument("--clear-rules", action="store_true", help="remove every rule")
    _write_options(c)
    c.set_defaults(func=set_cmd)

    c = fsub.add_parser("toggle", help="switch a flag on or off (flip without --on/--off)")
    c.add_argument("name", metavar="NAME")
    on_off = c.add_mutually_exclusive_group()
    on_off.add_argument("--on", dest="enabled", action="store_const", const=True)
    on_off.add_argument("--off", dest="enabled", action="store_const", const=False)
    _write_options(c)
    c.set_defaults(func=toggle_cmd)

    c = fsub.add_parser("rollout", help="set the percentage of users who get the flag")
    c.add_argument("name", metavar="NAME")
    c.add_argument("percent", metavar="PERCENT", help="0 to 100, up to two decimals")
    _write_options(c)
    c.set_defaults(func=rollout_cmd)

    c = fsub.add_parser("history", help="every change of a flag still on the topic")
    c.add_argument("name", metavar="NAME")
    add_json(c)
    c.set_defaults(func=history_cmd)

    c = fsub.add_parser("rollback", help="restore a flag as it was at an earlier version")
    c.add_argument("name", metavar="NAME")
    c.add_argument("version", metavar="VERSION", type=_version, help="version to restore")
    _write_options(c)
    c.set_defaults(func=rollback_cmd)

    c = fsub.add_parser("delete", help="delete a flag (services then get their defaults)")
    c.add_argument("name", metavar="NAME")
    _write_options(c)
    c.set_defaults(func=delete_cmd)

    c = fsub.add_parser("eval", help="what given users get from a flag, as the SDK decides")
    c.add_argument("name", metavar="NAME")
    c.add_argument(
        "--user", action="append", required=True, metavar="KEY", help="user key (repeat)"
    )
    c.add_argument(
        "--attr",
        action="append",
        default=[],
        metavar="K=V",
        help="evaluation attribute (repeat), e.g. region=eu-west-1",
    )
    add_json(c)
    c.set_defaults(func=eval_cmd)


def _version(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a version is a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"a version is >= 0, got {n}")
    return n


def _write_options(p: argparse.ArgumentParser, *, if_version: bool = True) -> None:
    if if_version:
        p.add_argument(
            "--if-version",
            type=_version,
            metavar="N",
            help="only if the flag is still at version N (else exit 3)",
        )
    p.add_argument("--reason", default="", help="why: kept with the change and in the audit")
    add_yes(p)
    add_json(p)


# ---------------------------------------------------------------- reads


async def list_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        svc = await services.flags()
        flags = await svc.list_flags()
        exists = svc.topic_exists
        cluster = svc.cluster
        ignored, signed = svc.ignored_records(), svc.signed
    if args.tag:
        flags = [f for f in flags if args.tag in f.tags]
    if args.json:
        print_json([state_to_json(f) for f in flags])
        return 0
    if not flags:
        note = "" if exists else " (the flags topic does not exist yet)"
        print(f"no flags on cluster {cluster!r}{note}")
    else:
        print(render_list(flags))
    for o, key, why in ignored:
        print(f"ignored record at offset {o} (flag {key}): {why}")
    if not signed:
        print(f"note: {UNSIGNED_NOTE}")
    return 0


def render_list(flags: list[FlagState]) -> str:
    return table(
        ["FLAG", "TYPE", "STATE", "ROLLOUT", "VALUE", "OWNER", "VERSION", "LAST CHANGE"],
        [
            (
                f.key,
                f.type,
                "on" if f.enabled else "off",
                f"{f.rollout:g}%",
                _short(f.value),
                f.owner or None,
                f.version,
                f"{_when(f.updated_at)} {f.updated_by}".strip(),
            )
            for f in flags
        ],
        right=(3, 6),
    )


async def get_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        svc = await services.flags()
        state = await svc.get(args.name)
        ignored = svc.ignored_records(args.name)
    if args.json:
        data = state_to_json(state)
        if ignored:  # only then: a flag without any has the plain state's fields
            data["ignored_records"] = [{"offset": o, "why": why} for o, _, why in ignored]
        print_json(data)
    else:
        print(render_state(state))
        for o, _, why in ignored:
            print(f"ignored record at offset {o}: {why}")
    return 0


async def resign_cmd(args: argparse.Namespace, ctx: Context) -> int:
    check_key(args.name)
    async with ctx.services() as services:
        services.require_writable(action=f"re-sign flag {args.name!r}")
        svc = await services.flags()
        if not svc.signed:
            raise UsageError("flag records are not signed here (neither flags.signing_key "
                             "nor audit.signing_key is set): nothing to re-sign")
        await svc.list_flags()
        waiting = svc.store.log.unsigned_states.get(args.name)
        if waiting is not None:
            confirm(args, f"on cluster {svc.cluster!r}:\n  re-sign flag {args.name!r}: "
                    f"{state_summary(waiting)} (its last unsigned state, by "
                    f"{waiting.updated_by or 'unknown'}), as a new signed version")
        state = await svc.resign(args.name, actor=local_actor(), face="cli",
                                 reason=args.reason)
    return _done(args, state, None, "re-signed")


def render_state(s: FlagState) -> str:
    rows = [
        ("flag", s.key),
        ("type", s.type),
        ("state", "on" if s.enabled else "off"),
        ("rollout", f"{s.rollout:g}%"),
        ("value", json_text(s.value)),
        ("default", json_text(s.default)),
        (
            "variants",
            ", ".join(f"{v.name}:{v.weight}={json_text(v.value)}" for v in s.variants) or "-",
        ),
        ("rules", "; ".join(str(r) for r in s.rules) or "-"),
        ("owner", s.owner or "-"),
        ("description", s.description or "-"),
        ("tags", ", ".join(s.tags) or "-"),
        ("version", str(s.version)),
        ("updated", f"{_when(s.updated_at)} by {s.updated_by or '-'}"),
        ("reason", s.reason or "-"),
        ("created", f"{_when(s.created_at)} by {s.created_by or '-'}"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


async def history_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        svc = await services.flags()
        changes = await svc.history(args.name)
        start = svc.history_start
    if args.json:
        print_json(changes)
        return 0
    print(render_history(changes))
    if start:
        print(f"(history starts at offset {start}: older records were compacted away)")
    return 0


def render_history(changes: list[FlagChange]) -> str:
    return table(
        ["OFFSET", "WHEN", "OP", "VERSION", "EXPECTED", "BY", "OUTCOME", "DETAIL"],
        [
            (
                c.offset,
                _when(c.at),
                c.op,
                c.version if c.version is not None else "(deleted)",
                c.expects,
                c.by,
                c.outcome,
                c.note or (state_summary(c.state) if c.state else "") + _why(c.reason),
            )
            for c in changes
        ],
        right=(0, 3, 4),
    )


async def eval_cmd(args: argparse.Namespace, ctx: Context) -> int:
    attrs: dict[str, str] = {}
    for item in args.attr:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise UsageError(f"--attr takes KEY=VALUE, got {item!r}")
        attrs[k.strip()] = v
    async with ctx.services() as services:
        results = await (await services.flags()).evaluate(args.name, args.user, attrs)
    if args.json:
        print_json([_eval_row(e) for e in results])
    else:
        print(
            table(
                ["USER", "VALUE", "REASON", "DETAIL"],
                [(e.user, json_text(e.value), e.reason, e.detail) for e in results],
            )
        )
    return 0


def _eval_row(e: Evaluation) -> dict[str, Any]:
    return {
        "user": e.user,
        "value": e.value,
        "reason": e.reason,
        "detail": e.detail,
        "variant": e.variant,
        "bucket": e.bucket,
        "version": e.version,
    }


# ---------------------------------------------------------------- writes


async def _current(svc: FlagService, args: argparse.Namespace) -> FlagState:
    """The flag as it is now; Conflict (exit 3, nothing written, the refusal audited) if
    --if-version is stale."""
    return await svc.check_version(
        args.name, getattr(args, "if_version", None), op=args.flags_command,
        actor=local_actor(), face="cli", reason=args.reason)


def _done(
    args: argparse.Namespace, state: FlagState | None, before: FlagState | None, what: str
) -> int:
    if args.json:
        print_json(state_to_json(state) if state else {"key": args.name, "deleted": True})
    elif state is None:
        print(f"deleted flag {args.name!r} (it was version {before.version if before else '?'})")
    else:
        was = f" (was v{before.version})" if before else ""
        print(f"{what} flag {state.key!r}: {state_summary(state)}{was}")
    return 0


def _who() -> tuple[str, str]:
    """Who plans a change from here, for the audit of a refusal (a stale --if-version)."""
    return local_actor(), "cli"


def _ask(args: argparse.Namespace, svc: FlagService, plan: FlagPlan) -> None:
    """Show core's plan (its describe()) and ask, unless --yes; a plan that changes
    nothing is said (exit 0) without asking."""
    same = plan.nothing_to_change()
    if same:
        raise NothingToChange(same)
    confirm(args, f"on cluster {svc.cluster!r}:\n  " + "\n  ".join(plan.describe()))


async def create_cmd(args: argparse.Namespace, ctx: Context) -> int:
    check_key(args.name)
    ftype = check_type(args.type)
    kw: dict[str, Any] = {}
    if args.default is not None:
        kw["default"] = parse_value(ftype, args.default, "--default")
    if args.value is not None:
        kw["value"] = parse_value(ftype, args.value, "--value")
    async with ctx.services() as services:
        services.require_writable(action=f"create flag {args.name!r}")
        svc = await services.flags()
        plan = await svc.plan_create(args.name, type=ftype, owner=args.owner,
                                     description=args.description, tags=args.tag,
                                     reason=args.reason, **kw)
        _ask(args, svc, plan)
        state = await svc.apply(plan, actor=local_actor(), face="cli")
    return _done(args, state, None, "created")


async def set_cmd(args: argparse.Namespace, ctx: Context) -> int:
    check_key(args.name)
    if args.variant and args.clear_variants:
        raise UsageError("--variant and --clear-variants do not go together")
    if args.rule and args.clear_rules:
        raise UsageError("--rule and --clear-rules do not go together")
    rules = [parse_rule(r) for r in args.rule] if args.rule else ([] if args.clear_rules else None)
    async with ctx.services() as services:
        services.require_writable(action=f"change flag {args.name!r}")
        svc = await services.flags()
        cur = await _current(svc, args)
        kw: dict[str, Any] = {}
        if args.value is not None:
            kw["value"] = parse_value(cur.type, args.value, "VALUE")
        if args.default is not None:
            kw["default"] = parse_value(cur.type, args.default, "--default")
        if args.variant:
            kw["variants"] = [parse_variant(cur.type, v) for v in args.variant]
        elif args.clear_variants:
            kw["variants"] = []
        if rules is not None:
            kw["rules"] = rules
        for name in ("owner", "description"):
            if getattr(args, name) is not None:
                kw[name] = getattr(args, name)
        if args.tag is not None:
            kw["tags"] = args.tag
        if not kw:
            raise UsageError(f"nothing to change on flag {args.name!r}: give VALUE or an option")
        plan = await svc.plan_set(args.name, expect_version=cur.version, reason=args.reason,
                                  audit=_who(), **kw)
        _ask(args, svc, plan)
        state = await svc.apply(plan, actor=local_actor(), face="cli")
    return _done(args, state, cur, "changed")


async def toggle_cmd(args: argparse.Namespace, ctx: Context) -> int:
    check_key(args.name)
    async with ctx.services() as services:
        services.require_writable(action=f"toggle flag {args.name!r}")
        svc = await services.flags()
        plan = (await svc.plan_toggle(args.name, args.enabled, expect_version=args.if_version,
                                     reason=args.reason, audit=_who())).pin()
        cur = plan.before
        _ask(args, svc, plan)
        state = await svc.apply(plan, actor=local_actor(), face="cli")
    return _done(args, state, cur, "switched")


async def rollout_cmd(args: argparse.Namespace, ctx: Context) -> int:
    check_key(args.name)
    pct = check_rollout(args.percent)
    async with ctx.services() as services:
        services.require_writable(action=f"change the rollout of flag {args.name!r}")
        svc = await services.flags()
        plan = (await svc.plan_rollout(args.name, pct, expect_version=args.if_version,
                                     reason=args.reason, audit=_who())).pin()
        cur = plan.before
        _ask(args, svc, plan)
        state = await svc.apply(plan, actor=local_actor(), face="cli")
    return _done(args, state, cur, "rolled out")


async def rollback_cmd(args: argparse.Namespace, ctx: Context) -> int:
    check_key(args.name)
    async with ctx.services() as services:
        services.require_writable(action=f"roll back flag {args.name!r}")
        svc = await services.flags()
        plan = (await svc.plan_rollback(args.name, args.version, expect_version=args.if_version,
                                     reason=args.reason, audit=_who())).pin()
        cur = plan.before
        _ask(args, svc, plan)
        state = await svc.apply(plan, actor=local_actor(), face="cli")
    return _done(args, state, cur, "rolled back")


async def delete_cmd(args: argparse.Namespace, ctx: Context) -> int:
    check_key(args.name)
    async with ctx.services() as services:
        services.require_writable(action=f"delete flag {args.name!r}")
        svc = await services.flags()
        plan = (await svc.plan_delete(args.name, expect_version=args.if_version,
                                     reason=args.reason, audit=_who())).pin()
        cur = plan.before
        _ask(args, svc, plan)
        await svc.apply(plan, actor=local_actor(), face="cli")
    return _done(args, None, cur, "deleted")


# ---------------------------------------------------------------- formatting


def _short(value: Any, width: int = 30) -> str:
    text = value if isinstance(value, str) else json_text(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(iso: str) -> str:
    """2026-11-25T14:03:05.12Z -> 2026-11-25 14:03:05Z"""
    if not iso:
        return "-"
    return iso.replace("T", " ")[:19] + "Z"


def _why(reason: str) -> str:
    return f" — {reason}" if reason else ""


__all__ = ["register", "render_history", "render_list", "render_state"]
