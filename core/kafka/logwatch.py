"""Noticing that the log a consumer follows is no longer the log it was reading.

A broker that restarts empty (an in-memory one, or a cluster rebuilt at the same address),
a topic deleted and created again, or an unclean leader election all leave a consumer at an
offset that means nothing in the new log. aiokafka does not say so: on Tansu the fetch
answers "no records" with a high watermark below the position, and the consumer waits,
silently, until the new log grows past the old position, then reads on from there (the
records before it are never seen). On Apache Kafka the fetch answers OFFSET_OUT_OF_RANGE
and the consumer resets to `auto_offset_reset` without a word.

`LogWatch` is the check both readers of a log use (the flags store and `tail`):
- `identity()`: the topic's id (KIP-516, Metadata v10+): a new id is a new log; a topic
  missing from the answer is gone. Asked when contact resumes (a connection of the
  consumer closed, or no fetch answer for `gap` seconds), before the first records that
  come after it are used (the new log may already be longer than the old position, and
  its records must not be read as the old log's), and every `check_every` seconds (in a
  round without records, so that the check does not hold records back; at the latest
  after twice that).
  Brokers without topic ids (before Kafka 2.8) skip this check.
- `behind(partition, high, position)`: the fetch's high watermark below the position. One
  answer can be a moment's view of a new leader, so it counts only once it is seen on
  `confirm` answers in a row.
The caller decides what to do (start its fold again, print a notice and seek).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from kafkaops.core.kafka.errors import is_kafka_error

log = logging.getLogger(__name__)

Identity = Literal["same", "new", "gone", "unknown"]


async def topic_ids(client: Any, topics: list[str]) -> dict[str, tuple[str, int]] | None:
    """{topic: (id, partitions)} for the named topics that exist; None when the broker
    has no topic ids. Raises aiokafka's errors (KafkaError, OSError) to the caller."""
    from kafkaops.core.kafka.wire import unsupported
    from kafkaops.core.kafka.wire_metadata import TopicIds

    node = client.get_random_node()
    if node is None:
        raise OSError("no broker known")
    try:
        resp = await client.send(node, TopicIds(topics))
    except Exception as e:
        if unsupported(e):
            return None
        raise
    ids: dict[str, tuple[str, int]] = resp.topics
    return ids


class LogWatch:
    """The identity and the end of one topic's log, as seen by one consumer.

    `client` returns the aiokafka client to ask through (the consumer's own: one connection
    fewer). `gap` is how long without a fetch answer counts as lost contact."""

    def __init__(
        self, client: Callable[[], Any], topic: str, *, gap: float = 2.0,
        check_every: float = 10.0, confirm: int = 3, timeout: float = 5.0,
    ) -> None:
        self._client = client
        self.topic = topic
        self.gap = gap
        self.check_every = check_every
        self.confirm = confirm
        self.timeout = timeout
        #: the topic id seen first (None: not known yet, or the broker has none)
        self.topic_id: str | None = None
        self._supported = True
        self._checked = 0.0
        self._last_answer: float | None = None
        #: a connection of the consumer closed since `identity()` last asked
        self.lost = False
        self._behind: dict[int, tuple[int, float | None]] = {}  # partition -> (n, answer)

    async def identity(self) -> Identity:
        """Ask the broker for the topic's id now: same, new (and remember it), gone, or
        unknown (no answer, or no topic ids on this broker)."""
        self._checked = time.monotonic()
        self.lost = False
        if not self._supported:
            return "unknown"
        try:
            async with asyncio.timeout(self.timeout):
                ids = await topic_ids(self._client(), [self.topic])
        except Exception as e:  # no answer: unknown, whatever the reason
            if not is_kafka_error(e):
                raise
            log.debug("topic id of %s: %s", self.topic, e)
            return "unknown"
        if ids is None:
            self._supported = False
            return "unknown"
        found = ids.get(self.topic)
        if found is None:
            return "gone"
        old, self.topic_id = self.topic_id, found[0]
        if old is None or old == found[0]:
            return "same"
        self._behind.clear()
        return "new"

    def follow_connections(self, client: Any) -> None:
        """Be told when a connection of aiokafka's `client` closes (a broker that died or
        restarted breaks it), before the client reconnects: `lost` is set. Call it before
        the client connects. aiokafka has no public hook; every connection it opens calls
        the client's `_on_connection_closed`, looked up when the connection is made."""
        original = client._on_connection_closed

        def closed(conn: Any, reason: Any) -> None:
            self.lost = True
            original(conn, reason)

        client._on_connection_closed = closed

    def since_check(self) -> float:
        """Seconds since `identity()` last asked."""
        return time.monotonic() - self._checked

    def due(self, answered_at: float | None, has_records: bool) -> bool:
        """Whether to ask `identity()` before using this fetch round's records: contact
        was lost and resumed (with records to use), or `check_every` went by.
        `answered_at`: wall-clock time (s) of the newest fetch answer, None if none yet.

        The periodic check waits for a round without records (for up to `check_every`
        more): asked in a round with records, its round trip delayed those records, and a
        reader that checks every 5 s delayed one change in a few dozen by a Metadata
        request (the flags SDK's p99). A resumed contact is checked before its records."""
        resumed = self.lost
        if answered_at is not None:
            last, self._last_answer = self._last_answer, answered_at
            resumed = resumed or last is None or answered_at - last > self.gap
        if resumed and has_records:
            return True
        waited = time.monotonic() - self._checked
        return waited >= (2 * self.check_every if has_records else self.check_every)

    def behind(
        self, partition: int, high: int | None, position: int, answered_at: float | None
    ) -> bool:
        """True once the high watermark was below the position in `confirm` fetch answers
        in a row (the log went back: truncated, or a new log). `answered_at` tells one
        answer from the next (the consumer's last poll time for the partition)."""
        if high is None or high >= position:
            self._behind.pop(partition, None)
            return False
        seen = self._behind.get(partition)
        if seen is not None and seen[1] == answered_at:
            return False  # the same answer again: no new evidence
        n = (seen[0] if seen is not None else 0) + 1
        if n >= self.confirm:
            self._behind.pop(partition, None)
            return True
        self._behind[partition] = (n, answered_at)
        return False
