"""core/connect against a real Kafka Connect 3.9 worker on the embedded broker: listing with
state, tasks, traces and sink lag; every change planned, applied, audited, refused on a
read-only cluster, and seen in what the REST API reports; and the faults (unknown
connector or task, unreachable worker, a URL that is not Connect, bad basic auth, 409)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kafkaops.core.config import parse_config
from kafkaops.core.connect.client import ConnectClient
from kafkaops.core.connect.errors import (
    ConnectAuthError,
    ConnectorNotFound,
    ConnectRebalancing,
    ConnectUnreachable,
    NotConnect,
)
from kafkaops.core.connect.model import ChangeRequest
from kafkaops.core.connect.service import ConnectService
from kafkaops.core.errors import Refused
from kafkaops.core.services import Services
from kafkaops.demo.connect_worker import ConnectWorker
from kafkaops.demo.embedded import free_port
from tests.conftest import produce, unique
from tests.connect_support import (
    auth_proxy,
    connect_config,
    file_sink,
    file_source,
    put_connector,
    static_server,
    status,
    wait_state,
    wait_until,
)


@pytest.fixture
def data(config_data: dict, connect_worker: ConnectWorker) -> dict:
    return connect_config(config_data, connect_worker.url)


@pytest.fixture
async def services(data: dict) -> AsyncIterator[Services]:
    async with Services(parse_config(data, "<connect test>")) as s:
        yield s


@pytest.fixture
async def connect(services: Services) -> AsyncIterator[ConnectService]:
    async with ConnectService(services) as c:
        yield c


async def lone_sink(url: str, tmp_path: Path, prefix: str) -> str:
    """A healthy FileStream sink of its own (for tests that change it), RUNNING."""
    name = unique(prefix)
    await put_connector(url, name, file_sink(tmp_path / "o.txt", unique("t")))
    await wait_state(url, name, "RUNNING", ["RUNNING"])
    return name


async def audit_of(services: Services, target: str) -> list[tuple[str, str, object]]:
    records = await (await services.audit()).records()
    return [(r.action, r.result, r.detail) for r in records if r.target == target]


async def test_listing_shows_state_tasks_trace_config_and_sink_lag(
        connect: ConnectService, connect_worker: ConnectWorker, connect_trio) -> None:
    d, src, good, bad = connect_trio

    async def caught_up():
        listing = await connect.listing()
        lag = listing.lag.get(good)
        return listing if lag is not None and lag.lag == 0 and lag.status == "OK" else None

    listing = await wait_until("the healthy sink to deliver every line", caught_up)
    assert listing.worker.version == "3.9.0" and listing.connect == "ingest"
    assert connect_worker.url.split("//")[1] in listing.workers
    by = {c.name: c for c in listing.connectors}
    assert (by[src].type, by[src].state, by[src].task_counts) == ("source", "RUNNING",
                                                                  {"RUNNING": 1})
    assert (by[bad].type, by[bad].state, by[bad].task_counts) == ("sink", "RUNNING",
                                                                  {"FAILED": 1})
    trace = by[bad].failed_tasks[0].trace or ""
    assert "Couldn't find or create file" in trace
    assert "Caused by: java.nio.file.NoSuchFileException" in trace
    assert by[good].group == f"connect-{good}" and src not in listing.lag
    assert listing.lag[good].group == f"connect-{good}"
    assert (d / "out.txt").read_text() == "line 0\nline 1\nline 2\n"


async def test_config_is_shown_with_secrets_redacted(connect: ConnectService, connect_trio) -> None:
    c = await connect.connector(connect_trio[2])
    assert c.config["consumer.override.sasl.jaas.config"] == "***"
    assert c.config["topics"].startswith("lines-")
    assert "hunter2" not in repr(c)


async def test_restart_failed_only_brings_back_a_fixed_sink_and_is_audited(
        connect: ConnectService, services: Services, connect_worker: ConnectWorker,
        bootstrap: str, tmp_path: Path) -> None:
    topic, bad = unique("lines"), unique("bad")
    await produce(bootstrap, topic, [b'"line 0"', b'"line 1"'])
    await put_connector(connect_worker.url, bad, file_sink(tmp_path / "missing" / "out.txt",
                                                           topic))
    await wait_state(connect_worker.url, bad, "RUNNING", ["FAILED"])
    plan = await connect.plan(ChangeRequest("restart", bad, failed_only=True))
    assert plan.noop is None and plan.targets == (0,) and plan.state == "RUNNING"
    assert [t.state for t in plan.tasks] == ["FAILED"]
    (tmp_path / "missing").mkdir()  # the cause is fixed
    result = await connect.apply(plan, actor="alice@host", face="cli")
    assert (result.state, [t.state for t in result.tasks]) == ("RUNNING", ["RUNNING"])
    reported = await status(connect_worker.url, bad)
    assert [t["state"] for t in reported["tasks"]] == ["RUNNING"]
    written = await wait_until("the restarted sink to write both records",
                               lambda: _read(tmp_path / "missing" / "out.txt", lines=2))
    assert sorted(written.splitlines()) == ["line 0", "line 1"]
    ((action, outcome, detail),) = await audit_of(services, f"ingest/{bad}")
    assert (action, outcome) == ("connect.restart", "ok")
    assert detail["state_after"] == "RUNNING" and detail["tasks_after"] == "1 RUNNING"


async def _read(path: Path, lines: int) -> str | None:
    def read() -> str | None:
        text = path.read_text() if path.exists() else ""
        return text if text.count("\n") >= lines else None

    return await asyncio.to_thread(read)


async def test_a_restart_whose_cause_is_not_fixed_reports_it_failed_again(
        connect: ConnectService, services: Services, connect_trio) -> None:
    bad = connect_trio[3]
    plan = await connect.plan(ChangeRequest("restart", bad, task=0))
    result = await connect.apply(plan, actor="alice@host", face="cli")
    assert [t.state for t in result.tasks] == ["FAILED"]
    ((_, outcome, detail),) = await audit_of(services, f"ingest/{bad}/task 0")
    assert outcome == "ok" and detail["tasks_after"] == "1 FAILED"


async def test_a_change_that_changes_nothing_says_so_and_writes_nothing(
        connect: ConnectService, services: Services, connect_trio) -> None:
    good = connect_trio[2]
    for req in (ChangeRequest("restart", good, failed_only=True), ChangeRequest("resume", good)):
        plan = await connect.plan(req)
        assert plan.noop is not None
        result = await connect.apply(plan, actor="alice@host", face="cli")
        assert result.message.startswith("nothing to change: ")
    assert await audit_of(services, f"ingest/{good}") == []


async def test_pause_resume_and_stop_change_what_the_rest_api_reports(
        connect: ConnectService, services: Services, connect_worker: ConnectWorker,
        tmp_path: Path) -> None:
    name = await lone_sink(connect_worker.url, tmp_path, "life")
    for action, state, tasks in (("pause", "PAUSED", ["PAUSED"]),
                                 ("resume", "RUNNING", ["RUNNING"]),
                                 ("stop", "STOPPED", [])):
        result = await connect.apply(await connect.plan(ChangeRequest(action, name)),  # type: ignore[arg-type]
                                     actor="bob@host", face="console")
        assert result.state == state
        reported = await status(connect_worker.url, name)
        assert (reported["connector"]["state"], [t["state"] for t in reported["tasks"]]) \
            == (state, tasks)
    audit = await audit_of(services, f"ingest/{name}")
    assert [(a, r, d["state_after"]) for a, r, d in audit] == [
        ("connect.pause", "ok", "PAUSED"), ("connect.resume", "ok", "RUNNING"),
        ("connect.stop", "ok", "STOPPED")]


async def test_offsets_are_read_and_reset_only_when_stopped(
        connect: ConnectService, services: Services, connect_worker: ConnectWorker,
        tmp_path: Path) -> None:
    name = unique("src")
    (tmp_path / "in.txt").write_text("a\nbb\n")
    await put_connector(connect_worker.url, name, file_source(tmp_path / "in.txt", unique("t")))

    async def position():
        offs = (await connect.offsets(name)).offsets
        return offs if offs and offs[0].offset else None

    (offset,) = await wait_until("the source to commit its position", position)
    assert offset.partition == {"filename": str(tmp_path / "in.txt")}
    assert offset.offset == {"position": 5}
    running = await connect.plan(ChangeRequest("reset-offsets", name))
    assert running.blocked is not None
    with pytest.raises(Refused, match="only be reset while it is STOPPED"):
        await connect.apply(running, actor="alice@host", face="cli")
    await connect.apply(await connect.plan(ChangeRequest("stop", name)), actor="a", face="cli")
    result = await connect.apply(await connect.plan(ChangeRequest("reset-offsets", name)),
                                 actor="alice@host", face="cli")
    assert "reset successfully" in result.message
    # a reset source partition reads back as null, or not at all once compacted away
    assert all(o.offset is None for o in (await connect.offsets(name)).offsets)
    assert [(a, r) for a, r, _ in await audit_of(services, f"ingest/{name}")] == [
        ("connect.stop", "ok"), ("connect.reset-offsets", "ok")]


async def test_delete_removes_the_connector(connect: ConnectService, services: Services,
                                            connect_worker: ConnectWorker,
                                            tmp_path: Path) -> None:
    name = await lone_sink(connect_worker.url, tmp_path, "gone")
    plan = await connect.plan(ChangeRequest("delete", name))
    assert f"committed offsets stay (consumer group connect-{name})" in plan.will
    result = await connect.apply(plan, actor="alice@host", face="cli")
    assert result.state == "DELETED"
    async with httpx.AsyncClient(base_url=connect_worker.url) as http:
        assert (await http.get(f"/connectors/{name}")).status_code == 404
    with pytest.raises(ConnectorNotFound):
        await connect.connector(name)


async def test_read_only_cluster_refuses_every_change_and_writes_nothing(
        data: dict, connect_worker: ConnectWorker, connect_trio) -> None:
    good = connect_trio[2]
    data["clusters"]["primary"]["read_only"] = True
    async with Services(parse_config(data, "<ro>")) as services, \
            ConnectService(services) as connect:
        assert (await connect.listing(lag=False)).get(good) is not None  # reads still work
        for action in ("pause", "stop", "delete", "restart"):
            plan = await connect.plan(ChangeRequest(action, good))  # type: ignore[arg-type]
            assert plan.read_only
            with pytest.raises(Refused, match="cluster 'primary' is read-only"):
                await connect.apply(plan, actor="alice@host", face="cli")
        reported = await status(connect_worker.url, good)
        assert reported["connector"]["state"] == "RUNNING"
        assert await audit_of(services, f"ingest/{good}") == []


async def test_unknown_connector_and_task_are_clear_errors(connect: ConnectService,
                                                           connect_trio) -> None:
    with pytest.raises(ConnectorNotFound, match=r"^Connect 'ingest' \(cluster primary\) at "
                                                r"http://127.0.0.1:\d+: Connector nope not "
                                                r"found$"):
        await connect.connector("nope")
    with pytest.raises(ConnectorNotFound):
        await connect.plan(ChangeRequest("pause", "nope"))
    with pytest.raises(ConnectorNotFound, match=rf"connector '{connect_trio[2]}' has no task 9 "
                                                r"\(tasks: 0\)"):
        await connect.plan(ChangeRequest("restart", connect_trio[2], task=9))


async def _service(config_data: dict, url: str, **extra: object) -> Services:
    return Services(parse_config(connect_config(config_data, url, **extra), "<t>"))


async def test_an_unreachable_worker_is_a_retriable_error_naming_the_key(
        config_data: dict) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with await _service(config_data, url) as s, ConnectService(s) as c:
        with pytest.raises(ConnectUnreachable) as e:
            await c.listing()
    assert e.value.retriable
    assert str(e.value) == (f"Connect 'ingest' (cluster primary) at {url} is unreachable "
                            "(connection refused); check clusters.primary.connect[0].url and "
                            "that a worker runs there")


@pytest.mark.parametrize(("status_code", "body", "ctype", "words"), [
    (200, "<html><body>Grafana</body></html>", "text/html", "with text/html"),
    (200, '{"status": "ok"}', "application/json", "in a shape Kafka Connect's REST API "
                                                  "does not use"),
    (404, "Not Found", "text/plain", "answered 404 to GET / without Kafka Connect's error body"),
    (500, "oops", "text/plain", "HTTP 500 and no Kafka Connect error body"),
])
async def test_a_url_that_is_not_connect_says_so(config_data: dict, status_code: int,
                                                 body: str, ctype: str, words: str) -> None:
    async with static_server(status_code, body, ctype) as web, \
            await _service(config_data, web.url) as s, ConnectService(s) as c:
        with pytest.raises(NotConnect) as e:
            await c.info()
    assert words in str(e.value) and "clusters.primary.connect[0]" in str(e.value)
    assert e.value.exit_code == 2


async def test_a_kafka_port_is_not_connect(config_data: dict, bootstrap: str) -> None:
    config_data = {**config_data, "clusters": {"primary": {
        **config_data["clusters"]["primary"], "request_timeout": "1s"}}}
    async with await _service(config_data, f"http://{bootstrap}") as s, \
            ConnectService(s) as c:
        with pytest.raises((NotConnect, ConnectUnreachable)) as e:
            await c.info()
    assert "clusters.primary.connect[0].url" in str(e.value)


async def test_basic_auth_through_a_proxy_in_front_of_the_worker(
        config_data: dict, connect_worker: ConnectWorker, monkeypatch) -> None:
    monkeypatch.setenv("CONNECT_PW", "right")
    async with auth_proxy(connect_worker.url, "ops", "right") as proxy:
        good = {"basic_auth": {"username": "ops", "password": "${CONNECT_PW}"}}
        async with await _service(config_data, proxy.url, **good) as s, ConnectService(s) as c:
            assert (await c.info()).version == "3.9.0"  # the real worker, behind the proxy
        monkeypatch.setenv("CONNECT_PW", "wrong")
        async with await _service(config_data, proxy.url, **good) as s, ConnectService(s) as c:
            with pytest.raises(ConnectAuthError) as e:
                await c.listing()
        assert str(e.value) == (f"Connect 'ingest' (cluster primary) at {proxy.url} refused the "
                                "request (401 Unauthorized: user 'ops' was refused); check "
                                "clusters.primary.connect[0].basic_auth")
        assert e.value.exit_code == 2
        async with await _service(config_data, proxy.url) as s, ConnectService(s) as c:
            with pytest.raises(ConnectAuthError, match="no basic_auth is configured"):
                await c.listing()


async def test_a_409_during_a_rebalance_is_retried_then_goes_through(
        connect: ConnectService, services: Services, connect_worker: ConnectWorker,
        tmp_path: Path) -> None:
    # A plan made while the connector runs, applied after someone stopped it: the real
    # worker answers a task restart with 409 ("no known leader URL, likely because a
    # rebalance was underway") until the connector runs again, which the first retry
    # notice makes happen here.
    name = await lone_sink(connect_worker.url, tmp_path, "busy")
    plan = await connect.plan(ChangeRequest("restart", name, task=0))
    async with httpx.AsyncClient(base_url=connect_worker.url) as http:
        await http.put(f"/connectors/{name}/stop")
    await wait_state(connect_worker.url, name, "STOPPED", [])
    notes: list[str] = []

    async def on_retry(note: str) -> None:
        if not notes:
            async with httpx.AsyncClient(base_url=connect_worker.url) as http:
                await http.put(f"/connectors/{name}/resume")
        notes.append(note)

    result = await connect.apply(plan, actor="alice@host", face="cli", on_retry=on_retry)
    assert notes[0].startswith("Connect is rebalancing (409: Cannot complete request "
                               "momentarily due to no known leader URL")
    assert "trying again in 0.5 s" in notes[0]
    assert result.retries and result.state == "RUNNING"
    ((_, outcome, detail),) = await audit_of(services, f"ingest/{name}/task 0")
    assert outcome == "ok" and detail["rebalance_retries"] == len(result.retries)


async def test_a_409_that_lasts_is_a_conflict_and_audited_as_an_error(
        services: Services, connect_worker: ConnectWorker, tmp_path: Path) -> None:
    name = await lone_sink(connect_worker.url, tmp_path, "stuck")
    base = ConnectService(services)
    client = ConnectClient("primary", base.entry, retries=(0.1, 0.1))
    async with ConnectService(services, client=client) as connect:
        plan = await connect.plan(ChangeRequest("restart", name, task=0))
        async with httpx.AsyncClient(base_url=connect_worker.url) as http:
            await http.put(f"/connectors/{name}/stop")
        await wait_state(connect_worker.url, name, "STOPPED", [])
        with pytest.raises(ConnectRebalancing) as e:
            await connect.apply(plan, actor="alice@host", face="cli")
    await base.aclose()
    assert e.value.exit_code == 3 and e.value.retriable
    assert "is rebalancing or its config changed during the request (409: Cannot complete " \
           "request momentarily" in str(e.value)
    assert "tried 3 times" in str(e.value) and "try again in a moment" in str(e.value)
    ((action, outcome, _),) = await audit_of(services, f"ingest/{name}/task 0")
    assert (action, outcome) == ("connect.restart", "error")


async def test_sink_lag_is_unknown_with_a_reason_when_kafka_does_not_answer(
        config_data: dict, connect_worker: ConnectWorker, connect_trio) -> None:
    data = connect_config(config_data, connect_worker.url)
    data["clusters"]["primary"]["bootstrap_servers"] = f"127.0.0.1:{free_port()}"
    data["clusters"]["primary"]["request_timeout"] = "2s"
    async with Services(parse_config(data, "<t>")) as s, ConnectService(s) as c:
        listing = await c.listing()
    assert listing.get(connect_trio[2]) is not None  # the worker answered: connectors are shown
    assert connect_trio[2] not in listing.lag and listing.lag_error  # lag is unknown, and why
    assert "unreachable" in listing.lag_error


async def test_concurrent_reads_share_one_client(connect: ConnectService) -> None:
    infos = await asyncio.gather(*(connect.info() for _ in range(5)))
    assert {i.version for i in infos} == {"3.9.0"}
