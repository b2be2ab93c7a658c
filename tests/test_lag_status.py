"""The lag maths as tables: one snapshot (lag, no offset, data loss, lag in seconds), the
status of a partition over a window of snapshots (OK, WARN, ERR, STOP, STALL, REWIND),
trend, rates and ETA, roll-ups, the history kept per group, and the words people read."""

from __future__ import annotations

import pytest

from kafkaops.core.lag.history import LagHistory, Sample, judge_samples
from kafkaops.core.lag.status import (
    WINDOW_ONLY,
    LagPolicy,
    PartitionState,
    Point,
    Status,
    Trend,
    age,
    classify,
    eta_of,
    eta_seconds,
    eta_text,
    judge,
    judge_single,
    judge_still,
    lag_seconds,
    lag_trend,
    rates,
    stalled_for,
    trend_of,
    worst,
)

S = PartitionState


@pytest.mark.parametrize(
    ("committed", "log_start", "end", "expected"),
    [
        (5, 0, 30, (S.OK, 25, None)),
        (30, 0, 30, (S.OK, 0, None)),
        (0, 0, 0, (S.OK, 0, None)),
        (None, 0, 30, (S.NO_OFFSET, None, None)),  # never committed: no lag, not lag = end
        (-1, 0, 30, (S.NO_OFFSET, None, None)),
        (3, 10, 30, (S.DATA_LOSS, None, 7)),  # below log start: no lag claimed
        (10, 10, 30, (S.OK, 20, None)),
        (5, -1, 30, (S.OK, 25, None)),  # log start not reported: data loss cannot be told
        (5, None, 30, (S.OK, 25, None)),
        (40, 0, 30, (S.AHEAD, None, None)),
        (5, 0, None, (S.END_UNKNOWN, None, None)),
        (5, 0, -1, (S.END_UNKNOWN, None, None)),
        (None, 0, None, (S.NO_OFFSET, None, None)),
    ],
)
def test_classify(committed, log_start, end, expected):
    assert classify(committed, log_start, end) == expected


@pytest.mark.parametrize(
    ("lag", "record_ts", "now_ms", "expected"),
    [
        (0, None, 10_000.0, 0.0),  # caught up: 0 s, whatever the timestamps
        (0, 1_000, 10_000.0, 0.0),
        (5, 4_000, 10_000.0, 6.0),
        (5, 10_000, 10_000.0, 0.0),
        (5, 12_000, 10_000.0, 0.0),  # producer clock ahead of ours: not negative
        (5, None, 10_000.0, None),  # timestamp not read: unknown, not 0
        (5, -1, 10_000.0, None),  # record without a timestamp
        (None, 4_000, 10_000.0, None),  # no lag (no offset, data loss): no time lag
    ],
)
def test_lag_seconds(lag, record_ts, now_ms, expected):
    assert lag_seconds(lag, record_ts, now_ms) == expected


@pytest.mark.parametrize(
    ("state", "lag", "has_members", "expected"),
    [
        (S.OK, 0, True, Status.OK),
        (S.OK, 0, False, Status.OK),  # stopped but caught up
        (S.OK, 7, True, Status.OK),  # one snapshot cannot tell growth
        (S.OK, 7, False, Status.STOP),  # lag and nobody to consume it
        (S.OK, 7, None, Status.OK),  # members unknown: no STOP claimed
        (S.DATA_LOSS, None, True, Status.DATA_LOSS),
        (S.DATA_LOSS, None, False, Status.DATA_LOSS),
        (S.NO_OFFSET, None, True, Status.UNKNOWN),
        (S.AHEAD, None, True, Status.UNKNOWN),
        (S.END_UNKNOWN, None, False, Status.UNKNOWN),
    ],
)
def test_judge_single(state, lag, has_members, expected):
    assert judge_single(state, lag, has_members) is expected


def pts(*rows: tuple[float, int, int]) -> list[Point]:
    return [Point(*r) for r in rows]


# (name, points (t, committed, end), has_members, stall_seconds, status, trend)
WINDOWS = [
    ("caught up throughout", pts((0, 10, 10), (10, 20, 20), (20, 30, 30)), True, 15,
     Status.OK, Trend.STEADY),
    ("idle topic, caught up, not committing", pts((0, 10, 10), (30, 10, 10), (60, 10, 10)),
     True, 15, Status.OK, Trend.STEADY),
    ("keeps up with 5 s auto-commit saw-tooth (phase A)",
     pts((0, 0, 40), (2, 0, 240), (4, 400, 440), (6, 400, 640), (8, 400, 840), (10, 900, 1040)),
     True, 10, Status.OK, Trend.STEADY),
    ("keeps up with 5 s auto-commit saw-tooth (phase B)",
     pts((0, 0, 250), (2, 0, 450), (4, 450, 650), (6, 450, 850), (8, 950, 1050),
         (10, 950, 1250)),
     True, 10, Status.OK, Trend.STEADY),
    ("moving but falling behind", pts((0, 0, 100), (10, 50, 300), (20, 100, 500)), True, 15,
     Status.WARN, Trend.GROWING),
    ("falling behind seen twice (CLI window of two snapshots)",
     pts((0, 0, 100), (10, 50, 300)), True, 15, Status.WARN, Trend.GROWING),
    ("draining a backlog", pts((0, 0, 1000), (10, 300, 1100), (20, 600, 1200)), True, 15,
     Status.OK, Trend.DRAINING),
    ("stuck while records arrive", pts((0, 50, 100), (10, 50, 150), (20, 50, 200)), True, 15,
     Status.ERR, Trend.GROWING),
    ("stuck, one record arrived at the end", pts((0, 50, 100), (10, 50, 100), (20, 50, 101)),
     True, 15, Status.ERR, Trend.GROWING),
    ("stuck, nothing new arriving", pts((0, 50, 100), (10, 50, 100), (20, 50, 100)), True, 15,
     Status.STALL, Trend.STEADY),
    ("stuck but not for long enough yet", pts((0, 50, 100), (5, 50, 100), (10, 50, 100)),
     True, 15, Status.OK, Trend.STEADY),
    ("records just arrived after idling: growing, not stalled",
     pts((0, 50, 50), (10, 50, 50), (20, 50, 60)), True, 15, Status.WARN, Trend.GROWING),
    ("no members, lag behind it", pts((0, 50, 100), (10, 50, 100)), False, 15,
     Status.STOP, Trend.STEADY),
    ("no members, lag growing", pts((0, 50, 100), (10, 50, 150), (20, 50, 200)), False, 15,
     Status.STOP, Trend.GROWING),
    ("no members, caught up", pts((0, 50, 50), (10, 50, 50)), False, 15,
     Status.OK, Trend.STEADY),
    ("offset reset backwards", pts((0, 80, 100), (10, 90, 100), (20, 20, 100)), True, 15,
     Status.REWIND, Trend.GROWING),
    ("rewound, then stuck there: stuck matters more", pts((0, 90, 100), (10, 20, 100),
                                                         (30, 20, 100)), True, 15,
     Status.STALL, Trend.STEADY),
    ("single snapshot, members", pts((0, 50, 100)), True, 15, Status.OK, None),
    ("single snapshot, no members", pts((0, 50, 100)), False, 15, Status.STOP, None),
]


@pytest.mark.parametrize(("name", "points", "members", "stall", "status", "trend"), WINDOWS,
                         ids=[w[0] for w in WINDOWS])
def test_judge_window(name, points, members, stall, status, trend):
    verdict = judge(points, has_members=members, stall_seconds=stall)
    assert (verdict.status, verdict.trend) == (status, trend)


# (name, points, tolerance seconds, status, trend): producers write 10 records/s
TOLERANCE = [
    ("keeps up, lag jitters by a second of records: not growing",
     pts((0, 100, 100), (2, 115, 120), (4, 130, 140), (6, 145, 160)), 5, Status.OK,
     Trend.STEADY),
    ("the same jitter with no tolerance reads as growing",
     pts((0, 100, 100), (2, 115, 120), (4, 130, 140), (6, 145, 160)), 0, Status.WARN,
     Trend.GROWING),
    ("falls behind by more than 5 s of records", pts((0, 100, 100), (30, 200, 400),
                                                     (60, 300, 700)), 5, Status.WARN,
     Trend.GROWING),
    ("stuck: any growth counts, no commit jitter to absorb",
     pts((0, 100, 110), (10, 100, 120), (20, 100, 130)), 5, Status.ERR, Trend.GROWING),
]


@pytest.mark.parametrize(("name", "points", "tolerance", "status", "trend"), TOLERANCE,
                         ids=[t[0] for t in TOLERANCE])
def test_growth_tolerance(name, points, tolerance, status, trend):
    verdict = judge(points, has_members=True, stall_seconds=15, tolerance=tolerance)
    assert (verdict.status, verdict.trend) == (status, trend)


@pytest.mark.parametrize("steps", [2, 3, 5, 12])
@pytest.mark.parametrize("deficit", [1, 7, 100])
def test_growing_lag_is_never_ok(steps, deficit):
    """Whatever the window's length, a consumer slower than its producers (with no
    tolerance for commit jitter), or one that stopped, is never OK."""
    moving = pts(*[(t * 10.0, t * 100, t * (100 + deficit) + 5) for t in range(steps)])
    stopped = pts(*[(t * 10.0, 7, 7 + t * deficit + 1) for t in range(steps)])
    assert judge(moving, has_members=True, stall_seconds=60).status is Status.WARN
    for members in (True, False):
        verdict = judge(stopped, has_members=members, stall_seconds=10)
        assert verdict.status is not Status.OK


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (pts((0, 0, 10)), None),
        (pts((0, 0, 10), (0, 0, 20)), None),  # no time passed
        (pts((0, 0, 10), (10, 0, 20)), Trend.GROWING),
        (pts((0, 0, 20), (10, 10, 20)), Trend.DRAINING),
        (pts((0, 0, 10), (10, 10, 20)), Trend.STEADY),
        (pts((0, 0, 10), (5, 0, 30), (10, 20, 30)), Trend.STEADY),  # middle does not count
    ],
)
def test_lag_trend(points, expected):
    assert lag_trend(points) is expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (pts((0, 0, 10)), (None, None)),
        (pts((0, 0, 100), (10, 50, 300)), (5.0, 20.0)),
        (pts((0, 0, 100), (10, 0, 100)), (0.0, 0.0)),
        # after a rewind consumption is measured from the rewind on
        (pts((0, 90, 100), (10, 20, 100), (20, 60, 100)), (4.0, 0.0)),
    ],
)
def test_rates(points, expected):
    assert rates(points) == expected


@pytest.mark.parametrize(
    ("lag", "consume", "produce", "expected"),
    [
        (0, None, None, 0.0),
        (0, 1.0, 5.0, 0.0),
        (100, None, None, None),
        (100, 10.0, 5.0, 20.0),
        (100, 5.0, 5.0, None),  # keeps pace, never catches up
        (100, 1.0, 5.0, None),
        (100, 0.0, 0.0, None),
    ],
)
def test_eta_seconds(lag, consume, produce, expected):
    assert eta_seconds(lag, consume, produce) == expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (pts((0, 5, 5)), 0.0),
        (pts((0, 5, 10), (10, 5, 10), (25, 5, 12)), 25.0),
        (pts((0, 4, 10), (10, 5, 10), (25, 5, 12)), 15.0),  # moved at t=10
        (pts((0, 5, 5), (10, 5, 5), (25, 5, 12)), 0.0),  # waited only from t=25
        (pts((0, 5, 5), (10, 5, 8), (25, 5, 12)), 15.0),
        (pts((0, 5, 10), (10, 6, 10)), 0.0),
    ],
)
def test_stalled_for(points, expected):
    assert stalled_for(points) == expected


@pytest.mark.parametrize(
    ("lag", "span", "members", "samples", "status", "eta"),
    [
        (0, 0.0, True, 1, Status.OK, 0.0),
        (5, 0.0, True, 1, Status.OK, None),
        (5, 0.0, False, 1, Status.STOP, None),
        (5, 100.0, True, 3, Status.STALL, None),
        (5, 10.0, True, 3, Status.OK, None),
        (5, 100.0, False, 3, Status.STOP, None),
        (0, 100.0, True, 3, Status.OK, 0.0),
    ],
)
def test_judge_still_matches_judge(lag, span, members, samples, status, eta):
    verdict = judge_still(lag, span, has_members=members, stall_seconds=60, samples=samples)
    assert (verdict.status, verdict.eta_seconds) == (status, eta)
    if samples > 1:  # the shortcut and the full judgement agree
        points = [Point(span * i / (samples - 1), 10, 10 + lag) for i in range(samples)]
        full = judge(points, has_members=members, stall_seconds=60)
        assert (full.status, full.trend, full.eta_seconds) == (status, verdict.trend, eta)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.UNKNOWN),
        ([Status.OK], Status.OK),
        ([Status.OK, Status.UNKNOWN], Status.UNKNOWN),
        ([Status.OK, Status.WARN, Status.REWIND], Status.REWIND),
        ([Status.STALL, Status.STOP], Status.STOP),
        ([Status.STOP, Status.ERR], Status.ERR),
        ([Status.ERR, Status.DATA_LOSS, Status.OK], Status.DATA_LOSS),
    ],
)
def test_worst(statuses, expected):
    assert worst(statuses) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ERR", Status.ERR), ("stop", Status.STOP), (" warn ", Status.WARN),
     ("data loss", Status.DATA_LOSS), ("data-loss", Status.DATA_LOSS),
     ("DATA_LOSS", Status.DATA_LOSS), ("loss", Status.DATA_LOSS)],
)
def test_status_parse(text, expected):
    assert Status.parse(text) is expected


@pytest.mark.parametrize("text", ["", "BAD", "ERROR", "O K"])
def test_status_parse_rejects(text):
    with pytest.raises(ValueError, match="unknown lag status"):
        Status.parse(text)


def test_window_only_statuses():
    assert {Status.WARN, Status.ERR, Status.STALL, Status.REWIND} == WINDOW_ONLY
    assert Status.DATA_LOSS.label == "DATA LOSS" and Status.ERR.label == "ERR"


@pytest.mark.parametrize(
    ("trends", "expected"),
    [([], None), ([None], None), ([Trend.STEADY, None], Trend.STEADY),
     ([Trend.STEADY, Trend.DRAINING], Trend.DRAINING),
     ([Trend.DRAINING, Trend.GROWING, Trend.STEADY], Trend.GROWING)],
)
def test_trend_of(trends, expected):
    assert trend_of(trends) is expected


@pytest.mark.parametrize(
    ("etas", "lags", "expected"),
    [
        ([], [], 0.0),
        ([0.0, 0.0], [0, 0], 0.0),
        ([10.0, 300.0], [5, 7], 300.0),  # the hot partition, not the average
        ([10.0, None], [5, 7], None),  # one partition not catching up
        ([10.0, None], [5, 0], 10.0),
        ([10.0, None], [5, None], 10.0),  # no-offset partitions do not count
    ],
)
def test_eta_of(etas, lags, expected):
    assert eta_of(etas, lags) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(None, "-"), (0, "0s"), (0.9, "0s"), (45, "45s"), (60, "1m00s"), (184, "3m04s"),
     (7500, "2h05m"), (86400 * 3 + 3600 * 4 + 5, "3d04h")],
)
def test_age(seconds, expected):
    assert age(seconds) == expected


@pytest.mark.parametrize(
    ("eta", "lag", "trend", "expected"),
    [(None, None, None, "-"), (None, 0, None, "caught up"), (None, 5, None, "-"),
     (None, 5, Trend.GROWING, "not catching up"), (184.0, 5, Trend.DRAINING, "3m04s"),
     (None, 5, Trend.STEADY, "keeping pace"), (None, 5, Trend.DRAINING, "keeping pace")],
)
def test_eta_text(eta, lag, trend, expected):
    assert eta_text(eta, lag, trend) == expected


def sample(at: float, committed: tuple[int, ...], end: tuple[int, ...], *,
           members: bool | None = True, parts: tuple[tuple[str, int], ...] | None = None
           ) -> Sample:
    parts = parts or tuple(("t", i) for i in range(len(committed)))
    return Sample(at, members, parts, committed, end)


def test_history_window_thinning_and_alignment():
    history = LagHistory(LagPolicy(window=60, max_samples=6, history=120, sparkline_points=4))
    for t in range(0, 100, 2):  # a snapshot every 2 s; spacing is 60/6 = 10 s
        judged = history.add("g", sample(float(t), (t,), (t + 5,)), 5)
    times = [s.at for s in judged]
    assert times[-1] == 98.0 and times[0] >= 98 - 60
    # kept snapshots are a spacing apart, less one snapshot interval; the newest is extra
    assert all(b - a >= 10 - 2 for a, b in zip(times, times[1:-1], strict=False))
    assert len(judged) <= 60 // 8 + 2
    # a partition added: the window starts again from that snapshot
    judged = history.add("g", sample(100.0, (100, 0), (105, 3)), 8)
    assert len(judged) == 1
    series = history.series("g")
    assert series[-1] == (100.0, 8) and len(series) <= 5 and series[0][0] >= 100 - 120
    history.forget(["other"])
    assert history.series("g") == [] and history.groups() == []


def test_judge_samples_uses_the_aligned_window():
    samples = [sample(0.0, (50, -1), (100, 10)), sample(10.0, (50, -1), (150, 10)),
               sample(20.0, (50, 3), (200, 10))]
    verdict = judge_samples(samples, 0, stall_seconds=15)
    assert verdict is not None and verdict.status is Status.ERR
    # partition 1 has a committed offset only in the last snapshot: judged on that one
    verdict = judge_samples(samples, 1, stall_seconds=15)
    assert verdict is not None and verdict.status is Status.OK and verdict.trend is None
    assert judge_samples([sample(0.0, (-1,), (10,))], 0, stall_seconds=15) is None


@pytest.mark.parametrize(
    "kwargs", [{"window": 0}, {"stall_seconds": -1}, {"history": 0}, {"max_samples": 1},
               {"sparkline_points": 1}, {"growth_tolerance": -1}],
)
def test_policy_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        LagPolicy(**kwargs)
