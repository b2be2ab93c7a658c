"""Event rules: records on a topic become Slack notices, grouped and rate-limited.

    - name: pipeline-failed
      watch: {cluster: primary, topic: cicd.pipeline-events}
      filter: 'status == "failed" and branch == "main"'
      message: "{pipeline} failed on {branch} at {stage}: {url}"
      channel: C0456CICD
      max_per_minute: 6

An `EventWatcher` per rule is a member of the consumer group `<alerts.group>.events.<rule>`,
so with several replicas each record is read by one of them. Records that pass the filter
(the language of `tail --filter`) are rendered with the message template and gathered by
an `EventGrouper`: the first match opens a group, which is published as one `notice`
event on the alerts topic after `alerts.event_window` seconds, with the count of matches
and the distinct messages (a burst of 500 failures is one Slack message saying 500, not
500 messages). At most `max_per_minute` notices a minute leave a rule; matches beyond wait
in the next group. The notifier (AlertDispatcher, core/alerts/notify.py) posts notices
like alerts.

A record's offset is committed only once the notice that counts it is on the alerts topic
(or it did not match): a replica that dies with a group open loses nothing, the next owner
of the partition reads those records again.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafkaops.core.alerts.config import template_fields
from kafkaops.core.alerts.log import AlertLog
from kafkaops.core.alerts.member import GroupMember
from kafkaops.core.alerts.model import NOTICE_EXAMPLES, AlertEvent, EventRule
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.expr.filter import extract
from kafkaops.core.expr.model import RecordLike
from kafkaops.core.kafka.errors import map_kafka_errors

if TYPE_CHECKING:
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.alerts")

#: longest text kept of one field in a rendered message
FIELD_LIMIT = 500


# ---------------------------------------------------------------- rendering


def render_message(template: str, record: RecordLike) -> str:
    """The template with each {field} replaced by the record's value (the names of the
    filter language: `{status}`, `{payload.user.id}`, `{header.trace-id}`, `{key}`,
    `{topic}`, `{offset}`). A field the record lacks shows as `(no NAME)`; objects and
    lists as compact JSON."""
    out: list[str] = []
    pos = 0
    i = 0
    fields = _fields(template)
    n = len(template)
    while pos < n:
        ch = template[pos]
        if template.startswith("{{", pos) or template.startswith("}}", pos):
            out.append(ch)
            pos += 2
            continue
        if ch == "{":
            end = template.index("}", pos)
            name = fields[i]
            i += 1
            out.append(_show(name, extract(record, name)))
            pos = end + 1
            continue
        out.append(ch)
        pos += 1
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _fields(template: str) -> tuple[str, ...]:
    return tuple(template_fields(template))


def _show(name: str, value: Any) -> str:
    if value is None:
        return f"(no {name})"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return text if len(text) <= FIELD_LIMIT else text[:FIELD_LIMIT - 1] + "…"


# ---------------------------------------------------------------- grouping (pure)


@dataclass(frozen=True)
class Match:
    text: str
    """The rendered message."""
    at: float
    """The record's timestamp (epoch seconds)."""
    partition: int
    """Partition it was read from."""
    offset: int
    """Its offset."""


@dataclass
class _Group:
    opened: float
    count: int = 0
    examples: dict[str, int] = field(default_factory=dict)
    others: int = 0
    first_at: float | None = None
    last_at: float | None = None
    #: partition -> (first offset, last offset, matches)
    spans: dict[int, list[int]] = field(default_factory=dict)


class EventGrouper:
    """Gathers one rule's matches into notices: a group opens with its first match and is
    due `window` seconds later, if fewer than `max_per_minute` notices left in the last
    minute (else when that allows). Pure: the time comes in."""

    def __init__(self, rule: EventRule, *, window: float, by: str = "") -> None:
        self.rule = rule
        self.window = window
        self.by = by
        self._group: _Group | None = None
        self._sent: deque[float] = deque()

    @property
    def open(self) -> bool:
        return self._group is not None and self._group.count > 0

    def add(self, m: Match, now: float) -> None:
        g = self._group
        if g is None:
            g = self._group = _Group(opened=now)
        g.count += 1
        if m.text in g.examples:
            g.examples[m.text] += 1
        elif len(g.examples) < NOTICE_EXAMPLES:
            g.examples[m.text] = 1
        else:
            g.others += 1
        g.first_at = m.at if g.first_at is None else min(g.first_at, m.at)
        g.last_at = m.at if g.last_at is None else max(g.last_at, m.at)
        span = g.spans.get(m.partition)
        if span is None:
            g.spans[m.partition] = [m.offset, m.offset, 1]
        else:
            span[0] = min(span[0], m.offset)
            span[1] = max(span[1], m.offset)
            span[2] += 1

    def _allowed(self, now: float) -> bool:
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()
        return len(self._sent) < self.rule.max_per_minute

    def due_at(self, now: float) -> float | None:
        """When the open group may go out (None: nothing is open)."""
        if not self.open:
            return None
        assert self._group is not None
        at = self._group.opened + self.window
        self._allowed(now)
        if len(self._sent) >= self.rule.max_per_minute:
            at = max(at, self._sent[0] + 60.0)
        return at

    def due(self, now: float) -> bool:
        at = self.due_at(now)
        return at is not None and now >= at

    def notice(self, now: float) -> AlertEvent:
        """The open group as a notice event (the group stays open until `sent`)."""
        g = self._group
        assert g is not None and g.count > 0
        positions = sorted((p, s[0], s[1]) for p, s in g.spans.items())
        raw = json.dumps([self.rule.name, self.rule.topic, positions], separators=(",", ":"))
        nid = "n-" + hashlib.blake2b(raw.encode(), digest_size=10).hexdigest()
        examples = tuple(g.examples.items())
        return AlertEvent(
            type="notice", alert_id=nid, at=now, rule=self.rule.name,
            severity=self.rule.severity, channel=self.rule.channel,
            subject=_subject(self.rule), text=examples[0][0] if examples else "",
            count=g.count, examples=examples, first_at=g.first_at, last_at=g.last_at,
            by=self.by, owner=self.rule.owner, runbook=self.rule.runbook,
        )

    def sent(self, now: float) -> None:
        """The open group was published: close it and count it against the rate."""
        self._group = None
        self._sent.append(now)

    def first_offset(self, partition: int) -> int | None:
        """The oldest offset of `partition` in the open group (its records are not done)."""
        g = self._group
        if g is None or partition not in g.spans:
            return None
        return g.spans[partition][0]

    def drop(self, partitions: set[int]) -> None:
        """Forget the matches of partitions this replica no longer owns (the next owner
        reads them again from the committed offset)."""
        g = self._group
        if g is None:
            return
        for p in partitions & set(g.spans):
            g.count -= g.spans.pop(p)[2]
        if g.count <= 0:
            self._group = None


def _subject(rule: EventRule) -> Any:
    from kafkaops.core.alerts.model import Subject

    return Subject(cluster=rule.cluster, topic=rule.topic)


# ---------------------------------------------------------------- the watcher (I/O)


class EventWatcher(GroupMember):
    """Reads one event rule's topic in its consumer group and publishes notices."""

    def __init__(self, services: Services, rule: EventRule, *, log_: AlertLog,
                 **member: Any) -> None:
        """`member`: GroupMember's clock, metrics, session_timeout_ms, heartbeat_ms."""
        cfg = services.config.alerts
        super().__init__(services, f"{cfg.group}.events.{rule.name}", log_=log_, **member)
        self.rule = rule
        self.grouper = EventGrouper(rule, window=float(cfg.event_window), by=log_.by)
        # `ready`: set once this member joined the group and knows where its partitions start
        self.read = 0
        self.matched = 0
        self._owned: set[int] = set()
        self._unsettled = False
        self._next: dict[int, int] = {}
        self._committed: dict[int, int] = {}

    async def start(self) -> None:
        from aiokafka import ConsumerRebalanceListener

        conn = await self.services.connection(self.rule.cluster)
        meta = await conn.metadata([self.rule.topic])
        if self.rule.topic not in meta.topics:
            log.warning("alerts: event rule %s watches %r on cluster %r, which does not exist "
                        "(yet); its records will be read once it does", self.rule.name,
                        self.rule.topic, self.rule.cluster)
        watcher = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                gone = {ak.partition for ak in revoked}
                watcher.grouper.drop(gone)
                watcher._owned -= gone
                for p in gone:
                    watcher._next.pop(p, None)
                    watcher._committed.pop(p, None)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                watcher._owned |= {ak.partition for ak in assigned}
                watcher._unsettled = True

        # a new group starts at the end: a new rule announces what happens from now on,
        # not the topic's history
        await self._join(conn, None, self.rule.topic, Listener(), auto_offset_reset="latest",
                         task=f"alerts-events-{self.rule.name}")

    async def _run(self) -> None:
        cfg = self.services.cluster_config(self.rule.cluster)
        while True:
            try:
                with map_kafka_errors(self.rule.cluster, cfg):
                    await self._round()
            except KafkaOpsError as e:
                log.warning("alerts: event rule %s: %s; retrying", self.rule.name, e)
                await asyncio.sleep(1)
            except Exception:
                log.exception("alerts: event rule %s failed; retrying", self.rule.name)
                await asyncio.sleep(1)

    async def _round(self) -> None:
        from aiokafka.structs import TopicPartition as AkTP

        consumer = self._consumer
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        if self._unsettled:
            # resolve where each new partition starts (the committed offset, or the end for
            # a new group), so that `ready` means: records produced from now on are seen
            for p in sorted(self._owned):
                self._next.setdefault(p, await consumer.position(AkTP(self.rule.topic, p)))
            self._unsettled = False
            self.ready.set()
        now = self.clock()
        flt = self.rule.filter
        for ak, recs in batch.items():
            if ak.partition not in self._owned or not recs:
                continue
            self.read += len(recs)
            self._next[ak.partition] = recs[-1].offset + 1
            hits = await flt.select_async(recs) if flt is not None else recs
            for rec in hits:
                self.grouper.add(Match(render_message(self.rule.message, rec),
                                       (rec.timestamp or 0) / 1000.0, rec.partition,
                                       rec.offset), now)
            if hits:
                self.matched += len(hits)
                if self.metrics is not None:
                    self.metrics.inc("kafkaops_event_rule_matches_total",
                                     {"rule": self.rule.name}, len(hits))
        if self.grouper.due(now):
            ev = self.grouper.notice(now)
            await self.log.publish([ev])  # raises, keeping the group open, when it cannot
            self.grouper.sent(now)
        await self._commit()

    async def _commit(self) -> None:
        from aiokafka.structs import OffsetAndMetadata
        from aiokafka.structs import TopicPartition as AkTP

        offsets = {}
        for p in self._owned:
            nxt = self._next.get(p)
            if nxt is None:
                continue
            first = self.grouper.first_offset(p)
            target = nxt if first is None else min(first, nxt)
            if target > self._committed.get(p, -1):
                offsets[AkTP(self.rule.topic, p)] = OffsetAndMetadata(target, "")
        if not offsets:
            return
        cfg = self.services.cluster_config(self.rule.cluster)
        try:
            with map_kafka_errors(self.rule.cluster, cfg, doing="commit"):
                await self._consumer.commit(offsets)
        except KafkaOpsError as e:  # a rebalance under way: the next round commits
            log.info("alerts: event rule %s: commit deferred (%s)", self.rule.name, e)
            return
        for ak, om in offsets.items():
            self._committed[ak.partition] = om.offset
