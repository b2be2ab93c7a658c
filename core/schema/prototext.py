"""A Protobuf file descriptor as .proto text, for people.

Registries hand Protobuf schemas out as .proto text, or (confluent-kafka's Python
serializer registers them so) as a serialized FileDescriptorProto in base64. The protobuf
library can read the second but has no printer back to .proto text, so this writes one:
syntax, package, imports, messages (nested, maps, oneofs, labels), enums. Options other
than `deprecated` and packed are left out; the result is for reading and diffing.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

_SCALARS = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64",
    7: "fixed32", 8: "bool", 9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32",
    16: "sfixed64", 17: "sint32", 18: "sint64",
}
_MESSAGE, _ENUM, _GROUP = 11, 14, 10
_OPTIONAL, _REQUIRED, _REPEATED = 1, 2, 3


def looks_serialized(text: str) -> bool:
    """True when `text` is base64 (a serialized descriptor), not .proto source."""
    t = text.strip()
    if not t or any(c in t for c in " \n;{}"):
        return False
    try:
        base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def serialized_to_text(text: str) -> str:
    """base64 FileDescriptorProto -> .proto text (ValueError when it is not one)."""
    from google.protobuf import descriptor_pb2
    from google.protobuf.message import DecodeError

    try:
        fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(text.strip(),
                                                                             validate=True))
    except (binascii.Error, DecodeError) as e:
        raise ValueError(f"not a serialized Protobuf descriptor: {e}") from None
    return to_text(fdp)


def readable(schema: str, schema_type: str) -> str:
    """A schema as people read it: Protobuf descriptors as .proto text, the rest as is."""
    if schema_type == "PROTOBUF" and looks_serialized(schema):
        try:
            return serialized_to_text(schema)
        except (ValueError, ImportError):  # ImportError: installed without [schema]
            return schema
    return schema


def to_text(fdp: Any) -> str:
    """A FileDescriptorProto as .proto text."""
    syntax = fdp.syntax or "proto2"
    out = [f'syntax = "{syntax}";']
    if fdp.package:
        out += ["", f"package {fdp.package};"]
    if fdp.dependency:
        out.append("")
        out += [f'import "{d}";' for d in fdp.dependency]
    prefix = f".{fdp.package}." if fdp.package else "."
    for m in fdp.message_type:
        out.append("")
        out += _message(m, syntax, prefix, 0)
    for e in fdp.enum_type:
        out.append("")
        out += _enum(e, 0)
    return "\n".join(out) + "\n"


def _type_name(f: Any, scope: str) -> str:
    if f.type in (_MESSAGE, _ENUM, _GROUP):
        name: str = f.type_name
        return name[len(scope):] if name.startswith(scope) else name.lstrip(".")
    return _SCALARS.get(f.type, f"type{f.type}")


def _message(m: Any, syntax: str, scope: str, depth: int) -> list[str]:
    pad = "  " * depth
    inner = f"{scope}{m.name}."
    maps = {n.name: n for n in m.nested_type if n.options.map_entry}
    lines = [f"{pad}message {m.name} {{"]
    for n in m.nested_type:
        if n.name not in maps:
            lines += _message(n, syntax, inner, depth + 1)
    for e in m.enum_type:
        lines += _enum(e, depth + 1)
    oneofs: dict[int, list[Any]] = {}
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            oneofs.setdefault(f.oneof_index, []).append(f)
    done: set[int] = set()
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            if f.oneof_index in done:
                continue
            done.add(f.oneof_index)
            lines.append(f"{pad}  oneof {m.oneof_decl[f.oneof_index].name} {{")
            lines += [f"{pad}    {_field(o, syntax, inner, maps, in_oneof=True)}"
                      for o in oneofs[f.oneof_index]]
            lines.append(f"{pad}  }}")
        else:
            lines.append(f"{pad}  {_field(f, syntax, inner, maps)}")
    for r in m.reserved_range:
        end = r.end - 1
        lines.append(f"{pad}  reserved {r.start}" + (f" to {end}" if end > r.start else "") + ";")
    if m.reserved_name:
        lines.append(f"{pad}  reserved " + ", ".join(f'"{n}"' for n in m.reserved_name) + ";")
    lines.append(f"{pad}}}")
    return lines


def _field(f: Any, syntax: str, scope: str, maps: dict[str, Any], *,
           in_oneof: bool = False) -> str:
    short = f.type_name.rsplit(".", 1)[-1]
    if f.label == _REPEATED and f.type == _MESSAGE and short in maps:
        entry = maps[short]
        k, v = entry.field[0], entry.field[1]
        kind = f"map<{_type_name(k, scope)}, {_type_name(v, scope)}>"
        label = ""
    else:
        kind = _type_name(f, scope)
        if in_oneof:
            label = ""
        elif f.label == _REPEATED:
            label = "repeated "
        elif f.label == _REQUIRED:
            label = "required "
        elif syntax == "proto2" or f.proto3_optional:
            label = "optional "
        else:
            label = ""
    opts = []
    if f.options.deprecated:
        opts.append("deprecated = true")
    if f.HasField("default_value"):
        d = f.default_value
        opts.append(f'default = "{d}"' if f.type in (9, 12) else f"default = {d}")
    tail = f" [{', '.join(opts)}]" if opts else ""
    return f"{label}{kind} {f.name} = {f.number}{tail};"


def _enum(e: Any, depth: int) -> list[str]:
    pad = "  " * depth
    return ([f"{pad}enum {e.name} {{"] + [f"{pad}  {v.name} = {v.number};" for v in e.value]
            + [f"{pad}}}"])
