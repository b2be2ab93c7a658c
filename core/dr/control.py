"""`_kafkaops.control`: which cluster of a DR pair is active, and failover progress.

The topic is compacted, one partition, JSON values, on BOTH clusters of a pair: a failover
happens because one of them is in trouble, so each side carries its own copy and readers
take the newest epoch they can reach.

Keys (`<pair>` is the pair's name from config):
- `dr/<pair>/active`: `ActiveRecord` (cluster, epoch, by, at). No record: the primary is
  active at epoch 0. Clients following the pair switch when the epoch goes up.
- `dr/<pair>/fence`: `FenceRecord`: this cluster was the active one until `epoch`; writers
  that follow the control topic stop producing to it.
- `dr/<pair>/run/<run_id>`: `RunRecord`, one per failover or failback: direction, clusters,
  epochs, state (running / completed / abandoned) and the non-group steps done.
- `dr/<pair>/run/<run_id>/group/<group>`: `GroupRecord`: the offsets planned for one group
  and where committing them got to (planned -> intent -> done, or left with a reason).

Run and group records live on the run's target cluster (the one being made active, which
must be reachable). Two failovers started at once are settled by the compare-and-set log
of kafkaops.core.statelog: both write their run record, read the log back, and the run
whose record comes first in the log for the same base epoch wins (`parse_log`'s claims);
the other is abandoned and reports a conflict.

With a key configured (core/dr/signing.py) every record is signed and a store reads only
records whose signature verifies: the others are listed in `ControlLog.ignored`, logged once
by offset, and never folded (they cannot name the active cluster nor claim a run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from kafkaops.core.config import Config, DrPairConfig
from kafkaops.core.dr import signing
from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.topicio import COMPACTED, Writer, ensure_topics, read_partition
from kafkaops.core.records import TopicPartition
from kafkaops.core.statelog.fold import CasFold, Proposal
from kafkaops.core.statelog.signing import RecordSigner, RecordVerifier
from kafkaops.core.untrusted import parse_json

log = logging.getLogger(__name__)

CONTROL_TOPIC = "_kafkaops.control"

RunState = Literal["running", "completed", "abandoned"]
GroupStatus = Literal["planned", "intent", "done", "left"]
Direction = Literal["failover", "failback"]


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class ActiveRecord:
    """The active cluster of a pair."""

    pair: str
    """DR pair name."""
    cluster: str
    """Name (under clusters:) of the active cluster."""
    epoch: int
    """Goes up by one at every failover and failback."""
    by: str = ""
    """Who made it active."""
    at: float = 0.0
    """When (seconds since the epoch); 0 for the implicit initial state."""
    run_id: str | None = None
    """The failover run that made it active."""
    reason: str = ""
    """failover, failback, or initial."""


@dataclass(frozen=True)
class FenceRecord:
    """A cluster stood down at `epoch`: writers following the control topic leave it."""

    pair: str
    """DR pair name."""
    cluster: str
    """The cluster that is no longer active."""
    epoch: int
    """The epoch that replaced it."""
    by: str = ""
    """Who fenced it."""
    at: float = 0.0
    """When."""
    run_id: str | None = None
    """The run that fenced it."""


@dataclass(frozen=True)
class StepRecord:
    """A non-group step of a run."""

    status: Literal["done", "skipped"]
    """done, or skipped (with the reason in detail)."""
    detail: str = ""
    """What happened, for the runbook."""
    at: float = 0.0
    """When."""


@dataclass(frozen=True)
class RunRecord:
    """One failover or failback, as far as it got."""

    pair: str
    """DR pair name."""
    run_id: str
    """Unique id of the run."""
    direction: Direction
    """failover (primary -> secondary) or failback."""
    source: str
    """Cluster that was active."""
    target: str
    """Cluster being made active."""
    base_epoch: int
    """Active epoch when the run started."""
    new_epoch: int
    """Epoch the target becomes active with."""
    by: str
    """Who started it."""
    face: str
    """cli, console or slack."""
    started_at: float
    """When it started."""
    state: RunState = "running"
    """running, completed or abandoned."""
    force: bool = False
    """Started with --force over failed pre-checks."""
    groups: tuple[str, ...] = ()
    """Groups the run moves, in order."""
    steps: Mapping[str, StepRecord] = field(default_factory=dict)
    """fence, activate, mark-source: done or skipped."""
    updated_at: float = 0.0
    """Last change."""
    detail: str = ""
    """Why it was abandoned, or a note."""


@dataclass(frozen=True)
class GroupRecord:
    """One group's planned offsets and how far committing them got."""

    pair: str
    """DR pair name."""
    run_id: str
    """The run."""
    group: str
    """Consumer group id."""
    offsets: Mapping[TopicPartition, int]
    """Offsets to commit on the target, frozen when the run started."""
    status: GroupStatus = "planned"
    """planned, intent (about to commit), done, left (not moved: see detail)."""
    before: Mapping[TopicPartition, int | None] | None = None
    """The group's offsets on the target just before the commit was sent."""
    detail: str = ""
    """What happened."""
    at: float = 0.0
    """When the status was set."""


# ---------------------------------------------------------------- JSON


def _tp_list(m: Mapping[TopicPartition, int | None]) -> list[list[Any]]:
    return [[tp.topic, tp.partition, off] for tp, off in sorted(m.items())]


def _tp_map(rows: Any) -> dict[TopicPartition, Any]:
    return {TopicPartition(str(t), int(p)): (None if o is None else int(o)) for t, p, o in rows}


def encode_record(rec: ActiveRecord | FenceRecord | RunRecord | GroupRecord) -> bytes:
    data: dict[str, Any]
    if isinstance(rec, ActiveRecord):
        data = {"kind": "active", **rec.__dict__}
    elif isinstance(rec, FenceRecord):
        data = {"kind": "fence", **rec.__dict__}
    elif isinstance(rec, RunRecord):
        data = {"kind": "run", **rec.__dict__}
        data["groups"] = list(rec.groups)
        data["steps"] = {k: v.__dict__ for k, v in rec.steps.items()}
    else:
        data = {"kind": "group", **rec.__dict__}
        data["offsets"] = _tp_list(rec.offsets)
        data["before"] = None if rec.before is None else _tp_list(rec.before)
    return json.dumps(data, sort_keys=True).encode("utf-8")


def decode_record(value: bytes | None) -> ActiveRecord | FenceRecord | RunRecord | GroupRecord:
    """A control record; KafkaOpsError when it is not one of ours."""
    if value is None:
        raise KafkaOpsError("tombstone")
    try:
        data = parse_json(value)
        kind = data.pop("kind")
        if kind == "active":
            return ActiveRecord(**data)
        if kind == "fence":
            return FenceRecord(**data)
        if kind == "run":
            data["groups"] = tuple(data.get("groups", ()))
            data["steps"] = {k: StepRecord(**v) for k, v in data.get("steps", {}).items()}
            return RunRecord(**data)
        if kind == "group":
            data["offsets"] = _tp_map(data["offsets"])
            if data.get("before") is not None:
                data["before"] = _tp_map(data["before"])
            return GroupRecord(**data)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise KafkaOpsError(f"not a control record: {e}") from None
    raise KafkaOpsError(f"unknown control record kind {kind!r}")


def active_key(pair: str) -> str:
    return f"dr/{pair}/active"


def fence_key(pair: str) -> str:
    return f"dr/{pair}/fence"


def run_key(pair: str, run_id: str) -> str:
    return f"dr/{pair}/run/{run_id}"


def group_key(pair: str, run_id: str, group: str) -> str:
    return f"dr/{pair}/run/{run_id}/group/{group}"


# ---------------------------------------------------------------- one cluster's copy


@dataclass(frozen=True)
class ControlLog:
    """What one cluster's control topic says about one pair (latest record per key)."""

    cluster: str
    """The cluster read."""
    active: ActiveRecord | None = None
    """Its active record, if any."""
    fence: FenceRecord | None = None
    """Its fence record, if any."""
    runs: tuple[RunRecord, ...] = ()
    """Run records, latest state of each, in order of first appearance."""
    groups: Mapping[str, Mapping[str, GroupRecord]] = field(default_factory=dict)
    """run_id -> group -> latest group record."""
    first_run_for_epoch: Mapping[int, str] = field(default_factory=dict)
    """base_epoch -> the run_id whose record came first in the log (the CAS winner)."""
    ignored: tuple[tuple[int, str, str], ...] = ()
    """(offset, key, why) of this pair's records left out because their signature is
    missing or does not verify."""


def parse_log(
    cluster: str, pair: str, records: list[tuple[bytes | None, bytes | None]]
) -> ControlLog:
    """Fold one cluster's control records (key, value) in log order."""
    prefix = f"dr/{pair}/"
    active: ActiveRecord | None = None
    fence: FenceRecord | None = None
    runs: dict[str, RunRecord] = {}
    groups: dict[str, dict[str, GroupRecord]] = {}
    # the run claims: of the runs that start from the same base epoch, the first in the log
    # wins (every run record proposes "run_id is version 1 of its base epoch, expecting none")
    claims: CasFold[str] = CasFold(what="a run")
    for offset, (key, value) in enumerate(records):
        if key is None or not key.decode("utf-8", "replace").startswith(prefix):
            continue
        try:
            rec = decode_record(value)
        except KafkaOpsError as e:  # not ours, or damaged: ignored, as every reader does
            if value is not None:
                log.warning("skipping a record of %s on cluster %s (key %r): %s",
                            CONTROL_TOPIC, cluster, key[:80], e)
            continue
        if isinstance(rec, ActiveRecord) and rec.pair == pair:
            active = rec
        elif isinstance(rec, FenceRecord) and rec.pair == pair:
            fence = rec
        elif isinstance(rec, RunRecord) and rec.pair == pair:
            runs[rec.run_id] = rec
            epoch = str(rec.base_epoch)
            claims.apply(offset, epoch, Proposal(epoch, 0, 1, rec.run_id, rec.run_id))
        elif isinstance(rec, GroupRecord) and rec.pair == pair:
            groups.setdefault(rec.run_id, {})[rec.group] = rec
    first = {int(epoch): run_id for epoch, run_id in claims.states.items()}
    return ControlLog(cluster, active, fence, tuple(runs.values()), groups, first)


@dataclass(frozen=True)
class ControlView:
    """What the pair's control records say, from every cluster that answered."""

    pair: str
    """DR pair name."""
    active: ActiveRecord
    """The active cluster: the highest epoch seen (the primary at epoch 0 if none)."""
    logs: Mapping[str, ControlLog]
    """Per reachable cluster, its own copy."""
    unreachable: Mapping[str, str]
    """Clusters that could not be read, with the error."""

    def stale_copies(self) -> list[str]:
        """Reachable clusters whose active record is older than the newest epoch."""
        return [
            name
            for name, log in self.logs.items()
            if (log.active.epoch if log.active else 0) < self.active.epoch
        ]

    def running_run(self) -> tuple[RunRecord, ControlLog] | None:
        """The newest unfinished run, with the log it was read from."""
        best: tuple[RunRecord, ControlLog] | None = None
        for log in self.logs.values():
            for run in log.runs:
                if run.state == "running" and (
                    best is None or (run.new_epoch, run.started_at)
                    > (best[0].new_epoch, best[0].started_at)
                ):
                    best = (run, log)
        return best

    def latest_run(self) -> tuple[RunRecord, ControlLog] | None:
        """The newest run in any state."""
        best: tuple[RunRecord, ControlLog] | None = None
        for log in self.logs.values():
            for run in log.runs:
                if best is None or (run.started_at, run.state != "abandoned") > (
                    best[0].started_at, best[0].state != "abandoned"
                ):
                    best = (run, log)
        return best


def view_of(pair: DrPairConfig, names: list[str],
            results: list[ControlLog | BaseException]) -> ControlView:
    """The pair's view from each cluster's read (a ControlLog, or the error it raised): an
    unreachable cluster is noted, any other error raised; the newest epoch is active."""
    logs: dict[str, ControlLog] = {}
    unreachable: dict[str, str] = {}
    for name, res in zip(names, results, strict=True):
        if isinstance(res, ClusterUnreachable):
            unreachable[name] = str(res)
        elif isinstance(res, BaseException):
            raise res
        else:
            logs[name] = res
    active = ActiveRecord(pair.name, pair.primary, 0, reason="initial")
    for log in logs.values():
        if log.active is not None and log.active.epoch > active.epoch:
            active = log.active
    return ControlView(pair.name, active, logs, unreachable)


class ControlStore:
    """Reads and writes a pair's control records through the caller's connections."""

    def __init__(self, connect: Any, *, signer: RecordSigner | None = None,
                 verifier: RecordVerifier | None = None) -> None:
        #: `async (cluster name) -> KafkaConnection` (Services.connection)
        self._connect = connect
        self._writers: dict[str, Writer] | None = None
        #: signs each record written (None: written unsigned)
        self.signer = signer
        #: reads only records it verifies (None: every record is read, as unsigned)
        self.verifier = verifier
        #: (cluster, offset) of unverified records already logged (once each)
        self._reported: set[tuple[str, int]] = set()

    @classmethod
    def for_config(cls, connect: Any, config: Config) -> ControlStore:
        """A store signing and verifying with the config's DR key (core/dr/signing.py);
        ConfigError for a dr.verify_key that is not one."""
        return cls(connect, signer=signing.signer_for(config),
                   verifier=signing.verifier_for(config))

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[ControlStore]:
        """Keep one producer per cluster open for a run of writes (a failover writes a
        dozen records); without a session each write opens and closes its own."""
        self._writers = {}
        try:
            yield self
        finally:
            writers, self._writers = self._writers, None
            await asyncio.gather(*(w.stop() for w in writers.values()), return_exceptions=True)

    async def read_cluster(self, cluster: str, pair: str, *,
                           with_unsigned: bool = False) -> ControlLog:
        """One cluster's control records of `pair`, folded. With a verifier, only records
        that verify; `with_unsigned` keeps unsigned ones too (never one whose signature
        does not verify): what the log said before signing, for `kafkaops dr resign`."""
        conn: KafkaConnection = await self._connect(cluster)
        records, info = await read_partition(conn, CONTROL_TOPIC)
        if info.exists and not info.complete:
            raise KafkaOpsError(
                f"could not read {CONTROL_TOPIC} on cluster {cluster!r} to its end in time; "
                "try again", retriable=True,
            )
        if self.verifier is None:
            return parse_log(cluster, pair, [(r.key, r.value) for r in records])
        prefix = f"dr/{pair}/".encode()
        kept: list[tuple[bytes | None, bytes | None]] = []
        ignored: list[tuple[int, str, str]] = []
        for r in records:
            if r.key is None or not r.key.startswith(prefix):
                continue
            why = signing.check(self.verifier, r.key, r.value, r.headers)
            if not why or (with_unsigned and why == signing.UNSIGNED):
                kept.append((r.key, r.value))
                continue
            key = r.key.decode("utf-8", "replace")
            ignored.append((r.offset, key, why))
            if (cluster, r.offset) not in self._reported:
                self._reported.add((cluster, r.offset))
                log.warning("dr: %s on cluster %r offset %d (key %r) ignored: %s",
                            CONTROL_TOPIC, cluster, r.offset, key[:80], why)
        return replace(parse_log(cluster, pair, kept), ignored=tuple(ignored))

    async def read(self, pair: DrPairConfig) -> ControlView:
        names = [pair.primary, pair.secondary]
        results = await asyncio.gather(
            *(self.read_cluster(n, pair.name) for n in names), return_exceptions=True
        )
        return view_of(pair, names, results)

    async def write(
        self, cluster: str, records: list[ActiveRecord | FenceRecord | RunRecord | GroupRecord]
    ) -> None:
        """Write records to one cluster's control topic (created if missing), in order,
        each acknowledged by the broker before this returns."""
        conn: KafkaConnection = await self._connect(cluster)
        await ensure_topics(conn, {CONTROL_TOPIC: (1, COMPACTED)})
        payload: list[tuple[bytes | None, bytes | None, int | None, list[tuple[str, bytes]]]] = []
        for rec in records:
            if isinstance(rec, ActiveRecord):
                key = active_key(rec.pair)
            elif isinstance(rec, FenceRecord):
                key = fence_key(rec.pair)
            elif isinstance(rec, RunRecord):
                key = run_key(rec.pair, rec.run_id)
            else:
                key = group_key(rec.pair, rec.run_id, rec.group)
            raw_key, value = key.encode("utf-8"), encode_record(rec)
            headers = ([] if self.signer is None
                       else signing.sign_headers(self.signer, raw_key, value))
            payload.append((raw_key, value, None, headers))
        if self._writers is None:
            async with Writer(conn) as w:
                await w.send(CONTROL_TOPIC, payload, partition=0)
            return
        writer = self._writers.get(cluster)
        if writer is None or writer.conn is not conn:
            if writer is not None:  # a reconnected cluster: close the old producer
                self._writers.pop(cluster, None)
                await writer.stop()
            writer = Writer(conn)
            await writer.start()
            self._writers[cluster] = writer
        try:
            await writer.send(CONTROL_TOPIC, payload, partition=0)
        except KafkaOpsError:
            self._writers.pop(cluster, None)
            await writer.stop()
            raise


def touch(run: RunRecord, **changes: Any) -> RunRecord:
    return replace(run, updated_at=_now(), **changes)
