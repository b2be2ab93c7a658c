"""aiokafka's errors turned into core's, in one place.

httpx keeps one boundary between the transport's errors and its own
(`map_httpcore_exceptions`); this module is that boundary for aiokafka. Code that talks to
a cluster runs its calls inside `map_kafka_errors(...)` and catches core's errors only
(core/errors.py): no other module catches `KafkaError` or an `OSError` from a client.

What each error becomes:
- refused SASL credentials: `ClusterUnreachable`, retriable=False (waiting will not help);
- authorization failures (topic, group, cluster, transactional id): `Refused`;
- an unknown topic or partition: `NotFound`;
- a broker's answer that says the request itself is wrong (not retriable): `KafkaOpsError`
  naming the error, retriable=False;
- everything else (no connection, a timeout, a node not ready, a coordinator moving, an
  `OSError` or `TimeoutError`): `ClusterUnreachable` naming the cluster, its bootstrap
  servers and what to check, retriable=True.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError, NotFound, Refused


class Cluster(Protocol):
    """Anything naming a cluster and its config (a KafkaConnection)."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> ClusterConfig: ...


def cluster_of(cluster: str | Cluster, config: ClusterConfig | None) -> tuple[str, ClusterConfig]:
    """(name, config) from either a name and its config or an object holding both."""
    if isinstance(cluster, str):
        if config is None:
            raise TypeError(f"cluster {cluster!r} given by name needs its ClusterConfig")
        return cluster, config
    return cluster.name, cluster.config


def detail(err: BaseException) -> str:
    """An error's own words (aiokafka's errors already start with their class name)."""
    return str(err) or type(err).__name__


def unreachable(name: str, config: ClusterConfig, err: BaseException | str, *,
                doing: str | None = None, note: str | None = None) -> ClusterUnreachable:
    """The cluster did not answer (or answered with an error that may pass)."""
    what = err if isinstance(err, str) else detail(err)
    head = (f"cannot {doing} on cluster {name!r}: unreachable" if doing
            else f"cluster {name!r} unreachable")
    return ClusterUnreachable(
        f"{head} at {config.bootstrap_servers}: {what} — check "
        f"clusters.{name}.bootstrap_servers and that the brokers are up"
        + (f"; {note}" if note else ""), cluster=name)


def no_answer(name: str, bootstrap: str, within: float) -> ClusterUnreachable:
    """The cluster left a small request unanswered for `within` seconds (a hung broker)."""
    return ClusterUnreachable(
        f"cluster {name!r} did not answer within {within:g}s at {bootstrap} — check that its "
        "brokers are up and not hung", cluster=name)


def refused_credentials(name: str, config: ClusterConfig, what: str) -> ClusterUnreachable:
    """The brokers answered but refused our SASL credentials: waiting will not help."""
    sasl = config.sasl
    who = f"user {sasl.username!r}, {sasl.mechanism}" if sasl else "no sasl: in config"
    return ClusterUnreachable(
        f"cluster {name!r} at {config.bootstrap_servers} refused the SASL "
        f"credentials ({who}): {what} — check clusters.{name}.sasl (username, "
        "password, mechanism)", retriable=False, cluster=name)


def is_kafka_error(err: BaseException) -> bool:
    """True for what `map_kafka_errors` translates: aiokafka's errors, OSError (and so
    TimeoutError). For code that only needs to know that the cluster failed it."""
    if not isinstance(err, Exception) or isinstance(err, KafkaOpsError):
        return False
    from aiokafka.errors import KafkaError

    return isinstance(err, KafkaError | OSError)


def kafka_error(err: BaseException, cluster: str | Cluster, config: ClusterConfig | None = None,
                *, doing: str | None = None, note: str | None = None) -> KafkaOpsError | None:
    """Core's error for an aiokafka error, an OSError or a TimeoutError met while talking to
    `cluster`; None for any other exception (it is not ours to translate)."""
    if not is_kafka_error(err):  # TimeoutError is an OSError
        return None
    from aiokafka import errors as ak

    name, cfg = cluster_of(cluster, config)
    what = detail(err)
    if isinstance(err, ak.SaslAuthenticationFailed | ak.AuthenticationFailedError
                  | ak.UnsupportedSaslMechanismError | ak.IllegalSaslStateError):
        return refused_credentials(name, cfg, what)
    tail = f"; {note}" if note else ""
    if isinstance(err, ak.TopicAuthorizationFailedError | ak.GroupAuthorizationFailedError
                  | ak.ClusterAuthorizationFailedError | ak.TransactionalIdAuthorizationFailed):
        refused = Refused(
            f"cluster {name!r} refused to {doing or 'answer'}: not authorized ({what}) — "
            f"the ACLs on cluster {name!r} must allow kafkaops' principal{tail}")
        refused.cluster = name
        return refused
    if isinstance(err, ak.UnknownTopicOrPartitionError):
        return NotFound(f"cannot {doing or 'do that'} on cluster {name!r}: no such topic or "
                        f"partition ({what}){tail}")
    if (isinstance(err, ak.BrokerResponseError) and err.errno is not None
            and not err.retriable):
        return KafkaOpsError(f"cluster {name!r} refused to {doing or 'answer'}: {what}{tail}",
                             retriable=False)
    return unreachable(name, cfg, err, doing=doing, note=note)


@contextlib.contextmanager
def map_kafka_errors(cluster: str | Cluster, config: ClusterConfig | None = None, *,
                     doing: str | None = None, note: str | None = None) -> Iterator[None]:
    """Run a block that talks to `cluster` (a KafkaConnection, or a name and its config):
    aiokafka's errors, OSError and TimeoutError leave it as core's errors (see the module
    docstring). `doing` ("write to 'flags'") and `note` word the message. Anything else,
    cancellation included, passes through untouched. Works around `await`s:

        with map_kafka_errors(conn, doing=f"read {topic!r}"):
            batch = await consumer.getmany(...)
    """
    try:
        yield
    except Exception as e:
        mapped = kafka_error(e, cluster, config, doing=doing, note=note)
        if mapped is None:
            raise
        raise mapped from None
