"""Liveness and readiness of the bot over real HTTP: /healthz says the process answers;
/readyz says whether the clusters it serves answer, with a stopped broker as the outage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kafkaops.demo.embedded import EmbeddedClusters
from tests.bot_harness import RunningBot, running_bot


@pytest.fixture
async def outage() -> AsyncIterator[EmbeddedClusters]:
    async with EmbeddedClusters(["east", "west"]) as c:
        yield c


def data_for(c: EmbeddedClusters) -> dict[str, Any]:
    return {
        "default_cluster": "east",
        "clusters": {n: {"bootstrap_servers": c.bootstrap(n), "request_timeout": "3s"}
                     for n in ("east", "west")},
        "audit": {"signing_key": "test-signing-key"},
    }


async def get(rb: RunningBot, path: str) -> tuple[int, dict[str, Any]]:
    async with rb.session.get(rb.transport.health_url + path) as resp:
        return resp.status, await resp.json()


async def test_readyz_follows_cluster_reachability_while_healthz_stays_alive(
    outage: EmbeddedClusters,
) -> None:
    async with running_bot(data_for(outage)) as rb:
        rb.transport.readiness.cache_for = 0  # every request probes (the cache: probe storms)
        status, body = await get(rb, "/readyz")
        assert status == 200 and body["status"] == "ready"
        assert body["clusters"]["east"]["reachable"] and body["clusters"]["west"]["reachable"]

        outage.kill("west")
        status, body = await get(rb, "/readyz")
        assert status == 200 and body["status"] == "degraded"  # east still serves
        west = body["clusters"]["west"]
        assert west["reachable"] is False and west["error"]
        assert west["last_ok_s_ago"] is not None  # when it last answered, not "ok"

        outage.kill("east")
        status, body = await get(rb, "/readyz")
        assert status == 503 and body["status"] == "unavailable"
        assert not body["clusters"]["east"]["reachable"]
        # liveness is not readiness: the process still answers
        status, health = await get(rb, "/healthz")
        assert status == 200 and health["status"] == "ok"

        outage.restart("east")
        status, body = await get(rb, "/readyz")
        assert status == 200 and body["status"] == "degraded"
        assert body["clusters"]["east"]["reachable"]
