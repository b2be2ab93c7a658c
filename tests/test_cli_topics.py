"""`kafkaops cluster|topics|topic` against a real broker, through the installed command."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from kafkaops.core.config import ClusterConfig
from kafkaops.core.kafka.connection import KafkaConnection
from kafkaops.core.topics.service import NewTopicSpec, TopicService
from kafkaops.demo.embedded import EmbeddedClusters

from .conftest import KAFKAOPS, cli_env, produce, unique


def kafkaops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KAFKAOPS, *args], capture_output=True, text=True, env=cli_env(), timeout=60
    )


async def create(bootstrap: str, *specs: NewTopicSpec) -> None:
    async with KafkaConnection("t", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics(specs)


async def test_topics_json_lists_exactly_what_the_broker_has() -> None:
    async with EmbeddedClusters(["solo"]) as c:
        b = c.bootstrap("solo")
        await create(
            b,
            NewTopicSpec("alpha", 3),
            NewTopicSpec("beta", 1),
            NewTopicSpec("gamma", 12, configs={"cleanup.policy": "compact"}),
        )
        out = await asyncio.to_thread(kafkaops, "-b", b, "topics", "--json")
        assert out.returncode == 0, out.stderr
        got = {t["name"]: t["partitions"] for t in json.loads(out.stdout)}
        assert got == {"alpha": 3, "beta": 1, "gamma": 12}
        gamma = next(t for t in json.loads(out.stdout) if t["name"] == "gamma")
        assert gamma["cleanup_policy"] == "compact"
        assert gamma["replication_factor"] == 1 and gamma["end_offsets_total"] == 0


async def test_topic_end_offsets_are_true_after_batched_produce(bootstrap: str) -> None:
    topic = unique("batched")
    await create(
        bootstrap,
        NewTopicSpec(topic, 2, configs={"retention.ms": "604800000", "compression.type": "lz4"}),
    )
    # three batches of ten: Tansu's ListOffsets would say 21 here; the truth is 30
    for _ in range(3):
        await produce(bootstrap, topic, [b"x" * 50] * 10, partition=0, linger_ms=50)
    out = await asyncio.to_thread(kafkaops, "-b", bootstrap, "topic", topic, "--json")
    assert out.returncode == 0, out.stderr
    detail = json.loads(out.stdout)
    parts = {p["partition"]: p for p in detail["partitions"]}
    assert parts[0]["earliest"] == 0 and parts[0]["latest"] == 30
    assert parts[1]["latest"] == 0
    assert parts[0]["leader"] == 111  # Tansu's node id
    assert detail["summary"]["end_offsets_total"] == 30
    assert {c["name"]: c["value"] for c in detail["configs"]} == {
        "compression.type": "lz4",
        "retention.ms": "604800000",
    }

    table = await asyncio.to_thread(kafkaops, "-b", bootstrap, "topics", topic)
    assert table.returncode == 0
    row = next(line for line in table.stdout.splitlines() if line.startswith(topic))
    assert row.split() == [topic, "2", "1", "7d", "-", "lz4", "30"]


async def test_cluster_overview(bootstrap: str) -> None:
    out = await asyncio.to_thread(kafkaops, "-b", bootstrap, "cluster", "--json")
    assert out.returncode == 0, out.stderr
    ov = json.loads(out.stdout)
    assert ov["controller_id"] == 111
    assert [b["node_id"] for b in ov["brokers"]] == [111]
    assert ov["bootstrap_servers"] == bootstrap
    text = await asyncio.to_thread(kafkaops, "-b", bootstrap, "cluster")
    assert "controller   111" in text.stdout


async def test_named_cluster_from_config_file(
    config_file: Path, clusters: EmbeddedClusters
) -> None:
    out = await asyncio.to_thread(
        kafkaops, "--config", str(config_file), "-c", "dr", "cluster", "--json"
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["bootstrap_servers"] == clusters.bootstrap("dr")
    bad = await asyncio.to_thread(kafkaops, "--config", str(config_file), "-c", "nope", "topics")
    assert bad.returncode == 2 and "no cluster named 'nope' (configured: dr, primary)" in bad.stderr


async def test_unreachable_cluster_and_unknown_topic_fail_clearly(bootstrap: str) -> None:
    out = await asyncio.to_thread(kafkaops, "-b", "127.0.0.1:1", "topics")
    assert out.returncode == 1
    assert "cluster 'adhoc' unreachable at 127.0.0.1:1" in out.stderr
    assert "Traceback" not in out.stderr
    out = await asyncio.to_thread(kafkaops, "-b", bootstrap, "topic", "no-such-topic")
    assert out.returncode == 1 and "topic 'no-such-topic' not found" in out.stderr
    out = await asyncio.to_thread(kafkaops, "-b", bootstrap, "topics", "--jsn")
    assert out.returncode == 2 and "unrecognized arguments: --jsn" in out.stderr
