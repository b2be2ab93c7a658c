"""The one place that builds aiokafka clients: each is an async context manager.

    async with clients.consumer(conn, group_id=None) as consumer: ...
    producer = await stack.enter_async_context(clients.producer(name, cfg, acks="all"))

`consumer`, `producer`, `admin` and `client` take a cluster (a KafkaConnection, or its name
and ClusterConfig), build the client from the cluster's config (`client_options`) plus the
caller's keyword arguments, start it, and close it on every path out: a failed start, a
cancellation during the start, an exception in the body, a normal exit. A service that keeps
a client for its lifetime enters it on its own `contextlib.AsyncExitStack` in `start()` and
closes the stack in `stop()`; aiokafka's clients bind to the running loop, so they are never
built at import time.

A failed start leaves as core's error (core/kafka/errors.py): ClusterUnreachable naming the
cluster, or the refused SASL credentials. A body's own errors pass through untouched; wrap
the calls in `map_kafka_errors` where they talk to the cluster.

`admin_on` makes an admin client that shares a started `client` (KafkaConnection's pair).

Also here: `client_options` (the keyword arguments every client gets from config),
`reader_clients` / `quiet_aiokafka_here`, two behaviours scoped to readers' clients, and
the bootstrap of `client` that asks for the brokers only (`_BROKERS_ONLY`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import ConfigError
from kafkaops.core.kafka.errors import (
    Cluster,
    cluster_of,
    is_kafka_error,
    map_kafka_errors,
    refused_credentials,
)

log = logging.getLogger("kafkaops.core.kafka")


def client_options(name: str, cfg: ClusterConfig) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client, from a cluster's config."""
    opts: dict[str, Any] = {
        "bootstrap_servers": cfg.bootstrap_list,
        "security_protocol": cfg.security_protocol,
        "request_timeout_ms": int(cfg.request_timeout * 1000),
        "client_id": f"kafkaops-{name}",
    }
    if cfg.security_protocol in ("SSL", "SASL_SSL"):
        opts["ssl_context"] = _ssl_context(name, cfg)
    if cfg.security_protocol.startswith("SASL"):
        if cfg.sasl is None:
            raise ConfigError(
                f"clusters.{name}.sasl: required when security_protocol is {cfg.security_protocol}"
            )
        opts["sasl_mechanism"] = cfg.sasl.mechanism
        opts["sasl_plain_username"] = cfg.sasl.username
        opts["sasl_plain_password"] = cfg.sasl.password.reveal()
    return opts


def _ssl_context(name: str, cfg: ClusterConfig) -> ssl.SSLContext:
    tls = cfg.tls
    try:
        ctx = ssl.create_default_context(cafile=tls.ca_file if tls else None)
        if tls and tls.cert_file:
            password = tls.key_password.reveal() if tls.key_password.is_set else None
            ctx.load_cert_chain(tls.cert_file, tls.key_file, password=password)
        if tls and not tls.check_hostname:
            ctx.check_hostname = False
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"clusters.{name}.tls: cannot load TLS files: {e}") from None
    return ctx


# ---------------------------------------------------------------- the four clients


@contextlib.asynccontextmanager
async def consumer(
    cluster: str | Cluster, config: ClusterConfig | None = None, *,
    topics: Sequence[str] = (), reader: bool = False, doing: str | None = None,
    created: Callable[[Any], None] | None = None, **options: Any,
) -> AsyncIterator[Any]:
    """A started AIOKafkaConsumer (subscribed to `topics` when given). `reader`: its
    metadata requests never create a topic (see `reader_clients`). On the way out a group
    member leaves its group, so the others take its partitions at once.

    Every one of the four takes `created`: called with the client before it starts (to
    hook its connections, or subscribe with a rebalance listener), and `doing`, which
    words the error of a failed start ("read 'flags'")."""
    from aiokafka import AIOKafkaConsumer

    name, cfg = cluster_of(cluster, config)
    made = AIOKafkaConsumer(*topics, **{**client_options(name, cfg), **options})
    async with _started(made, made.start(), _stop_consumer(made), name, cfg, doing, reader,
                        created):
        yield made


@contextlib.asynccontextmanager
async def producer(
    cluster: str | Cluster, config: ClusterConfig | None = None, *, reader: bool = False,
    doing: str | None = None, created: Callable[[Any], None] | None = None, **options: Any,
) -> AsyncIterator[Any]:
    """A started AIOKafkaProducer; on the way out it sends what it holds, then closes.
    `reader`: its metadata requests never create a topic (a record for a topic deleted
    meanwhile fails instead of recreating it with default settings)."""
    from aiokafka import AIOKafkaProducer

    name, cfg = cluster_of(cluster, config)
    made = AIOKafkaProducer(**{**client_options(name, cfg), **options})
    async with _started(made, made.start(), made.stop(), name, cfg, doing, reader, created):
        yield made


@contextlib.asynccontextmanager
async def admin(
    cluster: str | Cluster, config: ClusterConfig | None = None, *, doing: str | None = None,
    created: Callable[[Any], None] | None = None, **options: Any,
) -> AsyncIterator[Any]:
    """A started AIOKafkaAdminClient."""
    from aiokafka.admin import AIOKafkaAdminClient

    name, cfg = cluster_of(cluster, config)
    made = AIOKafkaAdminClient(**{**client_options(name, cfg), **options})
    async with _started(made, made.start(), made.close(), name, cfg, doing, created=created):
        yield made


def admin_on(client: Any, cluster: str | Cluster, config: ClusterConfig | None = None) -> Any:
    """An AIOKafkaAdminClient that sends through `client`, an AIOKafkaClient already
    bootstrapped (and closed by its owner), instead of a client of its own: one connection
    per broker and one bootstrap Metadata request for both. On Tansu that bootstrap request
    (no topics named) is answered with every topic's metadata, at 10,000 partitions about
    0.17 s of the broker's CPU and as much of ours to decode, so a second one is worth
    avoiding. aiokafka's admin client takes no client of ours: its `_client` is replaced
    before it is used, and it is marked started so that `start()` does not bootstrap again."""
    from aiokafka.admin import AIOKafkaAdminClient

    name, cfg = cluster_of(cluster, config)
    made = AIOKafkaAdminClient(**client_options(name, cfg))
    made._client = client
    made._started = True
    return made


@contextlib.asynccontextmanager
async def client(
    cluster: str | Cluster, config: ClusterConfig | None = None, *, reader: bool = False,
    doing: str | None = None, created: Callable[[Any], None] | None = None, **options: Any,
) -> AsyncIterator[Any]:
    """A bootstrapped AIOKafkaClient (metadata and raw requests with `send`)."""
    from aiokafka import AIOKafkaClient

    name, cfg = cluster_of(cluster, config)
    made = AIOKafkaClient(**{**client_options(name, cfg), **options})
    async with _started(made, made.bootstrap(), made.close(), name, cfg, doing, reader,
                        created, brokers_only=True):
        yield made


async def enter_together(stack: contextlib.AsyncExitStack, *opening: Any) -> list[Any]:
    """Enter several clients' contexts on `stack` at once (their starts overlap). When one
    fails or the caller is cancelled, the others stop starting; those already started are
    on the stack, which closes them. Raises the first error, not a group of them."""
    tasks = [asyncio.ensure_future(stack.enter_async_context(cm)) for cm in opening]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@contextlib.asynccontextmanager
async def _started(
    made: Any, start: Any, stop: Any, name: str, cfg: ClusterConfig, doing: str | None,
    reader: bool = False, created: Callable[[Any], None] | None = None,
    brokers_only: bool = False,
) -> AsyncIterator[None]:
    """Run the `start` coroutine, yield, and always run the `stop` coroutine after: after
    a failed or cancelled start too (a half-started client left to the garbage collector
    leaks its connections and tasks, and aiokafka warns from __del__). `brokers_only`: see
    `_BROKERS_ONLY`."""
    try:
        if created is not None:
            created(made)
        with (_reader_scope(reader), _brokers_only_scope(brokers_only),
              map_kafka_errors(name, cfg, doing=doing)):
            try:
                await start
            except (KeyError, ValueError):
                if not cfg.security_protocol.startswith("SASL"):
                    raise
                # aiokafka's SCRAM client fails this way when the broker ends the exchange
                # with an error (`e=...`) instead of its signature (Tansu refusing them)
                raise refused_credentials(
                    name, cfg, "the broker ended the SCRAM exchange with an error") from None
        yield
    finally:
        start.close()  # never awaited when `created` raised: no "never awaited" warning
        await close_quietly(stop)


async def close_quietly(stop: Any) -> None:
    """Await a client's stop/close coroutine whatever state the broker is in: a dead broker
    is logged, not raised (nothing more can be closed cleanly). A cancellation is raised
    only when it is the caller's own (aiokafka's stop may re-raise its fetch task's)."""
    try:
        await stop
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
    except Exception as e:
        log.debug("closing a Kafka client: %s", e)


async def _stop_consumer(consumer: Any) -> None:
    await _leave_group_at_generation_0(consumer)
    await consumer.stop()


async def _leave_group_at_generation_0(consumer: Any) -> None:
    """Tansu gap: its group generations start at 0, aiokafka sends LeaveGroup only above 0
    (Apache Kafka starts at 1), and Tansu never expires a member whose heartbeats stopped:
    a stopped consumer would stay a member for good and keep its partitions from the
    others. So close the coordinator ourselves and send the LeaveGroup it skipped, on the
    consumer's still open connection. On Apache Kafka aiokafka leaves by itself (generation
    1 or more) and nothing is done here. Reads aiokafka internals (`_coordinator`)."""
    from aiokafka.protocol.group import LeaveGroupRequest

    coordinator = getattr(consumer, "_coordinator", None)
    member = getattr(coordinator, "member_id", "")
    if (coordinator is None or getattr(coordinator, "generation", None) != 0 or not member
            or getattr(coordinator, "_group_instance_id", None) is not None
            or getattr(consumer, "_closed", True)):
        return
    await coordinator.close()  # heartbeats stopped, nothing sent at generation 0
    try:
        await coordinator._send_req(LeaveGroupRequest(coordinator.group_id, member))
    except Exception as e:  # best effort: the consumer closes either way
        if not is_kafka_error(e):
            raise
        log.debug("LeaveGroup %s for %s: %s", coordinator.group_id, member, e)


# ---------------------------------------------------------------- readers' clients

#: set in the context of a reader's aiokafka client: its metadata requests never create
#: the topics they name (aiokafka asks with allow_auto_topic_creation=True, and offers no
#: option; a broker with auto-creation on would recreate a deleted topic, with default
#: settings, just because a reader was still assigned to it)
_NO_AUTO_CREATE: ContextVar[bool] = ContextVar("kafkaops_no_auto_create", default=False)
#: set in the context of a long-lived background reader (the flags SDK): aiokafka's
#: per-attempt connection errors go to DEBUG; the reader logs one line per state change
_QUIET: ContextVar[bool] = ContextVar("kafkaops_quiet_aiokafka", default=False)
#: set while an AIOKafkaClient bootstraps: its Metadata request naming no topic names
#: NO_TOPIC instead. Tansu gap: it answers a request naming no topic with every topic's
#: metadata (Apache Kafka answers none), which at 10,000 partitions costs the broker about
#: 0.17 s of CPU and the client as much to decode, only to learn the brokers. NO_TOPIC is
#: not a valid topic name, so every broker answers it with an error and never creates it;
#: the answer still lists the brokers and the controller, which is what a bootstrap needs
#: (a client learns partitions when it asks for them, as on Apache Kafka).
_BROKERS_ONLY: ContextVar[bool] = ContextVar("kafkaops_brokers_only", default=False)
NO_TOPIC = "kafkaops:no-topic"
_patched = False


def _patch_aiokafka() -> None:
    """Install the two context-scoped behaviours above, once per process. Only clients
    started inside `reader_clients()` are affected: every other aiokafka client in the
    process (a service's own producers, say) behaves as aiokafka does."""
    global _patched
    if _patched:
        return
    import aiokafka.client
    from aiokafka.protocol.metadata import MetadataRequest

    class ReaderMetadataRequest(MetadataRequest):
        def __init__(self, topics: list[str] | None = None,
                     allow_auto_topic_creation: bool | None = None) -> None:
            if allow_auto_topic_creation is None and _NO_AUTO_CREATE.get():
                allow_auto_topic_creation = False
            if topics == [] and _BROKERS_ONLY.get():
                topics, allow_auto_topic_creation = [NO_TOPIC], False
            super().__init__(topics, allow_auto_topic_creation)

    aiokafka.client.MetadataRequest = ReaderMetadataRequest  # looked up at each call there

    class Quiet(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if _QUIET.get() and record.levelno > logging.DEBUG:
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
            return True

    class NotATopic(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:  # the error NO_TOPIC is asked for
            return not (isinstance(record.args, tuple) and NO_TOPIC in record.args)

    logging.getLogger("aiokafka.cluster").addFilter(NotATopic())
    quiet = Quiet()
    for name in ("aiokafka", "aiokafka.conn", "aiokafka.cluster", "aiokafka.consumer.consumer",
                 "aiokafka.consumer.fetcher", "aiokafka.consumer.group_coordinator",
                 "aiokafka.consumer.subscription_state"):
        logging.getLogger(name).addFilter(quiet)
    _patched = True


@contextlib.contextmanager
def reader_clients(*, quiet: bool = False) -> Iterator[None]:
    """aiokafka clients started inside this block (and the tasks they start, which inherit
    the context) never create a topic by asking for its metadata; with `quiet`, their
    errors are logged at DEBUG."""
    _patch_aiokafka()
    tokens = [_NO_AUTO_CREATE.set(True)]
    if quiet:
        tokens.append(_QUIET.set(True))
    try:
        yield
    finally:
        for token in reversed(tokens):
            token.var.reset(token)


def _reader_scope(reader: bool) -> contextlib.AbstractContextManager[None]:
    return reader_clients() if reader else contextlib.nullcontext()


@contextlib.contextmanager
def _brokers_only_scope(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    _patch_aiokafka()
    token = _BROKERS_ONLY.set(True)
    try:
        yield
    finally:
        _BROKERS_ONLY.reset(token)


def quiet_aiokafka_here() -> None:
    """For the rest of the current task (and tasks it starts): aiokafka's errors at DEBUG,
    and no topic created by a metadata request (see `reader_clients`)."""
    _patch_aiokafka()
    _NO_AUTO_CREATE.set(True)
    _QUIET.set(True)
