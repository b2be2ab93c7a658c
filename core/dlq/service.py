"""DeadLetterService: find dead-letter topics, read why records landed there, and replay them
to where they came from, exactly once, audited: `plan_replay(...) -> ReplayPlan` reads and
changes nothing; `apply(plan, actor=..., face=...)` replays exactly the planned records.

Which topics are dead-letter topics and which headers tell a record's origin:
core/dlq/headers.py.

Replay is idempotent: a ledger (`_kafkaops.dlq-replays`, compacted, one partition; layout
and why in core/dlq/ledger.py) records each replayed record by its dead-letter position (topic,
partition, offset, kept as bitmaps per block of offsets), so replaying the same records
again produces nothing. A replay first writes a *pending* batch to the ledger (its lock on
the topic, naming the process that runs it), records the destination end offsets in it,
then produces, then marks the records done. If it dies in between, the next replay reads
the destination from those offsets for records carrying the batch's `kafkaops.replay.id`
header and marks the ones that did land as done, so a crash neither loses nor doubles a
record. Two replays of one topic at once: the one whose pending batch is first on the
ledger goes ahead, the other stops with Conflict. A pending batch whose process is dead
(same host) is recovered at once; one from another host after `STALE_PENDING_S`.

Replayed records keep their key, value and headers, minus the dead-letter headers, plus
`kafkaops.replay.of` (dlq/partition/offset) and `kafkaops.replay.id`; they are partitioned
by key, as the original producer's default partitioner did.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kafkaops.core.dlq.headers import (
    choose,
    group_reasons,
    origin_by_name,
    parse_dead_letter,
    replay_headers,
)
from kafkaops.core.dlq.ledger import Ledger, this_owner
from kafkaops.core.dlq.model import (
    DeadLetter,
    DeadLetterTopic,
    ReplayItem,
    ReplayPlan,
    ReplayResult,
)
from kafkaops.core.dlq.store import LedgerStore
from kafkaops.core.errors import NotFound, NothingToChange, UsageError
from kafkaops.core.expr.filter import Filter, compile_filter
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.messages.model import Message, StartAt
from kafkaops.core.messages.service import MessageService
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.services import Services

#: the action name audit records and Slack permissions use
ACTION = "dlq.replay"


class DeadLetterService:
    """Dead letters of one cluster. `DeadLetterService(services)` (current cluster) or with
    `cluster=`.

        plan = await svc.plan_replay("orders.dlq", where=compile_filter('status == "late"'))
        print("\n".join(plan.describe()))
        result = await svc.apply(plan, actor="alice@host", face="cli")
    """

    def __init__(self, services: Services, cluster: str | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name
        self.config = services.config.dead_letters
        self.ledger = LedgerStore(services, self.cluster)
        #: after letters(max_scan=...): (records read at most, records on the topic)
        self.scanned: tuple[int, int] | None = None

    async def _messages(self) -> MessageService:
        return MessageService(await self.services.connection(self.cluster))

    async def list_topics(self, *, sample: int = 2000) -> list[DeadLetterTopic]:
        """Every dead-letter topic with its count, and the reasons of its newest `sample`
        records (per partition) grouped."""
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata()
        names = sorted(t for t in meta.topics if origin_by_name(t, self.config) is not None)
        if not names:
            return []
        ledger = await self.ledger.read()
        sem = asyncio.Semaphore(4)

        async def one(name: str) -> DeadLetterTopic:
            async with sem:
                tps = [TopicPartition(name, p.partition) for p in meta.topics[name].partitions]
                water = await conn.high_watermarks(tps)
                total = sum(max(e - s, 0) for s, e in water.values())
                svc = MessageService(conn)
                fallback = origin_by_name(name, self.config)
                letters = [parse_dead_letter(m, fallback) for m in await svc.read(
                    name, start=StartAt.end(back=sample))] if total else []
                return DeadLetterTopic(
                    topic=name, origin=fallback, partitions=len(tps), messages=total,
                    read=len(letters), reasons=group_reasons(letters),
                    replayed=ledger.count(name),
                    frameworks=tuple(sorted({dl.origin.framework for dl in letters})),
                )

        return list(await asyncio.gather(*(one(n) for n in names)))

    async def letters(self, topic: str, *, where: Filter | None = None,
                      limit: int | None = None, max_scan: int | None = None) -> list[DeadLetter]:
        """The records of a dead-letter topic (matching `where`) with origin and reason.

        `max_scan` bounds the records read (the oldest ones, shared out among partitions),
        for callers that must not let one request read a whole topic (a Slack user);
        `self.scanned` then says (records read at most, records on the topic)."""
        fallback = self._fallback(topic)
        # values framed for a Schema Registry come decoded (for the filter and for display);
        # a replay reads the records again, raw (_records_at)
        svc = MessageService(await self.services.connection(self.cluster),
                             decoder=self.services.schema_decoder(self.cluster))
        if max_scan is None:
            msgs = await svc.read(topic, where=where, limit=limit)
        else:
            tps = [TopicPartition(topic, p) for p in await svc.partitions(topic)]
            water = await svc.conn.high_watermarks(tps)
            share = max(1, max_scan // max(1, len(tps)))
            stop = {tp: min(end, start + share) for tp, (start, end) in water.items()}
            total = sum(max(0, end - start) for start, end in water.values())
            self.scanned = (min(total, sum(stop[tp] - water[tp][0] for tp in stop)), total)
            msgs = []
            async for batch in svc.scan(topic, where=where, stop_offsets=stop):
                msgs.extend(batch)
                if limit is not None and len(msgs) >= limit:
                    msgs = msgs[:limit]
                    break
        return [parse_dead_letter(m, fallback) for m in msgs]

    def _fallback(self, topic: str) -> str | None:
        return origin_by_name(topic, self.config)

    async def replayed_positions(self, topic: str) -> set[tuple[int, int]]:
        """(partition, offset) of this topic's records that were replayed already."""
        return (await self.ledger.read()).positions(topic)


    async def _read_ledger(self) -> Ledger:
        return await self.ledger.read()

    async def _ensure_ledger(self) -> None:
        await self.ledger.ensure()

    # ------------------------------------------------------------ plan and apply

    async def plan_replay(
        self, topic: str, *, where: Filter | None = None,
        positions: Iterable[tuple[int, int]] | None = None, to: str | None = None,
    ) -> ReplayPlan:
        """What replaying the dead letters of `topic` would write where: those matching
        `where`, or at the given (partition, offset) positions (all when neither), each to
        its origin topic or to `to`. Records replayed before are skipped. Reads only (also
        on a read-only cluster); raises NotFound for an unknown topic or destination and
        UsageError for a position that holds no such record."""
        wanted = set(positions) if positions is not None else None
        items, already, no_origin = await self._choose(topic, where, wanted, to)
        return ReplayPlan(
            cluster=self.cluster, topic=topic, items=tuple(items),
            already_replayed=tuple(already), no_origin=tuple(no_origin),
            filter=where.text if where is not None else None, to=to,
            read_only=self.services.cluster_config(self.cluster).read_only,
            planned_at=time.time(),
        )

    async def apply(self, plan: ReplayPlan, *, actor: str, face: str, hook: Any = None
                    ) -> ReplayResult:
        """Replay exactly the records the plan covers (its positions), audited (action
        dlq.replay) through record_change. Under the topic's lock the ledger and the records
        are read again: a record replayed meanwhile is skipped, never doubled.

        Refuses, writing nothing: on a read-only cluster (Refused), a plan with nothing to
        replay (NothingToChange), a plan for another cluster (UsageError). `hook(point)` is
        awaited at the points locked, produced and marked (rehearsing a crash: tests kill
        the replay there)."""
        from kafkaops.core.audit.log import record_change

        if plan.cluster != self.cluster:
            raise UsageError(
                f"plan is for cluster {plan.cluster!r}, this service works on {self.cluster!r}")
        self.services.require_writable(self.cluster, f"replay dead letters of {plan.topic!r}")
        if not plan.items:
            raise NothingToChange(plan.nothing_to_change())
        params = {"filter": plan.filter, "to": plan.to, "chosen": plan.chosen,
                  "positions": [list(p) for p in plan.positions[:1000]]}

        async def change() -> ReplayResult:
            return await self._replay(plan, actor, hook)

        result: ReplayResult = await record_change(
            self.services, actor=actor, face=face, action=ACTION, target=plan.topic,
            params=params, apply=change, cluster=self.cluster,
            summarize=lambda r: {
                "replay_id": r.replay_id, "replayed": r.count, "to": r.by_destination(),
                "already_replayed": len(r.already_replayed), "no_origin": len(r.no_origin),
                "recovered": r.recovered,
                "items": [[i.partition, i.offset] for i in r.items][:1000],
            },
        )
        return result

    async def replay(
        self, topic: str, *, actor: str, face: str, where: Filter | None = None,
        positions: Iterable[tuple[int, int]] | None = None, to: str | None = None,
        hook: Any = None,
    ) -> ReplayResult:
        """`plan_replay` then `apply` in one call, for scripts: refused on a read-only
        cluster before anything is read."""
        self.services.require_writable(self.cluster, f"replay dead letters of {topic!r}")
        plan = await self.plan_replay(topic, where=where, positions=positions, to=to)
        return await self.apply(plan, actor=actor, face=face, hook=hook)

    async def _choose(
        self, topic: str, where: Filter | None, wanted: set[tuple[int, int]] | None,
        to: str | None, ledger: Ledger | None = None,
    ) -> tuple[list[ReplayItem], list[tuple[int, int]], list[tuple[int, int]]]:
        """Read the letters and the ledger, and choose (to replay, replayed before, no known
        origin); NotFound when the topic or a destination does not exist."""
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([topic] + ([to] if to else []))
        if topic not in meta.topics:
            raise NotFound(f"topic {topic!r} not found on cluster {self.cluster!r}")
        if to is not None and to not in meta.topics:
            raise NotFound(f"destination topic {to!r} not found on cluster {self.cluster!r}")
        letters = await self.letters(topic, where=where)
        ledger = ledger or await self.ledger.read()
        items, already, no_origin = choose(topic, letters, ledger, wanted, to,
                                           filtered=where is not None)
        missing = sorted({i.to_topic for i in items} - set(meta.topics))
        if missing:
            meta = await conn.metadata(missing)
            missing = [t for t in missing if t not in meta.topics]
        if missing:
            raise NotFound(
                f"origin topic {missing[0]!r} of dead letters in {topic!r} not found on cluster "
                f"{self.cluster!r}; nothing was replayed (give --to TOPIC to choose one)")
        return items, already, no_origin

    async def _replay(self, plan: ReplayPlan, actor: str, hook: Any = None) -> ReplayResult:
        topic, store = plan.topic, self.ledger
        where = compile_filter(plan.filter) if plan.filter else None
        await store.ensure()
        conn = await self.services.connection(self.cluster)
        async with clients.producer(conn, acks="all") as producer:
            with map_kafka_errors(conn, doing=f"replay dead letters of {topic!r}"):
                replay_id = uuid.uuid4().hex
                batch: dict[str, Any] = {
                    "dlq": topic, "state": "pending", "at": int(time.time() * 1000), "by": actor,
                    "owner": this_owner(), "starts": {},
                }
                # the lock first: everything below (recovery, the choice, the ledger's blocks)
                # is done by the one replay that holds the topic
                meta = await store.write(producer, f"batch/{replay_id}", batch)
                await store.check_alone(producer, topic, replay_id, meta.offset)
                await _call(hook, "locked")
                ledger = await store.read()
                recovered = await store.recover(producer, topic, ledger)
                items, already, no_origin = await self._choose(
                    topic, where, set(plan.positions), plan.to, ledger)
                if not items:
                    await store.write(producer, f"batch/{replay_id}",
                                      dict(batch, state="done", replayed=0))
                    return ReplayResult(topic, False, replay_id, (), tuple(already),
                                        tuple(no_origin), recovered)
                dests = sorted({i.to_topic for i in items})
                dmeta = await conn.metadata(dests)
                dtps = [TopicPartition(t, p.partition) for t in dests
                        for p in dmeta.topics[t].partitions]
                water = await conn.high_watermarks(dtps)
                batch["starts"] = {f"{tp.topic}/{tp.partition}": water.get(tp, (0, 0))[1]
                                   for tp in dtps}
                batch["count"] = len(items)
                await store.write(producer, f"batch/{replay_id}", batch)
                by_pos = {(m.partition, m.offset): m
                          for m in await self._records_at(topic, items)}
                futures = []
                for item in items:
                    msg = by_pos[(item.partition, item.offset)]
                    futures.append(await producer.send(
                        item.to_topic, msg.value, key=msg.key,
                        headers=replay_headers(msg, replay_id)))
                landed = await asyncio.gather(*futures)
                await _call(hook, "produced")
                done_items = [
                    ReplayItem(item.partition, item.offset, item.to_topic, item.reason,
                               md.partition, md.offset)
                    for item, md in zip(items, landed, strict=True)
                ]
                await store.mark_done(producer, topic, ledger,
                                      [(i.partition, i.offset) for i in items])
                await _call(hook, "marked")
                await store.write(producer, f"batch/{replay_id}",
                                  dict(batch, state="done", replayed=len(done_items)))
                return ReplayResult(topic, False, replay_id, tuple(done_items),
                                    tuple(already), tuple(no_origin), recovered)

    async def _records_at(self, topic: str, items: Sequence[ReplayItem]) -> list[Message]:
        svc = await self._messages()
        parts = sorted({i.partition for i in items})
        first = {p: min(i.offset for i in items if i.partition == p) for p in parts}
        want = {(i.partition, i.offset) for i in items}
        out: list[Message] = []
        for p in parts:
            async for batch in svc.scan(topic, partitions=[p], start=StartAt.at_offset(first[p])):
                out.extend(m for m in batch if (m.partition, m.offset) in want)
        return out



async def _call(hook: Any, point: str) -> None:
    """Rehearsal points of a replay (tests stop a replay there to kill it)."""
    if hook is not None:
        result = hook(point)
        if result is not None:
            await result
