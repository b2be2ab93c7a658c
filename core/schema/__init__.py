"""Schema Registry: browse subjects, versions and compatibility, and decode Confluent-framed
records (Avro, JSON Schema, Protobuf) wherever records are shown.

- `client.RegistryClient`: the registry's REST API on httpx (errors mapped in one place).
- `decoder.SchemaDecoder`: framed values -> decoded JSON, schemas fetched once per id.
- `readers`: the frame and one reader per format (fastavro, protobuf, orjson).
- `browse`: what `kafkaops schemas`, the console and the bot show (subjects, versions,
  diffs, compatibility, level changes audited).
- `records`, `errors`: core's own records and errors for all of it.

Faces get a registry per cluster from `Services.schema_registry()` and a decoder from
`Services.schema_decoder()` (None when the cluster names no registry in config).
"""

from kafkaops.core.schema.records import (
    CompatibilityLevel,
    CompatibilityResult,
    FramedValue,
    RegisteredSchema,
    SchemaInfo,
    SchemaReference,
    SubjectVersion,
)

__all__ = [
    "CompatibilityLevel",
    "CompatibilityResult",
    "FramedValue",
    "RegisteredSchema",
    "SchemaInfo",
    "SchemaReference",
    "SubjectVersion",
]
