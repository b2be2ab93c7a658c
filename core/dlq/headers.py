"""The pure rules of dead letters (no I/O): recognising a dead-letter topic by config or
name, reading a letter's origin and error from the headers Spring Kafka, Kafka Connect and
kafkaops write, grouping by reason, choosing what a replay writes where, and the headers a
replayed record carries.

Recognition (config `dead_letters`): a topic named in `dead_letters.topics` (dead-letter
topic -> origin), or whose name ends in one of `dead_letters.suffixes` (`orders.dlq` is the
dead-letter topic of `orders`). The origin of each record comes from the headers the common
frameworks write, before falling back to the name:
- Spring Kafka's DeadLetterPublishingRecoverer: `kafka_dlt-original-topic`, `-partition`
  (4-byte big-endian int), `-offset` (8-byte long), `-timestamp`, `-consumer-group`,
  `kafka_dlt-exception-fqcn`, `-message`, `-cause-fqcn`, `-stacktrace`;
- Kafka Connect's errors.deadletterqueue.context.headers.enable: `__connect.errors.topic`,
  `.partition`, `.offset` (text), `.connector.name`, `.exception.class.name`,
  `.exception.message`;
- our own, for services that write dead letters themselves: `kafkaops.origin.topic`,
  `kafkaops.origin.partition`, `kafkaops.origin.offset` (text), `kafkaops.error.class`,
  `kafkaops.error.message`.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kafkaops.core.dlq.ledger import Ledger
from kafkaops.core.dlq.model import (
    ERROR_CLASS,
    ERROR_MESSAGE,
    ORIGIN_OFFSET,
    ORIGIN_PARTITION,
    ORIGIN_TOPIC,
    REPLAY_ID,
    REPLAY_OF,
    DeadLetter,
    Origin,
    ReasonGroup,
    ReplayItem,
)
from kafkaops.core.errors import UsageError

if TYPE_CHECKING:
    from kafkaops.core.config import DeadLetterConfig
    from kafkaops.core.messages.model import Message

_SPRING = "kafka_dlt-"
_CONNECT = "__connect.errors."
_DROP_ON_REPLAY = (_SPRING, _CONNECT, "kafkaops.origin.", "kafkaops.error.", "kafkaops.replay.")


def origin_by_name(topic: str, cfg: DeadLetterConfig) -> str | None:
    """The origin topic when `topic` is a dead-letter topic by config or name, else None."""
    if topic in cfg.topics:
        origin: str = cfg.topics[topic]
        return origin
    if topic.startswith("_"):
        return None
    for suffix in sorted(cfg.suffixes, key=len, reverse=True):
        if topic.endswith(suffix) and len(topic) > len(suffix):
            return topic[: -len(suffix)]
    return None


def is_dead_letter_topic(topic: str, cfg: DeadLetterConfig) -> bool:
    return origin_by_name(topic, cfg) is not None


def _int(raw: bytes | None) -> int | None:
    """Spring writes ints as 4 bytes and longs as 8 (big-endian); Connect and we write text."""
    if raw is None:
        return None
    try:
        text = raw.decode("ascii").strip()
        if text.lstrip("-").isdigit():
            return int(text)
    except UnicodeDecodeError:
        pass
    if len(raw) == 4:
        return int(struct.unpack(">i", raw)[0])
    if len(raw) == 8:
        return int(struct.unpack(">q", raw)[0])
    return None


def _str(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")


def parse_dead_letter(msg: Message, fallback_origin: str | None) -> DeadLetter:
    """Origin and error of one dead letter, from its headers (last value of a name wins)."""
    h: dict[str, bytes] = {}
    for name, value in msg.headers:
        h[name] = value
    if f"{_SPRING}original-topic" in h or f"{_SPRING}exception-fqcn" in h:
        origin = Origin(
            topic=_str(h.get(f"{_SPRING}original-topic")) or fallback_origin,
            partition=_int(h.get(f"{_SPRING}original-partition")),
            offset=_int(h.get(f"{_SPRING}original-offset")),
            timestamp=_int(h.get(f"{_SPRING}original-timestamp")),
            group=_str(h.get(f"{_SPRING}original-consumer-group")),
            framework="spring",
        )
        cls = _str(h.get(f"{_SPRING}exception-fqcn") or h.get(f"{_SPRING}key-exception-fqcn"))
        text = _str(h.get(f"{_SPRING}exception-message")
                    or h.get(f"{_SPRING}key-exception-message"))
        cause = _str(h.get(f"{_SPRING}exception-cause-fqcn")
                     or h.get(f"{_SPRING}key-exception-cause-fqcn"))
        # Spring wraps the listener's exception: group by the cause, not the wrapper
        return DeadLetter(msg, origin, cls, text, reason_key(cause or cls, _unwrap(text)),
                          cause)
    elif f"{_CONNECT}topic" in h:
        origin = Origin(
            topic=_str(h.get(f"{_CONNECT}topic")) or fallback_origin,
            partition=_int(h.get(f"{_CONNECT}partition")),
            offset=_int(h.get(f"{_CONNECT}offset")),
            group=_str(h.get(f"{_CONNECT}connector.name")),
            framework="connect",
        )
        cls = _str(h.get(f"{_CONNECT}exception.class.name"))
        text = _str(h.get(f"{_CONNECT}exception.message"))
    elif ORIGIN_TOPIC in h:
        origin = Origin(
            topic=_str(h.get(ORIGIN_TOPIC)) or fallback_origin,
            partition=_int(h.get(ORIGIN_PARTITION)), offset=_int(h.get(ORIGIN_OFFSET)),
            framework="kafkaops",
        )
        cls, text = _str(h.get(ERROR_CLASS)), _str(h.get(ERROR_MESSAGE))
    else:
        origin = Origin(topic=fallback_origin, framework="name")
        cls = text = None
    return DeadLetter(msg, origin, cls, text, reason_key(cls, text))


_SPRING_WRAPPER = re.compile(
    r"^(?:Listener method .*? threw exception;?\s*|.*?nested exception is [\w.$]+:\s*)")


def _unwrap(message: str | None) -> str | None:
    """The cause's message inside Spring's ListenerExecutionFailedException message."""
    if message is None:
        return None
    inner = _SPRING_WRAPPER.sub("", message, count=1).strip()
    return inner or message


_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b")
_NUM = re.compile(r"(?<![A-Za-z])\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']{1,80}'|\"[^\"]{1,80}\"")


def reason_key(error_class: str | None, message: str | None) -> str:
    """`NullPointerException: order <n> has no customer`: what dead letters are grouped by.
    Ids, numbers and quoted values are blanked so one bug is one group."""
    if error_class is None and message is None:
        return "no error headers"
    short = (error_class or "").rsplit(".", 1)[-1].rsplit("$", 1)[-1]
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    first = _UUID.sub("<id>", first)
    first = _HEX.sub("<id>", first)
    first = _QUOTED.sub("<value>", first)
    first = _NUM.sub("<n>", first)
    text = f"{short}: {first}" if short and first else short or first
    return text[:160]


def group_reasons(letters: Iterable[DeadLetter]) -> tuple[ReasonGroup, ...]:
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for dl in letters:
        counts[dl.reason] += 1
        if dl.reason not in examples:
            cls = dl.error_class or ""
            examples[dl.reason] = (f"{cls}: {dl.error_message}" if dl.error_message is not None
                                   else cls or "(no error headers)")[:300]
    return tuple(ReasonGroup(r, n, examples[r]) for r, n in counts.most_common())


def replay_headers(msg: Message, replay_id: str) -> list[tuple[str, bytes]]:
    """The headers a replayed record carries: its own, minus dead-letter ones, plus ours."""
    kept = [(k, v) for k, v in msg.headers if not k.startswith(_DROP_ON_REPLAY)]
    kept.append((REPLAY_OF, f"{msg.topic}/{msg.partition}/{msg.offset}".encode()))
    kept.append((REPLAY_ID, replay_id.encode()))
    return kept



def choose(
    topic: str, letters: Sequence[DeadLetter], ledger: Ledger,
    wanted: set[tuple[int, int]] | None, to: str | None, *, filtered: bool = False,
) -> tuple[list[ReplayItem], list[tuple[int, int]], list[tuple[int, int]]]:
    """(to replay, replayed before, no known origin) among `letters`, or among the `wanted`
    positions of them (UsageError naming the first wanted position that is not a letter).
    Each replays to `to`, else to its origin."""
    if wanted is not None:
        have = {(dl.message.partition, dl.message.offset) for dl in letters}
        unknown = sorted(wanted - have)
        if unknown:
            p, o = unknown[0]
            raise UsageError(f"{topic!r} has no record at partition {p} offset {o}"
                             + (" matching the filter" if filtered else ""))
        letters = [dl for dl in letters if (dl.message.partition, dl.message.offset) in wanted]
    items: list[ReplayItem] = []
    already: list[tuple[int, int]] = []
    no_origin: list[tuple[int, int]] = []
    for dl in letters:
        pos = (dl.message.partition, dl.message.offset)
        if ledger.is_done(topic, *pos):
            already.append(pos)
            continue
        dest = to or dl.origin.topic
        if dest is None:
            no_origin.append(pos)
            continue
        items.append(ReplayItem(pos[0], pos[1], dest, dl.reason))
    return items, already, no_origin
