"""An async client for a Confluent-compatible Schema Registry's REST API, on httpx.

`RegistryClient(config, where="clusters.primary.schema_registry")`: subjects, versions, a
version's schema and references, schemas by id (cached: an id never changes meaning),
compatibility levels (per subject and global) and checks, modes, soft-deleted subjects.
Every httpx error is mapped here, in `_call`, to core's errors: `RegistryUnreachable` when
the registry does not answer, `RegistryNotFound` / `RegistryRejected` / `RegistryError` with
the registry's own `error_code` and message when it answers with an error.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from kafkaops.core.config import SchemaRegistryConfig
from kafkaops.core.errors import ConfigError
from kafkaops.core.schema.errors import (
    INCOMPATIBLE,
    SUBJECT_LEVEL_CONFIG_NOT_FOUND,
    SUBJECT_NOT_FOUND,
    RegistryError,
    RegistryNotFound,
    RegistryRejected,
    RegistryUnreachable,
)
from kafkaops.core.schema.records import (
    SCHEMA_TYPES,
    CompatibilityLevel,
    CompatibilityResult,
    RegisteredSchema,
    SchemaReference,
    SchemaType,
    SubjectVersion,
)
from kafkaops.core.untrusted import NotJson, UntrustedData, parse_json

ACCEPT = ("application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "
          "application/json")
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
#: how long the subjects a schema id is registered under are trusted (a schema registered
#: under one more subject keeps its id; the list of subjects can grow)
SUBJECTS_OF_ID_TTL = 300.0
#: the largest answer read from a registry (a schema, a list of subjects)
MAX_BODY = 16 * 1024 * 1024


def _path(*parts: str | int) -> str:
    return "/" + "/".join(quote(str(p), safe="") for p in parts)


def _schema_type(raw: Any) -> SchemaType:
    text = str(raw or "AVRO").upper()
    for t in SCHEMA_TYPES:
        if t == text:
            return t
    return "AVRO"


def _references(raw: Any) -> tuple[SchemaReference, ...]:
    out = []
    for r in raw or ():
        if isinstance(r, Mapping):
            out.append(SchemaReference(str(r.get("name", "")), str(r.get("subject", "")),
                                       int(r.get("version", 0))))
    return tuple(out)


def registered(data: Any, *, id_: int | None = None) -> RegisteredSchema:
    """A registry answer (`/schemas/ids/N` or `/subjects/S/versions/V`) as a record."""
    if not isinstance(data, Mapping) or not isinstance(data.get("schema"), str):
        raise ValueError("the answer has no schema")
    return RegisteredSchema(
        id=int(data["id"]) if "id" in data else int(id_ or 0),
        schema=data["schema"],
        type=_schema_type(data.get("schemaType")),
        references=_references(data.get("references")),
        subject=str(data["subject"]) if data.get("subject") is not None else None,
        version=int(data["version"]) if data.get("version") is not None else None,
        deleted=bool(data.get("deleted", False)),
    )


class RegistryClient:
    """One registry; share it between the clusters that name the same one."""

    def __init__(self, config: SchemaRegistryConfig, *, where: str = "schema_registry",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.url = config.url.rstrip("/")
        """The registry's base URL, for messages."""
        self.where = where
        """The config key it came from, for messages."""
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._by_id: dict[int, RegisteredSchema] = {}
        self._serialized: dict[int, RegisteredSchema] = {}
        self._subjects_of: dict[int, tuple[float, tuple[SubjectVersion, ...]]] = {}
        self._versions: dict[tuple[str, int, str], RegisteredSchema] = {}

    # ------------------------------------------------------------ transport

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            cfg = self.config
            auth = None
            if cfg.basic_auth is not None:
                auth = httpx.BasicAuth(cfg.basic_auth.username, cfg.basic_auth.password.reveal())
            self._http = httpx.AsyncClient(
                base_url=self.url, auth=auth, verify=self._verify(),
                timeout=float(cfg.timeout), transport=self._transport,
                headers={"Accept": ACCEPT, "User-Agent": "kafkaops"},
            )
        return self._http

    def _verify(self) -> ssl.SSLContext | bool:
        tls = self.config.tls
        if tls is None:
            return True
        try:
            ctx = ssl.create_default_context(cafile=tls.ca_file)
            if tls.cert_file:
                ctx.load_cert_chain(tls.cert_file, tls.key_file)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"{self.where}.tls: cannot load TLS files: {e}") from None
        return ctx

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    body: Any = None) -> Any:
        """One request; the registry's JSON answer, or one of our errors."""
        headers = {"Content-Type": CONTENT_TYPE} if body is not None else None
        try:
            resp = await self._client().request(method, path, params=params, json=body,
                                                headers=headers)
        except httpx.TimeoutException:
            raise RegistryUnreachable(
                f"schema registry {self.url} did not answer within "
                f"{float(self.config.timeout):g} s — check {self.where}.url") from None
        except httpx.HTTPError as e:  # connect refused, DNS, TLS, a dropped connection
            reason = str(e) or type(e).__name__
            raise RegistryUnreachable(
                f"schema registry {self.url} unreachable: {reason} — check "
                f"{self.where}.url") from None
        if len(resp.content) > MAX_BODY:
            raise RegistryError(f"schema registry {self.url}: answer to {method} {path} is "
                                f"larger than {MAX_BODY:,} bytes", status=resp.status_code,
                                error_code=None)
        try:
            # bounded in depth: an answer nested deep enough breaks json.loads (RecursionError)
            data = parse_json(resp.content, max_bytes=None) if resp.content else None
        except NotJson:
            data = None
            if resp.is_success:
                raise RegistryError(
                    f"schema registry {self.url}: {method} {path} answered with something "
                    f"that is not JSON (is {self.where}.url a Schema Registry?)",
                    status=resp.status_code, error_code=None) from None
        except UntrustedData as e:
            raise RegistryError(f"schema registry {self.url}: the answer to {method} {path} "
                                f"is refused: {e}", status=resp.status_code,
                                error_code=None) from None
        if resp.is_success:
            return data
        raise self._error(resp.status_code, data, resp.text, method, path)

    def _error(self, status: int, data: Any, text: str, method: str, path: str) -> RegistryError:
        code = None
        message = text.strip()[:200] or f"HTTP {status}"
        if isinstance(data, Mapping):
            raw_code = data.get("error_code")
            code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) \
                else None
            message = str(data.get("message") or message)[:500]
        where = f"schema registry {self.url}"
        if status in (401, 403):
            return RegistryError(f"{where} refused {method} {path} ({status} {message}) — "
                                 f"check {self.where}.basic_auth", status=status,
                                 error_code=code)
        if status == 404:
            return RegistryNotFound(f"{where}: {message}", status=status, error_code=code)
        if status in (409, 422):
            return RegistryRejected(f"{where}: {message}", status=status, error_code=code)
        return RegistryError(f"{where}: {method} {path} failed ({status}): {message}",
                             status=status, error_code=code, retriable=status >= 500)

    # ------------------------------------------------------------ subjects and versions

    async def subjects(self, *, deleted: bool = False, prefix: str | None = None) -> list[str]:
        """Subject names; with `deleted`, soft-deleted subjects too."""
        params: dict[str, Any] = {"deleted": "true"} if deleted else {}
        if prefix:
            params["subjectPrefix"] = prefix
        data = await self._call("GET", "/subjects", params=params)
        return sorted(str(s) for s in data or ())

    async def deleted_subjects(self) -> list[str]:
        """Subjects whose every version is soft-deleted."""
        data = await self._call("GET", "/subjects", params={"deletedOnly": "true"})
        return sorted(str(s) for s in data or ())

    async def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        """A subject's version numbers, oldest first (RegistryNotFound: no such subject)."""
        params = {"deleted": "true"} if deleted else None
        data = await self._call("GET", _path("subjects", subject, "versions"), params=params)
        return sorted(int(v) for v in data or ())

    async def version(self, subject: str, version: int | str = "latest", *,
                      deleted: bool = False, fmt: str | None = None) -> RegisteredSchema:
        """One version of a subject (a number or "latest"), with its schema and references.
        Numbered versions are cached: a version never changes once registered."""
        key = (subject, int(version), fmt or "") if isinstance(version, int) else None
        if key is not None and key in self._versions and not deleted:
            return self._versions[key]
        params: dict[str, Any] = {}
        if deleted:
            params["deleted"] = "true"
        if fmt:
            params["format"] = fmt
        data = await self._call("GET", _path("subjects", subject, "versions", version),
                                params=params)
        out = self._parse(data, f"version {version} of {subject!r}")
        if key is not None and not out.deleted:
            self._versions[key] = out
        return out

    async def referenced_by(self, subject: str, version: int | str = "latest") -> list[int]:
        """Ids of the schemas that refer to this version."""
        data = await self._call("GET", _path("subjects", subject, "versions", version,
                                             "referencedby"))
        return sorted(int(i) for i in data or ())

    def _parse(self, data: Any, what: str, id_: int | None = None) -> RegisteredSchema:
        try:
            return registered(data, id_=id_)
        except (ValueError, TypeError, KeyError) as e:
            raise RegistryError(f"schema registry {self.url}: cannot read {what}: {e}",
                                status=200, error_code=None) from None

    # ------------------------------------------------------------ schemas by id

    async def schema(self, schema_id: int, *, serialized: bool = False) -> RegisteredSchema:
        """The schema with this id (cached). `serialized`: for Protobuf, the file
        descriptor in base64 instead of .proto text (`?format=serialized`)."""
        cache = self._serialized if serialized else self._by_id
        hit = cache.get(schema_id)
        if hit is not None:
            return hit
        params = {"format": "serialized"} if serialized else None
        data = await self._call("GET", _path("schemas", "ids", schema_id), params=params)
        out = self._parse(data, f"schema id {schema_id}", schema_id)
        cache[schema_id] = out
        return out

    async def subjects_of(self, schema_id: int) -> tuple[SubjectVersion, ...]:
        """The subject versions registered with this schema id (cached for a while)."""
        hit = self._subjects_of.get(schema_id)
        if hit is not None and time.monotonic() - hit[0] < SUBJECTS_OF_ID_TTL:
            return hit[1]
        data = await self._call("GET", _path("schemas", "ids", schema_id, "versions"))
        found = tuple(SubjectVersion(str(d["subject"]), int(d["version"]))
                      for d in data or () if isinstance(d, Mapping) and "subject" in d)
        self._subjects_of[schema_id] = (time.monotonic(), found)
        return found

    # ------------------------------------------------------------ compatibility

    async def compatibility(self, subject: str | None = None) -> CompatibilityLevel:
        """The level that applies to a subject (its own, else the global one), or the
        global level when no subject is given."""
        if subject is not None:
            try:
                data = await self._call("GET", _path("config", subject))
                level = self._level(data)
                if level is not None:
                    return CompatibilityLevel(level, "subject")
            except RegistryNotFound as e:
                if e.error_code not in (SUBJECT_LEVEL_CONFIG_NOT_FOUND, SUBJECT_NOT_FOUND, None):
                    raise
        data = await self._call("GET", "/config")
        level = self._level(data)
        if level is None:
            raise RegistryError(f"schema registry {self.url}: /config has no compatibility "
                                "level", status=200, error_code=None)
        return CompatibilityLevel(level, "global")

    @staticmethod
    def _level(data: Any) -> str | None:
        if isinstance(data, Mapping):
            level = data.get("compatibilityLevel") or data.get("compatibility")
            return str(level) if level else None
        return None

    async def set_compatibility(self, level: str, subject: str | None = None) -> str:
        """Set a subject's level (or the global one); returns the level now in force."""
        path = _path("config", subject) if subject is not None else "/config"
        data = await self._call("PUT", path, body={"compatibility": level})
        return self._level(data) or level

    async def check(self, subject: str, schema: str, *, schema_type: SchemaType = "AVRO",
                    references: tuple[SchemaReference, ...] = (),
                    version: int | str = "latest") -> CompatibilityResult:
        """Would `schema` be compatible with the subject's `version` ("latest", a number, or
        "all": every version the subject's level asks for, as registering would check)?"""
        body: dict[str, Any] = {"schema": schema}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        if references:
            body["references"] = [{"name": r.name, "subject": r.subject,
                                   "version": r.version} for r in references]
        path = (_path("compatibility", "subjects", subject, "versions") if version == "all"
                else _path("compatibility", "subjects", subject, "versions", version))
        data = await self._call("POST", path, params={"verbose": "true"}, body=body)
        if not isinstance(data, Mapping) or not isinstance(data.get("is_compatible"), bool):
            raise RegistryError(f"schema registry {self.url}: the compatibility answer has no "
                                "is_compatible", status=200, error_code=None)
        messages = tuple(str(m) for m in data.get("messages") or ())
        return CompatibilityResult(data["is_compatible"], messages, against=str(version))

    async def mode(self, subject: str | None = None) -> str:
        """READWRITE, READONLY, IMPORT, ... (a subject's own, else the global one)."""
        path = _path("mode", subject) if subject is not None else "/mode"
        params = {"defaultToGlobal": "true"} if subject is not None else None
        data = await self._call("GET", path, params=params)
        return str(data.get("mode")) if isinstance(data, Mapping) else "unknown"

    async def ping(self) -> None:
        """Raise RegistryUnreachable / RegistryError unless the registry answers /config."""
        await self._call("GET", "/config")


async def gather_limited(n: int, *coros: Any) -> list[Any]:
    """Run coroutines at most `n` at a time; results in order, exceptions as values."""
    sem = asyncio.Semaphore(n)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros), return_exceptions=True))


__all__ = ["INCOMPATIBLE", "RegistryClient", "registered", "gather_limited"]
