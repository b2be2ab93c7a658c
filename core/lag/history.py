"""The recent snapshots of each group that lag statuses are judged on, and hysteresis.

`LagHistory` keeps, per group, the snapshots inside the policy's window (thinned), the
total-lag series sparklines draw and each partition's shown status; `judge_samples` judges
one partition over those snapshots with the rules of core/lag/status.py.

Hysteresis (`settle`): once warmed up, a partition's shown status changes only when the
evidence for the change holds for `LagPolicy.hold` seconds of evaluations in a row: every
status seen meanwhile worse than the shown one (then the mildest of them is shown), or every
one better (then the worst of them). A consumer hovering at a threshold no longer flaps
WARN -> ERR -> OK -> WARN. DATA_LOSS and UNKNOWN (nothing to judge) show at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from kafkaops.core.lag.status import LagPolicy, Point, Status, Verdict, judge, judge_still


class Sample(NamedTuple):
    at: float
    """Snapshot time (epoch seconds)."""
    has_members: bool | None
    """The group had members then (None: not known)."""
    partitions: tuple[tuple[str, int], ...]
    """(topic, partition) in a fixed order, shared by consecutive samples when unchanged."""
    committed: tuple[int, ...]
    """Committed offset per partition, -1 when none."""
    end: tuple[int, ...]
    """Log end offset per partition, -1 when unknown."""


class Settled(NamedTuple):
    """A partition's shown status and the evidence gathered against it (see `settle`)."""

    shown: Status
    """The status shown."""
    since: float | None = None
    """When the raw verdict first differed from it, continuously (None: it does not)."""
    mildest: Status | None = None
    """The mildest raw verdict seen since then."""
    worst: Status | None = None
    """The worst raw verdict seen since then."""


def settle(prev: Settled | None, raw: Status, at: float, hold: float) -> Settled:
    """Hysteresis for one partition (see the module docstring): the status to show now,
    given the one shown before and the raw verdict of this evaluation. The evidence is the
    run of evaluations since the raw verdict last moved to the other side of the shown
    status (worse / better); a run on one side for `hold` seconds changes what is shown."""
    if not raw.judged or raw is Status.DATA_LOSS or prev is None or not prev.shown.judged:
        return Settled(raw)
    shown = prev.shown
    if raw is shown:
        return Settled(shown)
    mildest: Status
    worst_: Status
    worse = raw.severity > shown.severity
    run_worse = prev.mildest is not None and prev.mildest.severity > shown.severity
    if prev.since is None or prev.mildest is None or prev.worst is None or worse != run_worse:
        since, mildest, worst_ = at, raw, raw  # a new run of evidence starts here
    else:
        since = prev.since
        mildest = raw if raw.severity < prev.mildest.severity else prev.mildest
        worst_ = raw if raw.severity > prev.worst.severity else prev.worst
    if at - since >= hold:
        if mildest.severity > shown.severity:
            return Settled(mildest) if mildest is raw else Settled(mildest, at, raw, raw)
        if worst_.severity < shown.severity:
            return Settled(worst_) if worst_ is raw else Settled(worst_, at, raw, raw)
    return Settled(shown, since, mildest, worst_)


class LagHistory:
    """The recent snapshots of each group: what status is judged on, and the total lag
    sparklines draw. Pure bookkeeping, no I/O; bounded by the policy's window, sample count,
    history and sparkline sizes."""

    def __init__(self, policy: LagPolicy | None = None) -> None:
        self.policy = policy or LagPolicy()
        self._samples: dict[str, deque[Sample]] = {}
        self._series: dict[str, deque[tuple[float, int | None]]] = {}
        #: per group, per (topic, partition): the shown status and the evidence against it
        self._settled: dict[str, dict[tuple[str, int], Settled]] = {}

    def settled(self, group: str) -> dict[tuple[str, int], Settled]:
        """The group's hysteresis state, to be read and written by the caller."""
        return self._settled.setdefault(group, {})

    def add(self, group: str, sample: Sample, total_lag: int | None) -> list[Sample]:
        """Record a snapshot of `group`; return the samples to judge it on: those inside
        the window with the same partitions as this one, oldest first, this one last."""
        pol = self.policy
        samples = self._samples.setdefault(group, deque())
        if samples and samples[-1].partitions == sample.partitions:
            sample = sample._replace(partitions=samples[-1].partitions)  # share the tuple
        # thinned to about one per window/max_samples, closer while warming up so that
        # min_samples can be had within the warm-up
        spacing = pol.window / pol.max_samples
        if pol.warmup > 0 and pol.min_samples > 1:
            spacing = min(spacing, pol.warmup / (pol.min_samples - 1))
        if len(samples) >= 2 and sample.at - samples[-2].at < spacing:
            samples[-1] = sample
        else:
            samples.append(sample)
        while samples and samples[0].at < sample.at - pol.window:
            samples.popleft()
        while len(samples) > 4 * pol.max_samples:  # bounded whatever the polling rate
            samples.popleft()
        _thin(self._series.setdefault(group, deque()), (sample.at, total_lag),
              pol.history, pol.history / pol.sparkline_points)
        aligned: list[Sample] = []
        for s in reversed(samples):
            if s.partitions is not sample.partitions and s.partitions != sample.partitions:
                break
            aligned.append(s)
        aligned.reverse()
        return aligned

    def series(self, group: str) -> list[tuple[float, int | None]]:
        """(time, total lag) of the group over the recent history, oldest first."""
        return list(self._series.get(group, ()))

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the history of groups not in `keep` (groups deleted from the cluster)."""
        keep_set = set(keep)
        for name in [g for g in self._samples if g not in keep_set]:
            del self._samples[name]
            self._series.pop(name, None)
            self._settled.pop(name, None)

    def groups(self) -> list[str]:
        return sorted(self._samples)


def _thin(points: deque[tuple[float, int | None]], point: tuple[float, int | None],
          horizon: float, spacing: float) -> None:
    if len(points) >= 2 and point[0] - points[-2][0] < spacing:
        points[-1] = point
    else:
        points.append(point)
    while points and points[0][0] < point[0] - horizon:
        points.popleft()


def judge_samples(samples: Sequence[Sample], index: int, *,
                  stall_seconds: float, tolerance: float = 0.0) -> Verdict | None:
    """Judge partition `index` of the latest sample over `samples` (as `LagHistory.add`
    returns them). None when the latest sample has no committed offset or end for it."""
    last = samples[-1]
    c, e = last.committed[index], last.end[index]
    if c < 0 or e < 0:
        return None
    if len(samples) == 1:
        return judge_still(max(e - c, 0), 0.0, has_members=last.has_members,
                           stall_seconds=stall_seconds, samples=1)
    points = [
        Point(s.at, s.committed[index], s.end[index])
        for s in samples
        if s.committed[index] >= 0 and s.end[index] >= 0
    ]
    return judge(points, has_members=last.has_members, stall_seconds=stall_seconds,
                 tolerance=tolerance)
