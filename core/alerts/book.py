"""`_kafkaops.alerts` folded: the AlertBook (each alert's state, its Slack message, snoozes,
acknowledgements, notices) and the Actions the notifier still has to take. Pure: events
and the time come in, views and actions go out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from kafkaops.core.alerts.model import AlertEvent


@dataclass(frozen=True)
class MessageRef:
    channel: str
    """Channel id the message is in."""
    ts: str
    """Slack message ts."""
    posted_at: float
    """When it was posted."""
    seq: int
    """The firing episode it shows now."""
    times: int
    """Firings it stands for."""


@dataclass
class AlertView:
    """What the topic says about one alert."""

    alert_id: str
    """Stable alert id."""
    state: Literal["firing", "resolved"]
    """Latest state the evaluators published."""
    seq: int
    """Latest firing episode."""
    event: AlertEvent
    """The latest firing or resolved event."""
    offset: int | None = None
    """Offset of that event (None: applied locally, not read from the topic yet)."""
    firing: AlertEvent | None = None
    """The firing event of the latest episode."""
    delivered: set[tuple[str, int]] = field(default_factory=set)
    """(firing|resolved, seq) the notifier delivered."""
    message: MessageRef | None = None
    """The Slack message that shows this alert, once posted."""
    snoozed_until: float | None = None
    """No Slack message until then."""
    snoozed_seq: int | None = None
    """Snoozed until the firing episode with this seq resolves (instead of a time)."""
    snoozed_by: str = ""
    """Who snoozed it (the Slack user), while it is snoozed."""
    acked_by: str = ""
    """Who acknowledged this firing episode (the Slack user): who is on it."""
    acked_at: float | None = None
    """When."""
    change: AlertEvent | None = None
    """The newest `changed` event of this firing episode (it got markedly worse)."""
    change_offset: int | None = None
    """Its offset."""

    def snoozed(self, now: float) -> bool:
        """Whether no new Slack message is sent for it now."""
        if self.snoozed_seq is not None:
            return self.state == "firing" and self.seq == self.snoozed_seq
        return self.snoozed_until is not None and now < self.snoozed_until

    @property
    def fired_at(self) -> float:
        if self.firing is not None:
            return self.firing.at
        return self.event.fired_at or self.event.at


@dataclass
class NoticeView:
    event: AlertEvent
    """The notice."""
    offset: int | None
    """Its offset."""
    delivered: bool = False
    """Posted (or refused for good)."""


ActionKind = Literal["post", "refire", "change", "resolve", "post_resolved", "notice"]


@dataclass(frozen=True)
class Action:
    """One thing the notifier has to do in Slack."""

    kind: ActionKind
    """post: a new firing message; refire: update the alert's recent message (it fired
    again within the renotify interval); change: the firing alert got markedly worse
    (event is the `changed` one, firing the episode's); resolve: update the firing message
    to resolved; post_resolved: one message for an alert that fired and resolved before it
    was posted; notice: an event rule's notice."""
    event: AlertEvent
    """The event to show (firing, changed, resolved or notice)."""
    firing: AlertEvent | None
    """The episode's firing event (for resolve: when it fired, what it said)."""
    message: MessageRef | None
    """The message to update (refire, resolve)."""
    offset: int | None
    """Offset of the event that made this work: nothing at or after it is committed until
    the work is done."""
    acked_by: str = ""
    """Who acknowledged the episode (shown on its message), "" when nobody did."""
    acked_at: float | None = None
    """When."""

    @property
    def alert_id(self) -> str:
        return self.event.alert_id


class AlertBook:
    """`_kafkaops.alerts` folded: each alert's state, its Slack message, snoozes, notices.

    Folding is idempotent and order-tolerant the way the topic needs: a firing or resolved
    event applies only when its (seq, kind) is newer than what is known (resolved after
    firing within one seq), so duplicates from several evaluator replicas change nothing.
    """

    def __init__(self) -> None:
        self.alerts: dict[str, AlertView] = {}
        self.notices: dict[str, NoticeView] = {}

    def apply(self, ev: AlertEvent, offset: int | None = None) -> bool:
        """Fold one event; True when it changed the state."""
        if ev.type in ("firing", "resolved"):
            return self._state(ev, offset)
        if ev.type == "notice":
            seen = self.notices.get(ev.alert_id)
            if seen is None:
                self.notices[ev.alert_id] = NoticeView(ev, offset)
                return True
            if seen.offset is None and offset is not None:
                seen.offset = offset
            return False
        if ev.type == "delivered":
            return self._delivered(ev)
        if ev.type == "snoozed":
            view = self.alerts.get(ev.alert_id)
            if view is None:
                return False
            # the newest snooze is in force: it may shorten or lift (until 0) an earlier one;
            # no `until` holds it until the episode `seq` resolves
            if ev.until is None:
                view.snoozed_seq, view.snoozed_until = ev.seq or view.seq, None
            else:
                view.snoozed_seq, view.snoozed_until = None, ev.until or None
            lifted = view.snoozed_seq is None and view.snoozed_until is None
            view.snoozed_by = "" if lifted else ev.by
            return True
        if ev.type in ("acked", "changed"):
            view = self.alerts.get(ev.alert_id)
            if view is None or view.state != "firing" or ev.seq != view.seq:
                return False  # about an episode that is over (or not read yet)
            if ev.type == "acked":
                view.acked_by, view.acked_at = ev.by, ev.at
                return True
            cur = view.change
            if cur is not None and ev.step <= cur.step:
                if ev.step == cur.step and view.change_offset is None and offset is not None:
                    view.change_offset = offset  # our own event read back
                return False  # a duplicate from another evaluator replica
            view.change, view.change_offset = ev, offset
            return True
        return False

    def _state(self, ev: AlertEvent, offset: int | None) -> bool:
        rank = 1 if ev.type == "resolved" else 0
        view = self.alerts.get(ev.alert_id)
        if view is None:
            self.alerts[ev.alert_id] = AlertView(
                ev.alert_id, ev.type, ev.seq, ev, offset,  # type: ignore[arg-type]
                firing=ev if ev.type == "firing" else None)
            return True
        cur = (view.seq, 1 if view.state == "resolved" else 0)
        if (ev.seq, rank) <= cur:
            if (ev.seq, rank) == cur and view.offset is None and offset is not None:
                view.offset = offset  # our own event read back: now it has an offset
            return False
        view.state = ev.type  # type: ignore[assignment]
        if ev.seq != view.seq:
            view.acked_by, view.acked_at = "", None
            view.change, view.change_offset = None, None
        view.seq = ev.seq
        view.event = ev
        view.offset = offset
        if ev.type == "firing":
            view.firing = ev
        elif view.firing is not None and view.firing.seq != ev.seq:
            view.firing = None
        return True

    def _delivered(self, ev: AlertEvent) -> bool:
        if ev.of == "notice":
            seen = self.notices.get(ev.alert_id)
            if seen is None:
                # delivered before the notice was read (cannot happen in one partition,
                # but a book may start mid-log): remember it so the notice is not posted
                self.notices[ev.alert_id] = NoticeView(ev, None, True)
                return True
            changed = not seen.delivered
            seen.delivered = True
            return changed
        view = self.alerts.get(ev.alert_id)
        if view is None:
            return False
        key = (ev.of, ev.seq)
        changed = key not in view.delivered
        view.delivered.add(key)
        if ev.ts and not ev.error:
            cur = view.message
            if cur is None or ev.seq >= cur.seq:
                view.message = MessageRef(ev.target or ev.channel, ev.ts,
                                          ev.posted_at or ev.at, ev.seq, ev.times)
        return changed

    # ------------------------------------------------------------ reading it

    def firing(self) -> list[AlertView]:
        """Alerts firing now, oldest first."""
        return sorted((v for v in self.alerts.values() if v.state == "firing"),
                      key=lambda v: v.fired_at)

    def get(self, alert_id: str) -> AlertView | None:
        return self.alerts.get(alert_id)

    def pending(self, now: float, *, renotify: float,
                horizon: Callable[[int | None], bool] | None = None) -> list[Action]:
        """What the notifier still has to do, oldest event first.

        `horizon(offset)` says whether an event is new to this notifier group (at or after
        its committed offset): history before it is not re-posted, except that an alert
        still firing is always shown and a shown alert is always closed.
        """
        def new(offset: int | None) -> bool:
            return horizon is None or horizon(offset)

        out: list[Action] = []
        for v in self.alerts.values():
            snoozed = v.snoozed(now)
            if v.state == "firing":
                msg = v.message
                if ("firing", v.seq) in v.delivered or snoozed:
                    change = v.change
                    if (change is not None and not snoozed and msg is not None
                            and msg.seq == v.seq
                            and (f"changed:{change.step}", v.seq) not in v.delivered):
                        out.append(Action("change", change, v.firing, msg, v.change_offset,
                                          v.acked_by, v.acked_at))
                elif msg is not None and msg.seq < v.seq and now - msg.posted_at < renotify:
                    out.append(Action("refire", v.event, v.event, msg, v.offset))
                else:
                    out.append(Action("post", v.event, v.event, None, v.offset))
            else:
                if ("resolved", v.seq) in v.delivered:
                    continue
                msg = v.message
                if ("firing", v.seq) in v.delivered and msg is not None and msg.seq == v.seq:
                    out.append(Action("resolve", v.event, v.firing, msg, v.offset, v.acked_by,
                                      v.acked_at))
                elif ("firing", v.seq) not in v.delivered and not snoozed and new(v.offset):
                    out.append(Action("post_resolved", v.event, v.firing, None, v.offset))
        for n in self.notices.values():
            if not n.delivered and n.event.type == "notice" and new(n.offset):
                out.append(Action("notice", n.event, None, None, n.offset))
        out.sort(key=lambda a: (a.event.at, a.offset if a.offset is not None else -1))
        return out

    def forget_notices(self, before: float) -> None:
        """Drop delivered notices older than `before` (bounded memory on a busy topic)."""
        for nid in [k for k, n in self.notices.items() if n.delivered and n.event.at < before]:
            del self.notices[nid]


