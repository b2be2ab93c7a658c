"""Record batches as the broker stores them: sizes, counts, times, compression. Pure.

A Fetch answers with the log's own bytes: v2 record batches (magic 2), each a 61-byte
header and its records, compressed as a whole when the producer (or the topic) compressed.
The header says how big the batch is on disk (`12 + batch length`), how many records it
holds, their first and last timestamps and the codec, so sizes per record and compression
ratios are read off the log itself, not guessed.

The records are untrusted bytes (anyone who may produce writes them): decompression is
bounded (`MAX_INFLATED` per batch), a batch that cannot be read counts for its header only,
and nothing here raises on bad input.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: the v2 batch header: base offset, length, leader epoch, magic, crc, attributes,
#: last offset delta, first timestamp, max timestamp, producer id/epoch, base sequence, count
_HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = 61
_LOG_OVERHEAD = 12  # base offset + length, not counted in `length`
_CONTROL = 0x20
_LOG_APPEND_TIME = 0x08
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
#: most bytes one batch may inflate to when it is opened to measure it (a decompression
#: bomb stops here and is measured by its header alone)
MAX_INFLATED = 64 * 1024 * 1024


@dataclass(frozen=True)
class Batch:
    """One record batch read from the log."""

    base_offset: int
    """Offset of its first record."""
    last_offset: int
    """Offset of its last record."""
    records: int
    """Records it holds."""
    stored_bytes: int
    """Bytes it takes in the log (header included), as produced: compressed if it is."""
    inflated_bytes: int | None
    """Its size with the records decompressed (None: could not be opened)."""
    payload_bytes: int | None
    """Keys, values and header keys and values of its records, uncompressed (None: could not
    be opened)."""
    codec: str
    """none, gzip, snappy, lz4, zstd (or codec-N)."""
    first_ts: int
    """First record's timestamp (ms)."""
    max_ts: int
    """Largest record timestamp (ms)."""
    control: bool = False
    """A transaction marker, not data."""


def read_batches(buf: bytes | memoryview, *, open_records: bool = True) -> list[Batch]:
    """The whole v2 batches in fetched log bytes (a batch cut short by the fetch's size
    limit, and anything after it, is left out; so are pre-0.11 message sets)."""
    data = bytes(buf)
    out: list[Batch] = []
    pos, size = 0, len(data)
    while pos + HEADER_SIZE <= size:
        (base, length, _epoch, magic, _crc, attrs, last_delta, first_ts, max_ts,
         _pid, _pepoch, _seq, count) = _HEADER.unpack_from(data, pos)
        end = pos + _LOG_OVERHEAD + length
        if magic != 2 or length < HEADER_SIZE - _LOG_OVERHEAD or end > size:
            break
        codec_id = attrs & 0x07
        codec = CODECS.get(codec_id, f"codec-{codec_id}")
        inflated = payload = None
        if open_records and not attrs & _CONTROL:
            body = _inflate(codec_id, data[pos + HEADER_SIZE:end])
            if body is not None:
                inflated = HEADER_SIZE + len(body)
                payload = _payload(body, max(count, 0))
        out.append(Batch(base, base + last_delta, max(count, 0), end - pos, inflated, payload,
                         codec, first_ts, max_ts, bool(attrs & _CONTROL)))
        pos = end
    return out


def _inflate(codec: int, raw: bytes) -> bytes | None:
    try:
        if codec == 0:
            return raw
        if codec == 1:
            d = zlib.decompressobj(wbits=47)  # gzip or zlib header
            out = d.decompress(raw, MAX_INFLATED)
            return None if d.unconsumed_tail else out
        if codec == 2:
            # snappy expands at most ~21x (its longest copy is 64 bytes for 3), so the
            # fetch's size limit bounds it; aiokafka reads the xerial framing Java uses
            from aiokafka.codec import snappy_decode

            return bytes(snappy_decode(raw))
        if codec == 3:
            import lz4.frame

            lz = lz4.frame.LZ4FrameDecompressor()
            out = lz.decompress(raw, max_length=MAX_INFLATED)
            return out if lz.eof else None
        if codec == 4:
            import zstandard

            zd = zstandard.ZstdDecompressor().decompressobj()
            chunks: list[bytes] = []
            total = 0
            for i in range(0, len(raw), 65536):
                part = zd.decompress(raw[i:i + 65536])
                total += len(part)
                if total > MAX_INFLATED:
                    return None
                chunks.append(part)
            return b"".join(chunks)
    except Exception:  # noqa: BLE001 - a codec we cannot open, or bytes that are not it
        return None
    return None


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80 or shift > 63:
            return result, pos
        shift += 7


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    n, pos = _uvarint(buf, pos)
    return (n >> 1) ^ -(n & 1), pos


def _payload(body: bytes, count: int) -> int | None:
    """Sum of key, value and header sizes of the records in an (uncompressed) batch body."""
    total = 0
    pos = 0
    try:
        for _ in range(count):
            length, pos = _varint(body, pos)
            end = pos + length
            if length < 0 or end > len(body):
                return None
            p = pos + 1  # attributes
            _, p = _varint(body, p)  # timestamp delta
            _, p = _varint(body, p)  # offset delta
            for _ in range(2):  # key, value (-1: null)
                n, p = _varint(body, p)
                if n > 0:
                    total += n
                    p += n
            headers, p = _varint(body, p)
            for _ in range(max(headers, 0)):
                for _ in range(2):
                    n, p = _varint(body, p)
                    if n > 0:
                        total += n
                        p += n
            if p > end:
                return None
            pos = end
    except IndexError:
        return None
    return total


# ---------------------------------------------------------------- estimates from batches


@dataclass(frozen=True)
class SizeEstimate:
    """Bytes per record estimated from the batches read, and how sure it is."""

    batches: int
    """Batches read."""
    records: int
    """Records they hold."""
    stored_bytes: int
    """Their size in the log."""
    payload_bytes: int | None
    """Their keys, values and headers, uncompressed (None: some batch could not be opened)."""
    inflated_bytes: int | None
    """Their size decompressed (None: some batch could not be opened)."""
    relative_error: float
    """Half-width of the 95% interval of the bytes-per-record ratio, relative to it (0 when
    every batch of the range was read)."""
    codecs: tuple[str, ...]
    """Codecs seen."""

    @property
    def bytes_per_record(self) -> float | None:
        return self.stored_bytes / self.records if self.records else None

    @property
    def payload_per_record(self) -> float | None:
        if self.payload_bytes is None or not self.records:
            return None
        return self.payload_bytes / self.records

    @property
    def compression_ratio(self) -> float | None:
        """Decompressed size over stored size (1.0: not compressed)."""
        if self.inflated_bytes is None or not self.stored_bytes:
            return None
        return self.inflated_bytes / self.stored_bytes


def estimate(batches: Sequence[Batch], *, complete: bool) -> SizeEstimate:
    """The ratio estimate of bytes per record over `batches` (data batches only).
    `complete`: they are every batch of the range measured, so the figure is exact.

    The error is the ratio estimator's standard error (batches as the sampled units) times
    1.96; sampled batches come in runs of neighbours, so read it as a rough guide."""
    data = [b for b in batches if not b.control and b.records > 0]
    n = len(data)
    records = sum(b.records for b in data)
    stored = sum(b.stored_bytes for b in data)
    payload: int | None = None
    inflated: int | None = None
    if all(b.payload_bytes is not None for b in data):
        payload = sum(b.payload_bytes or 0 for b in data)
    if all(b.inflated_bytes is not None for b in data):
        inflated = sum(b.inflated_bytes or 0 for b in data)
    rel = 0.0
    if not complete:
        rel = _relative_error(data)
    codecs = tuple(sorted({b.codec for b in data}))
    return SizeEstimate(n, records, stored, payload, inflated, rel, codecs)


def _relative_error(data: Sequence[Batch]) -> float:
    n = len(data)
    if n < 2:
        return math.inf if n == 0 else 1.0  # one batch says little about the others
    records = sum(b.records for b in data)
    stored = sum(b.stored_bytes for b in data)
    ratio = stored / records
    mean_records = records / n
    var = sum((b.stored_bytes - ratio * b.records) ** 2 for b in data) / (n - 1)
    se = math.sqrt(var / n) / mean_records
    return 1.96 * se / ratio


def merge(estimates: Iterable[SizeEstimate]) -> SizeEstimate:
    """Estimates of several ranges as one (errors combined as independent)."""
    items = [e for e in estimates if e.records]
    if not items:
        return SizeEstimate(0, 0, 0, 0, 0, 0.0, ())
    records = sum(e.records for e in items)
    stored = sum(e.stored_bytes for e in items)
    payload = (None if any(e.payload_bytes is None for e in items)
               else sum(e.payload_bytes or 0 for e in items))
    inflated = (None if any(e.inflated_bytes is None for e in items)
                else sum(e.inflated_bytes or 0 for e in items))
    if any(math.isinf(e.relative_error) for e in items):
        rel = math.inf
    else:
        rel = math.sqrt(sum((e.relative_error * e.stored_bytes) ** 2 for e in items)) / max(
            stored, 1)
    codecs = tuple(sorted({c for e in items for c in e.codecs}))
    return SizeEstimate(sum(e.batches for e in items), records, stored, payload, inflated, rel,
                        codecs)
