"""Changing topic configs on a broker that offers neither IncrementalAlterConfigs nor
AlterConfigs (the embedded broker with IncrementalAlterConfigs hidden from its ApiVersions
answer; it has no AlterConfigs of its own): one clear line, exit 1, nothing changed,
nothing audited. The same broker still reads, creates and deletes topics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .admin_support import audit_rows, kafkaops, topics_json
from .conftest import unique
from .hidden_api_broker import broker_without

INCREMENTAL_ALTER_CONFIGS, ALTER_CONFIGS = 44, 33


@pytest.fixture(scope="module")
def old_broker() -> Iterator[str]:
    with broker_without({INCREMENTAL_ALTER_CONFIGS, ALTER_CONFIGS}) as bootstrap:
        yield bootstrap


@pytest.fixture
def old_config(tmp_path: Path, old_broker: str) -> Path:
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"clusters": {"old": {"bootstrap_servers": old_broker}},
                                    "audit": {"signing_key": "test-signing-key"}}))
    return path


async def test_config_changes_get_a_clear_error_and_change_nothing(old_config: Path) -> None:
    name = unique("cfg")
    made = await kafkaops(old_config, "topic", "create", name, "-p", "2", "--topic-config",
                          "retention.ms=600000", "--yes")
    assert made.returncode == 0, made.stderr
    for argv in (["--set", "retention.ms=1"], ["--delete", "retention.ms"]):
        out = await kafkaops(old_config, "topic", "alter-config", name, *argv, "--yes")
        assert out.returncode == 1
        assert out.stderr == (
            "kafkaops: this cluster does not support changing topic configs: cluster 'old' "
            "offers neither IncrementalAlterConfigs nor AlterConfigs (or only AlterConfigs, "
            "which replaces every config of the topic while the broker does not report "
            "them all). Nothing was changed.\n")
        assert out.stdout == ""
    assert (await topics_json(old_config))[name]["retention_ms"] == "600000"
    assert [r["action"] for r in await audit_rows(old_config, name)
            if r["result"] != "intent"] == ["topic.create"]
    shown = await kafkaops(old_config, "topic", name, "--json")
    assert json.loads(shown.stdout)["summary"]["partitions"] == 2
    gone = await kafkaops(old_config, "topic", "delete", name, "--yes")
    assert gone.returncode == 0, gone.stderr
