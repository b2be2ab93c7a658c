"""Usage history: hourly samples on `_kafkaops.usage`, for the monthly chargeback report.

A month's bill needs what no single read of a cluster can give: how much each topic stored
hour by hour (retention deletes the past), and what was produced into topics whose records
are gone. So a sample of every topic's end offsets, stored bytes and bytes per record is
kept each hour (by the bot, or `kafkaops usage record` from cron) on a compacted topic of
the cluster it measures, keyed by cluster and UTC hour: several bot replicas writing the
same hour leave one sample after compaction, and the report keeps the newest per hour.

Anyone who may produce to the topic can write a sample, so samples are signed (HMAC-SHA256
with audit.signing_key) and the report leaves out, and counts, any sample whose signature
does not verify; without a key samples are written unsigned and the report says so. Values
are parsed with bounds (core/untrusted.py), and a sample that does not parse is counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.tasks import cancel_and_wait
from kafkaops.core.untrusted import UntrustedData, parse_json

if TYPE_CHECKING:
    from kafkaops.core.services import Services
    from kafkaops.core.usage.model import UsageReport

log = logging.getLogger("kafkaops.usage")

TOPIC = "_kafkaops.usage"
VERSION = 1
#: the window each sample measures (its bytes per record come from the records in it)
SAMPLE_WINDOW = 3600.0
#: a sample's value may be this big (a cluster of ~20,000 topics)
MAX_SAMPLE_BYTES = 8 * 1024 * 1024
MAX_TOPIC_NAME = 249


@dataclass(frozen=True)
class TopicSample:
    topic: str
    """Topic name."""
    replicas: int
    """Replication factor when sampled."""
    end: int
    """Sum of its partitions' end offsets: records ever produced (while the topic lives)."""
    start: int
    """Sum of its partitions' log start offsets."""
    stored: float | None
    """Bytes of one replica's log (None: unknown)."""
    stored_error: float
    """Half-width of the 95% interval of `stored` (0: every batch was read)."""
    records_in: int
    """Records produced in the hour before the sample."""
    bytes_in: float | None
    """Their bytes as stored (None: unknown)."""

    @property
    def bytes_per_record(self) -> float | None:
        """Bytes per record produced lately (else of what is stored)."""
        if self.records_in and self.bytes_in is not None:
            return self.bytes_in / self.records_in
        held = self.end - self.start
        if held > 0 and self.stored is not None:
            return self.stored / held
        return None


@dataclass(frozen=True)
class Sample:
    cluster: str
    """Cluster measured."""
    at: float
    """When (epoch seconds)."""
    by: str
    """Who wrote it (host:pid)."""
    topics: tuple[TopicSample, ...]
    """Every topic of the cluster then."""
    signed: bool
    """Its signature verified with the configured key."""

    @property
    def hour(self) -> str:
        return hour_of(self.at)


def hour_of(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H")


def sample_of(report: UsageReport) -> Sample:
    """A sample from a usage measurement over SAMPLE_WINDOW (offsets from its ranges)."""
    topics = []
    for t in report.topics:
        topics.append(TopicSample(
            topic=t.topic, replicas=t.replication_factor, end=t.end_offsets,
            start=t.end_offsets - t.records_stored, stored=t.bytes_stored.value,
            stored_error=0.0 if math.isinf(t.bytes_stored.error) else t.bytes_stored.error,
            records_in=t.records_in, bytes_in=t.bytes_in.value))
    return Sample(report.cluster, report.at, f"{socket.gethostname()}:{os.getpid()}",
                  tuple(topics), True)


# ---------------------------------------------------------------- encoding and signing


def _body(s: Sample) -> dict[str, Any]:
    return {
        "v": VERSION, "cluster": s.cluster, "at": round(s.at, 3), "by": s.by,
        "topics": [[t.topic, t.replicas, t.end, t.start, t.stored, t.stored_error,
                    t.records_in, t.bytes_in] for t in s.topics],
    }


def _sig(body: Mapping[str, Any], key: bytes) -> str:
    canon = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hmac.new(key, canon, hashlib.sha256).hexdigest()


def encode(s: Sample, key: bytes | None) -> tuple[bytes, bytes]:
    """(record key, value) of a sample, signed when there is a key."""
    body = _body(s)
    if key:
        body["sig"] = _sig(body, key)
    return f"{s.cluster}|{s.hour}".encode(), orjson.dumps(body)


def decode(raw: bytes | None, key: bytes | None) -> Sample:
    """A sample read back; UntrustedData saying what is wrong with it. `signed` is True only
    when a key is given and the signature verifies (a key given and no or a bad signature
    is refused)."""
    data = parse_json(raw, max_bytes=MAX_SAMPLE_BYTES, max_depth=4)
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise UntrustedData("not a usage sample of this version")
    sig = data.pop("sig", None)
    if key and (not isinstance(sig, str) or not hmac.compare_digest(_sig(data, key), sig)):
        raise UntrustedData("signature does not verify (forged or altered)")
    cluster, at, by, rows = data.get("cluster"), data.get("at"), data.get("by"), data.get("topics")
    if not isinstance(cluster, str) or not isinstance(by, str) or not isinstance(rows, list):
        raise UntrustedData("missing cluster, by or topics")
    if not isinstance(at, int | float) or not _num(at) or not 0 < at < 4e9:
        raise UntrustedData("bad time")
    topics = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 8 and isinstance(row[0], str)
                and 0 < len(row[0]) <= MAX_TOPIC_NAME
                and all(_int(v) for v in (row[1], row[2], row[3], row[6]))
                and all(v is None or _num(v) for v in (row[4], row[7])) and _num(row[5])):
            raise UntrustedData("a topic row is malformed")
        topics.append(TopicSample(row[0], row[1], row[2], row[3],
                                  None if row[4] is None else float(row[4]), float(row[5]),
                                  row[6], None if row[7] is None else float(row[7])))
    return Sample(cluster, float(at), by, tuple(topics), bool(key))


def _num(v: object) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and 0 <= v < 1e18)


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63


# ---------------------------------------------------------------- the topic


@dataclass(frozen=True)
class History:
    """Samples read back from a cluster's usage topic."""

    samples: tuple[Sample, ...]
    """Good samples, oldest first, one per hour (the newest of each hour)."""
    rejected: int
    """Records left out: unsigned or forged where a key is set, malformed."""
    reasons: tuple[str, ...]
    """Why, each once: "offset 12: signature does not verify"."""
    exists: bool
    """The topic exists."""
    signed: bool
    """Samples were checked against a key."""


def signing_key(services: Services) -> bytes | None:
    key = services.config.audit.signing_key
    return key.reveal().encode() if key.is_set else None


async def record(services: Services, cluster: str | None = None, *,
                 report: UsageReport | None = None) -> Sample:
    """Measure now (over SAMPLE_WINDOW) and write the sample; refused on a read-only
    cluster (the sample would be written to it)."""
    from kafkaops.core.kafka.topicio import COMPACTED, Writer, ensure_topics
    from kafkaops.core.usage.service import UsageService

    cluster = cluster or services.cluster_name
    services.require_writable(cluster, f"keep usage history on {TOPIC}")
    if report is None:
        report = await UsageService(services, cluster).measure(SAMPLE_WINDOW, groups=False)
    sample = sample_of(report)
    conn = await services.connection(cluster)
    await ensure_topics(conn, {TOPIC: (1, COMPACTED)})
    key, value = encode(sample, signing_key(services))
    async with Writer(conn) as w:
        await w.send(TOPIC, [(key, value)])
    return sample


async def read(services: Services, cluster: str | None = None) -> History:
    """Every sample kept on the cluster's usage topic."""
    from kafkaops.core.kafka.topicio import read_partition

    cluster = cluster or services.cluster_name
    conn = await services.connection(cluster)
    records, info = await read_partition(conn, TOPIC)
    if not info.complete:
        raise KafkaOpsError(f"{TOPIC} on cluster {cluster!r} could not be read to its end")
    key = signing_key(services)
    newest: dict[str, Sample] = {}
    rejected = 0
    reasons: list[str] = []
    for r in records:
        try:
            s = decode(r.value, key)
            if s.cluster != cluster or (r.key or b"") != f"{s.cluster}|{s.hour}".encode():
                raise UntrustedData("its key does not name its cluster and hour")
        except UntrustedData as e:
            if r.value is None:
                continue  # a tombstone: compaction's business
            rejected += 1
            if len(reasons) < 5:
                reasons.append(f"offset {r.offset}: {e}")
            continue
        seen = newest.get(s.hour)
        if seen is None or s.at >= seen.at:
            newest[s.hour] = s
    return History(tuple(sorted(newest.values(), key=lambda s: s.at)), rejected,
                   tuple(reasons), info.exists, key is not None)


class UsageRecorder:
    """Keeps the hourly samples: the first `first_after` seconds after start, then every
    `every` seconds, one sample of each cluster that may be written (a read-only cluster
    keeps none: nothing is written to it). Run by the bot and the demo; several replicas
    recording the same hour leave one sample after compaction."""

    def __init__(self, services: Services | Callable[[], Services | None], *,
                 every: float = SAMPLE_WINDOW, first_after: float = 60.0) -> None:
        self._services = services
        self.every = every
        self.first_after = first_after
        self._task: asyncio.Task[None] | None = None
        #: samples written, and the last error in words (for logs and tests)
        self.written = 0
        self.error = ""

    def _get(self) -> Services | None:
        s = self._services
        return s() if callable(s) else s

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="usage-recorder")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_after)
        while True:
            services = self._get()
            if services is not None:
                try:
                    await self.record_all(services)
                except Exception as e:  # a background loop: log, and try next hour
                    self.error = f"{type(e).__name__}: {e}"
                    log.exception("usage history: no sample this hour")
            await asyncio.sleep(self.every)

    async def record_all(self, services: Services) -> None:
        for name, cfg in services.config.clusters.items():
            if cfg.read_only:
                continue
            try:
                await record(services, name)
                self.written += 1
            except KafkaOpsError as e:
                self.error = f"cluster {name!r}: {e}"
                log.warning("usage history: no sample of cluster %r this hour: %s", name, e)
