"""Pending confirmations of risky actions, shared by every bot replica through Kafka.

A face that asks "Confirm / Cancel?" (the Slack bot) writes the pending confirmation here
when it posts the prompt; a click on any replica reads it back, and the first replica to
claim it runs the action, once. This module is data only: the executors stay in each
process (every replica runs the same code), so only the request's parameters travel.

Topic `_kafkaops.confirmations`: one partition, key = confirmation id, value = the
confirmation's full state as JSON. A dedicated topic rather than `_kafkaops.control`:
  - control is read whole by every DR status and failover (dr/control.py's ControlStore), and
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

Compare-and-set decided by log order (kafkaops.core.statelog): every record carries the
`version` it creates and the version it `expects` to replace. Every reader folds the
partition in offset order with the same rule (`ConfirmationLog`): a record is applied only
when `expects` equals the version in force; otherwise every reader ignores it. So when two
replicas both read version 1 (pending) and both write a claim expecting 1, the claim first
in the log wins on every replica and the other is rejected on every replica; each writer
reads the log back past its own record before it acts, and only the winner runs the action.
The loser is told who used it.

Compaction: the topic is `compact,delete` with `min.compaction.lag.ms` = `retention.ms` =
one day, so the cleaner never touches a record younger than a day and every reader within a
day folds the whole history of a key (a rejected claim left at a key's tail cannot hide the
winner). A reader meeting a key for the first time accepts its record as it is (the key's
first write, or its predecessors were removed); a day after a confirmation was asked for it
has long expired, so at worst a very late click is told the wrong name in "already used by".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.errors import ConfigError, KafkaOpsError
from kafkaops.core.kafka.topicio import RawRecord
from kafkaops.core.statelog.fold import CasFold, Invalid, Proposal
from kafkaops.core.statelog.signing import mac, signature, verifies
from kafkaops.core.statelog.topic import CasTopic
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


def request_digest(rec: Confirmation, key: bytes) -> str:
    """HMAC of the request's own fields (REQUEST_FIELDS): what a button is bound to."""
    data = json.loads(encode(rec))
    return mac(key, {f: data[f] for f in REQUEST_FIELDS})


def seal(rec: Confirmation, key: bytes) -> Confirmation:
    """The record signed: `sig` over every other field."""
    return replace(rec, sig=signature(key, json.loads(encode(rec))))


def is_sealed(rec: Confirmation, key: bytes) -> bool:
    return verifies(key, json.loads(encode(rec)))


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


def read_write(key: bytes | None, value: bytes | None, sign_key: bytes) -> tuple[
    str, Proposal[Confirmation] | Invalid
] | None:
    """One record of the topic as a compare-and-set write (statelog); only records signed
    with `sign_key` are writes."""
    if key is None:
        return None
    cid = key.decode("utf-8", "replace")
    try:
        rec = decode(value)
        if not is_sealed(rec, sign_key):
            raise KafkaOpsError("not signed with the confirmations key")
    except KafkaOpsError as e:
        return cid, Invalid(str(e))
    if rec.id != cid:
        return cid, Invalid(f"the record names confirmation {rec.id!r}")
    return cid, Proposal(cid, rec.expects, rec.version, rec, rec.write_id)


class ConfirmationLog:
    """The fold of the topic: the state in force per id, by the compare-and-set rule of
    kafkaops.core.statelog.fold, applying only records signed with `key`.

    A record under the id of a confirmation in force that does not verify (damaged,
    unsigned, signed with another key, a tombstone, another confirmation's record) is
    someone writing to the topic by hand: it is not applied, and its offset is kept in
    `tampered` so a click on that confirmation is refused rather than trusted."""

    def __init__(self, key: bytes = b"") -> None:
        self.key = key
        self.fold: CasFold[Confirmation] = CasFold(what="the confirmation")

    @property
    def states(self) -> dict[str, Confirmation]:
        return self.fold.states

    @property
    def tampered(self) -> dict[str, list[int]]:
        """Confirmation id -> offsets of records written to it without the key."""
        return self.fold.tampered

    def read(self, r: RawRecord) -> tuple[str, Proposal[Confirmation] | Invalid] | None:
        got = read_write(r.key, r.value, self.key)
        if got is not None and isinstance(got[1], Invalid) and r.value is not None:
            log.warning("skipping record %d of %s: %s", r.offset, CONFIRMATIONS_TOPIC, got[1])
        return got

    def apply(self, key: bytes | None, value: bytes | None, offset: int = -1) -> bool:
        """Fold one record; True when it was applied."""
        got = read_write(key, value, self.key)
        return got is not None and self.fold.apply(offset, *got).outcome == "applied"

    def purge(self, before: float) -> None:
        """Forget confirmations that expired before `before` (the topic drops them too)."""
        for cid in [c for c, r in self.states.items() if r.expires_at < before]:
            self.fold.forget(cid)


class ConfirmationStore:
    """Confirmations on one cluster: written when asked, claimed once from any replica."""

    def __init__(self, services: Services, cluster: str) -> None:
        self.services = services
        self.cluster = cluster
        self.key = signing_key(services.config)
        self.log = ConfirmationLog(self.key)
        self._topic: CasTopic[Confirmation] = CasTopic(
            services, cluster, CONFIRMATIONS_TOPIC, TOPIC_CONFIG, self.log.read, self.log.fold)

    async def catch_up(self) -> None:
        """Fold the topic up to its end now (what every replica has written so far)."""
        await self._topic.catch_up()
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
        await self._topic.put(rec.id, encode(rec))
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
        decision = await self._topic.propose(
            rec.id, encode(rec), rec.write_id, unknown="check the audit trail")
        self.log.purge(time.time() - 2 * 24 * 3600)
        return decision.outcome == "applied", self.log.states.get(cur.id, cur)

    async def claim(self, cur: Confirmation, state: State, by: str, at: float) -> tuple[
        bool, Confirmation
    ]:
        """pending -> confirmed | cancelled | expired, once: (won, state in force)."""
        if state not in CLAIMS:
            raise ValueError(f"cannot claim a confirmation as {state!r}")
        return await self.transition(cur, state, used_by=by, used_at=at)


# ---------------------------------------------------------------- signed requests seen once

REQUESTS_TOPIC = "_kafkaops.requests"
#: how long a request is remembered: Slack refuses signatures older than five minutes, so
#: a quarter of an hour covers the window and any clock skew between replicas
REQUESTS_KEEP = 15 * 60.0
REQUESTS_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(int(REQUESTS_KEEP * 1000))}
_MAX_SEEN_VALUE = 256  # bytes; anything longer was not written by a ledger


class RequestLedger:
    """Signed requests every replica has seen, on topic `_kafkaops.requests` of one cluster.

    `claim(key)` writes the key (a digest of the request's signature and timestamp) as a
    compare-and-set write that expects the key to be absent, with a random write id, and
    reads the topic back past it: the first record of a key in the log wins on every
    replica, so of two replicas handed the same request (a replay sent to both) exactly one
    gets True. Records are kept `REQUESTS_KEEP` by retention. A record that is not the
    ledger's own shape is ignored (the topic is untrusted input: a forged record can at
    worst make a request it names look seen, which needs its signature).

    One producer serves every claim, closed with the services: starting a producer per
    request cost more than the rest of the request, on the loop that answers Slack's acks
    (a burst of commands waited for it: bench/slack_ack.py)."""

    def __init__(self, services: Services, cluster: str) -> None:
        self.services = services
        self.cluster = cluster
        self._fold: CasFold[float] = CasFold(what="the request")
        self._topic: CasTopic[float] = CasTopic(
            services, cluster, REQUESTS_TOPIC, REQUESTS_CONFIG, _read_seen, self._fold)

    async def close(self) -> None:
        """Stop the producer (the services do this when they close)."""
        await self._topic.close()

    async def claim(self, key: str) -> bool:
        """True when this call is the first in the log to claim `key`."""
        self.services.require_writable(self.cluster, "remember Slack requests on it")
        write_id = uuid.uuid4().hex
        value = json.dumps({"w": write_id, "at": time.time()}).encode()
        decision = await self._topic.propose(key, value, write_id)
        if len(self._fold.states) > 1000:  # bounded: forget what retention forgets
            cutoff = time.time() - REQUESTS_KEEP
            for k in [k for k, t in self._fold.states.items() if t < cutoff]:
                self._fold.forget(k)
        return decision.outcome == "applied"


def _read_seen(r: RawRecord) -> tuple[str, Proposal[float] | Invalid] | None:
    """A ledger record as a write that expects its key to be absent (state: when it was
    written, by the record's timestamp)."""
    if r.key is None or r.value is None or len(r.value) > _MAX_SEEN_VALUE:
        return None
    try:
        write_id = str(json.loads(r.value)["w"])
    except (ValueError, TypeError, KeyError):
        return None
    key = r.key.decode("utf-8", "replace")
    return key, Proposal(key, 0, 1, r.timestamp / 1000, write_id)
