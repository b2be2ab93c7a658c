"""Modals and the App Home tab as Block Kit views. Pure functions.

A modal opened from a click must be opened within Slack's three seconds for a trigger_id,
so it opens at once with `loading_view` and is filled in with `views.update` once the
answer is there (`message_view`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.bot.render.common import (
    Block,
    Message,
    button,
    clip,
    context,
    esc,
    header,
    human_seconds,
    plural,
    printable_tree,
    row,
    section,
    who,
)

if TYPE_CHECKING:
    from kafkaops.core.alerts.book import AlertView
    from kafkaops.core.audit.model import AuditRecord
    from kafkaops.core.dr.model import DrStatus
    from kafkaops.core.lag.model import GroupLag

#: the Refresh button of the Home tab
HOME_REFRESH_ACTION = "kafkaops.home.refresh"

#: https://api.slack.com/reference/surfaces/views: limits of a modal / the Home tab
MAX_VIEW_BLOCKS = 100
MAX_TITLE = 24
MAX_METADATA = 3000


def modal(title: str, blocks: list[Block], *, callback_id: str = "kafkaops.view",
          submit: str | None = None, metadata: str = "") -> dict[str, Any]:
    """A modal view: title (24 characters at most), blocks, Close (and Submit)."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": clip(title, MAX_TITLE)},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": printable_tree(blocks[:MAX_VIEW_BLOCKS]),
    }
    if submit is not None:
        view["submit"] = {"type": "plain_text", "text": clip(submit, MAX_TITLE)}
    if metadata:
        view["private_metadata"] = metadata[:MAX_METADATA]
    return view


def loading_view(title: str, what: str) -> dict[str, Any]:
    """What a modal shows while its answer is read (it opens before, within 3 s)."""
    return modal(title, [section(f":hourglass_flowing_sand: Reading {what}…")])


def message_view(title: str, msg: Message) -> dict[str, Any]:
    """A reply shown in a modal (headers are kept; buttons of the reply are dropped: the
    modal is for reading)."""
    blocks = [b for b in msg.blocks if b.get("type") != "actions"]
    return modal(title, blocks or [section(msg.text)])


# ---------------------------------------------------------------- App Home


@dataclass(frozen=True)
class ClusterLag:
    """One cluster's lagging groups for the Home tab, or why they are unknown."""

    cluster: str
    """Cluster name."""
    groups: tuple[GroupLag, ...] = ()
    """Its groups whose status is worse than OK, worst first."""
    total: int = 0
    """Groups read."""
    error: str | None = None
    """Why it is unknown (the cluster did not answer), None when it answered."""
    last_answer: float | None = None
    """When it last answered this bot (None: never since the bot started)."""


@dataclass(frozen=True)
class HomeState:
    """What the on-call Home tab shows, read at `at`."""

    at: float
    """When it was read."""
    alerts: tuple[AlertView, ...] | None
    """Alerts firing, oldest first (None: the alerts topic could not be read)."""
    alerts_error: str | None
    """Why not."""
    rules: int
    """Alert rules configured."""
    lag: tuple[ClusterLag, ...]
    """Per cluster."""
    dr: tuple[DrStatus, ...]
    """Per DR pair."""
    dr_error: str | None
    """Why DR is unknown."""
    changes: tuple[AuditRecord, ...]
    """The newest audit records, newest first."""
    changes_error: str | None
    """Trails that could not be read."""


def when(ts: float) -> str:
    from kafkaops.bot.render.alerts import when as _when

    return _when(ts)


def _ago(at: float | None, now: float) -> str:
    if at is None:
        return "never since the bot started"
    return f"{human_seconds(max(0.0, now - at))} ago"


def render_home(state: HomeState, *, command: str = "/kafka") -> dict[str, Any]:
    """The on-call view of the App Home tab: firing alerts, lagging groups, DR, recent
    changes. A cluster that did not answer is shown so, with when it last answered: never
    as OK."""
    from kafkaops.bot.render.alerts import ACK_ACTION, EMOJI, _values
    from kafkaops.bot.render.dr import _status_emoji, status_line
    from kafkaops.bot.render.lag import _EMOJI, _behind

    now = state.at
    blocks: list[Block] = [
        header("Kafka on-call"),
        {"type": "actions", "block_id": "kafkaops.home", "elements": [
            button("Refresh", HOME_REFRESH_ACTION, "refresh")]},
        context(f"Read {when(now)} · each cluster asked now · `{esc(command)} help` for "
                "everything else"),
        header("Alerts firing"),
    ]
    if state.alerts is None:
        blocks.append(section(f":black_circle: *Unknown*: {esc(state.alerts_error or '')}"))
    elif not state.rules:
        blocks.append(section("No alert rules are configured (`alerts.rules`)."))
    elif not state.alerts:
        blocks.append(section(":white_check_mark: None."))
    else:
        for v in state.alerts[:10]:
            ev = v.firing or v.event
            sev = ev.severity if ev.severity in EMOJI else "warning"
            on = f" · {who(v.acked_by)} is on it" if v.acked_by else ""
            if v.snoozed(now):
                till = ("it resolves" if v.snoozed_until is None or v.snoozed_seq is not None
                        else when(v.snoozed_until))
                on += f" · :zzz: snoozed by {who(v.snoozed_by)} until {till}"
            blocks.append(row(
                f"{EMOJI[sev]} *{esc(ev.rule)}* · {esc(ev.subject.label())}\n"
                f"{_values(v.change or ev)} · for {human_seconds(now - v.fired_at)}{on}",
                None if v.acked_by else button("Acknowledge", ACK_ACTION, v.alert_id)))
        if len(state.alerts) > 10:
            blocks.append(context(f"… {len(state.alerts) - 10} more: `{esc(command)} alerts`"))
    blocks.append(header("Consumer groups behind"))
    for c in state.lag:
        if c.error is not None:
            blocks.append(section(
                f":black_circle: *{esc(c.cluster)}*: *UNKNOWN*, it did not answer "
                f"(last answer {_ago(c.last_answer, now)}): {esc(c.error)}"))
            continue
        if not c.groups:
            blocks.append(section(f":large_green_circle: *{esc(c.cluster)}*: all "
                                  f"{plural(c.total, 'group')} OK"))
            continue
        lines = [f"{_EMOJI[g.status]} *{esc(g.group)}* {g.status.label} · lag "
                 f"{'-' if g.lag is None else f'{g.lag:,}'} · {_behind(g)}"
                 for g in c.groups[:8]]
        more = f"\n… {len(c.groups) - 8} more: `{esc(command)} lag --cluster {esc(c.cluster)}`" \
            if len(c.groups) > 8 else ""
        blocks.append(section(f"*{esc(c.cluster)}*: {len(c.groups)} of {plural(c.total, 'group')} "
                              "behind\n" + "\n".join(lines) + more))
    blocks.append(header("Disaster recovery"))
    if state.dr_error is not None:
        blocks.append(section(f":black_circle: *Unknown*: {esc(state.dr_error)}"))
    elif not state.dr:
        blocks.append(section("No DR pairs are configured."))
    for s in state.dr:
        blocks.append(section(f"{_status_emoji(s)} {esc(status_line(s))}"))
    blocks.append(header("Recent changes"))
    for r in state.changes[:8]:
        result = "" if r.result == "ok" else f" · *{esc(r.result)}*"
        blocks.append(context(f"{when(r.time / 1000)} · *{esc(r.action)}* "
                              f"`{esc(clip(r.target, 60))}`{result} · {who(r.actor)} "
                              f"({esc(r.face)}) · {esc(r.cluster)}"))
    if not state.changes and state.changes_error is None:
        blocks.append(section("No changes recorded."))
    if state.changes_error is not None:
        blocks.append(section(f":warning: {esc(state.changes_error)}"))
    return {"type": "home", "blocks": printable_tree(blocks[:MAX_VIEW_BLOCKS])}
