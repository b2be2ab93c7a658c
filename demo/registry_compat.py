"""Schemas for the demo/test registry: parse and validate them (42201 when invalid), give
each a canonical form (identical schemas get the same id), and check compatibility.

- Avro: Apache Avro's own parser and `ReaderWriterCompatibilityChecker` (the `avro`
  package), references parsed into the same names first. Canonical form: the JSON without
  whitespace.
- JSON Schema: `jsonschema`'s check_schema for validity. Compatibility is a subset of
  Confluent's rules, written here since no library has them: a type that narrows, a
  property the reader requires that the writer may leave out, a property dropped from a
  closed content model (additionalProperties: false), enum values the reader lacks.
- Protobuf: a serialized FileDescriptorProto in base64 (what confluent-kafka's Python
  serializer registers), linked in a DescriptorPool with its references; .proto source
  text is refused (no .proto parser ships with protobuf). Compatibility: messages compared
  by full name, fields by number; a field whose type changes to one that is not wire
  compatible, or that turns repeated/singular, is incompatible.

Direction: BACKWARD = the new schema reads data written with the old one (reader new,
writer old); FORWARD = the old one reads the new one's data; FULL = both. `_TRANSITIVE`
checks every earlier version instead of the latest.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.schema.readers import well_known_file

LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
          "FULL_TRANSITIVE", "NONE")


class Invalid(Exception):
    """The schema cannot be parsed or linked (the registry answers 42201)."""


@dataclass(frozen=True)
class Parsed:
    type: str
    """AVRO, JSON or PROTOBUF."""
    canonical: str
    """The form stored and compared: identical schemas have identical canonical forms."""
    obj: Any
    """The parsed schema: avro Schema, JSON data, or a FileDescriptorProto."""


@dataclass(frozen=True)
class Resolved:
    """A referenced schema, already in the registry."""

    name: str
    type: str
    text: str


def parse(schema_type: str, text: str, refs: Sequence[Resolved] = ()) -> Parsed:
    """Parse and validate; `refs` are the referenced schemas, referenced ones first."""
    if schema_type == "AVRO":
        return _parse_avro(text, refs)
    if schema_type == "JSON":
        return _parse_json(text)
    if schema_type == "PROTOBUF":
        return _parse_protobuf(text, refs)
    raise Invalid(f"unknown schema type {schema_type!r}: use AVRO, JSON or PROTOBUF")


def _parse_avro(text: str, refs: Sequence[Resolved]) -> Parsed:
    import avro.errors
    import avro.name
    import avro.schema

    try:
        data = json.loads(text)
    except ValueError as e:
        raise Invalid(f"Invalid schema: not JSON: {e}") from None
    names = avro.name.Names()
    try:
        for r in refs:
            avro.schema.make_avsc_object(json.loads(r.text), names)
        obj = avro.schema.make_avsc_object(data, names)
    except (avro.errors.AvroException, ValueError, TypeError, KeyError) as e:
        raise Invalid(f"Invalid schema: {e}") from None
    return Parsed("AVRO", json.dumps(data, separators=(",", ":")), obj)


def _parse_json(text: str) -> Parsed:
    import jsonschema
    import jsonschema.exceptions

    try:
        data = json.loads(text)
    except ValueError as e:
        raise Invalid(f"Invalid schema: not JSON: {e}") from None
    if not isinstance(data, dict | bool):
        raise Invalid("Invalid schema: a JSON Schema is an object or a boolean")
    try:
        jsonschema.validators.validator_for(data).check_schema(data)
    except jsonschema.exceptions.SchemaError as e:
        raise Invalid(f"Invalid schema: {e.message}") from None
    return Parsed("JSON", json.dumps(data, sort_keys=True, separators=(",", ":")), data)


def descriptor(text: str, name: str | None = None) -> Any:
    from google.protobuf import descriptor_pb2
    from google.protobuf.message import DecodeError

    t = text.strip()
    try:
        fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(t, validate=True))
    except (binascii.Error, ValueError, DecodeError):
        raise Invalid(
            "Invalid schema: this test registry takes Protobuf schemas as a serialized "
            "FileDescriptorProto in base64 (as confluent-kafka's Python serializer sends "
            "them), not .proto source") from None
    if name:
        fdp.name = name
    if not fdp.name:
        fdp.name = "schema.proto"
    return fdp


def _parse_protobuf(text: str, refs: Sequence[Resolved]) -> Parsed:
    from google.protobuf import descriptor_pool

    fdp = descriptor(text)
    pool = descriptor_pool.DescriptorPool()
    try:
        have = set()
        for r in refs:
            dep = descriptor(r.text, r.name)
            pool.Add(dep)
            have.add(dep.name)
        for dep_name in fdp.dependency:
            if dep_name not in have:
                known = well_known_file(dep_name)
                if known is None:
                    raise Invalid(f"Invalid schema: import {dep_name!r} has no reference")
                pool.Add(known)
                have.add(dep_name)
        pool.Add(fdp)
        pool.FindFileByName(fdp.name)
    except Invalid:
        raise
    except Exception as e:  # the pool's TypeError/KeyError for files that do not link
        raise Invalid(f"Invalid schema: {e}") from None
    canonical = base64.b64encode(fdp.SerializeToString(deterministic=True)).decode("ascii")
    return Parsed("PROTOBUF", canonical, fdp)


# ---------------------------------------------------------------- compatibility


def check(level: str, new: Parsed, earlier: Sequence[Parsed]) -> list[str]:
    """Why `new` is not compatible with `earlier` (oldest first) under `level`; [] if it is."""
    if level == "NONE" or not earlier:
        return []
    base = level.removesuffix("_TRANSITIVE")
    targets = list(earlier) if level.endswith("_TRANSITIVE") else [earlier[-1]]
    for old in reversed(targets):
        if old.type != new.type:
            return [f"Incompatible because of different schema type: {old.type} -> {new.type}"]
        messages = []
        if base in ("BACKWARD", "FULL"):
            messages += [f"BACKWARD: {m}" for m in _reads(new, old)]
        if base in ("FORWARD", "FULL"):
            messages += [f"FORWARD: {m}" for m in _reads(old, new)]
        if messages:
            return messages
    return []


def _reads(reader: Parsed, writer: Parsed) -> list[str]:
    """Why `reader` cannot read data written with `writer`."""
    if reader.type == "AVRO":
        from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

        result = ReaderWriterCompatibilityChecker().get_compatibility(reader.obj, writer.obj)
        if result.compatibility == SchemaCompatibilityType.compatible:
            return []
        kinds = [getattr(k, "value", str(k)).upper() for k in result.incompatibilities]
        return [f"{', '.join(kinds) or 'INCOMPATIBLE'}: {', '.join(sorted(result.messages))} "
                f"at {', '.join(sorted(result.locations))}"]
    if reader.type == "JSON":
        return _json_reads(reader.obj, writer.obj, "#")
    return _proto_reads(reader.obj, writer.obj)


def _types(s: Any) -> set[str] | None:
    t = s.get("type") if isinstance(s, dict) else None
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {str(x) for x in t}
    return None


def _json_reads(reader: Any, writer: Any, path: str) -> list[str]:
    if not isinstance(reader, dict) or not isinstance(writer, dict):
        return []
    out: list[str] = []
    rt, wt = _types(reader), _types(writer)
    if rt is not None and wt is not None:
        widened = rt | ({"integer"} if "number" in rt else set())
        if not wt <= widened:
            out.append(f"TYPE_CHANGED at {path}: {sorted(wt)} -> {sorted(rt)}")
            return out
    r_enum, w_enum = reader.get("enum"), writer.get("enum")
    if isinstance(r_enum, list) and isinstance(w_enum, list):
        lost = [v for v in w_enum if v not in r_enum]
        if lost:
            out.append(f"ENUM_NARROWED at {path}: {lost} no longer allowed")
    r_props = reader.get("properties") or {}
    w_props = writer.get("properties") or {}
    if isinstance(r_props, dict) and isinstance(w_props, dict):
        w_req = set(writer.get("required") or ())
        for name in sorted(set(reader.get("required") or ()) - w_req):
            if "default" not in (r_props.get(name) or {}):
                out.append(f"REQUIRED_PROPERTY_ADDED at {path}/properties/{name}: required by "
                           "the reader, the writer may leave it out")
        if reader.get("additionalProperties") is False:
            out += [f"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL at {path}/properties/{n}"
                    for n in sorted(set(w_props) - set(r_props))]
        for name in sorted(set(r_props) & set(w_props)):
            out += _json_reads(r_props[name], w_props[name], f"{path}/properties/{name}")
    if isinstance(reader.get("items"), dict) and isinstance(writer.get("items"), dict):
        out += _json_reads(reader["items"], writer["items"], f"{path}/items")
    return out


_WIRE = [{5, 13, 3, 4, 8, 14}, {17, 18}, {7, 15}, {6, 16}, {9, 12}]
_TYPE_NAMES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64",
               7: "fixed32", 8: "bool", 9: "string", 10: "group", 11: "message", 12: "bytes",
               13: "uint32", 14: "enum", 15: "sfixed32", 16: "sfixed64", 17: "sint32",
               18: "sint64"}


def _messages(fdp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(m: Any, scope: str) -> None:
        name = f"{scope}.{m.name}" if scope else m.name
        out[name] = m
        for n in m.nested_type:
            walk(n, name)

    for m in fdp.message_type:
        walk(m, fdp.package)
    return out


def _proto_reads(reader: Any, writer: Any) -> list[str]:
    out: list[str] = []
    if reader.message_type and writer.message_type and \
            reader.message_type[0].name != writer.message_type[0].name:
        out.append(f"MESSAGE_CHANGED: the first message is {reader.message_type[0].name} in "
                   f"one and {writer.message_type[0].name} in the other")
    r_msgs, w_msgs = _messages(reader), _messages(writer)
    for name in sorted(set(w_msgs) - set(r_msgs)):
        out.append(f"MESSAGE_REMOVED: {name}")
    for name in sorted(set(r_msgs) & set(w_msgs)):
        r_fields = {f.number: f for f in r_msgs[name].field}
        for f in w_msgs[name].field:
            g = r_fields.get(f.number)
            if g is None:
                continue
            where = f"{name} field {f.number}"
            if (f.label == 3) != (g.label == 3):
                out.append(f"FIELD_LABEL_CHANGED: {where} ({f.name}) is repeated in one and "
                           "singular in the other")
            elif f.type != g.type and not any(f.type in grp and g.type in grp for grp in _WIRE):
                out.append(f"FIELD_TYPE_CHANGED: {where} ({f.name}) "
                           f"{_TYPE_NAMES.get(f.type)} -> {_TYPE_NAMES.get(g.type)}")
            elif f.type in (11, 14) and f.type_name != g.type_name:
                out.append(f"FIELD_NAMED_TYPE_CHANGED: {where} ({f.name}) "
                           f"{f.type_name.lstrip('.')} -> {g.type_name.lstrip('.')}")
    return out
