"""A consumer group member that runs a loop of its own: the base of the notifier
(AlertDispatcher, core/alerts/notify.py) and of each event rule's watcher (EventWatcher,
core/alerts/events.py).

It owns its consumer from the join to `stop()`: the consumer is built by
core/kafka/clients.py on an exit stack that closes it on every path (a failed start,
cancellation), and `stop()` cancels the loop, waits for it, and leaves the group so the
other replicas take its partitions at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kafkaops.core.alerts.log import HEARTBEAT_MS, SESSION_TIMEOUT_MS, AlertLog
from kafkaops.core.kafka import clients
from kafkaops.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from kafkaops.core.config import ClusterConfig
    from kafkaops.core.kafka.errors import Cluster
    from kafkaops.core.metrics import MetricsRegistry
    from kafkaops.core.services import Services


class GroupMember:
    """One member of `group_id`, subscribed to one topic, running `_run()` in a task."""

    def __init__(self, services: Services, group_id: str, *, log_: AlertLog,
                 clock: Callable[[], float] = time.time,
                 metrics: MetricsRegistry | None = None,
                 session_timeout_ms: int = SESSION_TIMEOUT_MS,
                 heartbeat_ms: int = HEARTBEAT_MS) -> None:
        self.services = services
        self.group_id = group_id
        self.log = log_
        self.clock = clock
        self.metrics = metrics
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_ms = heartbeat_ms
        #: set once this member is ready to serve (each kind says when)
        self.ready = asyncio.Event()
        self._consumer: Any = None
        self._clients: contextlib.AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None

    async def _join(self, cluster: str | Cluster, config: ClusterConfig | None, topic: str,
                    listener: Any, *, auto_offset_reset: str, task: str,
                    **options: Any) -> None:
        """Start the consumer subscribed to `topic` with the rebalance `listener`, then the
        loop in a task named `task`."""
        def created(consumer: Any) -> None:
            consumer.subscribe([topic], listener=listener)
            self._consumer = consumer  # the listener may run before the start returns

        try:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(clients.consumer(
                    cluster, config, group_id=self.group_id, enable_auto_commit=False,
                    auto_offset_reset=auto_offset_reset,
                    session_timeout_ms=self.session_timeout_ms,
                    heartbeat_interval_ms=self.heartbeat_ms,
                    rebalance_timeout_ms=max(self.session_timeout_ms, 10_000),
                    created=created, **options))
                self._clients = stack.pop_all()
        except BaseException:
            self._consumer = None
            raise
        self._task = asyncio.create_task(self._run(), name=task)

    async def _run(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # closed even when the caller is cancelled meanwhile
            stack, self._clients, self._consumer = self._clients, None, None
            if stack is not None:
                await stack.aclose()  # leaves the group: the others take over at once
