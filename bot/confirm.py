"""Risky actions wait for a click: summary, Confirm / Cancel, then run exactly once.

Extension point for every risky capability (flag writes, DLQ replay, offset reset,
failover):

    # once, in the capability's register(bot, services):
    bot.confirmable("flag.write", run_flag_write)           # kind = permission name

    async def run_flag_write(ex: Execution) -> Message:     # ex.params from the request
        ...core call with actor=ex.confirmer...; return render_result(...)

    # in the subcommand's handler, instead of changing anything:
    return await inv.confirm("flag.write", target="flag checkout", summary=msg, params={...})

What the mechanism guarantees (tests/test_bot_confirm.py proves each):
- the parameters stay in the bot; the buttons carry only a random id, so a click cannot
  change what runs;
- only the requester, or someone in a role the action's permission names, can confirm
  or cancel; anyone else is told so (ephemerally, audited) and the prompt stays usable;
- a confirmation runs at most once: the id is claimed before anything is awaited, so a
  double click, a replayed request or two people clicking at once run it once, and the
  later clicks are told who used it and when;
- after `ttl` seconds (10 minutes) it expires and does nothing.

Pending confirmations live in this process's memory: with several bot replicas in Socket
Mode, a click must reach the replica that asked (Slack does not promise that); a restart
forgets them, and a click on a forgotten one says so and does nothing.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.confirm import (
    render_already_used,
    render_cancelled,
    render_expired,
    render_failed,
    render_not_yours,
    render_outcome,
    render_prompt,
    render_running,
    render_unknown_confirmation,
)
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.services import Services

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.respond import Responder

log = logging.getLogger(__name__)

DEFAULT_TTL = 600.0
T = TypeVar("T")


@dataclass(frozen=True)
class Execution:
    """What an executor receives when its confirmation is clicked."""

    kind: str
    """The action kind, e.g. flag.write."""
    target: str
    """What it acts on, as shown in the prompt."""
    params: Mapping[str, Any]
    """The parameters the handler gave to `inv.confirm(...)`."""
    requester: str
    """Slack user ID who asked."""
    confirmer: str
    """Slack user ID who clicked Confirm: the actor to audit."""
    cluster: str
    """Cluster the request was made against."""
    services: Services
    """Core services."""

    async def audited(
        self,
        apply: Callable[[], Awaitable[T]],
        *,
        action: str | None = None,
        target: str | None = None,
        params: Mapping[str, Any] | None = None,
        summarize: Callable[[T], Any] | None = None,
    ) -> T:
        """Run the change through core's one audited path (`record_change`), with the
        confirming Slack user as actor and `slack` as face."""
        from kafkaops.core.audit import record_change

        return await record_change(
            self.services,
            actor=self.confirmer,
            face="slack",
            action=action or self.kind,
            target=target or self.target,
            params=dict(self.params if params is None else params),
            apply=apply,
            cluster=self.cluster,
            summarize=summarize,
        )


Executor = Callable[[Execution], Awaitable[Message]]


@dataclass(frozen=True)
class ActionKind:
    kind: str
    """Name, also the permission checked (e.g. flag.write)."""
    run: Executor
    """Does the change and renders its result."""
    permission: str | None
    """Permission a confirmer other than the requester needs; None: only the requester."""


@dataclass
class Pending:
    id: str
    kind: str
    target: str
    params: Mapping[str, Any]
    requester: str
    channel: str
    cluster: str
    command_text: str
    created_at: float
    #: confirmed | cancelled | expired, once used
    outcome: str | None = None
    used_by: str | None = None
    used_at: float | None = None


Decision = Literal["confirm", "cancel"]


@dataclass
class Confirmations:
    ttl: float = DEFAULT_TTL
    clock: Callable[[], float] = time.time
    kinds: dict[str, ActionKind] = field(default_factory=dict)
    _pending: dict[str, Pending] = field(default_factory=dict)

    def register(self, kind: str, run: Executor, *, permission: str | None = "") -> None:
        """Register an executor. `permission` defaults to the kind itself."""
        if kind in self.kinds:
            raise ValueError(f"confirmable action {kind!r} is registered twice")
        self.kinds[kind] = ActionKind(kind, run, kind if permission == "" else permission)

    # ------------------------------------------------------------ asking

    def request(
        self,
        kind: str,
        *,
        target: str,
        summary: Message,
        params: Mapping[str, Any],
        requester: str,
        channel: str,
        cluster: str,
        command_text: str,
    ) -> Message:
        if kind not in self.kinds:
            raise KeyError(f"no confirmable action {kind!r}; register it with bot.confirmable()")
        self._purge()
        now = self.clock()
        pid = secrets.token_urlsafe(16)
        self._pending[pid] = Pending(
            pid, kind, target, dict(params), requester, channel, cluster, command_text, now
        )
        return render_prompt(
            pending_id=pid,
            kind=kind,
            target=target,
            summary=summary,
            requester=requester,
            cluster=cluster,
            expires_at=now + self.ttl,
        )

    # ------------------------------------------------------------ state

    def get(self, pid: str) -> Pending | None:
        return self._pending.get(pid)

    def expired(self, p: Pending) -> bool:
        return self.clock() - p.created_at > self.ttl

    def claim(self, pid: str, user: str, outcome: str) -> Pending | None:
        """Mark a pending confirmation used; None when it already was. Never awaits, so in
        one event loop the first claim wins and every later one gets None."""
        p = self._pending.get(pid)
        if p is None or p.outcome is not None:
            return None
        p.outcome, p.used_by, p.used_at = outcome, user, self.clock()
        return p

    def _purge(self) -> None:
        """Forget confirmations long past their expiry (used ones are kept that long so a
        late replay is told who used it)."""
        cutoff = self.clock() - 2 * self.ttl
        for pid in [pid for pid, p in self._pending.items() if p.created_at < cutoff]:
            del self._pending[pid]

    # ------------------------------------------------------------ a click

    async def handle_click(
        self, bot: Bot, *, pid: str, user: str, decision: Decision, responder: Responder
    ) -> None:
        """A Confirm or Cancel click: check, claim, run, and replace the prompt with the result."""
        p = self._pending.get(pid)
        if p is None:
            await responder.ephemeral(render_unknown_confirmation())
            return
        if p.outcome is not None:
            await responder.ephemeral(
                render_already_used(p.kind, p.target, p.outcome, p.used_by or "?", p.used_at or 0)
            )
            return
        if self.expired(p):
            if self.claim(pid, user, "expired") is not None:
                await responder.replace(
                    render_expired(p.kind, p.target, p.command_text, int(self.ttl // 60))
                )
            else:
                await responder.ephemeral(render_unknown_confirmation())
            return
        action = self.kinds[p.kind]
        permitted, reason = await self._may_decide(bot, action, p, user)
        if not permitted:
            await bot.audit(
                actor=user,
                action=p.kind,
                target=p.target,
                params={"decision": decision, "requested_by": p.requester, **p.params},
                result="refused",
                error=f"not allowed to {decision} this request: "
                + re.sub(r"<@([A-Z0-9]+)>", r"\1", reason),
                cluster=p.cluster,
            )
            await responder.ephemeral(render_not_yours(p.kind, p.requester, reason))
            return
        outcome = "confirmed" if decision == "confirm" else "cancelled"
        if self.claim(pid, user, outcome) is None:  # someone else clicked while we checked
            q = self._pending[pid]
            await responder.ephemeral(
                render_already_used(q.kind, q.target, q.outcome or "?", q.used_by or "?",
                                    q.used_at or 0)
            )
            return
        if decision == "cancel":
            await responder.replace(render_cancelled(p.kind, p.target, user))
            return
        await responder.replace(render_running(p.kind, p.target, user))
        ex = Execution(p.kind, p.target, p.params, p.requester, user, p.cluster, bot.services)
        try:
            result = await action.run(ex)
        except KafkaOpsError as e:
            await responder.replace(render_failed(p.kind, p.target, str(e), confirmer=user))
            return
        except Exception as e:
            log.exception("confirmed action %s on %s failed", p.kind, p.target)
            await responder.replace(
                render_failed(
                    p.kind,
                    p.target,
                    f"internal error ({type(e).__name__}); the bot's log has the details",
                    confirmer=user,
                )
            )
            return
        await responder.replace(
            render_outcome(result, kind=p.kind, requester=p.requester, confirmer=user,
                           at=self.clock())
        )

    async def _may_decide(
        self, bot: Bot, action: ActionKind, p: Pending, user: str
    ) -> tuple[bool, str]:
        """The requester (if still permitted) or anyone the action's permission allows."""
        if action.permission is None:
            if user == p.requester:
                return True, "requester"
            return False, "this action can only be confirmed by whoever asked for it"
        decision = await bot.permissions.check(user, action.permission)
        return decision.allowed, decision.reason
