"""Risky actions wait for a click: summary, Confirm / Cancel, then run exactly once.

Extension point for every risky capability (flag writes, DLQ replay, offset reset,
failover):

    # once, in the capability's register(bot, services):
    bot.confirmable("flag.write", run_flag_write)           # kind = permission name

    async def run_flag_write(ex: Execution) -> Message:     # ex.params from the request
        ...core call with actor=ex.confirmer...; return render_result(...)

    # in the subcommand's handler, instead of changing anything:
    return await inv.confirm("flag.write", target="flag checkout", summary=msg, params={...})

What the mechanism guarantees (tests/test_bot_confirm.py and test_bot_confirm_signed.py
prove each):
- the parameters stay in the bot; the buttons carry only a random id and the digest of the
  request (kafkaops.core.confirmations.request_digest), so a click cannot change what runs;
- what is kept on the topic is signed: a record written there by hand (other parameters,
  another action, a later expiry) is never applied, and a click on a confirmation someone
  wrote to, or whose button names another digest, is refused, the prompt says so, and
  the refusal is audited with result `tampered`;
- only the requester, or someone in a role the action's permission names, can confirm
  or cancel; anyone else is told so (ephemerally, audited) and the prompt stays usable;
- a confirmation runs at most once: the id is claimed before anything is awaited, so a
  double click, a replayed request or two people clicking at once run it once, and the
  later clicks are told who used it and when;
- after `ttl` seconds (10 minutes) it expires and does nothing.

Pending confirmations are shared by every bot replica through the compacted topic
`_kafkaops.confirmations` (kafkaops.core.confirmations, which says why not
`_kafkaops.control` and how the claim is a compare-and-set decided by the topic's order):
the request is written before the prompt is posted, so a click on any replica, or on a
replica started since, finds it; of simultaneous claims on two replicas the one first in
the log runs and the other is told who used it; expired, cancelled, done and failed are
written back. Only data travels: each process registers the same executors.

It is kept on the cluster the action works on, else on the bot's default cluster (never
on a read-only one). When neither can keep it (read-only or unreachable, or params that
are not JSON) it falls back to this process's memory, as before sharing existed: then only
this replica can confirm it, a restart forgets it, and such a click says so.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from kafkaops.bot.audit import plain
from kafkaops.bot.render.common import Block, Message
from kafkaops.bot.render.confirm import (
    render_already_used,
    render_cancelled,
    render_expired,
    render_failed,
    render_not_yours,
    render_outcome,
    render_prompt,
    render_running,
    render_tampered,
    render_unknown_confirmation,
)
from kafkaops.bot.render.replies import render_error
from kafkaops.core.audit.log import audit_context
from kafkaops.core.confirmations import (
    CONFIRMATIONS_TOPIC,
    Confirmation,
    ConfirmationStore,
    State,
    request_digest,
    signing_key,
)
from kafkaops.core.errors import KafkaOpsError, Refused
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
        from kafkaops.core.audit.log import record_change

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


class MemoryStore:
    """Pending confirmations in this process only: the fallback when no cluster could keep
    them (every candidate read-only or unreachable, or params that are not JSON). Nothing in
    here awaits, so in one event loop the first claim wins and every later one loses."""

    cluster: str | None = None

    def __init__(self, keep: float) -> None:
        self._keep = keep
        self._states: dict[str, Confirmation] = {}

    async def get(self, cid: str) -> Confirmation | None:
        return self._states.get(cid)

    async def create(self, rec: Confirmation) -> Confirmation:
        # forget confirmations long past their expiry (used ones are kept that long so a
        # late replay is told who used it)
        cutoff = rec.created_at - self._keep
        for old in [c for c, r in self._states.items() if r.expires_at < cutoff]:
            del self._states[old]
        self._states[rec.id] = rec
        return rec

    async def transition(
        self, cur: Confirmation, state: State, **changes: Any
    ) -> tuple[bool, Confirmation]:
        now = self._states.get(cur.id)
        if now is None or now.version != cur.version:
            return False, now or cur
        new = replace(cur, state=state, version=cur.version + 1, expects=cur.version, **changes)
        self._states[cur.id] = new
        return True, new

    async def claim(
        self, cur: Confirmation, state: State, by: str, at: float
    ) -> tuple[bool, Confirmation]:
        return await self.transition(cur, state, used_by=by, used_at=at)


Store = ConfirmationStore | MemoryStore
Decision = Literal["confirm", "cancel"]
#: separates the cluster holding a shared confirmation from its random part in the id
#: (token_urlsafe never contains a dot; a cluster name may, so the last dot splits)
_SEP = "."
#: separates the id from the request digest in a button's value (hex never contains it)
_DIGEST_SEP = "|"


@dataclass
class Confirmations:
    ttl: float = DEFAULT_TTL
    clock: Callable[[], float] = time.time
    kinds: dict[str, ActionKind] = field(default_factory=dict)
    #: core services; None keeps every confirmation in memory (one process only)
    services: Services | None = None
    _memory: MemoryStore | None = None
    _shared: dict[str, ConfirmationStore] = field(default_factory=dict)
    _key: bytes | None = None

    def register(self, kind: str, run: Executor, *, permission: str | None = "") -> None:
        """Register an executor. `permission` defaults to the kind itself."""
        if kind in self.kinds:
            raise ValueError(f"confirmable action {kind!r} is registered twice")
        self.kinds[kind] = ActionKind(kind, run, kind if permission == "" else permission)

    # ------------------------------------------------------------ where they live

    @property
    def memory(self) -> MemoryStore:
        if self._memory is None:
            self._memory = MemoryStore(self.ttl)
        return self._memory

    @property
    def key(self) -> bytes:
        """What request digests are made with: the confirmations' signing key, else (no
        key set: nothing is shared then) a key of this process's own."""
        if self._key is None:
            try:
                assert self.services is not None
                self._key = signing_key(self.services.config)
            except (AssertionError, KafkaOpsError):
                self._key = secrets.token_bytes(32)
        return self._key

    def shared(self, cluster: str) -> ConfirmationStore:
        assert self.services is not None
        store = self._shared.get(cluster)
        if store is None:
            store = self._shared[cluster] = ConfirmationStore(self.services, cluster)
        return store

    def _candidates(self, cluster: str) -> list[str]:
        """Clusters that may keep a confirmation, best first: the one the action works on
        (for a failover, the target that must be up anyway), then the bot's default.
        kafkaops never writes to a read-only cluster, this topic included."""
        if self.services is None:
            return []
        out: list[str] = []
        for name in (cluster, self.services.cluster_name):
            if name in out or name not in self.services.config.clusters:
                continue
            if not self.services.cluster_config(name).read_only:
                out.append(name)
        return out

    def store_of(self, cid: str) -> Store | None:
        """The store an id names: `<cluster>.<random>` is shared on that cluster, a bare
        random id is in this process's memory; None for an id naming no configured cluster."""
        if _SEP not in cid:
            return self.memory
        cluster = cid.rsplit(_SEP, 1)[0]
        if self.services is None or cluster not in self.services.config.clusters:
            return None
        return self.shared(cluster)

    # ------------------------------------------------------------ asking

    async def request(
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
        extra: Sequence[Block] = (),
    ) -> Message:
        """Keep the request (shared through Kafka when a cluster can hold it) and return
        the prompt (`extra`: buttons next to Confirm and Cancel). The request is on the
        topic before the prompt is posted, so a click on any replica finds it."""
        if kind not in self.kinds:
            raise KeyError(f"no confirmable action {kind!r}; register it with bot.confirmable()")
        now = self.clock()
        token = secrets.token_urlsafe(16)
        rec = Confirmation(
            id=token, action=kind, requester=requester, target=target, params=dict(params),
            summary=summary.text, created_at=now, expires_at=now + self.ttl, channel=channel,
            cluster=cluster, command_text=command_text,
        )
        for name in self._candidates(cluster):
            try:
                rec = await self.shared(name).create(replace(rec, id=f"{name}{_SEP}{token}"))
                break
            except (KafkaOpsError, TypeError, ValueError) as e:
                log.warning(
                    "could not keep confirmation of %s %s on cluster %r (%s); trying the next",
                    kind, target, name, e,
                )
        else:
            if self.services is not None:
                log.warning(
                    "confirmation of %s %s is kept in this process only: only this replica "
                    "can confirm it, and a restart forgets it", kind, target,
                )
            rec = await self.memory.create(rec)
        return render_prompt(
            pending_id=f"{rec.id}{_DIGEST_SEP}{request_digest(rec, self.key)}",
            kind=kind,
            target=target,
            summary=summary,
            requester=requester,
            cluster=cluster,
            expires_at=rec.expires_at,
            extra=extra,
        )

    # ------------------------------------------------------------ a click

    async def handle_click(
        self, bot: Bot, *, pid: str, user: str, decision: Decision, responder: Responder
    ) -> None:
        """A Confirm or Cancel click: check, claim, run, and replace the prompt with the
        result. `pid` is the button's value: the id and the request's digest."""
        pid, sep, digest = pid.rpartition(_DIGEST_SEP)
        store = None
        try:
            store = self.store_of(pid) if sep else None
            if store is None:
                await responder.ephemeral(render_unknown_confirmation())
                return
            await self._click(bot, store, pid, digest, user, decision, responder)
        except KafkaOpsError as e:
            where = f" on cluster {store.cluster!r}" if store and store.cluster else ""
            problem = bot.public(e, f"click on confirmation {pid}")
            await responder.ephemeral(
                render_error(f"could not read or claim this confirmation{where}: {problem}. "
                             "Nothing was done by this click", retriable=e.retriable)
            )

    async def _click(
        self, bot: Bot, store: Store, pid: str, digest: str, user: str, decision: Decision,
        responder: Responder,
    ) -> None:
        p = await store.get(pid)
        if p is None:
            await responder.ephemeral(render_unknown_confirmation())
            return
        forged = store.tampered(pid) if isinstance(store, ConfirmationStore) else []
        if forged or not hmac.compare_digest(request_digest(p, self.key), digest):
            await self._tampered(bot, p, forged, user, decision, responder, store.cluster)
            return
        if p.state == "expired":  # the prompt still showed live buttons: it no longer does
            await responder.replace(self._expired(p))
            return
        if p.state != "pending":
            await responder.ephemeral(_already(p))
            return
        context = _context(p, user)
        if self.clock() > p.expires_at:
            won, q = await store.claim(p, "expired", user, self.clock())
            if won:
                await bot.audit(actor=user, action=p.action, target=p.target,
                                params={"decision": decision, **p.params}, result="expired",
                                error=f"confirmation expired (asked for more than "
                                      f"{int(self.ttl // 60)} min before the click)",
                                cluster=p.cluster, context={**context, "confirmed_by": None})
                await responder.replace(self._expired(p))
            elif q.state == "expired":
                await responder.replace(self._expired(q))
            else:
                await responder.ephemeral(_already(q))
            return
        action = self.kinds.get(p.action)
        if action is None:  # asked by a replica running other code
            await responder.ephemeral(render_unknown_confirmation())
            return
        permitted, reason = await self._may_decide(bot, action, p, user)
        if not permitted:
            await bot.audit(
                actor=user,
                action=p.action,
                target=p.target,
                params={"decision": decision, "requested_by": p.requester, **p.params},
                result="refused",
                error=f"not allowed to {decision} this request: " + plain(reason),
                cluster=p.cluster,
                context={**context, "confirmed_by": None},
            )
            await responder.ephemeral(render_not_yours(p.action, p.requester, reason))
            return
        outcome: State = "confirmed" if decision == "confirm" else "cancelled"
        won, q = await store.claim(p, outcome, user, self.clock())
        if not won:  # someone else clicked while we checked, here or on another replica
            await responder.ephemeral(_already(q))
            return
        if decision == "cancel":
            await bot.audit(actor=user, action=p.action, target=p.target,
                            params=dict(p.params), result="cancelled",
                            error="cancelled before it ran", cluster=p.cluster,
                            context={**context, "confirmed_by": None})
            await responder.replace(render_cancelled(p.action, p.target, user))
            return
        await responder.replace(render_running(p.action, p.target, user))
        ex = Execution(p.action, p.target, p.params, p.requester, user, p.cluster, bot.services)
        try:
            with audit_context(**context):
                result = await action.run(ex)
        except Exception as e:
            if isinstance(e, Refused) and not e.audited:  # a guardrail outside record_change
                await bot.audit(actor=user, action=p.action, target=p.target,
                                params=dict(p.params), result="refused", error=str(e),
                                cluster=e.cluster or p.cluster, context=context)
            problem = bot.public(e, f"confirmed {p.action} {p.target}")
            detail = str(e) if isinstance(e, KafkaOpsError) else problem
            await self._finish(store, q, "failed", detail)
            await responder.replace(render_failed(p.action, p.target, problem, confirmer=user))
            return
        await self._finish(store, q, "done", result.text)
        await responder.replace(
            render_outcome(result, kind=p.action, requester=p.requester, confirmer=user,
                           at=self.clock())
        )

    def _expired(self, p: Confirmation) -> Message:
        return render_expired(p.action, p.target, p.command_text, int(self.ttl // 60))

    async def expire(self, bot: Bot, pid: str, responder: Responder) -> None:
        """Time is up for a prompt nobody used: mark it expired (audited, no confirmer) and
        replace it, so it no longer shows live buttons. Nothing happens when it was used
        (its click replaced it already)."""
        pid = pid.rpartition(_DIGEST_SEP)[0] or pid
        store = self.store_of(pid)
        if store is None:
            return
        p = await store.get(pid)
        if p is None or p.state != "pending":
            return
        won, _ = await store.claim(p, "expired", "", self.clock())
        if not won:
            return  # clicked meanwhile
        await bot.audit(actor=p.requester, action=p.action, target=p.target,
                        params=dict(p.params), result="expired",
                        error=f"confirmation expired: nobody confirmed it within "
                              f"{int(self.ttl // 60)} min",
                        cluster=p.cluster,
                        context={**_context(p, p.requester), "confirmed_by": None})
        await responder.replace(self._expired(p))

    async def _tampered(self, bot: Bot, p: Confirmation, offsets: list[int], user: str,
                        decision: Decision, responder: Responder, kept_on: str | None
                        ) -> None:
        """Refuse a click on a confirmation someone wrote to without the key (or a button
        naming another request): nothing runs, the prompt says so, the trail records it."""
        if offsets:
            why = (f"{len(offsets)} record(s) at offset {', '.join(map(str, offsets[:5]))} of "
                   f"{CONFIRMATIONS_TOPIC} on cluster {kept_on or '?'} were written to it "
                   "without the signing key")
        else:
            why = "the button names a request other than the one kept for it"
        log.warning("confirmation %s (%s %s, requested by %s) refused: %s", p.id, p.action,
                    p.target, p.requester, why)
        await bot.audit(
            actor=user, action=p.action, target=p.target,
            params={"decision": decision, "confirmation": p.id, "requested_by": p.requester,
                    "tampered_offsets": offsets},
            result="tampered", error=f"confirmation refused: {why}", cluster=p.cluster,
            context={**_context(p, user), "confirmed_by": None},
        )
        await responder.replace(render_tampered(p.action, p.target, p.command_text))

    async def _finish(self, store: Store, claimed: Confirmation, state: State, detail: str) -> None:
        """Write done / failed back; the action already ran, so a failure here is only logged
        (the claim already stops any replica from running it again)."""
        try:
            await store.transition(claimed, state, detail=detail[:500], finished_at=self.clock())
        except KafkaOpsError as e:
            log.warning("could not record confirmation %s as %s: %s", claimed.id, state, e)

    async def _may_decide(
        self, bot: Bot, action: ActionKind, p: Confirmation, user: str
    ) -> tuple[bool, str]:
        """The requester (if still permitted) or anyone the action's permission allows."""
        if action.permission is None:
            if user == p.requester:
                return True, "requester"
            return False, "this action can only be confirmed by whoever asked for it"
        decision = await bot.permissions.check(user, action.permission)
        return decision.allowed, decision.reason


def _context(p: Confirmation, user: str) -> dict[str, str | None]:
    """What the audit records of a click carry besides the actor (core.audit_context)."""
    reason = p.params.get("reason")
    return {"requested_by": p.requester, "confirmed_by": user, "channel": p.channel or None,
            "reason": reason if isinstance(reason, str) and reason else None}


def _already(p: Confirmation) -> Message:
    return render_already_used(p.action, p.target, p.outcome, p.used_by or "?", p.used_at or 0)
