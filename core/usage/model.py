"""Usage: core's records. Pure data, no I/O (service.py measures, summary.py adds up)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

#: log: measured from the batches read off the log; log-dirs: the broker's own log-dir
#: sizes (DescribeLogDirs); none: nothing to measure (no records)
Source = Literal["log", "log-dirs", "none", "unknown"]


@dataclass(frozen=True)
class Amount:
    """A number of bytes, how sure it is and where it came from."""

    value: float | None
    """The amount (None: unknown)."""
    error: float
    """Half-width of its 95% interval, in the same unit (0: exact; inf: no bound)."""
    source: Source
    """Where it came from."""
    detail: str
    """How, in words: "every batch read", "sampled 24 of 1,500 batches"."""

    @property
    def exact(self) -> bool:
        return self.value is not None and self.error == 0

    @staticmethod
    def zero() -> Amount:
        return Amount(0.0, 0.0, "none", "no records")

    @staticmethod
    def unknown(why: str) -> Amount:
        return Amount(None, math.inf, "unknown", why)


@dataclass(frozen=True)
class TopicUsage:
    topic: str
    """Topic name."""
    team: str
    """Owning team, or "unowned"."""
    internal: bool
    """A Kafka or kafkaops internal topic."""
    partitions: int
    """Partition count."""
    replication_factor: int
    """Replicas per partition."""
    records_in: int
    """Records produced in the window (end offset minus the first offset of the window)."""
    bytes_in: Amount
    """Bytes produced in the window, as the broker stores the batches (compressed if they
    are): what ingress is billed on."""
    payload_in: Amount
    """Keys, values and headers of those records, uncompressed."""
    records_stored: int
    """Records in the log now (end minus log start offset)."""
    end_offsets: int
    """Sum of its partitions' end offsets now."""
    bytes_stored: Amount
    """Bytes of one replica's log now."""
    records_in_previous: int
    """Records produced in the window before this one."""
    bytes_in_previous: Amount
    """Bytes produced in the window before this one."""
    window_cut: bool
    """Retention deleted records of the window (or the one before): the counts are lower
    bounds."""
    retention_ms: str | None
    """retention.ms as the broker reported it (None: not reported)."""
    cleanup_policy: str | None
    """cleanup.policy as reported (None: not reported)."""
    compression: str | None
    """compression.type as reported (None: not reported)."""
    compression_ratio: float | None
    """Decompressed over stored size of the batches read (None: no batch could be opened)."""
    codecs: tuple[str, ...]
    """Codecs of the batches read."""
    groups: tuple[str, ...] | None
    """Consumer groups with committed offsets on the topic (None: groups could not be
    read)."""
    buckets: tuple[int, ...] = ()
    """Records produced in each equal slice of the window, oldest first (when asked)."""


@dataclass(frozen=True)
class TeamUsage:
    team: str
    """Team name, or "unowned"."""
    channel: str | None
    """Its Slack channel, if config names one."""
    topics: int
    """Topics it owns."""
    members: tuple[str, ...]
    """Their names."""
    records_in: int
    """Records produced in the window."""
    bytes_in: Amount
    """Bytes produced in the window (errors of its topics combined)."""
    payload_in: Amount
    """Keys, values and headers produced, uncompressed."""
    bytes_stored: Amount
    """Bytes stored (one replica)."""
    bytes_stored_replicated: Amount
    """Bytes stored counting every replica."""
    records_in_previous: int
    """Records produced in the window before."""
    bytes_in_previous: Amount
    """Bytes produced in the window before."""
    buckets: tuple[int, ...] = ()
    """Records produced per slice of the window, summed over its topics."""


@dataclass(frozen=True)
class Mover:
    kind: Literal["topic", "team"]
    """What moved."""
    name: str
    """Topic or team name."""
    before: float
    """Bytes in, the window before."""
    now: float
    """Bytes in, this window."""

    @property
    def change(self) -> float:
        return self.now - self.before

    @property
    def ratio(self) -> float | None:
        """now / before (None when there was nothing before)."""
        return self.now / self.before if self.before else None


@dataclass(frozen=True)
class UsageReport:
    """Usage of one cluster's topics over a window ending now."""

    cluster: str
    """Cluster name."""
    at: float
    """End of the window: when the end offsets were read (epoch seconds)."""
    window: float
    """Window length in seconds."""
    topics: tuple[TopicUsage, ...]
    """Every topic measured, by name."""
    teams: tuple[TeamUsage, ...]
    """Per team, the biggest producer first; "unowned" last."""
    movers: tuple[Mover, ...]
    """Topics and teams whose bytes in changed most against the window before."""
    fetches: int
    """Fetch requests sent to read batches."""
    bytes_read: int
    """Log bytes read to measure sizes."""
    budget: int
    """Most log bytes the measurement would read."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """What could not be measured and why, in words."""
    previous: float = 0.0
    """Length of the window before, in seconds (0: the same as `window`)."""
