"""The records of dead letters and their replay: where a dead letter came from (Origin), the
letter itself (DeadLetter), a topic's summary (DeadLetterTopic, ReasonGroup), the plan of a
replay (ReplayPlan, ReplayItem) and what a replay did (ReplayResult); the header names
kafkaops writes. Frozen; no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.untrusted import printable

if TYPE_CHECKING:
    from kafkaops.core.messages.model import Message

LEDGER_TOPIC = "_kafkaops.dlq-replays"

# our own dead-letter headers
ORIGIN_TOPIC = "kafkaops.origin.topic"
ORIGIN_PARTITION = "kafkaops.origin.partition"
ORIGIN_OFFSET = "kafkaops.origin.offset"
ERROR_CLASS = "kafkaops.error.class"
ERROR_MESSAGE = "kafkaops.error.message"
# on replayed records
REPLAY_OF = "kafkaops.replay.of"
REPLAY_ID = "kafkaops.replay.id"


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Origin:
    """Where a dead letter came from."""

    topic: str | None
    """Origin topic (None when neither headers nor the name tell)."""
    partition: int | None = None
    """Origin partition, when the headers say."""
    offset: int | None = None
    """Origin offset, when the headers say."""
    timestamp: int | None = None
    """Original record timestamp (ms), when the headers say."""
    group: str | None = None
    """Consumer group (Spring) or connector (Connect) that gave up on it."""
    framework: str = "name"
    """spring, connect, kafkaops, or name (only the topic name told the origin)."""


@dataclass(frozen=True)
class DeadLetter:
    message: Message
    """The record on the dead-letter topic."""
    origin: Origin
    """Where it came from."""
    error_class: str | None
    """Exception class, when the headers say."""
    error_message: str | None
    """Exception message, when the headers say."""
    reason: str
    """The grouping key: short class name and message with ids and numbers blanked."""
    cause_class: str | None = None
    """The root cause's class, when the headers say (Spring's exception-cause-fqcn)."""


@dataclass(frozen=True)
class ReasonGroup:
    reason: str
    """Grouped reason (see DeadLetter.reason)."""
    count: int
    """Records with this reason among those read."""
    example: str
    """One real message of the group."""


@dataclass(frozen=True)
class DeadLetterTopic:
    topic: str
    """The dead-letter topic."""
    origin: str | None
    """Origin topic by name or config (each record's headers may say otherwise)."""
    partitions: int
    """Partition count."""
    messages: int
    """Records on the topic (end - log start, summed over partitions)."""
    read: int
    """Records read for the reasons (the newest ones, at most the sample size)."""
    reasons: tuple[ReasonGroup, ...]
    """Reasons grouped, most frequent first."""
    replayed: int = 0
    """Records of this topic replayed so far (per the ledger)."""
    frameworks: tuple[str, ...] = ()
    """Which header formats were seen: spring, connect, kafkaops, name."""


@dataclass(frozen=True)
class ReplayItem:
    partition: int
    """Dead-letter partition."""
    offset: int
    """Dead-letter offset."""
    to_topic: str
    """Destination topic."""
    reason: str
    """Why it was a dead letter."""
    to_partition: int | None = None
    """Where it landed (None in a dry run)."""
    to_offset: int | None = None
    """Where it landed (None in a dry run)."""


@dataclass(frozen=True)
class ReplayResult:
    topic: str
    """The dead-letter topic."""
    dry_run: bool
    """Nothing was written."""
    replay_id: str | None
    """Id of this replay (also in each replayed record's kafkaops.replay.id header)."""
    items: tuple[ReplayItem, ...]
    """Records replayed (or, in a dry run, that would be)."""
    already_replayed: tuple[tuple[int, int], ...]
    """(partition, offset) of matching records skipped: replayed before."""
    no_origin: tuple[tuple[int, int], ...]
    """(partition, offset) of matching records skipped: origin unknown (use `to`)."""
    recovered: int = 0
    """Records of an interrupted earlier replay found on their destination and marked done."""

    @property
    def count(self) -> int:
        return len(self.items)

    def by_destination(self) -> dict[str, int]:
        return dict(Counter(i.to_topic for i in self.items))



@dataclass(frozen=True)
class Words:
    """How a face marks up a plan's words: plain text (CLI, console) or Slack mrkdwn."""

    text: Callable[[str], str] = printable
    """Words we did not write (a reason, a filter, a cluster name); by default with their
    control characters shown as escapes (a reason comes from a record's headers)."""
    code: Callable[[str], str] = printable
    """A name or a position: a topic, `0:17`, a filter."""
    strong: Callable[[str], str] = str
    """The count of records a replay writes."""
    to_hint: str = " (use --to TOPIC)"
    """How to give records without a known origin a destination, in this face's words."""


PLAIN = Words()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _records(n: int) -> str:
    return f"record{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay will write where, read before anything is written. `apply` replays
    exactly these records (their positions), re-checked under the topic's lock."""

    cluster: str
    """Cluster name from config."""
    topic: str
    """The dead-letter topic."""
    items: tuple[ReplayItem, ...]
    """Records to replay, each with its destination topic, in dead-letter order."""
    already_replayed: tuple[tuple[int, int], ...]
    """(partition, offset) of chosen records skipped: replayed before."""
    no_origin: tuple[tuple[int, int], ...]
    """(partition, offset) of chosen records skipped: origin unknown (give `to`)."""
    filter: str | None = None
    """The filter the records were chosen with, as typed."""
    to: str | None = None
    """The destination given instead of each record's origin."""
    read_only: bool = False
    """The cluster is read-only in config: the plan can be shown but not applied."""
    planned_at: float = 0.0
    """When the plan was made (seconds since the epoch)."""

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def chosen(self) -> int:
        """Records the plan covers: to replay, plus both kinds skipped."""
        return self.count + len(self.already_replayed) + len(self.no_origin)

    @property
    def positions(self) -> tuple[tuple[int, int], ...]:
        """(partition, offset) of every record the plan covers, sorted: what `apply` pins."""
        return tuple(sorted({(i.partition, i.offset) for i in self.items}
                            | set(self.already_replayed) | set(self.no_origin)))

    def by_destination(self) -> dict[str, int]:
        return dict(Counter(i.to_topic for i in self.items))

    def skipped(self, words: Words = PLAIN) -> list[str]:
        """["3 replayed before", "1 with no known origin (use --to TOPIC)"]."""
        out = []
        if self.already_replayed:
            out.append(f"{len(self.already_replayed):,} replayed before")
        if self.no_origin:
            out.append(f"{len(self.no_origin):,} with no known origin{words.to_hint}")
        return out

    def headline(self, words: Words = PLAIN, *, chosen: str | None = None) -> list[str]:
        """What will be written where, in counts: the first line, the filter, what is
        skipped. `chosen` is how the face chose the records ("marked"): the first line then
        says how many of them are replayed."""
        w = words
        dests = ", ".join(f"{n:,} to {w.code(t)}" for t, n in sorted(self.by_destination().items()))
        if chosen is None:
            head = f"replay {w.strong(f'{self.count:,}')} {_records(self.count)}"
        else:
            head = (f"replay {w.strong(f'{self.count:,}')} of the {self.chosen:,} "
                    f"{_records(self.chosen)} {w.text(chosen)}")
        lines = [f"{head} of {w.code(self.topic)} on {w.text(self.cluster)}: {dests or 'none'}"]
        if self.filter:
            lines.append(f"filter: {w.code(self.filter)}")
        skipped = self.skipped(words)
        if skipped:
            lines.append("skipping " + ", ".join(skipped))
        return lines

    def item_lines(self, words: Words = PLAIN, *, limit: int = 10, reason: int = 50
                   ) -> list[str]:
        """One line a record: `0:17 → payments · PriceMissing: ...`; past `limit`, a count."""
        w = words
        lines = [f"{w.code(f'{i.partition}:{i.offset}')} → {w.code(i.to_topic)} · "
                 f"{w.text(_clip(i.reason, reason))}" for i in self.items[:limit]]
        if self.count > limit:
            lines.append(f"… and {self.count - limit:,} more")
        return lines

    def describe(self, words: Words = PLAIN, *, chosen: str | None = None,
                 limit: int = 10) -> list[str]:
        """The plan for a person: the headline, then the records one a line."""
        return self.headline(words, chosen=chosen) + self.item_lines(words, limit=limit)

    def nothing_to_change(self) -> str:
        """Why applying would write nothing ("" when it would write something)."""
        if self.items:
            return ""
        return (f"nothing to change: no record of {self.topic!r} to replay "
                f"({len(self.already_replayed):,} replayed before, {len(self.no_origin):,} "
                "with no known origin); nothing was written")

    def to_jsonable(self, *, brief: bool = False) -> dict[str, Any]:
        """Plain JSON data; `brief` leaves out each record's reason (a plan kept in a
        Slack confirmation, whose record has a size limit)."""
        return {
            "cluster": self.cluster, "topic": self.topic,
            "items": [{"partition": i.partition, "offset": i.offset, "to_topic": i.to_topic}
                      | ({} if brief else {"reason": i.reason}) for i in self.items],
            "already_replayed": [list(p) for p in self.already_replayed],
            "no_origin": [list(p) for p in self.no_origin],
            "filter": self.filter, "to": self.to, "read_only": self.read_only,
            "planned_at": self.planned_at,
        }

    @classmethod
    def from_jsonable(cls, data: Mapping[str, Any]) -> ReplayPlan:
        """The plan back from `to_jsonable()` (a Slack confirmation keeps it as JSON). Only
        its positions, filter and destination are acted on; `apply` reads the records and
        the ledger again, so a stale plan replays only what is still to be replayed."""
        def pos(p: Any) -> tuple[int, int]:
            a, b = p
            return int(a), int(b)

        return cls(
            cluster=str(data["cluster"]), topic=str(data["topic"]),
            items=tuple(ReplayItem(int(i["partition"]), int(i["offset"]), str(i["to_topic"]),
                                   str(i.get("reason", ""))) for i in data["items"]),
            already_replayed=tuple(pos(p) for p in data["already_replayed"]),
            no_origin=tuple(pos(p) for p in data["no_origin"]),
            filter=None if data.get("filter") is None else str(data["filter"]),
            to=None if data.get("to") is None else str(data["to"]),
            read_only=bool(data.get("read_only", False)),
            planned_at=float(data.get("planned_at", 0.0)),
        )
