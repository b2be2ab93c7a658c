"""Producing records: one, or a stream of them, each reported with the partition and
offset of the broker's acknowledgement.

    svc = ProduceService(services)
    spec = ProduceSpec("orders", acks="all")
    result = await svc.produce(spec, records, actor=local_actor(), face="cli", on_acks=show)

Everything that can be wrong is found before the first record is sent: the topic exists
(a producer must never create one by asking for it), the partition is one of its own, the
schema subject exists and the first record fits it. A stream with no records produces
nothing and writes nothing, not even an audit record. One audit record covers one call:
what was asked (topic, key, header names, partition, acks, compression, schema; never the
values) and, after, how many records landed where.

Acknowledgements come back in the order the records were given; `on_acks` is called with
each run of them as they land (the CLI prints a line per record). With acks=0 the broker
acknowledges nothing, so partition and offset are unknown (None). Tansu gap: it answers
acks=0 produce requests anyway, which aiokafka does not expect (it logs a correlation
error and reconnects); the records still land.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafkaops.core.admin.plans import PRODUCE, refusal_words
from kafkaops.core.admin.rules import check_topic_name
from kafkaops.core.errors import KafkaOpsError, NotFound, NothingToChange, UsageError
from kafkaops.core.kafka.errors import is_kafka_error
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from kafkaops.core.admin.encode import ValueEncoder
    from kafkaops.core.services import Services

#: records in flight before the next send waits for the oldest one's acknowledgement
WINDOW = 1_000


@dataclass(frozen=True)
class OutRecord:
    """A record to produce, as given (before schema framing)."""

    value: bytes | None
    """Value bytes; None for a tombstone."""
    key: bytes | None = None
    """Key bytes; None for no key."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Headers in order; names may repeat."""


@dataclass(frozen=True)
class ProduceSpec:
    """Where and how records go."""

    topic: str
    """Topic to produce to."""
    partition: int | None = None
    """Partition; None lets the producer choose (by key hash, else spread)."""
    acks: str | int = "all"
    """all, 1 or 0 (rules.parse_acks)."""
    compression: str | None = None
    """gzip, snappy, lz4, zstd; None for none."""
    schema: str | None = None
    """Schema Registry subject whose latest schema frames each value (JSON given)."""
    source: str = "value"
    """Where the records come from, for the audit record: value, file, stdin, console."""


@dataclass(frozen=True)
class Ack:
    """The broker's acknowledgement of one record."""

    topic: str
    """Topic."""
    partition: int | None
    """Partition it landed in; None with acks=0."""
    offset: int | None
    """Its offset; None with acks=0."""

    def to_jsonable(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass
class ProduceResult:
    """What a produce call did."""

    topic: str
    """Topic produced to."""
    records: int = 0
    """Records sent and acknowledged (or sent, with acks=0)."""
    bytes: int = 0
    """Value bytes sent (after framing)."""
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    """partition -> (first, last) offset acknowledged."""
    unacknowledged: int = 0
    """Records sent with acks=0 (landed where the broker put them)."""
    schema: str | None = None
    """The schema used, as words, when values were framed."""

    def to_jsonable(self) -> dict[str, Any]:
        return {"topic": self.topic, "records": self.records, "bytes": self.bytes,
                "partitions": {str(p): {"first": a, "last": b}
                               for p, (a, b) in sorted(self.ranges.items())},
                "unacknowledged": self.unacknowledged, "schema": self.schema}

    def add(self, ack: Ack, size: int) -> None:
        self.records += 1
        self.bytes += size
        if ack.partition is None or ack.offset is None:
            self.unacknowledged += 1
            return
        first, last = self.ranges.get(ack.partition, (ack.offset, ack.offset))
        self.ranges[ack.partition] = (min(first, ack.offset), max(last, ack.offset))


def audit_params(spec: ProduceSpec, first: OutRecord) -> dict[str, Any]:
    """What the audit record keeps of a produce call: never values or header values."""
    key = None
    if first.key is not None:
        try:
            key = first.key.decode("utf-8")
        except UnicodeDecodeError:
            key = f"({len(first.key)} bytes, sha256 {hashlib.sha256(first.key).hexdigest()[:16]})"
    return {"partition": spec.partition, "acks": str(spec.acks), "compression":
            spec.compression, "schema": spec.schema, "source": spec.source, "key": key,
            "headers": [name for name, _ in first.headers]}


async def _aiter(records: Iterable[OutRecord] | AsyncIterable[OutRecord]
                 ) -> AsyncIterator[OutRecord]:
    if isinstance(records, AsyncIterable):
        async for r in records:
            yield r
    else:
        for r in records:
            yield r


class ProduceService:
    """Produces to one cluster (the services' current one by default)."""

    def __init__(self, services: Services, cluster: str | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name

    async def check(self, spec: ProduceSpec) -> tuple[int, ValueEncoder | None]:
        """(the topic's partition count, the schema encoder or None); raises what is wrong
        with `spec` on this cluster. Changes nothing."""
        check_topic_name(spec.topic)
        if spec.partition is not None and spec.partition < 0:
            raise UsageError(f"--partition must be 0 or more (got {spec.partition})")
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([spec.topic])
        topic = meta.topics.get(spec.topic)
        if topic is None:
            raise NotFound(f"topic {spec.topic!r} not found on cluster {self.cluster!r}: "
                           "kafkaops never creates a topic by producing to it (`kafkaops "
                           "topic create`). Nothing was produced.")
        count = len(topic.partitions)
        if spec.partition is not None and spec.partition >= count:
            raise UsageError(f"topic {spec.topic!r} has no partition {spec.partition} (it "
                             f"has {count}: 0..{count - 1}). Nothing was produced.")
        encoder = None
        if spec.schema is not None:
            from kafkaops.core.admin.encode import encoder_for

            encoder = await encoder_for(self.services, self.cluster, spec.schema)
        return count, encoder

    async def produce(
        self, spec: ProduceSpec, records: Iterable[OutRecord] | AsyncIterable[OutRecord], *,
        actor: str, face: str, on_acks: Callable[[list[Ack]], object] | None = None,
        reason: str | None = None,
    ) -> ProduceResult:
        """Send `records` in order and wait for every acknowledgement.

        Raises, having produced nothing: Refused (read-only cluster), NotFound (no such
        topic), UsageError (bad partition, a first value that does not fit the schema),
        NothingToChange (no records at all). A later record that cannot be sent stops the
        call with a KafkaOpsError saying how many records landed before it.
        """
        from kafkaops.core.audit.log import record_change

        self.services.require_writable(self.cluster, refusal_words(PRODUCE, spec.topic))
        _, encoder = await self.check(spec)
        stream = _aiter(records).__aiter__()
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            raise NothingToChange(f"no records to produce to {spec.topic!r}: nothing was "
                                  "produced, nothing was written") from None
        first_value = _framed(encoder, first.value)  # a bad first value: nothing is sent
        result = ProduceResult(spec.topic, schema=encoder.describe() if encoder else None)

        async def send_all() -> ProduceResult:
            await self._send_all(spec, encoder, first, first_value, stream, result, on_acks)
            return result

        out: ProduceResult = await record_change(
            self.services, actor=actor, face=face, action=PRODUCE, target=spec.topic,
            params=audit_params(spec, first), apply=send_all, cluster=self.cluster,
            summarize=lambda r: r.to_jsonable(), reason=reason)
        return out

    async def _send_all(self, spec: ProduceSpec, encoder: ValueEncoder | None,
                        first: OutRecord, first_value: bytes | None,
                        rest: AsyncIterator[OutRecord], result: ProduceResult,
                        on_acks: Callable[[list[Ack]], object] | None) -> None:
        """Send while a second task reports acknowledgements in order, as they come: a
        slow stream (stdin from `tail -f`) has each record reported once it landed."""
        conn = await self.services.connection(self.cluster)
        options: dict[str, Any] = {"acks": spec.acks, "linger_ms": 5,
                                   "enable_idempotence": False}
        if spec.compression:
            options["compression_type"] = spec.compression
        flight = _InFlight()

        async def settle(fut: asyncio.Future[Any], size: int) -> Ack:
            try:
                meta = await fut
            except Exception as e:
                if not is_kafka_error(e):
                    raise
                raise self._failed(spec, result, e) from None
            ack = Ack(spec.topic, None, None)
            if spec.acks != 0 and meta is not None:  # acks=0: nothing acknowledged
                ack = Ack(spec.topic, meta.partition, meta.offset)
            result.add(ack, size)
            return ack

        async def report() -> None:
            while True:
                item = await flight.take()
                if item is None:
                    return
                batch = [await settle(*item)]
                # whatever else has landed already goes out with it
                while (head := flight.landed()) is not None:
                    batch.append(await settle(*head))
                if on_acks is not None:
                    on_acks(batch)

        async with conn.producer(**options) as producer:
            reporter = asyncio.create_task(report())
            try:
                record, value = first, first_value
                while True:
                    if reporter.done():  # a record failed: its error is the one raised
                        break
                    try:
                        fut = await producer.send(spec.topic, value, key=record.key,
                                                  partition=spec.partition,
                                                  headers=list(record.headers) or None)
                    except Exception as e:
                        if not is_kafka_error(e):
                            raise
                        await flight.finish(reporter)
                        raise self._failed(spec, result, e) from None
                    await flight.put(fut, len(value or b""))
                    try:
                        record = await rest.__anext__()
                    except StopAsyncIteration:
                        break
                    try:
                        value = _framed(encoder, record.value)
                    except UsageError as e:
                        await flight.finish(reporter)
                        raise UsageError(f"record {result.records + 1}: {e} "
                                         f"({_landed(result)})") from None
                await flight.finish(reporter)
            finally:
                if not reporter.done():
                    await cancel_and_wait(reporter)

    def _failed(self, spec: ProduceSpec, result: ProduceResult, e: BaseException
                ) -> KafkaOpsError:
        detail = str(e) or type(e).__name__
        return KafkaOpsError(f"producing to {spec.topic!r} on cluster {self.cluster!r} "
                             f"failed: {detail} ({_landed(result)})")


class _InFlight:
    """Records sent and not yet reported, oldest first; at most WINDOW of them."""

    def __init__(self) -> None:
        self._items: collections.deque[tuple[asyncio.Future[Any], int] | None] = \
            collections.deque()
        self._space = asyncio.Semaphore(WINDOW)
        self._added = asyncio.Event()

    async def put(self, fut: asyncio.Future[Any], size: int) -> None:
        await self._space.acquire()
        self._items.append((fut, size))
        self._added.set()

    async def take(self) -> tuple[asyncio.Future[Any], int] | None:
        """The oldest record in flight (None: no more will come)."""
        while not self._items:
            self._added.clear()
            await self._added.wait()
        item = self._items.popleft()
        if item is not None:
            self._space.release()
        return item

    def landed(self) -> tuple[asyncio.Future[Any], int] | None:
        """The oldest record in flight if its acknowledgement is in, else None."""
        if self._items and self._items[0] is not None and self._items[0][0].done():
            item = self._items.popleft()
            self._space.release()
            return item
        return None

    async def finish(self, reporter: asyncio.Task[None]) -> None:
        """Let the reporter settle what was sent, and raise its error if it had one."""
        if not reporter.done():
            self._items.append(None)
            self._added.set()
        await reporter


def _framed(encoder: ValueEncoder | None, value: bytes | None) -> bytes | None:
    if encoder is None or value is None:
        return value
    return encoder.encode(value)


def _landed(result: ProduceResult) -> str:
    if not result.records:
        return "no record was produced"
    where = ", ".join(f"partition {p} offsets {a}..{b}" for p, (a, b) in
                      sorted(result.ranges.items()))
    return f"{result.records} record{'s' if result.records != 1 else ''} produced before " \
           f"it{': ' + where if where else ''}"
