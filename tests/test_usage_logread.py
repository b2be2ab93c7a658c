"""Reading the log for usage against the embedded broker: a Fetch answer that leaves
partitions out (past the request's max_bytes on Apache Kafka; past its max_wait on Tansu,
which answers the later partitions empty) does not leave them unmeasured: they are asked
again, and every partition is read whole and exact."""

from __future__ import annotations

import pytest

from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec
from kafkaops.core.usage import logread
from kafkaops.core.usage.service import UsageService

from .conftest import produce, unique


async def test_partitions_left_out_of_an_answer_are_asked_again(
        config_data: dict, bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [unique("lr") for _ in range(3)]
    async with Services(parse_config(config_data, "<t>")) as services:
        await (await services.topics()).create_topics([NewTopicSpec(n, 4) for n in names])
        for n in names:
            await produce(bootstrap, n, [b"v" * 1000] * 80)
        # an answer holds about one partition's log: the rest come back empty each round
        monkeypatch.setattr(logread, "FETCH_MAX_BYTES", 30_000)
        report = await UsageService(services).measure(3600, topic="lr-*", groups=False)
    assert [t.topic for t in report.topics] == sorted(names)
    for t in report.topics:
        assert t.records_in == 80
        assert (t.bytes_in.error, t.bytes_in.detail) == (0.0, "every batch read"), t.topic
        assert t.bytes_in.value is not None and t.bytes_in.value > 80 * 1000
        assert t.bytes_stored.value == t.bytes_in.value
    assert report.fetches > 3  # it did take more than one answer per leader
