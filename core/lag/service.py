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
   reads the timestamp of the next record it will consume (see `status.lag_seconds` for why
   it is compared with now). A record's timestamp never changes, so it is cached per
   (partition, offset) and fetched again only when the group's offset moves; with a
   `TimestampStore` (core/lag/stamps.py) the cache is kept on disk for the next process,
   per topic id, so a repeated `kafkaops lag` reads only the offsets that moved.

The status of each partition is judged over the recent snapshots this service took (see
core/lag/status.py and core/lag/history.py): until a group has `LagPolicy.min_samples`
snapshots spanning `LagPolicy.warmup` seconds its partitions are WARMING_UP (DATA_LOSS
shows at once), and after that a status changes only when the change holds for
`LagPolicy.hold` seconds. Every face takes the policy from config (`lag:`, `lag_policy()`)
and says which (`status_basis()`).

Here: `LagService` (a snapshot, and the history its statuses are judged on) and the tight
loop that turns one group's offsets into its records. The package's other modules hold
the records (model.py), the requests of steps 1-2 (requests.py), step 3 (timestamps.py),
the verdict rules (status.py) and the history with its hysteresis (history.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence

from kafkaops.core.errors import KafkaOpsError, NotFound
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.errors import is_kafka_error
from kafkaops.core.lag.history import LagHistory, Sample, judge_samples, settle
from kafkaops.core.lag.model import (
    Committed,
    GroupInfo,
    GroupLag,
    LagSnapshot,
    PartitionLag,
    TopicLag,
)
from kafkaops.core.lag.requests import LagRequests, Requests
from kafkaops.core.lag.stamps import TimestampStore
from kafkaops.core.lag.status import (
    LagPolicy,
    PartitionState,
    Status,
    Verdict,
    classify,
    eta_of,
    judge_single,
    judge_still,
    lag_seconds,
    trend_of,
    worst,
)
from kafkaops.core.lag.timestamps import read_timestamps, wanted_timestamps
from kafkaops.core.records import TopicPartition

log = logging.getLogger(__name__)

#: partitions turned into records between two yields to the event loop
YIELD_EVERY = 5_000
#: with a store, the timestamp file is written at most this often (s); stop() writes last
SAVE_EVERY = 60.0


class LagService:
    """Takes lag snapshots of one cluster and keeps the window they are judged on.

    One per cluster and process (Services.lag() hands out a shared one), so the console,
    the alert evaluator and the bot judge status on the same history.
    """

    def __init__(self, conn: KafkaConnection, *, policy: LagPolicy | None = None,
                 history: LagHistory | None = None,
                 store: TimestampStore | None = None) -> None:
        self.conn = conn
        self.history = history if history is not None else LagHistory(policy)
        self._wire = LagRequests(conn)
        #: (topic, partition, offset) -> record timestamp (ms), filled by read_timestamps
        self._timestamps: dict[tuple[str, int, int], int] = {}
        self._store = store
        #: topic -> id when the store was loaded (None: not yet; {}: no ids, no file)
        self._topic_ids: dict[str, str] | None = None
        self._unsaved = False
        self._saved_at = 0.0

    @property
    def policy(self) -> LagPolicy:
        return self.history.policy

    async def start(self) -> None:
        """Nothing to open: requests go through the connection's clients."""

    async def stop(self) -> None:
        if self._unsaved:
            self._save()
        self._timestamps.clear()

    # ------------------------------------------------------------ public

    async def list_groups(self) -> list[str]:
        """Consumer groups on the cluster (ListGroups on every broker), sorted."""
        return await self._wire.list_groups(Requests())

    async def snapshot(self, groups: Iterable[str] | None = None, *,
                       missing_ok: bool = True, time_lag: bool = True) -> LagSnapshot:
        """Lag of the named groups, or of every consumer group when `groups` is None.

        `missing_ok=False` raises NotFound when a named group does not exist (no members and
        no committed offsets). `time_lag=False` skips reading record timestamps.
        Raises ClusterUnreachable when the cluster does not answer.
        """
        started = time.perf_counter()
        req = Requests()
        meta_task = asyncio.ensure_future(self._wire.metadata(req))
        try:
            if groups is None:
                names = await self._wire.list_groups(req)
            else:
                names = list(dict.fromkeys(g for g in groups if g))
            coords, coord_errors = await self._wire.find_coordinators(names, req)
            committed, infos = await self._wire.read_groups(coords, meta_task, req)
            meta = await meta_task
        finally:
            if not meta_task.done():
                meta_task.cancel()
            elif not meta_task.cancelled():
                meta_task.exception()  # retrieved: an earlier error is the one reported
        for g, err in coord_errors.items():
            infos[g] = GroupInfo("unknown", "", None, err)

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
        load_task = None
        if time_lag and self._store is not None and self._topic_ids is None:
            # the ids of the topics read, asked while the ends are read
            load_task = asyncio.ensure_future(
                self._load_stamps(sorted({tp.topic for tp in wanted}), req))
        try:
            water = await self._wire.ends(wanted, anchors, leaders, req)
        except BaseException:
            if load_task is not None:
                load_task.cancel()  # the snapshot fails: no file is read
            raise
        taken_at = time.time()
        reads: asyncio.Future[None] | None = None
        waiting: set[str] = set()
        if time_lag:
            if load_task is not None:
                await load_task
            needed, waiting = wanted_timestamps(self._timestamps, plan, committed, water)
            if needed:
                reads = asyncio.ensure_future(
                    read_timestamps(self._wire, self._timestamps, needed, leaders, req))
                await asyncio.sleep(0)  # the Fetches go out before the building below
        built: dict[str, GroupLag] = {}
        try:
            # groups that wait for no timestamp are built while the broker reads the rest
            await self._build(built, [g for g in names if g not in waiting], plan, committed,
                              infos, water, taken_at)
            if reads is not None:
                await reads
                if self._topic_ids:
                    self._unsaved = True
                    if time.monotonic() - self._saved_at >= SAVE_EVERY:
                        self._save()
        finally:
            if reads is not None and not reads.done():
                reads.cancel()
        await self._build(built, [g for g in names if g in waiting], plan, committed, infos,
                          water, taken_at)
        out = tuple(built[g] for g in sorted(names))
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

    async def _build(self, built: dict[str, GroupLag], groups: list[str],
                     plan: dict[str, list[TopicPartition]], committed: dict[str, Committed],
                     infos: dict[str, GroupInfo], water: dict[TopicPartition, tuple[int, int]],
                     taken_at: float) -> None:
        work = 0
        for g in groups:
            built[g] = self._group_lag(g, plan[g], committed.get(g, {}), infos.get(g), water,
                                       taken_at)
            work += len(plan[g])
            if work >= YIELD_EVERY:
                # let the event loop run (a console stays responsive during a big refresh,
                # and the timestamp Fetches' answers are taken in meanwhile)
                work = 0
                await asyncio.sleep(0)

    async def _load_stamps(self, topics: list[str], req: Requests) -> None:
        """Timestamps an earlier process read, for topics whose id is unchanged (the file
        is only a cache: when the ids cannot be had, the snapshot reads them all)."""
        assert self._store is not None
        ids = None
        try:
            if topics:
                ids = await self._wire.topic_ids(topics, req)
        except Exception as e:
            if not (isinstance(e, KafkaOpsError) or is_kafka_error(e)):
                raise
            log.debug("no topic ids for the timestamp file: %s", e)
            ids = None
        self._topic_ids = ids or {}
        if ids:
            for key, ts in self._store.load(ids).items():
                self._timestamps.setdefault(key, ts)

    def _save(self) -> None:
        assert self._store is not None and self._topic_ids is not None
        self._unsaved = False
        self._saved_at = time.monotonic()
        self._store.save(self._timestamps, self._topic_ids)

    def series(self, group: str) -> list[tuple[float, int | None]]:
        """(time, total lag) of a group over the recent history: for sparklines."""
        return self.history.series(group)

    # ------------------------------------------------------------ records

    @staticmethod
    def _partitions_of(committed: Committed, info: GroupInfo | None,
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

    def _group_lag(self, group: str, tps: list[TopicPartition],
                   committed: Committed, info: GroupInfo | None,
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
             info: GroupInfo | None) -> bool:
    """A named group that does not exist. Apache Kafka describes an unknown group as Dead
    (or answers GROUP_ID_NOT_FOUND); Tansu calls it Empty, so a group with no members and no
    committed offsets counts as missing on both."""
    if info is not None and info.error and "group not found" in info.error:
        return True
    if info is not None and info.state == "Dead":
        return True
    no_members = info is None or not info.members
    return no_members and not committed and not (info and info.error)
