"""Tail throughput with Confluent-framed Avro: what decoding through a Schema Registry costs,
and that it costs nothing on a topic without frames.

Sets up its own embedded Tansu broker and the demo/test registry (kafkaops.demo), and two
one-partition topics of RECORDS records with the same content: `bench-json` (JSON, about
200 bytes) and `bench-avro` (the same documents as framed Avro, about 110 bytes). Then,
alternating, ROUNDS times each:
- raw:           an aiokafka getmany loop over bench-avro, no decoding (the ceiling);
- plain:         the tail pipeline (Tail.batches() into the RingBuffer) over bench-json, no
                 registry configured;
- plain+reg:     the same with a registry configured: the first-byte test per record is
                 all it adds;
- avro:          the tail pipeline over bench-avro, every value decoded (fastavro) to JSON;
- avro+filter:   the same with `status == "failed"` on the decoded field.
Prints the median rate of each and the ratios (the machine is noisy: compare within a run).

    .venv/bin/python bench/tail_avro.py [--records 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import struct
import time

import httpx
from fastavro import parse_schema, schemaless_writer

from kafkaops.core.config import ClusterConfig, SchemaRegistryConfig
from kafkaops.core.expr.filter import compile_filter
from kafkaops.core.kafka.clients import client_options
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.messages.model import StartAt
from kafkaops.core.messages.service import MessageService
from kafkaops.core.messages.tail import RingBuffer
from kafkaops.core.schema.client import RegistryClient
from kafkaops.core.schema.decoder import SchemaDecoder
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from kafkaops.demo.embedded import EmbeddedClusters
from kafkaops.demo.schema_registry import DemoSchemaRegistry

SCHEMA = {
    "type": "record", "name": "PipelineEvent", "namespace": "bench",
    "fields": [
        {"name": "n", "type": "long"}, {"name": "pipeline", "type": "string"},
        {"name": "branch", "type": "string"},
        {"name": "status", "type": {"type": "enum", "name": "Status",
                                    "symbols": ["ok", "running", "queued", "failed"]}},
        {"name": "duration_ms", "type": "int"}, {"name": "commit", "type": "string"},
        {"name": "runner", "type": "string"}, {"name": "pad", "type": "string"},
    ],
}


def doc(i: int, rng: random.Random) -> dict[str, object]:
    return {
        "n": i, "pipeline": f"build-{rng.randrange(10_000)}",
        "branch": rng.choice(["main", "dev", "release/2.4"]),
        "status": "failed" if i % 100 == 0 else rng.choice(["ok", "running", "queued"]),
        "duration_ms": rng.randrange(100_000), "commit": f"{rng.getrandbits(64):016x}",
        "runner": f"runner-{rng.randrange(64)}", "pad": "x" * rng.randrange(8, 24),
    }


async def fill(bootstrap: str, url: str, records: int) -> int:
    from aiokafka import AIOKafkaProducer

    async with KafkaConnection("bench", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec("bench-json", 1),
                                                NewTopicSpec("bench-avro", 1)])
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.post("/subjects/bench-avro-value/versions",
                            json={"schema": json.dumps(SCHEMA)})
        r.raise_for_status()
        sid = int(r.json()["id"])
    parsed = parse_schema(SCHEMA)
    frame = b"\x00" + struct.pack(">I", sid)
    rng = random.Random(7)
    size = 0
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for i in range(records):
            d = doc(i, rng)
            out = io.BytesIO()
            out.write(frame)
            schemaless_writer(out, parsed, d)
            size += out.tell()
            pending.append(await producer.send("bench-json", json.dumps(d).encode(),
                                               partition=0))
            pending.append(await producer.send("bench-avro", out.getvalue(), partition=0))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return size // records


async def raw(bootstrap: str, topic: str, records: int) -> float:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    opts = client_options("bench", ClusterConfig(bootstrap))
    start = time.perf_counter()
    consumer = AIOKafkaConsumer(**opts, group_id=None, enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
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


async def pipeline(bootstrap: str, topic: str, records: int, decoder: SchemaDecoder | None,
                   expr: str | None = None) -> tuple[float, int, object]:
    where = compile_filter(expr) if expr else None
    async with KafkaConnection("bench", ClusterConfig(bootstrap)) as conn:
        start = time.perf_counter()
        ring = RingBuffer()
        tail = MessageService(conn, decoder=decoder).tail(
            topic, start=StartAt.beginning(), where=where, buffer=ring)
        await tail.start()
        try:
            async for recs in tail.batches():
                ring.extend(recs)
                if tail.read_count >= records:
                    break
        finally:
            await tail.stop()
        rate = records / (time.perf_counter() - start)
        last = ring.latest(1)
        return rate, tail.matched_count, last[0] if last else None


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.records
    with EmbeddedClusters(["bench"]) as clusters:
        bootstrap = clusters.bootstrap("bench")
        async with DemoSchemaRegistry(bootstrap) as registry:
            t0 = time.perf_counter()
            avro_size = await fill(bootstrap, registry.url, n)
            print(f"produced {n:,} JSON records (~200 bytes) and {n:,} framed Avro records "
                  f"(~{avro_size} bytes) in {time.perf_counter() - t0:.1f} s")
            client = RegistryClient(SchemaRegistryConfig(url=registry.url))
            decoder = SchemaDecoder(client)
            names = ("raw", "plain", "plain+reg", "avro", "avro+filter")
            rates: dict[str, list[float]] = {k: [] for k in names}
            try:
                for r in range(args.rounds):
                    rates["raw"].append(await raw(bootstrap, "bench-avro", n))
                    rates["plain"].append((await pipeline(bootstrap, "bench-json", n,
                                                          None))[0])
                    rates["plain+reg"].append((await pipeline(bootstrap, "bench-json", n,
                                                              decoder))[0])
                    rate, _, last = await pipeline(bootstrap, "bench-avro", n, decoder)
                    rates["avro"].append(rate)
                    assert getattr(last, "framed", None) is not None and \
                        last.framed.error is None, last  # type: ignore[union-attr]
                    rate, matched, _ = await pipeline(bootstrap, "bench-avro", n, decoder,
                                                      'status == "failed"')
                    rates["avro+filter"].append(rate)
                    assert matched == len(range(0, n, 100)), matched
                    print(f"round {r + 1}: " + ", ".join(
                        f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()))
            finally:
                await client.aclose()
            med = {k: statistics.median(v) for k, v in rates.items()}
            print(f"\nmedians over {args.rounds} rounds, {n:,} records "
                  f"({time.strftime('%Y-%m-%d')}):")
            for k, v in med.items():
                print(f"  {k:<12} {v:>10,.0f} records/s   {v / med['raw']:.2f}x raw")
            print(f"\nplain with a registry configured vs without: "
                  f"{med['plain+reg'] / med['plain']:.2f}; framed Avro decoded vs plain JSON: "
                  f"{med['avro'] / med['plain']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
