"""Usage arithmetic: bytes of offset ranges from the batches read, sums per team, movers.
Pure: no I/O.

A range of a partition's log is measured exactly where every batch of it was read, and
estimated elsewhere: the records not read times the bytes per record of the batches that
were sampled from that part of the log (else from the whole partition), with the ratio
estimator's 95% interval. Sums add values and combine errors as independent (root of the
sum of squares).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from kafkaops.core.usage.batches import SizeEstimate, estimate
from kafkaops.core.usage.logread import LogRead
from kafkaops.core.usage.model import Amount, Mover, Source, TeamUsage, TopicUsage
from kafkaops.core.usage.teams import UNOWNED

EXACT = "every batch read"


def range_amounts(read: LogRead, lo: int, hi: int, fallback: SizeEstimate | None
                  ) -> tuple[Amount, Amount]:
    """(stored bytes, uncompressed payload) of the records at offsets [lo, hi)."""
    if hi <= lo:
        return Amount.zero(), Amount.zero()
    inside = read.in_range(lo, hi)
    whole = [b for b in inside if read.complete(b.base_offset, b.last_offset + 1)]
    stored = float(sum(b.stored_bytes for b in whole))
    payload: float | None = float(sum(b.payload_bytes or 0 for b in whole))
    if any(b.payload_bytes is None for b in whole if not b.control):
        payload = None
    rest = (hi - lo) - read.covered_in(lo, hi)
    if rest <= 0:
        return (Amount(stored, 0.0, "log", EXACT),
                Amount(payload, 0.0 if payload is not None else math.inf,
                       "log" if payload is not None else "unknown",
                       EXACT if payload is not None else "some batch could not be opened"))
    sample = estimate(inside, complete=False)
    if sample.batches < 2 and fallback is not None and fallback.batches > sample.batches:
        sample = fallback
    bpr = sample.bytes_per_record
    if bpr is None:
        why = "no batch of it could be read"
        return Amount.unknown(why), Amount.unknown(why)
    extra = rest * bpr
    detail = (f"{rest:,} of {hi - lo:,} records estimated from {sample.batches:,} "
              f"batch{'es' if sample.batches != 1 else ''} sampled")
    out_stored = Amount(stored + extra, extra * sample.relative_error, "log", detail)
    ppr = sample.payload_per_record
    if payload is None or ppr is None:
        out_payload = Amount.unknown("some batch could not be opened")
    else:
        pextra = rest * ppr
        out_payload = Amount(payload + pextra, pextra * sample.relative_error, "log", detail)
    return out_stored, out_payload


def add(amounts: Iterable[Amount]) -> Amount:
    """The sum of several amounts (unknown when one is)."""
    items = [a for a in amounts if a.source != "none"]
    if not items:
        return Amount.zero()
    if any(a.value is None for a in items):
        reasons = sorted({a.detail for a in items if a.value is None})
        return Amount.unknown("; ".join(reasons))
    value = sum(a.value or 0.0 for a in items)
    if any(math.isinf(a.error) for a in items):
        error = math.inf
    else:
        error = math.sqrt(sum(a.error ** 2 for a in items))
    sources = {a.source for a in items}
    source: Source = next(iter(sources)) if len(sources) == 1 else "log"
    estimated = sum(1 for a in items if a.error > 0)
    detail = (EXACT if not estimated
              else f"estimated in {estimated} of {len(items)} partition"
                   f"{'s' if len(items) != 1 else ''} (sampled batches)")
    if "log-dirs" in sources:
        detail = "log-dir sizes from the broker" if len(sources) == 1 else detail
    return Amount(value, error, source, detail)


def scale(amount: Amount, factor: float) -> Amount:
    if amount.value is None:
        return amount
    return Amount(amount.value * factor, amount.error * factor, amount.source, amount.detail)


def teams_of(topics: Sequence[TopicUsage], channels: Mapping[str, str | None],
             team_order: Sequence[str]) -> tuple[TeamUsage, ...]:
    """Per-team sums: every configured team (even with no topic), biggest bytes in first,
    then "unowned" last when some topic is."""
    by: dict[str, list[TopicUsage]] = {t: [] for t in team_order}
    for t in topics:
        by.setdefault(t.team, []).append(t)
    out: list[TeamUsage] = []
    for team, mine in by.items():
        if team == UNOWNED and not mine:
            continue
        width = max((len(t.buckets) for t in mine), default=0)
        buckets = tuple(sum(t.buckets[i] for t in mine if len(t.buckets) == width)
                        for i in range(width))
        out.append(TeamUsage(
            team=team, channel=channels.get(team), topics=len(mine),
            members=tuple(t.topic for t in mine),
            records_in=sum(t.records_in for t in mine),
            bytes_in=add(t.bytes_in for t in mine),
            payload_in=add(t.payload_in for t in mine),
            bytes_stored=add(t.bytes_stored for t in mine),
            bytes_stored_replicated=add(scale(t.bytes_stored, t.replication_factor)
                                        for t in mine),
            records_in_previous=sum(t.records_in_previous for t in mine),
            bytes_in_previous=add(t.bytes_in_previous for t in mine),
            buckets=buckets,
        ))
    out.sort(key=lambda t: (t.team == UNOWNED, -(t.bytes_in.value or 0.0), t.team))
    return tuple(out)


def movers(topics: Sequence[TopicUsage], teams: Sequence[TeamUsage], *, top: int = 5
           ) -> tuple[Mover, ...]:
    """The topics and teams whose bytes in changed most against the window before (by the
    size of the change), the biggest first; unknown amounts and no change left out."""
    items: list[Mover] = []
    for t in teams:
        if t.bytes_in.value is not None and t.bytes_in_previous.value is not None:
            items.append(Mover("team", t.team, t.bytes_in_previous.value, t.bytes_in.value))
    for tu in topics:
        if tu.bytes_in.value is not None and tu.bytes_in_previous.value is not None:
            items.append(Mover("topic", tu.topic, tu.bytes_in_previous.value, tu.bytes_in.value))
    items = [m for m in items if m.change != 0]
    items.sort(key=lambda m: (-abs(m.change), m.kind, m.name))
    teams_top = [m for m in items if m.kind == "team"][:top]
    topics_top = [m for m in items if m.kind == "topic"][:top]
    return tuple(teams_top + topics_top)


def human_bytes(n: float | None) -> str:
    """1,234 B, 12.3 kB, 4.56 MB, 1.20 GB (powers of 1000, as the prices are)."""
    if n is None:
        return "unknown"
    if math.isinf(n):
        return "∞"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            v = n / size
            return f"{v:.3g} {unit}" if v < 100 else f"{v:,.0f} {unit}"
    return f"{n:,.0f} B"


def shown(amount: Amount) -> str:
    """An amount with its interval when it is an estimate: `4.56 MB ±3%`."""
    if amount.value is None:
        return "unknown"
    text = human_bytes(amount.value)
    if amount.error == 0 or not amount.value:
        return text
    if math.isinf(amount.error):
        return f"{text} ±?"
    share = amount.error / amount.value
    if share < 0.001:
        return f"{text} ±<0.1%"  # an estimate still, however close
    return f"{text} ±{share:.1%}" if share < 0.01 else f"{text} ±{share:.0%}"
