"""Lag in seconds, read from record timestamps (step 3 of core/lag/service.py's docstring).

A Fetch from each lagging group's committed offset reads the timestamp of the next record
the group will consume (`status.lag_seconds` turns it into an age). A record's timestamp
never changes, so the caller keeps them in a cache per (topic, partition, offset), and a
partition is fetched again only when a group's offset on it moves.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.errors import map_kafka_errors
from kafkaops.core.lag.model import Committed
from kafkaops.core.lag.requests import LagRequests, Requests
from kafkaops.core.records import TopicPartition

#: per-partition bytes asked for when reading the record at a committed offset: one batch
RECORD_BYTES = 16 * 1024
#: Fetch passes per snapshot for record timestamps (the rest waits for the next snapshot)
MAX_TIMESTAMP_PASSES = 8
#: partitions per timestamp Fetch, all of one topic; the Fetches go out together.
#: Measured on Tansu (10,000 lagging partitions of 100 topics, bench/lag.py's data): a
#: Fetch's cost on the broker grows faster than its partitions (64 partitions a Fetch:
#: 1.0 s of broker CPU for all 10,000; 16: 0.45 s; 4: 0.8 s, request overhead then wins),
#: and partitions of several topics in one Fetch cost it three times as much (it looks up
#: every topic's metadata per Fetch). Apache Kafka serves many small Fetches as well.
TIMESTAMP_CHUNK = 16
#: a timestamp Fetch waits at most this long. Tansu stops reading records for the rest of
#: a Fetch's partitions once max_wait has passed (it answers them without records, and
#: they had to be asked again); every partition asked here holds records past the offset,
#: so a broker answers at once and the wait is only an upper bound
TIMESTAMP_WAIT_MS = 100
#: bound on the (partition, offset) -> timestamp cache
TIMESTAMP_CACHE = 200_000


def wanted_timestamps(
    cache: dict[tuple[str, int, int], int], plan: dict[str, list[TopicPartition]],
    committed: dict[str, Committed], water: dict[TopicPartition, tuple[int, int]],
) -> tuple[dict[TopicPartition, set[int]], set[str]]:
    """The (partition -> offsets) whose record timestamps are not in `cache` yet, for
    every lagging (partition, committed offset) of the groups in `plan`, and the groups
    that wait for them (the others can be built at once)."""
    if len(cache) > TIMESTAMP_CACHE:
        cache.clear()  # offsets move on; what is still needed is read again
    needed: dict[TopicPartition, set[int]] = defaultdict(set)
    waiting: set[str] = set()
    for g, tps in plan.items():
        offs = committed.get(g, {})
        for tp in tps:
            c = offs.get(tp)
            w = water.get(tp)
            if c is None or w is None:
                continue
            start, end = w
            if start <= c < end and (tp.topic, tp.partition, c) not in cache:
                needed[tp].add(c)
                waiting.add(g)
    return needed, waiting


async def read_timestamps(
    wire: LagRequests, cache: dict[tuple[str, int, int], int],
    needed: dict[TopicPartition, set[int]], leaders: dict[TopicPartition, int],
    req: Requests,
) -> None:
    """Fill `cache` ((topic, partition, offset) -> record timestamp in ms) for the offsets
    `wanted_timestamps` found missing."""
    from kafkaops.core.kafka.wire_fetch import LagFetch, record_timestamps

    # Each partition is fetched from its lowest wanted offset; the answer usually
    # reaches the other groups' offsets on it too (record_timestamps). What it does not
    # reach is asked again from the next lowest offset in the next pass.
    pending = {tp: sorted(offs) for tp, offs in needed.items() if tp in leaders}
    for _pass in range(MAX_TIMESTAMP_PASSES):
        if not pending:
            break
        requests = timestamp_requests(pending, leaders)

        async def ask(node: int, tps: list[TopicPartition]) -> int:
            """Partitions whose lowest wanted offset was answered."""
            topic = tps[0].topic
            parts = [(tp.partition, pending[tp][0], RECORD_BYTES) for tp in tps]
            max_bytes = len(tps) * RECORD_BYTES
            try:
                with map_kafka_errors(wire.conn):
                    resp = await wire.fetch(
                        node, LagFetch(TIMESTAMP_WAIT_MS, 1, max_bytes, [(topic, parts)]), req)
            except KafkaOpsError:
                return 0
            got: dict[int, Any] = {}
            for _topic, answered in resp:
                for partition, error, _hw, _start, records in answered:
                    if error == 0 and len(records):
                        got[partition] = records
            hits = 0
            for tp in tps:
                wanted = pending[tp]
                records = got.get(tp.partition)
                found = record_timestamps(records, wanted) if records is not None else {}
                for offset, ts in found.items():
                    cache[(tp.topic, tp.partition, offset)] = ts
                hits += wanted[0] in found
                rest = [o for o in wanted if o not in found]
                if rest:
                    pending[tp] = rest
                else:
                    del pending[tp]
            return hits

        answers = await asyncio.gather(*(ask(n, tps) for n, tps in requests))
        if sum(answers) == 0:
            break  # the broker gives nothing more: leave the rest unknown this time



def timestamp_requests(
    pending: dict[TopicPartition, list[int]], leaders: dict[TopicPartition, int],
) -> list[tuple[int, list[TopicPartition]]]:
    """(leader, partitions) of each timestamp Fetch: TIMESTAMP_CHUNK partitions of one topic."""
    by_topic: dict[tuple[int, str], list[TopicPartition]] = defaultdict(list)
    for tp in pending:
        leader = leaders.get(tp)
        if leader is not None:
            by_topic[(leader, tp.topic)].append(tp)
    out: list[tuple[int, list[TopicPartition]]] = []
    for (node, _topic), tps in by_topic.items():
        tps.sort()
        # even chunks: 100 partitions go out as 7 Fetches of 14-15, not 6 of 16 and one of 4
        n = -(-len(tps) // TIMESTAMP_CHUNK)
        size = -(-len(tps) // n)
        out += [(node, tps[i:i + size]) for i in range(0, len(tps), size)]
    return out
