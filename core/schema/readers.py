"""Reading Confluent-framed bytes: the frame, and one reader per schema format.

Frame (the Confluent wire format): magic byte 0, the schema id as a 4-byte big-endian int,
then the payload. Protobuf payloads start with the message indexes (a zigzag-varint count,
then that many zigzag varints: the path to the message in the .proto file; a lone 0 means
the first message).

Readers are built once per schema id (`avro_reader`, `json_reader`, `protobuf_reader`) and
turn a whole framed value into JSON bytes, or raise `Mismatch` naming what does not fit.
Libraries: fastavro (parse_schema with named schemas for references, schemaless_reader),
protobuf (DescriptorPool + message_factory.GetMessageClass, json_format.MessageToDict),
orjson for the JSON out.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import orjson

from kafkaops.core.untrusted import UntrustedData, parse_json

MAGIC = 0
FRAME = 5
#: deepest Protobuf message-index path accepted (a hostile frame could claim millions)
MAX_INDEXES = 64
#: deepest JSON nesting accepted in a schema text (Avro, JSON Schema): a record inside a
#: record's field adds three levels, so this allows some forty levels of records
MAX_SCHEMA_DEPTH = 128

Reader = Callable[[bytes], bytes]
"""A framed value (frame included) -> its decoded value as JSON bytes; raises Mismatch."""


class Mismatch(Exception):
    """The bytes do not fit the schema (or are not a valid frame); the text says how."""


def _needs_schema_extra(what: str, module: str) -> Mismatch:
    """The reason a record stays raw when kafkaops was installed without [schema]."""
    return Mismatch(f"decoding {what} needs the schema extra (kafkaops[schema]): "
                    f"{module} is not installed")


def framed_id(raw: bytes | None) -> int | None:
    """The schema id when `raw` is Confluent-framed (magic 0 and room for an id), else None."""
    if raw is None or len(raw) < FRAME or raw[0] != MAGIC:
        return None
    return int(struct.unpack_from(">I", raw, 1)[0])


def _zigzag_varint(raw: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(raw):
            raise Mismatch("the Protobuf message indexes run past the end of the value")
        b = raw[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise Mismatch("a Protobuf message index is not a valid varint")
    return (result >> 1) ^ -(result & 1), pos


def message_indexes(raw: bytes, pos: int = FRAME) -> tuple[list[int], int]:
    """The message-index path after the frame and where the message starts."""
    count, pos = _zigzag_varint(raw, pos)
    if count == 0:
        return [0], pos
    if not 0 < count <= MAX_INDEXES:
        raise Mismatch(f"the frame claims {count} Protobuf message indexes")
    out = []
    for _ in range(count):
        i, pos = _zigzag_varint(raw, pos)
        out.append(i)
    return out, pos


def schema_json(text: str) -> Any:
    """The JSON of a registry's schema text (Avro, JSON Schema). The registry can be
    written by others (anyone who can produce to its `_schemas` topic), so the text goes
    through core/untrusted.py's parse_json: a text nested deeper than MAX_SCHEMA_DEPTH is
    UntrustedData, a text that is not JSON NotJson (both ValueErrors); a text read here
    can then be walked by code that recurses. Its size is bounded by the registry
    client's answer size."""
    return parse_json(text, max_bytes=None, max_depth=MAX_SCHEMA_DEPTH)


# ---------------------------------------------------------------- Avro


def _avro_json(value: Any) -> Any:
    """What orjson cannot write by itself, as Avro's JSON encoding writes it."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")  # Avro JSON: one code point per byte
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot show a {type(value).__name__}")


def avro_reader(schema: str, named: Sequence[str] = ()) -> Reader:
    """A reader for Avro `schema`; `named` are the texts of the schemas it refers to,
    referenced ones first (as the registry's references resolve them)."""
    try:
        from fastavro import parse_schema, schemaless_reader
    except ImportError:
        raise _needs_schema_extra("Avro", "fastavro") from None

    named_schemas: dict[str, Any] = {}
    try:
        texts = [schema_json(text) for text in named]
        main = schema_json(schema)
    except UntrustedData as e:
        raise Mismatch(f"cannot use the Avro schema: {e}") from None
    try:
        for data in texts:
            parse_schema(data, named_schemas=named_schemas)
        parsed = parse_schema(main, named_schemas=named_schemas)
    except Exception as e:  # fastavro raises several kinds for a schema it cannot use
        raise Mismatch(f"cannot use the Avro schema: {e}") from None
    name = parsed.get("name", parsed.get("type", "value")) if isinstance(parsed, dict) \
        else str(parsed)

    def read(raw: bytes) -> bytes:
        fo = io.BytesIO(raw)
        fo.seek(FRAME)
        try:
            value = schemaless_reader(fo, parsed, None)
        except (EOFError, StopIteration):
            raise Mismatch(f"the value ends before the Avro record {name} does") from None
        except Exception as e:  # a corrupt record: wrong union index, bad length, ...
            raise Mismatch(f"the bytes do not match the Avro schema {name}: "
                           f"{type(e).__name__}: {e}") from None
        left = len(raw) - fo.tell()
        if left:
            raise Mismatch(f"{left} bytes left over after the Avro record {name}: "
                           "the bytes do not match its schema")
        return orjson.dumps(value, default=_avro_json)  # Avro map keys are strings

    return read


# ---------------------------------------------------------------- JSON Schema


def json_reader() -> Reader:
    """JSON Schema: the payload after the frame is the JSON document itself."""

    def read(raw: bytes) -> bytes:
        payload = raw[FRAME:]
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise Mismatch(f"the payload after the frame is not JSON: {e}") from None
        return payload

    return read


# ---------------------------------------------------------------- Protobuf


def descriptor_from_registry(text: str, name: str = "schema.proto") -> Any:
    """A FileDescriptorProto from a registry's `?format=serialized` answer (base64)."""
    try:
        from google.protobuf import descriptor_pb2
        from google.protobuf.message import DecodeError
    except ImportError:
        raise _needs_schema_extra("Protobuf", "protobuf") from None

    try:
        data = base64.b64decode(text, validate=True)
        fdp = descriptor_pb2.FileDescriptorProto.FromString(data)
    except (binascii.Error, ValueError, DecodeError) as e:
        raise Mismatch(f"the registry's serialized Protobuf schema cannot be read: {e}") \
            from None
    if not fdp.name:
        fdp.name = name
    return fdp


def well_known_file(name: str) -> Any | None:
    """google/protobuf/*.proto as a FileDescriptorProto (registries leave these out)."""
    import importlib

    from google.protobuf import descriptor_pb2, descriptor_pool

    if not name.startswith("google/protobuf/"):
        return None
    module = "google.protobuf." + name.rsplit("/", 1)[-1].removesuffix(".proto") + "_pb2"
    try:
        importlib.import_module(module)
        fd = descriptor_pool.Default().FindFileByName(name)
    except (ImportError, KeyError):
        return None
    fdp = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(fdp)
    return fdp


def protobuf_reader(main: Any, dependencies: Sequence[Any] = ()) -> Reader:
    """A reader for the messages of file `main` (a FileDescriptorProto); `dependencies`
    are the files it imports, imported ones first."""
    from google.protobuf import descriptor_pool, json_format, message_factory
    from google.protobuf.message import DecodeError

    pool = descriptor_pool.DescriptorPool()
    try:
        have = set()
        for fdp in [*dependencies, main]:
            if fdp.name not in have:
                pool.Add(fdp)
                have.add(fdp.name)
        file_desc = pool.FindFileByName(main.name)
    except Exception as e:  # TypeError / KeyError from a pool that cannot link the files
        raise Mismatch(f"cannot use the Protobuf schema: {e}") from None
    top = [file_desc.message_types_by_name[m.name] for m in main.message_type]
    classes: dict[tuple[int, ...], Any] = {}

    def message_class(path: list[int]) -> Any:
        key = tuple(path)
        cls = classes.get(key)
        if cls is None:
            if not top:
                raise Mismatch("the Protobuf schema has no message")
            if not 0 <= path[0] < len(top):
                raise Mismatch(f"message index {path[0]} is not in the schema "
                               f"({len(top)} top-level messages)")
            desc = top[path[0]]
            for i in path[1:]:
                if not 0 <= i < len(desc.nested_types):
                    raise Mismatch(f"nested message index {i} is not in {desc.full_name}")
                desc = desc.nested_types[i]
            cls = classes[key] = message_factory.GetMessageClass(desc)
        return cls

    def read(raw: bytes) -> bytes:
        path, pos = message_indexes(raw)
        cls = message_class(path)
        msg = cls()
        try:
            msg.ParseFromString(raw[pos:])
        except (DecodeError, RuntimeError, ValueError) as e:
            raise Mismatch(f"the bytes do not match Protobuf message "
                           f"{cls.DESCRIPTOR.full_name}: {e}") from None
        try:
            data = json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                             always_print_fields_with_no_presence=True)
        except Exception as e:  # json_format refuses some values (an unknown enum in proto2)
            raise Mismatch(f"cannot show Protobuf message {cls.DESCRIPTOR.full_name}: "
                           f"{e}") from None
        return orjson.dumps(data)

    return read
