"""`DemoTraffic`: the demo's producers and real consumer groups (aiokafka, committing
offsets) at a bounded pace, with async start()/stop() and `stats()` for a running count.

Memory: Tansu keeps every record in memory (measured: about 0.7 KB per demo record with
250 ms producer batching, 0.95 KB with 20 ms: small batches cost more), so the traffic runs
at full rate only for its first `full_rate_records` records and then at a tenth of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.config import ClusterConfig, Duration
from kafkaops.core.errors import UsageError
from kafkaops.core.kafka import clients
from kafkaops.core.tasks import cancel_and_wait
from kafkaops.demo.catalogue import DEMO_GROUPS, DEMO_TOPICS, DemoGroup, DemoTopic
from kafkaops.demo.dead_letters import check_order, spring_dlt_headers

#: records/s over all topics, unless told otherwise
DEFAULT_RATE = 200.0
#: the highest --rate accepted: the embedded brokers keep every record in memory
MAX_RATE = 2000.0
#: records produced at the full rate; after that the rate drops to a tenth. Tansu holds about
#: 0.7 KB of memory per demo record (measured), so about 70 MB at this point
FULL_RATE_RECORDS = 100_000
SLOW_FACTOR = 0.1


def rate_multiplier(elapsed_s: float, period_s: float, phase: float) -> float:
    """The slow swing of a topic's rate around its share: 0.5x to 1.5x, averaging 1."""
    return 1.0 + 0.5 * math.sin(2 * math.pi * elapsed_s / period_s + phase)



def check_rate(rate: float) -> float:
    if not math.isfinite(rate) or rate <= 0:
        raise UsageError(f"--rate {rate:g}: give a number of records per second above 0")
    if rate > MAX_RATE:
        raise UsageError(
            f"--rate {rate:g}: at most {MAX_RATE:g} records/s; the embedded brokers keep "
            "every record in memory"
        )
    return rate



@dataclass(frozen=True)
class DemoStats:
    """A snapshot of the demo traffic, for a running count."""

    elapsed_s: float
    """Seconds since start()."""
    produced: int
    """Records acknowledged by the broker, all topics (dead letters included)."""
    per_topic: Mapping[str, int]
    """Records acknowledged per topic."""
    consumed: Mapping[str, int]
    """Records consumed (and committed) per group."""
    behind: Mapping[str, int]
    """Per group: records produced to its topics that it has not consumed."""
    rate: float
    """The overall target rate now (records/s)."""
    slowed: bool
    """True once `full_rate_records` were produced and the rate dropped."""
    stopped_groups: tuple[str, ...]
    """Groups whose consumer has stopped, as designed."""
    errors: tuple[str, ...]
    """The last problems a producer or consumer ran into (they retry by themselves)."""


class DemoTraffic:
    """Producers and consumer groups on one cluster. `await start()`, `await stop()`.

    `rate` is records/s over all topics (each topic gets its `share`, swinging slowly);
    after `full_rate_records` records it drops to a tenth. `linger_ms` is the producers'
    batching delay (bigger batches cost the in-memory broker less per record).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        rate: float = DEFAULT_RATE,
        topics: Sequence[DemoTopic] = DEMO_TOPICS,
        groups: Sequence[DemoGroup] = DEMO_GROUPS,
        full_rate_records: int = FULL_RATE_RECORDS,
        seed: int | None = None,
        linger_ms: int = 250,
    ) -> None:
        self.bootstrap = bootstrap
        #: aiokafka's own request timeout (40 s): a group join on Tansu takes half a session
        self.cluster = ClusterConfig(bootstrap_servers=bootstrap, request_timeout=Duration(40.0))
        self.linger_ms = linger_ms
        self.rate = check_rate(rate)
        self.topics = tuple(topics)
        self.groups = tuple(groups)
        self.full_rate_records = full_rate_records
        self._rng = random.Random(seed)
        self._produced: dict[str, int] = {t.name: 0 for t in self.topics}
        self._consumed: dict[str, int] = {g.group_id: 0 for g in self.groups}
        self._stopped: list[str] = []
        self._errors: list[str] = []
        self._producers: dict[str | None, Any] = {}
        self._clients: contextlib.AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = 0.0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the producers and the groups' consumers (groups join in the background)."""
        codecs = {t.compression for t in self.topics} | {None}  # None also sends dead letters
        async with contextlib.AsyncExitStack() as stack:
            producers = {}
            for codec in codecs:
                producers[codec] = await stack.enter_async_context(clients.producer(
                    "demo", self.cluster, compression_type=codec, linger_ms=self.linger_ms,
                    client_id=f"kafkaops-demo-producer-{codec or 'none'}"))
            self._producers, self._clients = producers, stack.pop_all()
        self._started_at = time.monotonic()
        self._tasks.append(self._spawn("producer", self._produce_loop))
        for group in self.groups:
            for member in range(group.members):
                self._tasks.append(self._spawn(
                    f"{group.group_id}[{member}]", functools.partial(self._consume, group, member)
                ))

    async def stop(self) -> None:
        """Stop every consumer (they leave their groups) and flush the producers."""
        tasks, self._tasks = self._tasks, []
        try:
            await cancel_and_wait(*tasks)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._producers = self._clients, None, {}
            if stack is not None:
                await stack.aclose()

    async def __aenter__(self) -> DemoTraffic:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, name: str, body: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        async def supervised() -> None:
            # A producer or consumer that fails (a broker restarting, a rebalance error)
            # starts again after a pause; the demo keeps going and stats() shows the error.
            while True:
                try:
                    await body()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - recorded and retried
                    self._errors = [*self._errors[-4:],
                                    f"{name}: {type(e).__name__}: {e}".strip()]
                    await asyncio.sleep(2.0)

        return asyncio.create_task(supervised(), name=f"kafkaops-demo {name}")

    # ------------------------------------------------------------ state

    def stats(self) -> DemoStats:
        produced = dict(self._produced)
        behind = {
            g.group_id: max(sum(produced.get(t, 0) for t in g.topics)
                            - self._consumed[g.group_id], 0)
            for g in self.groups
        }
        return DemoStats(
            elapsed_s=time.monotonic() - self._started_at if self._started_at else 0.0,
            produced=sum(produced.values()),
            per_topic=produced,
            consumed=dict(self._consumed),
            behind=behind,
            rate=self.current_rate(),
            slowed=self.slowed,
            stopped_groups=tuple(self._stopped),
            errors=tuple(self._errors),
        )

    @property
    def slowed(self) -> bool:
        return sum(self._produced.values()) >= self.full_rate_records

    def current_rate(self) -> float:
        return self.rate * (SLOW_FACTOR if self.slowed else 1.0)

    # ------------------------------------------------------------ producing

    async def _produce_loop(self) -> None:
        fed = [t for t in self.topics if t.share > 0 and t.generator is not None]
        gens = {t.name: t.generator(random.Random(self._rng.random()))
                for t in fed if t.generator is not None}
        phases = {t.name: self._rng.uniform(0, 2 * math.pi) for t in fed}
        credit = {t.name: 0.0 for t in fed}
        tick = 0.1
        last = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            dt, last = min(now - last, 1.0), now
            elapsed = now - self._started_at
            rate = self.current_rate()
            sends: list[tuple[str, Awaitable[Any]]] = []
            for t in fed:
                credit[t.name] += rate * t.share * dt * rate_multiplier(
                    elapsed, t.period_s, phases[t.name])
                n = int(credit[t.name])
                credit[t.name] -= n
                producer = self._producers[t.compression]
                for _ in range(n):
                    rec = gens[t.name].next()
                    fut = await producer.send(t.name, rec.value, key=rec.key,
                                              headers=list(rec.headers) or None)
                    sends.append((t.name, fut))
            # waiting for the acks here is the back-pressure: a slow broker slows the demo
            results = await asyncio.gather(*(f for _, f in sends), return_exceptions=True)
            for (topic, _), res in zip(sends, results, strict=True):
                if isinstance(res, BaseException):
                    self._errors = [*self._errors[-4:], f"produce to {topic}: {res}"]
                else:
                    self._produced[topic] += 1

    # ------------------------------------------------------------ consuming

    def _produced_on(self, topics: Sequence[str]) -> int:
        return sum(self._produced.get(t, 0) for t in topics)

    async def _consume(self, group: DemoGroup, member: int) -> None:
        if group.group_id in self._stopped:
            return  # stopped as designed: never restarted
        # leaving the context stops the consumer, which leaves its group (also on Tansu,
        # whose generations start at 0: clients.consumer sends the LeaveGroup aiokafka skips)
        async with clients.consumer(
            "demo", self.cluster, topics=group.topics, group_id=group.group_id,
            client_id=f"{group.group_id}-{member}", enable_auto_commit=False,
            auto_offset_reset="earliest",
        ) as consumer:
            if group.behaviour == "stopped":
                await self._consume_then_stop(consumer, group)
            elif group.behaviour == "falls-behind":
                await self._consume_slowly(consumer, group)
            else:
                await self._keep_up(consumer, group)

    async def _handle(self, group: DemoGroup, batch: Mapping[Any, list[Any]]) -> int:
        n = 0
        dead: list[Awaitable[Any]] = []
        for tp, msgs in batch.items():
            n += len(msgs)
            if group.dead_letter_topic is None:
                continue
            for msg in msgs:
                failure = check_order(msg.value)
                if failure is None:
                    continue
                headers = list(msg.headers or ()) + spring_dlt_headers(
                    tp.topic, tp.partition, msg.offset, msg.timestamp, group.group_id, failure)
                dead.append(await self._producers[None].send(
                    group.dead_letter_topic, msg.value, key=msg.key, headers=headers))
        for res in await asyncio.gather(*dead, return_exceptions=True):
            if isinstance(res, BaseException):
                self._errors = [*self._errors[-4:], f"dead letter: {res}"]
            else:
                self._produced[group.dead_letter_topic or ""] = (
                    self._produced.get(group.dead_letter_topic or "", 0) + 1)
        return n

    async def _keep_up(self, consumer: Any, group: DemoGroup) -> None:
        last_commit = 0.0
        pending = 0
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            pending += await self._handle(group, batch)
            # commit about once a second, as a service with auto-commit would
            if pending and time.monotonic() - last_commit >= 1.0:
                await consumer.commit()
                self._consumed[group.group_id] += pending
                pending, last_commit = 0, time.monotonic()

    async def _consume_slowly(self, consumer: Any, group: DemoGroup) -> None:
        while True:
            allowed = int(group.speed * self._produced_on(group.topics)) \
                - self._consumed[group.group_id]
            if allowed <= 0:
                await asyncio.sleep(0.5)
                continue
            batch = await consumer.getmany(timeout_ms=1000, max_records=min(allowed, 200))
            n = await self._handle(group, batch)
            if n:
                await consumer.commit()
                self._consumed[group.group_id] += n

    async def _consume_then_stop(self, consumer: Any, group: DemoGroup) -> None:
        consumed = 0
        deadline: float | None = None
        while consumed < group.stop_after:
            batch = await consumer.getmany(timeout_ms=500,
                                           max_records=group.stop_after - consumed)
            consumed += await self._handle(group, batch)
            if deadline is None and consumer.assignment():
                deadline = time.monotonic() + 20.0  # a quiet topic must not keep it alive
            if deadline is not None and time.monotonic() > deadline:
                break
        await consumer.commit()
        self._consumed[group.group_id] += consumed
        self._stopped.append(group.group_id)
        # returning stops the consumer: it leaves the group, which keeps its offsets
