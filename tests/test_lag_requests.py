"""How many Metadata requests a `kafkaops lag --json` run sends, counted on the wire by a
proxy in front of a real broker (tests/hidden_api_broker.py). On Tansu a request for all
topics costs the broker and the client in proportion to every partition of the cluster
(about 0.17 s of the broker's CPU at 10,000 partitions, docs/benchmarks.md), and Tansu
answers a request naming no topic (a client's bootstrap) with every topic too: a lag run
must pay for one such answer, the snapshot's. A guard against the next regression, not a
timed test."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator

import pytest

from kafkaops.core.kafka.clients import NO_TOPIC

from .conftest import KAFKAOPS, cli_env
from .hidden_api_broker import METADATA, Seen, broker_without, metadata_topics
from .lag_support import make_topic, stopped_group


@pytest.fixture(scope="module")
def seen() -> Seen:
    return []


@pytest.fixture(scope="module")
def proxied(seen: Seen) -> Iterator[str]:
    with broker_without(set(), seen) as bootstrap:
        yield bootstrap


async def test_a_lag_run_asks_for_every_topic_once(proxied: str, seen: Seen) -> None:
    topic = await make_topic(proxied, {0: 5, 1: 3})
    await make_topic(proxied, {0: 2})  # a topic no group reads: in the snapshot's answer
    group = await stopped_group(proxied, topic.name, {0: 2, 1: 3})
    seen.clear()
    done = await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "-b", proxied, "lag", "--json"], capture_output=True,
        text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert NO_TOPIC not in done.stderr
    rows = {(r["group"], r["topic"], r["partition"]): (r["committed"], r["end"], r["lag"])
            for r in json.loads(done.stdout)["partitions"]}
    assert rows == {(group, topic.name, 0): (2, 5, 3), (group, topic.name, 1): (3, 3, 0)}
    asked = [metadata_topics(frame) for key, _, frame in list(seen) if key == METADATA]
    # None: every topic; [] (a bootstrap naming none) is answered with every topic on Tansu
    every = [a for a in asked if a is None or a == []]
    assert len(every) == 1, asked
