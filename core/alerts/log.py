"""`_kafkaops.alerts`: the topic where alert events live (`AlertLog`).

The topic is on the alerts cluster (alerts.cluster, else the default cluster). `AlertLog`
creates it when missing (PARTITIONS partitions, a week of retention), publishes events
keyed by alert id (acks=all: `publish` returns once the brokers hold them), and follows
the whole topic into an `AlertBook` (core/alerts/book.py): every evaluator replica shares
the published state that way, so a replica never re-fires what another already fired.
The consumer group that delivers the events to Slack is in core/alerts/notify.py.
"""


from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kafkaops.core.alerts.book import AlertBook
from kafkaops.core.alerts.config import alerts_cluster
from kafkaops.core.alerts.model import AlertEvent
from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors, unreachable
from kafkaops.core.records import TopicPartition
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
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

