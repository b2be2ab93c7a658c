"""Dead-letter topics: find them, read why records landed there, and replay them to where
they came from, exactly once, audited.

Recognition (config `dead_letters`): a topic named in `dead_letters.topics` (dead-letter
topic -> origin), or whose name ends in one of `dead_letters.suffixes` (`orders.dlq` is the
dead-letter topic of `orders`). The origin of each record comes from the headers the common
frameworks write, before falling back to the name:
- Spring Kafka's DeadLetterPublishingRecoverer: `kafka_dlt-original-topic`, `-partition`
  (4-byte big-endian int), `-offset` (8-byte long), `-timestamp`, `-consumer-group`,
  `kafka_dlt-exception-fqcn`, `-message`, `-cause-fqcn`, `-stacktrace`;
- Kafka Connect's errors.deadletterqueue.context.headers.enable: `__connect.errors.topic`,
  `.partition`, `.offset` (text), `.connector.name`, `.exception.class.name`,
  `.exception.message`;
- our own, for services that write dead letters themselves: `kafkaops.origin.topic`,
  `kafkaops.origin.partition`, `kafkaops.origin.offset` (text), `kafkaops.error.class`,
  `kafkaops.error.message`.

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
import json
import logging
import re
import struct
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.config import DeadLetterConfig
from kafkaops.core.dlq.ledger import (
    Ledger,
    abandoned,
    describe_owner,
    this_owner,
)
from kafkaops.core.errors import Conflict, NotFound, NothingToChange, UsageError
from kafkaops.core.expr.filter import Filter
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.messages.service import Message, MessageService, StartAt
from kafkaops.core.records import TopicPartition

if TYPE_CHECKING:
    from kafkaops.core.services import Services

log = logging.getLogger(__name__)

LEDGER_TOPIC = "_kafkaops.dlq-replays"

# our own dead-letter headers
ORIGIN_TOPIC = "kafkaops.origin.topic"
ORIGIN_PARTITION = "kafkaops.origin.partition"
ORIGIN_OFFSET = "kafkaops.origin.offset"
ERROR_CLASS = "kafkaops.error.class"
ERROR_MESSAGE = "kafkaops.error.message"
# on replayed records
REPLAY_OF = "kafkaops.replay.of"
REPLAY_ID = "kafkaops.replay.id"

_SPRING = "kafka_dlt-"
_CONNECT = "__connect.errors."
_DROP_ON_REPLAY = (_SPRING, _CONNECT, "kafkaops.origin.", "kafkaops.error.", "kafkaops.replay.")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Origin:
    """Where a dead letter came from."""

    topic: str | None
    """Origin topic (None when neither headers nor the name tell)."""
    partition: int | None = None
    """Origin partition, when the headers say."""
    offset: int | None = None
    """Origin offset, when the headers say."""
    timestamp: int | None = None
    """Original record timestamp (ms), when the headers say."""
    group: str | None = None
    """Consumer group (Spring) or connector (Connect) that gave up on it."""
    framework: str = "name"
    """spring, connect, kafkaops, or name (only the topic name told the origin)."""


@dataclass(frozen=True)
class DeadLetter:
    message: Message
    """The record on the dead-letter topic."""
    origin: Origin
    """Where it came from."""
    error_class: str | None
    """Exception class, when the headers say."""
    error_message: str | None
    """Exception message, when the headers say."""
    reason: str
    """The grouping key: short class name and message with ids and numbers blanked."""
    cause_class: str | None = None
    """The root cause's class, when the headers say (Spring's exception-cause-fqcn)."""


@dataclass(frozen=True)
class ReasonGroup:
    reason: str
    """Grouped reason (see DeadLetter.reason)."""
    count: int
    """Records with this reason among those read."""
    example: str
    """One real message of the group."""


@dataclass(frozen=True)
class DeadLetterTopic:
    topic: str
    """The dead-letter topic."""
    origin: str | None
    """Origin topic by name or config (each record's headers may say otherwise)."""
    partitions: int
    """Partition count."""
    messages: int
    """Records on the topic (end - log start, summed over partitions)."""
    read: int
    """Records read for the reasons (the newest ones, at most the sample size)."""
    reasons: tuple[ReasonGroup, ...]
    """Reasons grouped, most frequent first."""
    replayed: int = 0
    """Records of this topic replayed so far (per the ledger)."""
    frameworks: tuple[str, ...] = ()
    """Which header formats were seen: spring, connect, kafkaops, name."""


@dataclass(frozen=True)
class ReplayItem:
    partition: int
    """Dead-letter partition."""
    offset: int
    """Dead-letter offset."""
    to_topic: str
    """Destination topic."""
    reason: str
    """Why it was a dead letter."""
    to_partition: int | None = None
    """Where it landed (None in a dry run)."""
    to_offset: int | None = None
    """Where it landed (None in a dry run)."""


@dataclass(frozen=True)
class ReplayResult:
    topic: str
    """The dead-letter topic."""
    dry_run: bool
    """Nothing was written."""
    replay_id: str | None
    """Id of this replay (also in each replayed record's kafkaops.replay.id header)."""
    items: tuple[ReplayItem, ...]
    """Records replayed (or, in a dry run, that would be)."""
    already_replayed: tuple[tuple[int, int], ...]
    """(partition, offset) of matching records skipped: replayed before."""
    no_origin: tuple[tuple[int, int], ...]
    """(partition, offset) of matching records skipped: origin unknown (use `to`)."""
    recovered: int = 0
    """Records of an interrupted earlier replay found on their destination and marked done."""

    @property
    def count(self) -> int:
        return len(self.items)

    def by_destination(self) -> dict[str, int]:
        return dict(Counter(i.to_topic for i in self.items))


# ---------------------------------------------------------------- pure parts


def origin_by_name(topic: str, cfg: DeadLetterConfig) -> str | None:
    """The origin topic when `topic` is a dead-letter topic by config or name, else None."""
    if topic in cfg.topics:
        origin: str = cfg.topics[topic]
        return origin
    if topic.startswith("_"):
        return None
    for suffix in sorted(cfg.suffixes, key=len, reverse=True):
        if topic.endswith(suffix) and len(topic) > len(suffix):
            return topic[: -len(suffix)]
    return None


def is_dead_letter_topic(topic: str, cfg: DeadLetterConfig) -> bool:
    return origin_by_name(topic, cfg) is not None


def _int(raw: bytes | None) -> int | None:
    """Spring writes ints as 4 bytes and longs as 8 (big-endian); Connect and we write text."""
    if raw is None:
        return None
    try:
        text = raw.decode("ascii").strip()
        if text.lstrip("-").isdigit():
            return int(text)
    except UnicodeDecodeError:
        pass
    if len(raw) == 4:
        return int(struct.unpack(">i", raw)[0])
    if len(raw) == 8:
        return int(struct.unpack(">q", raw)[0])
    return None


def _str(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")


def parse_dead_letter(msg: Message, fallback_origin: str | None) -> DeadLetter:
    """Origin and error of one dead letter, from its headers (last value of a name wins)."""
    h: dict[str, bytes] = {}
    for name, value in msg.headers:
        h[name] = value
    if f"{_SPRING}original-topic" in h or f"{_SPRING}exception-fqcn" in h:
        origin = Origin(
            topic=_str(h.get(f"{_SPRING}original-topic")) or fallback_origin,
            partition=_int(h.get(f"{_SPRING}original-partition")),
            offset=_int(h.get(f"{_SPRING}original-offset")),
            timestamp=_int(h.get(f"{_SPRING}original-timestamp")),
            group=_str(h.get(f"{_SPRING}original-consumer-group")),
            framework="spring",
        )
        cls = _str(h.get(f"{_SPRING}exception-fqcn") or h.get(f"{_SPRING}key-exception-fqcn"))
        text = _str(h.get(f"{_SPRING}exception-message")
                    or h.get(f"{_SPRING}key-exception-message"))
        cause = _str(h.get(f"{_SPRING}exception-cause-fqcn")
                     or h.get(f"{_SPRING}key-exception-cause-fqcn"))
        # Spring wraps the listener's exception: group by the cause, not the wrapper
        return DeadLetter(msg, origin, cls, text, reason_key(cause or cls, _unwrap(text)),
                          cause)
    elif f"{_CONNECT}topic" in h:
        origin = Origin(
            topic=_str(h.get(f"{_CONNECT}topic")) or fallback_origin,
            partition=_int(h.get(f"{_CONNECT}partition")),
            offset=_int(h.get(f"{_CONNECT}offset")),
            group=_str(h.get(f"{_CONNECT}connector.name")),
            framework="connect",
        )
        cls = _str(h.get(f"{_CONNECT}exception.class.name"))
        text = _str(h.get(f"{_CONNECT}exception.message"))
    elif ORIGIN_TOPIC in h:
        origin = Origin(
            topic=_str(h.get(ORIGIN_TOPIC)) or fallback_origin,
            partition=_int(h.get(ORIGIN_PARTITION)), offset=_int(h.get(ORIGIN_OFFSET)),
            framework="kafkaops",
        )
        cls, text = _str(h.get(ERROR_CLASS)), _str(h.get(ERROR_MESSAGE))
    else:
        origin = Origin(topic=fallback_origin, framework="name")
        cls = text = None
    return DeadLetter(msg, origin, cls, text, reason_key(cls, text))


_SPRING_WRAPPER = re.compile(
    r"^(?:Listener method .*? threw exception;?\s*|.*?nested exception is [\w.$]+:\s*)")


def _unwrap(message: str | None) -> str | None:
    """The cause's message inside Spring's ListenerExecutionFailedException message."""
    if message is None:
        return None
    inner = _SPRING_WRAPPER.sub("", message, count=1).strip()
    return inner or message


_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b")
_NUM = re.compile(r"(?<![A-Za-z])\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']{1,80}'|\"[^\"]{1,80}\"")


def reason_key(error_class: str | None, message: str | None) -> str:
    """`NullPointerException: order <n> has no customer`: what dead letters are grouped by.
    Ids, numbers and quoted values are blanked so one bug is one group."""
    if error_class is None and message is None:
        return "no error headers"
    short = (error_class or "").rsplit(".", 1)[-1].rsplit("$", 1)[-1]
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    first = _UUID.sub("<id>", first)
    first = _HEX.sub("<id>", first)
    first = _QUOTED.sub("<value>", first)
    first = _NUM.sub("<n>", first)
    text = f"{short}: {first}" if short and first else short or first
    return text[:160]


def group_reasons(letters: Iterable[DeadLetter]) -> tuple[ReasonGroup, ...]:
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for dl in letters:
        counts[dl.reason] += 1
        if dl.reason not in examples:
            cls = dl.error_class or ""
            examples[dl.reason] = (f"{cls}: {dl.error_message}" if dl.error_message is not None
                                   else cls or "(no error headers)")[:300]
    return tuple(ReasonGroup(r, n, examples[r]) for r, n in counts.most_common())


def replay_headers(msg: Message, replay_id: str) -> list[tuple[str, bytes]]:
    """The headers a replayed record carries: its own, minus dead-letter ones, plus ours."""
    kept = [(k, v) for k, v in msg.headers if not k.startswith(_DROP_ON_REPLAY)]
    kept.append((REPLAY_OF, f"{msg.topic}/{msg.partition}/{msg.offset}".encode()))
    kept.append((REPLAY_ID, replay_id.encode()))
    return kept


# ---------------------------------------------------------------- the service


class DeadLetterService:
    """Dead letters of one cluster. `DeadLetterService(services)` (current cluster) or with
    `cluster=`."""

    def __init__(self, services: Services, cluster: str | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name
        self.config = services.config.dead_letters
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
        ledger = await self._read_ledger()
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
        return (await self._read_ledger()).positions(topic)

    # ------------------------------------------------------------ ledger I/O

    async def _read_ledger(self) -> Ledger:
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([LEDGER_TOPIC])
        ledger = Ledger()
        if LEDGER_TOPIC not in meta.topics:
            return ledger
        async for batch in MessageService(conn).scan(LEDGER_TOPIC):
            for m in batch:
                ledger.apply(m.offset, m.key, m.value)
        for offset, why in ledger.skipped:
            log.warning("skipping record %d of %s: %s", offset, LEDGER_TOPIC, why)
        return ledger

    async def _ensure_ledger(self) -> None:
        from kafkaops.core.topics.service import NewTopicSpec

        topics = await self.services.topics(self.cluster)
        meta = await topics.conn.metadata([LEDGER_TOPIC])
        if LEDGER_TOPIC not in meta.topics:
            await topics.create_topics([NewTopicSpec(
                LEDGER_TOPIC, 1, configs={"cleanup.policy": "compact"})])
            await topics.conn.metadata([LEDGER_TOPIC])

    # ------------------------------------------------------------ replay

    async def replay(
        self, topic: str, *, actor: str, face: str, where: Filter | None = None,
        positions: Iterable[tuple[int, int]] | None = None, to: str | None = None,
        dry_run: bool = False, hook: Any = None,
    ) -> ReplayResult:
        """Replay the dead letters of `topic` (those matching `where`, or the given
        (partition, offset) positions; all when neither) to their origin topic, or to `to`.

        Records replayed before are skipped. A dry run reads and plans, writing nothing. A
        real replay is refused on a read-only cluster before anything is read, and is
        audited (action dlq.replay) through record_change. `hook(point)` is awaited at the
        points locked, produced and marked (rehearsing a crash: tests kill it there).
        """
        from kafkaops.core.audit.log import record_change

        if not dry_run:
            self.services.require_writable(self.cluster, f"replay dead letters of {topic!r}")
        conn = await self.services.connection(self.cluster)
        wanted = set(positions) if positions is not None else None
        plan = await self._plan(topic, where, wanted, to)
        if dry_run:
            return plan
        if not plan.items:
            raise NothingToChange(
                f"nothing to change: no record of {topic!r} to replay "
                f"({len(plan.already_replayed):,} replayed before, {len(plan.no_origin):,} with "
                "no known origin); nothing was written")
        params = {"filter": where.text if where is not None else None, "to": to,
                  "positions": sorted(wanted) if wanted is not None else None}

        async def apply() -> ReplayResult:
            return await self._replay(topic, where, wanted, to, actor, hook)

        result: ReplayResult = await record_change(
            self.services, actor=actor, face=face, action="dlq.replay", target=topic,
            params=params, apply=apply, cluster=conn.name,
            summarize=lambda r: {
                "replay_id": r.replay_id, "replayed": r.count, "to": r.by_destination(),
                "already_replayed": len(r.already_replayed), "no_origin": len(r.no_origin),
                "recovered": r.recovered,
                "items": [[i.partition, i.offset] for i in r.items][:1000],
            },
        )
        return result

    async def _plan(self, topic: str, where: Filter | None, wanted: set[tuple[int, int]] | None,
                    to: str | None, ledger: Ledger | None = None) -> ReplayResult:
        conn = await self.services.connection(self.cluster)
        meta = await conn.metadata([topic] + ([to] if to else []))
        if topic not in meta.topics:
            raise NotFound(f"topic {topic!r} not found on cluster {self.cluster!r}")
        if to is not None and to not in meta.topics:
            raise NotFound(f"destination topic {to!r} not found on cluster {self.cluster!r}")
        letters = await self.letters(topic, where=where)
        if wanted is not None:
            have = {(dl.message.partition, dl.message.offset) for dl in letters}
            unknown = sorted(wanted - have)
            if unknown:
                p, o = unknown[0]
                raise UsageError(f"{topic!r} has no record at partition {p} offset {o}"
                                 + (" matching the filter" if where is not None else ""))
            letters = [dl for dl in letters
                       if (dl.message.partition, dl.message.offset) in wanted]
        ledger = ledger or await self._read_ledger()
        items: list[ReplayItem] = []
        already: list[tuple[int, int]] = []
        no_origin: list[tuple[int, int]] = []
        for dl in letters:
            pos = (dl.message.partition, dl.message.offset)
            if ledger.is_done(topic, *pos):
                already.append(pos)
                continue
            dest = to or dl.origin.topic
            if dest is None:
                no_origin.append(pos)
                continue
            items.append(ReplayItem(pos[0], pos[1], dest, dl.reason))
        missing = sorted({i.to_topic for i in items} - set(meta.topics))
        if missing:
            meta = await conn.metadata(missing)
            missing = [t for t in missing if t not in meta.topics]
        if missing:
            raise NotFound(
                f"origin topic {missing[0]!r} of dead letters in {topic!r} not found on cluster "
                f"{self.cluster!r}; nothing was replayed (give --to TOPIC to choose one)")
        return ReplayResult(topic, True, None, tuple(items), tuple(already), tuple(no_origin))

    async def _replay(self, topic: str, where: Filter | None,
                      wanted: set[tuple[int, int]] | None, to: str | None,
                      actor: str, hook: Any = None) -> ReplayResult:
        await self._ensure_ledger()
        conn = await self.services.connection(self.cluster)
        async with clients.producer(conn, acks="all") as producer:
            with map_kafka_errors(conn, doing=f"replay dead letters of {topic!r}"):
                replay_id = uuid.uuid4().hex
                batch: dict[str, Any] = {
                    "dlq": topic, "state": "pending", "at": int(time.time() * 1000), "by": actor,
                    "owner": this_owner(), "starts": {},
                }
                # the lock first: everything below (recovery, the plan, the ledger's blocks) is
                # done by the one replay that holds the topic
                meta = await self._ledger_write(producer, f"batch/{replay_id}", batch)
                await self._check_alone(producer, topic, replay_id, meta.offset)
                await _call(hook, "locked")
                ledger = await self._read_ledger()
                recovered = await self._recover(producer, topic, ledger)
                plan = await self._plan(topic, where, wanted, to, ledger)
                if not plan.items:
                    await self._ledger_write(producer, f"batch/{replay_id}",
                                             dict(batch, state="done", replayed=0))
                    return ReplayResult(topic, False, replay_id, (), plan.already_replayed,
                                        plan.no_origin, recovered)
                dests = sorted({i.to_topic for i in plan.items})
                dmeta = await conn.metadata(dests)
                dtps = [TopicPartition(t, p.partition) for t in dests
                        for p in dmeta.topics[t].partitions]
                water = await conn.high_watermarks(dtps)
                batch["starts"] = {f"{tp.topic}/{tp.partition}": water.get(tp, (0, 0))[1]
                                   for tp in dtps}
                batch["count"] = len(plan.items)
                await self._ledger_write(producer, f"batch/{replay_id}", batch)
                by_pos = {(m.partition, m.offset): m
                          for m in await self._records_at(topic, plan.items)}
                futures = []
                for item in plan.items:
                    msg = by_pos[(item.partition, item.offset)]
                    futures.append(await producer.send(
                        item.to_topic, msg.value, key=msg.key,
                        headers=replay_headers(msg, replay_id)))
                landed = await asyncio.gather(*futures)
                await _call(hook, "produced")
                done_items = [
                    ReplayItem(item.partition, item.offset, item.to_topic, item.reason,
                               md.partition, md.offset)
                    for item, md in zip(plan.items, landed, strict=True)
                ]
                await self._mark_done(producer, topic, ledger,
                                      [(i.partition, i.offset) for i in plan.items])
                await _call(hook, "marked")
                await self._ledger_write(producer, f"batch/{replay_id}",
                                         dict(batch, state="done", replayed=len(done_items)))
                return ReplayResult(topic, False, replay_id, tuple(done_items),
                                    plan.already_replayed, plan.no_origin, recovered)

    async def _mark_done(self, producer: Any, topic: str, ledger: Ledger,
                         positions: Sequence[tuple[int, int]]) -> None:
        """Write the topic's blocks with `positions` set (and its entries of the earlier
        layout folded in, then deleted). Only the replay holding the topic calls this."""
        legacy = ledger.legacy_of(topic)
        records = ledger.with_done(topic, positions)
        for key, value in records.items():
            await self._ledger_send(producer, key, value)
        await producer.flush()
        ledger.mark(records)
        for key in legacy:  # folded into the blocks just written: compaction drops them
            await producer.send(LEDGER_TOPIC, None, key=key.encode(), partition=0)
        if legacy:
            await producer.flush()
            ledger.legacy -= {(t, p, o) for t, p, o in ledger.legacy if t == topic}

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

    async def _ledger_send(self, producer: Any, key: str, value: Mapping[str, Any]) -> Any:
        return await producer.send(LEDGER_TOPIC, json.dumps(value).encode(), key=key.encode(),
                                   partition=0)

    async def _ledger_write(self, producer: Any, key: str, value: Mapping[str, Any]) -> Any:
        return await producer.send_and_wait(LEDGER_TOPIC, json.dumps(value).encode(),
                                            key=key.encode(), partition=0)

    async def _check_alone(self, producer: Any, topic: str, replay_id: str,
                           my_offset: int) -> None:
        """Stop if another replay of this topic, still running, wrote its pending batch
        before ours (a pending batch whose process is dead is not running)."""
        ledger = await self._read_ledger()
        now = time.time() * 1000
        for other_id, (off, b) in ledger.batches.items():
            if (other_id != replay_id and off < my_offset and b.get("dlq") == topic
                    and b.get("state") == "pending" and not abandoned(b, now)):
                await self._ledger_write(producer, f"batch/{replay_id}",
                                         {"dlq": topic, "state": "cancelled", "at": int(now)})
                age = (now - float(b.get("at", 0) or 0)) / 1000
                raise Conflict(
                    f"another replay of {topic!r} is running (started by "
                    f"{describe_owner(b)}, {age:.0f} s ago); nothing was replayed — "
                    "try again when it has finished")

    async def _recover(self, producer: Any, topic: str, ledger: Ledger) -> int:
        """Mark done the records of interrupted replays of `topic` that did land."""
        now = time.time() * 1000
        stale = [(rid, b) for rid, (_, b) in ledger.batches.items()
                 if b.get("dlq") == topic and b.get("state") == "pending"
                 and abandoned(b, now)]
        found: list[tuple[int, int]] = []
        for rid, b in stale:
            svc = await self._messages()
            starts = b.get("starts")
            if not isinstance(starts, dict):
                starts = {}
            by_topic: dict[str, dict[int, int]] = {}
            for tp_name, off in starts.items():
                try:
                    t, part = str(tp_name).rsplit("/", 1)
                    by_topic.setdefault(t, {})[int(part)] = int(off)
                except (TypeError, ValueError):
                    continue
            for dest, parts in by_topic.items():
                for p, start in parts.items():
                    async for batch in svc.scan(dest, partitions=[p],
                                                start=StartAt.at_offset(start)):
                        for m in batch:
                            hdr = dict(m.headers)
                            if hdr.get(REPLAY_ID) != rid.encode():
                                continue
                            of = hdr.get(REPLAY_OF, b"").decode(errors="replace")
                            try:
                                t, pp, oo = of.rsplit("/", 2)
                                pos = (int(pp), int(oo))
                            except ValueError:
                                continue
                            if t == topic and not ledger.is_done(topic, *pos):
                                found.append(pos)
        if found or ledger.legacy_of(topic):
            await self._mark_done(producer, topic, ledger, found)
        for rid, b in stale:
            await self._ledger_write(producer, f"batch/{rid}", dict(b, state="recovered"))
        return len(set(found))


async def _call(hook: Any, point: str) -> None:
    """Rehearsal points of a replay (tests stop a replay there to kill it)."""
    if hook is not None:
        result = hook(point)
        if result is not None:
            await result
