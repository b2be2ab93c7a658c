"""The consumer group that delivers alert events (`AlertDispatcher`).

A member of the notifier consumer group (alerts.group + ".notifier"). Partitions are owned
by one member at a time, and an alert's events share a partition (same key), so each alert
is handled by one replica. For every partition it owns it reads the partition from its
start into a book, and once caught up asks the book what is still to do in Slack (post,
update, close). The `Notifier` (bot/alerts.py: Slack) does it; on success a `delivered`
record goes back to the topic, so a replica that takes the partition over later
(rebalance, crash) knows the message exists and its ts. Offsets are committed only up to
the oldest event whose message Slack has not accepted yet.

Core knows nothing of Slack: it hands the notifier `Action`s and gets back where the
message went (`Delivery`), or a `DeliveryError` saying whether and when to retry.
"""


from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kafkaops.core.alerts.book import Action, AlertBook
from kafkaops.core.alerts.log import AlertLog, fold
from kafkaops.core.alerts.member import GroupMember
from kafkaops.core.alerts.model import AlertEvent
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.alerts")

#: longest wait between two delivery attempts of one action
MAX_BACKOFF = 60.0
#: wait after a refusal that will not pass by itself (channel not found, bot not invited):
#: retried (an invitation fixes it), but not often
REFUSED_BACKOFF = 300.0


@dataclass(frozen=True)
class Delivery:
    channel: str
    """Channel id the message is in (Slack answers with the id when given a #name)."""
    ts: str
    """Message ts: what chat.update needs later."""


class DeliveryError(KafkaOpsError):
    """A notifier could not deliver a message. `retriable`: a later attempt may work;
    `retry_after`: the service asked us to wait this long (Slack's 429 Retry-After), and
    every delivery waits, not just this one."""

    def __init__(self, message: str, *, retriable: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(message, retriable=retriable)
        self.retry_after = retry_after


class Notifier(Protocol):
    """What delivers alerts somewhere (bot/alerts.py: Slack)."""

    async def deliver(self, action: Action) -> Delivery:
        """Do the action (post, update); DeliveryError when it did not happen."""
        ...


@dataclass
class _Part:
    """One owned partition of the alerts topic."""

    book: AlertBook
    end: int
    """High watermark when it was assigned: caught up once read to here."""
    committed: int | None
    """The group's committed offset (None: the group never committed it)."""
    live: bool = False
    """Read up to `end`: its pending work can be trusted."""
    horizon: int = 0
    """Events before this offset are history this group already handled."""

    def is_new(self, offset: int | None) -> bool:
        return offset is None or offset >= self.horizon


@dataclass
class _Retry:
    attempts: int = 0
    at: float = 0.0
    last_error: str = ""


@dataclass
class DispatcherStats:
    delivered: int = 0
    """Actions Slack accepted."""
    failed: int = 0
    """Attempts that failed (each retry counts)."""
    last_error: str = ""
    """Latest failure, for /healthz and logs."""
    partitions: list[int] = field(default_factory=list)
    """Partitions this replica owns."""


class AlertDispatcher(GroupMember):
    """The notifier consumer group member: owned partitions -> books -> `Notifier`."""

    def __init__(self, services: Services, notifier: Notifier, *, log_: AlertLog,
                 **member: Any) -> None:
        """`member`: GroupMember's clock, metrics, session_timeout_ms, heartbeat_ms."""
        cfg = services.config.alerts
        super().__init__(services, f"{cfg.group}.notifier", log_=log_, **member)
        self.notifier = notifier
        self.renotify = float(cfg.renotify_interval)
        self.stats = DispatcherStats()
        # `ready`: set once this member owns partitions and has read them to the end (or
        # owns none after joining: the other replicas hold them all)
        self._parts: dict[int, _Part] = {}
        self._retry: dict[tuple[str, str, int], _Retry] = {}
        self._paused_until = 0.0
        self._unpublished: list[AlertEvent] = []
        self._lock = asyncio.Lock()
        self._joined = False

    async def start(self) -> None:
        from aiokafka import ConsumerRebalanceListener

        await self.log.partitions()  # create the topic before subscribing to it
        dispatcher = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                # wait for a delivery in flight: its `delivered` record must be on the
                # topic before the next owner reads the partition
                async with dispatcher._lock:
                    for ak in revoked:
                        dispatcher._parts.pop(ak.partition, None)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await dispatcher._assigned(assigned)

        await self._join(self.log.cluster, self.log.config, self.log.topic, Listener(),
                         auto_offset_reset="earliest", max_poll_interval_ms=300_000,
                         task=f"alerts-notify-{self.group_id}")

    async def _assigned(self, assigned: Any) -> None:
        consumer = self._consumer
        conn = await self.services.connection(self.log.cluster)
        tps = [TopicPartition(ak.topic, ak.partition) for ak in assigned]
        water = await conn.high_watermarks(tps) if tps else {}
        for ak in assigned:
            committed = await consumer.committed(ak)
            end = water.get(TopicPartition(ak.topic, ak.partition), (0, 0))[1]
            self._parts[ak.partition] = _Part(
                AlertBook(), end, committed,
                horizon=committed if committed is not None else end)
        if assigned:
            await consumer.seek_to_beginning(*assigned)
        self._joined = True
        self.stats.partitions = sorted(self._parts)
        log.info("alerts notifier %s owns partitions %s of %s", self.log.by,
                 self.stats.partitions, self.log.topic)

    async def _run(self) -> None:
        while True:
            try:
                with map_kafka_errors(self.log.cluster, self.log.config):
                    batch = await self._consumer.getmany(timeout_ms=250, max_records=2000)
                    for ak, recs in batch.items():
                        part = self._parts.get(ak.partition)
                        if part is None:
                            continue
                        for rec in recs:
                            fold(part.book, rec)
                    await self._catch_up()
                    await self._work()
                    await self._commit()
            except KafkaOpsError as e:
                log.warning("alerts notifier: %s", e)
                await asyncio.sleep(1)
            except Exception:
                log.exception("alerts notifier: unexpected error; retrying")
                await asyncio.sleep(1)

    async def _catch_up(self) -> None:
        from aiokafka.structs import TopicPartition as AkTP

        for p, part in list(self._parts.items()):
            if not part.live:
                pos = await self._consumer.position(AkTP(self.log.topic, p))
                if pos >= part.end:
                    part.live = True
        if self._joined and all(p.live for p in self._parts.values()):
            self.ready.set()

    async def _work(self) -> None:
        now = self.clock()
        if now < self._paused_until:
            return
        for p, part in list(self._parts.items()):
            if not part.live:
                continue
            part.book.forget_notices(now - 3600)  # delivered ones: bounded memory
            for action in part.book.pending(now, renotify=self.renotify, horizon=part.is_new):
                key = (action.alert_id, action.kind, action.event.seq)
                retry = self._retry.get(key)
                if retry is not None and now < retry.at:
                    continue
                async with self._lock:
                    if self._parts.get(p) is not part:
                        break  # revoked meanwhile: the next owner does it
                    done = await self._deliver(part, action, key)
                if not done and self.clock() < self._paused_until:
                    return  # rate limited: every delivery waits

    async def _deliver(self, part: _Part, action: Action, key: tuple[str, str, int]) -> bool:
        try:
            delivery = await self.notifier.deliver(action)
        except DeliveryError as e:
            retry = self._retry.setdefault(key, _Retry())
            retry.attempts += 1
            retry.last_error = str(e)
            now = self.clock()
            if e.retry_after is not None:
                self._paused_until = now + e.retry_after
                retry.at = self._paused_until
            elif e.retriable:
                retry.at = now + min(MAX_BACKOFF, 2.0 ** (retry.attempts - 1))
            else:
                retry.at = now + REFUSED_BACKOFF
            self.stats.failed += 1
            self.stats.last_error = str(e)
            if self.metrics is not None:
                self.metrics.inc("kafkaops_alert_delivery_failures_total",
                                 {"kind": action.kind})
            log.warning("alerts: %s of %s (%s) not delivered, attempt %d, next in %.0f s: %s",
                        action.kind, action.alert_id, action.event.rule, retry.attempts,
                        retry.at - now, e)
            return False
        self._retry.pop(key, None)
        records = delivered_events(action, delivery, at=self.clock(), by=self.log.by)
        # the message exists in Slack now: remember it at once (this replica must not post
        # it again), then tell the other replicas through the topic
        for ev in records:
            part.book.apply(ev)
        self._unpublished.extend(records)
        await self._flush()
        self.stats.delivered += 1
        if self.metrics is not None:
            self.metrics.inc("kafkaops_alert_notifications_total", {"kind": action.kind})
        return True

    async def _flush(self) -> None:
        """Write the `delivered` records not written yet. While some are not, nothing is
        committed: a replica taking over re-reads from the last commit and would post
        again rather than lose a message."""
        if not self._unpublished:
            return
        try:
            await self.log.publish(self._unpublished)
        except KafkaOpsError as e:
            log.warning("alerts notifier: cannot record deliveries yet: %s", e)
            return
        self._unpublished.clear()

    async def _commit(self) -> None:
        from aiokafka.structs import OffsetAndMetadata
        from aiokafka.structs import TopicPartition as AkTP

        await self._flush()
        if self._unpublished:
            return
        now = self.clock()
        offsets: dict[Any, Any] = {}
        for p, part in list(self._parts.items()):
            if not part.live:
                continue
            ak = AkTP(self.log.topic, p)
            target = await self._consumer.position(ak)
            for action in part.book.pending(now, renotify=self.renotify, horizon=part.is_new):
                if action.offset is not None:
                    target = min(target, action.offset)
            if part.committed is None or target > part.committed:
                offsets[ak] = (OffsetAndMetadata(target, ""), part, target)
        if not offsets:
            return
        try:
            with map_kafka_errors(self.log.cluster, self.log.config, doing="commit"):
                await self._consumer.commit({ak: om for ak, (om, _, _) in offsets.items()})
        except KafkaOpsError as e:  # a rebalance under way: the next round commits
            log.info("alerts notifier: commit deferred (%s)", e)
            return
        for _, part, target in offsets.values():
            part.committed = target


def delivered_events(action: Action, delivery: Delivery, *, at: float,
                     by: str) -> list[AlertEvent]:
    """The `delivered` records that say an action's message exists in Slack."""
    ev = action.event

    def rec(of: str, posted_at: float, times: int) -> AlertEvent:
        return AlertEvent(type="delivered", alert_id=ev.alert_id, at=at, rule=ev.rule,
                          seq=ev.seq, channel=ev.channel, of=of, target=delivery.channel,
                          ts=delivery.ts, posted_at=posted_at, times=times, by=by)

    msg = action.message
    if action.kind == "post":
        return [rec("firing", at, 1)]
    if action.kind == "refire":
        assert msg is not None
        return [rec("firing", msg.posted_at, msg.times + 1)]
    if action.kind == "change":
        assert msg is not None
        return [rec(f"changed:{ev.step}", msg.posted_at, msg.times)]
    if action.kind == "resolve":
        assert msg is not None
        return [rec("resolved", msg.posted_at, msg.times)]
    if action.kind == "post_resolved":
        return [rec("firing", at, 1), rec("resolved", at, 1)]
    return [rec("notice", at, 1)]

