"""Lag snapshot: 500 consumer groups x 100 partitions on 10,000 partitions, one broker.

Sets up once, on an embedded Tansu broker of its own: 100 topics of 100 partitions, RECORDS
records in each partition written in multi-record batches (linger) with known timestamps,
and 500 groups, group g committing a seeded random offset (0..RECORDS) on each partition of
topic g % 100 (five groups per topic). Offsets are committed with raw OffsetCommit requests
(generation -1, as a simple consumer does): a consumer per group would fetch full metadata
500 times (each consumer start fetches full metadata).

Then times full snapshots through the public engine (LagService.snapshot(), every group,
end offsets, time lag from record timestamps, status), each with its requests counted:
- cold: the first snapshot of a new LagService (reads every record timestamp);
- warm: the following snapshots (offsets unchanged: timestamps come from the cache);
- churn: before each, 50 groups (10 %) commit new offsets, so their record timestamps
  must be read again, as with live consumers.
Every snapshot is checked against the offsets committed (lag = end - committed for every
partition of every group, end = the records written).

    .venv/bin/python bench/lag_snapshot.py [--rounds 5] [--records 10]

Target (docs/benchmarks.md): under 1 s per warm snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kafkaops.core.config import parse_config  # noqa: E402
from kafkaops.core.kafka.connection import KafkaConnection  # noqa: E402
from kafkaops.core.lag.model import LagSnapshot  # noqa: E402
from kafkaops.core.lag.service import LagService  # noqa: E402
from kafkaops.demo.embedded import EmbeddedClusters  # noqa: E402

TOPICS = 100
PARTITIONS = 100
GROUPS = 500
CHURN = 50
TARGET = 1.0


def topic_name(t: int) -> str:
    return f"bench-lag-{t:03d}"


def group_name(g: int) -> str:
    return f"bench-group-{g:03d}"


async def setup(bootstrap: str, records: int, rnd: random.Random) -> dict[str, dict[int, int]]:
    """Topics, records and committed offsets; returns group -> partition -> committed."""
    from aiokafka import AIOKafkaClient, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    t0 = time.perf_counter()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic_name(t), PARTITIONS, 1) for t in range(TOPICS)])
    finally:
        await admin.close()
    t1 = time.perf_counter()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200,
                                max_batch_size=1 << 20)
    await producer.start()
    now_ms = int(time.time() * 1000)
    try:
        futures = []
        for t in range(TOPICS):
            for p in range(PARTITIONS):
                for i in range(records):
                    # record i is (records - i) minutes old
                    futures.append(await producer.send(
                        topic_name(t), b"x" * 100, partition=p,
                        timestamp_ms=now_ms - (records - i) * 60_000))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    t2 = time.perf_counter()
    committed: dict[str, dict[int, int]] = {}
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await commit_groups(client, range(GROUPS), records, rnd, committed)
    finally:
        await client.close()
    t3 = time.perf_counter()
    print(f"setup: {TOPICS} topics x {PARTITIONS} partitions in {t1 - t0:.2f} s; "
          f"{TOPICS * PARTITIONS * records:,} records in {t2 - t1:.2f} s; "
          f"{GROUPS} groups committed in {t3 - t2:.2f} s")
    return committed


async def commit_groups(client: object, groups: range | list[int], records: int,
                        rnd: random.Random, committed: dict[str, dict[int, int]]) -> None:
    from aiokafka.protocol.commit import OffsetCommitRequest

    node = next(iter(client.cluster.brokers())).nodeId  # type: ignore[attr-defined]

    async def one(g: int) -> None:
        offsets = {p: rnd.randrange(0, records + 1) for p in range(PARTITIONS)}
        req = OffsetCommitRequest(
            group_name(g), -1, "", -1,
            [(topic_name(g % TOPICS), [(p, o, "") for p, o in offsets.items()])])
        resp = await client.send(node, req)  # type: ignore[attr-defined]
        errors = {p[1] for _, parts in resp.topics for p in parts}
        if errors != {0}:
            raise SystemExit(f"commit for {group_name(g)} failed: error codes {errors}")
        committed[group_name(g)] = offsets

    await asyncio.gather(*(one(g) for g in groups))


def check(snap: LagSnapshot, committed: dict[str, dict[int, int]], records: int) -> int:
    """Count of group partitions checked; raises SystemExit on any wrong number."""
    checked = 0
    for g in snap.groups:
        if g.group not in committed:
            continue
        want = committed[g.group]
        if len(g.partitions) != PARTITIONS:
            raise SystemExit(f"{g.group}: {len(g.partitions)} partitions, want {PARTITIONS}")
        for p in g.partitions:
            c = want[p.partition]
            if (p.committed, p.end, p.lag) != (c, records, records - c):
                raise SystemExit(f"{g.group} {p.topic}/{p.partition}: committed {p.committed} "
                                 f"end {p.end} lag {p.lag}; want {c} {records} {records - c}")
            checked += 1
    if checked != GROUPS * PARTITIONS:
        raise SystemExit(f"checked {checked} group partitions, want {GROUPS * PARTITIONS}")
    return checked


async def broker_floor(conn: KafkaConnection) -> float:
    """The same run's reference: only the two big requests a snapshot cannot avoid, sent
    raw (committed offsets of all 500 groups in five OffsetFetch v8, then one Fetch for the
    end offsets of all 10,000 partitions), nothing decoded into records."""
    from kafkaops.core.kafka.wire_fetch import LagFetch
    from kafkaops.core.kafka.wire_groups import OffsetFetchV8

    client = conn.client
    node = next(iter(client.cluster.brokers())).nodeId
    names = [group_name(g) for g in range(GROUPS)]
    t0 = time.perf_counter()
    await asyncio.gather(*(
        client.send(node, OffsetFetchV8([(g, None) for g in names[i:i + 100]]))
        for i in range(0, GROUPS, 100)))
    topics = [(topic_name(t), [(p, 0, 1) for p in range(PARTITIONS)]) for t in range(TOPICS)]
    await client.send(node, LagFetch(5, 1, 1, topics))
    return time.perf_counter() - t0


def fmt_requests(requests: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(requests.items()))


async def run(rounds: int, records: int) -> int:
    rnd = random.Random(5)
    with EmbeddedClusters(["bench"]) as clusters:
        bootstrap = clusters.bootstrap("bench")
        committed = await setup(bootstrap, records, rnd)
        cfg = parse_config({"clusters": {"bench": {"bootstrap_servers": bootstrap}}}, "<bench>")
        rows: list[tuple[str, int, float, LagSnapshot]] = []
        async with KafkaConnection("bench", cfg.clusters["bench"]) as conn:
            lag = LagService(conn)
            client = conn.client
            checked = 0
            snap = await lag.snapshot()
            checked += check(snap, committed, records)
            rows.append(("cold", 1, snap.elapsed, snap))
            floors = []
            for i in range(rounds):
                snap = await lag.snapshot()
                checked += check(snap, committed, records)
                rows.append(("warm", i + 1, snap.elapsed, snap))
                floors.append(await broker_floor(conn))
            for i in range(rounds):
                moved = rnd.sample(range(GROUPS), CHURN)
                await commit_groups(client, moved, records, rnd, committed)
                snap = await lag.snapshot()
                checked += check(snap, committed, records)
                rows.append(("churn", i + 1, snap.elapsed, snap))

    print()
    print(f"{'run':<8} {'seconds':>8} {'requests':>9}  {'groups':>6} {'partitions':>10}"
          f"  requests by API")
    for kind, i, secs, s in rows:
        parts = sum(len(g.partitions) for g in s.groups)
        print(f"{kind + ' ' + str(i):<8} {secs:8.3f} {s.request_count:9d}  {len(s.groups):6d} "
              f"{parts:10,d}  {fmt_requests(s.requests)}")
    print()
    ok = True
    for kind in ("warm", "churn"):
        times = [secs for k, _, secs, _ in rows if k == kind]
        med, worst = statistics.median(times), max(times)
        verdict = "meets" if med < TARGET else "MISSES"
        ok = ok and med < TARGET
        print(f"{kind:<6} median {med:.3f} s, worst {worst:.3f} s per snapshot: {verdict} "
              f"the {TARGET:g} s target")
    floor = statistics.median(floors)
    warm = statistics.median(secs for k, _, secs, _ in rows if k == "warm")
    print(f"floor  median {floor:.3f} s: the raw OffsetFetch + Fetch alone, same run "
          f"(warm snapshot = {warm / floor:.2f}x that)")
    cold = rows[0][2]
    print(f"cold   {cold:.3f} s (first snapshot: reads the record timestamp at every "
          f"group's committed offset; not part of the target)")
    print(f"checked: {checked:,} group partitions had lag = end - committed exactly")
    return 0 if ok else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="warm and churn snapshots each")
    ap.add_argument("--records", type=int, default=10, help="records per partition")
    args = ap.parse_args()
    if args.rounds < 1 or args.records < 1:
        ap.error("--rounds and --records must be at least 1")
    sys.exit(asyncio.run(run(args.rounds, args.records)))


if __name__ == "__main__":
    main()
