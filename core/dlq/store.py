"""The replay ledger on its topic (`_kafkaops.dlq-replays`): reading and folding it, creating
it, writing a replay's batch and blocks, the one-replay-per-topic check, and recovering the
records of an interrupted replay from their destination. The fold and the record layout
are core/dlq/ledger.py's (pure); this is their I/O.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kafkaops.core.dlq.ledger import Ledger, abandoned, describe_owner
from kafkaops.core.dlq.model import LEDGER_TOPIC, REPLAY_ID, REPLAY_OF
from kafkaops.core.errors import Conflict
from kafkaops.core.messages.model import StartAt
from kafkaops.core.messages.service import MessageService

if TYPE_CHECKING:
    from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.core.dlq")


class LedgerStore:
    """The ledger of one cluster. Writes go through the producer of the replay that holds
    the topic (its pending batch is first on the ledger)."""

    def __init__(self, services: Services, cluster: str) -> None:
        self.services = services
        self.cluster = cluster

    async def read(self) -> Ledger:
        """The ledger folded from its first record (empty when the topic does not exist)."""
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

    async def ensure(self) -> None:
        """Create the ledger topic (compacted, one partition) when it does not exist."""
        from kafkaops.core.topics.service import NewTopicSpec

        topics = await self.services.topics(self.cluster)
        meta = await topics.conn.metadata([LEDGER_TOPIC])
        if LEDGER_TOPIC not in meta.topics:
            await topics.create_topics([NewTopicSpec(
                LEDGER_TOPIC, 1, configs={"cleanup.policy": "compact"})])
            await topics.conn.metadata([LEDGER_TOPIC])

    async def send(self, producer: Any, key: str, value: Mapping[str, Any]) -> Any:
        return await producer.send(LEDGER_TOPIC, json.dumps(value).encode(), key=key.encode(),
                                   partition=0)

    async def write(self, producer: Any, key: str, value: Mapping[str, Any]) -> Any:
        """Send and wait: the record's metadata (its offset decides who holds a topic)."""
        return await producer.send_and_wait(LEDGER_TOPIC, json.dumps(value).encode(),
                                            key=key.encode(), partition=0)

    async def mark_done(self, producer: Any, topic: str, ledger: Ledger,
                         positions: Sequence[tuple[int, int]]) -> None:
        """Write the topic's blocks with `positions` set (and its entries of the earlier
        layout folded in, then deleted). Only the replay holding the topic calls this."""
        legacy = ledger.legacy_of(topic)
        records = ledger.with_done(topic, positions)
        for key, value in records.items():
            await self.send(producer, key, value)
        await producer.flush()
        ledger.mark(records)
        for key in legacy:  # folded into the blocks just written: compaction drops them
            await producer.send(LEDGER_TOPIC, None, key=key.encode(), partition=0)
        if legacy:
            await producer.flush()
            ledger.legacy -= {(t, p, o) for t, p, o in ledger.legacy if t == topic}

    async def check_alone(self, producer: Any, topic: str, replay_id: str,
                           my_offset: int) -> None:
        """Stop if another replay of this topic, still running, wrote its pending batch
        before ours (a pending batch whose process is dead is not running)."""
        ledger = await self.read()
        now = time.time() * 1000
        for other_id, (off, b) in ledger.batches.items():
            if (other_id != replay_id and off < my_offset and b.get("dlq") == topic
                    and b.get("state") == "pending" and not abandoned(b, now)):
                await self.write(producer, f"batch/{replay_id}",
                                         {"dlq": topic, "state": "cancelled", "at": int(now)})
                age = (now - float(b.get("at", 0) or 0)) / 1000
                raise Conflict(
                    f"another replay of {topic!r} is running (started by "
                    f"{describe_owner(b)}, {age:.0f} s ago); nothing was replayed — "
                    "try again when it has finished")

    async def recover(self, producer: Any, topic: str, ledger: Ledger) -> int:
        """Mark done the records of interrupted replays of `topic` that did land."""
        now = time.time() * 1000
        stale = [(rid, b) for rid, (_, b) in ledger.batches.items()
                 if b.get("dlq") == topic and b.get("state") == "pending"
                 and abandoned(b, now)]
        found: list[tuple[int, int]] = []
        for rid, b in stale:
            svc = MessageService(await self.services.connection(self.cluster))
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
            await self.mark_done(producer, topic, ledger, found)
        for rid, b in stale:
            await self.write(producer, f"batch/{rid}", dict(b, state="recovered"))
        return len(set(found))
