"""Where the demo/test registry keeps its schemas: a compacted `_schemas` topic, in the
record format Confluent's Schema Registry writes there, so a restart (or a second process)
reads back the same ids, versions, levels and modes.

Keys and values (JSON):
- `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}` ->
  `{"subject":S,"version":V,"id":I,"schema":...,"schemaType":T,"references":[...],
  "deleted":false}`; a tombstone deletes that version for good.
- `{"keytype":"CONFIG","subject":S|null,"magic":0}` -> `{"compatibilityLevel":L}`.
- `{"keytype":"MODE","subject":S|null,"magic":0}` -> `{"mode":M}`.
- `{"keytype":"DELETE_SUBJECT","subject":S,"magic":0}` -> `{"subject":S,"version":V}`:
  versions up to V are soft-deleted (read; this registry writes per-version records).

Several writers: Confluent elects one leader; here every process may write, and the log's
order decides. `RegistryState.apply` takes records in log order and ignores a SCHEMA record
that claims a (subject, version) or an id already holding something else, so every reader
ends in the same state; a writer reads back to its own record and retries when it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.records import TopicPartition
from kafkaops.core.tasks import cancel_and_wait

log = logging.getLogger("kafkaops.demo.registry")

DEFAULT_TOPIC = "_schemas"


@dataclass(frozen=True)
class Ref:
    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


@dataclass(frozen=True)
class StoredSchema:
    id: int
    type: str
    text: str
    """The canonical form (see registry_compat.parse)."""
    refs: tuple[Ref, ...] = ()

    @property
    def identity(self) -> tuple[str, str, tuple[Ref, ...]]:
        return (self.type, self.text, self.refs)


@dataclass
class Entry:
    id: int
    deleted: bool = False


@dataclass
class RegistryState:
    """Everything the registry knows, rebuilt by applying `_schemas` in order."""

    schemas: dict[int, StoredSchema] = field(default_factory=dict)
    subjects: dict[str, dict[int, Entry]] = field(default_factory=dict)
    configs: dict[str | None, str] = field(default_factory=dict)
    modes: dict[str | None, str] = field(default_factory=dict)

    def level(self, subject: str | None) -> str:
        if subject is not None and subject in self.configs:
            return self.configs[subject]
        return self.configs.get(None, "BACKWARD")

    def mode(self, subject: str | None) -> str:
        if subject is not None and subject in self.modes:
            return self.modes[subject]
        return self.modes.get(None, "READWRITE")

    def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        return sorted(v for v, e in self.subjects.get(subject, {}).items()
                      if deleted or not e.deleted)

    def live_subjects(self) -> list[str]:
        return sorted(s for s, vs in self.subjects.items() if any(not e.deleted
                                                                  for e in vs.values()))

    def next_id(self) -> int:
        return max(self.schemas, default=0) + 1

    def find(self, identity: tuple[str, str, tuple[Ref, ...]]) -> StoredSchema | None:
        for s in self.schemas.values():
            if s.identity == identity:
                return s
        return None

    def referenced_by(self, subject: str, version: int) -> list[int]:
        target = (subject, version)
        live = {e.id for vs in self.subjects.values() for e in vs.values() if not e.deleted}
        return sorted(s.id for s in self.schemas.values() if s.id in live
                      and any((r.subject, r.version) == target for r in s.refs))

    # ------------------------------------------------------------ applying the log

    def apply(self, key: Any, value: Any) -> None:
        """One `_schemas` record; anything malformed is skipped."""
        if not isinstance(key, dict):
            return
        kind = key.get("keytype")
        subject = key.get("subject")
        if kind == "SCHEMA" and isinstance(subject, str):
            self._apply_schema(subject, key, value)
        elif kind == "CONFIG":
            self._apply_setting(self.configs, subject, value, "compatibilityLevel")
        elif kind == "MODE":
            self._apply_setting(self.modes, subject, value, "mode")
        elif kind == "DELETE_SUBJECT" and isinstance(subject, str) and isinstance(value, dict):
            upto = value.get("version")
            for v, e in self.subjects.get(subject, {}).items():
                if isinstance(upto, int) and v <= upto:
                    e.deleted = True

    @staticmethod
    def _apply_setting(target: dict[str | None, str], subject: Any, value: Any,
                       name: str) -> None:
        if subject is not None and not isinstance(subject, str):
            return
        if value is None:
            target.pop(subject, None)
        elif isinstance(value, dict) and isinstance(value.get(name), str):
            target[subject] = value[name]

    def _apply_schema(self, subject: str, key: dict[str, Any], value: Any) -> None:
        version = key.get("version")
        if not isinstance(version, int):
            return
        if value is None:  # permanent delete of the version
            versions = self.subjects.get(subject, {})
            versions.pop(version, None)
            if not versions:
                self.subjects.pop(subject, None)
            return
        if not isinstance(value, dict):
            return
        try:
            sid = int(value["id"])
            stored = StoredSchema(
                sid, str(value.get("schemaType") or "AVRO"), str(value["schema"]),
                tuple(Ref(str(r["name"]), str(r["subject"]), int(r["version"]))
                      for r in value.get("references") or ()))
        except (KeyError, TypeError, ValueError):
            return
        known = self.schemas.get(sid)
        if known is not None and known.identity != stored.identity:
            return  # a concurrent writer took this id first
        entry = self.subjects.get(subject, {}).get(version)
        if entry is not None and entry.id != sid:
            return  # a concurrent writer took this version first
        self.schemas.setdefault(sid, stored)
        self.subjects.setdefault(subject, {})[version] = Entry(sid, bool(value.get("deleted")))


def schema_key(subject: str, version: int) -> dict[str, Any]:
    return {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}


def schema_value(subject: str, version: int, s: StoredSchema, deleted: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"subject": subject, "version": version, "id": s.id,
                           "schema": s.text, "deleted": deleted}
    if s.type != "AVRO":
        out["schemaType"] = s.type
    if s.refs:
        out["references"] = [r.to_json() for r in s.refs]
    return out


def setting_key(kind: str, subject: str | None) -> dict[str, Any]:
    return {"keytype": kind, "subject": subject, "magic": 0}


class SchemaLog:
    """The `_schemas` topic: followed in the background, written with read-back."""

    def __init__(self, bootstrap: str, topic: str = DEFAULT_TOPIC) -> None:
        self.cluster = ClusterConfig(bootstrap_servers=bootstrap)
        self.topic = topic
        self.state = RegistryState()
        self.applied = 0  # next offset to apply
        self._conn: KafkaConnection | None = None
        self._consumer: Any = None
        self._producer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._follow: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()

    async def start(self) -> None:
        from aiokafka.structs import TopicPartition as AkTP

        from kafkaops.core.topics.service import NewTopicSpec, TopicService

        async with contextlib.AsyncExitStack() as stack:
            conn = await stack.enter_async_context(KafkaConnection("schemas", self.cluster))
            await TopicService(conn).create_topics(
                [NewTopicSpec(self.topic, 1, 1, {"cleanup.policy": "compact"})], exist_ok=True)
            consumer = await stack.enter_async_context(clients.consumer(
                conn, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"))
            tp = AkTP(self.topic, 0)
            consumer.assign([tp])
            consumer.seek(tp, 0)  # earliest: auto_offset_reset covers a compacted start
            self._producer = await stack.enter_async_context(clients.producer(conn, acks="all"))
            self._conn, self._consumer = conn, consumer
            self._clients = stack.pop_all()
        self._follow = asyncio.get_running_loop().create_task(self._run())
        await self.sync()

    async def stop(self) -> None:
        try:
            await cancel_and_wait(self._follow)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients = self._clients, None
            self._conn = self._consumer = self._producer = None
            if stack is not None:
                await stack.aclose()

    async def _run(self) -> None:
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the broker went away: keep trying, as a registry would
                log.warning("reading %s: %s", self.topic, e)
                await asyncio.sleep(1.0)
                continue
            records = [r for recs in batch.values() for r in recs]
            if not records:
                continue
            for r in records:
                try:
                    key = json.loads(r.key) if r.key else None
                    value = json.loads(r.value) if r.value is not None else None
                except ValueError:
                    key = None
                self.state.apply(key, value)
                self.applied = r.offset + 1
            async with self._progress:
                self._progress.notify_all()

    async def wait_applied(self, offset: int) -> None:
        """Until every record before `offset` has been applied (TimeoutError after 15 s:
        the HTTP layer answers 50002, as a registry whose store timed out would)."""
        async with asyncio.timeout(15.0), self._progress:
            await self._progress.wait_for(lambda: self.applied >= offset)

    async def sync(self) -> None:
        """Apply everything written to the topic so far (by any process)."""
        assert self._conn is not None
        tp = TopicPartition(self.topic, 0)
        water = await self._conn.high_watermarks([tp])
        await self.wait_applied(water.get(tp, (0, 0))[1])

    async def write(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        """Append one record and wait until it (and all before it) is applied here."""
        md = await self._producer.send_and_wait(
            self.topic, None if value is None else json.dumps(value).encode(),
            key=json.dumps(key, separators=(",", ":")).encode(), partition=0)
        await self.wait_applied(md.offset + 1)
