"""The Schema Registry's answers as core's own frozen records (httpx never leaves core)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: what the registry calls the three formats (an absent schemaType means AVRO)
SchemaType = Literal["AVRO", "JSON", "PROTOBUF"]
SCHEMA_TYPES: tuple[SchemaType, ...] = ("AVRO", "JSON", "PROTOBUF")

#: the registry's compatibility levels
LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
          "FULL_TRANSITIVE", "NONE")


@dataclass(frozen=True)
class SchemaReference:
    name: str
    """The name the referring schema uses: an Avro full name, a .proto import path, a JSON $ref."""
    subject: str
    """Subject the referenced schema is registered under."""
    version: int
    """Version of that subject."""


@dataclass(frozen=True)
class RegisteredSchema:
    """One schema as the registry returns it (by id, or as a subject's version)."""

    id: int
    """Globally unique schema id (the one in each record's frame)."""
    schema: str
    """The schema text as registered (Avro JSON, JSON Schema, .proto text or a serialized
    descriptor in base64)."""
    type: SchemaType = "AVRO"
    """AVRO, JSON or PROTOBUF."""
    references: tuple[SchemaReference, ...] = ()
    """Schemas this one refers to."""
    subject: str | None = None
    """Subject, when read as a subject's version."""
    version: int | None = None
    """Version in that subject, when read as a subject's version."""
    deleted: bool = False
    """The version is soft-deleted (shown only when deleted ones were asked for)."""


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    """Subject name."""
    version: int
    """Version number in it."""


@dataclass(frozen=True)
class CompatibilityLevel:
    level: str
    """BACKWARD, FORWARD, FULL, NONE, or a _TRANSITIVE variant."""
    source: Literal["subject", "global"]
    """subject: set on the subject itself; global: the registry's default applies."""


@dataclass(frozen=True)
class CompatibilityResult:
    compatible: bool
    """The registry's answer."""
    messages: tuple[str, ...] = ()
    """Why not (the registry's verbose messages), when not compatible."""
    level: str | None = None
    """The level the registry checked with, when known."""
    against: str = "latest"
    """What it was checked against: latest, a version number, or all (as registering would)."""


@dataclass(frozen=True, slots=True)
class SchemaInfo:
    """Which schema a record's value was written with, as a record's reader shows it."""

    id: int
    """Schema id from the frame."""
    subject: str | None = None
    """Subject it is registered under (the topic's `<topic>-value` when it is one of them)."""
    version: int | None = None
    """Version in that subject."""
    type: SchemaType | None = None
    """AVRO, JSON or PROTOBUF; None when the schema could not be read."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "subject": self.subject, "version": self.version,
                "type": self.type}

    def describe(self) -> str:
        """`AVRO orders-value v3 (id 7)`, or `id 7` when nothing else is known."""
        where = f"{self.subject} v{self.version}" if self.subject else ""
        head = " ".join(p for p in (self.type or "", where) if p)
        return f"{head} (id {self.id})" if head else f"id {self.id}"


@dataclass(frozen=True, slots=True)
class FramedValue:
    """A Confluent-framed value (magic byte 0, 4-byte schema id) and how it was read.

    On a `Message`, `framed` set with `error` None means `value` holds the decoded value as
    JSON; with `error` set, `value` is the bytes as they are on the topic."""

    schema: SchemaInfo
    """The schema named by the frame."""
    raw: bytes
    """The value's bytes as they are on the topic, frame included."""
    error: str | None = None
    """Why the value could not be decoded (unknown id, registry down, bytes that do not
    match the schema); None when it was."""

    def describe(self) -> str:
        """One line for a detail view: the schema, or why the value is shown raw."""
        if self.error is not None:
            return f"not decoded: {self.error}"
        return self.schema.describe()

    def to_json(self) -> dict[str, Any]:
        out = self.schema.to_json()
        if self.error is not None:
            out["error"] = self.error
        return out
