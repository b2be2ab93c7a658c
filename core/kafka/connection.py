"""Connections to one Kafka cluster, and the few wire-level reads aiokafka does not offer.

`KafkaConnection` owns one `AIOKafkaClient` (metadata, ListOffsets, Fetch, sent batched
per leader) and one `AIOKafkaAdminClient` (topics, configs, groups). Both are created in
`start()`, inside the running loop. Nothing from aiokafka leaves core: callers get plain
dicts keyed by `TopicPartition` (core's own, in records.py) and core records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import ClusterUnreachable, ConfigError
from kafkaops.core.records import (
    BrokerInfo,
    MetadataSnapshot,
    PartitionInfo,
    TopicMetadata,
    TopicPartition,
)

log = logging.getLogger("kafkaops.core.kafka")
LATEST = -1
EARLIEST = -2


async def stop_quietly(client: Any) -> None:
    """Stop an aiokafka client whatever state the broker is in (its stop() may re-raise its
    own fetch task's cancellation; that is not ours unless our task is being cancelled).
    A group member leaves its group, so the others take its partitions at once."""
    try:
        await _leave_group_at_generation_0(client)
        await client.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
    except Exception as e:  # a dead broker: nothing more to close cleanly
        log.debug("stopping a Kafka client: %s", e)


async def _leave_group_at_generation_0(consumer: Any) -> None:
    """Tansu gap: its group generations start at 0, aiokafka sends LeaveGroup only above 0
    (Apache Kafka starts at 1), and Tansu never expires a member whose heartbeats stopped:
    a stopped consumer would stay a member for good and keep its partitions from the
    others. So close the coordinator ourselves and send the LeaveGroup it skipped, on the
    consumer's still open connection. On Apache Kafka aiokafka leaves by itself (generation
    1 or more) and nothing is done here. Reads aiokafka internals (`_coordinator`)."""
    from aiokafka.errors import KafkaError
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
    except (KafkaError, OSError) as e:
        log.debug("LeaveGroup %s for %s: %s", coordinator.group_id, member, e)


async def start_or_close(client: Any) -> None:
    """`await client.start()` for an aiokafka consumer or producer, closing it when the start
    fails or is cancelled: a half-started client left to the garbage collector leaks its
    connections (and aiokafka warns from __del__)."""
    try:
        await client.start()
    except BaseException:
        await stop_quietly(client)
        raise


# ---------------------------------------------------------------- readers' clients

#: set in the context of a reader's aiokafka client: its metadata requests never create
#: the topics they name (aiokafka asks with allow_auto_topic_creation=True, and offers no
#: option; a broker with auto-creation on would recreate a deleted topic, with default
#: settings, just because a reader was still assigned to it)
_NO_AUTO_CREATE: ContextVar[bool] = ContextVar("kafkaops_no_auto_create", default=False)
#: set in the context of a long-lived background reader (the flags SDK): aiokafka's
#: per-attempt connection errors go to DEBUG; the reader logs one line per state change
_QUIET: ContextVar[bool] = ContextVar("kafkaops_quiet_aiokafka", default=False)
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
            super().__init__(topics, allow_auto_topic_creation)

    aiokafka.client.MetadataRequest = ReaderMetadataRequest  # looked up at each call there

    class Quiet(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if _QUIET.get() and record.levelno > logging.DEBUG:
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
            return True

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


def quiet_aiokafka_here() -> None:
    """For the rest of the current task (and tasks it starts): aiokafka's errors at DEBUG,
    and no topic created by a metadata request (see `reader_clients`)."""
    _patch_aiokafka()
    _NO_AUTO_CREATE.set(True)
    _QUIET.set(True)


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


class KafkaConnection:
    """One cluster's clients. `async with KafkaConnection(name, cfg) as conn: ...`"""

    def __init__(self, name: str, cfg: ClusterConfig) -> None:
        self.name = name
        self.config = cfg
        self._client: Any = None
        self._admin: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("KafkaConnection used before start()")
        return self._client

    @property
    def admin(self) -> Any:
        if self._admin is None:
            raise RuntimeError("KafkaConnection used before start()")
        return self._admin

    def unreachable(self, err: BaseException) -> ClusterUnreachable:
        from aiokafka.errors import (
            AuthenticationFailedError,
            SaslAuthenticationFailed,
            UnsupportedSaslMechanismError,
        )

        detail = str(err) or type(err).__name__
        if isinstance(err, (SaslAuthenticationFailed, AuthenticationFailedError,
                            UnsupportedSaslMechanismError)):
            return self.refused(detail)
        return ClusterUnreachable(
            f"cluster {self.name!r} unreachable at {self.config.bootstrap_servers}: {detail} "
            f"— check clusters.{self.name}.bootstrap_servers and that the brokers are up",
            cluster=self.name,
        )

    def refused(self, detail: str) -> ClusterUnreachable:
        """The brokers answered but refused our SASL credentials: waiting will not help."""
        sasl = self.config.sasl
        who = f"user {sasl.username!r}, {sasl.mechanism}" if sasl else "no sasl: in config"
        return ClusterUnreachable(
            f"cluster {self.name!r} at {self.config.bootstrap_servers} refused the SASL "
            f"credentials ({who}): {detail} — check clusters.{self.name}.sasl (username, "
            "password, mechanism)", retriable=False, cluster=self.name)

    async def start(self) -> None:
        from aiokafka import AIOKafkaClient
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.errors import KafkaError

        opts = client_options(self.name, self.config)
        client = AIOKafkaClient(**opts)
        admin = AIOKafkaAdminClient(**opts)
        try:
            await asyncio.gather(client.bootstrap(), admin.start())
        except (KafkaError, OSError) as e:
            await asyncio.gather(client.close(), admin.close(), return_exceptions=True)
            raise self.unreachable(e) from None
        except (KeyError, ValueError):
            await asyncio.gather(client.close(), admin.close(), return_exceptions=True)
            if not self.config.security_protocol.startswith("SASL"):
                raise
            # aiokafka's SCRAM client fails this way when the broker ends the exchange with
            # an error (`e=...`) instead of its signature (Tansu refusing the credentials)
            raise self.refused("the broker ended the SCRAM exchange with an error") from None
        except BaseException:  # cancelled (a broker that never answers): close, then go
            await asyncio.gather(client.close(), admin.close(), return_exceptions=True)
            raise
        self._client, self._admin = client, admin

    async def stop(self) -> None:
        client, admin = self._client, self._admin
        self._client = self._admin = None
        await asyncio.gather(
            *(c.close() for c in (client, admin) if c is not None), return_exceptions=True
        )

    async def __aenter__(self) -> KafkaConnection:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.asynccontextmanager
    async def producer(self, **options: Any) -> AsyncIterator[Any]:
        """A started aiokafka producer with this cluster's settings (and `options`), stopped
        on the way out whatever happens. It never creates a topic by asking for its
        metadata (see `reader_clients`): a record for a topic deleted meanwhile fails
        instead of recreating the topic with default settings."""
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        with reader_clients():
            producer = AIOKafkaProducer(**client_options(self.name, self.config), **options)
            try:
                await start_or_close(producer)
            except (KafkaError, OSError) as e:
                raise self.unreachable(e) from None
        try:
            yield producer
        finally:
            await stop_quietly(producer)

    async def ping(self) -> None:
        """One small request (Metadata for no topic) to any broker: ClusterUnreachable when
        it fails. Its answer is not applied to the client's view of partition leaders (an
        answer naming no topic would empty it). Callers bound the wait (core/kafka/reach.py)."""
        from aiokafka.errors import KafkaError
        from aiokafka.protocol.metadata import MetadataRequest

        try:
            node = self.client.get_random_node()
            if node is None:
                raise ClusterUnreachable(f"cluster {self.name!r}: no broker known",
                                         cluster=self.name)
            await self.client.send(node, MetadataRequest([], False))
        except (KafkaError, OSError) as e:
            raise self.unreachable(e) from None

    # ------------------------------------------------------------ metadata

    async def metadata(self, topics: list[str] | None = None) -> MetadataSnapshot:
        """One Metadata request (all topics, or the named ones), as core's own record.

        The answer also refreshes the client's view of partition leaders.
        """
        from aiokafka.errors import KafkaError
        from aiokafka.protocol.metadata import MetadataRequest

        try:
            node = self.client.get_random_node()
            if node is None:
                raise ClusterUnreachable(f"cluster {self.name!r}: no broker known")
            resp = await self.client.send(node, MetadataRequest(topics, False))
        except (KafkaError, OSError) as e:
            raise self.unreachable(e) from None
        self.client.cluster.update_metadata(resp)
        obj = resp.to_object()
        controller_id = obj.get("controller_id")
        brokers = tuple(
            BrokerInfo(
                b["node_id"], b["host"], b["port"], b.get("rack"), b["node_id"] == controller_id
            )
            for b in sorted(obj["brokers"], key=lambda b: b["node_id"])
        )
        out: dict[str, TopicMetadata] = {}
        for t in obj["topics"]:
            if t["error_code"] != 0:
                continue
            name = t["topic"]
            parts = tuple(
                PartitionInfo(
                    partition=p["partition"],
                    leader=p["leader"] if p["leader"] >= 0 else None,
                    replicas=tuple(p["replicas"]),
                    isr=tuple(p["isr"]),
                )
                for p in sorted(t["partitions"], key=lambda p: p["partition"])
            )
            out[name] = TopicMetadata(
                name, bool(t.get("is_internal")) or name.startswith("_"), parts
            )
        return MetadataSnapshot(obj.get("cluster_id"), controller_id, brokers, out)

    async def leaders(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[int, list[TopicPartition]]:
        """Partitions grouped by the node that leads them (partitions with no leader left out)."""
        from aiokafka.structs import TopicPartition as AkTP

        tps = list(partitions)
        # The client's view holds only the topics of the last Metadata answer (a request for
        # some topics replaces the whole view), so ask for this call's topics when one of its
        # partitions is unknown; no await comes between that answer and the lookups below.
        if any(self.client.cluster.leader_for_partition(AkTP(tp.topic, tp.partition)) is None
               for tp in tps):
            await self.metadata(sorted({tp.topic for tp in tps}))
        cluster = self.client.cluster
        by_node: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in tps:
            leader = cluster.leader_for_partition(AkTP(tp.topic, tp.partition))
            if leader is not None and leader >= 0:
                by_node[leader].append(tp)
        return by_node

    # ------------------------------------------------------------ offsets

    async def list_offsets(
        self, partitions: Iterable[TopicPartition], timestamp: int
    ) -> dict[TopicPartition, int]:
        """ListOffsets, one request per leader, sent together. -1 latest, -2 earliest,
        else the first offset whose timestamp is >= `timestamp` (ms); -1 when none is."""
        from aiokafka.protocol.offset import OffsetRequest

        by_node = await self.leaders(partitions)

        async def ask(node: int, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            topics: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for tp in tps:
                topics[tp.topic].append((tp.partition, timestamp))
            req = OffsetRequest(-1, 0, list(topics.items()))
            resp = await self.client.send(node, req)
            out: dict[TopicPartition, int] = {}
            for topic, parts in resp.topics:
                for part in parts:
                    # v1+: (partition, error_code, timestamp, offset[, leader_epoch])
                    partition, error_code, offset = part[0], part[1], part[3]
                    if error_code == 0:
                        out[TopicPartition(topic, partition)] = offset
            return out

        results = await self._per_node(by_node, ask)
        return {k: v for r in results for k, v in r.items()}

    async def high_watermarks(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, tuple[int, int]]:
        """True (log start, log end) offsets of each partition.

        Tansu gap (BROKER_NOTES.md): ListOffsets(latest) answers the base offset of the last
        record batch + 1, short of the true end whenever producers batch. The high watermark
        in a Fetch response is right on Tansu and on Apache Kafka, so: ListOffsets(latest),
        then one Fetch per leader from (that answer - 1) for every non-empty partition, with
        max_bytes=1 so almost nothing but the high watermark comes back.
        """
        from aiokafka.protocol.fetch import FetchRequest

        tps = list(partitions)
        latest, earliest = await asyncio.gather(
            self.list_offsets(tps, LATEST), self.list_offsets(tps, EARLIEST)
        )
        result: dict[TopicPartition, tuple[int, int]] = {
            tp: (earliest.get(tp, 0), latest[tp]) for tp in tps if tp in latest
        }
        nonempty = [tp for tp, end in latest.items() if end > 0]
        by_node = await self.leaders(nonempty)

        async def fetch(node: int, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            topics: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            for tp in tps:
                topics[tp.topic].append((tp.partition, max(latest[tp] - 1, 0), 1))
            req = FetchRequest(100, 1, 1, 0, list(topics.items()))
            resp = await self.client.send(node, req)
            out: dict[TopicPartition, int] = {}
            for topic, parts in resp.topics:
                for part in parts:
                    partition, error_code, highwater = part[0], part[1], part[2]
                    if error_code == 0:
                        out[TopicPartition(topic, partition)] = highwater
            return out

        for hw in await self._per_node(by_node, fetch):
            for tp, end in hw.items():
                start, listed = result[tp]
                result[tp] = (start, max(end, listed))
        return result

    async def _per_node(self, by_node: dict[int, list[TopicPartition]], fn: Any) -> list[Any]:
        from aiokafka.errors import KafkaError

        try:
            return list(await asyncio.gather(*(fn(n, tps) for n, tps in by_node.items())))
        except (KafkaError, OSError) as e:
            raise self.unreachable(e) from None
