"""`kafkaops tail TOPIC`: print a topic's records as they arrive (or from an offset or a
time), optionally filtered; one JSON object per line with --json."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from datetime import datetime

from kafkaops.cli.common import Context, write_json_lines
from kafkaops.core.errors import UsageError
from kafkaops.core.expr.filter import compile_filter
from kafkaops.core.messages.display import json_lines, preview, text_or_none
from kafkaops.core.messages.model import Message, StartAt
from kafkaops.core.messages.service import MessageService
from kafkaops.core.messages.times import parse_time
from kafkaops.core.untrusted import printable

FILTER_HELP = """\
filter expressions (--filter):
  status == "failed" and branch == "main"   fields of the value's JSON (a.b[0].c)
  key == "order-7"   value contains "boom"   "boom" (a bare string: value contains it)
  header.trace-id ~ "^ab"   header["x y"] == "1"   key.tenant == "acme" (JSON key)
  code >= 500   status in ["failed", "error"]   not retries > 3   error (field present)
  partition == 0 and offset > 100   timestamp >= 1764000000000
  operators: == != < <= > >= contains ~ (regex) !~ in; and or not ( )
  regexes are RE2 (linear time; no look-around or backreferences); a filter is at most
  10,000 characters and nests ( and not at most 32 deep
  a field that is absent makes every comparison false, != included
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tail", help="print a topic's records as they arrive, from an offset or a time",
        description="Print records of TOPIC as they arrive (Ctrl-C stops). Starts at the end "
        "unless told otherwise.",
        epilog=FILTER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("topic")
    p.add_argument("--partition", "-p", type=int, action="append", metavar="P",
                   help="only this partition (repeat for several)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from-offset", type=int, metavar="N",
                       help="start at offset N in each partition; negative: N before the end")
    start.add_argument("--from-time", metavar="T",
                       help="start at the first record at or after T: 10m, 2h, 1d (ago) or an "
                       "ISO time (2026-11-25T14:00:00Z; without a zone: local time)")
    start.add_argument("--from-beginning", action="store_true", help="start at the log start")
    start.add_argument("--last", type=int, metavar="N",
                       help="start N records before the end of each partition")
    p.add_argument("--limit", "-n", type=int, metavar="N", help="stop after N records")
    p.add_argument("--to-end", "-e", action="store_true",
                   help="stop at the end of the topic as it was when the command started "
                   "(as kcat -e) instead of waiting for new records")
    p.add_argument("--filter", "-f", metavar="EXPR",
                   help='only records matching EXPR, e.g. \'status == "failed"\', '
                   "'header.trace-id ~ \"^ab\"', '\"timeout\"' (syntax below)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line: topic, partition, offset, timestamp (ms), key, "
                   "headers, value (null with value_base64 when the bytes are not UTF-8); "
                   "values framed for a Schema Registry come decoded, with schema: {id, "
                   "subject, version, type} (and error, when they could not be)")
    p.set_defaults(func=tail_cmd)


def start_position(args: argparse.Namespace) -> StartAt:
    if args.from_offset is not None:
        return StartAt.at_offset(args.from_offset)
    if args.from_time is not None:
        return StartAt.at_time(parse_time(args.from_time))
    if args.from_beginning:
        return StartAt.beginning()
    if args.last is not None:
        if args.last < 0:
            raise UsageError("--last N: N must be 0 or more")
        return StartAt.end(back=args.last)
    return StartAt.end()


async def tail_cmd(args: argparse.Namespace, ctx: Context) -> int:
    # Everything that can be wrong with the command line is checked before connecting.
    where = compile_filter(args.filter) if args.filter is not None else None
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit N: N must be 1 or more")
    start = start_position(args)
    async with ctx.services() as services:
        svc = MessageService(await services.connection(),
                             decoder=services.schema_decoder())  # Confluent-framed values
        if args.to_end:
            batches = svc.scan(args.topic, partitions=args.partition, start=start, where=where)
            await _print(batches, args)
            return 0
        tail = svc.tail(args.topic, partitions=args.partition, start=start, where=where,
                        on_notice=_notice)
        async with tail:
            if args.json:
                # the hot path: records go from the consumer to JSON lines in core, no
                # Message in between
                async for chunk in tail.json_stream(limit=args.limit):
                    write_json_lines(chunk)
                return 0
            sys.stderr.write(
                f"tailing {args.topic} on {services.cluster_name} from {start.describe()}"
                f"{' where ' + printable(args.filter) if args.filter else ''} (Ctrl-C "
                "stops)\n")
            await _print(tail.stream(limit=args.limit), args)
    return 0


def _notice(text: str) -> None:
    """What the tail noticed about the log itself (a new log after a broker restart, a
    partition cut short, the topic gone): one line on stderr, so stdout stays records."""
    sys.stderr.write(f"kafkaops: {text}\n")
    sys.stderr.flush()


async def _print(batches: AsyncIterator[list[Message]], args: argparse.Namespace) -> None:
    out = sys.stdout
    left = args.limit
    async for batch in batches:
        if left is not None:
            batch = batch[:left]
            left -= len(batch)
        if args.json:
            write_json_lines(json_lines(batch))
        else:
            out.write("".join(render_line(m) + "\n" for m in batch))
            out.flush()
        if left is not None and left <= 0:
            return


def render_line(m: Message) -> str:
    """p0 #42 14:03:07.123 key=order-7 {"status":"failed",...}"""
    ts = datetime.fromtimestamp(m.timestamp / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    key = text_or_none(m.key)
    key_txt = "-" if m.key is None else (
        printable(key) if key is not None else f"<{len(m.key)} bytes>")
    value = preview(m.value, width=200)
    if m.framed is not None and m.framed.error is not None:  # shown raw, with the reason
        raw = m.framed.raw
        value = (f"[not decoded: {printable(m.framed.error)}] ({len(raw):,} bytes) "
                 f"{raw[:48].hex(' ')}")
    return f"p{m.partition} #{m.offset} {ts} key={key_txt} {value}"
