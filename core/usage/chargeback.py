"""The monthly chargeback report: storage and ingress per topic and team, priced. Pure.

From the hourly samples of core/usage/history.py:
- storage: each sample stands for the time until the next one (at most MAX_GAP: a longer
  gap is not billed, and the report says how many hours were sampled). GB-months =
  sum of (bytes of one replica x replicas / 10^9 x hours) / hours in the month.
- ingress: records produced between two samples are the growth of the topic's end offsets
  (exact: offsets count every record, even ones retention deleted since), times the bytes
  per record measured at the later sample; the pair that straddles the month's start is
  prorated by time. A topic whose end offsets went down was recreated: its new end counts.
- cost = quantity x price for each row, rounded to 6 decimals; team and grand totals are
  sums of the rounded rows, so every total adds up to the rows above it. Decimal
  arithmetic throughout, no float rounding in the sums.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from kafkaops.core.usage.history import Sample, TopicSample
from kafkaops.core.usage.teams import UNOWNED, team_of

if TYPE_CHECKING:
    from kafkaops.core.config import CostsConfig, TeamConfig

#: longest time one sample stands for: the hour after it, and a few minutes for the next
#: hourly sample to come late (a missed hour is not billed: the report says so)
MAX_GAP = 3900.0
QTY = Decimal("0.000000001")  # GB to the byte
MONEY = Decimal("0.000001")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_bounds(month: str) -> tuple[float, float]:
    """(start, end) of a UTC calendar month written YYYY-MM; ValueError otherwise."""
    m = _MONTH.match(month)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 1970 <= int(m.group(1)) <= 9999:
        raise ValueError(f"a month is written YYYY-MM, e.g. 2026-11 (got {month!r})")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=UTC)
    days = calendar.monthrange(year, mon)[1]
    return start.timestamp(), start.timestamp() + days * 86400.0


@dataclass(frozen=True)
class BillRow:
    kind: str
    """topic, team (a team's total) or total (the grand total)."""
    team: str
    """Owning team (config's teams now), "unowned", or "" on the total."""
    topic: str
    """Topic name ("" on totals)."""
    replicas: int | None
    """Replication factor (last sampled); None on totals."""
    stored_gb_avg: Decimal
    """Average GB of one replica over the hours sampled."""
    storage_gb_month: Decimal
    """GB-months billed: every replica, over the hours sampled."""
    storage_cost: Decimal
    """storage_gb_month x the storage price."""
    ingress_gb: Decimal
    """GB produced in the month."""
    ingress_cost: Decimal
    """ingress_gb x the ingress price."""
    total_cost: Decimal
    """storage_cost + ingress_cost."""
    estimated: bool = False
    """Some figure of it came from sampled batches (an estimate with an interval)."""


@dataclass(frozen=True)
class Bill:
    month: str
    """YYYY-MM."""
    cluster: str
    """Cluster billed."""
    currency: str
    """Currency of every cost."""
    storage_price: Decimal
    """Per GB-month."""
    ingress_price: Decimal
    """Per GB."""
    rows: tuple[BillRow, ...]
    """Topic rows by team then topic, each team followed by its total, then the total."""
    hours_in_month: Decimal
    """Hours of the month."""
    hours_sampled: Decimal
    """Hours the samples stand for (storage is billed for these only)."""
    samples: int
    """Samples used."""


def _d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def bill(samples: Sequence[Sample], month: str, *, cluster: str,
         teams: Mapping[str, TeamConfig], costs: CostsConfig, now: float | None = None) -> Bill:
    """The month's bill from its samples; `now` ends the last sample's hour early when the
    month is not over (a sample never stands for time that has not come)."""
    start, end = month_bounds(month)
    ordered = sorted((s for s in samples if s.cluster == cluster), key=lambda s: s.at)
    inside = [s for s in ordered if start <= s.at < end]
    before = [s for s in ordered if s.at < start]
    hours_in_month = Decimal(int(end - start)) / 3600
    gb_hours: dict[str, float] = {}
    stored_hours: dict[str, float] = {}
    replicas: dict[str, int] = {}
    ingress: dict[str, float] = {}
    estimated: set[str] = set()
    sampled = 0.0
    for i, s in enumerate(inside):
        nxt = inside[i + 1].at if i + 1 < len(inside) else end
        limit = min(nxt, end, s.at + MAX_GAP, now if now is not None else end)
        span = max(0.0, limit - s.at)
        sampled += span
        for t in s.topics:
            replicas[t.topic] = t.replicas
            gb_hours.setdefault(t.topic, 0.0)
            ingress.setdefault(t.topic, 0.0)
            if t.stored is not None:
                gb_hours[t.topic] += t.stored * t.replicas / 1e9 * span / 3600
                stored_hours[t.topic] = stored_hours.get(t.topic, 0.0) + (
                    t.stored / 1e9 * span / 3600)
            if t.stored_error:
                estimated.add(t.topic)
    chain = ([before[-1]] if before else []) + inside
    for prev, cur in zip(chain, chain[1:], strict=False):
        was = {t.topic: t for t in prev.topics}
        for t in cur.topics:
            grown = _grown(was.get(t.topic), t)
            bpr = t.bytes_per_record
            if not grown or bpr is None:
                continue
            share = 1.0
            if prev.at < start:
                share = (cur.at - start) / (cur.at - prev.at) if cur.at > prev.at else 0.0
            ingress[t.topic] = ingress.get(t.topic, 0.0) + grown * bpr / 1e9 * share
            gb_hours.setdefault(t.topic, 0.0)
            replicas.setdefault(t.topic, t.replicas)
    storage_price = _d(costs.storage_gb_month)
    ingress_price = _d(costs.ingress_gb)
    hours = Decimal(repr(sampled)) / 3600
    rows: list[BillRow] = []
    by_team: dict[str, list[BillRow]] = {name: [] for name in teams}
    for topic in sorted(gb_hours):
        team = team_of(teams, topic)
        gbm = (_d(gb_hours[topic]) / hours_in_month).quantize(QTY, ROUND_HALF_EVEN)
        avg = (_d(stored_hours.get(topic, 0.0)) / hours).quantize(QTY) if hours else Decimal(0)
        ing = _d(ingress.get(topic, 0.0)).quantize(QTY, ROUND_HALF_EVEN)
        s_cost = (gbm * storage_price).quantize(MONEY, ROUND_HALF_EVEN)
        i_cost = (ing * ingress_price).quantize(MONEY, ROUND_HALF_EVEN)
        by_team.setdefault(team, []).append(BillRow(
            "topic", team, topic, replicas.get(topic), avg, gbm, s_cost, ing, i_cost,
            s_cost + i_cost, topic in estimated))
    grand: list[BillRow] = []
    for team in sorted(by_team, key=lambda t: (t == UNOWNED, t)):
        mine = by_team[team]
        if not mine and team == UNOWNED:
            continue
        rows += mine
        total = _total("team", team, mine)
        rows.append(total)
        grand.append(total)
    rows.append(_total("total", "", grand))
    return Bill(month, cluster, costs.currency, storage_price, ingress_price, tuple(rows),
                hours_in_month, hours.quantize(Decimal("0.01")), len(inside))


def _grown(prev: TopicSample | None, cur: TopicSample) -> int:
    if prev is None:
        return 0  # not sampled before: its growth before this sample is not known
    if cur.end < prev.end:
        return cur.end  # recreated (offsets start again from 0)
    return cur.end - prev.end


def _total(kind: str, team: str, rows: Sequence[BillRow]) -> BillRow:
    def s(field: str) -> Decimal:
        exp = MONEY if field.endswith("_cost") else QTY  # a team with no topic: 0.000000
        return sum((getattr(r, field) for r in rows), Decimal(0)).quantize(exp)

    return BillRow(kind, team, "", None, s("stored_gb_avg"), s("storage_gb_month"),
                   s("storage_cost"), s("ingress_gb"), s("ingress_cost"), s("total_cost"),
                   any(r.estimated for r in rows))


CSV_HEADER = ("row", "month", "cluster", "team", "topic", "replicas", "stored_gb_avg",
              "storage_gb_month", "storage_price_per_gb_month", "storage_cost", "ingress_gb",
              "ingress_price_per_gb", "ingress_cost", "total_cost", "currency",
              "hours_sampled", "hours_in_month", "estimated")


def fmt(d: Decimal) -> str:
    """A decimal as plain digits (never 1E-9), as spreadsheets read it."""
    return f"{d:f}"


def csv_rows(b: Bill) -> list[list[str]]:
    """The bill as CSV rows (header first): every figure as the exact decimal that the
    totals sum, so a spreadsheet's SUM() of a column gives the total row."""
    out = [list(CSV_HEADER)]
    for r in b.rows:
        out.append([
            r.kind, b.month, b.cluster, r.team, r.topic,
            "" if r.replicas is None else str(r.replicas), fmt(r.stored_gb_avg),
            fmt(r.storage_gb_month), fmt(b.storage_price), fmt(r.storage_cost),
            fmt(r.ingress_gb), fmt(b.ingress_price), fmt(r.ingress_cost), fmt(r.total_cost),
            b.currency, fmt(b.hours_sampled), fmt(b.hours_in_month.quantize(Decimal("0.01"))),
            "yes" if r.estimated else "no",
        ])
    return out


def to_json(b: Bill) -> dict[str, object]:
    """The bill as JSON data, every decimal as its plain digits (a string: no float
    rounding on the way to a script)."""
    return {
        "month": b.month, "cluster": b.cluster, "currency": b.currency,
        "storage_price_per_gb_month": fmt(b.storage_price),
        "ingress_price_per_gb": fmt(b.ingress_price),
        "hours_in_month": fmt(b.hours_in_month), "hours_sampled": fmt(b.hours_sampled),
        "samples": b.samples,
        "rows": [{"row": r.kind, "team": r.team, "topic": r.topic, "replicas": r.replicas,
                  "stored_gb_avg": fmt(r.stored_gb_avg),
                  "storage_gb_month": fmt(r.storage_gb_month),
                  "storage_cost": fmt(r.storage_cost), "ingress_gb": fmt(r.ingress_gb),
                  "ingress_cost": fmt(r.ingress_cost), "total_cost": fmt(r.total_cost),
                  "estimated": r.estimated} for r in b.rows],
    }
