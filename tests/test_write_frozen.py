"""A write whose broker stops answering (frozen with SIGSTOP: the connection stays open,
nothing is acknowledged) fails with an error naming the cluster, instead of waiting
forever: DR control records (fences, run records) are written this way during a failover.
The broker is this module's own, so freezing it disturbs no other test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.kafka.topicio import COMPACTED, Writer, ensure_topics
from kafkaops.demo.embedded import EmbeddedClusters

from .test_dr_frozen import frozen


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[EmbeddedClusters]:
    with EmbeddedClusters(["solo"]) as c:
        yield c


async def test_a_write_to_a_frozen_broker_fails_with_the_cluster_named(
    own_cluster: EmbeddedClusters,
) -> None:
    cfg = ClusterConfig(own_cluster.bootstrap("solo"), request_timeout=2)
    async with KafkaConnection("solo", cfg) as conn:
        await ensure_topics(conn, {"frozen-writes": (1, COMPACTED)})
        async with Writer(conn) as w:
            assert await w.send("frozen-writes", [(b"k", b"before")]) == [0]
            # the outer bound only stops a hang from hanging the suite
            with frozen(own_cluster, "solo"), pytest.raises(KafkaOpsError) as err:
                await asyncio.wait_for(w.send("frozen-writes", [(b"k", b"during")]), 60)
    assert "solo" in str(err.value)
