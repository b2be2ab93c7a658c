"""Measuring usage on a cluster: what each topic and team produced over a window, what it
stores, and who reads it. Everything comes from the cluster itself, now:

- records in: the end offset now minus the first offset whose record time is inside the
  window (ListOffsets by time, core/usage/logread.py), and the same for the window before
  (top movers); optionally per slice of the window (the console's sparklines);
- bytes in and bytes stored: the record batches of those offset ranges, read off the log
  within a byte budget: exact where every batch was read, estimated from sampled batches
  elsewhere, with the estimate's interval (core/usage/summary.py);
- retention, cleanup policy and compression as the broker reports them (never made up);
- compression ratio from the batches read; consumer groups from the lag engine.

Record times are the producers' (CreateTime) unless the topic uses LogAppendTime: a
producer with a wrong clock puts its records in the wrong window.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.records import ConfigEntry, TopicMetadata, TopicPartition
from kafkaops.core.topics.service import TopicService
from kafkaops.core.usage.batches import estimate, merge
from kafkaops.core.usage.logread import DEFAULT_BUDGET, LogRead, offsets_at, read_log
from kafkaops.core.usage.model import TopicUsage, UsageReport
from kafkaops.core.usage.summary import add, movers, range_amounts, teams_of
from kafkaops.core.usage.teams import UNOWNED, team_of

if TYPE_CHECKING:
    from kafkaops.core.services import Services

#: longest window a measurement takes (the log's time index answers any, but a month is
#: what the chargeback report is for)
MAX_WINDOW = 31 * 86400.0
MAX_BUCKETS = 60


class UsageService:
    """Usage of one cluster's topics. `measure()` is one read of the cluster, now."""

    def __init__(self, services: Services, cluster: str | None = None, *,
                 budget: int = DEFAULT_BUDGET, clock: Callable[[], float] = time.time) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name
        self.budget = budget
        self.clock = clock

    def owner(self, topic: str) -> str:
        return team_of(self.services.config.teams, topic)

    async def measure(self, window: float, *, topic: str | None = None,
                      team: str | None = None, buckets: int = 0, groups: bool = True,
                      previous: float | None = None) -> UsageReport:
        """Usage over the `window` seconds ending now, of every topic (or those matching the
        `topic` glob, or owned by `team`). `buckets`: also count records per slice.
        `previous`: length of the window before it (default: the same as `window`)."""
        previous = window if previous is None else previous
        if not 0 < window <= MAX_WINDOW or not 0 < previous <= MAX_WINDOW:
            raise KafkaOpsError(f"window must be more than 0 and at most 31 days "
                                f"(got {window:g} s)")
        buckets = max(0, min(buckets, MAX_BUCKETS))
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata()
        chosen = [t for name, t in sorted(meta.topics.items())
                  if (topic is None or fnmatch.fnmatchcase(name, topic))
                  and (team is None or self.owner(name) == team)]
        tps = [TopicPartition(t.name, p.partition) for t in chosen for p in t.partitions]
        notes: list[str] = []
        at = self.clock()
        now_ms = int(at * 1000)
        win_ms = int(window * 1000)
        marks_ms = [now_ms - win_ms - int(previous * 1000), now_ms - win_ms]
        marks_ms += [now_ms - win_ms + win_ms * i // buckets for i in range(1, buckets)]
        water: dict[TopicPartition, tuple[int, int]] = {}
        configs: dict[str, tuple[ConfigEntry, ...]] = {}
        found: list[dict[TopicPartition, int | None]] = [{} for _ in marks_ms]
        if tps:
            water, configs, found = await asyncio.gather(
                conn.high_watermarks(tps),
                TopicService(conn).configs([t.name for t in chosen], None),
                asyncio.gather(*(offsets_at(conn, tps, m) for m in marks_ms)))
        at = self.clock()  # the window ends when the end offsets were read
        readers: dict[str, tuple[str, ...]] | None = None
        if groups and tps:
            try:
                readers = await self._readers()
            except KafkaOpsError as e:
                notes.append(f"consumer groups could not be read: {e}")
        bounds: dict[TopicPartition, list[int]] = {}
        for tp, (start, end) in water.items():
            offs = [end if f.get(tp) is None else min(max(f[tp] or 0, start), end)
                    for f in found]
            for i in range(1, len(offs)):  # later moments never start earlier
                offs[i] = max(offs[i], offs[i - 1])
            bounds[tp] = offs
        reads, stats = await read_log(conn, water,
                                      {tp: b[:2] for tp, b in bounds.items()},
                                      budget=self.budget)
        for tp, offs in bounds.items():
            start, end = water[tp]
            r = reads[tp]
            if r.complete(start, end):  # by the batches' own record times (logread.py)
                snapped = [r.first_at(m, end) for m in marks_ms]
            else:
                snapped = [r.batch_start(o) for o in offs]
            bounds[tp] = [max(snapped[:i + 1]) for i in range(len(snapped))]
        missing = [tp for tp in tps if tp not in water]
        if missing:
            notes.append(f"{len(missing)} partition(s) without a leader or end offset were "
                         "left out")
        rows = [self._topic(t, water, bounds, reads, configs.get(t.name, ()), readers,
                            buckets) for t in chosen]
        config = self.services.config
        # every configured team shows (with nothing, if so), unless topics were picked
        order = [team] if team is not None else [] if topic is not None else list(config.teams)
        teams = teams_of(rows, {n: c.channel for n, c in config.teams.items()}, order)
        return UsageReport(
            cluster=self.cluster, at=at, window=window, topics=tuple(rows), teams=teams,
            movers=movers(rows, teams), fetches=stats.fetches, bytes_read=stats.bytes_read,
            budget=self.budget, notes=tuple(notes), previous=previous)

    async def _readers(self) -> dict[str, tuple[str, ...]]:
        snap = await (await self.services.lag(self.cluster)).snapshot(time_lag=False)
        out: dict[str, set[str]] = {}
        for g in snap.groups:
            for t in g.topics:
                out.setdefault(t.topic, set()).add(g.group)
        return {t: tuple(sorted(gs)) for t, gs in out.items()}

    def _topic(self, t: TopicMetadata, water: Mapping[TopicPartition, tuple[int, int]],
               bounds: Mapping[TopicPartition, list[int]], reads: Mapping[TopicPartition, LogRead],
               configs: tuple[ConfigEntry, ...], readers: Mapping[str, tuple[str, ...]] | None,
               buckets: int) -> TopicUsage:
        tps = [TopicPartition(t.name, p.partition) for p in t.partitions]
        tps = [tp for tp in tps if tp in water]
        per_part = {tp: estimate(list(reads[tp].batches.values()), complete=False)
                    for tp in tps}
        topic_est = merge(per_part.values())
        stored, win_in, win_pay, prev_in = [], [], [], []
        rec_in = rec_prev = rec_stored = 0
        cut = False
        counts = [0] * buckets
        for tp in tps:
            start, end = water[tp]
            prev, win = bounds[tp][0], bounds[tp][1]
            fallback = per_part[tp] if per_part[tp].batches else topic_est
            r = reads[tp]
            stored.append(range_amounts(r, start, end, fallback)[0])
            b_in, p_in = range_amounts(r, win, end, fallback)
            win_in.append(b_in)
            win_pay.append(p_in)
            prev_in.append(range_amounts(r, prev, win, fallback)[0])
            rec_in += end - win
            rec_prev += win - prev
            rec_stored += end - start
            cut = cut or (start > 0 and prev <= start)
            if buckets:
                edges = [win, *bounds[tp][2:], end]
                for i in range(buckets):
                    counts[i] += edges[i + 1] - edges[i]
        entries = {c.name: c.value for c in configs}
        est = topic_est
        return TopicUsage(
            topic=t.name, team=self.owner(t.name), internal=t.internal,
            partitions=len(t.partitions),
            replication_factor=max((len(p.replicas) for p in t.partitions), default=0),
            records_in=rec_in, bytes_in=add(win_in), payload_in=add(win_pay),
            records_stored=rec_stored, end_offsets=sum(water[tp][1] for tp in tps),
            bytes_stored=add(stored),
            records_in_previous=rec_prev, bytes_in_previous=add(prev_in), window_cut=cut,
            retention_ms=entries.get("retention.ms"),
            cleanup_policy=entries.get("cleanup.policy"),
            compression=entries.get("compression.type"),
            compression_ratio=est.compression_ratio, codecs=est.codecs,
            groups=None if readers is None else readers.get(t.name, ()),
            buckets=tuple(counts),
        )


def unowned_topics(report: UsageReport) -> list[str]:
    return [t.topic for t in report.topics if t.team == UNOWNED]
