"""What the demo/test registry does with a request, apart from HTTP: register, look up,
delete (soft, then permanent), levels, modes, compatibility checks. Errors carry the
Confluent status and error code (`ApiError`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from kafkaops.core.schema.prototext import readable
from kafkaops.demo import registry_compat as compat
from kafkaops.demo.registry_store import (
    Entry,
    Ref,
    SchemaLog,
    StoredSchema,
    schema_key,
    schema_value,
    setting_key,
)

MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
REGISTER_ATTEMPTS = 5


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def subject_not_found(subject: str) -> ApiError:
    return ApiError(404, 40401, f"Subject '{subject}' not found.")


def version_not_found(version: Any) -> ApiError:
    return ApiError(404, 40402, f"Version {version} not found.")


def schema_not_found(what: str = "Schema not found") -> ApiError:
    return ApiError(404, 40403, what)


class Registry:
    def __init__(self, log: SchemaLog) -> None:
        self.log = log
        self._write = asyncio.Lock()

    @property
    def state(self) -> Any:
        return self.log.state

    # ------------------------------------------------------------ reading

    def entry(self, subject: str, version: str | int, *, deleted: bool = False
              ) -> tuple[int, Entry]:
        versions = self.state.subjects.get(subject)
        if not versions or (not deleted and all(e.deleted for e in versions.values())):
            raise subject_not_found(subject)
        if version in ("latest", "-1", -1):
            live = self.state.versions(subject, deleted=deleted)
            if not live:
                raise version_not_found(version)
            return live[-1], versions[live[-1]]
        try:
            v = int(version)
        except (TypeError, ValueError):
            raise ApiError(422, 42202, "The specified version '" + str(version) + "' is not "
                           "a valid version id. Allowed values are between [1, 2^31-1] and "
                           "the string \"latest\"") from None
        if v < 1:
            raise ApiError(422, 42202, f"The specified version '{v}' is not a valid version "
                           "id. Allowed values are between [1, 2^31-1] and the string "
                           "\"latest\"")
        e = versions.get(v)
        if e is None or (e.deleted and not deleted):
            raise version_not_found(v)
        return v, e

    def schema_json(self, s: StoredSchema, *, fmt: str | None = None) -> dict[str, Any]:
        """{schema, schemaType, references} as the registry answers them. Protobuf is
        .proto text unless `format=serialized` asks for the descriptor in base64."""
        text = s.text if s.type != "PROTOBUF" or fmt == "serialized" else \
            readable(s.text, "PROTOBUF")
        out: dict[str, Any] = {"schema": text}
        if s.type != "AVRO":
            out["schemaType"] = s.type
        if s.refs:
            out["references"] = [r.to_json() for r in s.refs]
        return out

    def version_json(self, subject: str, version: int, e: Entry, fmt: str | None = None
                     ) -> dict[str, Any]:
        out = {"subject": subject, "version": version, "id": e.id}
        out.update(self.schema_json(self.state.schemas[e.id], fmt=fmt))
        if e.deleted:
            out["deleted"] = True
        return out

    def resolve(self, refs: Sequence[Ref], depth: int = 0) -> list[compat.Resolved]:
        """The texts of referenced schemas, the ones they refer to first."""
        if depth > 16:
            raise ApiError(422, 42201, "Invalid schema: references nest too deep")
        out: list[compat.Resolved] = []
        for r in refs:
            try:
                _, e = self.entry(r.subject, r.version)
            except ApiError:
                raise ApiError(422, 42201, f"Invalid schema: reference {r.name!r} to "
                               f"{r.subject} version {r.version} not found") from None
            s = self.state.schemas[e.id]
            out += self.resolve(s.refs, depth + 1)
            out.append(compat.Resolved(r.name, s.type, s.text))
        return out

    def parse(self, body: Any) -> tuple[StoredSchema, compat.Parsed]:
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            raise ApiError(422, 42201, "Invalid schema: the body needs a \"schema\" string")
        stype = str(body.get("schemaType") or "AVRO").upper()
        try:
            refs = tuple(Ref(str(r["name"]), str(r["subject"]), int(r["version"]))
                         for r in body.get("references") or ())
        except (KeyError, TypeError, ValueError):
            raise ApiError(422, 42201, "Invalid schema: each reference needs a name, a "
                           "subject and a version") from None
        try:
            parsed = compat.parse(stype, body["schema"], self.resolve(refs))
        except compat.Invalid as e:
            raise ApiError(422, 42201, str(e)) from None
        return StoredSchema(0, stype, parsed.canonical, refs), parsed

    def parsed_versions(self, subject: str) -> list[compat.Parsed]:
        out = []
        for v in self.state.versions(subject):
            s = self.state.schemas[self.state.subjects[subject][v].id]
            out.append(compat.parse(s.type, s.text, self.resolve(s.refs)))
        return out

    def lookup(self, subject: str, body: Any, *, deleted: bool = False) -> dict[str, Any]:
        if subject not in self.state.subjects or not self.state.versions(subject,
                                                                          deleted=deleted):
            raise subject_not_found(subject)
        stored, _ = self.parse(body)
        for v in reversed(self.state.versions(subject, deleted=deleted)):
            e = self.state.subjects[subject][v]
            if self.state.schemas[e.id].identity == stored.identity:
                return self.version_json(subject, v, e)
        raise schema_not_found()

    def compatibility(self, subject: str, version: str | None, body: Any) -> dict[str, Any]:
        """POST /compatibility/subjects/S/versions[/V]; V None: as registering would."""
        _, parsed = self.parse(body)
        level = self.state.level(subject)
        if version is None:
            earlier = self.parsed_versions(subject) if subject in self.state.subjects else []
            messages = compat.check(level, parsed, earlier)
        else:
            v, e = self.entry(subject, version)
            s = self.state.schemas[e.id]
            target = compat.parse(s.type, s.text, self.resolve(s.refs))
            transitive = level.removesuffix("_TRANSITIVE")
            messages = compat.check(transitive, parsed, [target])
        return {"is_compatible": not messages, "messages": messages}

    # ------------------------------------------------------------ writing

    def _writable(self, subject: str | None) -> None:
        mode = self.state.mode(subject)
        if mode in ("READONLY", "READONLY_OVERRIDE"):
            raise ApiError(422, 42205, f"Subject {subject or ''} is in read-only mode")

    async def register(self, subject: str, body: Any) -> dict[str, Any]:
        async with self._write:
            for _ in range(REGISTER_ATTEMPTS):
                await self.log.sync()
                self._writable(subject)
                stored, parsed = self.parse(body)
                for v in reversed(self.state.versions(subject)):
                    e = self.state.subjects[subject][v]
                    if self.state.schemas[e.id].identity == stored.identity:
                        return {"id": e.id, "version": v}
                messages = compat.check(self.state.level(subject), parsed,
                                        self.parsed_versions(subject))
                if messages:
                    raise ApiError(409, 409, "Schema being registered is incompatible with "
                                   f"an earlier schema for subject \"{subject}\", details: "
                                   + "; ".join(messages))
                same = self.state.find(stored.identity)
                sid = same.id if same is not None else self.state.next_id()
                if self.state.mode(subject) == "IMPORT" and isinstance(body.get("id"), int):
                    sid = body["id"]
                version = max(self.state.subjects.get(subject, {}), default=0) + 1
                record = StoredSchema(sid, stored.type, stored.text, stored.refs)
                await self.log.write(schema_key(subject, version),
                                     schema_value(subject, version, record, False))
                got = self.state.subjects.get(subject, {}).get(version)
                if got is not None and got.id == sid and \
                        self.state.schemas[sid].identity == record.identity:
                    return {"id": sid, "version": version}
                # another writer's record came first in the log: try again on what it wrote
            raise ApiError(500, 50001, "could not register: other writers kept winning")

    async def delete_version(self, subject: str, version: str, permanent: bool) -> int:
        async with self._write:
            await self.log.sync()
            self._writable(subject)
            v, e = self.entry(subject, version, deleted=permanent)
            if self.state.referenced_by(subject, v):
                raise ApiError(422, 42206, "One or more references exist to the schema "
                               f"{{subject={subject},version={v}}}.")
            if permanent and not e.deleted:
                raise ApiError(404, 40407, f"Subject '{subject}' Version {v} was not deleted "
                               "first before being permanently deleted")
            if not permanent and e.deleted:
                raise ApiError(404, 40406, f"Subject '{subject}' Version {v} was soft deleted. "
                               "Set permanent=true to delete permanently")
            s = self.state.schemas[e.id]
            await self.log.write(schema_key(subject, v), None if permanent else
                                 schema_value(subject, v, s, True))
            return v

    async def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        async with self._write:
            await self.log.sync()
            self._writable(subject)
            versions = self.state.subjects.get(subject)
            if not versions:
                raise subject_not_found(subject)
            live = [v for v, e in versions.items() if not e.deleted]
            if permanent and live:
                raise ApiError(404, 40405, f"Subject '{subject}' was not deleted first "
                               "before being permanently deleted")
            if not permanent and not live:
                raise ApiError(404, 40404, f"Subject '{subject}' was soft deleted.Set "
                               "permanent=true to delete permanently")
            for v in sorted(versions):
                if self.state.referenced_by(subject, v):
                    raise ApiError(422, 42206, "One or more references exist to the schema "
                                   f"{{subject={subject},version={v}}}.")
            done = sorted(versions) if permanent else sorted(live)
            for v in done:
                s = self.state.schemas[versions[v].id]
                await self.log.write(schema_key(subject, v), None if permanent else
                                     schema_value(subject, v, s, True))
            if permanent and subject in self.state.configs:
                await self.log.write(setting_key("CONFIG", subject), None)
            return done

    async def set_level(self, subject: str | None, body: Any) -> dict[str, Any]:
        level = body.get("compatibility") if isinstance(body, dict) else None
        if not isinstance(level, str) or level.upper() not in compat.LEVELS:
            raise ApiError(422, 42203, "Invalid compatibility level. Valid values are none, "
                           "backward, forward, full, backward_transitive, "
                           "forward_transitive, and full_transitive")
        async with self._write:
            await self.log.write(setting_key("CONFIG", subject),
                                 {"compatibilityLevel": level.upper()})
        return {"compatibility": level.upper()}

    async def delete_level(self, subject: str) -> dict[str, Any]:
        async with self._write:
            await self.log.sync()
            if subject not in self.state.configs:
                raise ApiError(404, 40408, f"Subject '{subject}' does not have subject-level "
                               "compatibility configured")
            old = self.state.configs[subject]
            await self.log.write(setting_key("CONFIG", subject), None)
        return {"compatibilityLevel": old}

    async def set_mode(self, subject: str | None, body: Any) -> dict[str, Any]:
        mode = body.get("mode") if isinstance(body, dict) else None
        if not isinstance(mode, str) or mode.upper() not in MODES:
            raise ApiError(422, 42204, "Invalid mode. Valid values are READWRITE, READONLY, "
                           "READONLY_OVERRIDE and IMPORT")
        async with self._write:
            await self.log.write(setting_key("MODE", subject), {"mode": mode.upper()})
        return {"mode": mode.upper()}

    async def delete_mode(self, subject: str) -> dict[str, Any]:
        async with self._write:
            await self.log.sync()
            old = self.state.mode(subject)
            if subject in self.state.modes:
                await self.log.write(setting_key("MODE", subject), None)
        return {"mode": old}
