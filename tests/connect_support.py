"""A real Apache Kafka Connect 3.9 worker for the Connect tests, and what they share.

One worker per test session (conftest's `connect_worker` fixture), in distributed mode,
against the session's primary embedded broker. Its jars are installed on first use
(`kafkaops.demo.connect_install`, cached outside the repo); without Java the tests that
need it are skipped, saying why, and only then.

Tests name their connectors with `unique()` so they never meet; connectors are created
through the REST API itself (PUT /connectors/<name>/config), never faked.
"""

from __future__ import annotations

import asyncio
import copy
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from kafkaops.demo import connect_install as install
from kafkaops.demo.connect_worker import ConnectWorker

T = TypeVar("T")
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
#: what tests call the session worker's Connect cluster in config
CONNECT_NAME = "ingest"
#: measured in this session, for the note in docs/connect.md and the report
TIMINGS: dict[str, float] = {}


def start_worker(bootstrap: str) -> Iterator[ConnectWorker]:
    """The session's worker: skipped without Java, installed on first use, stopped at the
    end. Reports its start time on stderr."""
    if install.find_java() is None:
        pytest.skip(f"Kafka Connect tests need Java: {install.missing()}")
    if install.find_installation() is None:
        try:
            install.install()
        except Exception as e:
            pytest.fail(f"Java is here but the Connect worker cannot be installed: {e}",
                        pytrace=False)
    worker = ConnectWorker(bootstrap, group_id="kafkaops-test-connect").start()
    try:
        ready = worker.wait_ready_sync()
        TIMINGS["worker_ready_seconds"] = ready
        sys.stderr.write(f"\n[connect] worker {worker.url} ready in {ready:.1f}s\n")
        yield worker
    finally:
        worker.stop()


def connect_config(base: dict[str, Any], url: str, **extra: Any) -> dict[str, Any]:
    """Config data naming the session's broker and the worker as clusters.primary.connect."""
    data = copy.deepcopy(base)
    data["clusters"]["primary"]["connect"] = [{"name": CONNECT_NAME, "url": url, **extra}]
    return data


async def put_connector(url: str, name: str, config: dict[str, str]) -> None:
    """Create (or reconfigure) a connector through the REST API; retried on 409, which a
    worker answers while a rebalance another test started is under way."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for _ in range(40):
            resp = await http.put(f"/connectors/{name}/config", json={"name": name, **config})
            if resp.status_code != 409:
                assert resp.status_code in (200, 201), resp.text
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"PUT {name} kept answering 409: {resp.text}")


async def status(url: str, name: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        resp = await http.get(f"/connectors/{name}/status")
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


async def wait_until(what: str, probe: Callable[[], Awaitable[T | None]],
                     within: float = 60.0) -> T:
    """Poll `probe` until it returns something truthy (no fixed sleeps in assertions)."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def wait_state(url: str, name: str, connector: str | None = None,
                     tasks: list[str] | None = None, within: float = 60.0) -> dict[str, Any]:
    """The connector's status once its state and its tasks' states are as given."""

    async def probe() -> dict[str, Any] | None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            resp = await http.get(f"/connectors/{name}/status")
        if resp.status_code == 404:  # just created: its status is not written yet
            return None
        assert resp.status_code == 200, resp.text
        s: dict[str, Any] = resp.json()
        got_tasks = [t["state"] for t in s.get("tasks", [])]
        if connector is not None and s["connector"]["state"] != connector:
            return None
        if tasks is not None and got_tasks != tasks:
            return None
        return s

    return await wait_until(f"{name} to be {connector} with tasks {tasks}", probe, within)


def file_source(path: Path, topic: str) -> dict[str, str]:
    return {"connector.class": FILE_SOURCE, "file": str(path), "topic": topic,
            "tasks.max": "1"}


def file_sink(path: Path, topic: str) -> dict[str, str]:
    return {"connector.class": FILE_SINK, "file": str(path), "topics": topic,
            "tasks.max": "1"}


# ---------------------------------------------------------------- HTTP servers in front


class FrontServer:
    """A local HTTP server for the fault cases around a real worker: an auth proxy (basic
    auth checked here, everything else forwarded to the worker, as nginx in front of
    Connect does), or something at a URL that is not Connect at all."""

    def __init__(self, handler: Callable[[Any], Awaitable[Any]]) -> None:
        self.handler = handler
        self.url = ""
        self._runner: Any = None

    async def __aenter__(self) -> FrontServer:
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


def auth_proxy(worker_url: str, user: str, password: str) -> FrontServer:
    """Basic auth in front of the real worker: 401 without the right credentials."""
    import base64

    from aiohttp import web

    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def handle(request: Any) -> Any:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="connect"'},
                                text="Unauthorized")
        async with httpx.AsyncClient(base_url=worker_url, timeout=30) as http:
            resp = await http.request(request.method, request.path_qs,
                                      content=await request.read(),
                                      headers={"Content-Type": request.content_type})
        return web.Response(status=resp.status_code, body=resp.content,
                            headers={"Content-Type": resp.headers.get("content-type",
                                                                      "application/json")})

    return FrontServer(handle)


def static_server(status: int, body: str, content_type: str) -> FrontServer:
    """Answers every request the same way: a web page, some other JSON API, a 404."""
    from aiohttp import web

    async def handle(request: Any) -> Any:
        return web.Response(status=status, text=body, content_type=content_type)

    return FrontServer(handle)


async def source_and_sinks(url: str, d: Path, lines: int = 3) -> tuple[str, str, str, str]:
    """A FileStream source feeding a fresh topic, a healthy sink (with a secret in its
    config) and a sink that fails (its file's directory does not exist), created together.
    Returns (topic, source, healthy, failing) once the failing sink's task is FAILED."""
    from tests.conftest import unique

    topic, src, good, bad = unique("lines"), unique("src"), unique("good"), unique("bad")
    await asyncio.to_thread((d / "in.txt").write_text,
                            "".join(f"line {i}\n" for i in range(lines)))
    secret = {"consumer.override.sasl.jaas.config": 'org.x required password="hunter2";'}
    await asyncio.gather(
        put_connector(url, src, file_source(d / "in.txt", topic)),
        put_connector(url, good, {**file_sink(d / "out.txt", topic), **secret}),
        put_connector(url, bad, file_sink(d / "missing" / "out.txt", topic)))
    await asyncio.gather(wait_state(url, src, "RUNNING", ["RUNNING"]),
                         wait_state(url, good, "RUNNING", ["RUNNING"]),
                         wait_state(url, bad, "RUNNING", ["FAILED"]))
    return topic, src, good, bad
