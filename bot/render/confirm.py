"""Confirmation prompts and their outcomes. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

from kafkaops.bot.render.common import (
    Block,
    Message,
    button,
    context,
    esc,
    header,
    section,
    sentence,
    who,
)

CONFIRM_ACTION_ID = "kafkaops.confirm"
CANCEL_ACTION_ID = "kafkaops.cancel"


def _when(ts: float, fmt: str = "{time}") -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    import datetime as dt

    fallback = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M UTC")
    return f"<!date^{int(ts)}^{fmt}|{fallback}>"


def render_prompt(
    *,
    pending_id: str,
    kind: str,
    target: str,
    summary: Message,
    requester: str,
    cluster: str,
    expires_at: float,
    extra: Sequence[Block] = (),
) -> Message:
    """Summary of the change, then Confirm / Cancel (and `extra` buttons, e.g. Full plan);
    the Confirm and Cancel buttons carry only an opaque id."""
    blocks: list[Block] = [
        header(f"Confirm {kind}: {target}"),
        *summary.blocks,
        context(
            f"requested by {who(requester)} · cluster `{esc(cluster)}` · "
            f"expires at {_when(expires_at)} · only the requester or a permitted role "
            "can confirm"
        ),
        {
            "type": "actions",
            "block_id": f"kafkaops.confirm.{pending_id}",
            "elements": [
                button("Confirm", CONFIRM_ACTION_ID, pending_id, style="danger"),
                button("Cancel", CANCEL_ACTION_ID, pending_id),
                *extra,
            ],
        },
    ]
    return Message(f"Confirm {kind} {target}? {summary.text}", tuple(blocks))


def render_running(kind: str, target: str, confirmer: str) -> Message:
    return Message(
        f"{kind} {target}: confirmed, running…",
        (section(f":hourglass_flowing_sand: *{esc(kind)}* `{esc(target)}`: confirmed by "
                 f"{who(confirmer)}, running…"),),
    )


def render_outcome(
    result: Message, *, kind: str, requester: str, confirmer: str, at: float
) -> Message:
    """The executor's reply, with who asked and who confirmed; replaces the prompt."""
    by = f"requested by {who(requester)}"
    if confirmer != requester:
        by += f" · confirmed by {who(confirmer)}"
    else:
        by += " and confirmed"
    return Message(result.text, (*result.blocks, context(f"{esc(kind)} · {by} · {_when(at)}")))


def render_failed(kind: str, target: str, problem: str, *, confirmer: str) -> Message:
    return Message(
        f"{kind} {target} failed: {problem}",
        (
            section(f":x: *{esc(kind)}* `{esc(target)}` failed: {esc(problem)}"),
            context(f"confirmed by {who(confirmer)}"),
        ),
    )


def render_cancelled(kind: str, target: str, by: str) -> Message:
    return Message(
        f"{kind} {target} cancelled; nothing was changed",
        (section(f":heavy_multiplication_x: *{esc(kind)}* `{esc(target)}` cancelled by "
                 f"{who(by)}. Nothing was changed."),),
    )


def render_expired(kind: str, target: str, command_text: str, minutes: int) -> Message:
    return Message(
        f"This confirmation of {kind} {target} expired; nothing was changed",
        (section(f":hourglass: This confirmation of *{esc(kind)}* `{esc(target)}` expired "
                 f"(older than {minutes} min). Nothing was changed; run `{esc(command_text)}` "
                 "again if it is still wanted."),),
    )


def render_already_used(kind: str, target: str, outcome: str, by: str, at: float) -> Message:
    return Message(
        f"This confirmation was already used ({outcome}); nothing was done again",
        (section(f":repeat: This confirmation of *{esc(kind)}* `{esc(target)}` was already "
                 f"{outcome} by {who(by)} at {_when(at)}. Nothing was done again."),),
    )


def render_tampered(kind: str, target: str, command_text: str) -> Message:
    """A click on a confirmation that was written to without the key: replaces the prompt."""
    again = f"run `{esc(command_text)}` again if it is still wanted" if command_text else (
        "run the command again if it is still wanted")
    return Message(
        f"This confirmation of {kind} {target} was altered outside kafkaops; nothing was done",
        (section(f":rotating_light: This confirmation of *{esc(kind)}* `{esc(target)}` was "
                 "altered outside kafkaops (on its Kafka topic, without the signing key), so "
                 f"it was not run. Nothing was changed; {again}. This is in the audit trail: "
                 "tell whoever runs the bot."),),
    )


def render_unknown_confirmation() -> Message:
    return Message(
        "Unknown confirmation; nothing was done",
        (section(":grey_question: This confirmation is not known to the bot (it may have "
                 "restarted since it was asked for). Nothing was done; run the command again."),),
    )


def render_not_yours(kind: str, requester: str, reason: str) -> Message:
    return Message(
        f"You may not confirm this {kind}; nothing was done",
        (section(f":no_entry: Only {who(requester)} or a member of a role allowed to run "
                 f"*{esc(kind)}* can confirm or cancel this. {sentence(reason)} Nothing was "
                 "done."),),
    )
