"""Decode Confluent-framed record values through a Schema Registry, for every face.

`SchemaDecoder(client)`: `await decoder.decode_records(records)` returns the same records,
with each framed value (magic byte 0 + 4-byte schema id) replaced by a `Message` whose
`value` is the decoded value as JSON and whose `framed` says which schema (id, subject,
version, type) read it. A value that cannot be decoded (unknown id, registry down, bytes
that do not match) stays as it was, with `framed.error` saying why: never an exception.

Cost: a batch with no framed value costs one first-byte test per record and comes back as
the same list. A schema id is fetched once (references too) and its reader built once;
ids the registry does not know are asked again after `unknown_ttl`, and while the registry
does not answer, after `retry_after`, so a tail over a dead registry is not slowed by one
request per record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.schema.client import RegistryClient
from kafkaops.core.schema.errors import RegistryNotFound
from kafkaops.core.schema.readers import (
    Mismatch,
    Reader,
    avro_reader,
    descriptor_from_registry,
    framed_id,
    json_reader,
    protobuf_reader,
    schema_json,
    well_known_file,
)
from kafkaops.core.schema.records import (
    FramedValue,
    RegisteredSchema,
    SchemaInfo,
    SchemaReference,
    SchemaType,
    SubjectVersion,
)

#: deepest chain of schema references followed
MAX_REFERENCE_DEPTH = 16
#: schema ids fetched at once
FETCH_CONCURRENCY = 8


@dataclass(frozen=True)
class _Known:
    reader: Reader
    type: SchemaType
    subjects: tuple[SubjectVersion, ...]


@dataclass(frozen=True)
class _Failed:
    reason: str
    until: float


class SchemaDecoder:
    """Decodes values for the clusters that name one registry."""

    def __init__(self, client: RegistryClient, *, retry_after: float = 5.0,
                 unknown_ttl: float = 60.0) -> None:
        self.client = client
        self.retry_after = retry_after
        self.unknown_ttl = unknown_ttl
        self._known: dict[int, _Known] = {}
        self._failed: dict[int, _Failed] = {}
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._infos: dict[tuple[int, str], SchemaInfo] = {}

    # ------------------------------------------------------------ the hot path

    async def decode_records(self, records: Sequence[Any]) -> Sequence[Any]:
        """The records with framed values decoded (see the module docstring). Records are
        aiokafka's or core's Messages; decoded ones come back as Messages."""
        # the test every record pays: is the first byte of the value 0? (`any` stops at the
        # first framed one; a batch without one costs this loop and nothing else)
        if not any((v := r.value) and not v[0] for r in records):
            return records
        framed = [i for i, r in enumerate(records)
                  if (v := r.value) and not v[0] and len(v) >= 5]
        if not framed:
            return records
        from kafkaops.core.messages.model import Message

        await self.prepare({sid for i in framed if (sid := framed_id(records[i].value))
                            is not None})
        out = list(records)
        for i in framed:
            r = records[i]
            if getattr(r, "framed", None) is not None:
                continue  # decoded already
            value, fv = self.decode_value(r.topic, r.value)
            out[i] = Message(r.topic, r.partition, r.offset, r.timestamp, r.key, value,
                             tuple(r.headers or ()), fv)
        return out

    def decode_value(self, topic: str, raw: bytes) -> tuple[bytes, FramedValue]:
        """(what to show, how it was read) for one framed value whose schema id was
        prepared. What to show is the decoded JSON, or `raw` itself when it was not."""
        sid = framed_id(raw)
        if sid is None:
            return raw, FramedValue(SchemaInfo(-1), raw, "not a Confluent-framed value")
        known = self._known.get(sid)
        if known is None:
            failed = self._failed.get(sid)
            reason = failed.reason if failed else f"schema id {sid} has not been fetched"
            return raw, FramedValue(SchemaInfo(sid), raw, reason)
        info = self.info(sid, topic)
        try:
            return known.reader(raw), FramedValue(info, raw)
        except Mismatch as e:
            return raw, FramedValue(info, raw, f"schema id {sid}: {e}")
        except Exception as e:  # a reader must never take a screen down (RecursionError, ...)
            return raw, FramedValue(info, raw, f"schema id {sid}: {type(e).__name__}: {e}")

    def info(self, schema_id: int, topic: str) -> SchemaInfo:
        """Which subject and version stand for this id on this topic: `<topic>-value`
        when the id is registered there, else another `-value` subject, else the first."""
        key = (schema_id, topic)
        hit = self._infos.get(key)
        if hit is not None:
            return hit
        known = self._known.get(schema_id)
        if known is None:
            return SchemaInfo(schema_id)
        subjects = known.subjects
        best = next((s for s in subjects if s.subject == f"{topic}-value"), None) \
            or next((s for s in subjects if s.subject.endswith("-value")), None) \
            or (subjects[0] if subjects else None)
        info = SchemaInfo(schema_id, best.subject if best else None,
                          best.version if best else None, known.type)
        self._infos[key] = info
        return info

    # ------------------------------------------------------------ fetching schemas

    async def prepare(self, ids: set[int]) -> None:
        """Fetch and build the readers of these ids (those not known and not failed
        recently), at most FETCH_CONCURRENCY at a time."""
        now = time.monotonic()
        todo = [i for i in ids if i not in self._known
                and not (i in self._failed and self._failed[i].until > now)]
        if not todo:
            return
        sem = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def one(sid: int) -> None:
            pending = self._pending.get(sid)
            if pending is not None:
                await asyncio.shield(pending)
                return
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._pending[sid] = fut
            try:
                async with sem:
                    await self._load(sid)
            finally:
                self._pending.pop(sid, None)
                fut.set_result(None)

        await asyncio.gather(*(one(i) for i in todo))

    async def _load(self, sid: int) -> None:
        try:
            reg = await self.client.schema(sid)
            reader = await self._reader(reg)
        except RegistryNotFound:
            self._fail(sid, f"schema id {sid} is not in schema registry {self.client.url}",
                       self.unknown_ttl)
            return
        except Mismatch as e:
            self._fail(sid, f"schema id {sid}: {e}", self.unknown_ttl)
            return
        except KafkaOpsError as e:  # unreachable, or an error answer
            self._fail(sid, f"schema id {sid} not read: {e}", self.retry_after)
            return
        except Exception as e:  # a schema no library can use must not stop a tail
            self._fail(sid, f"schema id {sid} not usable: {type(e).__name__}: {e}",
                       self.unknown_ttl)
            return
        try:
            subjects = await self.client.subjects_of(sid)
        except KafkaOpsError:
            subjects = ()  # decoding works without; the subject is then not shown
        self._failed.pop(sid, None)
        self._known[sid] = _Known(reader, reg.type, subjects)

    def _fail(self, sid: int, reason: str, ttl: float) -> None:
        self._failed[sid] = _Failed(reason, time.monotonic() + ttl)

    async def _reader(self, reg: RegisteredSchema) -> Reader:
        if reg.type == "JSON":
            return json_reader()
        if reg.type == "AVRO":
            named: list[str] = []
            await self._avro_named(reg.references, named, set(), 0)
            return avro_zero_size_guard(avro_reader(reg.schema, named), reg.schema, named)
        serialized = await self.client.schema(reg.id, serialized=True)
        main = descriptor_from_registry(serialized.schema)
        deps: list[Any] = []
        await self._proto_deps(serialized.references, deps, set(), 0)
        have = {d.name for d in deps}
        for fdp in [*deps, main]:
            for name in fdp.dependency:
                if name not in have:
                    known = well_known_file(name)
                    if known is not None:
                        deps.insert(0, known)
                        have.add(name)
        return protobuf_reader(main, deps)

    async def _avro_named(self, refs: Sequence[SchemaReference], out: list[str],
                          seen: set[tuple[str, int]], depth: int) -> None:
        if depth > MAX_REFERENCE_DEPTH:
            raise Mismatch(f"schema references nest deeper than {MAX_REFERENCE_DEPTH}")
        for ref in refs:
            key = (ref.subject, ref.version)
            if key in seen:
                continue
            seen.add(key)
            v = await self.client.version(ref.subject, ref.version)
            await self._avro_named(v.references, out, seen, depth + 1)
            out.append(v.schema)

    async def _proto_deps(self, refs: Sequence[SchemaReference], out: list[Any],
                          seen: set[tuple[str, int]], depth: int) -> None:
        if depth > MAX_REFERENCE_DEPTH:
            raise Mismatch(f"schema references nest deeper than {MAX_REFERENCE_DEPTH}")
        for ref in refs:
            key = (ref.subject, ref.version)
            if key in seen:
                continue
            seen.add(key)
            v = await self.client.version(ref.subject, ref.version, fmt="serialized")
            await self._proto_deps(v.references, out, seen, depth + 1)
            fdp = descriptor_from_registry(v.schema, ref.name)
            fdp.name = ref.name  # the import path the referring file uses
            out.append(fdp)


def avro_zero_size_guard(reader: Reader, schema: str, named: Sequence[str]) -> Reader:
    """Refuse schemas with an array or map of items that take no bytes (null, an empty
    record): a hostile record could claim billions of them and keep the reader (a C loop
    that cannot be interrupted) busy for hours.

    The texts come from a registry others can write: they are parsed with a depth bound
    (readers.schema_json), walked without recursion, and the emptiness of a type (which
    follows named types, so can be long) is refused when it runs deeper than
    MAX_EMPTY_DEPTH rather than guessed."""
    try:
        parsed = [schema_json(t) for t in [*named, schema]]
    except ValueError:
        return reader  # avro_reader has refused the same text already
    nodes = _nodes(parsed)
    types: dict[str, Any] = {}
    for s in nodes:
        if isinstance(s, dict) and s.get("type") in ("record", "error", "enum", "fixed") \
                and "name" in s:
            types[str(s["name"])] = s
            ns = s.get("namespace")
            if ns:
                types[f"{ns}.{s['name']}"] = s

    def empty(s: Any, depth: int = 0) -> bool:
        if depth > MAX_EMPTY_DEPTH:
            raise _TooDeep
        if isinstance(s, str):
            return s == "null" or (s in types and empty(types[s], depth + 1))
        if isinstance(s, list):
            return len(s) == 1 and empty(s[0], depth + 1)  # a one-branch union: no index
        if isinstance(s, dict):
            t = s.get("type")
            if t == "record" or t == "error":
                return all(empty(f.get("type"), depth + 1) for f in s.get("fields", ())
                           if isinstance(f, dict))
            if t == "fixed":
                return s.get("size") == 0
            if isinstance(t, str | list | dict) and t not in ("array", "map", "enum"):
                return empty(t, depth + 1)
        return False

    def risky(s: Any) -> bool:
        return isinstance(s, dict) and (
            (s.get("type") == "array" and empty(s.get("items")))
            or (s.get("type") == "map" and empty(s.get("values"))))

    try:
        if not any(risky(s) for s in nodes):
            return reader
        why = "has an array or map of items that take no bytes"
    except _TooDeep:
        why = f"nests its types deeper than {MAX_EMPTY_DEPTH} levels to check"

    def refuse(raw: bytes) -> bytes:
        raise Mismatch(f"its Avro schema {why}; not decoded (a record could claim billions "
                       "of items that take no bytes)")

    return refuse


#: deepest chain of types followed to learn whether a type takes no bytes
MAX_EMPTY_DEPTH = 200


class _TooDeep(Exception):
    pass


def _nodes(roots: Sequence[Any]) -> list[Any]:
    """Every dict and list inside `roots`, found with a stack (no recursion)."""
    out: list[Any] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out.append(node)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            out.append(node)
            stack.extend(v for v in node if isinstance(v, dict | list))
    return out
