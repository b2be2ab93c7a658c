"""Plans applied after the state moved (a Slack Confirm minutes later): core refuses with
Conflict or a refusal, changes nothing, and the audit trail says so once."""

from __future__ import annotations

import pytest

from kafkaops.core.admin.apply import apply_plan
from kafkaops.core.admin.groups import GroupAdmin, GroupNotEmpty
from kafkaops.core.admin.plans import AdminPlan
from kafkaops.core.admin.topic_admin import TopicAdmin
from kafkaops.core.errors import Conflict
from kafkaops.core.services import Services
from kafkaops.core.topics.service import NewTopicSpec

from .conftest import unique
from .offsets_support import joined_consumer, make_known_topic, read_committed, stopped_group


async def results(services: Services, target: str) -> list[tuple[str, str]]:
    return [(r.action, r.result) for r in await (await services.audit()).records()
            if r.target == target and r.result != "intent"]


async def test_a_config_plan_made_stale_by_another_change_is_a_conflict(
    services: Services,
) -> None:
    name = unique("stale")
    await (await services.topics()).create_topics(
        [NewTopicSpec(name, 1, configs={"retention.ms": "600000"})])
    admin = TopicAdmin(services)
    plan = await admin.plan_alter_config(name, {"retention.ms": "60000"}, [])
    other = await admin.plan_alter_config(name, {"retention.ms": "120000"}, [])
    await admin.apply(other, actor="someone@else", face="cli")
    with pytest.raises(Conflict, match="changed since the plan") as e:
        await admin.apply(plan, actor="me@here", face="cli")
    assert e.value.exit_code == 3
    detail = await (await services.topics()).topic_detail(name)
    assert [(c.name, c.value) for c in detail.configs] == [("retention.ms", "120000")]
    assert await results(services, name) == [("topic.config", "ok"), ("topic.config", "error")]


async def test_a_plan_survives_the_trip_through_json(services: Services) -> None:
    name = unique("trip")
    plan = await TopicAdmin(services).plan_create(name, 2, 1, {"cleanup.policy": "compact"})
    result = await apply_plan(services, AdminPlan.from_jsonable(plan.to_jsonable()),
                              actor="me@here", face="slack")
    assert result.verified
    detail = await (await services.topics()).topic_detail(name)
    assert detail.summary.partitions == 2 and detail.summary.cleanup_policy == "compact"
    with pytest.raises(Conflict, match="was created by someone else"):
        await apply_plan(services, plan, actor="me@here", face="slack")


async def test_a_group_that_gained_a_member_after_the_plan_is_not_deleted(
    services: Services, bootstrap: str,
) -> None:
    known = await make_known_topic(bootstrap)
    group = await stopped_group(bootstrap, known.name, {0: 9})
    plan = await GroupAdmin(services).plan_delete(group)
    consumer = await joined_consumer(bootstrap, group, known.name, "late-joiner")
    try:
        with pytest.raises(GroupNotEmpty, match="has 1 active member: late-joiner-") as e:
            await apply_plan(services, plan, actor="me@here", face="console")
        assert e.value.audited  # record_change wrote it; a face does not write it again
    finally:
        await consumer.stop()
    assert await read_committed(bootstrap, group, known.name) == {0: 9, 1: None, 2: None}
    assert await results(services, group) == [("group.delete", "refused")]
