"""Feature flags and config values, kept in the compacted topic `_kafkaops.flags`.

Layout (docs/architecture.md): one partition, key = flag key, value = the flag's full state as JSON,
a tombstone (null value) = deleted. Control data rides in record headers, so the value stays
the plain state and a tombstone can carry it too:

    kafkaops-expects   version this write replaces ("0": the flag must not exist)
    kafkaops-write-id  unique id of the write (the writer waits for this id to come back)
    kafkaops-op        create | set | toggle | rollout | rollback | delete | restate
    kafkaops-by, kafkaops-at, kafkaops-reason   who, when (UTC), why

Compare-and-set. Every reader folds the single partition in offset order with the same rule
(`FlagLog.apply`): a write is applied only if its `expects` equals the version in force when
it is read; otherwise every reader ignores it ("rejected"). So of two writers that both saw
version 5, the first record in the log wins everywhere and the second is rejected
everywhere. The writer returns only after its own store has read its record back and seen
which of the two happened; a rejection becomes `Conflict` (exit 3). Both attempts stay in
the log, so `history` shows them. Every write goes through the audit trail's one path
(`kafkaops.core.audit.record_change`): action flag.<op>, target the flag key, its outcome
(a Conflict included) signed onto `_kafkaops.audit`.

Compaction, and why rejected records are repaired. A compacted topic keeps only the last
record per key. If that last record is a rejected write, compaction would drop the winner
and keep the loser, and a reader starting later would see the loser's state. The rule
chosen here: the last record of every key must be authoritative. Whoever leaves a
non-authoritative record at a key's tail re-publishes the state in force (op `restate`: same
version, expects = that version, so it is a no-op for readers that are up to date and the
truth for readers that start after compaction). Concretely:
  - the losing writer restates before it raises Conflict (`FlagService._repair`);
  - every write first repairs any key whose tail is not authoritative, so a loser that
    crashed between its write and its restate is repaired by the next write from anyone;
  - the topic is created with `min.compaction.lag.ms` = 7 days, so the cleaner never
    touches a record younger than that and a repair has a week to happen.
  - a reader that meets a key for the first time accepts that record as it is: either it is
    the key's first write or its predecessors were compacted away, and by the rule above
    what compaction leaves is authoritative. Every reader reading the same log applies the
    same rule, so they agree.
We chose this over keying proposals by write id (which would need a second record per
write, a cleanup tombstone per proposal and a coordinator to merge them) because it keeps
the layout above (key = flag key, value = full state) and costs nothing in the normal
case: only a lost race writes one extra record.

Rollout is sticky: a user's bucket is a stable hash of flag key + user key (0..9999), and
the user is in a rollout of p % when bucket < p * 100, so raising p only adds users.
Variants use a second, independent hash, so changing the rollout never reshuffles them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.audit.log import local_actor
from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import (
    KafkaOpsError,
    NotFound,
    NothingToChange,
    Refused,
    StaleVersion,
    UsageError,
)
from kafkaops.core.flags.model import (
    BUCKETS,
    FLAG_TYPES,
    FLAGS_TOPIC,
    H_AT,
    H_BY,
    H_EXPECTS,
    H_OP,
    H_REASON,
    H_WRITE_ID,
    MIN_COMPACTION_LAG_MS,
    Evaluation,
    FlagChange,
    FlagState,
    LogRecord,
    Rule,
    Variant,
    bucket,
    check_key,
    check_rollout,
    check_state,
    check_type,
    check_value,
    encode_state,
    evaluate,
    in_rollout,
    now_iso,
    parse_rule,
    parse_value,
    parse_variant,
    pick_variant,
    state_from_json,
    state_to_json,
)
from kafkaops.core.flags.store import (
    FlagLog,
    FlagStore,
)
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors, unreachable

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.services import Services

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the writer


@dataclass(frozen=True)
class PendingWrite:
    """A write that passed its checks and is about to be put on the topic."""

    key: str
    """Flag key."""
    op: str
    """create, set, toggle, rollout, rollback or delete."""
    state: FlagState | None
    """The new state; None for a delete."""
    expects: int
    """Version it replaces (0: the flag must not exist)."""
    actor: str
    """Who makes it."""
    face: str
    """cli, console or slack."""
    reason: str
    """Why."""
    at: str
    """When it was prepared, ISO 8601 UTC."""
    params: dict[str, Any]
    """Parameters, for the audit trail."""


_UNSET: Any = object()


class FlagService:
    """Flags on one cluster for the control plane (CLI, console, Slack): read, write, history.

    `start()` reads the whole topic (with history) and keeps following it. Writes are
    compare-and-set (module docstring); each returns the new state once the record has been
    read back as applied, or raises Conflict. `actor` is who acts (user@host, a Slack user),
    `face` is cli, console or slack; both go into the record and the audit trail.
    """

    def __init__(
        self,
        services: Services | None,
        cluster: str,
        config: ClusterConfig,
        *,
        topic: str = FLAGS_TOPIC,
        connection: KafkaConnection | None = None,
        write_timeout: float = 15.0,
    ) -> None:
        self.services = services
        self.cluster = cluster
        self.config = config
        self.topic = topic
        self.write_timeout = write_timeout
        self._conn = connection
        self.store = FlagStore(cluster, config, topic=topic, keep_history=True)
        self._producer: Any = None
        self._producing: contextlib.AsyncExitStack | None = None
        self._start_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self.seq = 0
        self.store.listener = self._on_store

    # -------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Read the topic up to its end. A missing topic is not an error (no flags yet);
        each call looks again until it exists."""
        async with self._start_lock:
            if not self.store.running and await self.store.start():
                await self._catch_up()

    async def stop(self) -> None:
        await self.store.stop()
        stack, self._producing, self._producer = self._producing, None, None
        if stack is not None:
            await stack.aclose()
        if self._conn is not None and self.services is None:
            await self._conn.stop()

    async def __aenter__(self) -> FlagService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def connection(self) -> KafkaConnection:
        if self._conn is None:
            if self.services is not None:
                self._conn = await self.services.connection(self.cluster)
            else:
                from kafkaops.core.kafka.connection import KafkaConnection

                conn = KafkaConnection(self.cluster, self.config)
                await conn.start()
                self._conn = conn
        return self._conn

    def _on_store(self, store: FlagStore, change: FlagChange | None) -> None:
        self.seq += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_changed(self, seen: int, limit: float | None = None) -> int:
        """Wait until the flags changed after sequence number `seen`; returns the new one.

        For live views: `seq = svc.seq; ...; seq = await svc.wait_changed(seq)`.
        """
        if self.seq == seen:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    await self._changed.wait()
        return self.seq

    async def _catch_up(self) -> None:
        """Fold every record written before now (the true end offset, Tansu-safe)."""
        from kafkaops.core.records import TopicPartition

        conn = await self.connection()
        tp = TopicPartition(self.topic, 0)
        marks = await conn.high_watermarks([tp])
        if tp not in marks:  # the connection's metadata predates the topic: refresh it
            await conn.metadata([self.topic])
            marks = await conn.high_watermarks([tp])
        if tp not in marks:
            raise unreachable(self.cluster, self.config, "no leader for partition 0",
                              doing=f"read the end of {self.topic}")
        await self.store.wait_position(marks[tp][1], self.write_timeout)

    # -------------------------------------------------------- reads

    @property
    def topic_exists(self) -> bool:
        return self.store.running

    async def list_flags(self, *, fresh: bool = True) -> list[FlagState]:
        """Every flag, sorted by key. `fresh`: first read up to the topic's current end (what
        any writer has written before this call); a live view that follows changes anyway
        passes False and gets the store's state at once."""
        await self._read(fresh)
        return [self.store.flags[k] for k in sorted(self.store.flags)]

    async def get(self, key: str, *, fresh: bool = True) -> FlagState:
        """One flag (NotFound if it does not exist); `fresh` as for list_flags."""
        await self._read(fresh)
        state = self.store.flags.get(key)
        if state is None:
            raise NotFound(self._missing(key))
        return state

    def _missing(self, key: str) -> str:
        if not self.store.running:
            return (
                f"no flag named {key!r}: cluster {self.cluster!r} has no flags yet "
                f"(topic {self.topic} does not exist; `kafkaops flags create` makes it)"
            )
        known = sorted(self.store.flags)
        close = [k for k in known if key.lower() in k.lower() or k.lower() in key.lower()]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
        return f"no flag named {key!r} on cluster {self.cluster!r}{hint}"

    async def _read(self, fresh: bool) -> None:
        was_running = self.store.running
        await self.start()  # a start reads up to the end already
        if fresh and was_running:
            await self._catch_up()

    async def history(self, key: str) -> list[FlagChange]:
        """Every record of the flag still on the topic, oldest first, with its outcome."""
        await self._read(True)
        changes = self.store.log.history.get(key, [])
        if not changes:
            raise NotFound(f"no history for flag {key!r} on cluster {self.cluster!r}")
        return list(changes)

    @property
    def history_start(self) -> int | None:
        """First offset still on the topic (older records were compacted or expired)."""
        return self.store.log.first_offset

    async def evaluate(
        self, key: str, users: Sequence[str | None], attributes: Mapping[str, Any] | None = None
    ) -> list[Evaluation]:
        """The flag evaluated for each user exactly as the SDK does."""
        state = await self.get(key)
        return [evaluate(state, u, attributes) for u in users]

    # -------------------------------------------------------- writes

    async def check_version(
        self, key: str, expected: int | None, *, op: str, actor: str, face: str,
        reason: str = "",
    ) -> FlagState:
        """The flag as it is now. When `expected` (the version the person last saw) is not
        the version in force, the write is refused before it starts: the refusal goes to
        the audit trail (action flag.<op>, result refused) and Conflict is raised, nothing
        written. NotFound when the flag does not exist."""
        state = await self.get(key)
        if expected is not None and expected != state.version:
            error = version_conflict(state, expected)
            if self.services is not None:
                from kafkaops.core.audit.trails import record_refusal

                try:
                    await record_refusal(
                        self.services, actor=actor, face=face, action=f"flag.{op}",
                        target=key, params={"expect_version": expected}, error=str(error),
                        cluster=self.cluster, context={"reason": reason or None})
                except KafkaOpsError as e:  # the refusal stands either way
                    log.error("could not audit the refusal of flag.%s %s by %s: %s", op, key,
                              actor, e)
            raise error
        return state

    def _require_writable(self, action: str) -> None:
        if self.services is not None:
            self.services.require_writable(self.cluster, action)
        elif self.config.read_only:
            raise Refused(f"cluster {self.cluster!r} is read-only; refusing to {action}")

    async def create(
        self,
        key: str,
        *,
        type: str = "bool",  # noqa: A002 - the flag's type, as the CLI names it
        default: Any = _UNSET,
        value: Any = _UNSET,
        owner: str = "",
        description: str = "",
        tags: Sequence[str] = (),
        rollout: float = 100.0,
        variants: Sequence[Variant] = (),
        rules: Sequence[Rule] = (),
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """A new flag, disabled. Conflict if it exists (also when created concurrently)."""
        check_key(key)
        ftype = check_type(type)
        if default is _UNSET:
            default = {"bool": False, "string": "", "number": 0, "json": None}[ftype]
        default = check_value(ftype, default, "default")
        if value is _UNSET:
            value = (not default) if ftype == "bool" else default
        value = check_value(ftype, value, "value")
        params = {
            "type": ftype,
            "default": default,
            "value": value,
            "owner": owner,
            "description": description,
            "tags": list(tags),
        }

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            return FlagState(
                key=key,
                type=ftype,
                enabled=False,
                value=value,
                default=default,
                rollout=rollout,
                variants=tuple(variants),
                rules=tuple(rules),
                owner=owner,
                description=description,
                tags=tuple(tags),
                version=version,
                updated_by=actor,
                updated_at=at,
                reason=reason,
                created_by=actor,
                created_at=at,
            )

        return _written(
            await self._write(
                key, "create", build, None, actor=actor, face=face, reason=reason, params=params
            )
        )

    async def set(
        self,
        key: str,
        *,
        value: Any = _UNSET,
        default: Any = _UNSET,
        owner: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        variants: Sequence[Variant] | None = None,
        rules: Sequence[Rule] | None = None,
        enabled: bool | None = None,
        rollout: float | None = None,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Change any of a flag's fields (the others stay as they are)."""
        params: dict[str, Any] = {
            k: v
            for k, v in {
                "value": value,
                "default": default,
                "owner": owner,
                "description": description,
                "tags": list(tags) if tags is not None else None,
                "variants": [dataclasses.asdict(x) for x in variants]
                if variants is not None
                else None,
                "rules": [str(r) for r in rules] if rules is not None else None,
                "enabled": enabled,
                "rollout": rollout,
            }.items()
            if v is not None and v is not _UNSET
        }
        if not params:
            raise UsageError(f"nothing to change on flag {key!r}: name a value or an option")
        if rollout is not None:
            check_rollout(rollout)  # before anything is read or audited

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            changes: dict[str, Any] = {}
            if value is not _UNSET:
                changes["value"] = check_value(current.type, value, "value")
            if default is not _UNSET:
                changes["default"] = check_value(current.type, default, "default")
            for name, v in (
                ("owner", owner),
                ("description", description),
                ("enabled", enabled),
            ):
                if v is not None:
                    changes[name] = v
            if tags is not None:
                changes["tags"] = tuple(tags)
            if variants is not None:
                changes["variants"] = tuple(variants)
            if rules is not None:
                changes["rules"] = tuple(rules)
            if rollout is not None:
                changes["rollout"] = check_rollout(rollout)
            return _next(current, version, actor, at, reason, **changes)

        return _written(
            await self._write(
                key,
                "set",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason,
                params=params,
            )
        )

    async def toggle(
        self,
        key: str,
        enabled: bool | None = None,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Switch the flag on or off (`enabled`), or flip it (None)."""

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            target = (not current.enabled) if enabled is None else enabled
            return _next(current, version, actor, at, reason, enabled=target)

        params = {"enabled": "flip" if enabled is None else enabled}
        return _written(
            await self._write(
                key,
                "toggle",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason,
                params=params,
            )
        )

    async def rollout(
        self,
        key: str,
        percent: float | str,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Set the rollout percentage (0-100)."""
        pct = check_rollout(percent)

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            return _next(current, version, actor, at, reason, rollout=pct)

        return _written(
            await self._write(
                key,
                "rollout",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason,
                params={"rollout": pct},
            )
        )

    async def rollback(
        self,
        key: str,
        to_version: int,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Restore the flag's content as it was at `to_version` (as a new version)."""
        if isinstance(to_version, bool) or not isinstance(to_version, int) or to_version < 1:
            raise UsageError(f"rollback needs a version number >= 1, got {to_version!r}")
        await self._read(True)
        target = self.version_state(key, to_version)

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            if current.version == to_version:
                raise UsageError(f"flag {key!r} is already at version {to_version}")
            return dataclasses.replace(
                target,
                version=version,
                updated_by=actor,
                updated_at=at,
                reason=reason or f"rollback to version {to_version}",
                created_by=current.created_by,
                created_at=current.created_at,
            )

        return _written(
            await self._write(
                key,
                "rollback",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason or f"rollback to version {to_version}",
                params={"to_version": to_version},
            )
        )

    def version_state(self, key: str, version: int) -> FlagState:
        """The state the flag had at `version`, from the history still on the topic."""
        found = [
            c.state
            for c in self.store.log.history.get(key, [])
            if c.outcome == "applied"
            and c.state is not None
            and c.state.version == version
            and c.op != "restate"
        ]
        if not found:
            kept = sorted(
                {
                    c.state.version
                    for c in self.store.log.history.get(key, [])
                    if c.outcome == "applied" and c.state is not None
                }
            )
            listing = ", ".join(str(v) for v in kept) or "none"
            raise NotFound(
                f"version {version} of flag {key!r} is not on the topic (versions kept: {listing})"
            )
        return found[-1]

    async def delete(
        self,
        key: str,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> None:
        """Delete the flag (a tombstone). SDKs then serve their callers' defaults."""
        await self._write(
            key,
            "delete",
            None,
            expect_version,
            actor=actor,
            face=face,
            reason=reason,
            params={},
        )

    # -------------------------------------------------------- the write path

    async def _write(
        self,
        key: str,
        op: str,
        build: Callable[[FlagState | None, int, str], FlagState] | None,
        expect_version: int | None,
        *,
        actor: str,
        face: str,
        reason: str,
        params: Mapping[str, Any],
    ) -> FlagState | None:
        """Compare-and-set one write through the audit trail's one path (`record_change`:
        read-only refusal first, then the intent, the change, and its outcome; a Conflict
        is audited as refused). Returns the new state (None for a delete)."""
        from kafkaops.core.audit.log import record_change

        if self.services is None:
            raise Refused("flag changes are audited: build FlagService with the Services of a face")
        check_key(key)
        if not actor:
            raise UsageError("a flag change needs an actor (who is making it)")
        if build is not None and op != "create":
            await self._refuse_no_op(key, build, expect_version)

        async def apply() -> FlagState | None:
            async with self._write_lock:
                pending = await self._prepare(
                    key,
                    op,
                    build,
                    expect_version,
                    actor=actor,
                    face=face,
                    reason=reason,
                    params=params,
                )
                return await self._commit(pending)

        result: FlagState | None = await record_change(
            self.services,
            actor=actor,
            face=face,
            action=f"flag.{op}",
            target=key,
            params=dict(params, expect_version=expect_version),
            apply=apply,
            cluster=self.cluster,
            summarize=_audit_detail,
            reason=reason,
        )
        return result

    async def _refuse_no_op(
        self, key: str, build: Callable[[FlagState | None, int, str], FlagState],
        expect_version: int | None,
    ) -> None:
        """Raise NothingToChange, before anything is written or audited, when the change
        would leave the flag exactly as it is (a rollout of 25% to 25%, switching on a flag
        that is on). Anything this check cannot tell (the topic unreadable, the flag
        missing, a stale `expect_version`) is left to the write path, which reports it."""
        try:
            await self._read(True)
        except KafkaOpsError:
            return
        current = self.store.flags.get(key)
        if current is None or (expect_version is not None and expect_version != current.version):
            return
        proposed = build(current, current.version + 1, now_iso())
        if same_content(current, proposed):
            raise NothingToChange(
                f"nothing to change: flag {key!r} is already {state_summary(current)}; "
                "nothing was written")

    async def _prepare(
        self,
        key: str,
        op: str,
        build: Callable[[FlagState | None, int, str], FlagState] | None,
        expect_version: int | None,
        *,
        actor: str,
        face: str,
        reason: str,
        params: Mapping[str, Any],
    ) -> PendingWrite:
        """Phase 1: catch up, check, build the record. Raises (writing nothing) on a stale
        `expect_version`, a missing flag or bad input."""
        self._require_writable(f"{op} flag {key!r}")
        if op == "create":
            await self._ensure_topic()
        await self.start()
        if not self.store.running:
            raise NotFound(self._missing(key))
        await self._catch_up()
        await self._repair_all(actor)
        current = self.store.flags.get(key)
        in_force = current.version if current else 0
        if op == "create":
            if current is not None:
                raise StaleVersion(
                    f"flag {key!r} already exists (version {current.version}, "
                    f"by {current.updated_by or 'unknown'} at {current.updated_at}); "
                    "nothing was written"
                )
        elif current is None:
            raise NotFound(self._missing(key))
        if expect_version is not None and expect_version != in_force:
            raise version_conflict(current, expect_version, key)
        at = now_iso()
        if op == "create":
            new_version = self.store.log.version_at_deletion(key) + 1
        else:
            new_version = in_force + 1
        state = None if build is None else check_state(build(current, new_version, at))
        return PendingWrite(key, op, state, in_force, actor, face, reason, at, dict(params))

    async def _commit(self, pending: PendingWrite) -> FlagState | None:
        """Phase 2: write the record, read it back; Conflict if another write came first.

        Between the phases another writer may write: then the log decides, the losing
        record is rejected by every reader, and the loser restates before raising.
        """
        p = pending
        change = await self._produce(p.key, p.op, p.state, p.expects, p.actor, p.at, p.reason)
        if change.outcome != "applied":
            await self._repair(p.key, p.actor)
            raise StaleVersion(
                f"flag {p.key!r} was changed by someone else at the same time: you expected "
                f"version {p.expects}, but version {change.current_version} by "
                f"{change.current_by or 'unknown'} came first. Your change was not "
                f"applied (it is in the history as rejected, offset {change.offset})."
            )
        return p.state

    async def _produce(
        self,
        key: str,
        op: str,
        state: FlagState | None,
        expects: int,
        actor: str,
        at: str,
        reason: str,
    ) -> FlagChange:
        """Write one record and wait until the store has folded it; returns its outcome."""
        producer = await self._get_producer()
        write_id = uuid.uuid4().hex
        headers = [
            (H_EXPECTS, str(expects).encode()),
            (H_WRITE_ID, write_id.encode()),
            (H_OP, op.encode()),
            (H_BY, actor.encode()),
            (H_AT, at.encode()),
            (H_REASON, reason.encode()),
        ]
        fut = self.store.expect(write_id)
        try:
            with map_kafka_errors(self.cluster, self.config, doing=f"write flag {key!r}",
                                  note="nothing was changed unless `kafkaops flags history` "
                                  "shows it"):
                meta = await producer.send_and_wait(
                    self.topic,
                    None if state is None else encode_state(state),
                    key=key.encode(),
                    partition=0,
                    headers=headers,
                )
        except KafkaOpsError:
            self.store.forget(write_id)
            raise
        try:
            async with asyncio.timeout(self.write_timeout):
                return await fut
        except TimeoutError:
            self.store.forget(write_id)
            raise KafkaOpsError(
                f"wrote flag {key!r} at offset {meta.offset} but could not read it back "
                f"within {self.write_timeout:g}s; check `kafkaops flags history {key}` "
                "before trying again",
                retriable=True,
            ) from None

    async def _repair(self, key: str, actor: str, attempts: int = 5) -> None:
        """Make the key's last record authoritative again by restating what is in force.

        Not audited on its own: a restate changes no state (the write that caused it is).

        A restate is itself compare-and-set; if another write slips in first, that write is
        authoritative and the loop ends, or the restate lost and is retried.
        """
        for _ in range(attempts):
            await self._catch_up()
            if self.store.log.tail_ok.get(key, True):
                return
            current = self.store.flags.get(key)
            in_force = current.version if current else 0
            await self._produce(
                key,
                "restate",
                current,
                in_force,
                actor,
                now_iso(),
                "restate after a rejected write (keeps compaction safe)",
            )
        log.warning("flags: could not restate %r after %d attempts", key, attempts)

    async def _repair_all(self, actor: str) -> None:
        for key in self.store.log.unhealthy_tails():
            await self._repair(key, actor)

    async def _get_producer(self) -> Any:
        if self._producer is None:
            async with contextlib.AsyncExitStack() as stack:
                self._producer = await stack.enter_async_context(clients.producer(
                    self.cluster, self.config, acks="all", linger_ms=0))
                self._producing = stack.pop_all()
        return self._producer

    async def _ensure_topic(self) -> None:
        """Create the flags topic (1 partition, compacted) if it does not exist yet."""
        if self.store.running:
            return
        from kafkaops.core.topics.service import NewTopicSpec, TopicService

        conn = await self.connection()
        meta = await conn.metadata()
        if self.topic not in meta.topics:
            replicas = max(1, min(3, len(meta.brokers)))
            await TopicService(conn).create_topics(
                [
                    NewTopicSpec(
                        self.topic,
                        1,
                        replicas,
                        {
                            "cleanup.policy": "compact",
                            "min.compaction.lag.ms": str(MIN_COMPACTION_LAG_MS),
                        },
                    )
                ]
            )
        deadline = time.monotonic() + self.write_timeout
        while True:  # metadata may lag the creation a moment
            async with self._start_lock:  # a concurrent start() must not start a second reader
                if self.store.running or await self.store.start():
                    return
            if time.monotonic() > deadline:
                raise KafkaOpsError(f"created topic {self.topic!r} but it does not show up")
            await asyncio.sleep(0.05)


def version_conflict(current: FlagState | None, expected: int, key: str = "") -> StaleVersion:
    """The Conflict for a write that names a version the flag is no longer at."""
    if current is None:
        return StaleVersion(
            f"flag {key!r} does not exist (you expected version {expected}); nothing was written"
        )
    return StaleVersion(
        f"flag {current.key!r} is at version {current.version} (changed by "
        f"{current.updated_by or 'unknown'} at {current.updated_at}"
        + (f": {current.reason}" if current.reason else "")
        + f"), not {expected}; nothing was written. Look at that change, then retry "
        f"against version {current.version}"
    )


def _audit_detail(state: FlagState | None) -> dict[str, Any]:
    """What the audit record says a flag write produced."""
    if state is None:
        return {"deleted": True}
    return {"version": state.version, "enabled": state.enabled, "rollout": state.rollout}


def _written(state: FlagState | None) -> FlagState:
    assert state is not None
    return state


def _next(
    current: FlagState, version: int, actor: str, at: str, reason: str, **changes: Any
) -> FlagState:
    return dataclasses.replace(
        current, version=version, updated_by=actor, updated_at=at, reason=reason, **changes
    )


def same_content(current: FlagState, proposed: FlagState) -> bool:
    """The proposed state serves exactly what the current one does: only the bookkeeping
    (version, who, when, why) differs."""
    return dataclasses.replace(
        proposed, version=current.version, updated_by=current.updated_by,
        updated_at=current.updated_at, reason=current.reason, created_by=current.created_by,
        created_at=current.created_at,
    ) == current


def state_summary(state: FlagState) -> str:
    """One line for people: `on, 30% rollout, value true (v4)`."""
    parts = ["on" if state.enabled else "off"]
    if state.rollout < 100:
        parts.append(f"{state.rollout:g}% rollout")
    if state.variants:
        parts.append("variants " + ", ".join(f"{v.name}:{v.weight}" for v in state.variants))
    if state.rules:
        parts.append("rules " + "; ".join(str(r) for r in state.rules))
    parts.append(f"value {json.dumps(state.value)}")
    return ", ".join(parts) + f" (v{state.version})"


__all__ = [  # what other modules import from here (model.py and store.py hold most of it)
    "BUCKETS",
    "FLAG_TYPES",
    "FLAGS_TOPIC",
    "Evaluation",
    "FlagChange",
    "FlagLog",
    "FlagService",
    "FlagState",
    "FlagStore",
    "LogRecord",
    "Rule",
    "Variant",
    "bucket",
    "check_rollout",
    "evaluate",
    "in_rollout",
    "local_actor",
    "parse_rule",
    "parse_value",
    "parse_variant",
    "pick_variant",
    "state_from_json",
    "state_to_json",
    "version_conflict",
]
