"""DR's pure rules: where replication stands, the RPO estimate and the verdicts every face
shows, in words. No I/O.

- `replication_position`, `lag_messages`, `lag_seconds`: from end offsets and MM2's newest
  offset sync (docs/mm2-formats.md), never extrapolated;
- `rpo_estimate` (and `FROM_LAG`, the basis measured on the data), `rpo_verdict`,
  `heartbeat_verdict`: OK only when measured; unknown or unconfirmed otherwise;
- `signals`: a status as the alert rules see it;
- `fmt_age`, `answer_text`: how every face says an age and whether a cluster answered.
"""

from __future__ import annotations

import time
from typing import Literal

from kafkaops.core.dr.mm2_formats import OffsetSync
from kafkaops.core.dr.model import ClusterAnswer, DrSignals, DrStatus


def signals(s: DrStatus) -> DrSignals:
    """The alert view of a status: `lag_beyond_rpo` and `heartbeat_stale` are the two
    conditions the DR alert rules fire on."""
    stale: bool | None
    if not s.target_reachable:
        stale = None
    else:
        stale = s.heartbeat_age_seconds is None or s.heartbeat_age_seconds > s.rpo_seconds
    return DrSignals(
        pair=s.pair, source=s.source, target=s.target, rpo_seconds=s.rpo_seconds,
        replication_lag_seconds=s.max_lag_seconds, replication_lag_messages=s.max_lag_messages,
        heartbeat_age_seconds=s.heartbeat_age_seconds,
        rpo_estimate_seconds=s.rpo_estimate_seconds,
        lag_beyond_rpo=None if s.rpo_ok is None else not s.rpo_ok,
        heartbeat_stale=stale, source_reachable=s.source_reachable,
        target_reachable=s.target_reachable,
    )


def replication_position(
    source_start: int, source_end: int, target_end: int | None, last_sync: OffsetSync | None
) -> tuple[int | None, Literal["offset-sync", "end-offsets", "none"]]:
    """The next source offset the target does not have yet.

    With an offset sync (u -> d) and the target's end T: u + (T - d), the records after
    the sync being copied one for one; kept within [u, source end]. Without one: the
    target's end offset, as if both logs started together (said so in the status)."""
    if last_sync is not None and target_end is not None:
        pos = last_sync.upstream_offset + max(target_end - last_sync.downstream_offset, 0)
        return min(max(pos, last_sync.upstream_offset), source_end), "offset-sync"
    if target_end is not None:
        return min(max(target_end, source_start), source_end), "end-offsets"
    return None, "none"


def lag_messages(source_start: int, source_end: int, position: int | None) -> int | None:
    """Source records not yet replicated (records deleted before they were are not counted:
    they are gone either way)."""
    if position is None:
        return None
    return max(source_end - max(position, source_start), 0)


def lag_seconds(lag: int | None, oldest_unreplicated_ms: int | None, now_ms: int) -> float | None:
    """0 when nothing is behind, else the age of the oldest record not yet replicated."""
    if lag is None:
        return None
    if lag == 0:
        return 0.0
    if oldest_unreplicated_ms is None:
        return None
    return max(now_ms - oldest_unreplicated_ms, 0) / 1000.0


#: the basis of an RPO estimate measured on the data (every replicated topic's lag)
FROM_LAG = "age of the oldest record not yet replicated"


def rpo_estimate(
    source_reachable: bool, max_lag_secs: float | None, heartbeat_age: float | None
) -> tuple[float | None, str]:
    """(seconds of data at risk, how it was estimated)."""
    if source_reachable and max_lag_secs is not None:
        return max_lag_secs, FROM_LAG
    if heartbeat_age is not None:
        why = "source unreachable" if not source_reachable else "replication lag unknown"
        return heartbeat_age, f"heartbeat age ({why}): anything written since may be lost"
    return None, "unknown: no replication lag and no heartbeat could be read"


def fmt_age(secs: float | None) -> str:
    """Seconds as every face shows them: 0.4s, 12s, 3.5m, 2.1h, 3.0d; "-" when unknown."""
    if secs is None:
        return "-"
    if secs < 10:
        return f"{secs:.1f}s"
    if secs < 120:
        return f"{secs:.0f}s"
    if secs < 7200:
        return f"{secs / 60:.1f}m"
    if secs < 172800:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def _clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


def answer_text(c: ClusterAnswer, now: float | None = None) -> str:
    """How every face says whether a cluster answered: "dr answered 14:03:22", or "dr NO
    ANSWER (…did not answer within 3s…); last answer 14:02:40, 42s ago"."""
    if c.answered:
        return f"{c.cluster} answered" + (f" {_clock(c.at)}" if c.at is not None else "")
    now = time.time() if now is None else now
    last = (f"last answer {_clock(c.at)}, {fmt_age(max(now - c.at, 0.0))} ago"
            if c.at is not None else "no answer since this process started")
    return f"{c.cluster} NO ANSWER ({_reason(c)}); {last}"


def _reason(c: ClusterAnswer) -> str:
    """The error without the cluster's name and the advice (the problems list has both)."""
    text = (c.error or "unreachable").split(" — ", 1)[0]
    for prefix in (f"cluster {c.cluster!r} ", f"cluster {c.cluster!r}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def rpo_verdict(s: DrStatus) -> str:
    """The RPO verdict in words: OK only when both clusters answered and every replicated
    topic's lag was measured. An estimate within the RPO made from the heartbeat age alone
    (a cluster did not answer, or the replication lag is unknown) is UNCONFIRMED, never OK."""
    if s.rpo_ok is None:
        return "UNKNOWN"
    if not s.rpo_ok:
        return "BEYOND RPO"
    down = [c.cluster for c in s.unreachable()]
    if down:
        return f"UNCONFIRMED ({', '.join(down)} unreachable)"
    if s.rpo_basis != FROM_LAG:
        # from the heartbeat alone: the flow is alive, but what its topics hold was not
        # measured (none found replicated, or a topic's lag unknown)
        return "UNCONFIRMED (replication lag unknown)"
    return "OK"


def heartbeat_verdict(s: DrStatus) -> str:
    """The heartbeat verdict in words (the heartbeat is read on the target)."""
    if s.heartbeat_ok is None:
        return "UNKNOWN"
    return "OK" if s.heartbeat_ok else "BEYOND RPO"


def age_seconds(ms: int | None, now_ms: int) -> float | None:
    """Seconds from a record time (ms) to now_ms (None: no record time; never negative)."""
    return None if ms is None else max(now_ms - ms, 0) / 1000.0


