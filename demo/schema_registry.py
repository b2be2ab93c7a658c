"""A small Schema Registry for the demo and the tests: the Confluent REST contract on
aiohttp, schemas kept on a compacted `_schemas` topic (registry_store.py).

Not a product feature: no real Schema Registry installs on these machines, so this stands
in for one, and tests check it with real clients (confluent-kafka's serializers, the Java
AvroConverter in a Connect worker), never only against itself. docs/schema-registry.md
says what it implements.

    python -m kafkaops.demo.schema_registry --bootstrap 127.0.0.1:9092 --port 8081

In a program: `async with DemoSchemaRegistry(bootstrap) as reg: reg.url`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kafkaops.demo.registry_logic import ApiError, Registry, schema_not_found, subject_not_found
from kafkaops.demo.registry_store import DEFAULT_TOPIC, SchemaLog

log = logging.getLogger("kafkaops.demo.registry")
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
REGISTRY = web.AppKey("registry", Registry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type=CONTENT_TYPE)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").strip().lower() == "true"


async def _body(request: web.Request) -> Any:
    text = await request.text()
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        raise ApiError(422, 422, "Unrecognized request body: not JSON") from None


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as the registry's JSON body: {"error_code": ..., "message": ...}."""
    try:
        return await handler(request)
    except ApiError as e:
        return _json({"error_code": e.code, "message": e.message}, e.status)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _json({"error_code": e.status, "message": f"HTTP {e.status} {e.reason}"},
                     e.status)
    except TimeoutError:
        return _json({"error_code": 50002, "message": "Operation timed out"}, 500)
    except Exception as e:  # a bug here: answer as the registry would, and say what it was
        log.exception("%s %s", request.method, request.path)
        return _json({"error_code": 50001,
                      "message": f"Error in the backend data store: {type(e).__name__}: {e}"},
                     500)


def basic_auth(user_info: str) -> Any:
    expected = "Basic " + base64.b64encode(user_info.encode()).decode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            return _json({"error_code": 401, "message": "Unauthorized"}, 401)
        return await handler(request)

    return check


def _reg(request: web.Request) -> Registry:
    return request.app[REGISTRY]


def _subject(request: web.Request) -> str:
    return request.match_info["subject"]


# ---------------------------------------------------------------- handlers


async def root(request: web.Request) -> web.Response:
    return _json({})


async def schema_types(request: web.Request) -> web.Response:
    return _json(["JSON", "PROTOBUF", "AVRO"])


async def contexts(request: web.Request) -> web.Response:
    return _json(["."])


async def list_subjects(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    prefix = request.query.get("subjectPrefix", "")
    state = reg.state
    if _flag(request, "deletedOnly"):
        names = sorted(s for s in state.subjects if s not in state.live_subjects())
    elif _flag(request, "deleted"):
        names = sorted(state.subjects)
    else:
        names = state.live_subjects()
    return _json([n for n in names if n.startswith(prefix) or prefix in ("", ":*:")])


async def list_versions(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    versions = reg.state.versions(_subject(request), deleted=_flag(request, "deleted"))
    if not versions:
        raise subject_not_found(_subject(request))
    return _json(versions)


async def register(request: web.Request) -> web.Response:
    reg = _reg(request)
    out = await reg.register(_subject(request), await _body(request))
    if request.headers.get("Confluent-Accept-Unknown-Properties", "").lower() != "true":
        out = {"id": out["id"]}
    return _json(out)


async def lookup(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    return _json(reg.lookup(_subject(request), await _body(request),
                            deleted=_flag(request, "deleted")))


async def get_version(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    subject = _subject(request)
    v, e = reg.entry(subject, request.match_info["version"], deleted=_flag(request, "deleted"))
    return _json(reg.version_json(subject, v, e, request.query.get("format")))


async def get_version_schema(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    _, e = reg.entry(_subject(request), request.match_info["version"],
                     deleted=_flag(request, "deleted"))
    return _raw_schema(reg, e.id, request.query.get("format"))


def _raw_schema(reg: Registry, sid: int, fmt: str | None) -> web.Response:
    text = reg.schema_json(reg.state.schemas[sid], fmt=fmt)["schema"]
    try:
        json.loads(text)
        return web.Response(text=text, content_type="application/json")
    except ValueError:  # Protobuf text is not JSON: answer it as a JSON string
        return _json(text)


async def referenced_by(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    subject = _subject(request)
    v, _ = reg.entry(subject, request.match_info["version"])
    return _json(reg.state.referenced_by(subject, v))


async def delete_version(request: web.Request) -> web.Response:
    v = await _reg(request).delete_version(_subject(request), request.match_info["version"],
                                           _flag(request, "permanent"))
    return _json(v)


async def delete_subject(request: web.Request) -> web.Response:
    return _json(await _reg(request).delete_subject(_subject(request),
                                                    _flag(request, "permanent")))


def _schema_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise schema_not_found(f"Schema {request.match_info['id']} not found") from None


async def _known_id(request: web.Request) -> tuple[Registry, int]:
    reg = _reg(request)
    sid = _schema_id(request)
    if sid not in reg.state.schemas:
        await reg.log.sync()
        if sid not in reg.state.schemas:
            raise schema_not_found(f"Schema {sid} not found")
    return reg, sid


async def schema_by_id(request: web.Request) -> web.Response:
    reg, sid = await _known_id(request)
    return _json(reg.schema_json(reg.state.schemas[sid], fmt=request.query.get("format")))


async def schema_by_id_raw(request: web.Request) -> web.Response:
    reg, sid = await _known_id(request)
    return _raw_schema(reg, sid, request.query.get("format"))


def _uses(reg: Registry, sid: int, deleted: bool) -> list[tuple[str, int]]:
    return sorted((s, v) for s, vs in reg.state.subjects.items() for v, e in vs.items()
                  if e.id == sid and (deleted or not e.deleted))


async def schema_versions(request: web.Request) -> web.Response:
    reg, sid = await _known_id(request)
    await reg.log.sync()
    uses = _uses(reg, sid, _flag(request, "deleted"))
    return _json([{"subject": s, "version": v} for s, v in uses])


async def schema_subjects(request: web.Request) -> web.Response:
    reg, sid = await _known_id(request)
    await reg.log.sync()
    return _json(sorted({s for s, _ in _uses(reg, sid, _flag(request, "deleted"))}))


async def get_config(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    subject = request.match_info.get("subject")
    if subject is not None and subject not in reg.state.configs \
            and not _flag(request, "defaultToGlobal"):
        raise ApiError(404, 40408, f"Subject '{subject}' does not have subject-level "
                       "compatibility configured")
    return _json({"compatibilityLevel": reg.state.level(subject)})


async def put_config(request: web.Request) -> web.Response:
    return _json(await _reg(request).set_level(request.match_info.get("subject"),
                                               await _body(request)))


async def delete_config(request: web.Request) -> web.Response:
    return _json(await _reg(request).delete_level(_subject(request)))


async def get_mode(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    return _json({"mode": reg.state.mode(request.match_info.get("subject"))})


async def put_mode(request: web.Request) -> web.Response:
    return _json(await _reg(request).set_mode(request.match_info.get("subject"),
                                              await _body(request)))


async def delete_mode(request: web.Request) -> web.Response:
    return _json(await _reg(request).delete_mode(_subject(request)))


async def check_compatibility(request: web.Request) -> web.Response:
    reg = _reg(request)
    await reg.log.sync()
    out = reg.compatibility(_subject(request), request.match_info.get("version"),
                            await _body(request))
    if not _flag(request, "verbose"):
        out.pop("messages", None)
    return _json(out)


def build_app(registry: Registry, *, user_info: str | None = None) -> web.Application:
    middlewares = [errors] + ([basic_auth(user_info)] if user_info else [])
    app = web.Application(middlewares=middlewares)
    app[REGISTRY] = registry
    s = "/subjects/{subject}"
    v = s + "/versions/{version}"
    app.router.add_routes([
        web.get("/", root), web.get("/schemas/types", schema_types),
        web.get("/contexts", contexts),
        web.get("/subjects", list_subjects),
        web.get(s + "/versions", list_versions), web.post(s + "/versions", register),
        web.post(s, lookup), web.delete(s, delete_subject),
        web.get(v, get_version), web.delete(v, delete_version),
        web.get(v + "/schema", get_version_schema),
        web.get(v + "/referencedby", referenced_by),
        web.get("/schemas/ids/{id}", schema_by_id),
        web.get("/schemas/ids/{id}/schema", schema_by_id_raw),
        web.get("/schemas/ids/{id}/versions", schema_versions),
        web.get("/schemas/ids/{id}/subjects", schema_subjects),
        web.get("/config", get_config), web.put("/config", put_config),
        web.get("/config/{subject}", get_config), web.put("/config/{subject}", put_config),
        web.delete("/config/{subject}", delete_config),
        web.get("/mode", get_mode), web.put("/mode", put_mode),
        web.get("/mode/{subject}", get_mode), web.put("/mode/{subject}", put_mode),
        web.delete("/mode/{subject}", delete_mode),
        web.post("/compatibility/subjects/{subject}/versions", check_compatibility),
        web.post("/compatibility/subjects/{subject}/versions/{version}", check_compatibility),
    ])
    return app


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class DemoSchemaRegistry:
    """The registry on a loopback port, its schemas on `topic` of the broker at `bootstrap`.
    `port=0` picks a free one (known from construction, so a config can name the URL
    before the registry starts)."""

    def __init__(self, bootstrap: str, *, port: int = 0, host: str = "127.0.0.1",
                 topic: str = DEFAULT_TOPIC, user_info: str | None = None) -> None:
        self.bootstrap = bootstrap
        self.host = host
        self.port = port or free_port(host)
        self.topic = topic
        self.user_info = user_info
        self.log: SchemaLog | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self.log = SchemaLog(self.bootstrap, self.topic)
        await self.log.start()
        runner = web.AppRunner(build_app(Registry(self.log), user_info=self.user_info),
                               access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            await self.log.stop()
            raise
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.log is not None:
            await self.log.stop()
            self.log = None

    async def __aenter__(self) -> DemoSchemaRegistry:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _serve(args: argparse.Namespace) -> None:
    reg = DemoSchemaRegistry(args.bootstrap, port=args.port, host=args.host, topic=args.topic,
                             user_info=args.basic_auth)
    await reg.start()
    print(f"schema registry listening on {reg.url} (schemas on {args.topic} at "
          f"{args.bootstrap})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await reg.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m kafkaops.demo.schema_registry",
                                description="The demo/test Schema Registry (Confluent REST).")
    p.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--topic", default=DEFAULT_TOPIC)
    p.add_argument("--basic-auth", metavar="USER:PASSWORD", help="require these credentials")
    args = p.parse_args(argv)
    if args.basic_auth is not None and ":" not in args.basic_auth:
        p.error("--basic-auth: expected USER:PASSWORD")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()

__all__ = ["DemoSchemaRegistry", "build_app", "free_port"]
