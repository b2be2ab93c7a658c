"""`/kafka offsets reset GROUP --topic T (--to-earliest | --to-latest | --to-time T |
--to-offset N | --shift-by N) [--partition P]`: move a consumer group, planned, confirmed.
Without a target (`/kafka offsets reset [GROUP]`), and from the Plan reset button of a
group that is behind, a form opens: pickers for the group, the topic and the target, whose
submission is answered with the same plan and Confirm.

The plan (core's OffsetResetService.plan: reads only) is the confirmation's summary and is
kept as data; on Confirm, core applies exactly that plan, after checking that the group is
still empty and nothing moved under it (else Conflict, nothing changed), reads the offsets
back and audits, with the confirming Slack user as actor. Permission: offsets.reset.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
from typing import TYPE_CHECKING, Any

from kafkaops.bot.render.common import Message, clip, esc, section
from kafkaops.bot.render.lag import RESET_ACTION
from kafkaops.bot.render.offsets import (
    render_nothing_to_reset,
    render_reset_plan,
    render_reset_result,
)
from kafkaops.bot.render.replies import render_error
from kafkaops.bot.render.views import loading_view, message_view, modal
from kafkaops.core.errors import KafkaOpsError, UsageError
from kafkaops.core.offsets.model import ACTION, ResetPlan, ResetRequest
from kafkaops.core.offsets.rules import parse_target, writable_action
from kafkaops.core.offsets.service import OffsetResetService
from kafkaops.core.records import to_jsonable

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.confirm import Execution
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.bot")

_MODES = {
    "to_earliest": "earliest",
    "to_latest": "latest",
    "to_time": "time",
    "to_offset": "offset",
    "shift_by": "shift",
}


def _partitions(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"partition must be a number or 0,1,2 (got {text!r})"
        ) from None
    if not out or any(p < 0 for p in out):
        raise argparse.ArgumentTypeError(f"partition must be a number >= 0 (got {text!r})")
    return out


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("group", metavar="GROUP")
    p.add_argument("--topic", "-t", required=True, metavar="TOPIC")
    p.add_argument("--partition", "-p", action="append", type=_partitions, metavar="P")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--to-earliest", action="store_true")
    mode.add_argument("--to-latest", action="store_true")
    mode.add_argument("--to-time", metavar="T")
    mode.add_argument("--to-offset", metavar="N")
    mode.add_argument("--shift-by", metavar="N")


def register(bot: Bot, services: Services) -> None:
    bot.command(
        "offsets reset",
        summary="move a stopped group to earliest, latest, a time (1h), an offset, or by N",
        arguments=_args,
        action=ACTION,
        names=("group", "group"),
    )(offsets_reset)
    bot.confirmable(ACTION, run_reset)
    register_form(bot)


async def offsets_reset(inv: Invocation) -> Message:
    a = inv.args
    dest, mode = next((d, m) for d, m in _MODES.items() if getattr(a, d))
    value = getattr(a, dest)
    target = parse_target(mode, None if isinstance(value, bool) else value)
    partitions = tuple(sorted({p for g in a.partition for p in g})) if a.partition else None
    inv.services.require_writable(inv.cluster, writable_action(a.group))
    plan = await OffsetResetService(inv.services, inv.cluster).plan(
        ResetRequest(a.group, a.topic, target, partitions)
    )
    if not plan.changing:
        return render_nothing_to_reset(plan)
    return await inv.confirm(
        ACTION,
        target=plan.group,
        summary=render_reset_plan(plan),
        params={"plan": to_jsonable(plan)},
    )


async def run_reset(ex: Execution) -> Message:
    plan = ResetPlan.from_jsonable(ex.params["plan"])
    if plan.cluster != ex.cluster:  # pragma: no cover - the handler plans on ex.cluster
        raise UsageError(f"plan is for cluster {plan.cluster!r}, not {ex.cluster!r}")
    result = await OffsetResetService(ex.services, ex.cluster).apply(
        plan, actor=ex.confirmer, face="slack"
    )
    return render_reset_result(result)


# ---------------------------------------------------------------- the form


#: the modal's callback id, and what its inputs are called
FORM = "kafkaops.reset.form"
_TARGETS = {"earliest": "the earliest offset (read everything again)",
            "latest": "the latest offset (skip what is waiting)",
            "time": "a time (below)"}
#: Slack's limits on a static select: 100 options, values of at most 150 characters
MAX_OPTIONS = 100
MAX_OPTION = 150


def form_prefill(words: list[str]) -> dict[str, str] | None:
    """`offsets reset [GROUP] [--topic T] [--cluster C]` without a target: what the form
    starts with; None when the words name a target (then it is a command to run)."""
    if words[:2] != ["offsets", "reset"] or any(
            w.startswith(("--to-", "--shift-by")) for w in words):
        return None
    out: dict[str, str] = {}
    rest = words[2:]
    i = 0
    while i < len(rest):
        w = rest[i]
        if w in ("--topic", "-t", "--cluster", "-c") and i + 1 < len(rest):
            out["topic" if w in ("--topic", "-t") else "cluster"] = rest[i + 1]
            i += 2
            continue
        if not w.startswith("-") and "group" not in out:
            out["group"] = w
        i += 1
    return out


def _select(block_id: str, label: str, names: list[str], initial: str | None,
            hint: str) -> dict[str, Any]:
    """A picker of names (a text box when they do not fit Slack's select)."""
    if names and len(names) <= MAX_OPTIONS and all(len(n) <= MAX_OPTION for n in names):
        element: dict[str, Any] = {
            "type": "static_select", "action_id": "value",
            "placeholder": {"type": "plain_text", "text": f"Pick a {label.lower()}"},
            "options": [{"text": {"type": "plain_text", "text": clip(n, 75)}, "value": n}
                        for n in names]}
        if initial in names:
            element["initial_option"] = {"text": {"type": "plain_text",
                                                  "text": clip(str(initial), 75)},
                                         "value": initial}
    else:
        element = {"type": "plain_text_input", "action_id": "value"}
        if initial:
            element["initial_value"] = initial
    return {"type": "input", "block_id": block_id, "label": {"type": "plain_text",
                                                            "text": label},
            "element": element, "hint": {"type": "plain_text", "text": hint}}


def form_view(cluster: str, groups: list[str], topics: list[str], prefill: dict[str, str],
              channel: str) -> dict[str, Any]:
    """The offset-reset form: group, topic, target (earliest, latest, a time)."""
    to = {"type": "radio_buttons", "action_id": "value",
          "options": [{"text": {"type": "plain_text", "text": t}, "value": k}
                      for k, t in _TARGETS.items()]}
    to["initial_option"] = to["options"][2]
    blocks = [
        section(f"Cluster *{esc(cluster)}*. Submit shows the plan (what each partition moves "
                "to, how many records are read again or skipped) with Confirm; nothing "
                "changes before Confirm."),
        _select("group", "Consumer group", groups, prefill.get("group"),
                "It must have no members when the reset runs."),
        _select("topic", "Topic", topics, prefill.get("topic") or (
            topics[0] if len(topics) == 1 else None), "The topic whose offsets move."),
        {"type": "input", "block_id": "to", "label": {"type": "plain_text",
                                                      "text": "Move to"}, "element": to},
        {"type": "input", "block_id": "time", "optional": True,
         "label": {"type": "plain_text", "text": "Time"},
         "element": {"type": "plain_text_input", "action_id": "value", "initial_value": "1h"},
         "hint": {"type": "plain_text", "text": "How long ago (30m, 1h, 2d) or a time "
                                                "(2026-11-25T14:00:00Z)."}},
    ]
    meta = json.dumps({"cluster": cluster, "channel": channel}, separators=(",", ":"))
    return modal("Offset reset", blocks, callback_id=FORM, submit="Plan reset", metadata=meta)


def _value(values: dict[str, Any], block: str) -> str:
    v = (values.get(block) or {}).get("value") or {}
    chosen = v.get("selected_option") or {}
    return str(chosen.get("value") or v.get("value") or "").strip()


def form_command(view: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The command a submitted form asks for, and the errors to show in it (by block)."""
    values = (view.get("state") or {}).get("values") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        cluster = str(meta.get("cluster", ""))
    except (ValueError, AttributeError):
        cluster = ""
    group, topic, to, when = (_value(values, b) for b in ("group", "topic", "to", "time"))
    errors: dict[str, str] = {}
    if not group:
        errors["group"] = "Pick the consumer group."
    if not topic:
        errors["topic"] = "Pick the topic."
    if to not in _TARGETS:
        errors["to"] = "Pick where to move the offsets."
    elif to == "time":
        try:
            parse_target("time", when)
        except UsageError as e:
            errors["time"] = str(e)[:150]
    # the picked values are untrusted: a name starting with "-" stays a name (after `--`,
    # or glued to its option), never an option of its own
    words = ["offsets", "reset",
             *([f"--topic={topic}"] if topic.startswith("-") else ["--topic", topic]),
             *(["--to-time", when] if to == "time" else [f"--to-{to}"]),
             *(["--cluster", cluster] if cluster else []),
             *(["--", group] if group.startswith("-") else [group])]
    return shlex.join(words), errors


async def open_form(bot: Bot, trigger_id: str, prefill: dict[str, str], channel: str,
                    request: Any) -> None:
    """Open the form at once (Slack allows 3 s for a trigger_id), then fill its pickers
    with the cluster's groups and topics."""
    try:
        opened = await bot.client.views_open(trigger_id=trigger_id,
                                             view=loading_view("Offset reset", "groups"))
    except Exception as e:  # an expired trigger_id, Slack down: nothing was asked
        log.warning("could not open the offset-reset form: %s", e)
        return
    view_id = str((opened.get("view") or {}).get("id", ""))
    cluster = prefill.get("cluster") or bot.services.cluster_name
    if cluster not in bot.config.clusters:
        cluster = bot.services.cluster_name

    async def fill(_: dict[str, Any]) -> None:
        try:
            svc = await bot.services.lag(cluster)
            groups = sorted(await svc.list_groups())
            topics: list[str] = []
            group = prefill.get("group")
            if group in groups:
                snap = await svc.snapshot([group])
                found = snap.group(group)
                topics = sorted({p.topic for p in found.partitions}) if found else []
            if not topics:
                topics = sorted(t.name for t in await (await bot.services.topics(
                    cluster)).list_topics(offsets=False) if not t.internal)
            view = form_view(cluster, groups, topics, prefill, channel)
        except KafkaOpsError as e:
            view = message_view("Offset reset", render_error(bot.public(e, "offset-reset form"),
                                                             retriable=e.retriable))
        try:
            await bot.client.views_update(view_id=view_id, view=view)
        except Exception as e:
            log.warning("could not fill the offset-reset form: %s", e)

    bot.spawn(bot.once(fill)({}, request), "offset-reset form")


def register_form(bot: Bot) -> None:
    """The Plan reset button, `/kafka offsets reset` without a target, and the form's
    submission (checked in the ack: a bad time is said next to it; then the plan and
    Confirm are posted to the person, as the command would answer)."""

    async def ack_open(ack: Any, body: dict[str, Any], request: Any) -> None:
        await ack()
        raw = str(((body.get("actions") or [{}])[0]).get("value", ""))
        try:
            v = json.loads(raw)
            prefill = {"cluster": str(v["cluster"]), "group": str(v["group"])}
        except (ValueError, KeyError, TypeError):
            prefill = {}
        channel = str((body.get("channel") or {}).get("id", ""))
        await open_form(bot, str(body.get("trigger_id", "")), prefill, channel, request)

    async def ack_submit(ack: Any, body: dict[str, Any], request: Any) -> None:
        view = body.get("view") or {}
        text, errors = form_command(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        try:
            channel = str(json.loads(view.get("private_metadata") or "{}").get("channel", ""))
        except ValueError:
            channel = ""
        user = body.get("user") or {}

        async def plan(_: dict[str, Any]) -> None:
            uid = str(user.get("id", ""))
            msg = await bot.answer(text, user=uid, user_name=str(user.get("username", "")),
                                   channel=channel)
            try:
                if channel:
                    await bot.client.chat_postEphemeral(channel=channel, user=uid,
                                                        **msg.to_slack())
                else:  # opened from the Home tab: the app's messages with the person
                    await bot.client.chat_postMessage(channel=uid, **msg.to_slack())
            except Exception as e:
                log.warning("could not post the offset-reset plan to %s: %s", uid, e)

        bot.spawn(bot.once(plan)(body, request), "offset-reset plan")

    bot.app.action(RESET_ACTION)(ack_open)
    bot.app.view(FORM)(ack_submit)
    async def opener(trigger_id: str, prefill: dict[str, str], channel: str,
                     request: Any) -> None:
        await open_form(bot, trigger_id, prefill, channel, request)

    bot.forms["offsets reset"] = (form_prefill, opener)
