"""A live read of one topic: `Tail` (from a start position, forever, noticing when the log
under it is replaced, cut short or gone) and `RingBuffer` (the newest records of a tail,
bounded by count and bytes, that a screen polls). `MessageService.tail(...)` opens one.

Speed: records travel as aiokafka returns them until a face asks for one: the filter runs
on the raw records (its byte prefilter first), the ring buffer stores them as they are, and
only what is shown is turned into a `Message` and decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.kafka.logwatch import LogWatch
from kafkaops.core.messages.display import json_lines
from kafkaops.core.messages.model import Message, StartAt, TailStats, to_message
from kafkaops.core.records import TopicPartition
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from collections.abc import Callable

    from kafkaops.core.expr.filter import Filter
    from kafkaops.core.messages.service import MessageService


class RingBuffer:
    """The newest records of a tail, bounded by count and by bytes, whatever the rate.

    Holds records as they came (aiokafka's, inside core); `latest()` turns only the ones
    asked for into Messages.
    """

    def __init__(self, max_records: int = 5000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._items: deque[Any] = deque()
        self._bytes = 0
        #: records appended since the start (also those already evicted)
        self.appended = 0
        #: bumps on every change, so a view can skip redrawing when nothing happened
        self.version = 0

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _size(rec: Any) -> int:
        return (len(rec.value) if rec.value else 0) + (len(rec.key) if rec.key else 0) + 64

    def extend(self, records: Sequence[Any]) -> None:
        if not records:
            return
        self.appended += len(records)
        self.version += 1
        if len(records) > self.max_records:
            records = records[-self.max_records:]
        items = self._items
        size = self._size
        items.extend(records)
        self._bytes += sum(size(r) for r in records)
        while len(items) > self.max_records or (self._bytes > self.max_bytes and len(items) > 1):
            self._bytes -= size(items.popleft())

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0
        self.appended = 0
        self.version += 1

    def latest(self, n: int | None = None) -> list[Message]:
        """The newest n records (all when n is None), oldest first."""
        items = self._items
        if n is None or n >= len(items):
            chosen: Iterable[Any] = list(items)
        else:
            chosen = [items[i] for i in range(len(items) - n, len(items))]
        return [to_message(r) for r in chosen]

    @property
    def size_bytes(self) -> int:
        return self._bytes


class Tail:
    """A live read of one topic (all partitions or some), from a start position, forever.

    CLI: `async with tail: async for batch in tail.stream(): ...`
    Console: `await tail.start(); task = tail.run()`; read `tail.buffer.latest(n)` and
    `tail.stats()`; `pause()`, `resume()`, `await tail.restart(StartAt...)`.

    The log under a tail can be replaced (a broker that came back empty, a topic deleted and
    created again) or cut short (an unclean leader election). The consumer alone would wait,
    silently, until the new log passes the old position (kafkaops.core.kafka.logwatch). The tail
    notices instead, tells `on_notice` (and `stats().notice`) in words, and goes on:
    - a new log (new topic id, or an end below the position on a broker without topic
      ids): from its start, so every record written since is shown; the ring buffer drops
      the old log's records (their offsets would collide with the new log's);
    - the same log cut short (same topic id, end below the position): from its new end;
    - an offset out of range that the consumer reset: from where it was reset to;
    - the topic gone: said once; the tail waits for it and reads it from its start when it
      exists again (a reader never creates the topic it reads).
    """

    def __init__(
        self, service: MessageService, topic: str, *, partitions: Iterable[int] | None,
        start: StartAt, where: Filter | None, buffer: RingBuffer | None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.topic = topic
        self.partitions = list(partitions) if partitions is not None else None
        self.start_at = start
        self.filter = where
        self.buffer = buffer if buffer is not None else RingBuffer()
        self.read_count = 0
        self.matched_count = 0
        self.error: str | None = None
        self._consumer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._aks: list[Any] = []
        self._next: dict[int, int] = {}
        self._paused = False
        self._task: asyncio.Task[None] | None = None
        self.on_notice = on_notice
        self.notice: str | None = None
        self._watch: LogWatch | None = None
        self._gone = False
        self._suspect: set[int] = set()
        self._checked = 0.0

    async def start(self) -> None:
        """Check the topic, resolve the start offsets and start the consumer."""
        from aiokafka.structs import TopicPartition as AkTP

        begin = await self.service.resolve_start(self.topic, self.partitions, self.start_at)
        consumer: Any = None
        # aiokafka offers no public way to send a request over a consumer's connections;
        # its client is `_client` (LogWatch asks the topic's id through it)
        watch = LogWatch(lambda: consumer._client, self.topic, gap=1.5)
        async with contextlib.AsyncExitStack() as stack:
            consumer = await stack.enter_async_context(self.service._consumer(
                reader=True,  # a tail never creates the topic it reads
                created=lambda made: watch.follow_connections(made._client)))
            self._aks = [AkTP(tp.topic, tp.partition) for tp in begin]
            consumer.assign(self._aks)
            for ak in self._aks:
                consumer.seek(ak, begin[TopicPartition(ak.topic, ak.partition)])
            self._next = {tp.partition: off for tp, off in begin.items()}
            self._gone = False
            self._suspect = set()
            await watch.identity()  # the log this tail reads
            self._consumer, self._watch = consumer, watch
            self._clients = stack.pop_all()

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._consumer = self._clients, None, None
            if stack is not None:
                await stack.aclose()

    async def __aenter__(self) -> Tail:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def batches(self, *, filter_in_thread: bool = True) -> AsyncIterator[list[Any]]:
        """Raw record batches that passed the filter (records stay aiokafka's: inside core).

        The filter runs in a worker thread (Filter.select_async) so that an event loop
        serving a screen or Slack acks keeps its turn; `filter_in_thread=False` runs it on
        the loop, for a caller whose loop serves nothing else (`tail --json`): each batch
        then skips two thread hand-offs, which on a busy machine wait for the scheduler."""
        if self._consumer is None:
            raise RuntimeError("Tail used before start()")
        flt = self.filter
        decoder = self.service.decoder
        nxt = self._next
        while True:
            with map_kafka_errors(self.service.conn):
                batch = await self._consumer.getmany(timeout_ms=250, max_records=10_000)
                batch = await self._check_log(batch)
            for recs in batch.values():
                if not recs:
                    continue
                self.read_count += len(recs)
                part = recs[-1].partition
                if recs[0].offset < nxt.get(part, 0):
                    self._say(f"partition {part} of {self.topic} went back from offset "
                              f"{nxt[part]} to {recs[0].offset} (offset out of range: the log "
                              "was cut short or created again); continuing from there")
                nxt[part] = recs[-1].offset + 1
                if decoder is not None:
                    recs = await decoder.decode_records(recs)
                if flt is not None:
                    recs = await flt.select_async(recs) if filter_in_thread else flt.select(recs)
                if recs:
                    self.matched_count += len(recs)
                    yield recs
            if not batch:
                yield []  # lets a caller notice the tail is idle (and stop if it wants)

    # ------------------------------------------------------------ the log under the tail

    def _say(self, text: str) -> None:
        self.notice = text
        if self.on_notice is not None:
            self.on_notice(text)

    async def _check_log(self, batch: dict[Any, Any]) -> dict[Any, Any]:
        """Is the log still the one being read? (class docstring; kafkaops.core.kafka.logwatch)
        Returns the batch to use: empty when it came from a log that was replaced."""
        consumer, watch = self._consumer, self._watch
        assert watch is not None
        stamps = {ak: consumer.last_poll_timestamp(ak) for ak in self._aks}
        answered = max((s for s in stamps.values() if s is not None), default=None)
        due = watch.due(answered / 1000 if answered is not None else None, bool(batch))
        ask = due or (self._gone and watch.since_check() >= 1.0)
        if ask and await self._settle(await watch.identity()):
            return {}
        if time.monotonic() - self._checked < 0.25:
            return batch
        self._checked = time.monotonic()
        behind: list[tuple[Any, int, int]] = []
        for ak in self._aks:
            high = consumer.highwater(ak)
            position = self._next.get(ak.partition, 0)
            if ak in batch or high is None or high >= position:
                if self._suspect:
                    self._suspect.discard(ak.partition)
                    watch.behind(ak.partition, None, position, None)
                continue
            if ak.partition not in self._suspect:  # first sight: a new topic id settles it
                self._suspect.add(ak.partition)
                if await self._settle(await watch.identity()):
                    return {}
            if watch.behind(ak.partition, high, position, stamps.get(ak)):
                behind.append((ak, position, high))
        if behind:
            same = (await watch.identity()) == "same"
            for ak, position, high in behind:
                self._suspect.discard(ak.partition)
                if same:  # the same log, cut short: what is below its end was read
                    consumer.seek(ak, high)
                    self._next[ak.partition] = high
                    self._say(f"partition {ak.partition} of {self.topic} was cut short: its "
                              f"end went back from offset {position} to {high}; records "
                              f"{high}..{position - 1} are gone; continuing from {high}")
                else:
                    await consumer.seek_to_beginning(ak)
                    start = await consumer.position(ak)
                    self._next[ak.partition] = start
                    self.buffer.clear()  # its offsets would collide with the new log's
                    self._say(f"partition {ak.partition} of {self.topic} went back: its end "
                              f"is offset {high}, below offset {position} already read (the "
                              "broker restarted empty or the topic was recreated); reading it "
                              f"from its start (offset {start})")
        return batch

    async def _settle(self, seen: str) -> bool:
        """Act on what the topic's id says; True when this round's records are to be
        dropped (they came from a log that is gone or was replaced)."""
        cluster = self.service.conn.name
        if seen == "gone":
            if not self._gone:
                self._gone = True
                self._say(f"topic {self.topic} no longer exists on cluster {cluster!r} "
                          "(deleted, or the broker restarted empty); waiting for it to exist "
                          "again")
            return True
        if seen == "same" and self._gone:
            self._gone = False
            self._say(f"topic {self.topic} is back on cluster {cluster!r} (the same log); "
                      "continuing")
        elif seen == "new":
            was_gone, self._gone = self._gone, False
            await self._from_start(
                f"topic {self.topic} {'exists again' if was_gone else 'was created again'} "
                f"on cluster {cluster!r} (a new log: the broker restarted empty or the topic "
                "was recreated); reading it from its start")
            return True
        return False

    async def _from_start(self, text: str) -> None:
        consumer = self._consumer
        await consumer.seek_to_beginning(*self._aks)
        for ak in self._aks:
            self._next[ak.partition] = await consumer.position(ak)
        self._suspect.clear()
        self.buffer.clear()  # records of the old log: their offsets mean nothing now
        self._say(text)

    async def stream(self, limit: int | None = None) -> AsyncIterator[list[Message]]:
        """Batches of Messages that passed the filter; stops after `limit` of them."""
        left = limit
        async for recs in self.batches():
            if not recs:
                continue
            if left is not None:
                recs = recs[:left]
                left -= len(recs)
            yield [to_message(r) for r in recs]
            if left is not None and left <= 0:
                return

    async def json_stream(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """`stream()` as `tail --json` prints it: each batch as JSON lines (json_lines),
        encoded straight from the records as they came. For a process that only prints
        them: the filter runs on the event loop (see `batches`)."""
        left = limit
        async for recs in self.batches(filter_in_thread=False):
            if not recs:
                continue
            if left is not None:
                recs = recs[:left]
                left -= len(recs)
            yield json_lines(recs)
            if left is not None and left <= 0:
                return

    def run(self) -> asyncio.Task[None]:
        """Consume in the background into `self.buffer` until stopped."""

        async def loop() -> None:
            try:
                async for recs in self.batches():
                    self.buffer.extend(recs)
            except KafkaOpsError as e:
                self.error = str(e)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # surfaced in stats(); the screen shows it
                self.error = f"tail stopped: {type(e).__name__}: {e}"

        self._task = asyncio.get_running_loop().create_task(loop())
        return self._task

    def pause(self) -> None:
        if self._consumer is not None:
            self._consumer.pause(*self._aks)
        self._paused = True

    def resume(self) -> None:
        if self._consumer is not None:
            self._consumer.resume(*self._aks)
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    async def restart(self, start: StartAt, *, where: Filter | None | Literal["keep"] = "keep",
                      clear: bool = True) -> None:
        """Jump: stop, then start again from another position (and filter)."""
        running = self._task is not None
        await self.stop()
        self.start_at = start
        if where != "keep":
            self.filter = where
        if clear:
            self.buffer.clear()
        self.read_count = self.matched_count = 0
        self.error = None
        await self.start()
        if self._paused:
            self.pause()
        if running:
            self.run()

    def stats(self) -> TailStats:
        return TailStats(self.read_count, self.matched_count, self._paused, dict(self._next),
                         self.error, self.notice)
