"""`kafkaops policy` through the installed command against the real broker: a topic made
non-compliant by the test shows with its rule, value and fix command and exit 1; a value
the broker does not report is UNKNOWN; the fix is planned right, refused without a
terminal or on a read-only cluster, and applied (IncrementalAlterConfigs: only the configs
the policies want change) it clears the violation, audited; a plan made stale by another
change is refused; recreating the topic compliant clears it too."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .conftest import KAFKAOPS, cli_env, unique

SEVEN_YEARS = str(7 * 365 * 86_400_000)


def policies(tag: str) -> list[dict]:
    return [
        {"name": "iac-retention", "match": {"topic": f"iac.{tag}*"},
         "require": {"retention": ">= 7y", "cleanup_policy": "delete",
                     "min_insync_replicas": ">= 1"}},
        {"name": "logs-compressed", "match": {"topic": f"logs.{tag}*"},
         "require": {"compression_type": ["lz4", "snappy", "zstd"]}},
    ]


def write(tmp_path: Path, config_data: dict, tag: str, **extra: object) -> Path:
    data = json.loads(json.dumps(config_data))
    data["teams"] = {"platform": {"match": [f"iac.{tag}*", f"logs.{tag}*"],
                                  "channel": "#platform"}}
    data["policies"] = policies(tag)
    for key, value in extra.items():
        data[key] = value
    path = tmp_path / f"{unique('cfg')}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def kafkaops(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [KAFKAOPS, "--config", str(cfg), "policy", *args],
        capture_output=True, text=True, env=cli_env(), timeout=90, stdin=subprocess.DEVNULL)


async def create(config_data: dict, name: str, configs: dict[str, str]) -> None:
    async with Services(parse_config(config_data, "<t>")) as s:
        await (await s.topics()).create_topics([NewTopicSpec(name, 1, configs=configs)])


async def audit(config_data: dict, cluster: str, target: str) -> list[tuple[str, str, str]]:
    async with Services(parse_config(config_data, "<t>")) as s:
        records = await (await s.audit(cluster)).records()
    return [(r.action, r.result, r.error or "") for r in records if r.target == target]


@pytest.fixture
async def bad_iac(config_data: dict) -> tuple[str, str]:
    """A topic created with an explicit, non-compliant retention of one day."""
    tag = unique("p")
    name = f"iac.{tag}"
    await create(config_data, name, {"retention.ms": "86400000", "cleanup.policy": "delete",
                                     "min.insync.replicas": "1"})
    return tag, name


async def test_a_non_compliant_topic_shows_with_rule_value_and_fix(bad_iac, config_data,
                                                                   tmp_path):
    tag, name = bad_iac
    cfg = write(tmp_path, config_data, tag)
    done = await kafkaops(cfg, "check")
    assert done.returncode == 1, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith(name))
    assert line.split() == [name, "platform", "iac-retention", "retention.ms", ">=", "7y",
                            "VIOLATION", "86400000", "(1d)", "kafkaops", "-c", "primary",
                            "policy", "fix", name]
    done = await kafkaops(cfg, "check", "--json")
    assert done.returncode == 1
    (f,) = [f for f in json.loads(done.stdout)["findings"] if f["topic"] == name]
    assert (f["policy"], f["rule"], f["status"], f["found"], f["fix"]) == (
        "iac-retention", "retention.ms >= 7y", "violation", "86400000",
        {"config": "retention.ms", "value": SEVEN_YEARS, "shown": "7y"})
    assert f["fix_command"] == f"kafkaops -c primary policy fix {name}"


async def test_a_config_the_broker_does_not_report_is_unknown_and_fails(config_data, tmp_path):
    tag = unique("p")
    name = f"logs.{tag}"
    await create(config_data, name, {"retention.ms": "3600000"})  # no compression.type set
    cfg = write(tmp_path, config_data, tag)
    done = await kafkaops(cfg, "check", "--topic", name, "--json")
    assert done.returncode == 1
    (f,) = json.loads(done.stdout)["findings"]
    assert (f["status"], f["found"], f["found_shown"]) == ("unknown", None, "not reported")
    done = await kafkaops(cfg, "check", "--topic", name, "--allow-unknown")
    assert done.returncode == 0, done.stdout
    assert "UNKNOWN" in done.stdout and "not reported" in done.stdout


async def test_the_fix_plan_is_right_and_without_a_terminal_nothing_changes(
        bad_iac, config_data, tmp_path):
    tag, name = bad_iac
    cfg = write(tmp_path, config_data, tag)
    done = await kafkaops(cfg, "fix", name)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"kafkaops: topic {name} on primary:",
        f"  set retention.ms: 86400000 -> {SEVEN_YEARS}   (iac-retention)",
        "not a terminal and --yes not given: nothing was changed"]
    assert await audit(config_data, "primary", name) == []


async def test_fixing_from_the_cli_clears_it_audited_and_leaves_other_configs(
        bad_iac, config_data, tmp_path):
    tag, name = bad_iac
    cfg = write(tmp_path, config_data, tag)
    done = await kafkaops(cfg, "fix", name, "--yes", "--reason", "audit finding 12")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"changed topic {name} on primary: retention.ms={SEVEN_YEARS}"
    (row,) = await audit(config_data, "primary", name)
    assert row == ("topic.config", "ok", "")
    check = await kafkaops(cfg, "check", "--topic", name)
    assert check.returncode == 0, check.stdout
    assert "every topic complies" in check.stdout
    # only retention.ms changed: the topic's other overrides are as they were
    async with Services(parse_config(config_data, "<t>")) as s:
        configs = await (await s.topics()).configs([name], None)
    assert {c.name: c.value for c in configs[name]} == {
        "retention.ms": SEVEN_YEARS, "cleanup.policy": "delete", "min.insync.replicas": "1"}
    again = await kafkaops(cfg, "fix", name, "--yes")
    assert again.returncode == 0 and "nothing to change: nothing was written" in again.stderr
    assert len(await audit(config_data, "primary", name)) == 1


async def test_a_plan_made_stale_by_another_change_is_refused_and_changes_nothing(
        bad_iac, config_data):
    from kafkaops.core.admin import wire
    from kafkaops.core.audit.log import local_actor
    from kafkaops.core.errors import Conflict
    from kafkaops.core.policy.service import PolicyService

    tag, name = bad_iac
    data = json.loads(json.dumps(config_data))
    data["policies"] = policies(tag)
    async with Services(parse_config(data, "<t>")) as s:
        svc = PolicyService(s)
        plan = await svc.plan_fix(name)
        conn = await s.connection()  # someone else sets retention to two days meanwhile
        await wire.alter_configs_incremental(conn, conn.client.get_random_node(), name,
                                             {"retention.ms": "172800000"}, [])
        with pytest.raises(Conflict, match="changed since the plan"):
            await svc.apply_fix(plan, actor=local_actor(), face="cli")
        configs = await (await s.topics()).configs([name], ["retention.ms"])
    assert [c.value for c in configs[name]] == ["172800000"]
    assert [r[:2] for r in await audit(config_data, "primary", name)] == [
        ("topic.config", "refused")]


async def test_recreating_the_topic_compliant_clears_it(bad_iac, config_data, tmp_path):
    tag, name = bad_iac
    cfg = write(tmp_path, config_data, tag)
    assert (await kafkaops(cfg, "check", "--topic", name)).returncode == 1
    async with Services(parse_config(config_data, "<t>")) as s:
        conn = await s.connection()
        await conn.admin.delete_topics([name])
    for _ in range(50):  # the broker forgets it, then the name may be created again
        try:
            await create(config_data, name, {"retention.ms": SEVEN_YEARS,
                                             "cleanup.policy": "delete",
                                             "min.insync.replicas": "1"})
            break
        except Exception:  # noqa: BLE001 - still being deleted
            await asyncio.sleep(0.1)
    done = await kafkaops(cfg, "check", "--topic", name)
    assert done.returncode == 0, done.stdout
    assert "every topic complies" in done.stdout
    fix = await kafkaops(cfg, "fix", name, "--yes")
    assert fix.returncode == 0
    assert "nothing to change: nothing was written" in fix.stderr


async def test_read_only_refuses_before_planning_and_audits_elsewhere(bad_iac, config_data,
                                                                     tmp_path):
    tag, name = bad_iac
    data = json.loads(json.dumps(config_data))
    data["clusters"]["primary"]["read_only"] = True
    cfg = write(tmp_path, data, tag)
    done = await kafkaops(cfg, "fix", name, "--yes")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("kafkaops: cluster 'primary' is read-only")
    assert await audit(config_data, "primary", name) == []
    refused = await audit(config_data, "dr", name)
    assert [(a, r) for a, r, _ in refused] == [("policy.fix", "refused")]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["check", "--topic", "no-such-topic"], 1, "topic 'no-such-topic' not found"),
    (["fix", "no-such-topic", "--yes"], 1, "topic 'no-such-topic' not found"),
    (["fix"], 2, "the following arguments are required: TOPIC"),
    (["lint"], 2, "invalid choice: 'lint'"),
])
async def test_bad_input_is_one_line(config_data, tmp_path, args, code, message):
    done = await kafkaops(write(tmp_path, config_data, "x"), *args)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr


async def test_no_policies_is_a_config_error(config_file):
    done = await kafkaops(config_file, "check")
    assert done.returncode == 2
    assert "policies: none configured" in done.stderr
