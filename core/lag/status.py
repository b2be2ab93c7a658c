"""Consumer lag judged over a window of TIME: the pure maths behind every lag status.

Burrow judges a partition over its last N commits, so a group that commits rarely is judged
on stale data and shows OK while its lag climbs (its most repeated bug report). Here the
window is the last `LagPolicy.window` seconds of snapshots, whatever the commit rate, and a
partition whose lag grows or whose consumer stopped is never OK.

Per partition, in order of precedence:
- DATA_LOSS: the committed offset is below the log start offset, so retention deleted
  records before the group read them. No lag and no time lag are claimed.
- STOP: lag > 0 and the group has no members, so nobody can commit. OffsetFetch says what a
  group committed, never when, so "no commits" is told by membership: a group without
  members cannot commit. Known from a single snapshot.
- ERR: members present, lag > 0, the committed offset has not moved for `stall_seconds`,
  and the lag grew meanwhile (records keep arriving that nobody consumes).
- STALL: as ERR but the lag is not growing. Members are alive (Kafka clients heartbeat and
  commit from the same poll loop), yet the offset does not move: a stuck consumer.
- REWIND: the committed offset went backwards inside the window (a reset, or a consumer
  that re-read data).
- WARN: the lag is growing: the consumer moves but slower than producers write.
- OK: none of the above.

"Growing" must not fire on the saw-tooth that periodic commits draw (lag climbs between two
auto-commits, drops at each): the lag is growing only when every lag seen in the last third
of the window is above every lag seen in the first third, by more than what producers write
in `LagPolicy.growth_tolerance` seconds (5 s: a consumer committing every few seconds sits
that far behind between commits). A consumer that keeps up touches its low point in both
thirds; one falling behind does not. A window shorter than a few times the tolerance cannot
tell a slow fall-behind from commit jitter; the console's window is five minutes.

Warm-up: a status needs evidence. Until a group's snapshots number `LagPolicy.min_samples`
and span `LagPolicy.warmup` seconds, every partition reads WARMING_UP ("warming up"), never
WARN or STOP (a group seen once without members may be restarting; two snapshots a second
apart show no trend); only DATA_LOSS, a fact of one snapshot, shows at once.

Hysteresis: once warmed up, a partition's shown status changes only when the evidence for
the change holds for `LagPolicy.hold` seconds (`settle`, core/lag/history.py, with the
snapshots kept per group).

The faces (console, CLI, bot, alerts) judge with the same `LagPolicy` (config `lag:`) and
say which: `policy_text()`.

Statuses rank DATA_LOSS > ERR > STOP > STALL > REWIND > WARN > UNKNOWN > WARMING_UP > OK; a
topic or group shows its worst partition.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple


class Status(enum.StrEnum):
    OK = "OK"
    WARN = "WARN"
    ERR = "ERR"
    STOP = "STOP"
    STALL = "STALL"
    REWIND = "REWIND"
    DATA_LOSS = "DATA_LOSS"
    UNKNOWN = "UNKNOWN"
    WARMING_UP = "WARMING_UP"

    @property
    def label(self) -> str:
        """How people read it: "DATA LOSS" rather than DATA_LOSS, "warming up"."""
        if self is Status.WARMING_UP:
            return "warming up"
        return "DATA LOSS" if self is Status.DATA_LOSS else self.value

    @property
    def judged(self) -> bool:
        """False for UNKNOWN and WARMING_UP: no verdict either way (alert rules neither
        fire nor resolve on them)."""
        return self not in (Status.UNKNOWN, Status.WARMING_UP)

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @classmethod
    def parse(cls, text: str) -> Status:
        """A status from what a person types: `err`, `STOP`, `data loss`, `data-loss`."""
        key = text.strip().upper().replace("-", "_").replace(" ", "_")
        if key == "LOSS":
            key = "DATA_LOSS"
        if key == "WARMING":
            key = "WARMING_UP"
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown lag status {text!r} (known: {known})") from None


_SEVERITY = {
    Status.OK: 0, Status.WARMING_UP: 1, Status.UNKNOWN: 2, Status.WARN: 3, Status.REWIND: 4,
    Status.STALL: 5, Status.STOP: 6, Status.ERR: 7, Status.DATA_LOSS: 8,
}

#: statuses that only a window of several snapshots can show
WINDOW_ONLY = frozenset({Status.WARN, Status.ERR, Status.STALL, Status.REWIND})


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; UNKNOWN when there is none to judge."""
    return max(statuses, key=_SEVERITY.__getitem__, default=Status.UNKNOWN)


class PartitionState(enum.StrEnum):
    """What one snapshot says about a partition, before any judging over time."""

    OK = "ok"
    NO_OFFSET = "no offset"
    """The group never committed this partition: no lag is claimed (not lag = log end)."""
    DATA_LOSS = "data loss"
    """Committed offset below the log start: records were deleted before the group read them."""
    AHEAD = "ahead of end"
    """Committed offset beyond the log end (topic recreated, or the log was truncated)."""
    END_UNKNOWN = "end unknown"
    """The partition's leader did not answer this time."""


class Trend(enum.StrEnum):
    GROWING = "growing"
    DRAINING = "draining"
    STEADY = "steady"


@dataclass(frozen=True)
class LagPolicy:
    window: float = 300.0
    """Seconds of snapshots a status is judged on."""
    stall_seconds: float = 60.0
    """An offset that has not moved for this long while lag > 0 is STALL (or ERR). Keep it
    above the consumers' commit interval (auto.commit.interval.ms, 5 s by default)."""
    growth_tolerance: float = 5.0
    """A committing group's lag counts as growing (WARN) only when it grew by more than
    this many seconds of production: between commits a consumer sits up to its commit
    interval behind, and that saw-tooth is not falling behind."""
    history: float = 900.0
    """Seconds of total lag kept per group for sparklines."""
    max_samples: int = 12
    """Snapshots kept per group inside the window; closer ones are thinned out."""
    sparkline_points: int = 90
    """Total-lag points kept per group for sparklines."""
    warmup: float = 30.0
    """No status but WARMING_UP (and DATA_LOSS) until a group's snapshots span this long.
    0: judge from the first snapshot."""
    min_samples: int = 3
    """... and number at least this many (when `warmup` > 0)."""
    hold: float = 30.0
    """A new status replaces the shown one only after holding this long (hysteresis);
    0: at once."""

    def __post_init__(self) -> None:
        if self.window <= 0 or self.stall_seconds <= 0 or self.history <= 0:
            raise ValueError("lag window, stall_seconds and history must be positive")
        if self.warmup < 0 or self.hold < 0:
            raise ValueError("lag warmup and hold cannot be negative")
        if self.warmup > self.window:
            raise ValueError("lag warmup cannot be longer than the window (snapshots older "
                             "than the window are not kept)")
        if self.growth_tolerance < 0:
            raise ValueError("lag growth_tolerance cannot be negative")
        if self.max_samples < 2 or self.sparkline_points < 2:
            raise ValueError("lag max_samples and sparkline_points must be at least 2")
        if self.min_samples < 1 or self.min_samples > self.max_samples:
            raise ValueError("lag min_samples must be between 1 and max_samples")

    def warming(self, samples: int, span: float) -> bool:
        """Too little evidence for a status: fewer than `min_samples` snapshots, or less
        than `warmup` seconds between the first and the last."""
        return self.warmup > 0 and (samples < self.min_samples or span < self.warmup)


def policy_text(policy: LagPolicy) -> str:
    """The judging rules in words, the same in every face: "window 5m00s, warm-up 30s,
    changes held 30s"."""
    parts = [f"window {age(policy.window)}"]
    parts.append(f"warm-up {age(policy.warmup)}" if policy.warmup else "no warm-up")
    parts.append(f"changes held {age(policy.hold)}" if policy.hold else "changes at once")
    return ", ".join(parts)


# ---------------------------------------------------------------- one snapshot


def classify(
    committed: int | None, log_start: int | None, end: int | None
) -> tuple[PartitionState, int | None, int | None]:
    """(state, lag, records lost) of one partition from one snapshot.

    `committed` None or negative: never committed. `log_start` None or negative: not
    reported (then data loss cannot be told). Lag is None unless it can be trusted.
    """
    if committed is None or committed < 0:
        return PartitionState.NO_OFFSET, None, None
    if end is None or end < 0:
        return PartitionState.END_UNKNOWN, None, None
    if log_start is not None and log_start >= 0 and committed < log_start:
        return PartitionState.DATA_LOSS, None, log_start - committed
    if committed > end:
        return PartitionState.AHEAD, None, None
    return PartitionState.OK, end - committed, None


def lag_seconds(lag: int | None, record_ts_ms: int | None, now_ms: float) -> float | None:
    """How long the next record the group will read has been waiting, in seconds.

    Measured against now (not against the newest record's timestamp): an idle topic whose
    last record nobody read keeps ageing, which is what an on-call engineer needs to see;
    "newest minus committed" would freeze at a small number while nothing is consumed.
    Producer clocks ahead of ours give a negative age: shown as 0.
    """
    if lag is None:
        return None
    if lag == 0:
        return 0.0
    if record_ts_ms is None or record_ts_ms < 0:
        return None
    return max(0.0, (now_ms - record_ts_ms) / 1000.0)


def judge_single(state: PartitionState, lag: int | None, has_members: bool | None) -> Status:
    """Status from one snapshot: only DATA_LOSS and STOP can be told without a window."""
    if state is PartitionState.DATA_LOSS:
        return Status.DATA_LOSS
    if state is not PartitionState.OK or lag is None:
        return Status.UNKNOWN
    if lag > 0 and has_members is False:
        return Status.STOP
    return Status.OK


# ---------------------------------------------------------------- over a window


class Point(NamedTuple):
    at: float
    """When the snapshot was taken (epoch seconds)."""
    committed: int
    """Committed offset then."""
    end: int
    """Log end offset then."""


class Verdict(NamedTuple):
    status: Status
    """The partition's status over the window."""
    trend: Trend | None
    """Lag growing, draining or steady; None with a single snapshot."""
    consume_rate: float | None
    """Records/s the group committed across the window."""
    produce_rate: float | None
    """Records/s written to the partition across the window."""
    eta_seconds: float | None
    """Time to catch up at these rates; 0 when caught up; None when not catching up."""


def lag_trend(points: Sequence[Point], tolerance: float = 0.0) -> Trend | None:
    """Growing when every lag in the last third of the window is above every lag in the
    first third by more than `tolerance` seconds of production; draining for the mirror
    case; else steady. None under two points.

    The tolerance absorbs commit jitter: a consumer committing every few seconds sits up to
    that many seconds of records behind between commits. It applies only while the group
    commits: an offset that never moved all window has no jitter, and any growth counts.
    """
    if len(points) < 2:
        return None
    first, last = points[0].at, points[-1].at
    span = last - first
    if span <= 0:
        return None
    early = [p.end - p.committed for p in points if p.at <= first + span / 3]
    late = [p.end - p.committed for p in points if p.at >= last - span / 3]
    moved = any(p.committed != points[0].committed for p in points)
    margin = (points[-1].end - points[0].end) / span * tolerance if moved else 0.0
    if min(late) - max(early) > margin:
        return Trend.GROWING
    if min(early) - max(late) > margin:
        return Trend.DRAINING
    return Trend.STEADY


def rates(points: Sequence[Point]) -> tuple[float | None, float | None]:
    """(consume, produce) in records/s across the window. Consumption is measured from the
    last rewind on, so a reset does not read as negative throughput."""
    if len(points) < 2:
        return None, None
    start = 0
    for i in range(1, len(points)):
        if points[i].committed < points[i - 1].committed:
            start = i
    produce_span = points[-1].at - points[0].at
    consume_span = points[-1].at - points[start].at
    produce = (points[-1].end - points[0].end) / produce_span if produce_span > 0 else None
    consume = (
        (points[-1].committed - points[start].committed) / consume_span
        if consume_span > 0 else None
    )
    return consume, produce


def eta_seconds(lag: int, consume: float | None, produce: float | None) -> float | None:
    """Seconds until lag reaches 0 at the current rates: 0 when caught up, None when the
    group does not consume faster than producers write (it will not catch up)."""
    if lag <= 0:
        return 0.0
    if consume is None or produce is None:
        return None
    net = consume - produce
    if net <= 0:
        return None
    return lag / net


def stalled_for(points: Sequence[Point]) -> float:
    """Seconds the committed offset has stood still with records waiting behind it (0 when
    it moved at the last snapshot or nothing waits)."""
    return stall(points)[0]


def stall(points: Sequence[Point]) -> tuple[float, bool]:
    """(seconds the committed offset has stood still with records waiting behind it,
    whether more records arrived meanwhile)."""
    last = points[-1]
    if last.end <= last.committed:
        return 0.0, False
    start = last
    for p in reversed(points):
        if p.committed != last.committed or p.end <= p.committed:
            break
        start = p
    return last.at - start.at, last.end > start.end


def judge(points: Sequence[Point], *, has_members: bool | None,
          stall_seconds: float, tolerance: float = 0.0) -> Verdict:
    """Status, trend, rates and ETA of one partition over its window (oldest point first,
    the last one is the current snapshot; every point has a committed offset and an end).
    `tolerance`: seconds of production a lag may grow by before it counts (lag_trend)."""
    last = points[-1]
    lag = max(last.end - last.committed, 0)
    trend = lag_trend(points, tolerance)
    consume, produce = rates(points)
    eta = eta_seconds(lag, consume, produce)
    stood, grew = stall(points) if len(points) >= 2 else (0.0, False)
    if lag > 0 and has_members is False:
        status = Status.STOP
    elif stood >= stall_seconds:
        status = Status.ERR if grew else Status.STALL
    elif any(b.committed < a.committed for a, b in zip(points, points[1:], strict=False)):
        status = Status.REWIND
    elif trend is Trend.GROWING:
        status = Status.WARN
    else:
        status = Status.OK
    return Verdict(status, trend, consume, produce, eta)


def judge_still(lag: int, span: float, *, has_members: bool | None,
                stall_seconds: float, samples: int) -> Verdict:
    """`judge` for a partition whose committed and end offsets did not change at all across
    `samples` snapshots spanning `span` seconds (the common case, computed without points)."""
    if samples < 2 or span <= 0:
        return Verdict(
            Status.STOP if lag > 0 and has_members is False else Status.OK,
            None, None, None, 0.0 if lag == 0 else None,
        )
    if lag > 0 and has_members is False:
        status = Status.STOP
    elif lag > 0 and span >= stall_seconds:
        status = Status.STALL
    else:
        status = Status.OK
    return Verdict(status, Trend.STEADY, 0.0, 0.0, 0.0 if lag == 0 else None)


def trend_of(trends: Iterable[Trend | None]) -> Trend | None:
    """A group's or topic's trend: growing if any partition grows, else draining if any
    drains, else steady; None when no partition has one."""
    seen = set(trends)
    for t in (Trend.GROWING, Trend.DRAINING, Trend.STEADY):
        if t in seen:
            return t
    return None


def eta_of(etas: Iterable[float | None], lags: Iterable[int | None]) -> float | None:
    """A group's ETA: the slowest partition's, so one hot partition is not hidden by the
    average; None when any lagging partition is not catching up."""
    out = 0.0
    for eta, lag in zip(etas, lags, strict=True):
        if lag is None or lag == 0:
            continue
        if eta is None:
            return None
        out = max(out, eta)
    return out


# ---------------------------------------------------------------- words for people


def age(seconds: float | None) -> str:
    """A lag in seconds as people read it: 0s, 45s, 3m04s, 2h05m, 3d04h; "-" when unknown."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def eta_text(eta: float | None, lag: int | None, trend: Trend | None) -> str:
    """Time to catch up: "caught up", "3m04s", "not catching up" (lag growing), "keeping
    pace" (consuming as fast as records arrive, so the small lag neither grows nor closes);
    "-" when unknown (no lag known, or a single snapshot so no rates yet)."""
    if lag is None:
        return "-"
    if lag == 0:
        return "caught up"
    if trend is None:
        return "-"
    if eta is not None:
        return age(eta)
    return "not catching up" if trend is Trend.GROWING else "keeping pace"
