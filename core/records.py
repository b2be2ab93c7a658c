"""Core's own records: what every face receives. Frozen, plain, JSON-friendly.

aiokafka and httpx types never leave core; these do.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson


class TopicPartition(NamedTuple):
    topic: str
    """Topic name."""
    partition: int
    """Partition number."""


@dataclass(frozen=True)
class BrokerInfo:
    """One broker of a cluster, as the metadata gives it."""

    node_id: int
    """Broker id as the cluster reports it (Tansu's is 111: never assume 0)."""
    host: str
    """Advertised host."""
    port: int
    """Advertised port."""
    rack: str | None = None
    """Rack, when the broker reports one."""
    is_controller: bool = False
    """True for the cluster's controller."""


@dataclass(frozen=True)
class ClusterOverview:
    """A cluster at a glance: brokers, topics, partition health."""

    name: str
    """Cluster name from config."""
    bootstrap_servers: str
    """Where we connected."""
    cluster_id: str | None
    """The cluster's id, as reported."""
    controller_id: int | None
    """Node id of the controller, None when not reported."""
    brokers: tuple[BrokerInfo, ...]
    """Brokers in the metadata."""
    topic_count: int
    """Topics, internal ones included."""
    internal_topic_count: int
    """Topics flagged internal or named with a leading underscore."""
    partition_count: int
    """Partitions across all topics."""
    offline_partitions: int
    """Partitions with no leader."""
    under_replicated_partitions: int
    """Partitions whose ISR is smaller than their replica set."""
    read_only: bool = False
    """The cluster is marked read-only in config."""


@dataclass(frozen=True)
class PartitionInfo:
    """One partition: leader, replicas, offsets."""

    partition: int
    """Partition number."""
    leader: int | None
    """Leader node id, None when offline."""
    replicas: tuple[int, ...]
    """Replica node ids."""
    isr: tuple[int, ...]
    """In-sync replica node ids."""
    earliest: int | None = None
    """Log start offset."""
    latest: int | None = None
    """Log end offset (the high watermark)."""

    @property
    def messages(self) -> int | None:
        if self.earliest is None or self.latest is None:
            return None
        return max(self.latest - self.earliest, 0)


@dataclass(frozen=True)
class TopicMetadata:
    """One topic as the metadata gives it."""

    name: str
    """Topic name."""
    internal: bool
    """Flagged internal by the broker or named with a leading underscore."""
    partitions: tuple[PartitionInfo, ...]
    """Partitions in order, without offsets."""


@dataclass(frozen=True)
class MetadataSnapshot:
    """A cluster's metadata at one moment."""

    cluster_id: str | None
    """The cluster's id."""
    controller_id: int | None
    """Node id of the controller."""
    brokers: tuple[BrokerInfo, ...]
    """Brokers, by node id."""
    topics: dict[str, TopicMetadata]
    """Topics by name."""


@dataclass(frozen=True)
class ConfigEntry:
    """One config value of a topic or broker."""

    name: str
    """Config name, e.g. retention.ms."""
    value: str | None
    """Value as the broker reports it; None when sensitive or unset."""
    source: str
    """Where the value comes from: topic, broker default, ...; "not reported" when missing."""


#: topic configs the topic list shows as columns
SUMMARY_CONFIGS = ("retention.ms", "cleanup.policy", "compression.type")
NOT_REPORTED = "broker default (not reported)"


@dataclass(frozen=True)
class TopicSummary:
    """One row of the topic list."""

    name: str
    """Topic name."""
    partitions: int
    """Partition count."""
    replication_factor: int
    """Replicas per partition (the largest, if they differ)."""
    internal: bool
    """Flagged internal by the broker or named with a leading underscore."""
    end_offsets_total: int | None = None
    """Sum of the partitions' log end offsets."""
    messages: int | None = None
    """Sum over partitions of end - start: records currently kept."""
    retention_ms: str | None = None
    """retention.ms, None when the broker did not report it."""
    cleanup_policy: str | None = None
    """cleanup.policy, None when the broker did not report it."""
    compression: str | None = None
    """compression.type, None when the broker did not report it."""
    offline_partitions: int = 0
    """Partitions with no leader."""
    under_replicated: int = 0
    """Partitions whose ISR is smaller than their replicas."""


@dataclass(frozen=True)
class TopicDetail:
    """One topic in full: partitions and configs."""

    summary: TopicSummary
    """The same row the topic list shows."""
    partitions: tuple[PartitionInfo, ...]
    """Per-partition leader, replicas, ISR and offsets."""
    configs: tuple[ConfigEntry, ...] = field(default_factory=tuple)
    """Configs the broker reported, sorted by name."""


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def to_jsonable(obj: Any) -> Any:
    """Records to plain JSON data (dataclasses become dicts, tuples lists).

    For data that is written out as JSON, `json_bytes` is the fast way: it serializes the
    records directly. This is for callers that need the plain data itself (the audit trail's
    parameters, a plan kept in a confirmation).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: to_jsonable(getattr(obj, name)) for name in _field_names(type(obj))}
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):  # NamedTuples: TopicPartition, ...
        return {k: to_jsonable(v) for k, v in obj._asdict().items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------- JSON out

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _json_default(obj: Any) -> Any:
    """What orjson does not serialize by itself: NamedTuples (as objects, the way
    to_jsonable writes them) and sets. Anything else makes orjson fail, and json_bytes
    writes it with the standard library, as its str()."""
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return obj._asdict()
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    raise TypeError


def json_bytes(obj: Any, *, pretty: bool = False) -> bytes:
    """`obj` (records, dicts, lists, ...) as UTF-8 JSON, without a trailing newline.

    orjson serializes dataclasses, enums and tuples itself, in C; `pretty` indents by two
    spaces. Values orjson refuses (an int beyond 64 bits, a str with a lone surrogate) go
    through the standard library instead, so output never fails where it did not before.
    """
    option = _JSON_OPTIONS | (orjson.OPT_INDENT_2 if pretty else 0)
    try:
        return orjson.dumps(obj, default=_json_default, option=option)
    except orjson.JSONEncodeError:
        return json.dumps(to_jsonable(obj), ensure_ascii=False, default=str,
                          indent=2 if pretty else None,
                          separators=None if pretty else (",", ":")).encode(
                              "utf-8", "backslashreplace")
