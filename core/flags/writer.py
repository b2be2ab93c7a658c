"""Writing flags: the record layout and the compare-and-set write path (`FlagWriter`),
under FlagService (kafkaops.core.flags.service), which plans the changes.

Layout (docs/architecture.md): one partition, key = flag key, value = the flag's full state
as JSON, a tombstone (null value) = deleted. Control data rides in record headers, so the
value stays the plain state and a tombstone can carry it too:

    kafkaops-expects   version this write replaces ("0": the flag must not exist)
    kafkaops-write-id  unique id of the write (the writer waits for this id to come back)
    kafkaops-op        create | set | toggle | rollout | rollback | delete | restate
    kafkaops-by, kafkaops-at, kafkaops-reason   who, when (UTC), why

Compare-and-set. Every reader folds the single partition in offset order with the same rule
(`FlagLog.apply`, the compare-and-set fold of kafkaops.core.statelog): a write is applied
only if its `expects` equals the version in force when it is read; otherwise every reader
ignores it ("rejected"). So of two writers that both saw version 5, the first record in the
log wins everywhere and the second is rejected everywhere. The writer returns only after its
own store has read its record back and seen which of the two happened; a rejection becomes
`Conflict` (exit 3). Both attempts stay in the log, so `history` shows them. Every write
goes through the audit trail's one path (`kafkaops.core.audit.record_change`): action
flag.<op>, target the flag key, its outcome (a Conflict included) signed onto
`_kafkaops.audit`.

Compaction, and why rejected records are repaired. A compacted topic keeps only the last
record per key. If that last record is a rejected write, compaction would drop the winner
and keep the loser, and a reader starting later would see the loser's state. The rule
chosen here: the last record of every key must be authoritative. Whoever leaves a
non-authoritative record at a key's tail re-publishes the state in force (op `restate`: same
version, expects = that version, so it is a no-op for readers that are up to date and the
truth for readers that start after compaction). Concretely:
  - the losing writer restates before it raises Conflict (`FlagWriter._repair`);
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

"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import (
    ConfigError,
    KafkaOpsError,
    NotFound,
    NothingToChange,
    Refused,
    StaleVersion,
    UsageError,
)
from kafkaops.core.flags.model import (
    FLAGS_TOPIC,
    H_AT,
    H_BY,
    H_EXPECTS,
    H_OP,
    H_REASON,
    H_WRITE_ID,
    MIN_COMPACTION_LAG_MS,
    FlagChange,
    FlagState,
    check_key,
    check_state,
    encode_state,
    now_iso,
)
from kafkaops.core.flags.plan import same_content, state_summary, version_conflict
from kafkaops.core.flags.signing import signed_headers, signer_for, verifier_for
from kafkaops.core.flags.store import FlagStore
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors, unreachable

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.services import Services

log = logging.getLogger(__name__)

#: builds the new state from the state in force, the version to write and the time
Build = Callable[[FlagState | None, int, str], FlagState]


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



class FlagWriter:
    """Flags on one cluster: the live store, the lifecycle and the compare-and-set write
    path. FlagService (kafkaops.core.flags.service) adds the reads, plans and changes."""

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
        #: signs each record; verifies what the store folds (kafkaops.core.flags.signing)
        self.signer = signer_for(services.config) if services is not None else None
        verifier = verifier_for(services.config) if services is not None else None
        if self.signer is not None and verifier is not None \
                and verifier.public != self.signer.verifier.public:
            raise ConfigError(
                f"{services.config.source if services is not None else 'config'}: "
                "flags.verify_key is not the public key of the flags signing key; "
                "remove one of them")
        self.store = FlagStore(cluster, config, topic=topic, keep_history=True,
                               verifier=verifier)
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

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def connection(self) -> KafkaConnection:
        if self._conn is None and self.services is not None:
            # asked each time, never kept: another part of the process (a console screen, a
            # bot command) drops a connection that stopped answering (Services.drop), which
            # stops it; a kept one would fail every write after that until a restart
            return await self.services.connection(self.cluster)
        if self._conn is None:
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

    @property
    def topic_exists(self) -> bool:
        return self.store.running

    def _missing(self, key: str) -> str:
        unsigned = [o for o, k in self.store.log.unverified.items() if k == key]
        if key in self.store.log.unsigned_states:
            return (
                f"flag {key!r} on cluster {self.cluster!r} has only unsigned records (offsets "
                f"{', '.join(map(str, unsigned))}), written before flag records were signed or "
                "by someone without the key: they are not applied, so its state is UNKNOWN and "
                f"services serve their default. `kafkaops flags resign {key}` writes its last "
                "unsigned state again, signed (an audited change)")
        if unsigned:
            return (f"no flag named {key!r} on cluster {self.cluster!r}: only records that "
                    f"failed their signature check (offsets {', '.join(map(str, unsigned))}), "
                    "which are not applied")
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

    def _require_writable(self, action: str) -> None:
        if self.services is not None:
            self.services.require_writable(self.cluster, action)
        elif self.config.read_only:
            raise Refused(f"cluster {self.cluster!r} is read-only; refusing to {action}")

    # -------------------------------------------------------- the write path

    async def _write(
        self,
        key: str,
        op: str,
        build: Build | None,
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
        self, key: str, build: Build,
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
        build: Build | None,
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
        if op in ("create", "resign"):
            await self._ensure_topic()
        await self.start()
        if not self.store.running:
            raise NotFound(self._missing(key))
        await self._catch_up()
        await self._repair_all(actor)
        current = self.store.flags.get(key)
        in_force = current.version if current else 0
        if op == "resign":
            if current is not None or key not in self.store.log.unsigned_states:
                raise NothingToChange(
                    f"nothing to re-sign: flag {key!r} has no unsigned state waiting "
                    "(it is in force, or was never written unsigned); nothing was written")
        elif op == "create":
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
        if op == "resign":  # continues the unsigned records' numbering
            new_version = max(self.store.log.version_at_deletion(key),
                              self.store.log.unsigned_states[key].version) + 1
        elif op == "create":
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
        if self.signer is None and self.store.verifier is not None:
            raise Refused(
                "flags.verify_key is set but neither flags.signing_key nor audit.signing_key: "
                f"this config reads flags but cannot sign a change to flag {key!r}; nothing "
                "was written")
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
        value = None if state is None else encode_state(state)
        if self.signer is not None:
            headers = signed_headers(self.signer, key.encode(), value, headers)
        fut = self.store.expect(write_id)
        try:
            with map_kafka_errors(self.cluster, self.config, doing=f"write flag {key!r}",
                                  note="nothing was changed unless `kafkaops flags history` "
                                  "shows it"):
                meta = await producer.send_and_wait(
                    self.topic,
                    value,
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
        # (a flag written before signing is not among them: a restate of nothing would be
        # a tombstone, and compaction would drop what `kafkaops flags resign` needs)
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

def _audit_detail(state: FlagState | None) -> dict[str, Any]:
    """What the audit record says a flag write produced."""
    if state is None:
        return {"deleted": True}
    return {"version": state.version, "enabled": state.enabled, "rollout": state.rollout}

