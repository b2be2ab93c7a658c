"""What the faces show of a registry: subjects with their latest version, a subject's
versions and level, one version's schema in readable form, the diff of two versions, a
compatibility check, and a level change (confirmed by the face, audited here).

`SchemaBrowser(services, cluster)` raises `UsageError` when the cluster names no registry.
`pretty` raises `UnusableSchema` for a schema text nested too deeply to read safely.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kafkaops.core.errors import ConfigError, NothingToChange, UsageError
from kafkaops.core.schema.client import RegistryClient
from kafkaops.core.schema.errors import RegistryNotFound, UnusableSchema
from kafkaops.core.schema.prototext import readable
from kafkaops.core.schema.readers import schema_json
from kafkaops.core.schema.records import (
    LEVELS,
    SCHEMA_TYPES,
    CompatibilityLevel,
    CompatibilityResult,
    RegisteredSchema,
    SchemaReference,
    SchemaType,
)
from kafkaops.core.untrusted import NotJson, UntrustedData

if TYPE_CHECKING:
    from kafkaops.core.services import Services

#: subjects whose latest version is read at once when listing
LIST_CONCURRENCY = 8


@dataclass(frozen=True)
class SubjectSummary:
    subject: str
    """Subject name."""
    versions: int | None
    """Versions (not deleted); None when the registry did not say."""
    latest: RegisteredSchema | None
    """The latest version; None when it could not be read."""
    deleted: bool = False
    """Every version is soft-deleted (listed only when deleted subjects are asked for)."""
    error: str | None = None
    """Why the latest version could not be read."""


@dataclass(frozen=True)
class SubjectDetail:
    subject: str
    """Subject name."""
    versions: tuple[int, ...]
    """Version numbers, oldest first (soft-deleted ones only when asked for)."""
    schema: RegisteredSchema
    """The version shown (the latest unless one was asked for)."""
    level: CompatibilityLevel
    """The compatibility level that applies to the subject."""
    referenced_by: tuple[int, ...] = ()
    """Ids of schemas that refer to the version shown."""


def pretty(schema: RegisteredSchema) -> str:
    """A schema as people read it: JSON indented, Protobuf as .proto text."""
    if schema.type == "PROTOBUF":
        return readable(schema.schema, "PROTOBUF")
    try:
        data = schema_json(schema.schema)
    except NotJson:
        return schema.schema
    except UntrustedData as e:
        which = (f"{schema.subject} version {schema.version}" if schema.subject
                 else "schema")
        raise UnusableSchema(f"{which} (id {schema.id}) is not shown: its text is {e}, "
                             "more than kafkaops reads from a registry others can write"
                             ) from None
    return json.dumps(data, indent=2, ensure_ascii=False)


def diff(a: RegisteredSchema, b: RegisteredSchema) -> list[str]:
    """Unified diff lines of two versions' readable forms ([] when they read the same)."""
    left, right = pretty(a).splitlines(), pretty(b).splitlines()
    return list(difflib.unified_diff(left, right, f"v{a.version} (id {a.id})",
                                     f"v{b.version} (id {b.id})", lineterm="", n=3))


def check_level(level: str) -> str:
    up = level.strip().upper()
    if up not in LEVELS:
        raise UsageError(f"unknown compatibility level {level!r}: use one of "
                         + ", ".join(LEVELS))
    return up


def check_type(schema_type: str) -> SchemaType:
    up = schema_type.strip().upper()
    for t in SCHEMA_TYPES:
        if t == up:
            return t
    raise UsageError(f"unknown schema type {schema_type!r}: use AVRO, JSON or PROTOBUF")


class SchemaBrowser:
    """The registry of one cluster, as the faces browse it."""

    def __init__(self, services: Services, cluster: str | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name
        client = services.schema_registry(self.cluster)
        if client is None:
            raise ConfigError(
                f"cluster {self.cluster!r} has no schema registry: add "
                f"clusters.{self.cluster}.schema_registry.url to {services.config.source}")
        self.client: RegistryClient = client

    async def subjects(self, *, deleted: bool = False) -> list[SubjectSummary]:
        names = await self.client.subjects(deleted=deleted)
        gone = set(await self.client.deleted_subjects()) if deleted else set()
        sem = asyncio.Semaphore(LIST_CONCURRENCY)

        async def one(name: str) -> SubjectSummary:
            async with sem:
                try:
                    versions = await self.client.versions(name, deleted=name in gone)
                    latest = await self.client.version(name, versions[-1] if versions else
                                                       "latest", deleted=name in gone)
                except RegistryNotFound as e:
                    return SubjectSummary(name, None, None, name in gone, str(e))
                return SubjectSummary(name, len(versions), latest, name in gone)

        return list(await asyncio.gather(*(one(n) for n in names)))

    async def detail(self, subject: str, version: int | str = "latest", *,
                     deleted: bool = False) -> SubjectDetail:
        versions, schema, level = await asyncio.gather(
            self.client.versions(subject, deleted=deleted),
            self.client.version(subject, version, deleted=deleted),
            self.client.compatibility(subject))
        try:
            refs = await self.client.referenced_by(subject, schema.version or version)
        except RegistryNotFound:
            refs = []
        return SubjectDetail(subject, tuple(versions), schema, level, tuple(refs))

    async def version(self, subject: str, version: int | str) -> RegisteredSchema:
        return await self.client.version(subject, version)

    async def diff(self, subject: str, a: int | str, b: int | str) -> list[str]:
        left, right = await asyncio.gather(self.client.version(subject, a),
                                           self.client.version(subject, b))
        return diff(left, right)

    async def check(self, subject: str, schema: str, *, schema_type: SchemaType | None = None,
                    references: Sequence[SchemaReference] | None = None,
                    version: int | str = "latest") -> CompatibilityResult:
        """The registry's answer: is `schema` compatible with the subject's `version`?
        The type and the references default to the subject's latest version's (a new
        version of a schema usually refers to the same named types)."""
        if schema_type is None or references is None:
            latest = await self.client.version(subject, "latest")
            schema_type = schema_type or latest.type
            references = latest.references if references is None else references
        level = await self.client.compatibility(subject)
        result = await self.client.check(subject, schema, schema_type=schema_type,
                                         references=tuple(references), version=version)
        return CompatibilityResult(result.compatible, result.messages, level.level,
                                   result.against)

    async def set_level(self, level: str, subject: str | None = None, *, actor: str,
                        face: str) -> CompatibilityLevel:
        """Set a subject's level (or the global one), audited on this cluster's audit
        trail; refused on a read-only cluster before anything is asked."""
        from kafkaops.core.audit.log import record_change

        level = check_level(level)
        target = f"schema-registry {self.client.url}" + (f" subject {subject}" if subject
                                                          else " (global)")
        self.services.require_writable(self.cluster, f"change the compatibility of {target}")
        current = await self.client.compatibility(subject)
        if current.level == level and (subject is None or current.source == "subject"):
            raise NothingToChange(f"the compatibility of {target} is {level} already; "
                                  "nothing was changed")

        async def apply() -> CompatibilityLevel:
            now = await self.client.set_compatibility(level, subject)
            return CompatibilityLevel(now, "subject" if subject else "global")

        result: CompatibilityLevel = await record_change(
            self.services, actor=actor, face=face, action="schema.compatibility",
            target=subject or "(global)", cluster=self.cluster,
            params={"registry": self.client.url, "subject": subject, "level": level,
                    "was": current.level, "was_from": current.source},
            apply=apply, summarize=lambda r: {"level": r.level, "source": r.source})
        return result
