"""Pure rules for admin changes: what a valid topic name, topic config, header or produce
option is, and how a config change compares with what the broker reports. No I/O.

The embedded broker accepts almost anything (Tansu 0.6 creates a topic named "bad name!",
with 0 partitions, replication factor 3 on one broker, or `retention.ms=abc`; and sets any
config name to any value), so kafkaops checks here what Apache Kafka would refuse, before
anything is sent: the same checks hold on every broker.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from kafkaops.core.errors import UsageError

MAX_TOPIC_NAME = 249
_TOPIC_CHARS = re.compile(r"^[A-Za-z0-9._-]+$")
#: a ceiling on one command's partitions: a typo of 100000 should not reach the broker
MAX_PARTITIONS = 10_000
#: topics no kafkaops face deletes: kafkaops' own state (the audit trail above all) and
#: Kafka's internal topics
PROTECTED_PREFIXES = ("_kafkaops.", "__")


def check_topic_name(name: str) -> str:
    """The name, or UsageError saying what Kafka would refuse in it."""
    if not name:
        raise UsageError("topic name is empty")
    if name in (".", ".."):
        raise UsageError(f"topic name {name!r} is not allowed by Kafka")
    if len(name) > MAX_TOPIC_NAME:
        raise UsageError(f"topic name is {len(name)} characters long; Kafka allows at most "
                         f"{MAX_TOPIC_NAME}")
    if not _TOPIC_CHARS.match(name):
        bad = sorted({c for c in name if not _TOPIC_CHARS.match(c)})
        shown = ", ".join(repr(c) for c in bad[:5])
        raise UsageError(f"topic name {name!r} has characters Kafka does not allow ({shown}); "
                         "use letters, digits, '.', '_' and '-'")
    return name


def protected_prefix(name: str) -> str | None:
    """The reserved prefix `name` starts with, None when it is free."""
    return next((p for p in PROTECTED_PREFIXES if name.startswith(p)), None)


def check_count(what: str, value: int, *, low: int = 1, high: int = MAX_PARTITIONS) -> int:
    if value < low:
        raise UsageError(f"{what} must be at least {low} (got {value})")
    if value > high:
        raise UsageError(f"{what} must be at most {high:,} (got {value:,})")
    return value


# ---------------------------------------------------------------- topic configs


def _long(low: int | None = None) -> Callable[[str], str | None]:
    wanted = "a whole number" if low is None else f"a whole number >= {low}"

    def check(v: str) -> str | None:
        if not re.fullmatch(r"-?\d+", v.strip()) or (low is not None and int(v) < low):
            return wanted
        return None

    return check


def _choice(*options: str, many: bool = False) -> Callable[[str], str | None]:
    def check(v: str) -> str | None:
        items = [x.strip() for x in v.split(",")] if many else [v.strip()]
        if not v.strip() or any(x not in options for x in items):
            return ("a comma-separated list of " if many else "one of ") + ", ".join(options)
        return None

    return check


def _bool(v: str) -> str | None:
    return None if v.strip().lower() in ("true", "false") else "true or false"


def _ratio(v: str) -> str | None:
    try:
        f = float(v)
    except ValueError:
        return "a number between 0 and 1"
    return None if 0 <= f <= 1 else "a number between 0 and 1"


def _text(v: str) -> str | None:
    return None


#: Apache Kafka's topic-level configs (3.x/4.x) with what a valid value is. A name not in
#: here is refused unless it carries a vendor's prefix (VENDOR_PREFIXES).
TOPIC_CONFIGS: dict[str, Callable[[str], str | None]] = {
    "cleanup.policy": _choice("delete", "compact", many=True),
    "compression.type": _choice("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
    "compression.gzip.level": _long(),
    "compression.lz4.level": _long(),
    "compression.zstd.level": _long(),
    "delete.retention.ms": _long(0),
    "file.delete.delay.ms": _long(0),
    "flush.messages": _long(1),
    "flush.ms": _long(0),
    "follower.replication.throttled.replicas": _text,
    "index.interval.bytes": _long(0),
    "leader.replication.throttled.replicas": _text,
    "local.retention.bytes": _long(-2),
    "local.retention.ms": _long(-2),
    "max.compaction.lag.ms": _long(1),
    "max.message.bytes": _long(0),
    "message.downconversion.enable": _bool,
    "message.format.version": _text,
    "message.timestamp.after.max.ms": _long(0),
    "message.timestamp.before.max.ms": _long(0),
    "message.timestamp.difference.max.ms": _long(0),
    "message.timestamp.type": _choice("CreateTime", "LogAppendTime"),
    "min.cleanable.dirty.ratio": _ratio,
    "min.compaction.lag.ms": _long(0),
    "min.insync.replicas": _long(1),
    "preallocate": _bool,
    "remote.log.copy.disable": _bool,
    "remote.log.delete.on.disable": _bool,
    "remote.storage.enable": _bool,
    "retention.bytes": _long(-1),
    "retention.ms": _long(-1),
    "segment.bytes": _long(14),
    "segment.index.bytes": _long(4),
    "segment.jitter.ms": _long(0),
    "segment.ms": _long(1),
    "unclean.leader.election.enable": _bool,
}
#: configs of Kafka-compatible brokers that Apache Kafka does not have; passed as they are
VENDOR_PREFIXES = ("confluent.", "redpanda.")
_HINTS = {
    "retention.ms": " (milliseconds: 604800000 is 7 days; -1 keeps records forever)",
    "retention.bytes": " (bytes per partition; -1 for no limit)",
    "segment.ms": " (milliseconds)",
}


def check_config(name: str, value: str | None) -> None:
    """UsageError when `name` is not a topic config or `value` is not valid for it (None:
    only the name is checked, for a delete)."""
    if not name:
        raise UsageError("a topic config name is empty")
    if name not in TOPIC_CONFIGS:
        if name.startswith(VENDOR_PREFIXES):
            return
        close = difflib.get_close_matches(name, TOPIC_CONFIGS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"{name!r} is not a topic config{hint}")
    if value is None:
        return
    wanted = TOPIC_CONFIGS[name](value)
    if wanted is not None:
        raise UsageError(f"{name}={value!r}: must be {wanted}{_HINTS.get(name, '')}")


def parse_assignments(items: Iterable[str], what: str = "--topic-config") -> dict[str, str]:
    """["k=v", ...] -> {k: v}; each name at most once. UsageError otherwise."""
    out: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise UsageError(f"{what} {item!r}: expected NAME=VALUE")
        if name in out and out[name] != value:
            raise UsageError(f"{what}: {name} given twice ({out[name]!r} and {value!r})")
        out[name] = value
    return out


def check_configs(configs: Mapping[str, str]) -> dict[str, str]:
    for name, value in configs.items():
        check_config(name, value)
    return dict(configs)


def check_alter(sets: Mapping[str, str], deletes: Sequence[str]) -> tuple[dict[str, str],
                                                                          list[str]]:
    """Validate an alter-config request: something to do, each name once."""
    if not sets and not deletes:
        raise UsageError("nothing to change: give --set NAME=VALUE or --delete NAME")
    check_configs(sets)
    seen: list[str] = []
    for name in deletes:
        check_config(name.strip(), None)
        if name in sets:
            raise UsageError(f"{name} is both set and deleted")
        if name not in seen:
            seen.append(name.strip())
    return dict(sets), seen


# ---------------------------------------------------------------- config diffs

#: a config's value before a change when the broker did not report it
UNREPORTED = "broker default (not reported)"
#: a config's value after a delete
DEFAULT = "broker default"
#: every Apache Kafka topic reports this config (with its source) in DescribeConfigs; a
#: broker that leaves it out reports only configs set on the topic (Tansu)
_ALWAYS_REPORTED = "segment.bytes"


def reports_defaults(names: Iterable[str]) -> bool:
    """True when a DescribeConfigs answer lists defaults too (Apache Kafka, Redpanda):
    then a config's source tells whether it is set on the topic. Tansu gap (it reports
    only the configs set on the topic, each with source "default"): then every reported
    config is set on the topic."""
    return _ALWAYS_REPORTED in set(names)


def set_on_topic(entries: Iterable[tuple[str, str | None, str]]) -> dict[str, str | None]:
    """{name: value} of the configs set on the topic itself, from (name, value, source)
    as the broker reported them."""
    rows = list(entries)
    if reports_defaults(n for n, _, _ in rows):
        return {n: v for n, v, s in rows if s == "topic"}
    return {n: v for n, v, _ in rows}


def config_changes(
    reported: Iterable[tuple[str, str | None, str]], sets: Mapping[str, str],
    deletes: Sequence[str],
) -> list[tuple[str, str, str]]:
    """(name, before, after) for each config that would change, in name order. A set to the
    value already set on the topic, and a delete of a config not set on it, change nothing
    and are left out."""
    rows = list(reported)
    on_topic = set_on_topic(rows)
    shown = {n: (v, s) for n, v, s in rows}

    def before(name: str) -> str:
        if name not in shown:
            return UNREPORTED
        value, source = shown[name]
        text = "(hidden: sensitive)" if value is None else value
        return text if name in on_topic else f"{text} ({source})"

    out: list[tuple[str, str, str]] = []
    for name in sorted(set(sets) | set(deletes)):
        if name in sets:
            if name in on_topic and on_topic[name] == sets[name]:
                continue
            out.append((name, before(name), sets[name]))
        elif name in on_topic:
            out.append((name, before(name), DEFAULT))
    return out


# ---------------------------------------------------------------- producing

ACKS: dict[str, str | int] = {"all": "all", "-1": "all", "1": 1, "0": 0}
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")


def parse_acks(text: str) -> str | int:
    try:
        return ACKS[text.strip().lower()]
    except KeyError:
        raise UsageError(f"--acks {text!r}: must be all, 1 or 0") from None


def parse_compression(text: str | None) -> str | None:
    if text is None:
        return None
    t = text.strip().lower()
    if t not in COMPRESSIONS:
        raise UsageError(f"--compression {text!r}: must be one of {', '.join(COMPRESSIONS)}")
    return None if t == "none" else t


def parse_headers(items: Iterable[str]) -> tuple[tuple[str, bytes], ...]:
    """["k=v", ...] -> ((k, b"v"), ...), in order; a name may repeat (Kafka allows it)."""
    out = []
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise UsageError(f"--header {item!r}: expected NAME=VALUE")
        out.append((name, value.encode("utf-8")))
    return tuple(out)
