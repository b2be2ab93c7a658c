"""Reading MirrorMaker 2's topics on a cluster: checkpoints, offset syncs and heartbeats.

The record layouts are in core/dr/mm2_formats.py (pure); this module reads their records
with core/kafka/topicio.py and decodes them, malformed records skipped and counted as MM2's
own readers skip them.
"""

from __future__ import annotations

from kafkaops.core.dr.mm2_formats import (
    Checkpoint,
    Heartbeat,
    Mm2FormatError,
    OffsetSync,
    decode_checkpoint,
    decode_heartbeat,
    decode_offset_sync,
)
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.topicio import TopicRead, read_partition


async def read_checkpoints(
    conn: KafkaConnection, topic: str
) -> tuple[list[tuple[Checkpoint, int]], TopicRead]:
    """Every checkpoint in partition 0, in log order, with its record timestamp (ms)."""
    records, info = await read_partition(conn, topic)
    out: list[tuple[Checkpoint, int]] = []
    skipped = 0
    for r in records:
        try:
            out.append((decode_checkpoint(r.key, r.value), r.timestamp))
        except Mm2FormatError:
            skipped += 1
    return out, _with_skipped(info, skipped)


async def read_offset_syncs(
    conn: KafkaConnection, topic: str
) -> tuple[list[OffsetSync], TopicRead]:
    """Every offset sync in partition 0, in log order."""
    records, info = await read_partition(conn, topic)
    out: list[OffsetSync] = []
    skipped = 0
    for r in records:
        try:
            out.append(decode_offset_sync(r.key, r.value))
        except Mm2FormatError:
            skipped += 1
    return out, _with_skipped(info, skipped)


async def latest_heartbeat(
    conn: KafkaConnection, topic: str, source: str | None = None, target: str | None = None,
    *, tail: int = 2000,
) -> tuple[Heartbeat | None, TopicRead]:
    """The newest heartbeat in `topic` (for the flow source -> target when given).

    Reads the last `tail` records first, the whole partition only if the flow is not
    among them (the topic is compacted on Kafka, so that stays small)."""
    for window in (tail, None):
        records, info = await read_partition(conn, topic, tail=window)
        best: Heartbeat | None = None
        skipped = 0
        for r in records:
            try:
                hb = decode_heartbeat(r.key, r.value)
            except Mm2FormatError:
                skipped += 1
                continue
            if (
                (source is None or hb.source == source)
                and (target is None or hb.target == target)
                and (best is None or hb.timestamp >= best.timestamp)
            ):
                best = hb
        if best is not None or not info.exists or window is None or info.end_offset <= tail:
            return best, _with_skipped(info, skipped)
    return None, TopicRead(topic, False)  # pragma: no cover - the loop always returns


async def newest_heartbeat(
    conn: KafkaConnection, topic: str, *, tail: int = 50
) -> tuple[Heartbeat | None, TopicRead]:
    """The newest heartbeat among the last `tail` records of a replicated heartbeats topic,
    whatever its aliases: they describe other flows (docs/mm2-formats.md), so any heartbeat
    there proves the flow carried data."""
    records, info = await read_partition(conn, topic, tail=tail)
    best: Heartbeat | None = None
    for r in records:
        try:
            hb = decode_heartbeat(r.key, r.value)
        except Mm2FormatError:
            continue
        if best is None or hb.timestamp >= best.timestamp:
            best = hb
    return best, info


def _with_skipped(info: TopicRead, skipped: int) -> TopicRead:
    return TopicRead(info.topic, info.exists, info.end_offset, info.complete, skipped)
