"""cancel_and_wait: a task's own cancellation is swallowed, the caller's never is."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kafkaops.core.errors import ClusterUnreachable
from kafkaops.core.tasks import cancel_and_wait


async def forever() -> None:
    await asyncio.Event().wait()


async def test_the_tasks_own_cancellation_is_swallowed() -> None:
    task = asyncio.create_task(forever())
    await asyncio.sleep(0)
    await cancel_and_wait(task)  # returns: nothing raised
    assert task.cancelled()


async def test_none_and_finished_tasks_are_fine() -> None:
    done = asyncio.create_task(asyncio.sleep(0, "result"))
    await done
    await cancel_and_wait(None, done)
    assert done.result() == "result"


async def test_several_tasks_are_all_cancelled_and_waited_for() -> None:
    tasks = [asyncio.create_task(forever()) for _ in range(3)]
    await asyncio.sleep(0)
    await cancel_and_wait(*tasks)
    assert all(t.cancelled() for t in tasks)


async def test_the_callers_cancellation_while_waiting_propagates() -> None:
    """The task takes its time to stop; the caller is cancelled meanwhile. A stopper that
    suppresses CancelledError around `await task` swallows that, and the caller goes on."""
    cleanup_started, release = asyncio.Event(), asyncio.Event()
    after_stop: list[str] = []

    async def slow_to_stop() -> None:
        try:
            await forever()
        finally:
            cleanup_started.set()
            await release.wait()

    task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)

    async def caller() -> None:
        await cancel_and_wait(task)
        after_stop.append("the caller went on after it was cancelled")

    stopping = asyncio.create_task(caller())
    await cleanup_started.wait()
    stopping.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert stopping.cancelled() and after_stop == []
    await asyncio.wait([task])


async def test_a_cancellation_that_came_before_the_wait_propagates() -> None:
    """stop() running in a `finally:` of a task being cancelled: the task it stops ends
    cancelled, and the caller's own cancellation is raised again, not lost."""
    task = asyncio.create_task(forever())
    inner_started = asyncio.Event()
    went_on: list[bool] = []

    async def caller() -> None:
        try:
            inner_started.set()
            await forever()
        finally:
            await cancel_and_wait(task)
            went_on.append(True)  # not reached: the caller's cancellation is raised

    outer = asyncio.create_task(caller())
    await inner_started.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert task.cancelled()
    assert went_on == []  # cancel_and_wait raised the caller's cancellation


async def test_an_error_the_task_ended_with_is_logged_not_raised(caplog) -> None:
    async def fails() -> None:
        raise RuntimeError("the loop broke")

    task = asyncio.create_task(fails(), name="reader-loop")
    await asyncio.sleep(0)
    with caplog.at_level(logging.DEBUG, logger="kafkaops.core.tasks"):
        await cancel_and_wait(task)
    [rec] = [r for r in caplog.records if r.name == "kafkaops.core.tasks"]
    assert rec.levelno == logging.WARNING and "reader-loop" in rec.getMessage()
    assert rec.exc_info is not None and "the loop broke" in str(rec.exc_info[1])


async def test_a_core_error_the_task_ended_with_is_logged_at_debug(caplog) -> None:
    async def fails() -> None:
        raise ClusterUnreachable("cluster 'p' unreachable")

    task = asyncio.create_task(fails(), name="follower")
    await asyncio.sleep(0)
    with caplog.at_level(logging.DEBUG, logger="kafkaops.core.tasks"):
        await cancel_and_wait(task)
    [rec] = [r for r in caplog.records if r.name == "kafkaops.core.tasks"]
    assert rec.levelno == logging.DEBUG and "cluster 'p' unreachable" in rec.getMessage()


async def test_a_tail_stopped_by_a_cancelled_caller_closes_its_consumer_and_stays_cancelled(
        services) -> None:
    """A background tail's stop() is cancelled while it waits for its task (a screen closed,
    the console quitting): the caller's cancellation propagates, and the tail's consumer is
    closed all the same (nothing left reading the topic)."""
    from kafkaops.core.messages.service import MessageService
    from kafkaops.core.topics.service import NewTopicSpec

    from .conftest import unique

    topic = unique("stopping")
    await (await services.topics()).create_topics([NewTopicSpec(topic, 1)])
    tail = MessageService(await services.connection()).tail(topic)
    await tail.start()
    consumer = tail._consumer
    task = tail.run()
    stopper = asyncio.create_task(tail.stop())
    await asyncio.sleep(0)  # stop() cancelled the task and waits for it
    assert task.cancelling() and not stopper.done()
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert task.done() and consumer._closed
    assert tail._consumer is None
