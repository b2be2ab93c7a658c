"""Times people type for where a read starts: `parse_time` (`10m` ago, an ISO time, epoch
milliseconds) to epoch milliseconds, refused with a one-line UsageError when it cannot be read
or is out of range. Pure.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from kafkaops.core.errors import UsageError

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*(?:ago)?\s*$")
_AGO_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


#: the last millisecond of the year 9999: later times are typing mistakes (and overflow
#: the 64-bit timestamps of the Kafka protocol)
MAX_TIME_MS = 253_402_300_799_999


def parse_time(text: str, *, now_ms: int | None = None) -> int:
    """`10m` / `2h` / `1d` (that long ago), an ISO time (`2026-11-25T14:00:00Z`,
    `2026-11-25 14:00`; without a zone it is local time) or epoch milliseconds -> epoch ms."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    shown = text if len(text) <= 40 else text[:39] + "…"
    m = _AGO.match(text)
    t = text.strip()
    try:
        if m:
            ms = now_ms - int(float(m.group(1)) * _AGO_UNITS[m.group(2)] * 1000)
        elif t.isdigit() and 10 <= len(t) <= 30:
            ms = int(t) if len(t) >= 13 else int(t) * 1000
        else:
            dt = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.astimezone()  # local time, as `date` would read it
            ms = int(dt.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise UsageError(
            f"cannot read time {shown!r}: use a duration ago (10m, 2h, 1d) or an ISO time "
            "such as 2026-11-25T14:00:00Z"
        ) from None
    if not 0 <= ms <= MAX_TIME_MS:
        raise UsageError(f"time {shown!r} is out of range: give a time between 1970 and 9999")
    return ms
