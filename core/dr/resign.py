"""Re-signing a pair's control records written before signing was on (`kafkaops dr resign`).

Control records are signed once `dr.signing_key` or `audit.signing_key` is set
(core/dr/signing.py). From then on every reader folds only records that verify, so the
active record of a failover run while records were unsigned is ignored and the pair reads
as its primary at epoch 0 again: `dr status` lists the ignored records in its problems, and
a follower (`ActiveClusterWatcher`) given the verify key would send its service back to the
primary. The safe order, in docs/architecture.md: set the signing key where kafkaops runs,
run `kafkaops dr resign` and check what it shows, and only then give followers the key.

The plan shows the newest unsigned active record (and fence record) that is newer than
anything signed, with the clusters whose copies hold it, who wrote it and when: the person
confirms it is the genuine one, since an unsigned record is exactly what anyone who can
produce to `_kafkaops.control` can write. A record whose signature does not verify is never
re-signed. When the signed state is as new, the plan says there is nothing to re-sign and
nothing is written. Refused, changing nothing: the two clusters' unsigned copies name
different active clusters at one epoch, or an unsigned run is unfinished.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ActiveRecord,
    ControlLog,
    ControlStore,
    ControlView,
    FenceRecord,
    view_of,
)
from kafkaops.core.errors import ClusterUnreachable, Conflict, Refused, UsageError


@dataclass(frozen=True)
class ResignPlan:
    """What `kafkaops dr resign` would write again, signed. Changes nothing."""

    pair: str
    """DR pair name."""
    signed: ActiveRecord
    """The active cluster as signed readers see it now."""
    active: ActiveRecord | None = None
    """The unsigned active record to write again, signed (None: nothing newer unsigned)."""
    fence: FenceRecord | None = None
    """The unsigned fence record to write again with it, if newer than the signed one."""
    found_on: tuple[str, ...] = ()
    """Clusters whose copies hold the unsigned active record."""
    write_to: tuple[str, ...] = ()
    """Clusters it goes to: every cluster of the pair that answered."""
    unreachable: Mapping[str, str] = field(default_factory=dict)
    """Clusters that did not answer, with why (run it again once they do)."""

    @property
    def changes(self) -> bool:
        return self.active is not None and bool(self.write_to)

    @property
    def fingerprint(self) -> str:
        """Identifies what would be written, so the run writes only what was confirmed."""
        words = repr((self.pair, self.active, self.fence, self.write_to))
        return hashlib.sha256(words.encode("utf-8")).hexdigest()[:16]

    def describe(self) -> list[str]:
        """The plan in words, one line each (the faces mark them up)."""
        now = (f"signed records say: {self.signed.cluster!r} is active (epoch "
               f"{self.signed.epoch})")
        lines = [f"DR pair {self.pair}: {now}"]
        if self.active is None:
            lines.append("nothing to re-sign: no unsigned active record is newer than the "
                         "signed ones; nothing will be written")
        else:
            a = self.active
            lines.append(
                f"unsigned: {a.cluster!r} active at epoch {a.epoch}, by {a.by or 'unknown'}"
                f"{' at ' + _when(a.at) if a.at else ''}"
                f"{' (run ' + a.run_id + ')' if a.run_id else ''}, found on "
                f"{', '.join(repr(c) for c in self.found_on)}")
            if self.fence is not None:
                lines.append(f"unsigned: {self.fence.cluster!r} stood down at epoch "
                             f"{self.fence.epoch}")
            lines.append("check that this is the failover your team ran: anyone who can "
                         "produce to _kafkaops.control can write an unsigned record")
            if self.write_to:
                lines.append(f"will write it again, signed, to "
                             f"{', '.join(repr(c) for c in self.write_to)}")
        for name, why in self.unreachable.items():
            lines.append(f"{name!r} did not answer ({why}): run it again once it does")
        return lines


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _newer(a: ActiveRecord | None, than: ActiveRecord) -> bool:
    return a is not None and a.epoch > than.epoch


def plan_resign(pair: DrPairConfig, signed: ControlView,
                with_unsigned: Mapping[str, ControlLog]) -> ResignPlan:
    """The plan from the verified view and each answering cluster's log read with its
    unsigned records (ControlStore.read_cluster(with_unsigned=True)). Pure."""
    best: ActiveRecord | None = None
    found: list[str] = []
    for name, log in with_unsigned.items():
        a = log.active
        if not _newer(a, signed.active):
            continue
        assert a is not None
        if best is None or a.epoch > best.epoch:
            best, found = a, [name]
        elif a.epoch == best.epoch:
            if (a.cluster, a.run_id) != (best.cluster, best.run_id):
                raise Conflict(
                    f"DR pair {pair.name}: the unsigned copies disagree at epoch {a.epoch} "
                    f"({found[0]!r} says {best.cluster!r} is active, {name!r} says "
                    f"{a.cluster!r}): one of them is not genuine; nothing was re-signed. "
                    "Find which failover your team ran (`kafkaops audit list`) first")
            found.append(name)
    for name, log in with_unsigned.items():
        signed_runs = {r.run_id for r in signed.logs.get(name, ControlLog(name)).runs}
        for run in log.runs:
            if run.state == "running" and run.run_id not in signed_runs:
                raise Refused(
                    f"DR pair {pair.name}: the unsigned {run.direction} {run.run_id} on "
                    f"{name!r} has not finished; signed readers cannot see it. Finish it "
                    "with the signing key unset (`kafkaops failover resume`), then re-sign; "
                    "nothing was re-signed")
    fence: FenceRecord | None = None
    if best is not None:
        for log in with_unsigned.values():
            f = log.fence
            if f is not None and f.epoch == best.epoch and fence is None:
                fence = f
    return ResignPlan(
        pair.name, signed.active, best, fence, tuple(found),
        tuple(n for n in (pair.primary, pair.secondary) if n in with_unsigned)
        if best is not None else (),
        dict(signed.unreachable))


class Resigner:
    """Reads a pair's control records with and without their unsigned ones, and writes the
    newest unsigned state again, signed and audited."""

    def __init__(self, services: Any, control: ControlStore) -> None:
        self.services = services
        self.control = control

    async def plan(self, pair: DrPairConfig) -> ResignPlan:
        if self.control.signer is None or self.control.verifier is None:
            raise UsageError(
                "DR control records are not signed here (neither dr.signing_key nor "
                "audit.signing_key is set): nothing to re-sign")
        names = [pair.primary, pair.secondary]
        signed_reads, raw_reads = await asyncio.gather(
            asyncio.gather(*(self.control.read_cluster(n, pair.name) for n in names),
                           return_exceptions=True),
            asyncio.gather(*(self.control.read_cluster(n, pair.name, with_unsigned=True)
                             for n in names), return_exceptions=True))
        signed = view_of(pair, names, list(signed_reads))
        raw = view_of(pair, names, list(raw_reads))
        return plan_resign(pair, signed, raw.logs)

    async def apply(self, pair: DrPairConfig, plan: ResignPlan, *, actor: str,
                    face: str) -> ResignPlan:
        """Write `plan` (as shown and confirmed) again, signed; Conflict, changing nothing,
        when the plan made now differs. Returns the plan made after the writes."""
        from kafkaops.core.audit.log import record_change

        fresh = await self.plan(pair)
        if fresh.fingerprint != plan.fingerprint:
            raise Conflict("the control records changed since the plan was shown: look at "
                           "the new plan (`kafkaops dr resign`) and confirm again; nothing was "
                           "re-signed")
        if not fresh.changes:
            return fresh
        assert fresh.active is not None
        records: list[Any] = [fresh.active] + ([fresh.fence] if fresh.fence else [])
        for cluster in fresh.write_to:
            async def write(cluster: str = cluster) -> dict[str, Any]:
                await self.control.write(cluster, records)
                return {"written": len(records)}

            try:
                await record_change(
                    self.services, actor=actor, face=face, action="dr.resign",
                    target=pair.name, cluster=cluster,
                    params={"pair": pair.name, "active": fresh.active.cluster,
                            "epoch": fresh.active.epoch, "run_id": fresh.active.run_id,
                            "on": cluster},
                    apply=write)
            except ClusterUnreachable:
                continue  # stopped answering meanwhile: the plan after says so
        return await self.plan(pair)
