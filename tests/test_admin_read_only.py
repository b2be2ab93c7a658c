"""On a cluster marked `read_only: true` every admin change is refused before anything is
read or asked, with the one refusal message, exit 1; nothing changes on the cluster, and
the refusal is on another cluster's audit trail (nothing is written to a read-only one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .admin_support import audit_rows, kafkaops, tail_json
from .conftest import unique
from .offsets_support import make_known_topic, read_committed, stopped_group


@pytest.fixture
def read_only_file(tmp_path: Path, config_data: dict) -> Path:
    data = json.loads(json.dumps(config_data))
    data["clusters"]["primary"]["read_only"] = True
    path = tmp_path / "read-only.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("argv", "words"), [
    (["produce", "{topic}", "--value", "x", "--yes"], "produce to topic '{topic}'"),
    (["topic", "create", "{new}", "-p", "1", "--yes"], "create topic '{new}'"),
    (["topic", "delete", "{topic}", "--yes"], "delete topic '{topic}'"),
    (["topic", "alter-config", "{topic}", "--set", "retention.ms=1", "--yes"],
     "change the configs of topic '{topic}'"),
    (["topic", "add-partitions", "{topic}", "--num", "9", "--yes"],
     "add partitions to topic '{topic}'"),
    (["group", "delete", "{group}", "--yes"], "delete group '{group}'"),
])
async def test_every_change_is_refused_and_audited_elsewhere(
    read_only_file: Path, config_file: Path, services: Services, bootstrap: str,
    argv: list[str], words: str,
) -> None:
    topic, new = unique("ro"), unique("ro-new")
    await (await services.topics()).create_topics(
        [NewTopicSpec(topic, 2, configs={"retention.ms": "600000"})])
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 5})
    names = {"topic": topic, "new": new, "group": group}
    out = await kafkaops(read_only_file, *[a.format(**names) for a in argv])
    assert out.returncode == 1
    assert out.stderr == (f"kafkaops: cluster 'primary' is read-only (read_only: true in "
                          f"{read_only_file}); refusing to {words.format(**names)}\n")
    assert out.stdout == ""
    detail = await (await services.topics()).topic_detail(topic)
    assert detail.summary.partitions == 2
    assert [(c.name, c.value) for c in detail.configs] == [("retention.ms", "600000")]
    assert await tail_json(config_file, topic) == []
    assert new not in {t.name for t in await (await services.topics()).list_topics()}
    assert await read_committed(bootstrap, group, known.name) == {0: 5, 1: None, 2: None}
    target = next(v for k, v in names.items() if f"'{{{k}}}'" in words)
    [row] = await audit_rows(config_file, target)
    assert (row["result"], row["cluster"], row["trail"]) == ("refused", "primary", "dr")
