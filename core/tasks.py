"""Stopping background tasks: `cancel_and_wait`.

A service's `stop()` cancels the task it started and waits for it to end. Two cancellations
meet there and must not be confused: the task's own (asked for here, so expected and
swallowed) and the caller's (someone cancelled the task running `stop()`: it must go on
propagating, or the caller keeps running after it was told to stop).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kafkaops.core.errors import KafkaOpsError

log = logging.getLogger("kafkaops.core.tasks")


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel each task (None: nothing to do), then wait until every one has ended.

    A task's own CancelledError is swallowed; a CancelledError is raised when the CALLER
    is being cancelled (`asyncio.current_task().cancelling()`), whether that came while
    waiting or just before. An error a task ended with is logged (WARNING with its
    traceback; DEBUG for core's own errors, which the task's owner already reports), not
    raised: a stop must close everything else after it."""
    running = [t for t in tasks if t is not None]
    for task in running:
        task.cancel()  # a no-op for one that has ended already
    for task in running:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except KafkaOpsError as e:
            log.debug("task %s had ended on: %s", _name(task), e)
        except Exception:
            log.warning("task %s had failed", _name(task), exc_info=True)


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
