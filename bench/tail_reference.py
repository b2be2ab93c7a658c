"""The reference for `kafkaops tail --json`: the smallest script that prints the same JSON
lines, written as anyone would with aiokafka and orjson (bench/tail.py runs both).

    python bench/tail_reference.py HOST:PORT TOPIC COUNT [--contains BYTES]

Reads TOPIC's partition 0 from offset 0 and prints one line per record (topic, partition,
offset, timestamp, key, headers, value) until COUNT lines are printed. With --contains only
records whose value holds those bytes count (the reference for a 1 % filter).
"""

import asyncio
import sys

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition


async def main(bootstrap: str, topic: str, count: int, contains: bytes | None) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out = sys.stdout.buffer
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        left = count
        while left > 0:
            batch = await consumer.getmany(timeout_ms=1000)
            lines = []
            for records in batch.values():
                for r in records:
                    if contains is not None and contains not in r.value:
                        continue
                    lines.append(orjson.dumps({
                        "topic": r.topic, "partition": r.partition, "offset": r.offset,
                        "timestamp": r.timestamp,
                        "key": r.key.decode() if r.key is not None else None,
                        "headers": {k: v.decode() for k, v in r.headers},
                        "value": r.value.decode() if r.value is not None else None,
                    }))
            lines = lines[:left]
            left -= len(lines)
            if lines:
                out.write(b"\n".join(lines) + b"\n")
                out.flush()
    finally:
        await consumer.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    needle = None
    if "--contains" in args:
        i = args.index("--contains")
        needle = args[i + 1].encode()
        del args[i:i + 2]
    asyncio.run(main(args[0], args[1], int(args[2]), needle))
