"""LogWatch's decision of when to ask a topic's id before using a fetch round's records
(core/kafka/logwatch.py): a resumed contact before its records at once; the periodic check
in a round without records, and with records only once it is twice overdue."""

from __future__ import annotations

import pytest

from kafkaops.core.kafka import logwatch
from kafkaops.core.kafka.logwatch import LogWatch


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(logwatch.time, "monotonic", lambda: now[0])
    return now


def checked_watch(clock: list[float]) -> LogWatch:
    watch = LogWatch(lambda: None, "t", gap=1.0, check_every=5.0)
    watch._checked = clock[0]  # as identity() leaves it
    assert watch.due(clock[0], False) is False  # the first answer: contact established
    return watch


def test_periodic_check_waits_for_a_round_without_records(clock: list[float]) -> None:
    watch = checked_watch(clock)
    clock[0] += 5.5
    assert watch.due(1000.4, True) is False  # records in hand (answers within the gap)
    assert watch.due(1000.8, False) is True  # the next round without records


def test_periodic_check_happens_with_records_once_twice_overdue(clock: list[float]) -> None:
    watch = checked_watch(clock)
    for step in range(1, 30):  # records every half second, never an empty round
        clock[0] += 0.5
        due = watch.due(1000 + step * 0.5, True)
        assert due is (step * 0.5 >= 10.0)
        if due:
            break
    else:
        pytest.fail("never checked")


def test_resumed_contact_is_checked_before_its_records(clock: list[float]) -> None:
    watch = checked_watch(clock)
    clock[0] += 1.0
    assert watch.due(clock[0], True) is False  # an answer within the gap
    watch.lost = True  # a connection closed
    clock[0] += 0.1
    assert watch.due(clock[0], True) is True
    watch2 = checked_watch(clock)
    assert watch2.due(clock[0] + 3.0, True) is True  # no answer for longer than the gap
