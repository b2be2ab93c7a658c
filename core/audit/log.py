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
`--if-version`) are recorded with `audit_trails.record_refusal`: an outcome with no intent,
since nothing was attempted.

Records live on `audit.topic` (default `_kafkaops.audit`: one partition, retention
infinite) of the cluster being changed, one JSON object per record:

    v, id, time (ms), cluster, actor, face, action, target, params, result, detail, error,
    writer, seq, prev, head, sig

Tamper evidence, and why several writers at once never raise a false alarm:
- `sig` = HMAC-SHA256 (key: audit.signing_key) over the canonical JSON of every other field:
  a changed field or a record made without the key is detected.
- Each `AuditLog` instance is a *writer* with its own id and its own chain: `seq` counts its
  records from 1 and `prev` is the sig of its previous record. Writers never coordinate, so
  two consoles and a bot interleave freely; within one chain a gap is a missing record, a
  smaller seq after a larger one is a reordered record, and the same sig twice is a replayed
  copy.
- `head` = (offset, sig) of the last record on the topic when this one was written. Kafka
  offsets never change, so removing or inserting a record anywhere (which means rewriting
  the topic) shifts later records away from what their heads saw: detected even when a
  whole chain is removed. What no hash chain can show is the removal of the newest records
  at the very end; `verify` prints the head so it can be compared with a copy kept apart.

`verify_trail` is the pure check (tested with tables); `AuditLog.verify()` reads the topic
and runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from kafkaops.core.errors import ConfigError, KafkaOpsError, Refused, StaleVersion
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition, to_jsonable
from kafkaops.core.untrusted import UntrustedData, parse_json

if TYPE_CHECKING:
    from kafkaops.core.messages.service import Message
    from kafkaops.core.services import Services

Face = Literal["console", "slack", "cli"]
Result = Literal["intent", "ok", "error", "refused", "interrupted", "cancelled", "expired",
                 "tampered"]
FACES = ("console", "slack", "cli")
#: `intent` opens a change (written before it acts); the others are outcomes
RESULTS = ("intent", "ok", "error", "refused", "interrupted", "cancelled", "expired",
           "tampered")
INTENT = "intent"
VERSION = 1
_FIELDS = ("v", "id", "time", "cluster", "actor", "face", "action", "target", "params",
           "result", "detail", "error", "writer", "seq", "prev", "head")

T = TypeVar("T")


class AuditError(KafkaOpsError):
    """The audit trail could not be written or read."""


def local_actor() -> str:
    """Who is at this keyboard: user@host (for the CLI and the console)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class AuditRecord:
    """One record of the trail, as read back."""

    id: str
    """Id of the change (also the Kafka record key)."""
    time: int
    """When the change finished, ms since the epoch (the writer's clock)."""
    cluster: str
    """Cluster that was changed."""
    actor: str
    """Who: user@host for the CLI and console, the Slack user for the bot."""
    face: str
    """console, slack or cli."""
    action: str
    """What kind of change, e.g. dlq.replay, flag.write, offsets.reset, failover."""
    target: str
    """What was changed: a topic, a flag key, a group..."""
    params: dict[str, Any]
    """The parameters of the change."""
    result: str
    """intent (the change was about to be made; no outcome recorded yet), ok, error,
    refused, interrupted; cancelled, expired (a confirmation not given) or tampered (a
    confirmation altered outside kafkaops, refused)."""
    detail: Any
    """What the change reported on success (e.g. counts)."""
    error: str | None
    """The error message when result is not ok."""
    writer: str
    """Id of the writer (one per running console, bot or CLI invocation)."""
    seq: int
    """Position in its writer's chain, from 1."""
    partition: int = 0
    """Where the record is on the audit topic."""
    offset: int = -1
    """Where the record is on the audit topic."""
    requested_by: str | None = None
    """Who asked for the change, when someone else confirmed it (Slack)."""
    confirmed_by: str | None = None
    """Who confirmed it (Slack; also the actor)."""
    reason: str | None = None
    """Why, as given with --reason."""
    channel: str | None = None
    """The Slack channel it was asked in."""
    trail: str = ""
    """The cluster whose audit topic holds it (a listing of several trails sets it)."""
    problem: str | None = None
    """Set by listings that verify: the kind of problem it has (malformed, bad-signature,
    altered, duplicate, missing, reordered, rewritten), None when it verified."""

    @classmethod
    def from_fields(cls, d: Mapping[str, Any], *, partition: int = 0,
                    offset: int = -1) -> AuditRecord:
        def opt(k: str) -> str | None:
            return str(d[k]) if d.get(k) is not None else None

        return cls(
            id=str(d["id"]), time=int(d["time"]), cluster=str(d["cluster"]),
            actor=str(d["actor"]), face=str(d["face"]), action=str(d["action"]),
            target=str(d["target"]), params=dict(d.get("params") or {}),
            result=str(d["result"]), detail=d.get("detail"), error=d.get("error"),
            writer=str(d["writer"]), seq=int(d["seq"]), partition=partition, offset=offset,
            requested_by=opt("requested_by"), confirmed_by=opt("confirmed_by"),
            reason=opt("reason"), channel=opt("channel"),
        )


#: optional fields a record carries when they are known, signed like the others
CONTEXT_FIELDS = ("requested_by", "confirmed_by", "reason", "channel")
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


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: every field but `sig`, as sorted, compact JSON."""
    body = {k: v for k, v in fields.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sign(fields: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the canonical form, hex."""
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()


def digest(value: bytes | None) -> str:
    """What a `head` names a record by: its sig when it is an audit record, else a hash of
    its bytes (so a later record can still point at a foreign record that sat at the head)."""
    if value:
        try:
            d = parse_json(value)
            if isinstance(d, dict) and isinstance(d.get("sig"), str):
                return str(d["sig"])
        except ValueError:
            pass
    return "sha256:" + hashlib.sha256(value or b"").hexdigest()


def build_record(
    *, key: bytes, change_id: str, time_ms: int, cluster: str, actor: str, face: str, action: str,
    target: str, params: Mapping[str, Any], result: str, detail: Any, error: str | None,
    writer: str, seq: int, prev: str, head: tuple[int, str] | None,
    context: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A signed record (the dict that is written as JSON); `context` adds the
    CONTEXT_FIELDS that are known."""
    fields: dict[str, Any] = {
        "v": VERSION, "id": change_id, "time": time_ms, "cluster": cluster, "actor": actor,
        "face": face, "action": action, "target": target, "params": _plain(params),
        "result": result, "detail": _plain(detail), "error": error, "writer": writer,
        "seq": seq, "prev": prev,
        "head": None if head is None else {"offset": head[0], "sig": head[1]},
    }
    fields.update({k: str(v) for k, v in (context or {}).items() if k in CONTEXT_FIELDS and v})
    fields["sig"] = sign(fields, key)
    return fields


def _plain(value: Any) -> Any:
    """Records and tuples to JSON data; anything else JSON cannot hold becomes its str()."""
    return json.loads(json.dumps(to_jsonable(value), default=str, allow_nan=False))


# ---------------------------------------------------------------- verification


ProblemKind = Literal["malformed", "bad-signature", "altered", "duplicate", "missing",
                      "reordered", "rewritten", "no-outcome"]


@dataclass(frozen=True)
class AuditProblem:
    partition: int
    """Partition of the bad record."""
    offset: int
    """Offset of the bad record."""
    kind: str
    """malformed, bad-signature (forged or altered), altered (a changed copy of a record that
    is also there), duplicate (a replayed copy), missing, reordered, rewritten (the record
    its head names is not there: records were removed or inserted before it), no-outcome
    (a change's intent with no outcome after it: its process stopped mid-change, or it is
    still running; what it did is unknown until someone looks and closes it)."""
    message: str
    """What is wrong, for a person."""


@dataclass(frozen=True)
class VerifyReport:
    topic: str
    """The audit topic."""
    records: int
    """Records read."""
    writers: int
    """Distinct writers whose records verified."""
    problems: tuple[AuditProblem, ...]
    """Everything wrong, in offset order."""
    log_start: int = 0
    """First offset still on the topic (older ones went by retention)."""
    head_offset: int | None = None
    """Offset of the last record."""
    head_sig: str | None = None
    """Its signature: keep a copy apart to detect removal of the newest records."""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Chain:
    last_seq: int = 0
    last_sig: str = ""
    last_offset: int = -1
    sigs: dict[int, tuple[str, int]] = field(default_factory=dict)  # seq -> (sig, offset)


def verify_trail(
    records: Sequence[tuple[int, int, bytes | None]], key: bytes, *, log_start: int = 0,
    topic: str = "",
) -> VerifyReport:
    """Check a trail. `records` are (partition, offset, value) in offset order, starting at
    `log_start` (records before it went by retention and are not asked for)."""
    problems: list[AuditProblem] = []
    by_offset: dict[int, str] = {}
    valid: list[tuple[int, int, dict[str, Any]]] = []
    seen_sigs: dict[str, int] = {}
    #: (change id, is an intent) -> first good record: an intent and its outcome share an id
    by_id: dict[tuple[str, bool], tuple[int, dict[str, Any]]] = {}

    def bad(part: int, off: int, kind: str, msg: str) -> None:
        problems.append(AuditProblem(part, off, kind, msg))

    parsed: list[tuple[int, int, dict[str, Any] | None, str]] = []
    for part, off, value in records:
        by_offset[off] = digest(value)
        d: Any = None
        why = ""
        try:
            d = parse_json(value) if value else None
        except UntrustedData as e:
            why = str(e)
        if d is not None and not isinstance(d, dict):
            d, why = None, "not a JSON object"
        if d is None and not why:
            why = "empty value"
        if d is not None:
            missing = [f for f in (*_FIELDS, "sig") if f not in d]
            if missing:
                d, why = None, "fields missing: " + ", ".join(missing)
            elif not isinstance(d["seq"], int) or not isinstance(d["sig"], str):
                d, why = None, "seq or sig has the wrong type"
        parsed.append((part, off, d, why))

    # first pass: signatures (a bad record must not feed the chains)
    for part, off, d, why in parsed:
        if d is None:
            bad(part, off, "malformed", f"not an audit record ({why}): written by hand?")
            continue
        try:
            expected = sign(d, key)
        except (TypeError, ValueError):
            expected = ""
        if not hmac.compare_digest(expected, d["sig"]):
            continue  # judged below, once the good records are known
        if d["sig"] in seen_sigs:
            bad(part, off, "duplicate",
                f"replayed copy of the record at offset {seen_sigs[d['sig']]} "
                f"(writer {d['writer']} seq {d['seq']})")
            continue
        seen_sigs[d["sig"]] = off
        by_id.setdefault((str(d["id"]), d.get("result") == INTENT), (off, d))
        valid.append((part, off, d))

    valid_offsets = {off for _, off, _ in valid}
    # seqs held by records whose signature failed: reported as such, not again as missing
    all_seqs: dict[str, set[int]] = {}
    for part, off, d, _ in parsed:
        if d is None or off in valid_offsets or any(
                p.offset == off for p in problems):
            continue
        all_seqs.setdefault(str(d["writer"]), set()).add(d["seq"])
        phase = d.get("result") == INTENT
        original = by_id.get((str(d.get("id")), phase)) or by_id.get(
            (str(d.get("id")), not phase))
        if original is not None:
            changed = sorted(k for k in set(d) | set(original[1])
                             if k != "sig" and d.get(k) != original[1].get(k))
            bad(part, off, "altered",
                f"altered copy of the record at offset {original[0]}: signature does not "
                f"match; changed: {', '.join(changed) or 'the signature itself'}")
        else:
            bad(part, off, "bad-signature",
                "signature does not match: a field was changed, or the record was forged "
                "without the signing key (or signed with another key)")

    # second pass: chains per writer and head links
    chains: dict[str, _Chain] = {}
    for _, _, d in valid:
        all_seqs.setdefault(str(d["writer"]), set()).add(int(d["seq"]))
    for part, off, d in valid:
        w, seq = str(d["writer"]), int(d["seq"])
        chain = chains.setdefault(w, _Chain())
        short = w[:12]
        if seq <= chain.last_seq:
            later = chain.sigs.get(chain.last_seq, ("", -1))[1]
            bad(part, off, "reordered",
                f"writer {short} seq {seq} stands after its seq {chain.last_seq} "
                f"(offset {later}): records were reordered")
            continue
        expected_first = chain.last_seq == 0
        if expected_first and seq != 1 and log_start == 0:
            gap = [s for s in range(1, seq) if s not in all_seqs[w]]
            if gap:
                bad(part, off, "missing",
                    f"writer {short} starts at seq {seq}: {_span(gap)} missing before it")
        elif not expected_first and seq != chain.last_seq + 1:
            gap = [s for s in range(chain.last_seq + 1, seq) if s not in all_seqs[w]]
            if gap:
                bad(part, off, "missing",
                    f"writer {short} jumps from seq {chain.last_seq} (offset "
                    f"{chain.last_offset}) to {seq}: {_span(gap)} missing")
        elif not expected_first and d["prev"] != chain.last_sig:
            bad(part, off, "rewritten",
                f"writer {short} seq {seq} does not follow its seq {chain.last_seq}: "
                "prev does not match")
        head = d.get("head")
        if isinstance(head, dict) and isinstance(head.get("offset"), int):
            h_off = head["offset"]
            if h_off >= off:
                bad(part, off, "rewritten",
                    f"it saw offset {h_off} as the newest record, but stands at offset {off}: "
                    "records before it were removed")
            elif h_off >= log_start and by_offset.get(h_off) != head.get("sig"):
                bad(part, off, "rewritten",
                    f"the record at offset {h_off} is not the one it saw there: records "
                    "before it were removed or inserted")
        chain.last_seq, chain.last_sig, chain.last_offset = seq, str(d["sig"]), off
        chain.sigs[seq] = (str(d["sig"]), off)

    problems.extend(_unreconciled(valid))
    problems.sort(key=lambda p: (p.partition, p.offset))
    last = records[-1] if records else None
    return VerifyReport(
        topic=topic, records=len(records), writers=len(chains), problems=tuple(problems),
        log_start=log_start, head_offset=last[1] if last else None,
        head_sig=digest(last[2]) if last else None,
    )


def _unreconciled(valid: Sequence[tuple[int, int, dict[str, Any]]]) -> list[AuditProblem]:
    """Intents with no outcome after them (any writer's: a resume closes a dead one's)."""
    open_: dict[str, tuple[int, int, dict[str, Any]]] = {}
    for part, off, d in valid:
        cid = str(d["id"])
        if d.get("result") == INTENT:
            open_.setdefault(cid, (part, off, d))
        else:
            open_.pop(cid, None)
    out = []
    for part, off, d in open_.values():
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(d["time"]) / 1000)) \
            if isinstance(d.get("time"), int) else "?"
        out.append(AuditProblem(
            part, off, "no-outcome",
            f"change {d['id']} ({d.get('action')} {d.get('target')} on {d.get('cluster')} by "
            f"{d.get('actor')}, {when}) has an intent and no outcome: the process stopped "
            "before recording what happened, or the change is still running; check "
            f"{d.get('target')} (a failover's `resume` records it)"))
    return out


def _span(seqs: list[int]) -> str:
    if len(seqs) == 1:
        return f"seq {seqs[0]} is"
    if seqs == list(range(seqs[0], seqs[-1] + 1)):
        return f"seq {seqs[0]}..{seqs[-1]} are"
    return "seq " + ", ".join(map(str, seqs)) + " are"


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
        from kafkaops.core.messages.service import MessageService, StartAt

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
        out = _parsed(msgs, skipped)
        if fold:
            out = _fold(out)
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
                for r in _fold(_parsed(msgs, skipped))], key is not None

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


def _fold(records: list[AuditRecord]) -> list[AuditRecord]:
    """One row per change: an intent is left out once its outcome is on the trail."""
    closed = {r.id for r in records if r.result != INTENT}
    return [r for r in records if r.result != INTENT or r.id not in closed]


def _parsed(msgs: Sequence[Message], skipped: list[tuple[int, str]] | None
            ) -> list[AuditRecord]:
    """The messages that are audit records; the others go to `skipped` as (offset, why)."""
    out: list[AuditRecord] = []
    for m in msgs:
        try:
            d = parse_json(m.value)
            out.append(AuditRecord.from_fields(d, partition=m.partition, offset=m.offset))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            why = str(e) if isinstance(e, ValueError) else f"not an audit record ({e})"
            if skipped is not None:
                skipped.append((m.offset, why))
    return out


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
    read-only (the refusal is recorded on another trail: audit_trails.record_refusal).
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

