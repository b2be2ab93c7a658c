"""Tail throughput: kafkaops' tail pipeline against aiokafka's raw rate and kcat, same topic,
same run.

Sets up an embedded Tansu broker of its own with one topic of RECORDS JSON records of about
200 bytes on one partition (1 in 100 has "status": "failed"). Then, alternating, ROUNDS
times each:
- raw:       an aiokafka consumer's getmany loop, no decoding (the ceiling in Python);
- tail:      the tail pipeline as the console runs it (core Tail.batches() into the bounded
             RingBuffer), no filter;
- tail+filter:  the same with `status == "failed"` (byte prefilter, then JSON on the
             candidates only);
- tail+json:  the same with `n >= 0`, a filter no byte test can help: every value parsed
             (shows what lazy decoding saves);
- kcat:      `kcat -C -e -q` to /dev/null, with the flags Tansu needs (BENCHMARKS.md), when
             kcat is installed; otherwise the script says so.
Each reader starts from offset 0 and stops after reading RECORDS records. Prints the median
rate of each, and the ratios (the machine is noisy: compare within one run).

    .venv/bin/python bench/tail.py [--records 500000] [--rounds 3]

Targets (BENCHMARKS.md): tail >= 0.9x raw; the issue's: >= 0.7x kcat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import time

from kafkaops.core.config import ClusterConfig
from kafkaops.core.embedded import EmbeddedClusters
from kafkaops.core.filter import compile_filter
from kafkaops.core.kafka import KafkaConnection, client_options
from kafkaops.core.messages import MessageService, RingBuffer, StartAt
from kafkaops.core.topics import NewTopicSpec, TopicService

TOPIC = "bench-tail"
KCAT_FLAGS = ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"]


def value(i: int, rng: random.Random) -> bytes:
    doc = {
        "n": i, "pipeline": f"build-{rng.randrange(10_000)}",
        "branch": rng.choice(["main", "dev", "release/2.4"]),
        "status": "failed" if i % 100 == 0 else rng.choice(["ok", "running", "queued"]),
        "duration_ms": rng.randrange(100_000), "commit": f"{rng.getrandbits(64):016x}",
        "runner": f"runner-{rng.randrange(64)}", "pad": "x" * rng.randrange(8, 24),
    }
    return json.dumps(doc).encode()


async def fill(bootstrap: str, records: int) -> None:
    from aiokafka import AIOKafkaProducer

    async with KafkaConnection("bench", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec(TOPIC, 1)])
    rng = random.Random(7)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for i in range(records):
            pending.append(await producer.send(TOPIC, value(i, rng), partition=0))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def raw(bootstrap: str, records: int) -> float:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    opts = client_options("bench", ClusterConfig(bootstrap))
    start = time.perf_counter()
    consumer = AIOKafkaConsumer(**opts, group_id=None, enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        tp = TopicPartition(TOPIC, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        seen = 0
        while seen < records:
            batch = await consumer.getmany(timeout_ms=1000)
            for recs in batch.values():
                seen += len(recs)
    finally:
        await consumer.stop()
    return records / (time.perf_counter() - start)


async def pipeline(bootstrap: str, records: int, expr: str | None) -> tuple[float, int]:
    where = compile_filter(expr) if expr else None
    async with KafkaConnection("bench", ClusterConfig(bootstrap)) as conn:
        start = time.perf_counter()
        ring = RingBuffer()
        tail = MessageService(conn).tail(TOPIC, start=StartAt.beginning(), where=where,
                                         buffer=ring)
        await tail.start()
        try:
            async for recs in tail.batches():
                ring.extend(recs)
                if tail.read_count >= records:
                    break
        finally:
            await tail.stop()
        rate = records / (time.perf_counter() - start)
        assert len(ring) <= ring.max_records
        return rate, tail.matched_count


def kcat(bootstrap: str, records: int) -> float | None:
    exe = shutil.which("kcat")
    if exe is None:
        return None
    start = time.perf_counter()
    out = subprocess.run([exe, "-b", bootstrap, *KCAT_FLAGS, "-C", "-t", TOPIC, "-o", "0", "-e",
                          "-q", "-c", str(records)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"kcat failed: {out.stderr.decode(errors='replace')}")
    return records / (time.perf_counter() - start)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.records
    with EmbeddedClusters(["bench"]) as clusters:
        bootstrap = clusters.bootstrap("bench")
        t0 = time.perf_counter()
        await fill(bootstrap, n)
        print(f"produced {n:,} records of ~200 bytes in {time.perf_counter() - t0:.1f} s")
        has_kcat = shutil.which("kcat") is not None
        if not has_kcat:
            print("kcat is not installed (Debian package kcat): its column is skipped")
        rates: dict[str, list[float]] = {k: [] for k in (
            "raw", "tail", "tail+filter", "tail+json", "kcat")}
        matched = {}
        for r in range(args.rounds):
            rates["raw"].append(await raw(bootstrap, n))
            rate, _ = await pipeline(bootstrap, n, None)
            rates["tail"].append(rate)
            rate, matched["tail+filter"] = await pipeline(bootstrap, n, 'status == "failed"')
            rates["tail+filter"].append(rate)
            rate, matched["tail+json"] = await pipeline(bootstrap, n, "n >= 0")
            rates["tail+json"].append(rate)
            if has_kcat:
                k = kcat(bootstrap, n)
                assert k is not None
                rates["kcat"].append(k)
            print(f"round {r + 1}: " + ", ".join(
                f"{k} {v[-1]:,.0f}/s" for k, v in rates.items() if v))
        assert matched["tail+filter"] == len(range(0, n, 100)), matched
        assert matched["tail+json"] == n, matched
        med = {k: statistics.median(v) for k, v in rates.items() if v}
        print(f"\nmedians over {args.rounds} rounds, {n:,} records "
              f"({time.strftime('%Y-%m-%d')}):")
        for k, v in med.items():
            line = f"  {k:<12} {v:>10,.0f} records/s   {v / med['raw']:.2f}x raw"
            if "kcat" in med:
                line += f"   {v / med['kcat']:.2f}x kcat"
            print(line)
        print(f"\ntail vs raw: {med['tail'] / med['raw']:.2f} (target >= 0.9); "
              f"tail+filter vs raw: {med['tail+filter'] / med['raw']:.2f}")
        if "kcat" in med:
            print(f"tail vs kcat: {med['tail'] / med['kcat']:.2f} (issue target >= 0.7)")


if __name__ == "__main__":
    asyncio.run(main())
