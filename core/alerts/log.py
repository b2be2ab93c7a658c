"""`_kafkaops.alerts`: where alert events live, and the consumer group that delivers them.

- `AlertLog`: the topic on the alerts cluster (alerts.cluster, else the default cluster).
  Creates it when missing (PARTITIONS partitions, a week of retention), publishes events
  keyed by alert id (acks=all: `publish` returns once the brokers hold them), and follows
  the whole topic into an `AlertBook` (every evaluator replica shares the published state
  that way, so a replica never re-fires what another already fired).
- `AlertDispatcher`: a member of the notifier consumer group (alerts.group + ".notifier").
  Partitions are owned by one member at a time, and an alert's events share a partition
  (same key), so each alert is handled by one replica. For every partition it owns it
  reads the partition from its start into a book, and once caught up asks the book what is
  still to do in Slack (post, update, close). The `Notifier` (bot/alerts.py: Slack) does
  it; on success a `delivered` record goes back to the topic, so a replica that takes the
  partition over later (rebalance, crash) knows the message exists and its ts. Offsets are
  committed only up to the oldest event whose message Slack has not accepted yet.

Core knows nothing of Slack: it hands the notifier `Action`s and gets back where the
message went (`Delivery`), or a `DeliveryError` saying whether and when to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kafkaops.core.alerts.rules import Action, AlertBook, AlertEvent, alerts_cluster
from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors, unreachable
from kafkaops.core.records import TopicPartition
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from kafkaops.core.metrics import MetricsRegistry
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.alerts")

#: partitions of a new alerts topic: alerts spread over notifier replicas by alert id
PARTITIONS = 4
#: retention of a new alerts topic (a week); an alert firing longer keeps its state in
#: the evaluators' memory and its next change is written again
RETENTION_MS = 7 * 24 * 3600 * 1000
#: consumer-group timings: Tansu completes a join after half the session timeout, and a
#: replica that died is noticed after a session timeout
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_MS = 1_000
#: longest wait between two delivery attempts of one action
MAX_BACKOFF = 60.0
#: wait after a refusal that will not pass by itself (channel not found, bot not invited):
#: retried (an invitation fixes it), but not often
REFUSED_BACKOFF = 300.0


def whoami() -> str:
    """This process, as `by` in the events it writes: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class AlertLog:
    """The alerts topic of one Services: publish events, and follow the topic into `book`."""

    def __init__(self, services: Services, *, by: str | None = None) -> None:
        cfg = services.config.alerts
        self.services = services
        self.topic = cfg.topic
        self.cluster = alerts_cluster(services.config) or services.cluster_name
        self.by = by or whoami()
        self.book = AlertBook()
        #: set once the follower has read the topic to the end it had when it started
        self.caught_up = asyncio.Event()
        self._producer: Any = None
        self._producing: contextlib.AsyncExitStack | None = None
        self._consumer: Any = None
        self._following: contextlib.AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._ensured = False

    # ------------------------------------------------------------ the topic

    async def partitions(self) -> list[TopicPartition]:
        """The topic's partitions, creating the topic first when it does not exist."""
        from kafkaops.core.topics.service import NewTopicSpec, TopicService

        self.services.require_writable(self.cluster, "write alert events there (set "
                                       "alerts.cluster to a writable cluster)")
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([self.topic])
        if self.topic not in meta.topics:
            replicas = max(1, min(3, len((await conn.metadata([])).brokers)))
            await TopicService(conn).create_topics([NewTopicSpec(
                self.topic, PARTITIONS, replicas,
                {"cleanup.policy": "delete", "retention.ms": str(RETENTION_MS)})])
            deadline = time.monotonic() + 10
            while self.topic not in meta.topics or not meta.topics[self.topic].partitions:
                if time.monotonic() > deadline:
                    raise unreachable(self.cluster, conn.config, "created but not in the "
                                      "metadata after 10 s", doing=f"create {self.topic!r}")
                await asyncio.sleep(0.1)
                meta = await conn.metadata([self.topic])
        self._ensured = True
        return [TopicPartition(self.topic, p.partition)
                for p in meta.topics[self.topic].partitions]

    @property
    def config(self) -> ClusterConfig:
        """The alerts cluster's config."""
        return self.services.cluster_config(self.cluster)

    # ------------------------------------------------------------ writing

    async def publish(self, events: Sequence[AlertEvent]) -> None:
        """Write events keyed by alert id and wait until the brokers acknowledged each.
        Raises ClusterUnreachable when they could not be written (nothing is half-done:
        the caller keeps its state and tries again)."""
        if not events:
            return
        async with self._lock:
            if not self._ensured:
                await self.partitions()
            try:
                if self._producer is None:
                    async with contextlib.AsyncExitStack() as stack:
                        # Tansu gap: no InitProducerId, so no idempotent producer; acks=all
                        # and a wait on every send is what keeps an event from being lost
                        self._producer = await stack.enter_async_context(clients.producer(
                            self.cluster, self.config, acks="all", linger_ms=0,
                            doing=f"write to {self.topic!r}"))
                        self._producing = stack.pop_all()
                with map_kafka_errors(self.cluster, self.config,
                                      doing=f"write to {self.topic!r}"):
                    futures = [await self._producer.send(self.topic, ev.encode(),
                                                         key=ev.alert_id.encode())
                               for ev in events]
                    await asyncio.gather(*futures)
            except KafkaOpsError:
                await self._stop_producer()  # the next publish starts a new one
                raise

    async def _stop_producer(self) -> None:
        stack, self._producing, self._producer = self._producing, None, None
        if stack is not None:
            await stack.aclose()

    # ------------------------------------------------------------ following

    async def follow(self) -> None:
        """Read the whole topic into `book` in the background, from its start, and keep
        following it. `caught_up` is set once the end it had at the start is reached."""
        if self.following:
            return
        from aiokafka.structs import TopicPartition as AkTP

        tps = await self.partitions()
        conn = await self.services.connection(self.cluster)
        ends = await conn.high_watermarks(tps)
        async with contextlib.AsyncExitStack() as stack:
            consumer = await stack.enter_async_context(clients.consumer(
                conn, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                doing=f"read {self.topic!r}"))
            aks = [AkTP(tp.topic, tp.partition) for tp in tps]
            consumer.assign(aks)
            with map_kafka_errors(conn, doing=f"read {self.topic!r}"):
                await consumer.seek_to_beginning(*aks)
            self._consumer, self._following = consumer, stack.pop_all()
        targets = {tp.partition: end for tp, (_, end) in ends.items()}
        self._task = asyncio.create_task(self._follow(consumer, aks, targets),
                                         name=f"alerts-follow-{self.topic}")

    @property
    def following(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _follow(self, consumer: Any, aks: list[Any], targets: dict[int, int]) -> None:
        while True:
            try:
                with map_kafka_errors(self.cluster, self.config):
                    batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            except KafkaOpsError as e:
                log.warning("alerts: reading %s failed (%s); retrying", self.topic, e)
                await asyncio.sleep(1)
                continue
            for recs in batch.values():
                for rec in recs:
                    fold(self.book, rec)
            if not self.caught_up.is_set():
                done = True
                for ak in aks:
                    if await consumer.position(ak) < targets.get(ak.partition, 0):
                        done = False
                if done:
                    self.caught_up.set()

    async def read_book(self, *, within: float = 10.0) -> AlertBook:
        """The topic read once to its current end (for a CLI listing or a Slack command);
        an empty book when the topic does not exist yet."""
        from aiokafka.structs import TopicPartition as AkTP

        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([self.topic])
        book = AlertBook()
        if self.topic not in meta.topics:
            return book
        tps = [TopicPartition(self.topic, p.partition) for p in meta.topics[self.topic].partitions]
        ends = await conn.high_watermarks(tps)
        todo = {tp.partition: end for tp, (start, end) in ends.items() if end > start}
        if not todo:
            return book
        async with clients.consumer(conn, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest") as consumer:
            try:
                async with asyncio.timeout(within):
                    with map_kafka_errors(conn, doing=f"read {self.topic!r}"):
                        aks = [AkTP(self.topic, p) for p in todo]
                        consumer.assign(aks)
                        await consumer.seek_to_beginning(*aks)
                        while todo:
                            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                            for ak, recs in batch.items():
                                for rec in recs:
                                    if rec.offset < todo.get(ak.partition, 0):
                                        fold(book, rec)
                            for ak in aks:
                                if ak.partition in todo and await consumer.position(ak) >= todo[
                                        ak.partition]:
                                    del todo[ak.partition]
            except TimeoutError:
                raise unreachable(self.cluster, conn.config, f"not read to its end within "
                                  f"{within:g} s", doing=f"read {self.topic!r}") from None
        return book

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._following, self._consumer = self._following, None, None
            if stack is not None:
                await stack.aclose()
            await self._stop_producer()


def fold(book: AlertBook, rec: Any) -> None:
    """Apply one consumed record to a book; records that are not alert events are skipped
    (logged), never fatal."""
    try:
        ev = AlertEvent.decode(rec.value)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        log.warning("alerts: skipping record %d of %s partition %d: %s", rec.offset,
                    getattr(rec, "topic", "?"), rec.partition, e)
        return
    book.apply(ev, rec.offset)


# ---------------------------------------------------------------- delivering


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


class AlertDispatcher:
    """The notifier consumer group member: owned partitions -> books -> `Notifier`."""

    def __init__(self, services: Services, notifier: Notifier, *, log_: AlertLog,
                 clock: Callable[[], float] = time.time,
                 metrics: MetricsRegistry | None = None,
                 session_timeout_ms: int = SESSION_TIMEOUT_MS,
                 heartbeat_ms: int = HEARTBEAT_MS) -> None:
        cfg = services.config.alerts
        self.services = services
        self.notifier = notifier
        self.log = log_
        self.group_id = f"{cfg.group}.notifier"
        self.renotify = float(cfg.renotify_interval)
        self.clock = clock
        self.metrics = metrics
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_ms = heartbeat_ms
        self.stats = DispatcherStats()
        #: set once this member owns partitions and has read them to the end (or owns none
        #: after joining: the other replicas hold them all)
        self.ready = asyncio.Event()
        self._parts: dict[int, _Part] = {}
        self._retry: dict[tuple[str, str, int], _Retry] = {}
        self._paused_until = 0.0
        self._unpublished: list[AlertEvent] = []
        self._consumer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None
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

        def created(consumer: Any) -> None:
            consumer.subscribe([self.log.topic], listener=Listener())
            self._consumer = consumer  # the listener may run before the start returns

        try:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(clients.consumer(
                    self.log.cluster, self.log.config, group_id=self.group_id,
                    enable_auto_commit=False, auto_offset_reset="earliest",
                    session_timeout_ms=self.session_timeout_ms,
                    heartbeat_interval_ms=self.heartbeat_ms,
                    rebalance_timeout_ms=max(self.session_timeout_ms, 10_000),
                    max_poll_interval_ms=300_000, created=created))
                self._clients = stack.pop_all()
        except BaseException:
            self._consumer = None
            raise
        self._task = asyncio.create_task(self._run(), name=f"alerts-notify-{self.group_id}")

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

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._consumer = self._clients, None, None
            if stack is not None:
                await stack.aclose()  # leaves the group: the others take over at once

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
