"""core/kafka/clients.py: every aiokafka client is closed on every way out (failed start,
cancellation during the start, an error in the body), against the real broker and against
servers that refuse or never answer. And AuditLog, cancelled while it starts its consumer,
leaves no producer running."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from kafkaops.core.config import ClusterConfig, parse_config
from kafkaops.core.errors import ClusterUnreachable
from kafkaops.core.kafka import clients
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.groups import group_members
from kafkaops.core.services import Services

from .conftest import unique

# ---------------------------------------------------------------- servers of our own


@dataclass
class Server:
    """A TCP server on a free loopback port that counts connections and sees them close.
    The first `forward` connections are piped to `upstream`; the others get no answer."""

    upstream: str | None = None
    forward: int = 0
    accepted: int = 0
    silent_open: int = 0
    silent: asyncio.Event = field(default_factory=asyncio.Event)  # one got no answer
    silent_closed: asyncio.Event = field(default_factory=asyncio.Event)  # ...and was closed
    port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            if self.upstream is not None and self.accepted <= self.forward:
                host, port = self.upstream.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
                return
            self.silent_open += 1
            self.silent.set()
            while await reader.read(65536):  # never answer; wait for the client to close
                pass
            self.silent_open -= 1
            if self.silent_open == 0:
                self.silent_closed.set()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        dst.close()


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[Server]:
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = srv.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        srv.close()


def cfg(bootstrap: str) -> ClusterConfig:
    return ClusterConfig(bootstrap_servers=bootstrap)


OPENERS: dict[str, Callable[..., Any]] = {
    "consumer": lambda c, **kw: clients.consumer("x", c, group_id=None, **kw),
    "producer": lambda c, **kw: clients.producer("x", c, **kw),
    "admin": lambda c, **kw: clients.admin("x", c, **kw),
    "client": lambda c, **kw: clients.client("x", c, **kw),
}


def closed(made: Any) -> bool:
    """aiokafka's own flag: consumer, producer and admin client set `_closed` on close."""
    return made._closed is True


# ---------------------------------------------------------------- the four clients


@pytest.mark.parametrize("kind", sorted(OPENERS))
async def test_a_failed_start_closes_the_client_and_says_what_to_check(kind) -> None:
    made: list[Any] = []
    with pytest.raises(ClusterUnreachable) as e:
        async with OPENERS[kind](cfg("127.0.0.1:1"), created=made.append):
            pytest.fail("a client started against nothing")
    assert str(e.value).startswith("cluster 'x' unreachable at 127.0.0.1:1: ")
    assert "check clusters.x.bootstrap_servers" in str(e.value)
    assert e.value.retriable and e.value.cluster == "x"
    if kind != "client":  # AIOKafkaClient keeps no closed flag; its connections are gone
        assert closed(made[0])


@pytest.mark.parametrize("kind", sorted(OPENERS))
async def test_cancelled_during_its_start_the_client_closes_its_connection(kind) -> None:
    """A broker that accepts and never answers: the start hangs until it is cancelled; the
    connection it opened is closed (the server sees it go), the client is closed."""
    made: list[Any] = []
    async with serving(Server()) as server:
        async def start() -> None:
            async with OPENERS[kind](cfg(server.address), created=made.append):
                pytest.fail("started against a broker that never answers")

        task = asyncio.create_task(start())
        await server.silent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.silent_closed.wait(), 10)
    if kind != "client":
        assert closed(made[0])


@pytest.mark.parametrize("kind", sorted(OPENERS))
async def test_an_error_in_the_body_closes_the_client_and_passes_through(kind, bootstrap):
    made: list[Any] = []
    with pytest.raises(LookupError, match="the body failed"):
        async with OPENERS[kind](cfg(bootstrap), created=made.append) as c:
            assert c is made[0]
            if kind != "client":
                assert not closed(c)
            raise LookupError("the body failed")
    if kind != "client":
        assert closed(made[0])


async def test_a_group_member_leaves_its_group_on_the_way_out(bootstrap, services) -> None:
    """Tansu gap: its generations start at 0 and aiokafka leaves a group only above 0; the
    consumer context sends the LeaveGroup itself, so the group is empty at once."""
    topic, group = unique("leave"), unique("g")
    conn = await services.connection()
    from kafkaops.core.kafka.topicio import ensure_topics

    await ensure_topics(conn, {topic: (1, {})})
    async with clients.consumer(conn, topics=[topic], group_id=group,
                                enable_auto_commit=False) as consumer:
        assert consumer.assignment()  # start() waited for the assignment
        assert (await group_members(conn, group))[1] == 1
    state, members = await group_members(conn, group)
    assert members == 0, state


async def test_clients_started_together_close_together_when_one_fails(bootstrap) -> None:
    made: list[Any] = []
    with pytest.raises(ClusterUnreachable, match="127.0.0.1:1"):
        async with contextlib.AsyncExitStack() as stack:
            await clients.enter_together(
                stack, clients.producer("ok", cfg(bootstrap), created=made.append),
                clients.consumer("x", cfg("127.0.0.1:1"), created=made.append))
    assert len(made) == 2 and all(closed(m) for m in made)


async def test_a_connection_that_cannot_start_leaves_nothing_open() -> None:
    async with serving(Server()) as server:
        conn = KafkaConnection("hung", cfg(server.address))
        task = asyncio.create_task(conn.start())
        await server.silent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.silent_closed.wait(), 10)
        assert server.silent_open == 0
    with pytest.raises(RuntimeError, match="before start"):
        _ = conn.client


# ---------------------------------------------------------------- AuditLog


def aiokafka_clients_at(address: str) -> list[Any]:
    """Every aiokafka consumer and producer alive in this process bootstrapped at
    `address` (only this test's: the address is its own proxy's)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    gc.collect()
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, AIOKafkaProducer):
            servers = obj.client._bootstrap_servers
        elif isinstance(obj, AIOKafkaConsumer):
            servers = obj._client._bootstrap_servers
        else:
            continue
        if address in servers:
            found.append(obj)
    return found


async def test_audit_log_cancelled_while_starting_its_consumer_leaves_no_producer(
        config_data, bootstrap) -> None:
    """The audit writer starts a producer, then a consumer. A proxy in front of the broker
    forwards the connection's bootstrap (its client and admin share one) and the
    producer's, and never answers the consumer's: the start hangs there, and is cancelled
    (a console closing, a deadline).
    Nothing it opened may stay open: the producer it had started is closed too."""
    async with serving(Server(upstream=bootstrap, forward=2)) as proxy:
        data = {**config_data, "clusters": {"p": {"bootstrap_servers": proxy.address}},
                "default_cluster": "p",
                "audit": {"signing_key": "k", "topic": unique("_kafkaops.audit")}}
        async with Services(parse_config(data)) as services:
            conn = await services.connection("p")
            await conn.metadata()
            assert proxy.accepted == 1  # the connection bootstrapped, once for both clients
            audit = await services.audit("p")
            preparing = asyncio.create_task(audit.prepare())
            await proxy.silent.wait()  # the consumer's bootstrap: no answer
            assert proxy.accepted == 3  # ...after the producer's, which started
            [producer] = [c for c in aiokafka_clients_at(proxy.address)
                          if type(c).__name__ == "AIOKafkaProducer"]
            assert producer._sender.sender_task is not None  # it had started
            preparing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await preparing
            await asyncio.wait_for(proxy.silent_closed.wait(), 10)
            left = aiokafka_clients_at(proxy.address)
            assert left and all(c._closed for c in left), [
                (type(c).__name__, c._closed) for c in left]
            assert producer._sender.sender_task.done()
            assert audit._producer is None and not audit._ready
