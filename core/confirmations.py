"""Pending confirmations of risky actions, shared by every bot replica through Kafka.

A face that asks "Confirm / Cancel?" (the Slack bot) writes the pending confirmation here
when it posts the prompt; a click on any replica reads it back, and the first replica to
claim it runs the action, once. This module is data only: the executors stay in each
process (every replica runs the same code), so only the request's parameters travel.

Topic `_kafkaops.confirmations`: one partition, key = confirmation id, value = the
confirmation's full state as JSON. A dedicated topic rather than `_kafkaops.control`:
  - control is read whole by every DR status and failover (dr_control.ControlStore), and
    confirmation traffic (every flag write from Slack) would slow the reads that matter
    most during an incident;
  - the lifetimes differ: a confirmation is dead ten minutes after it was asked for, so the
    topic can drop old records by time (`retention.ms`) with no tombstones, while control
    records must live as long as the pair;
  - its records are decoded by their own reader, never by DR's.

Signed, because anyone who can produce to the topic could otherwise write a next version
naming another action, other parameters or a later expiry, and a click on the prompt for
one thing would run another in the clicker's name. Every record carries `sig`, an HMAC of
all its other fields under `confirmations.signing_key` (else `audit.signing_key`); readers
apply only records that verify, and note the offsets of those that do not under the
confirmation they name (`ConfirmationLog.tampered`). The prompt's buttons carry the id and
`request_digest` (an HMAC of the request's own fields), and a click is run only when the
record in force still has that digest and nothing was written to it without the key.

State machine (`state`): pending -> confirmed -> done | failed; pending -> cancelled;
pending -> expired (written when a click finds it past `expires_at`).

Compare-and-set, the way flags.py does it: every record carries the `version` it creates
and the version it `expects` to replace. Every reader folds the partition in offset order
with the same rule (`ConfirmationLog.apply`): a record is applied only when `expects` equals
the version in force; otherwise every reader ignores it. So when two replicas both read
version 1 (pending) and both write a claim expecting 1, the claim first in the log wins on
every replica and the other is rejected on every replica; each writer reads the log back
past its own record before it acts, and only the winner runs the action. The loser is told
who used it.

Compaction: the topic is `compact,delete` with `min.compaction.lag.ms` = `retention.ms` =
one day, so the cleaner never touches a record younger than a day and every reader within a
day folds the whole history of a key (a rejected claim left at a key's tail cannot hide the
winner). A reader meeting a key for the first time accepts its record as it is (the key's
first write, or its predecessors were removed); a day after a confirmation was asked for it
has long expired, so at worst a very late click is told the wrong name in "already used by".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.errors import ConfigError, KafkaOpsError
from kafkaops.core.kafka.topicio import (
    RawRecord,
    Writer,
    ensure_topics,
    partitions_of,
    read_records,
)
from kafkaops.core.records import TopicPartition
from kafkaops.core.untrusted import parse_json

if TYPE_CHECKING:
    from kafkaops.core.config import Config
    from kafkaops.core.services import Services

log = logging.getLogger(__name__)

CONFIRMATIONS_TOPIC = "_kafkaops.confirmations"
_DAY_MS = 24 * 3600 * 1000
TOPIC_CONFIG = {
    "cleanup.policy": "compact,delete",
    "retention.ms": str(_DAY_MS),
    "min.compaction.lag.ms": str(_DAY_MS),
}

State = Literal["pending", "confirmed", "cancelled", "expired", "done", "failed"]
STATES = ("pending", "confirmed", "cancelled", "expired", "done", "failed")
#: states a pending confirmation can be claimed into
CLAIMS = ("confirmed", "cancelled", "expired")


@dataclass(frozen=True)
class Confirmation:
    """One confirmation as the log says it is now."""

    id: str
    """Random id; the only thing the prompt's buttons carry."""
    action: str
    """Action kind, e.g. flag.write (also the permission checked)."""
    requester: str
    """Who asked (a Slack user ID)."""
    target: str
    """What it acts on, as the prompt shows."""
    params: Mapping[str, Any]
    """Parameters the executor gets, as JSON (tuples come back as lists)."""
    summary: str
    """The prompt's summary as plain text, for people reading the topic."""
    created_at: float
    """When it was asked for (seconds since the epoch)."""
    expires_at: float
    """After this a click does nothing but mark it expired."""
    state: State = "pending"
    """pending, confirmed, cancelled, expired, done or failed."""
    channel: str = ""
    """Where it was asked."""
    cluster: str = ""
    """The cluster the action works on."""
    command_text: str = ""
    """The command as typed, to tell people what to run again."""
    used_by: str | None = None
    """Who confirmed, cancelled or found it expired."""
    used_at: float | None = None
    """When."""
    detail: str = ""
    """For done / failed: what the executor said."""
    finished_at: float | None = None
    """For done / failed: when the action ended."""
    version: int = 1
    """Bumped by every accepted write: what compare-and-set compares."""
    expects: int = 0
    """The version this write replaces (0: a new confirmation)."""
    write_id: str = ""
    """Unique id of the write, so its writer can tell whether it was applied."""
    sig: str = ""
    """HMAC-SHA256 of every other field under the confirmations key (`seal`)."""

    @property
    def outcome(self) -> str:
        """How it was used, for "already <outcome> by ...": confirmed also when done."""
        return "confirmed" if self.state in ("confirmed", "done", "failed") else self.state


def encode(rec: Confirmation) -> bytes:
    data = dict(rec.__dict__)
    data["params"] = dict(rec.params)
    return json.dumps(data, sort_keys=True).encode("utf-8")


# ---------------------------------------------------------------- signatures

#: the fields that make the request: what the prompt showed and the executor gets. Their
#: digest travels in the buttons, so a click names exactly the request it was shown.
REQUEST_FIELDS = ("id", "action", "requester", "target", "params", "summary", "created_at",
                  "expires_at", "channel", "cluster", "command_text")
#: a record longer than this was not written by kafkaops (a DLQ replay's params included)
MAX_RECORD = 1024 * 1024


def signing_key(config: Config) -> bytes:
    """confirmations.signing_key, else audit.signing_key; ConfigError when neither is set
    (then nothing is kept on the topic: an unsigned record could be rewritten by anyone
    who can produce to it)."""
    for secret in (config.confirmations.signing_key, config.audit.signing_key):
        if secret.is_set:
            return secret.reveal().encode("utf-8")
    raise ConfigError(
        f"{config.source}: neither confirmations.signing_key nor audit.signing_key is set; "
        "pending confirmations are signed with it before they are shared")


def _mac(key: bytes, data: Mapping[str, Any]) -> str:
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def request_digest(rec: Confirmation, key: bytes) -> str:
    """HMAC of the request's own fields (REQUEST_FIELDS): what a button is bound to."""
    data = json.loads(encode(rec))
    return _mac(key, {f: data[f] for f in REQUEST_FIELDS})


def seal(rec: Confirmation, key: bytes) -> Confirmation:
    """The record signed: `sig` over every other field."""
    data = json.loads(encode(replace(rec, sig="")))
    del data["sig"]
    return replace(rec, sig=_mac(key, data))


def is_sealed(rec: Confirmation, key: bytes) -> bool:
    return bool(rec.sig) and hmac.compare_digest(seal(rec, key).sig, rec.sig)


def decode(value: bytes | None) -> Confirmation:
    """A confirmation record; KafkaOpsError when it is not one."""
    if value is None:
        raise KafkaOpsError("tombstone")
    if len(value) > MAX_RECORD:
        raise KafkaOpsError(f"record of {len(value)} bytes is larger than any confirmation")
    try:
        data = parse_json(value)
        if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
            raise TypeError("not an object with params")
        rec = Confirmation(**data)
    except (ValueError, TypeError) as e:
        raise KafkaOpsError(f"not a confirmation record: {e}") from None
    if rec.state not in STATES:
        raise KafkaOpsError(f"unknown confirmation state {rec.state!r}")
    return rec


@dataclass
class ConfirmationLog:
    """The fold of the topic: the state in force per id, by the compare-and-set rule.

    Only records signed with `key` are applied. A record under the key of a confirmation
    already known that is not (damaged, unsigned, signed with another key, a tombstone) is
    someone writing to the topic by hand: it is not applied, and its offset is kept in
    `tampered` so a click on that confirmation is refused rather than trusted."""

    key: bytes = b""
    """The confirmations' signing key."""
    states: dict[str, Confirmation] = field(default_factory=dict)
    #: write ids this process waits on -> applied? (None until the fold meets the record)
    watched: dict[str, bool | None] = field(default_factory=dict)
    #: confirmation id -> offsets of records written to it without the key
    tampered: dict[str, list[int]] = field(default_factory=dict)

    def apply(self, key: bytes | None, value: bytes | None, offset: int = -1) -> bool:
        """Fold one record; True when it was applied. Damaged or foreign records are
        ignored, as every reader ignores them (and noted, for a known confirmation)."""
        cid = key.decode("utf-8", "replace") if key is not None else None
        try:
            rec = decode(value)
            if not is_sealed(rec, self.key):
                raise KafkaOpsError("not signed with the confirmations key")
        except KafkaOpsError as e:
            if offset >= 0 and value is not None:
                log.warning("skipping record %d of %s: %s", offset, CONFIRMATIONS_TOPIC, e)
            if cid in self.states:
                self.tampered.setdefault(cid, []).append(offset)
            return False
        if cid != rec.id:
            return False
        cur = self.states.get(rec.id)
        ok = cur is None or (rec.expects == cur.version and rec.version == cur.version + 1)
        if ok:
            self.states[rec.id] = rec
        if rec.write_id in self.watched:
            self.watched[rec.write_id] = ok
        return ok

    def purge(self, before: float) -> None:
        """Forget confirmations that expired before `before` (the topic drops them too)."""
        for cid in [c for c, r in self.states.items() if r.expires_at < before]:
            del self.states[cid]
            self.tampered.pop(cid, None)


class _Follower:
    """Folds partition 0 of a topic on one cluster, from where it left off to its end:
    what every replica has written so far. Used by the confirmations and the request
    ledger, so the subtle part (log start moving, reads that stop short) is written once."""

    def __init__(self, services: Services, cluster: str, topic: str) -> None:
        self.services = services
        self.cluster = cluster
        self.tp = TopicPartition(topic, 0)
        self.next = 0  # next offset to fold
        self._lock = asyncio.Lock()

    async def catch_up(self, apply: Callable[[RawRecord], object]) -> None:
        async with self._lock:
            conn = await self.services.connection(self.cluster)
            if self.tp.topic not in await partitions_of(conn, [self.tp.topic]):
                return
            start, end = (await conn.high_watermarks([self.tp])).get(self.tp, (0, 0))
            if self.next < start:
                self.next = start  # older records were removed by retention
            if end <= self.next:
                return
            got, incomplete = await read_records(conn, {self.tp: (self.next, end)})
            for r in got[self.tp]:
                apply(r)
                self.next = r.offset + 1
            if incomplete:
                raise KafkaOpsError(
                    f"could not read {self.tp.topic} on cluster {self.cluster!r} to its "
                    "end in time; nothing was done, try again",
                    retriable=True,
                )
            self.next = max(self.next, end)


class ConfirmationStore:
    """Confirmations on one cluster: written when asked, claimed once from any replica."""

    def __init__(self, services: Services, cluster: str) -> None:
        self.services = services
        self.cluster = cluster
        self.key = signing_key(services.config)
        self.log = ConfirmationLog(self.key)
        self._follower = _Follower(services, cluster, CONFIRMATIONS_TOPIC)

    async def catch_up(self) -> None:
        """Fold the topic up to its end now (what every replica has written so far)."""
        await self._follower.catch_up(lambda r: self.log.apply(r.key, r.value, r.offset))
        self.log.purge(time.time() - 2 * 24 * 3600)

    async def get(self, cid: str) -> Confirmation | None:
        """The confirmation as every replica sees it now (after catching up)."""
        await self.catch_up()
        return self.log.states.get(cid)

    def tampered(self, cid: str) -> list[int]:
        """Offsets of records written to this confirmation without the key (as of the last
        `get`)."""
        return list(self.log.tampered.get(cid, ()))

    async def create(self, rec: Confirmation) -> Confirmation:
        """Write a new pending confirmation; returns once the broker acknowledged it."""
        self.services.require_writable(self.cluster, "keep a pending confirmation on it")
        rec = replace(rec, state="pending", version=1, expects=0, write_id=uuid.uuid4().hex)
        # TypeError / ValueError now, before anything is written, for params that are not JSON
        rec = seal(rec, self.key)
        await self._write(rec)
        return rec

    async def transition(
        self, cur: Confirmation, state: State, **changes: Any
    ) -> tuple[bool, Confirmation]:
        """Move `cur` to `state` by compare-and-set: (True, new state) when this write won,
        (False, the state in force) when another write got there first."""
        rec = seal(replace(
            cur, state=state, version=cur.version + 1, expects=cur.version,
            write_id=uuid.uuid4().hex, **changes,
        ), self.key)
        self.log.watched[rec.write_id] = None
        try:
            await self._write(rec)
            await self.catch_up()
            applied = self.log.watched.get(rec.write_id)
        finally:
            self.log.watched.pop(rec.write_id, None)
        now = self.log.states.get(cur.id, cur)
        if applied is None:
            raise KafkaOpsError(
                f"wrote to {CONFIRMATIONS_TOPIC} on cluster {self.cluster!r} but did not read "
                "the write back; the outcome is unknown, check the audit trail",
                retriable=True,
            )
        return applied, now

    async def claim(self, cur: Confirmation, state: State, by: str, at: float) -> tuple[
        bool, Confirmation
    ]:
        """pending -> confirmed | cancelled | expired, once: (won, state in force)."""
        if state not in CLAIMS:
            raise ValueError(f"cannot claim a confirmation as {state!r}")
        return await self.transition(cur, state, used_by=by, used_at=at)

    async def _write(self, rec: Confirmation) -> None:
        conn = await self.services.connection(self.cluster)
        await ensure_topics(conn, {CONFIRMATIONS_TOPIC: (1, TOPIC_CONFIG)})
        async with Writer(conn) as w:
            await w.send(CONFIRMATIONS_TOPIC, [(rec.id.encode("utf-8"), encode(rec))],
                         partition=0)


# ---------------------------------------------------------------- signed requests seen once

REQUESTS_TOPIC = "_kafkaops.requests"
#: how long a request is remembered: Slack refuses signatures older than five minutes, so
#: a quarter of an hour covers the window and any clock skew between replicas
REQUESTS_KEEP = 15 * 60.0
REQUESTS_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(int(REQUESTS_KEEP * 1000))}
_MAX_SEEN_VALUE = 256  # bytes; anything longer was not written by a ledger


class RequestLedger:
    """Signed requests every replica has seen, on topic `_kafkaops.requests` of one cluster.

    `claim(key)` writes the key (a digest of the request's signature and timestamp) with a
    random write id and reads the topic back past it: the first record of a key in the log
    wins on every replica, so of two replicas handed the same request (a replay sent to
    both) exactly one gets True. Records are kept `REQUESTS_KEEP` by retention. A record
    that is not the ledger's own shape is ignored (the topic is untrusted input: a forged
    record can at worst make a request it names look seen, which needs its signature)."""

    def __init__(self, services: Services, cluster: str) -> None:
        self.services = services
        self.cluster = cluster
        self._first: dict[str, tuple[str, float]] = {}  # key -> (write id, written at)
        self._follower = _Follower(services, cluster, REQUESTS_TOPIC)
        self._ready = False
        # one producer for every claim, closed with the services: starting a producer per
        # request cost more than the rest of the request, on the loop that answers Slack's
        # acks (a burst of commands waited for it: bench/slack_ack.py)
        self._writer: Writer | None = None
        self._writer_lock = asyncio.Lock()

    async def _write(self, conn: Any, key: str, value: bytes) -> int:
        async with self._writer_lock:
            if self._writer is None:
                writer = Writer(conn)
                await writer.start()
                self._writer = writer
                self.services.on_close(self.close)
            writer = self._writer
        try:
            (offset,) = await writer.send(REQUESTS_TOPIC, [(key.encode(), value)], partition=0)
        except BaseException:
            if self._writer is writer:  # the next claim starts a fresh producer
                self._writer = None
                await writer.stop()
            raise
        return offset

    async def close(self) -> None:
        """Stop the producer (the services do this when they close)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.stop()

    async def claim(self, key: str) -> bool:
        """True when this call is the first in the log to claim `key`."""
        self.services.require_writable(self.cluster, "remember Slack requests on it")
        write_id = uuid.uuid4().hex
        conn = await self.services.connection(self.cluster)
        if not self._ready:
            await ensure_topics(conn, {REQUESTS_TOPIC: (1, REQUESTS_CONFIG)})
            self._ready = True
        value = json.dumps({"w": write_id, "at": time.time()}).encode()
        offset = await self._write(conn, key, value)
        if self._follower.next <= offset:
            await self._follower.catch_up(self._apply)
            if len(self._first) > 1000:  # bounded: forget what retention forgets
                cutoff = time.time() - REQUESTS_KEEP
                for k in [k for k, (_, t) in self._first.items() if t < cutoff]:
                    del self._first[k]
        if self._follower.next <= offset:
            raise KafkaOpsError(
                f"wrote to {REQUESTS_TOPIC} on cluster {self.cluster!r} but did not read "
                "the write back", retriable=True)
        return self._first.get(key, ("", 0.0))[0] == write_id

    def _apply(self, r: RawRecord) -> None:
        if r.key is None or r.value is None or len(r.value) > _MAX_SEEN_VALUE:
            return
        try:
            write_id = str(json.loads(r.value)["w"])
        except (ValueError, TypeError, KeyError):
            return
        self._first.setdefault(r.key.decode("utf-8", "replace"), (write_id, r.timestamp / 1000))
