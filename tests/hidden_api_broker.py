"""A real broker that lacks some APIs: an embedded Tansu broker behind a small TCP proxy
that leaves the given API keys out of its ApiVersions answers. Clients then see a broker
without those APIs (as an older Apache Kafka is), and refuse to send them; every other
byte passes through unchanged. The broker advertises the proxy's address, so every
connection a client opens goes through it.

Only ApiVersions v0-v2 answers are rewritten (aiokafka asks with v0); a flexible (v3+)
answer passes through as it is.

`seen` (optional) collects every request that went through, as (api key, version, the
request's bytes after the size): a test counts what a client sent on the wire with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

from kafkaops.demo.embedded import (
    _die_with_parent,
    _terminate,
    answers_kafka,
    broker_binary,
    free_port,
)

API_VERSIONS = 18
METADATA = 3

Seen = list[tuple[int, int, bytes]]


def drop_apis(body: bytes, version: int, hidden: set[int]) -> bytes:
    """An ApiVersions v0-v2 response body (after the correlation id) without `hidden`."""
    if version > 2:
        return body
    error, count = struct.unpack_from(">hi", body, 0)
    entries = [struct.unpack_from(">hhh", body, 6 + 6 * i) for i in range(count)]
    rest = body[6 + 6 * count:]
    kept = [e for e in entries if e[0] not in hidden]
    return (struct.pack(">hi", error, len(kept))
            + b"".join(struct.pack(">hhh", *e) for e in kept) + rest)


async def _frames(reader: asyncio.StreamReader) -> bytes | None:
    try:
        size = struct.unpack(">i", await reader.readexactly(4))[0]
        return await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def metadata_topics(frame: bytes) -> list[str] | None:
    """The topics a Metadata request names (None: all topics). Header: api key, version,
    correlation id, client id (int16 length, -1 null). Up to v8 an int32 count (-1 null) of
    int16-length names follows; from v9 (flexible) a tag section, then a compact array
    (unsigned varint count + 1, 0 null) of (topic id, compact name, tags)."""
    key, version = struct.unpack_from(">hh", frame, 0)
    assert key == METADATA and 1 <= version <= 12, (key, version)
    client_len = struct.unpack_from(">h", frame, 8)[0]
    at = 10 + max(client_len, 0)
    if version >= 9:
        return _compact_topics(frame, at)
    count = struct.unpack_from(">i", frame, at)[0]
    if count < 0:
        return None
    names, at = [], at + 4
    for _ in range(count):
        size = struct.unpack_from(">h", frame, at)[0]
        names.append(frame[at + 2:at + 2 + size].decode())
        at += 2 + size
    return names


def _compact_topics(frame: bytes, at: int) -> list[str] | None:
    from kafkaops.core.kafka.wire import cstring, skip_tags, uvarint

    at = skip_tags(frame, at)  # the request header's tagged fields
    count, at = uvarint(frame, at)
    if count == 0:
        return None
    names = []
    for _ in range(count - 1):
        name, at = cstring(frame, at + 16)  # after the topic id
        names.append(name or "")
        at = skip_tags(frame, at)
    return names


async def _serve(proxy_port: int, broker_port: int, hidden: set[int],
                 ready: threading.Event, stop: asyncio.Event, seen: Seen | None) -> None:
    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        asked: dict[int, int] = {}  # correlation id -> ApiVersions version
        try:
            b_reader, b_writer = await asyncio.open_connection("127.0.0.1", broker_port)
        except OSError:
            c_writer.close()
            return

        async def up() -> None:
            while (frame := await _frames(c_reader)) is not None:
                key, version, corr = struct.unpack_from(">hhi", frame, 0)
                if key == API_VERSIONS:
                    asked[corr] = version
                if seen is not None:
                    seen.append((key, version, frame))
                b_writer.write(struct.pack(">i", len(frame)) + frame)
                await b_writer.drain()
            b_writer.close()

        async def down() -> None:
            while (frame := await _frames(b_reader)) is not None:
                corr = struct.unpack_from(">i", frame, 0)[0]
                if corr in asked:
                    frame = frame[:4] + drop_apis(frame[4:], asked.pop(corr), hidden)
                c_writer.write(struct.pack(">i", len(frame)) + frame)
                await c_writer.drain()
            c_writer.close()

        with contextlib.suppress(Exception):
            await asyncio.gather(up(), down())

    server = await asyncio.start_server(handle, "127.0.0.1", proxy_port)
    ready.set()
    async with server:
        await stop.wait()


@contextlib.contextmanager
def broker_without(hidden: set[int], seen: Seen | None = None) -> Iterator[str]:
    """A broker whose ApiVersions answer leaves out `hidden`; yields its HOST:PORT. Every
    request sent to it is appended to `seen` when given."""
    broker_port, proxy_port = free_port(), free_port()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(_serve(proxy_port, broker_port, hidden, ready, stop, seen),), daemon=True)
    thread.start()
    assert ready.wait(10), "the proxy did not start"
    proc = subprocess.Popen(
        [broker_binary(), "broker", "--cluster-id", "kafkaops-hidden",
         "--listener-url", f"tcp://127.0.0.1:{broker_port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{proxy_port}",
         "--storage-engine", "memory://tansu/"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "RUST_LOG"},
        preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
    )
    try:
        deadline = time.monotonic() + 15
        while not answers_kafka("127.0.0.1", proxy_port, timeout=0.5):
            assert proc.poll() is None, "the broker exited"
            assert time.monotonic() < deadline, "the broker did not answer within 15 s"
            time.sleep(0.05)
        yield f"127.0.0.1:{proxy_port}"
    finally:
        _terminate(proc)
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
