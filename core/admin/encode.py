"""Framing values for a Schema Registry subject, to produce them (`produce --schema`).

The value is given as JSON, the way kafkaops shows decoded records (core/schema): Avro
unions untagged, bytes as text (one character per byte), decimals as strings. It is
checked against the subject's latest schema and written in the Confluent wire format:
magic byte 0, the schema id (4 bytes, big-endian), then the Avro binary encoding
(fastavro) or the JSON document itself (JSON Schema, validated with jsonschema).
Protobuf subjects are not supported for producing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from kafkaops.core.errors import UsageError
from kafkaops.core.schema.records import RegisteredSchema
from kafkaops.core.untrusted import UntrustedData, parse_json

if TYPE_CHECKING:
    from kafkaops.core.schema.client import RegistryClient
    from kafkaops.core.services import Services

MAGIC = b"\x00"
MAX_REFERENCE_DEPTH = 16


def _needs_schema_extra(subject: str, kind: str, module: str) -> UsageError:
    """kafkaops installed without [schema]: nothing is produced, one line says why."""
    return UsageError(f"--schema {subject}: writing {kind} needs the schema extra "
                      f"(kafkaops[schema]): {module} is not installed")


@dataclass(frozen=True)
class ValueEncoder:
    """Encodes JSON values with one registered schema."""

    subject: str
    """The subject asked for."""
    schema: RegisteredSchema
    """Its latest version, as the registry answered."""
    write: Callable[[Any, bytes], bytes]
    """(JSON data, the JSON text as typed) -> the encoded payload (UsageError when the
    data does not fit)."""

    def describe(self) -> str:
        return (f"{self.schema.type} schema id {self.schema.id} ({self.subject} version "
                f"{self.schema.version})")

    def encode(self, value: bytes) -> bytes:
        """A value as typed (JSON text) -> the framed bytes to produce."""
        try:
            data = parse_json(value)
        except UntrustedData as e:
            raise UsageError(f"--schema {self.subject}: the value is {e}") from None
        return MAGIC + self.schema.id.to_bytes(4, "big") + self.write(data, value)


async def encoder_for(services: Services, cluster: str, subject: str) -> ValueEncoder:
    """The encoder of `subject`'s latest version on the cluster's registry."""
    registry = services.schema_registry(cluster)
    if registry is None:
        raise UsageError(f"--schema: cluster {cluster!r} has no schema_registry in "
                         f"{services.config.source}")
    reg = await registry.version(subject, "latest")
    if reg.type == "AVRO":
        named = await _references(registry, reg.references, set(), 0)
        return ValueEncoder(subject, reg, _avro_writer(subject, reg, named))
    if reg.type == "JSON":
        named = await _references(registry, reg.references, set(), 0)
        return ValueEncoder(subject, reg, _json_writer(subject, reg, named))
    raise UsageError(f"--schema {subject}: {reg.type} subjects cannot be produced to by "
                     "kafkaops (Avro and JSON Schema can)")


async def _references(registry: RegistryClient, refs: Sequence[Any],
                      seen: set[tuple[str, int]], depth: int) -> list[tuple[str, str]]:
    """(name, schema text) of every schema referred to, referenced ones first."""
    if depth > MAX_REFERENCE_DEPTH:
        raise UsageError(f"schema references nest deeper than {MAX_REFERENCE_DEPTH}")
    out: list[tuple[str, str]] = []
    for ref in refs:
        key = (ref.subject, ref.version)
        if key in seen:
            continue
        seen.add(key)
        v = await registry.version(ref.subject, ref.version)
        out += await _references(registry, v.references, seen, depth + 1)
        out.append((ref.name, v.schema))
    return out


# ---------------------------------------------------------------- Avro


def _avro_writer(subject: str, reg: RegisteredSchema,
                 named: Sequence[tuple[str, str]]) -> Callable[[Any, bytes], bytes]:
    try:
        from fastavro import parse_schema, schemaless_writer
    except ImportError:
        raise _needs_schema_extra(subject, "Avro", "fastavro") from None

    named_schemas: dict[str, Any] = {}
    try:
        for _, text in named:
            parse_schema(json.loads(text), named_schemas=named_schemas)
        parsed = parse_schema(json.loads(reg.schema), named_schemas=named_schemas)
    except Exception as e:  # fastavro raises several kinds for a schema it cannot use
        raise UsageError(f"--schema {subject}: cannot use its Avro schema: {e}") from None

    def write(data: Any, raw: bytes) -> bytes:
        out = io.BytesIO()
        try:
            schemaless_writer(out, parsed, _avro_value(parsed, data, named_schemas, 0))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
            raise UsageError(f"the value does not match the Avro schema of {subject} "
                             f"(version {reg.version}): {e}") from None
        return out.getvalue()

    return write


def _avro_value(schema: Any, value: Any, named: dict[str, Any], depth: int) -> Any:
    """JSON data as kafkaops shows Avro values -> what fastavro writes: text to bytes
    (one character per byte), decimals from text, the union branch chosen by the value's
    JSON type. Anything else is left for fastavro to check."""
    if depth > 64:
        raise UsageError("the Avro schema nests deeper than 64 levels")
    if isinstance(schema, str):
        if schema in named:
            return _avro_value(named[schema], value, named, depth + 1)
        return _bytes(value) if schema == "bytes" else value
    if isinstance(schema, list):
        branch = _branch(schema, value, named)
        return value if branch is None else _avro_value(branch, value, named, depth + 1)
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if schema.get("logicalType") == "decimal" and kind in ("bytes", "fixed") \
            and isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise UsageError(f"{value!r} is not a decimal number") from None
    if kind == "record" and isinstance(value, dict):
        named.setdefault(schema["name"], schema)
        out = dict(value)
        for f in schema["fields"]:
            if f["name"] in value:
                out[f["name"]] = _avro_value(f["type"], value[f["name"]], named, depth + 1)
        return out
    if kind == "array" and isinstance(value, list):
        return [_avro_value(schema["items"], v, named, depth + 1) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _avro_value(schema["values"], v, named, depth + 1)
                for k, v in value.items()}
    if kind in ("bytes", "fixed"):
        return _bytes(value)
    if isinstance(kind, dict | list) or (isinstance(kind, str) and kind in named):
        return _avro_value(kind, value, named, depth + 1)
    return value


def _bytes(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise UsageError(f"{value[:40]!r}: bytes are written one character per byte "
                             "(code points up to 255)") from None
    return value


_JSON_TYPES: dict[type, tuple[str, ...]] = {
    bool: ("boolean",),
    int: ("long", "int", "double", "float"),
    float: ("double", "float"),
    str: ("string", "enum", "bytes", "fixed"),
    list: ("array",),
    dict: ("record", "map"),
}


def _branch(union: list[Any], value: Any, named: dict[str, Any]) -> Any:
    """The union branch a JSON value belongs to, by its JSON type (None: no guess)."""
    if value is None:
        return "null" if "null" in union else None
    wanted = _JSON_TYPES.get(type(value), ())
    for kind in wanted:
        for branch in union:
            b = named.get(branch, branch) if isinstance(branch, str) else branch
            t = b.get("type") if isinstance(b, dict) else b
            if t != kind:
                continue
            if kind == "record" and isinstance(value, dict):
                fields = {f["name"] for f in b["fields"]}
                if not set(value) <= fields:
                    continue
            return branch
    return None


# ---------------------------------------------------------------- JSON Schema


def _json_writer(subject: str, reg: RegisteredSchema,
                 named: Sequence[tuple[str, str]]) -> Callable[[Any, bytes], bytes]:
    try:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7
    except ImportError:
        raise _needs_schema_extra(subject, "JSON Schema", "jsonschema") from None

    try:
        schema = json.loads(reg.schema)
        resources = [(name, Resource.from_contents(json.loads(text),
                                                   default_specification=DRAFT7))
                     for name, text in named]
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        cls.check_schema(schema)
        validator = cls(schema, registry=Registry().with_resources(resources))
    except (ValueError, jsonschema.SchemaError) as e:
        raise UsageError(f"--schema {subject}: cannot use its JSON schema: {e}") from None

    def write(data: Any, raw: bytes) -> bytes:
        try:
            error = jsonschema.exceptions.best_match(validator.iter_errors(data))
        except jsonschema.exceptions.JsonSchemaException as e:
            raise UsageError(f"--schema {subject}: cannot check the value: {e}") from None
        if error is not None:
            where = error.json_path if error.path else "the value"
            raise UsageError(f"the value does not match the JSON schema of {subject} "
                             f"(version {reg.version}): at {where}: {error.message}")
        return raw.strip()  # the document as typed: read back byte for byte

    return write
