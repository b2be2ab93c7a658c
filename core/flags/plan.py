"""A flag change before it is made: `FlagPlan`, built by pure rules from the state in force.

Every face asks core for the plan (kafkaops.core.flags.service's `plan_*` methods read the
topic and call the builders here), shows `describe()`, and hands the plan back to `apply`
(FlagService.apply). The plan says the version it expects and the state after, version
included, so no face computes a flag's next version or state itself. A plan is frozen and
goes to JSON and back (`to_json` / `from_json`): the Slack bot keeps it in the pending
confirmation and applies exactly what the prompt showed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafkaops.core.errors import StaleVersion, UsageError
from kafkaops.core.flags.model import (
    FlagState,
    Rule,
    Variant,
    check_rollout,
    check_state,
    check_value,
    state_from_json,
    state_to_json,
)

#: fields a change may set (the rest is bookkeeping: version, who, when, why)
CONTENT = ("type", "enabled", "value", "default", "rollout", "variants", "rules", "owner",
           "description", "tags")


@dataclass(frozen=True)
class FlagPlan:
    """One change of one flag, as it will be written."""

    key: str
    """Flag key."""
    op: str
    """create, set, toggle, rollout, rollback or delete."""
    before: FlagState | None
    """The state it was planned against; None for a create."""
    after: FlagState | None
    """The state after, with the version it will have; None for a delete. Who, when and
    why are filled in when it is applied."""
    expects: int
    """The version it replaces (0: the flag must not exist)."""
    change: str
    """The change in words, e.g. `switch off → on`."""
    fields: tuple[str, ...] = ()
    """The fields it sets (of CONTENT); applied on top of the state in force."""
    flip: bool = False
    """A toggle without on/off: re-planned against a newer state, it flips that one."""
    pinned: bool = True
    """The expected version was named (--if-version, the version on screen or in a
    prompt): a newer version in force is a conflict. Unpinned, `apply` plans the same
    change again against the version in force."""
    reason: str = ""
    """Why, as the person said."""
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The change's parameters, for the audit trail."""

    def describe(self) -> tuple[str, ...]:
        """The plan for people: the change, the state now and the state after."""
        now = state_summary(self.before) if self.before else f"no flag named {self.key}"
        after = state_summary(self.after) if self.after else (
            "deleted: services get their own defaults")
        return (f"{self.key}: {self.change}", f"now: {now}", f"after: {after}")

    def nothing_to_change(self) -> str | None:
        """What to say when the plan would leave the flag serving exactly what it serves
        now (a rollout of 25% to 25%, switching on a flag that is on), so a face says so
        and asks nothing; None when it changes something. Apply refuses such a plan too
        (NothingToChange, nothing written or audited)."""
        if self.before is None or self.after is None or not same_content(self.before,
                                                                         self.after):
            return None
        return (f"nothing to change: flag {self.key!r} is already "
                f"{state_summary(self.before)}; nothing was written")

    def pin(self) -> FlagPlan:
        """The plan against the version it shows (a face that showed it to a person)."""
        return dataclasses.replace(self, pinned=True) if self.before is not None else self

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "op": self.op, "expects": self.expects, "change": self.change,
            "before": state_to_json(self.before) if self.before else None,
            "after": state_to_json(self.after) if self.after else None,
            "fields": list(self.fields), "flip": self.flip, "pinned": self.pinned,
            "reason": self.reason, "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlagPlan:
        """A plan from `to_json`'s form; ValueError when it is not one."""
        try:
            plan = cls(
                key=str(data["key"]), op=str(data["op"]), expects=int(data["expects"]),
                change=str(data["change"]),
                before=state_from_json(data["before"]) if data["before"] else None,
                after=state_from_json(data["after"]) if data["after"] else None,
                fields=tuple(str(f) for f in data["fields"]), flip=bool(data["flip"]),
                pinned=bool(data["pinned"]), reason=str(data["reason"]),
                params=dict(data["params"]),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not a flag plan: {e}") from None
        if not set(plan.fields) <= set(CONTENT):
            raise ValueError(f"not a flag plan: fields {plan.fields}")
        return plan

    def changes(self) -> dict[str, Any]:
        """The fields it sets, with their new values."""
        assert self.after is not None
        return {f: getattr(self.after, f) for f in self.fields}


# ---------------------------------------------------------------- the builders (pure)


def plan_create(
    key: str, ftype: str, *, default: Any, value: Any, deleted_version: int, owner: str = "",
    description: str = "", tags: tuple[str, ...] = (), rollout: float = 100.0,
    variants: tuple[Variant, ...] = (), rules: tuple[Rule, ...] = (), reason: str = "",
    params: Mapping[str, Any],
) -> FlagPlan:
    """A new flag, disabled; it continues the numbering of a deleted flag of that key."""
    after = check_state(FlagState(
        key=key, type=ftype, enabled=False, value=value, default=default,  # type: ignore[arg-type]
        rollout=rollout, variants=variants, rules=rules, owner=owner, description=description,
        tags=tags, version=deleted_version + 1, reason=reason))
    return FlagPlan(key, "create", None, after, 0, f"create {ftype} flag (disabled)",
                    fields=CONTENT, reason=reason, params=params)


def plan_update(
    op: str, current: FlagState, changes: Mapping[str, Any], change: str, *,
    pinned: bool, reason: str = "", params: Mapping[str, Any], flip: bool = False,
) -> FlagPlan:
    """`changes` (fields of CONTENT) on top of `current`, as version current + 1."""
    after = check_state(dataclasses.replace(current, version=current.version + 1,
                                            reason=reason, **changes))
    return FlagPlan(current.key, op, current, after, current.version, change,
                    fields=tuple(changes), flip=flip, pinned=pinned, reason=reason,
                    params=params)


def plan_toggle(current: FlagState, enabled: bool | None, *, pinned: bool, reason: str = ""
                ) -> FlagPlan:
    """On or off (`enabled`), or flip (None)."""
    target = (not current.enabled) if enabled is None else enabled
    return plan_update("toggle", current, {"enabled": target},
                       f"switch {on_off(current.enabled)} → {on_off(target)}", pinned=pinned,
                       reason=reason, params={"enabled": "flip" if enabled is None else enabled},
                       flip=enabled is None)


def plan_rollout(current: FlagState, percent: float | str, *, pinned: bool, reason: str = ""
                 ) -> FlagPlan:
    pct = check_rollout(percent)
    return plan_update("rollout", current, {"rollout": pct},
                       f"rollout {current.rollout:g}% → {pct:g}%", pinned=pinned, reason=reason,
                       params={"rollout": pct})


def plan_set(current: FlagState, changes: Mapping[str, Any], *, pinned: bool, reason: str = "",
             params: Mapping[str, Any]) -> FlagPlan:
    """Any of the content fields; values are checked against the flag's type."""
    checked = dict(changes)
    for name in ("value", "default"):
        if name in checked:
            checked[name] = check_value(current.type, checked[name], name)
    if "rollout" in checked:
        checked["rollout"] = check_rollout(checked["rollout"])
    for name in ("tags", "variants", "rules"):
        if name in checked:
            checked[name] = tuple(checked[name])
    said = "; ".join(f"{name} {_said(name, getattr(current, name))} → {_said(name, new)}"
                     for name, new in checked.items())
    return plan_update("set", current, checked, said, pinned=pinned, reason=reason,
                       params=params)


def plan_rollback(current: FlagState, target: FlagState, *, pinned: bool, reason: str = ""
                  ) -> FlagPlan:
    """The content `target` (an earlier version) had, as a new version."""
    if current.version == target.version:
        raise UsageError(f"flag {current.key!r} is already at version {target.version}")
    why = reason or f"rollback to version {target.version}"
    return plan_update("rollback", current, {f: getattr(target, f) for f in CONTENT},
                       f"roll back to version {target.version}", pinned=pinned, reason=why,
                       params={"to_version": target.version})


def plan_delete(current: FlagState, *, pinned: bool, reason: str = "") -> FlagPlan:
    return FlagPlan(current.key, "delete", current, None, current.version, "delete",
                    pinned=pinned, reason=reason, params={})


def replan(plan: FlagPlan, current: FlagState) -> FlagPlan:
    """The same change against a newer state in force (for an unpinned plan)."""
    if plan.op == "delete":
        return plan_delete(current, pinned=plan.pinned, reason=plan.reason)
    changes = plan.changes()
    if plan.flip:
        changes["enabled"] = not current.enabled
    return dataclasses.replace(
        plan_update(plan.op, current, changes, plan.change, pinned=plan.pinned,
                    reason=plan.reason, params=plan.params, flip=plan.flip),
        change=plan.change if not plan.flip else
        f"switch {on_off(current.enabled)} → {on_off(not current.enabled)}")


# ---------------------------------------------------------------- words


def on_off(enabled: bool) -> str:
    return "on" if enabled else "off"


def short(value: Any, width: int = 30) -> str:
    # ensure_ascii=False: a value "🚧" reads as itself, not as \ud83d\udea7
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _said(name: str, value: Any) -> str:
    if name == "rules":
        return "[" + "; ".join(str(r) for r in value) + "]"
    if name == "variants":
        return "[" + ", ".join(f"{v.name}:{v.weight}={short(v.value)}" for v in value) + "]"
    if name == "tags":
        return "[" + ", ".join(value) + "]"
    return short(value)


def version_conflict(current: FlagState | None, expected: int, key: str = "") -> StaleVersion:
    """The Conflict for a write that names a version the flag is no longer at."""
    if current is None:
        return StaleVersion(
            f"flag {key!r} does not exist (you expected version {expected}); nothing was written"
        )
    return StaleVersion(
        f"flag {current.key!r} is at version {current.version} (changed by "
        f"{current.updated_by or 'unknown'} at {current.updated_at}"
        + (f": {current.reason}" if current.reason else "")
        + f"), not {expected}; nothing was written. Look at that change, then retry "
        f"against version {current.version}"
    )


def same_content(current: FlagState, proposed: FlagState) -> bool:
    """The proposed state serves exactly what the current one does: only the bookkeeping
    (version, who, when, why) differs."""
    return dataclasses.replace(
        proposed, version=current.version, updated_by=current.updated_by,
        updated_at=current.updated_at, reason=current.reason, created_by=current.created_by,
        created_at=current.created_at,
    ) == current


def state_summary(state: FlagState) -> str:
    """One line for people: `on, 30% rollout, value true (v4)`."""
    parts = ["on" if state.enabled else "off"]
    if state.rollout < 100:
        parts.append(f"{state.rollout:g}% rollout")
    if state.variants:
        parts.append("variants " + ", ".join(f"{v.name}:{v.weight}" for v in state.variants))
    if state.rules:
        parts.append("rules " + "; ".join(str(r) for r in state.rules))
    parts.append(f"value {json.dumps(state.value)}")
    return ", ".join(parts) + f" (v{state.version})"
