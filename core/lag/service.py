"""Consumer lag: for every consumer group (or the ones asked for) the committed offset, the
true log end offset and the lag of each partition, in records and in seconds, rolled up per
topic and group, with group state, members and a status judged over a window of time.

How one snapshot is taken (a handful of requests whatever the cluster's size):
1. Metadata (partitions and leaders), and in parallel:
   ListGroups on every broker (only when no groups are named), FindCoordinator v4 for
   groups whose coordinator is not cached (one request for all of them), then per
   coordinator OffsetFetch v8 (100 groups a request, every committed partition) and
   DescribeGroups v5 (100 groups a request), all in flight together.
2. One Fetch per leader for the true log end (high watermark) and log start offsets of every
   partition the groups consume. Tansu gap (docs/broker-notes.md): ListOffsets(latest) answers
   short of the end after multi-record batches, so it is not used for ends; a Fetch's high
   watermark is right on Tansu and on Apache Kafka.
3. Lag in seconds from record timestamps: a Fetch from each lagging group's committed offset
   reads the timestamp of the next record it will consume (see `lag_status.lag_seconds` for
   why it is compared with now). A record's timestamp never changes, so it is cached per
   (partition, offset) and fetched again only when the group's offset moves.

The status of each partition is judged over the recent snapshots this service took (see
lag_status.py): until a group has `LagPolicy.min_samples` snapshots spanning
`LagPolicy.warmup` seconds its partitions are WARMING_UP (DATA_LOSS shows at once), and
after that a status changes only when the change holds for `LagPolicy.hold` seconds. Every
face takes the policy from config (`lag:`, `lag_policy()`) and says which
(`status_basis()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError, NotFound
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import is_kafka_error, kafka_error, map_kafka_errors, unreachable
from kafkaops.core.kafka.wire_metadata import Topology
from kafkaops.core.lag.status import (
    LagHistory,
    LagPolicy,
    PartitionState,
    Sample,
    Status,
    Trend,
    Verdict,
    age,
    classify,
    eta_of,
    judge_samples,
    judge_single,
    judge_still,
    lag_seconds,
    policy_text,
    settle,
    trend_of,
    worst,
)
from kafkaops.core.records import TopicPartition

#: groups per OffsetFetch v8 / DescribeGroups v5 request (several requests go out together)
GROUPS_PER_REQUEST = 100
#: wait for at most this long when a Fetch finds nothing new (caught-up partitions)
FETCH_WAIT_MS = 5
#: per-partition bytes asked for when reading the record at a committed offset: one batch
RECORD_BYTES = 16 * 1024
#: Fetch passes per snapshot for record timestamps (the rest waits for the next snapshot)
MAX_TIMESTAMP_PASSES = 8
#: partitions per timestamp Fetch, all of one topic; the Fetches go out together.
#: Measured on Tansu (10,000 lagging partitions of 100 topics, bench/lag.py's data): a
#: Fetch's cost on the broker grows faster than its partitions (64 partitions a Fetch:
#: 1.0 s of broker CPU for all 10,000; 16: 0.45 s; 4: 0.8 s, request overhead then wins),
#: and partitions of several topics in one Fetch cost it three times as much (it looks up
#: every topic's metadata per Fetch). Apache Kafka serves many small Fetches as well.
TIMESTAMP_CHUNK = 16
#: a timestamp Fetch waits at most this long. Tansu stops reading records for the rest of
#: a Fetch's partitions once max_wait has passed (it answers them without records, and
#: they had to be asked again); every partition asked here holds records past the offset,
#: so a broker answers at once and the wait is only an upper bound
TIMESTAMP_WAIT_MS = 100
#: partitions turned into records between two yields to the event loop
YIELD_EVERY = 5_000
#: bound on the (partition, offset) -> timestamp cache
TIMESTAMP_CACHE = 200_000
NOT_REPORTED = "not reported"

#: a group's committed offsets, keyed by (topic, partition). Plain tuples, not
#: TopicPartition: they hash and compare equal, and cost a tenth to create
Committed = dict[tuple[str, int], int]


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class GroupMember:
    member_id: str
    """Member id the coordinator gave the consumer."""
    client_id: str | None
    """The consumer's client.id; None when the broker did not report it (Tansu)."""
    client_host: str | None
    """Host the consumer connects from; None when not reported."""
    assignment: tuple[TopicPartition, ...] | None
    """Partitions assigned to it; None when not reported (Tansu reports none)."""


class PartitionLag(NamedTuple):
    """One partition of one group. A NamedTuple, not a dataclass: a snapshot of 500 groups
    builds 50,000 of them and a frozen dataclass costs five times as much to create."""

    topic: str
    """Topic name."""
    partition: int
    """Partition number."""
    committed: int | None
    """The group's committed offset; None when it never committed this partition."""
    log_start: int | None
    """First offset still in the log; None when not known."""
    end: int | None
    """True log end offset (high watermark); None when the leader did not answer."""
    lag: int | None
    """end - committed; None for no offset, data loss, unknown end or offset beyond the end."""
    lag_seconds: float | None
    """Age in seconds of the next record the group will read (0 when lag is 0); None when
    unknown or meaningless (no offset, data loss)."""
    state: PartitionState
    """What this snapshot says: ok, no offset, data loss, ahead of end, end unknown."""
    status: Status
    """Status judged over the window (UNKNOWN for no offset or unknown end)."""
    trend: Trend | None
    """Lag growing, draining or steady over the window; None with one snapshot."""
    consume_rate: float | None
    """Records/s the group committed over the window."""
    produce_rate: float | None
    """Records/s written to the partition over the window."""
    eta_seconds: float | None
    """Seconds to catch up at current rates; 0 when caught up; None when not catching up."""
    lost: int | None
    """With data loss: records deleted before the group read them (log start - committed)."""
    member: str | None
    """Client id (or member id) of the consumer assigned this partition, when reported."""


@dataclass(frozen=True)
class TopicLag:
    topic: str
    """Topic name."""
    partitions: int
    """Partitions of the topic the group has (committed or assigned)."""
    lag: int | None
    """Sum of the partitions' known lags; None when none is known."""
    lag_seconds: float | None
    """The oldest unread record's age over the partitions."""
    status: Status
    """Worst partition status."""
    trend: Trend | None
    """Growing if any partition grows, else draining if any drains, else steady."""
    eta_seconds: float | None
    """The slowest partition's ETA; None when one of them is not catching up."""


@dataclass(frozen=True)
class GroupLag:
    group: str
    """Consumer group id."""
    state: str
    """Group state as the coordinator reports it (Stable, Empty, PreparingRebalance, ...);
    "unknown" when the group could not be described."""
    members: tuple[GroupMember, ...] | None
    """Members; None when the group could not be described."""
    partitions: tuple[PartitionLag, ...]
    """Every partition of every topic the group committed or is assigned, by topic and
    partition. Partitions without a committed offset are listed as "no offset"."""
    topics: tuple[TopicLag, ...]
    """Roll-up per topic."""
    lag: int | None
    """Total lag in records over partitions where it is known; None when none is."""
    lag_seconds: float | None
    """Age of the oldest record the group has not read yet, over all partitions."""
    status: Status
    """Worst status over the partitions (no-offset partitions are not judged)."""
    trend: Trend | None
    """Growing if any partition grows, else draining if any drains, else steady."""
    eta_seconds: float | None
    """Time to catch up: the slowest partition's; None when one of them is not catching up."""
    samples: int
    """Snapshots the status was judged on (1: a single snapshot; only STOP and DATA_LOSS
    can be told then)."""
    window_seconds: float
    """Time those snapshots span."""
    error: str | None = None
    """Why the group could not be read in full this time (coordinator unavailable, ...)."""

    @property
    def member_count(self) -> int | None:
        return None if self.members is None else len(self.members)

    @property
    def data_loss(self) -> bool:
        return any(p.state is PartitionState.DATA_LOSS for p in self.partitions)


@dataclass(frozen=True)
class LagSnapshot:
    cluster: str
    """Cluster name."""
    taken_at: float
    """When the end offsets were read (epoch seconds)."""
    elapsed: float
    """Seconds the snapshot took."""
    groups: tuple[GroupLag, ...]
    """Groups by name."""
    requests: dict[str, int]
    """Requests sent for this snapshot, by Kafka API."""
    policy: LagPolicy | None = None
    """The rules the statuses were judged by (None: the defaults)."""

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def group(self, name: str) -> GroupLag | None:
        return next((g for g in self.groups if g.group == name), None)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per group and partition: what `kafkaops lag --json` prints and the
        alert rules match on (group, topic, partition, lag, lag_seconds, status, ...)."""
        out: list[dict[str, Any]] = []
        for g in self.groups:
            for p in g.partitions:
                out.append({
                    "group": g.group, "topic": p.topic, "partition": p.partition,
                    "committed": p.committed, "end": p.end, "lag": p.lag,
                    "lag_seconds": _round(p.lag_seconds), "status": p.status.value,
                    "state": p.state.value, "log_start": p.log_start,
                    "trend": p.trend.value if p.trend else None,
                    "eta_seconds": _round(p.eta_seconds), "lost": p.lost,
                })
        return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def lag_policy(config: Any) -> LagPolicy:
    """The judging rules from config (`lag:`): every face uses the same ones."""
    lag = config.lag
    return LagPolicy(window=float(lag.window), warmup=float(lag.warmup), hold=float(lag.hold),
                     stall_seconds=float(lag.stall))


def status_basis(snap: LagSnapshot) -> str:
    """How the statuses were judged, in the words every face shows: "status over 7
    snapshots in 35s (window 5m00s, warm-up 30s, changes held 30s)", or while warming up
    what is still needed."""
    pol = snap.policy or LagPolicy()
    rules = policy_text(pol)
    if not snap.groups:
        return f"statuses judged with {rules}"
    samples = max(g.samples for g in snap.groups)
    span = max(g.window_seconds for g in snap.groups)
    warming = sum(1 for g in snap.groups if g.status is Status.WARMING_UP)
    if warming == len(snap.groups):
        return (f"warming up: {samples} snapshot{'s' if samples != 1 else ''} in {age(span)}; "
                f"a status needs {pol.min_samples} over {age(pol.warmup)} ({rules})")
    if samples <= 1:
        text = f"status from one snapshot ({rules}): only STOP and DATA LOSS can be told"
    else:
        text = f"status over {samples} snapshots in {age(span)} ({rules})"
    if warming:
        text += f"; {warming} group{'s' if warming != 1 else ''} still warming up"
    return text


def group_basis(g: GroupLag, policy: LagPolicy | None) -> str:
    """`status_basis` for one group."""
    pol = policy or LagPolicy()
    if g.status is Status.WARMING_UP:
        return (f"warming up: {g.samples} snapshot{'s' if g.samples != 1 else ''} in "
                f"{age(g.window_seconds)}; a status needs {pol.min_samples} over "
                f"{age(pol.warmup)} ({policy_text(pol)})")
    return f"status over {g.samples} snapshots in {age(g.window_seconds)} ({policy_text(pol)})"


# ---------------------------------------------------------------- the service


class _Requests:
    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n


class _GroupInfo(NamedTuple):
    state: str
    protocol_type: str
    members: tuple[GroupMember, ...] | None
    error: str | None


class LagService:
    """Takes lag snapshots of one cluster and keeps the window they are judged on.

    One per cluster and process (Services.lag() hands out a shared one), so the console,
    the alert evaluator and the bot judge status on the same history.
    """

    def __init__(self, conn: KafkaConnection, *, policy: LagPolicy | None = None,
                 history: LagHistory | None = None) -> None:
        self.conn = conn
        self.history = history if history is not None else LagHistory(policy)
        self._coordinators: dict[str, int] = {}
        self._timestamps: dict[tuple[str, int, int], int] = {}
        self._legacy: set[tuple[int, str]] = set()

    @property
    def policy(self) -> LagPolicy:
        return self.history.policy

    async def start(self) -> None:
        """Nothing to open: requests go through the connection's clients."""

    async def stop(self) -> None:
        self._timestamps.clear()

    # ------------------------------------------------------------ public

    async def list_groups(self) -> list[str]:
        """Consumer groups on the cluster (ListGroups on every broker), sorted."""
        return await self._list_groups(_Requests())

    async def snapshot(self, groups: Iterable[str] | None = None, *,
                       missing_ok: bool = True, time_lag: bool = True) -> LagSnapshot:
        """Lag of the named groups, or of every consumer group when `groups` is None.

        `missing_ok=False` raises NotFound when a named group does not exist (no members and
        no committed offsets). `time_lag=False` skips reading record timestamps.
        Raises ClusterUnreachable when the cluster does not answer.
        """
        started = time.perf_counter()
        req = _Requests()
        meta_task = asyncio.ensure_future(self._metadata(req))
        try:
            if groups is None:
                names = await self._list_groups(req)
            else:
                names = list(dict.fromkeys(g for g in groups if g))
            coords, coord_errors = await self._find_coordinators(names, req)
            committed, infos = await self._read_groups(coords, meta_task, req)
            meta = await meta_task
        finally:
            if not meta_task.done():
                meta_task.cancel()
            elif not meta_task.cancelled():
                meta_task.exception()  # retrieved: an earlier error is the one reported
        for g, err in coord_errors.items():
            infos[g] = _GroupInfo("unknown", "", None, err)

        if not missing_ok:
            missing = [g for g in names if _missing(g, committed.get(g), infos.get(g))]
            if missing:
                raise NotFound(
                    f"consumer group {', '.join(repr(g) for g in missing)} not found on "
                    f"cluster {self.conn.name!r} (no members and no committed offsets); "
                    "`kafkaops lag` lists every group"
                )

        topic_tps = {t: [TopicPartition(t, p) for p, _ in sorted(parts)]
                     for t, (_, parts) in meta.items()}
        plan = {g: self._partitions_of(committed.get(g, {}), infos.get(g), topic_tps)
                for g in names}
        leaders: dict[TopicPartition, int] = {
            tp: leader
            for t, (_, parts) in meta.items()
            for tp, (_, leader) in zip(topic_tps[t], sorted(parts), strict=True) if leader >= 0
        }
        wanted = {tp for tps in plan.values() for tp in tps}
        anchors: dict[TopicPartition, int] = {}
        for g, tps in plan.items():
            offs = committed.get(g, {})
            for tp in tps:
                c = offs.get(tp, -1)
                if c > anchors.get(tp, -1):
                    anchors[tp] = c
        water = await self._ends(wanted, anchors, leaders, req)
        taken_at = time.time()
        if time_lag:
            await self._read_timestamps(plan, committed, water, leaders, req)
        built: list[GroupLag] = []
        work = 0
        for g in sorted(names):
            built.append(
                self._group_lag(g, plan[g], committed.get(g, {}), infos.get(g), water, taken_at))
            work += len(plan[g])
            if work >= YIELD_EVERY:
                # let the event loop run (a console stays responsive during a big refresh)
                work = 0
                await asyncio.sleep(0)
        out = tuple(built)
        if groups is None:
            self.history.forget(names)
        return LagSnapshot(
            cluster=self.conn.name,
            taken_at=taken_at,
            elapsed=time.perf_counter() - started,
            groups=out,
            requests=dict(req.counts),
            policy=self.policy,
        )

    def series(self, group: str) -> list[tuple[float, int | None]]:
        """(time, total lag) of a group over the recent history: for sparklines."""
        return self.history.series(group)

    # ------------------------------------------------------------ requests

    async def _send(self, node: int, request: Any, req: _Requests, kind: str) -> Any:
        req.add(kind)
        return await self.conn.client.send(node, request)

    async def _metadata(self, req: _Requests) -> Topology:
        """Partitions and leaders of every topic: Metadata v5 decoded lean, or the
        connection's own metadata() where the broker lacks v5."""
        from kafkaops.core.kafka.wire import unsupported
        from kafkaops.core.kafka.wire_metadata import LagMetadata

        node = self.conn.any_node()
        if (node, "Metadata") not in self._legacy:
            with map_kafka_errors(self.conn):
                try:
                    resp = await self._send(node, LagMetadata(), req, "Metadata")
                except Exception as e:
                    if not unsupported(e):
                        raise
                    self._legacy.add((node, "Metadata"))
                else:
                    topology: Topology = resp.topics
                    return topology
        req.add("Metadata")
        meta = await self.conn.metadata()
        return {
            t.name: (t.internal, [(p.partition, -1 if p.leader is None else p.leader)
                                  for p in t.partitions])
            for t in meta.topics.values()
        }

    def _broker_ids(self) -> list[int]:
        return sorted(b.nodeId for b in self.conn.client.cluster.brokers())

    async def _list_groups(self, req: _Requests) -> list[str]:
        from aiokafka.protocol.admin import ListGroupsRequest

        async def ask(node: int) -> list[str]:
            resp = await self._send(node, ListGroupsRequest(), req, "ListGroups")
            # simple consumers that only commit have an empty protocol type; Connect
            # workers ("connect") and others commit no offsets
            return [g[0] for g in resp.groups if g[1] in ("consumer", "")]

        nodes = self._broker_ids()
        if not nodes:
            raise unreachable(self.conn.name, self.conn.config, "no broker known")
        results = await asyncio.gather(*(ask(n) for n in nodes), return_exceptions=True)
        names: set[str] = set()
        failures = 0
        for r in results:
            if isinstance(r, BaseException):
                if not is_kafka_error(r):
                    raise r
                failures += 1
            else:
                names.update(r)
        if failures == len(nodes):
            first = next(r for r in results if isinstance(r, BaseException))
            raise kafka_error(first, self.conn) or first
        return sorted(names)

    async def _find_coordinators(
        self, groups: list[str], req: _Requests
    ) -> tuple[dict[int, list[str]], dict[str, str]]:
        """Groups by coordinator node, and errors for groups without one. Cached."""
        from aiokafka.protocol.coordination import FindCoordinatorRequest

        from kafkaops.core.kafka.wire import error_text, unsupported
        from kafkaops.core.kafka.wire_groups import FindCoordinatorV4

        errors: dict[str, str] = {}
        unknown = [g for g in groups if g not in self._coordinators]
        if unknown:
            node = self.conn.any_node()
            with map_kafka_errors(self.conn):
                try:
                    resp = await self._send(node, FindCoordinatorV4(unknown), req,
                                            "FindCoordinator")
                    rows = resp.rows()
                except Exception as e:
                    if not unsupported(e):
                        raise
                    # brokers before Kafka 2.8 find one coordinator per request
                    answers = await asyncio.gather(*(
                        self._send(node, FindCoordinatorRequest(g, 0), req, "FindCoordinator")
                        for g in unknown
                    ))
                    rows = [(g, a.coordinator_id, a.error_code, None)
                            for g, a in zip(unknown, answers, strict=True)]
            for group, node_id, code, message in rows:
                if code == 0:
                    self._coordinators[group] = node_id
                else:
                    errors[group] = f"no coordinator: {message or error_text(code)}"
        by_node: dict[int, list[str]] = defaultdict(list)
        for g in groups:
            if g in self._coordinators:
                by_node[self._coordinators[g]].append(g)
        return by_node, errors

    async def _read_groups(
        self, by_node: dict[int, list[str]], meta_task: Awaitable[Topology],
        req: _Requests,
    ) -> tuple[dict[str, Committed], dict[str, _GroupInfo]]:
        """Committed offsets and descriptions of the groups, every coordinator at once."""
        from kafkaops.core.kafka.wire import (
            COORDINATOR_LOAD_IN_PROGRESS,
            COORDINATOR_NOT_AVAILABLE,
            NOT_COORDINATOR,
            error_text,
        )

        committed: dict[str, Committed] = {}
        infos: dict[str, _GroupInfo] = {}
        jobs: list[Awaitable[Any]] = []
        kinds: list[tuple[str, list[str]]] = []
        for node, groups in by_node.items():
            for i in range(0, len(groups), GROUPS_PER_REQUEST):
                chunk = groups[i:i + GROUPS_PER_REQUEST]
                jobs.append(self._offsets(node, chunk, meta_task, req))
                kinds.append(("offsets", chunk))
                jobs.append(self._describe(node, chunk, req))
                kinds.append(("describe", chunk))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        offset_errors: dict[str, str] = {}
        for (kind, chunk), result in zip(kinds, results, strict=True):
            if isinstance(result, BaseException):
                if not (is_kafka_error(result) or isinstance(result, KafkaOpsError)):
                    raise result
                for g in chunk:
                    self._coordinators.pop(g, None)
                    if kind == "offsets":
                        offset_errors[g] = f"cannot read committed offsets: {result}"
                continue
            if kind == "offsets":
                for g, (code, offsets) in result.items():
                    if code == 0:
                        committed[g] = offsets
                    else:
                        if code in (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
                                    COORDINATOR_LOAD_IN_PROGRESS):
                            self._coordinators.pop(g, None)  # found again next time
                        offset_errors[g] = f"cannot read committed offsets: {error_text(code)}"
            else:
                infos.update(result)
        for g, err in offset_errors.items():
            info = infos.get(g, _GroupInfo("unknown", "", None, None))
            infos[g] = info._replace(error=err)
        if all(isinstance(r, BaseException) for r in results) and results:
            first = next(r for r in results if isinstance(r, BaseException))
            raise kafka_error(first, self.conn) or first
        return committed, infos

    async def _offsets(
        self, node: int, groups: list[str], meta_task: Awaitable[Topology],
        req: _Requests,
    ) -> dict[str, tuple[int, Committed]]:
        from aiokafka.protocol.commit import OffsetFetchRequest

        from kafkaops.core.kafka.wire import unsupported
        from kafkaops.core.kafka.wire_groups import OffsetFetchV8

        if (node, "OffsetFetch") not in self._legacy:
            try:
                resp = await self._send(node, OffsetFetchV8([(g, None) for g in groups]), req,
                                        "OffsetFetch")
            except Exception as e:
                if not unsupported(e):
                    raise
                self._legacy.add((node, "OffsetFetch"))
            else:
                out: dict[str, tuple[int, Committed]] = {}
                for group, code, rows in resp.groups:
                    out[group] = (code, {
                        (t, p): off for t, p, off, err in rows
                        if err == 0 and off >= 0
                    })
                return out
        # Brokers before Kafka 3.0 lack v8. Their v2/v3 "all partitions" form is broken on
        # Tansu (docs/broker-notes.md), so name the partitions: every partition in the metadata.
        # Valid on every Kafka version; costlier, and only taken on old brokers.
        meta = await meta_task
        named = [(t, [p for p, _ in parts]) for t, (internal, parts) in meta.items()
                 if not internal]

        async def one(group: str) -> tuple[str, tuple[int, Committed]]:
            resp = await self._send(node, OffsetFetchRequest(group, named), req, "OffsetFetch")
            code = getattr(resp, "error_code", 0)
            offsets = {
                (topic, p[0]): p[1]
                for topic, parts in resp.topics for p in parts if p[3] == 0 and p[1] >= 0
            }
            return group, (code, offsets)

        return dict(await asyncio.gather(*(one(g) for g in groups)))

    async def _describe(self, node: int, groups: list[str],
                        req: _Requests) -> dict[str, _GroupInfo]:
        from aiokafka.protocol.admin import DescribeGroupsRequest

        from kafkaops.core.kafka.wire import error_text, unsupported
        from kafkaops.core.kafka.wire_groups import DescribeGroupsV5

        rows: list[Any] = []
        if (node, "DescribeGroups") not in self._legacy:
            try:
                resp = await self._send(node, DescribeGroupsV5(groups), req, "DescribeGroups")
                rows = resp.rows()
            except Exception as e:
                if not unsupported(e):
                    raise
                self._legacy.add((node, "DescribeGroups"))
        if (node, "DescribeGroups") in self._legacy:
            # before Kafka 2.4: aiokafka's own request, one group each (its v3 decoder
            # cannot read answers about more than two groups)
            answers = await asyncio.gather(*(
                self._send(node, DescribeGroupsRequest([g]), req, "DescribeGroups")
                for g in groups
            ))
            rows = [
                (g[0], g[1], g[2], g[3], [(m[0], m[1], m[2], m[4]) for m in g[5]])
                for a in answers for g in a.groups
            ]
        out: dict[str, _GroupInfo] = {}
        for code, group, state, protocol_type, members in rows:
            if code != 0:
                out[group] = _GroupInfo("unknown", protocol_type, None,
                                        f"cannot describe the group: {error_text(code)}")
                continue
            out[group] = _GroupInfo(
                state or "unknown", protocol_type,
                tuple(_member(m, protocol_type) for m in members), None,
            )
        return out

    # ------------------------------------------------------------ partitions and offsets

    @staticmethod
    def _partitions_of(committed: Committed, info: _GroupInfo | None,
                       topic_tps: dict[str, list[TopicPartition]]) -> list[TopicPartition]:
        """Every partition of every topic the group committed or is assigned. Topics no
        longer in the metadata (deleted) are left out."""
        topics = {key[0] for key in committed}
        if info and info.members:
            for m in info.members:
                topics.update(tp.topic for tp in m.assignment or ())
        out: list[TopicPartition] = []
        for t in sorted(topics):
            out += topic_tps.get(t, ())
        return out

    async def _ends(
        self, wanted: set[TopicPartition], anchors: dict[TopicPartition, int],
        leaders: dict[TopicPartition, int], req: _Requests,
    ) -> dict[TopicPartition, tuple[int, int]]:
        """(log start, true log end) of each partition: one Fetch per leader.

        Each partition is fetched from the most advanced group's committed offset (any
        offset inside the log will do), with max_bytes=1 so the answer carries little more
        than the high watermark and log start offset. Apache Kafka refuses an offset outside
        the log (OFFSET_OUT_OF_RANGE, no watermark); those few partitions, and partitions
        whose leader did not answer, are read again by ListOffsets + Fetch
        (KafkaConnection.high_watermarks).
        """

        from kafkaops.core.kafka.wire_fetch import LagFetch

        by_leader = _by_leader(wanted, leaders)
        water: dict[TopicPartition, tuple[int, int]] = {}
        retry: list[TopicPartition] = []

        async def ask(node: int, tps: list[TopicPartition]) -> None:
            topics: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            for tp in tps:
                topics[tp.topic].append((tp.partition, max(anchors.get(tp, 0), 0), 1))
            try:
                with map_kafka_errors(self.conn):
                    resp = await self._fetch(
                        node, LagFetch(FETCH_WAIT_MS, 1, 1, list(topics.items())), req)
            except KafkaOpsError:
                retry.extend(tps)
                return
            for topic, parts in resp:
                for partition, error, hw, log_start, _records in parts:
                    tp = TopicPartition(topic, partition)
                    if error == 0 and hw >= 0:
                        water[tp] = (log_start, hw)
                    else:
                        retry.append(tp)

        await asyncio.gather(*(ask(n, tps) for n, tps in by_leader.items()))
        if retry:
            req.add("ListOffsets+Fetch (fallback)")
            # partitions still unanswered show "end unknown" this time
            with contextlib.suppress(ClusterUnreachable):
                water.update(await self.conn.high_watermarks(retry))
        return water

    async def _fetch(self, node: int, request: Any, req: _Requests) -> list[Any]:
        """A LagFetch, or aiokafka's own Fetch where the broker lacks v11 (before 2.3)."""
        from aiokafka.protocol.fetch import FetchRequest

        from kafkaops.core.kafka.wire import unsupported
        from kafkaops.core.kafka.wire_fetch import fetched_from_aiokafka

        if (node, "Fetch") not in self._legacy:
            try:
                resp = await self._send(node, request, req, "Fetch")
                return list(resp.topics)
            except Exception as e:
                if not unsupported(e):
                    raise
                self._legacy.add((node, "Fetch"))
        old = FetchRequest(request.max_wait_ms, request.min_bytes, request.max_bytes, 0,
                           request.topics)
        return fetched_from_aiokafka(await self._send(node, old, req, "Fetch"))

    async def _read_timestamps(
        self, plan: dict[str, list[TopicPartition]],
        committed: dict[str, Committed],
        water: dict[TopicPartition, tuple[int, int]], leaders: dict[TopicPartition, int],
        req: _Requests,
    ) -> None:
        """Fill the timestamp cache for every lagging (partition, committed offset)."""

        from kafkaops.core.kafka.wire_fetch import LagFetch, record_timestamps

        cache = self._timestamps
        if len(cache) > TIMESTAMP_CACHE:
            cache.clear()  # offsets move on; what is still needed is read again below
        needed: dict[TopicPartition, set[int]] = defaultdict(set)
        for g, tps in plan.items():
            offs = committed.get(g, {})
            for tp in tps:
                c = offs.get(tp)
                w = water.get(tp)
                if c is None or w is None:
                    continue
                start, end = w
                if start <= c < end and (tp.topic, tp.partition, c) not in cache:
                    needed[tp].add(c)
        # Each partition is fetched from its lowest wanted offset; the answer usually
        # reaches the other groups' offsets on it too (record_timestamps). What it does not
        # reach is asked again from the next lowest offset in the next pass.
        pending = {tp: sorted(offs) for tp, offs in needed.items() if tp in leaders}
        for _pass in range(MAX_TIMESTAMP_PASSES):
            if not pending:
                break
            requests = _timestamp_requests(pending, leaders)

            async def ask(node: int, tps: list[TopicPartition]) -> int:
                """Partitions whose lowest wanted offset was answered."""
                topic = tps[0].topic
                parts = [(tp.partition, pending[tp][0], RECORD_BYTES) for tp in tps]
                max_bytes = len(tps) * RECORD_BYTES
                try:
                    with map_kafka_errors(self.conn):
                        resp = await self._fetch(
                            node, LagFetch(TIMESTAMP_WAIT_MS, 1, max_bytes, [(topic, parts)]), req)
                except KafkaOpsError:
                    return 0
                got: dict[int, Any] = {}
                for _topic, answered in resp:
                    for partition, error, _hw, _start, records in answered:
                        if error == 0 and len(records):
                            got[partition] = records
                hits = 0
                for tp in tps:
                    wanted = pending[tp]
                    records = got.get(tp.partition)
                    found = record_timestamps(records, wanted) if records is not None else {}
                    for offset, ts in found.items():
                        cache[(tp.topic, tp.partition, offset)] = ts
                    hits += wanted[0] in found
                    rest = [o for o in wanted if o not in found]
                    if rest:
                        pending[tp] = rest
                    else:
                        del pending[tp]
                return hits

            answers = await asyncio.gather(*(ask(n, tps) for n, tps in requests))
            if sum(answers) == 0:
                break  # the broker gives nothing more: leave the rest unknown this time

    # ------------------------------------------------------------ records

    def _group_lag(self, group: str, tps: list[TopicPartition],
                   committed: Committed, info: _GroupInfo | None,
                   water: dict[TopicPartition, tuple[int, int]], taken_at: float) -> GroupLag:
        """One group's record. Written as one tight loop: it runs for every partition of
        every group on each refresh (50,000 times for 500 groups of 100 partitions)."""
        members = info.members if info else None
        has_members = None if members is None else len(members) > 0
        owners: dict[TopicPartition, str] = {}
        for m in members or ():
            for tp in m.assignment or ():
                owners[tp] = m.client_id or m.member_id
        now_ms = taken_at * 1000.0
        ts_get = self._timestamps.get
        water_get = water.get
        c_list = tuple(committed.get(tp, -1) for tp in tps)
        ends = [water_get(tp, (-1, -1)) for tp in tps]
        e_list = tuple(e for _, e in ends)
        total: int | None = None
        for c, (start, end) in zip(c_list, ends, strict=True):
            if 0 <= c <= end and (start < 0 or c >= start):
                total = (total or 0) + end - c
        samples = self.history.add(
            group,
            Sample(taken_at, has_members, tuple((tp.topic, tp.partition) for tp in tps),
                   c_list, e_list),
            total,
        )
        verdicts = _verdicts(samples, self.policy.stall_seconds, self.policy.growth_tolerance)
        warming = self.policy.warming(len(samples), samples[-1].at - samples[0].at)
        settled = self.history.settled(group)
        hold = self.policy.hold
        loss, unknown, warm = Status.DATA_LOSS, Status.UNKNOWN, Status.WARMING_UP
        ok = PartitionState.OK
        no_offset = PartitionState.NO_OFFSET
        out: list[PartitionLag] = []
        per_topic: dict[str, list[PartitionLag]] = {}
        oldest: float | None = None
        statuses: set[Status] = set()
        for tp, c, (start, end), v in zip(tps, c_list, ends, verdicts, strict=True):
            lost: int | None = None
            lag: int | None
            if 0 <= c <= end and (start < 0 or c >= start):
                state, lag = ok, end - c
            else:
                state, lag, lost = classify(c, start, end)
            if state is ok and v is not None:
                status, trend, cr, pr, eta = v
            else:
                status, trend, cr, pr, eta = (
                    judge_single(state, lag, has_members), None, None, None, None)
            if warming:
                # too little evidence: no verdict, trend or ETA yet (data loss is a fact)
                if status is not loss and status is not unknown:
                    status, trend, cr, pr, eta = warm, None, None, None, None
            else:
                prev = settled.get(tp)
                if prev is None or prev.shown is not status or prev.since is not None:
                    prev = settled[tp] = settle(prev, status, taken_at, hold)
                    status = prev.shown
            if lag:
                secs = lag_seconds(lag, ts_get((tp.topic, tp.partition, c)), now_ms)
                if secs is not None and (oldest is None or secs > oldest):
                    oldest = secs
            elif lag == 0:
                secs = 0.0
                if oldest is None:
                    oldest = 0.0
            else:
                secs = None
            row = PartitionLag(
                tp.topic, tp.partition, c if c >= 0 else None,
                start if start >= 0 else None, end if end >= 0 else None, lag, secs,
                state, status, trend, cr, pr, eta, lost, owners.get(tp) if owners else None,
            )
            out.append(row)
            if state is not no_offset:
                statuses.add(status)
            topic_rows = per_topic.get(tp.topic)
            if topic_rows is None:
                per_topic[tp.topic] = [row]
            else:
                topic_rows.append(row)
        judged = [p for p in out if p.state is not no_offset]
        error = info.error if info else "group not described"
        status = worst(statuses)
        if error and status.severity < Status.UNKNOWN.severity:
            status = Status.UNKNOWN
        return GroupLag(
            group=group,
            state=info.state if info else "unknown",
            members=members,
            partitions=tuple(out),
            topics=_topics(per_topic),
            lag=total,
            lag_seconds=oldest,
            status=status,
            trend=trend_of({p.trend for p in judged}),
            eta_seconds=eta_of([p.eta_seconds for p in judged], [p.lag for p in judged]),
            samples=len(samples),
            window_seconds=samples[-1].at - samples[0].at,
            error=error,
        )


# ---------------------------------------------------------------- helpers


def _verdicts(samples: Sequence[Sample], stall_seconds: float,
              tolerance: float) -> list[Verdict | None]:
    """Window verdict per partition of the latest sample. A partition whose offsets did
    not change across the window (most of them, on a large cluster) takes the cheap path:
    its verdict depends only on whether it lags, so two verdicts serve them all."""
    last = samples[-1]
    first = samples[0]
    span = last.at - first.at
    n = len(samples)
    still_lag = judge_still(1, span, has_members=last.has_members,
                            stall_seconds=stall_seconds, samples=n)
    still_ok = judge_still(0, span, has_members=last.has_members,
                           stall_seconds=stall_seconds, samples=n)
    all_still = n == 1 or all(
        s.committed == last.committed and s.end == last.end for s in samples)
    out: list[Verdict | None] = []
    for i, (c, e) in enumerate(zip(last.committed, last.end, strict=True)):
        if c < 0 or e < 0:
            out.append(None)
        elif all_still or all(s.committed[i] == c and s.end[i] == e for s in samples):
            out.append(still_lag if e > c else still_ok)
        else:
            out.append(judge_samples(samples, i, stall_seconds=stall_seconds,
                                     tolerance=tolerance))
    return out


def _topics(per_topic: dict[str, list[PartitionLag]]) -> tuple[TopicLag, ...]:
    out = []
    for topic in sorted(per_topic):
        ps = per_topic[topic]
        judged = [p for p in ps if p.state is not PartitionState.NO_OFFSET]
        lags = [p.lag for p in ps if p.lag is not None]
        out.append(TopicLag(
            topic=topic,
            partitions=len(ps),
            lag=sum(lags) if lags else None,
            lag_seconds=_max(p.lag_seconds for p in ps),
            status=worst({p.status for p in judged}),
            trend=trend_of({p.trend for p in judged}),
            eta_seconds=eta_of([p.eta_seconds for p in judged], [p.lag for p in judged]),
        ))
    return tuple(out)


def _max(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _missing(group: str, committed: Committed | None,
             info: _GroupInfo | None) -> bool:
    """A named group that does not exist. Apache Kafka describes an unknown group as Dead
    (or answers GROUP_ID_NOT_FOUND); Tansu calls it Empty, so a group with no members and no
    committed offsets counts as missing on both."""
    if info is not None and info.error and "group not found" in info.error:
        return True
    if info is not None and info.state == "Dead":
        return True
    no_members = info is None or not info.members
    return no_members and not committed and not (info and info.error)


def _member(row: tuple[str, str, str, bytes], protocol_type: str) -> GroupMember:
    from kafkaops.core.kafka.wire_groups import decode_assignment

    member_id, client_id, host, assignment = row
    pairs = decode_assignment(assignment) if protocol_type in ("consumer", "") else None
    return GroupMember(
        member_id=member_id,
        client_id=client_id or None,
        client_host=host or None,
        assignment=None if pairs is None else tuple(TopicPartition(t, p) for t, p in pairs),
    )


def _timestamp_requests(
    pending: dict[TopicPartition, list[int]], leaders: dict[TopicPartition, int],
) -> list[tuple[int, list[TopicPartition]]]:
    """(leader, partitions) of each timestamp Fetch: TIMESTAMP_CHUNK partitions of one topic."""
    by_topic: dict[tuple[int, str], list[TopicPartition]] = defaultdict(list)
    for tp in pending:
        leader = leaders.get(tp)
        if leader is not None:
            by_topic[(leader, tp.topic)].append(tp)
    out: list[tuple[int, list[TopicPartition]]] = []
    for (node, _topic), tps in by_topic.items():
        tps.sort()
        # even chunks: 100 partitions go out as 7 Fetches of 14-15, not 6 of 16 and one of 4
        n = -(-len(tps) // TIMESTAMP_CHUNK)
        size = -(-len(tps) // n)
        out += [(node, tps[i:i + size]) for i in range(0, len(tps), size)]
    return out


def _by_leader(tps: Iterable[TopicPartition],
               leaders: dict[TopicPartition, int]) -> dict[int, list[TopicPartition]]:
    """Partitions by leader node; partitions without a leader are left out (end unknown)."""
    out: dict[int, list[TopicPartition]] = defaultdict(list)
    for tp in tps:
        leader = leaders.get(tp)
        if leader is not None:
            out[leader].append(tp)
    return out
