"""Reading the flags topic: the deterministic fold every reader applies (`FlagLog`) and the
live reader that keeps it (`FlagStore`), used by the writer (kafkaops.core.flags.writer)
and by the SDK (kafkaops.core.flags.sdk). Never writes; imports no audit or face code. The
layout and the compare-and-set rule are described in kafkaops.core.flags.writer's
docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.flags.model import (
    FLAGS_TOPIC,
    H_AT,
    H_BY,
    H_EXPECTS,
    H_OP,
    H_REASON,
    H_WRITE_ID,
    FlagChange,
    FlagState,
    LogRecord,
    decode_state,
    now_iso,
)
from kafkaops.core.flags.signing import check as check_signature
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.errors import map_kafka_errors, unreachable
from kafkaops.core.kafka.logwatch import LogWatch
from kafkaops.core.statelog.fold import CasFold, Invalid, Proposal
from kafkaops.core.statelog.outcomes import Outcomes
from kafkaops.core.statelog.signing import RecordVerifier
from kafkaops.core.tasks import cancel_and_wait

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the fold


def _header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for k, v in headers:
        if k == name:
            try:
                return v.decode()
            except UnicodeDecodeError:
                return None
    return None


class FlagLog:
    """The deterministic fold every reader applies to the topic, record by record (no I/O):
    the compare-and-set fold of kafkaops.core.statelog.fold over the flags' record layout.

    `flags` holds the states in force. Rules, in order:
    1. a record without a key or a valid kafkaops-expects header, or whose value is not a
       valid state for its key, is ignored;
    2. the first record seen for a key is applied as it is (its predecessors, if any, were
       compacted away, and compaction leaves authoritative records: see flags/writer.py);
    3. otherwise it is applied iff `expects` equals the version in force (0 when absent),
       else rejected;
    4. an applied tombstone deletes; an applied restate must carry the version in force;
       any other applied state must carry a higher version than it replaces.
    """

    def __init__(self, *, keep_history: bool = False,
                 verifier: RecordVerifier | None = None) -> None:
        #: checks each record's signature; None: records are unsigned (no key configured)
        self.verifier = verifier
        #: offset -> flag key of each record ignored because its signature is missing or
        #: does not verify (kafkaops.core.flags.signing)
        self.unverified: dict[int, str] = {}
        #: flag key -> the last state read from an unsigned record (never applied): what a
        #: flag written before signing was on held, for `kafkaops flags resign`
        self.unsigned_states: dict[str, FlagState] = {}
        #: versions may jump: a re-created flag continues the deleted flag's numbering
        self.fold: CasFold[FlagState] = CasFold(gaps=True, what="the flag")
        self.keep_history = keep_history
        self.history: dict[str, list[FlagChange]] = {}
        #: offset of the next record to read
        self.next_offset = 0
        #: offset of the first record read (the log start, after compaction and retention)
        self.first_offset: int | None = None

    @property
    def flags(self) -> dict[str, FlagState]:
        """Flag key -> the state in force."""
        return self.fold.states

    @property
    def seen(self) -> set[str]:
        """Keys seen at least once in this read of the log."""
        return self.fold.seen

    @property
    def tail_ok(self) -> dict[str, bool]:
        """Key -> True when the key's last record was applied (its tail is authoritative)."""
        return self.fold.tail_ok

    def apply(self, rec: LogRecord) -> FlagChange | None:
        """Fold one record; returns what happened to it (None for a record with no key)."""
        if self.first_offset is None:
            self.first_offset = rec.offset
        self.next_offset = rec.offset + 1
        if rec.key is None:
            return None
        try:
            key = rec.key.decode()
        except UnicodeDecodeError:
            return None
        h = rec.headers
        unverified = ("" if self.verifier is None
                      else check_signature(self.verifier, rec.key, rec.value, h))
        op = _header(h, H_OP) or "?"
        by, at, why = _header(h, H_BY) or "", _header(h, H_AT) or "", _header(h, H_REASON) or ""
        expects_text = _header(h, H_EXPECTS)
        state: FlagState | None = None
        expects: int | None = None
        read: Proposal[FlagState] | Invalid | None = None
        try:
            expects = int(expects_text) if expects_text is not None else None
        except ValueError:
            expects = None
        if expects is None or expects < 0:
            read = Invalid(f"no valid {H_EXPECTS} header: not a kafkaops write")
        elif rec.value is not None:
            try:
                state = decode_state(rec.value)
            except ValueError as e:
                read = Invalid(f"invalid flag state: {e}")
            else:
                if state.key != key:
                    read = Invalid(f"state names key {state.key!r}, record key {key!r}")
                    state = None
        if unverified:
            self.unverified[rec.offset] = key
            if read is None:  # a record that is not a write at all keeps saying why
                if state is not None and unverified.startswith("unsigned") \
                        and key not in self.flags:
                    self.unsigned_states[key] = state
                read = Invalid(unverified)
            else:
                read = Invalid(f"{read}; {unverified}")
        if read is None:
            assert expects is not None
            read = Proposal(key, expects, state.version if state else expects, state,
                            _header(h, H_WRITE_ID), restate=op == "restate")
        current = self.flags.get(key)
        decision = self.fold.apply(rec.offset, key, read)
        if decision.outcome == "applied":
            self.unsigned_states.pop(key, None)
        note = decision.note
        if decision.outcome == "rejected" and current is not None and current.updated_by:
            note += f" (by {current.updated_by})"
        now = self.flags.get(key)
        change = FlagChange(
            offset=rec.offset,
            key=key,
            op=op,
            outcome=decision.outcome,
            expects=expects,
            version=state.version if state else None,
            write_id=_header(h, H_WRITE_ID),
            by=by or (state.updated_by if state else ""),
            at=at or (state.updated_at if state else ""),
            reason=why or (state.reason if state else ""),
            note=note,
            state=state,
            current_version=now.version if now else 0,
            current_by=now.updated_by if now else "",
            timestamp_ms=rec.timestamp_ms,
        )
        if self.keep_history:
            self.history.setdefault(key, []).append(change)
        return change

    def unhealthy_tails(self) -> list[str]:
        """Keys whose last record is not authoritative (need a restate before compaction),
        but for flags written before signing, kept for `kafkaops flags resign`."""
        return [k for k in self.fold.unhealthy_tails() if k not in self.unsigned_states]

    def version_at_deletion(self, key: str) -> int:
        return self.fold.deleted_versions.get(key, 0)


# ---------------------------------------------------------------- the store (reader)


async def topic_partitions(name: str, cfg: ClusterConfig, topic: str) -> int | None:
    """Partition count of `topic`, None when it does not exist. Raises ClusterUnreachable.

    Asks with allow_auto_topic_creation=False: Tansu (and Apache Kafka with
    auto.create.topics.enable, its default) would otherwise create the flags topic with
    default settings, not compacted and with several partitions.
    """
    from aiokafka.protocol.metadata import MetadataRequest

    async with clients.client(name, cfg) as client:
        with map_kafka_errors(name, cfg):
            node = client.get_random_node()
            if node is None:
                raise unreachable(name, cfg, "no broker known")
            resp = await client.send(node, MetadataRequest([topic], False))
    for t in resp.to_object()["topics"]:
        if t["topic"] == topic and t["error_code"] == 0:
            return len(t["partitions"])
    return None


class FlagStore:
    """Reads the flags topic from its start and keeps folding it, live.

    Used by the writer (FlagService, with history) and by the SDK (FlagClient). The consumer
    is assigned the single partition (no group: every reader reads everything). When the
    offsets go backwards (the topic was recreated, or a new empty cluster answers at the
    same address) the fold starts again from scratch; `ready` says whether the fold has
    caught up with the topic since it last started.
    """

    def __init__(
        self,
        cluster: str,
        config: ClusterConfig,
        *,
        topic: str = FLAGS_TOPIC,
        keep_history: bool = False,
        fetch_max_wait: float = 0.1,
        listener: Callable[[FlagStore, FlagChange | None], None] | None = None,
        verifier: RecordVerifier | None = None,
    ) -> None:
        self.cluster = cluster
        #: verifies each record's signature (None: records are unsigned, as written
        #: without a key); see kafkaops.core.flags.signing
        self.verifier = verifier
        #: offsets of unverified records already logged (once each, across refolds)
        self._reported: set[int] = set()
        self.config = config
        self.topic = topic
        self.keep_history = keep_history
        self.fetch_max_wait = fetch_max_wait
        self.listener = listener
        self.log = FlagLog(keep_history=keep_history, verifier=verifier)
        #: caught up with the topic at least once since the fold (re)started
        self.ready = False
        #: wall-clock time (s) of the last fetch response from the broker
        self.last_contact: float | None = None
        #: the run loop ended on an error it cannot recover from
        self.failed: str | None = None
        #: why the fold last started again from scratch, and when (None: it never did)
        self.restarted: str | None = None
        #: the log's end was seen below the position read; not ready until explained
        self.suspect = False
        self._watch: LogWatch | None = None
        self._consumer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._tp: Any = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._outcomes: Outcomes[FlagChange] = Outcomes()
        self._position = 0

    @property
    def flags(self) -> dict[str, FlagState]:
        return self.log.flags

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> bool:
        """Start reading. False (nothing started) when the topic does not exist.

        Raises ClusterUnreachable when no broker answers, KafkaOpsError when the topic does
        not have exactly one partition (the total order of writes depends on it).
        """
        from aiokafka import TopicPartition

        parts = await topic_partitions(self.cluster, self.config, self.topic)
        if parts is None:
            return False
        if parts != 1:
            raise KafkaOpsError(
                f"topic {self.topic!r} on cluster {self.cluster!r} has {parts} partitions; "
                "flags need exactly 1 (compare-and-set relies on one total order). "
                "Recreate it with 1 partition and cleanup.policy=compact"
            )
        tp = TopicPartition(self.topic, 0)
        consumer: Any = None
        # aiokafka offers no public way to send a request over a consumer's connections;
        # its client is `_client` (LogWatch asks the topic's id through it)
        # a fetch round answers every fetch_max_wait + 0.2 s (the getmany below) when in
        # contact: two missed answers are lost contact
        watch = LogWatch(lambda: consumer._client, self.topic,
                         gap=2 * (self.fetch_max_wait + 0.2) + 0.2, check_every=5.0)
        async with contextlib.AsyncExitStack() as stack:
            consumer = await stack.enter_async_context(clients.consumer(
                self.cluster, self.config,
                reader=True,  # a reader never creates the topic it reads
                created=lambda made: watch.follow_connections(made._client),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=max(int(self.fetch_max_wait * 1000), 1),
            ))
            consumer.assign([tp])
            with map_kafka_errors(self.cluster, self.config):
                await consumer.seek_to_beginning(tp)
            await watch.identity()  # the log this fold reads
            self._clients = stack.pop_all()
        self._tp = tp
        self._consumer = consumer
        self._watch = watch
        if self.failed is not None or self.log.next_offset:  # a start after a stop: read anew
            self.failed = None
            self.log = FlagLog(keep_history=self.keep_history, verifier=self.verifier)
            self.ready = self.suspect = False
            self._position = 0
        self._task = asyncio.create_task(self._run(), name=f"flags-store-{self.cluster}")
        return True

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._consumer = self._clients, None, None
            if stack is not None:
                await stack.aclose()
            self._outcomes.cancel_all()

    async def _run(self) -> None:
        consumer, tp = self._consumer, self._tp
        watch = self._watch
        assert watch is not None
        while True:
            try:
                with map_kafka_errors(self.cluster, self.config):
                    batch = await consumer.getmany(
                        tp, timeout_ms=int(self.fetch_max_wait * 1000) + 200)
                    records = batch.get(tp, ())
                    stamp = consumer.last_poll_timestamp(tp)
                    answered = stamp / 1000 if stamp is not None else None
                    if watch.due(answered, bool(records)):
                        # before using records that came after lost contact: are they the
                        # same log's? (module logwatch)
                        seen = await watch.identity()
                        if seen == "gone":
                            log.warning("flags: topic %s is gone from cluster %r", self.topic,
                                        self.cluster)
                            self.failed = (f"topic {self.topic} no longer exists on cluster "
                                           f"{self.cluster!r} (deleted, or the broker restarted "
                                           "empty)")
                            self._wake()
                            return
                        if seen == "new":
                            await self._refold(consumer, tp, "the topic was created again (new "
                                               "topic id): the broker restarted empty or someone "
                                               "recreated it")
                            continue
                    high = consumer.highwater(tp)
                    position = await consumer.position(tp)
                    if high is not None and high < position:
                        # the log end is below what was read: not live until it is explained
                        if not self.suspect:
                            self.suspect, self.ready = True, False
                            seen = await watch.identity()  # a new topic id settles it at once
                            if seen == "gone":
                                log.warning("flags: topic %s is gone from cluster %r", self.topic,
                                            self.cluster)
                                self.failed = (f"topic {self.topic} no longer exists on cluster "
                                               f"{self.cluster!r}")
                                self._wake()
                                return
                            if seen == "new":
                                await self._refold(consumer, tp, "the topic was created again "
                                                   "(new topic id)")
                                continue
                        if watch.behind(0, high, position, answered):
                            await self._refold(consumer, tp, f"the log end went back to offset "
                                               f"{high}, below offset {position} already read")
                            continue
                    else:
                        watch.behind(0, high, position, answered)  # clears a passing doubt
                        self.suspect = False
            except KafkaOpsError as e:  # e.g. the topic was deleted under us
                log.warning("flags: reading %s failed: %s", self.topic, e)
                self.failed = f"reading {self.topic} failed: {e}"
                self._wake()
                return
            except Exception as e:  # a bug must not leave a silent, frozen cache behind
                log.exception("flags: reading %s failed", self.topic)
                self.failed = f"reading {self.topic} failed: {type(e).__name__}: {e}"
                self._wake()
                return
            for rec in records:
                if rec.offset < self.log.next_offset:
                    # the log went backwards (aiokafka reset an out-of-range position)
                    self._restart_fold(f"offset {rec.offset} came after "
                                       f"{self.log.next_offset - 1} (offset out of range: the "
                                       "log was truncated or recreated)")
                self._apply(rec)
            if answered is not None:
                self.last_contact = answered
            self._position = position
            if not self.ready and not self.suspect and high is not None \
                    and self._position >= high:
                self.ready = True
                if self.listener is not None:
                    self.listener(self, None)
            self._wake()

    def _restart_fold(self, why: str) -> None:
        """Throw the fold away: what it holds came from a log that is no longer there."""
        log.warning("flags: %s on cluster %r: %s; reading it again from its start",
                    self.topic, self.cluster, why)
        self.restarted = f"{why} ({now_iso()})"
        self.log = FlagLog(keep_history=self.keep_history, verifier=self.verifier)
        self.ready = self.suspect = False
        self._position = 0

    async def _refold(self, consumer: Any, tp: Any, why: str) -> None:
        self._restart_fold(why)
        await consumer.seek_to_beginning(tp)
        self._wake()

    def _apply(self, rec: Any) -> None:
        change = self.log.apply(
            LogRecord(
                rec.offset,
                rec.key,
                rec.value,
                tuple((k, bytes(v)) for k, v in (rec.headers or ())),
                rec.timestamp or 0,
            )
        )
        if change is None:
            return
        if change.offset in self.log.unverified and change.offset not in self._reported:
            self._reported.add(change.offset)
            log.warning("flags: %s on cluster %r offset %d (key %r) ignored: %s", self.topic,
                        self.cluster, change.offset, change.key, change.note)
        self._outcomes.settle(change.write_id, change)
        if self.listener is not None and self.ready:
            self.listener(self, change)

    def _wake(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    async def progressed(self, limit: float) -> None:
        """Wait until the next fetch round ended (at most `limit` seconds).

        Every wait here uses asyncio.timeout, never asyncio.wait_for: on Python 3.11,
        wait_for loses a cancellation that arrives as the awaited event fires, and a
        stop() that cancels this loop then waits forever.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):  # not wait_for: see the docstring
                await self._progress.wait()

    async def wait_position(self, end: int, limit: float) -> None:
        """Wait (at most `limit` seconds) until every record before offset `end` is folded."""
        deadline = time.monotonic() + limit
        while max(self._position, self.log.next_offset) < end:
            if self.failed:
                raise KafkaOpsError(f"flags store stopped: {self.failed}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise unreachable(
                    self.cluster, self.config, f"not read up to offset {end} within "
                    f"{limit:g}s (read up to {max(self._position, self.log.next_offset)})",
                    doing=f"read {self.topic}")
            await self.progressed(left)

    def expect(self, write_id: str) -> asyncio.Future[FlagChange]:
        """A future of the write's outcome, settled when the fold meets its record."""
        return self._outcomes.expect(write_id)

    def forget(self, write_id: str) -> None:
        self._outcomes.forget(write_id)
