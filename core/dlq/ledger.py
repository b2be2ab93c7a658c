"""The dead-letter replay ledger (`_kafkaops.dlq-replays`): which dead letters were replayed,
and which replay holds a topic now. Pure parts (no I/O): the records' layout, the fold, and
the liveness of a replay's owner process.

Why blocks, not a record per replayed record: the ledger is read in full by every replay and
by `dlq list`. With one record per replayed dead letter it grew without bound (300,000
replayed records made a replay take 30-50 s and `dlq list` 17 s). Now a replay writes one
record per 65,536-offset block of a dead-letter partition it touched, holding the block's
replayed offsets as a bitmap (zlib-compressed, at most 8 KiB raw: a fully replayed block
compresses to a few dozen bytes). The topic is compacted and keyed per block, so what a
reader folds is bounded by the number of blocks ever touched, not by the records replayed;
a broker that does not compact (Tansu) still only adds one small record per block per
replay. Only the replay that holds the topic's lock (its pending batch, below) writes that
topic's blocks, and it always writes the union of what the ledger holds and what it did, so
the newest record of a block is never missing a bit.

Keys:
- `blocks/<topic>/<partition>/<block>`: {"v": 1, "bits": base64(zlib(bitmap))}; bit i set =
  offset block * BLOCK + i was replayed.
- `batch/<replay id>`: a replay's state: pending (it holds the topic; `starts` are the
  destination end offsets before it produced, for recovery), done, cancelled, recovered;
  with `owner` = host, boot id, pid namespace, pid and process start time of the process
  that runs it.
- `done/<topic>/<partition>/<offset>`: the earlier layout, one record per replayed record.
  Still honoured; a replay of the topic folds them into blocks and deletes them
  (tombstones), so compaction drops them.

A pending batch whose owner ran on this host (same boot, same pid namespace) and whose
process is gone, or is another process with the same pid, is abandoned at once; one from
another host is taken as abandoned after `STALE_PENDING_S` (its liveness cannot be seen
from here).
"""

from __future__ import annotations

import base64
import os
import socket
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kafkaops.core.untrusted import parse_json

BLOCK = 65536
STALE_PENDING_S = 120.0


def block_key(topic: str, partition: int, block: int) -> str:
    return f"blocks/{topic}/{partition}/{block}"


def legacy_key(topic: str, partition: int, offset: int) -> str:
    return f"done/{topic}/{partition}/{offset}"


def encode_bits(bits: bytes | bytearray) -> dict[str, Any]:
    return {"v": 1, "bits": base64.b64encode(zlib.compress(bytes(bits), 9)).decode("ascii")}


def decode_bits(value: Any) -> bytearray | None:
    """The bitmap of a block record; None when the record is not one (ignored by readers)."""
    if not isinstance(value, dict) or value.get("v") != 1 or not isinstance(value.get("bits"),
                                                                            str):
        return None
    try:
        raw = zlib.decompress(base64.b64decode(value["bits"], validate=True),
                              bufsize=BLOCK // 8)
    except (ValueError, zlib.error):
        return None
    if len(raw) != BLOCK // 8:
        return None
    return bytearray(raw)


@dataclass
class Ledger:
    """The ledger folded: replayed offsets per (topic, partition, block), batches by id."""

    blocks: dict[tuple[str, int, int], bytearray] = field(default_factory=dict)
    #: replayed positions found under the earlier one-record-per-record keys
    legacy: set[tuple[str, int, int]] = field(default_factory=set)
    #: replay id -> (offset of its newest record, its value)
    batches: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    #: records folded (a measure of what every reader pays)
    records: int = 0
    #: (offset, why) of records that are not ledger records (left out)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def apply(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        self.records += 1
        k = (key or b"").decode("utf-8", errors="replace")
        kind, _, rest = k.partition("/")
        if kind == "blocks":
            pos = _split(rest)
            if pos is None:
                return
            if value is None:
                self.blocks.pop(pos, None)
                return
            bits = decode_bits(_json(value))
            if bits is None:
                self.skipped.append((offset, f"{k}: not a block of replayed offsets"))
            else:
                self.blocks[pos] = bits
        elif kind == "done":
            pos = _split(rest)
            if pos is None:
                return
            if value is None:
                self.legacy.discard(pos)
            else:
                self.legacy.add(pos)
        elif kind == "batch" and value:
            data = _json(value)
            if isinstance(data, dict):
                self.batches[rest] = (offset, data)
            else:
                self.skipped.append((offset, f"{k}: not a replay batch"))

    def is_done(self, topic: str, partition: int, offset: int) -> bool:
        if (topic, partition, offset) in self.legacy:
            return True
        bits = self.blocks.get((topic, partition, offset // BLOCK))
        i = offset % BLOCK
        return bits is not None and bool(bits[i >> 3] & (1 << (i & 7)))

    def positions(self, topic: str) -> set[tuple[int, int]]:
        """(partition, offset) of every replayed record of `topic`."""
        out = {(p, o) for t, p, o in self.legacy if t == topic}
        for (t, p, b), bits in self.blocks.items():
            if t != topic:
                continue
            base = b * BLOCK
            for byte_i, byte in enumerate(bits):
                if byte:
                    for bit in range(8):
                        if byte & (1 << bit):
                            out.add((p, base + byte_i * 8 + bit))
        return out

    def count(self, topic: str) -> int:
        n = sum(int.from_bytes(bits, "little").bit_count()
                for (t, _, _), bits in self.blocks.items() if t == topic)
        return n + sum(1 for t, p, o in self.legacy
                       if t == topic and not self._in_blocks(t, p, o))

    def _in_blocks(self, topic: str, partition: int, offset: int) -> bool:
        bits = self.blocks.get((topic, partition, offset // BLOCK))
        i = offset % BLOCK
        return bits is not None and bool(bits[i >> 3] & (1 << (i & 7)))

    def with_done(self, topic: str, positions: Iterable[tuple[int, int]]
                  ) -> dict[str, dict[str, Any]]:
        """The block records to write so that `positions` (and this topic's legacy entries)
        are marked, each the union of what the ledger holds and what is added."""
        touched: dict[tuple[str, int, int], bytearray] = {}
        adds = list(positions) + [(p, o) for t, p, o in self.legacy if t == topic]
        for p, o in adds:
            key = (topic, p, o // BLOCK)
            bits = touched.get(key)
            if bits is None:
                bits = touched[key] = bytearray(self.blocks.get(key) or bytes(BLOCK // 8))
            i = o % BLOCK
            bits[i >> 3] |= 1 << (i & 7)
        return {block_key(*k): encode_bits(v) for k, v in touched.items()}

    def mark(self, records: Mapping[str, dict[str, Any]]) -> None:
        """Apply block records this process wrote (no need to read them back)."""
        for key, value in records.items():
            pos = _split(key.partition("/")[2])
            bits = decode_bits(value)
            if pos is not None and bits is not None:
                self.blocks[pos] = bits

    def legacy_of(self, topic: str) -> list[str]:
        return [legacy_key(t, p, o) for t, p, o in sorted(self.legacy) if t == topic]


def _split(rest: str) -> tuple[str, int, int] | None:
    try:
        t, p, n = rest.rsplit("/", 2)
        return t, int(p), int(n)
    except ValueError:
        return None


def _json(value: bytes) -> Any:
    """Parsed with bounded depth and size (anyone may write the ledger); None when it is
    not JSON we can take: such a record is left out, as if it were not there."""
    try:
        return parse_json(value)
    except ValueError:
        return None


# ---------------------------------------------------------------- whose replay is it


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _boot_id() -> str | None:
    return _read("/proc/sys/kernel/random/boot_id")


def _pid_namespace() -> str | None:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks after boot, from /proc/PID/stat): with the
    pid it names one process, even after the pid is reused. None when there is no such
    process (or no /proc)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of proc(5)


def this_owner() -> dict[str, Any]:
    """The owner record of a replay run by this process."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "boot": _boot_id(), "pidns": _pid_namespace(),
            "pid": pid, "start": process_start(pid)}


def owner_state(owner: Any) -> Literal["alive", "dead", "unknown"]:
    """Whether the process that owns a pending batch still runs: `unknown` for another
    host (or a record without an owner), else alive or dead."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return "unknown"
    boot, pidns = _boot_id(), _pid_namespace()
    if owner.get("boot") is None or boot is None or owner.get("pidns") is None \
            or pidns is None:
        return "unknown"  # no /proc here: a pid alone cannot be trusted
    if owner["boot"] != boot:
        return "dead"  # the machine restarted since
    if owner["pidns"] != pidns:
        return "unknown"  # another container on this machine: its pids are not ours
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return "unknown"
    start = process_start(pid)
    return "alive" if start is not None and start == owner.get("start") else "dead"


def abandoned(batch: Mapping[str, Any], now_ms: float) -> bool:
    """A pending batch nobody will finish: its owner is dead, or (owner unknown) it is
    older than STALE_PENDING_S."""
    state = owner_state(batch.get("owner"))
    if state != "unknown":
        return state == "dead"
    try:
        at = float(batch.get("at", 0))
    except (TypeError, ValueError):
        at = 0.0
    return now_ms - at >= STALE_PENDING_S * 1000


def describe_owner(batch: Mapping[str, Any]) -> str:
    owner = batch.get("owner")
    by = batch.get("by") or "someone"
    if isinstance(owner, dict) and owner.get("pid") is not None:
        return f"{by}, pid {owner.get('pid')} on {owner.get('host')}"
    return str(by)
