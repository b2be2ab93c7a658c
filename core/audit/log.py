"""The audit trail: the one path every change made through kafkaops goes through.

    result = await record_change(
        services, actor=actor, face="slack", action="flag.write", target="checkout-v2",
        params={"enabled": True, "rollout": 25}, apply=lambda: flags.write(...),
    )

`record_change` refuses the change on a read-only cluster (raising `Refused`, writing
nothing anywhere: read-only means kafkaops writes nothing to that cluster), then writes the
change's *intent* (a signed record with result `intent`: who, what, parameters) before
touching anything, so a change can never happen unrecorded: if the intent cannot be
written, nothing is changed. Then it runs `apply()` and appends the *outcome* under the same
change id: `ok` with what `apply` returned, `error` with the message, `refused` when apply
raised `Refused` or lost a compare-and-set (`StaleVersion`), `interrupted` when it was
cancelled. The exception, if any, is re-raised unchanged. A process killed between the two
leaves an intent without an outcome: `verify` reports it (kind `no-outcome`), and whoever
finds out what happened closes it with `close_intent` (a failover's `resume` does).
Refusals that happen before a change starts (a Slack user without permission, a stale
`--if-version`) are recorded with `record_refusal` (core/audit/trails.py): an outcome with
no intent, since nothing was attempted.

Records live on `audit.topic` (default `_kafkaops.audit`: one partition, retention
infinite) of the cluster being changed, one signed JSON object per record
(core/audit/model.py names the fields, core/audit/chain.py signs and verifies them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from kafkaops.core.audit.chain import build_record, digest, verify_trail
from kafkaops.core.audit.model import (
    CONTEXT_FIELDS,
    FACES,
    INTENT,
    RESULTS,
    AuditError,
    AuditRecord,
    VerifyReport,
    fold_changes,
    parse_records,
)
from kafkaops.core.errors import ConfigError, KafkaOpsError, Refused, StaleVersion
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.messages.model import Message
    from kafkaops.core.services import Services

T = TypeVar("T")


def local_actor() -> str:
    """Who is at this keyboard: user@host (for the CLI and the console)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


_context: ContextVar[Mapping[str, str] | None] = ContextVar("kafkaops_audit_context",
                                                           default=None)


@contextlib.contextmanager
def audit_context(**fields: str | None) -> Iterator[None]:
    """Who asked, who confirmed, why and where (CONTEXT_FIELDS), for every record written
    inside, in this task and the tasks it starts: a face knows them, the core service that
    writes the record need not carry them."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"audit context takes {CONTEXT_FIELDS}, not {sorted(unknown)}")
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


# ---------------------------------------------------------------- the writer


class AuditLog:
    """One cluster's audit trail, and this process's writer on it.

    Get it from `await services.audit(cluster)`; `services.close()` stops it.
    """

    def __init__(self, services: Services, cluster: str) -> None:
        self.services = services
        self.cluster = cluster
        self.topic = services.config.audit.topic
        self.writer = _new_writer()
        self._seq = 0
        self._prev = ""
        self._producer: Any = None
        self._consumer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()
        self._prepare_lock = asyncio.Lock()
        self._ready = False

    # ------------------------------------------------------------ lifecycle

    def signing_key(self) -> bytes:
        secret = self.services.config.audit.signing_key
        if not secret.is_set:
            raise ConfigError(
                f"{self.services.config.source}: audit.signing_key is not set; every change "
                "is signed into the audit trail, so no change can be made without it "
                "(set audit.signing_key: ${KAFKAOPS_AUDIT_KEY} and export the variable)"
            )
        key: bytes = secret.reveal().encode("utf-8")
        return key

    async def prepare(self) -> None:
        """Make sure a record can be written: key, topic, producer. Raises before any change."""
        self.signing_key()
        if self._ready:
            return
        async with self._prepare_lock:  # concurrent first changes start one producer
            if not self._ready:
                await self._start_clients()

    async def _start_clients(self) -> None:
        from kafkaops.core.topics.service import NewTopicSpec

        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([self.topic])
        if self.topic not in meta.topics:
            await (await self.services.topics(self.cluster)).create_topics([NewTopicSpec(
                self.topic, 1, configs={"retention.ms": "-1", "cleanup.policy": "delete"})])
        # both close on every way out of the block, cancellation included, unless kept
        async with contextlib.AsyncExitStack() as stack:
            try:
                # Tansu gap: InitProducerId is not supported, so no idempotent producer; one
                # record in flight at a time (the lock below) keeps each writer's chain in order.
                producer = await stack.enter_async_context(
                    clients.producer(conn, acks="all", linger_ms=0))
                consumer = await stack.enter_async_context(clients.consumer(
                    conn, group_id=None, enable_auto_commit=False,
                    max_partition_fetch_bytes=1024 * 1024))
            except KafkaOpsError as e:
                raise AuditError(
                    f"cannot write the audit trail on cluster {self.cluster!r} ({e}); "
                    "nothing was changed") from None
            self._producer, self._consumer = producer, consumer
            self._clients = stack.pop_all()
        self._ready = True

    async def stop(self) -> None:
        stack, self._clients = self._clients, None
        self._producer = self._consumer = None
        self._ready = False
        if stack is not None:
            await stack.aclose()

    # ------------------------------------------------------------ writing

    async def _head(self) -> tuple[int, str] | None:
        """(offset, digest) of the newest record on the topic, None when it is empty."""
        from aiokafka.structs import TopicPartition as AkTP

        conn = await self.services.connection(self.cluster)
        tp = TopicPartition(self.topic, 0)
        water = await conn.high_watermarks([tp])
        if tp not in water:  # a topic created since the client last read metadata
            await conn.metadata([self.topic])
            water = await conn.high_watermarks([tp])
        if tp not in water:
            raise AuditError(f"cannot read the end of {self.topic!r} on cluster "
                             f"{self.cluster!r}: no leader for partition 0", retriable=True)
        start, end = water[tp]
        if end <= start:
            return None
        ak = AkTP(self.topic, 0)
        self._consumer.assign([ak])
        self._consumer.seek(ak, end - 1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with map_kafka_errors(conn, doing=f"read {self.topic!r}"):
                batch = await self._consumer.getmany(ak, timeout_ms=500)
            for rec in batch.get(ak, []):
                if rec.offset == end - 1:
                    return rec.offset, digest(rec.value)
        raise AuditError(f"cannot read the newest record of {self.topic!r} on cluster "
                         f"{self.cluster!r}", retriable=True)

    async def append(
        self, *, actor: str, face: str, action: str, target: str,
        params: Mapping[str, Any] | None = None, result: str = "ok", detail: Any = None,
        error: str | None = None, change_cluster: str | None = None,
        change_id: str | None = None, context: Mapping[str, str | None] | None = None,
    ) -> AuditRecord:
        """Write one signed record and wait until the broker has it. Its CONTEXT_FIELDS
        come from `audit_context`, then `context`."""
        if face not in FACES:
            raise ValueError(f"face must be one of {FACES}, not {face!r}")
        if result not in RESULTS:
            raise ValueError(f"result must be one of {RESULTS}, not {result!r}")
        key = self.signing_key()
        await self.prepare()
        async with self._lock:
            head = await self._head()
            fields = build_record(
                key=key, change_id=change_id or uuid.uuid4().hex, time_ms=int(time.time() * 1000),
                cluster=change_cluster or self.cluster, actor=actor, face=face, action=action,
                target=target, params=params or {}, result=result, detail=detail, error=error,
                writer=self.writer, seq=self._seq + 1, prev=self._prev, head=head,
                context={**(_context.get() or {}),
                         **{k: v for k, v in (context or {}).items() if v}},
            )
            value = json.dumps(fields, ensure_ascii=False).encode("utf-8")
            try:
                meta = await self._producer.send_and_wait(
                    self.topic, value, key=fields["id"].encode(), partition=0)
            except Exception as e:
                # The record may or may not have landed: start a new chain so neither
                # outcome leaves a gap or a fork in this one.
                self.writer, self._seq, self._prev = _new_writer(), 0, ""
                raise AuditError(
                    f"could not write the audit record to {self.topic!r} on cluster "
                    f"{self.cluster!r}: {e}", retriable=True) from None
            self._seq += 1
            self._prev = fields["sig"]
        return AuditRecord.from_fields(fields, partition=meta.partition, offset=meta.offset)

    # ------------------------------------------------------------ reading

    async def _read(self, since_ms: int | None = None) -> tuple[list[Message], int]:
        from kafkaops.core.messages.model import StartAt
        from kafkaops.core.messages.service import MessageService

        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([self.topic])
        if self.topic not in meta.topics:
            return [], 0
        tp = TopicPartition(self.topic, 0)
        start, _ = (await conn.high_watermarks([tp])).get(tp, (0, 0))
        svc = MessageService(conn)
        begin = StartAt.at_time(since_ms) if since_ms is not None else StartAt.beginning()
        return await svc.read(self.topic, partitions=[0], start=begin), start

    async def records(self, *, since_ms: int | None = None, limit: int | None = None,
                      skipped: list[tuple[int, str]] | None = None,
                      fold: bool = True) -> list[AuditRecord]:
        """Audit records, oldest first (the newest `limit` when given). Records that are not
        audit records are left out here (appended to `skipped` as (offset, why) when given);
        `verify()` reports them.

        `fold` (the default): one row per change, where its outcome stands; an intent shows
        only while it has no outcome (result `intent`: running, or its process died).
        Without `fold`: every record as written, intents included."""
        msgs, _ = await self._read(since_ms)
        out = parse_records(msgs, skipped)
        if fold:
            out = fold_changes(out)
        return out[-limit:] if limit else out

    async def checked(self, *, since_ms: int | None = None,
                      skipped: list[tuple[int, str]] | None = None
                      ) -> tuple[list[AuditRecord], bool]:
        """The audit records on the trail (since `since_ms`) as `records` gives them (one row
        per change), each marked with the first problem verification finds in it
        (`problem`) and `trail` set; the chains are checked from the first record read.
        (records, verified): without the signing key nothing can be verified, and nothing
        is marked."""
        try:
            key = self.signing_key()
        except ConfigError:
            key = None
        msgs, start = await self._read(since_ms)
        bad: dict[int, str] = {}
        if key is not None:
            first = msgs[0].offset if msgs and since_ms is not None else start
            report = verify_trail([(m.partition, m.offset, m.value) for m in msgs], key,
                                  log_start=first, topic=self.topic)
            for p in report.problems:
                bad.setdefault(p.offset, p.kind)
        return [dataclasses.replace(r, trail=self.cluster, problem=bad.get(r.offset))
                for r in fold_changes(parse_records(msgs, skipped))], key is not None

    async def open_intents(self, *, since_ms: int | None = None) -> list[AuditRecord]:
        """Changes whose intent has no outcome yet, oldest first."""
        return [r for r in await self.records(since_ms=since_ms) if r.result == INTENT]

    async def close_intent(
        self, intent: AuditRecord, *, actor: str, face: str, result: str, detail: Any = None,
        error: str | None = None,
    ) -> AuditRecord:
        """Write the outcome of a change whose process stopped before writing it, found out
        afterwards by `actor` (params.closed_by; the record keeps the change's own actor)."""
        if result == INTENT:
            raise ValueError("an intent is closed by an outcome, not another intent")
        params = dict(intent.params, closed_by=actor)
        return await self.append(
            actor=intent.actor, face=face, action=intent.action, target=intent.target,
            params=params, result=result, detail=detail, error=error,
            change_cluster=intent.cluster, change_id=intent.id,
            context={k: getattr(intent, k) for k in CONTEXT_FIELDS})

    async def verify(self) -> VerifyReport:
        key = self.signing_key()
        msgs, start = await self._read()
        return verify_trail([(m.partition, m.offset, m.value) for m in msgs], key,
                            log_start=start, topic=self.topic)


def _new_writer() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- the one path


async def record_change(
    services: Services, *, actor: str, face: str, action: str, target: str,
    params: Mapping[str, Any] | None, apply: Callable[[], Awaitable[T]],
    cluster: str | None = None, audit_cluster: str | None = None,
    summarize: Callable[[T], Any] | None = None, reason: str | None = None,
) -> T:
    """Run one change and audit it. See the module docstring for the rules.

    cluster: the cluster being changed (default: the services' current one); it must not be
    read-only (the refusal is recorded on another trail: trails.record_refusal).
    audit_cluster: where the record goes (default: `cluster`; a failover whose primary is
    down records on the secondary). summarize: turns apply's result into the record's
    `detail` (default: the result itself, as JSON data). reason: why (--reason).
    """
    cluster = cluster or services.cluster_name
    try:
        services.require_writable(cluster, action)
    except Refused as e:
        from kafkaops.core.audit.trails import note_refusal

        await note_refusal(services, e, actor=actor, face=face, action=action, target=target,
                           params=params, cluster=cluster, context={"reason": reason})
        raise
    log = await services.audit(audit_cluster or cluster)
    await log.prepare()
    change_id = uuid.uuid4().hex

    async def write(result: str, detail: Any = None, error: str | None = None) -> None:
        await log.append(actor=actor, face=face, action=action, target=target, params=params,
                         result=result, detail=detail, error=error, change_cluster=cluster,
                         change_id=change_id, context={"reason": reason})

    await write(INTENT)  # raises (changing nothing) when the trail cannot be written
    try:
        value = await apply()
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(write("interrupted", error="cancelled before it finished"))
        raise
    except (Refused, StaleVersion) as e:
        await write("refused", error=str(e))
        raise
    except Exception as e:
        await write("error", error=str(e) or type(e).__name__)
        raise
    detail = summarize(value) if summarize is not None else value
    try:
        await write("ok", detail)
    except AuditError as e:
        raise AuditError(
            f"the change WAS made ({action} {target} on {cluster}) but its audit record could "
            f"not be written: {e}") from None
    return value

