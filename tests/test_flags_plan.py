"""A flag change as core plans it (kafkaops.core.flags.plan): the state after with the
version it will have, the version it expects, its describe() lines, its JSON round trip,
and what an unpinned plan becomes when the flag moved before it was applied."""

from __future__ import annotations

import json

import pytest

from kafkaops.core.errors import UsageError
from kafkaops.core.flags.model import FlagState
from kafkaops.core.flags.plan import (
    FlagPlan,
    plan_delete,
    plan_rollback,
    plan_rollout,
    plan_set,
    plan_toggle,
    replan,
)


def flag(**kw: object) -> FlagState:
    base: dict[str, object] = {"key": "checkout", "type": "bool", "enabled": False,
                               "value": True, "default": False, "version": 4,
                               "updated_by": "alice", "owner": "payments"}
    base.update(kw)
    return FlagState(**base)  # type: ignore[arg-type]


def test_a_toggle_says_the_change_and_the_state_after_with_its_version() -> None:
    plan = plan_toggle(flag(), None, pinned=True, reason="incident 42")
    assert (plan.expects, plan.after.version if plan.after else None) == (4, 5)
    assert plan.describe() == ("checkout: switch off → on", "now: off, value true (v4)",
                               "after: on, value true (v5)")
    assert plan.after is not None and plan.after.enabled and plan.reason == "incident 42"


def test_a_plan_goes_to_json_and_back_unchanged() -> None:
    for plan in (plan_rollout(flag(rollout=10), "25%", pinned=False),
                 plan_set(flag(type="string", value="a", default="b"), {"value": "🚧"},
                          pinned=True, params={"value": "🚧"}),
                 plan_delete(flag(), pinned=True)):
        again = FlagPlan.from_json(json.loads(json.dumps(plan.to_json())))
        assert again == plan
    with pytest.raises(ValueError, match="not a flag plan"):
        FlagPlan.from_json({"key": "checkout"})
    forged = plan_toggle(flag(), True, pinned=True).to_json() | {"fields": ["version"]}
    with pytest.raises(ValueError, match="not a flag plan"):
        FlagPlan.from_json(forged)  # a plan may set content, never the bookkeeping


def test_an_unpinned_plan_is_made_again_against_the_version_in_force() -> None:
    flip = plan_toggle(flag(), None, pinned=False)
    moved = flag(enabled=True, version=6, rollout=50)
    again = replan(flip, moved)
    assert again.after is not None and again.before == moved
    assert (again.expects, again.after.version, again.after.enabled) == (6, 7, False)
    assert again.after.rollout == 50  # the other writer's change stays
    assert again.change == "switch on → off"
    rollout = replan(plan_rollout(flag(), 30, pinned=False), moved)
    assert rollout.after is not None and (rollout.after.rollout, rollout.after.enabled) == (
        30, True)


def test_bad_changes_are_refused_before_any_plan() -> None:
    with pytest.raises(UsageError, match="rollout must be a percentage"):
        plan_rollout(flag(), 150, pinned=True)
    with pytest.raises(UsageError, match="a bool flag takes true or false"):
        plan_set(flag(), {"value": "yes please"}, pinned=True, params={})
    with pytest.raises(UsageError, match="already at version 4"):
        plan_rollback(flag(), flag(), pinned=True)
