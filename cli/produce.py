"""`kafkaops produce TOPIC`: produce records and print where the broker put each one.

    kafkaops produce orders --key order-7 -H source=ops --value '{"status":"paid"}'
    kafkaops produce orders --value-file event.json --partition 2
    tail -f events.jsonl | kafkaops produce orders --yes --json     # one record per line

Each record is reported from the broker's acknowledgement ("Produced to partition 2 at
offset 41"; with --json one {"topic", "partition", "offset"} line per record). Records
from stdin: one per line (empty lines are skipped), a running count on stderr every
second, the total at the end. --schema SUBJECT frames each value (JSON) with the latest
schema of SUBJECT in the cluster's Schema Registry (Avro or JSON Schema). As every change:
asks on a terminal, --yes in scripts, refused on a read-only cluster, audited (one record
per call, without the values).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json_lines
from kafkaops.core.admin.plans import PRODUCE, refusal_words
from kafkaops.core.admin.produce import Ack, OutRecord, ProduceResult, ProduceSpec
from kafkaops.core.admin.rules import COMPRESSIONS, parse_acks, parse_compression, parse_headers
from kafkaops.core.errors import UsageError
from kafkaops.core.untrusted import printable

#: seconds between two running counts on stderr
COUNT_EVERY = 1.0
CHUNK = 64 * 1024


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "produce", help="produce records (a value, a file, or one per stdin line)",
        description="Produce records to TOPIC and print the partition and offset the broker "
        "acknowledged for each. Without --value or --value-file, each line of stdin is a "
        "record (empty lines are skipped).")
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("--key", "-k", metavar="K", help="the key of every record")
    p.add_argument("--header", "-H", action="append", default=[], metavar="NAME=VALUE",
                   help="a header of every record (repeat; a name may repeat)")
    p.add_argument("--partition", "-p", type=int, metavar="N",
                   help="this partition (default: by key hash, else spread)")
    value = p.add_mutually_exclusive_group()
    value.add_argument("--value", "-v", metavar="V", help="one record with this value")
    value.add_argument("--value-file", metavar="F", help="one record with this file's bytes")
    p.add_argument("--acks", default="all", metavar="all|1|0",
                   help="acknowledgement the broker gives before answering (default all; 0: "
                   "none, so no offset is known)")
    p.add_argument("--compression", "-z", metavar="|".join(COMPRESSIONS),
                   help="compress batches (default none)")
    p.add_argument("--schema", metavar="SUBJECT",
                   help="frame each value (JSON) with SUBJECT's latest schema in the "
                   "cluster's Schema Registry (Avro, JSON Schema)")
    p.add_argument("--reason", default="", help="why: kept in the audit trail")
    add_yes(p)
    add_json(p)
    p.set_defaults(func=produce_cmd)


def _value_records(args: argparse.Namespace) -> tuple[list[OutRecord] | None, str]:
    """The records --value / --value-file give (None: stdin) and the source's name."""
    key = None if args.key is None else args.key.encode("utf-8")
    headers = parse_headers(args.header)
    if args.value is not None:
        return [OutRecord(args.value.encode("utf-8"), key, headers)], "value"
    if args.value_file is not None:
        try:
            data = Path(args.value_file).read_bytes()
        except OSError as e:
            raise UsageError(f"--value-file {args.value_file}: {e.strerror or e}") from None
        return [OutRecord(data, key, headers)], "file"
    return None, "stdin"


async def _stdin_records(key: bytes | None, headers: tuple[tuple[str, bytes], ...]
                         ) -> AsyncIterator[OutRecord]:
    """One record per line of stdin. A daemon thread reads it in chunks: a read blocked on
    a quiet pipe (`tail -f | ...`) never holds the process when it has to exit."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)

    def read() -> None:
        stream = sys.stdin.buffer
        while True:
            try:
                chunk = stream.read1(CHUNK)
            except (OSError, ValueError):
                chunk = b""
            asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop).result()
            if not chunk:
                return

    threading.Thread(target=read, name="kafkaops-stdin", daemon=True).start()
    rest = b""
    while True:
        chunk = await chunks.get()
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            line = line.rstrip(b"\r")
            if line:
                yield OutRecord(line, key, headers)
    if rest.rstrip(b"\r"):
        yield OutRecord(rest.rstrip(b"\r"), key, headers)


async def produce_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from kafkaops.core.admin.produce import ProduceService
    from kafkaops.core.audit.log import local_actor

    # everything about the command line is checked before connecting
    spec = ProduceSpec(args.topic, partition=args.partition, acks=parse_acks(args.acks),
                       compression=parse_compression(args.compression), schema=args.schema)
    given, source = _value_records(args)
    spec = ProduceSpec(spec.topic, spec.partition, spec.acks, spec.compression, spec.schema,
                       source)
    async with ctx.services() as services:
        svc = ProduceService(services)
        services.require_writable(action=refusal_words(PRODUCE, spec.topic))
        _, encoder = await svc.check(spec)
        what = ("1 record" if given is not None else "one record per line of stdin")
        framing = f", framed with {encoder.describe()}" if encoder else ""
        confirm(args, f"About to produce {what} to topic {spec.topic!r} on cluster "
                      f"{services.cluster_name!r}{framing}.")
        counter = _Counter(args.json, running=given is None)
        records = given if given is not None else _stdin_records(
            None if args.key is None else args.key.encode("utf-8"), parse_headers(args.header))
        result = await svc.produce(spec, records, actor=local_actor(), face="cli",
                                   on_acks=counter.acks, reason=args.reason or None)
    if given is None:
        sys.stderr.write(f"kafkaops: {_total(result)}\n")
    return 0


class _Counter:
    """Prints each acknowledgement as it comes, and a running count on stderr for stdin
    streams (at most once a second)."""

    def __init__(self, json: bool, *, running: bool) -> None:
        self.json = json
        self.running = running
        self.count = 0
        self.last = time.monotonic()

    def acks(self, acks: list[Ack]) -> None:
        self.count += len(acks)
        if self.json:
            print_json_lines([a.to_jsonable() for a in acks])
        else:
            sys.stdout.write("".join(_line(a) + "\n" for a in acks))
            sys.stdout.flush()
        if self.running and time.monotonic() - self.last >= COUNT_EVERY:
            self.last = time.monotonic()
            sys.stderr.write(f"kafkaops: {self.count:,} records produced so far\n")
            sys.stderr.flush()


def _line(ack: Ack) -> str:
    if ack.partition is None:
        return (f"Sent to {printable(ack.topic)} (acks=0: the broker does not acknowledge, so "
                "partition and offset are unknown)")
    return f"Produced to partition {ack.partition} at offset {ack.offset}"


def _total(result: ProduceResult) -> str:
    where = ", ".join(f"partition {p} offsets {a}..{b}" if a != b else
                      f"partition {p} offset {a}" for p, (a, b) in sorted(result.ranges.items()))
    n = result.records
    return (f"produced {n:,} record{'s' if n != 1 else ''} to {printable(result.topic)}"
            + (f": {where}" if where else ""))
