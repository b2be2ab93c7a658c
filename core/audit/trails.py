"""Several audit trails as one, and refusals written where they can be.

Each cluster keeps its own trail (`audit.topic` on that cluster), and a change is recorded
on the trail of the cluster it changes; a failover records its steps on the target's trail
(the old active cluster may be down). So a listing of one trail misses what is on the
others: `list_trails` reads every trail it is given (the CLI and the bot give every
cluster the config names unless one is asked for), each record marked with the trail that
holds it and whatever verification finds wrong with it (`AuditLog.checked`; records that
are not audit records at all are named by offset instead), and says which trails it read
and which did not answer.

A refusal because a cluster is read-only is not written to that cluster (read-only means
kafkaops writes nothing there, its trail included): `record_refusal` writes it to the
trail of the bot's or CLI's default cluster, else of the first writable cluster in the
config, naming the refused cluster in the record's `cluster`. With no writable cluster at
all it is only logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.audit.model import AuditRecord, VerifyReport
from kafkaops.core.errors import KafkaOpsError, Refused

if TYPE_CHECKING:
    from kafkaops.core.services import Services

log = logging.getLogger(__name__)


#: how a listing marks a record that failed verification (AuditProblem.kind -> mark)
MARKS = {"malformed": "MALFORMED", "bad-signature": "FORGED", "altered": "ALTERED",
         "duplicate": "REPLAYED", "missing": "GAP-BEFORE", "reordered": "REORDERED",
         "rewritten": "REWRITTEN"}


def mark(record: AuditRecord, verified: bool = True) -> str:
    """A listing's CHECK column: ok, what is wrong (FORGED, REPLAYED, ...), or - when the
    trail could not be verified (no signing key)."""
    if record.problem:
        return MARKS.get(record.problem, record.problem.upper())
    return "ok" if verified else "-"


@dataclass(frozen=True)
class TrailRead:
    """What reading one cluster's trail gave."""

    cluster: str
    """The cluster whose audit topic it is."""
    topic: str
    """The audit topic."""
    records: int = 0
    """Records read."""
    problems: int = 0
    """Records that failed verification."""
    verified: bool = True
    """False when no signing key was set: nothing could be checked."""
    error: str | None = None
    """Why it was not read (the cluster did not answer): its records are unknown."""
    skipped: tuple[tuple[int, str], ...] = ()
    """(offset, why) of records that are not audit records at all (not listed)."""


@dataclass(frozen=True)
class Listing:
    records: list[AuditRecord]
    """Records of every trail read, oldest first (by the time each was written)."""
    trails: list[TrailRead]
    """Each trail asked for, read or not."""

    @property
    def unread(self) -> list[TrailRead]:
        return [t for t in self.trails if t.error is not None]

    @property
    def verified(self) -> bool:
        """Every trail read was verified (a signing key was set)."""
        return all(t.verified for t in self.trails if t.error is None)

    @property
    def problems(self) -> int:
        """Records that failed verification, those not listed as not audit records at all
        included."""
        return sum(1 for r in self.records if r.problem) + sum(
            len(t.skipped) for t in self.trails)


async def list_trails(services: Services, clusters: Sequence[str], *,
                      since_ms: int | None = None, limit: int | None = None) -> Listing:
    """The trails of `clusters`, read at the same time, as one listing (the newest `limit`
    records when given)."""

    async def one(cluster: str) -> tuple[list[AuditRecord], TrailRead]:
        trail = await services.audit(cluster)
        skipped: list[tuple[int, str]] = []
        try:
            recs, verified = await trail.checked(since_ms=since_ms, skipped=skipped)
        except KafkaOpsError as e:
            return [], TrailRead(cluster, trail.topic, error=str(e))
        bad = sum(1 for r in recs if r.problem) + len(skipped)
        return recs, TrailRead(cluster, trail.topic, len(recs), bad, verified, None,
                               tuple(skipped))

    reads = await asyncio.gather(*(one(c) for c in dict.fromkeys(clusters)))
    records = sorted((r for recs, _ in reads for r in recs),
                     key=lambda r: (r.time, r.trail, r.offset))
    return Listing(records[-limit:] if limit else records, [t for _, t in reads])


@dataclass(frozen=True)
class TrailCheck:
    """`audit verify` of one cluster's trail."""

    cluster: str
    """The cluster whose audit topic it is."""
    topic: str
    """The audit topic."""
    ok: bool
    """Verified with no bad record (False when it could not be read)."""
    report: VerifyReport | None
    """What the verification found; None when the trail was not read."""
    error: str | None = None
    """Why it was not read (the cluster did not answer): UNKNOWN, never OK."""


def trails_of(services: Services, *, one: bool, current: str | None = None) -> list[str]:
    """The clusters whose trails a listing or a check covers: the current cluster's first
    (`current`, default the services' own), then (unless `one`: the person named a cluster)
    every other in the config, since a failover writes its steps on the target's trail."""
    return list(dict.fromkeys([current or services.cluster_name,
                               *([] if one else services.config.clusters)]))


async def verify_trails(services: Services, clusters: Sequence[str]) -> list[TrailCheck]:
    """Verify the trails of `clusters` at the same time, each bounded by its cluster's
    answers (core/kafka/reach.py): a trail that does not answer is a TrailCheck with an
    error, not an exception."""
    from kafkaops.core.kafka.reach import answering

    async def one(cluster: str) -> TrailCheck:
        log = await services.audit(cluster)
        try:
            report = await answering(services, [cluster], log.verify)
        except KafkaOpsError as e:
            return TrailCheck(cluster, log.topic, False, None, str(e))
        return TrailCheck(cluster, log.topic, report.ok, report)

    return list(await asyncio.gather(*(one(c) for c in dict.fromkeys(clusters))))


# ---------------------------------------------------------------- refusals


def refusal_trails(services: Services, cluster: str) -> list[str]:
    """Where a refusal about `cluster` may be written, best first: that cluster unless it
    is read-only, then the default cluster, then every other writable one."""
    names = [cluster, services.cluster_name, *services.config.clusters]
    return [n for n in dict.fromkeys(names)
            if n in services.config.clusters and not services.cluster_config(n).read_only]


async def record_refusal(
    services: Services, *, actor: str, face: str, action: str, target: str,
    params: Mapping[str, Any] | None, error: str, cluster: str,
    context: Mapping[str, str | None] | None = None,
) -> str:
    """Write one `refused` record about `cluster`; returns the cluster whose trail took it.
    Raises KafkaOpsError when no trail could (the last trail's error)."""
    last: KafkaOpsError = KafkaOpsError(
        f"no cluster can keep the refusal: every cluster in {services.config.source} is "
        "read-only")
    for name in refusal_trails(services, cluster):
        try:
            trail = await services.audit(name)
            await trail.append(actor=actor, face=face, action=action, target=target,
                               params=params or {}, result="refused", error=error,
                               change_cluster=cluster, context=context)
            return name
        except KafkaOpsError as e:
            last = e
    raise last


async def note_refusal(
    services: Services, refusal: Refused, *, actor: str, face: str, action: str, target: str,
    params: Mapping[str, Any] | None = None, cluster: str | None = None,
    context: Mapping[str, str | None] | None = None,
) -> None:
    """Record a refusal once (`refusal.audited` says it is), never raising: the person is
    told about the refusal either way, and a trail that cannot be written is logged."""
    if refusal.audited:
        return
    where = cluster or refusal.cluster or services.cluster_name
    try:
        await record_refusal(services, actor=actor, face=face, action=action, target=target,
                             params=params, error=str(refusal), cluster=where,
                             context=context)
    except KafkaOpsError as e:
        log.error("could not record the refusal of %s %s by %s on any audit trail: %s",
                  action, target, actor, e)
        return
    except Exception:
        log.exception("could not record the refusal of %s %s by %s", action, target, actor)
        return
    refusal.audited = True
