"""Is a cluster answering? A frozen broker (SIGSTOP, a hung JVM, a black-holed network) keeps
its TCP connections open and never answers, so a read waits for the client's request
timeout (10 s by default) for each request in turn: a screen built from several requests
kept showing its last values, as OK, for most of a minute. A short per-request timeout on
every read would cut slow but healthy reads short instead.

So the work runs as it is, and beside it a small request (`KafkaConnection.ping`) goes to
every cluster the work depends on, every `PROBE_EVERY` seconds while the work runs; a
cluster that does not answer one within `PROBE_TIMEOUT` seconds is unreachable: the work is
cancelled and `ClusterUnreachable` names that cluster (`.cluster`). Getting the connection
(which may have to bootstrap against the frozen broker) has the same limit. A frozen
cluster is therefore reported within PROBE_EVERY + PROBE_TIMEOUT seconds of the start of any
work, while a slow cluster that answers keeps its reads.

`LastAnswers` remembers, per Services, when each cluster last answered, so a face can say
how old the last known values are ("no answer since 14:03:22, 42s").
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from kafkaops.core.kafka.errors import no_answer
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection

T = TypeVar("T")

#: a cluster that does not answer a small request within this many seconds is unreachable
PROBE_TIMEOUT = 3.0
#: while work runs, how often each cluster it depends on is asked
PROBE_EVERY = 1.0


class LastAnswers:
    """When each cluster last answered (wall clock), for one Services."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}

    def answered(self, cluster: str, at: float | None = None) -> float:
        self._at[cluster] = time.time() if at is None else at
        return self._at[cluster]

    def last(self, cluster: str) -> float | None:
        return self._at.get(cluster)


_LAST: weakref.WeakKeyDictionary[Any, LastAnswers] = weakref.WeakKeyDictionary()


def last_answers(services: Any) -> LastAnswers:
    """The LastAnswers of a Services (one per Services, made on first use)."""
    found = _LAST.get(services)
    if found is None:
        found = _LAST[services] = LastAnswers()
    return found


async def connect(services: Any, cluster: str, within: float = PROBE_TIMEOUT) -> KafkaConnection:
    """`services.connection(cluster)`, unreachable when it takes longer than `within` s."""
    try:
        async with asyncio.timeout(within):
            conn: KafkaConnection = await services.connection(cluster)
    except TimeoutError:
        cfg = services.cluster_config(cluster)
        raise no_answer(cluster, cfg.bootstrap_servers, within) from None
    return conn  # (a connection kept from before proves no answer now: not recorded)


async def answering(
    services: Any, clusters: Iterable[str], work: Callable[[], Awaitable[T]], *,
    within: float = PROBE_TIMEOUT, every: float = PROBE_EVERY,
) -> T:
    """Run `work()` while every cluster in `clusters` answers (see the module docstring).
    Raises ClusterUnreachable (with `.cluster`) for the first one that does not, after
    cancelling the work; the work's own errors pass through unchanged."""
    names = list(dict.fromkeys(clusters))
    conns = [await connect(services, n, within) for n in names]
    answers = last_answers(services)
    task = asyncio.ensure_future(work())
    loop = asyncio.get_running_loop()
    try:
        while True:
            await asyncio.wait({task}, timeout=every)
            if task.done():
                break
            pings = {asyncio.ensure_future(c.ping()): c for c in conns}
            pending = set(pings)
            deadline = loop.time() + within
            try:
                while pending and not task.done() and loop.time() < deadline:
                    done, _ = await asyncio.wait({task, *pending}, timeout=deadline - loop.time(),
                                                 return_when=asyncio.FIRST_COMPLETED)
                    pending -= done
            finally:
                for p in pings:
                    if not p.done():
                        p.cancel()
                    elif not p.cancelled():
                        p.exception()  # retrieved here; raised below when it matters
            if task.done():
                break
            for p, conn in pings.items():
                if p in pending:
                    raise no_answer(conn.name, conn.config.bootstrap_servers, within)
                p.result()  # ClusterUnreachable when the ping failed outright
                answers.answered(conn.name)
        result = task.result()
    finally:
        if not task.done():
            await cancel_and_wait(task)
    for n in names:
        answers.answered(n)
    return result
