"""Feature flags and config values, kept in the compacted topic `_kafkaops.flags`: the
service every face uses (`FlagService`): read flags, plan a change, apply a plan.

A change is planned first (`plan_create`, `plan_set`, `plan_toggle`, `plan_rollout`,
`plan_rollback`, `plan_delete` -> kafkaops.core.flags.plan's `FlagPlan`: the state after,
the version it expects, `describe()`), shown by the face, then `apply`-ed: a compare-and-set
write through the audit trail (kafkaops.core.flags.writer, whose docstring gives the record
layout, the compare-and-set rule and why rejected records are repaired). `create`, `set`,
`toggle`, `rollout`, `rollback` and `delete` plan and apply in one call.

Rollout is sticky: a user's bucket is a stable hash of flag key + user key (0..9999), and
the user is in a rollout of p % when bucket < p * 100, so raising p only adds users.
Variants use a second, independent hash, so changing the rollout never reshuffles them
(kafkaops.core.flags.evaluation).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kafkaops.core.audit.log import local_actor
from kafkaops.core.errors import KafkaOpsError, NotFound, NothingToChange, UsageError
from kafkaops.core.flags.evaluation import (
    BUCKETS,
    Evaluation,
    bucket,
    evaluate,
    in_rollout,
    pick_variant,
)
from kafkaops.core.flags.model import (
    FLAG_TYPES,
    FLAGS_TOPIC,
    H_EXPECTS,
    H_OP,
    FlagChange,
    FlagState,
    LogRecord,
    Rule,
    Variant,
    check_key,
    check_rollout,
    check_type,
    check_value,
    parse_rule,
    parse_value,
    parse_variant,
    state_from_json,
    state_to_json,
)
from kafkaops.core.flags.plan import (
    FlagPlan,
    plan_create,
    plan_delete,
    plan_rollback,
    plan_rollout,
    plan_set,
    plan_toggle,
    replan,
    same_content,
    state_summary,
    version_conflict,
)
from kafkaops.core.flags.store import FlagLog, FlagStore
from kafkaops.core.flags.writer import Build, FlagWriter

log = logging.getLogger(__name__)

_UNSET: Any = object()


class FlagService(FlagWriter):
    """Flags on one cluster for the control plane (CLI, console, Slack): read, plan, apply.

    `start()` reads the whole topic (with history) and keeps following it. A plan is made
    against the state in force (read fresh); `apply` writes it by compare-and-set (module
    kafkaops.core.flags.writer) and returns the new state once the record has been read
    back as applied, or raises Conflict. `actor` is who acts (user@host, a Slack user),
    `face` is cli, console or slack; both go into the record and the audit trail.
    """

    # -------------------------------------------------------- reads

    async def list_flags(self, *, fresh: bool = True) -> list[FlagState]:
        """Every flag, sorted by key. `fresh`: first read up to the topic's current end (what
        any writer has written before this call); a live view that follows changes anyway
        passes False and gets the store's state at once."""
        await self._read(fresh)
        return [self.store.flags[k] for k in sorted(self.store.flags)]

    async def get(self, key: str, *, fresh: bool = True) -> FlagState:
        """One flag (NotFound if it does not exist); `fresh` as for list_flags."""
        await self._read(fresh)
        state = self.store.flags.get(key)
        if state is None:
            raise NotFound(self._missing(key))
        return state


    async def history(self, key: str) -> list[FlagChange]:
        """Every record of the flag still on the topic, oldest first, with its outcome."""
        await self._read(True)
        changes = self.store.log.history.get(key, [])
        if not changes:
            raise NotFound(f"no history for flag {key!r} on cluster {self.cluster!r}")
        return list(changes)

    @property
    def signed(self) -> bool:
        """Flag records are signed and verified here (a key is configured)."""
        return self.store.verifier is not None

    def ignored_records(self, key: str | None = None) -> list[tuple[int, str, str]]:
        """(offset, flag key, why) of each record not applied because its signature is
        missing or does not verify, as of the last read (`key`: that flag's only)."""
        notes = {c.offset: c.note for changes in self.store.log.history.values()
                 for c in changes}
        return [(o, k, notes.get(o, "signature check failed"))
                for o, k in sorted(self.store.log.unverified.items())
                if key is None or k == key]

    async def resign(self, key: str, *, actor: str, face: str, reason: str = "") -> FlagState:
        """Write the last unsigned state of a flag (recorded before flag records were
        signed) again, signed, as a new version: an audited change like any other.
        NothingToChange when the flag has no unsigned state waiting."""
        await self._read(True)
        waiting = self.store.log.unsigned_states.get(key)
        if waiting is None:
            raise NotFound(self._missing(key)) if key not in self.store.flags else \
                NothingToChange(f"nothing to re-sign: flag {key!r} is in force, signed; "
                                "nothing was written")
        why = reason or "re-signed: written before flag records were signed"

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            return dataclasses.replace(waiting, version=version, updated_at=at,
                                       updated_by=actor, reason=why)

        return _written(await self._write(key, "resign", build, None, actor=actor, face=face,
                                          reason=why, params={}))

    @property
    def history_start(self) -> int | None:
        """First offset still on the topic (older records were compacted or expired)."""
        return self.store.log.first_offset

    async def evaluate(
        self, key: str, users: Sequence[str | None], attributes: Mapping[str, Any] | None = None
    ) -> list[Evaluation]:
        """The flag evaluated for each user exactly as the SDK does."""
        state = await self.get(key)
        return [evaluate(state, u, attributes) for u in users]


    # -------------------------------------------------------- writes

    async def check_version(
        self, key: str, expected: int | None, *, op: str, actor: str, face: str,
        reason: str = "",
    ) -> FlagState:
        """The flag as it is now. When `expected` (the version the person last saw) is not
        the version in force, the write is refused before it starts: the refusal goes to
        the audit trail (action flag.<op>, result refused) and Conflict is raised, nothing
        written. NotFound when the flag does not exist."""
        state = await self.get(key)
        if expected is not None and expected != state.version:
            error = version_conflict(state, expected)
            if self.services is not None:
                from kafkaops.core.audit.trails import record_refusal

                try:
                    await record_refusal(
                        self.services, actor=actor, face=face, action=f"flag.{op}",
                        target=key, params={"expect_version": expected}, error=str(error),
                        cluster=self.cluster, context={"reason": reason or None})
                except KafkaOpsError as e:  # the refusal stands either way
                    log.error("could not audit the refusal of flag.%s %s by %s: %s", op, key,
                              actor, e)
            raise error
        return state


    def version_state(self, key: str, version: int) -> FlagState:
        """The state the flag had at `version`, from the history still on the topic."""
        found = [
            c.state
            for c in self.store.log.history.get(key, [])
            if c.outcome == "applied"
            and c.state is not None
            and c.state.version == version
            and c.op != "restate"
        ]
        if not found:
            kept = sorted(
                {
                    c.state.version
                    for c in self.store.log.history.get(key, [])
                    if c.outcome == "applied" and c.state is not None
                }
            )
            listing = ", ".join(str(v) for v in kept) or "none"
            raise NotFound(
                f"version {version} of flag {key!r} is not on the topic (versions kept: {listing})"
            )
        return found[-1]


    # -------------------------------------------------------- plans
    # Each plan_* reads the flag fresh and plans against it; `expect_version` (the version
    # the person last saw) makes a plan pinned, and a stale one a Conflict now, audited as
    # a refusal when `audit` = (actor, face).

    async def _planned_against(self, key: str, expect_version: int | None, op: str,
                               reason: str, audit: tuple[str, str] | None) -> FlagState:
        """The flag in force (read fresh); Conflict when it is not at `expect_version`,
        audited as a refusal when `audit` names who plans it and from which face."""
        if audit is not None:
            actor, face = audit
            return await self.check_version(check_key(key), expect_version, op=op,
                                            actor=actor, face=face, reason=reason)
        current = await self.get(check_key(key))
        if expect_version is not None and expect_version != current.version:
            raise version_conflict(current, expect_version)
        return current

    async def plan_create(
        self,
        key: str,
        *,
        type: str = "bool",  # noqa: A002 - the flag's type, as the CLI names it
        default: Any = _UNSET,
        value: Any = _UNSET,
        owner: str = "",
        description: str = "",
        tags: Sequence[str] = (),
        rollout: float = 100.0,
        variants: Sequence[Variant] = (),
        rules: Sequence[Rule] = (),
        reason: str = "",
    ) -> FlagPlan:
        """A new flag, disabled. Conflict at apply if it exists by then."""
        check_key(key)
        ftype = check_type(type)
        if default is _UNSET:
            default = {"bool": False, "string": "", "number": 0, "json": None}[ftype]
        default = check_value(ftype, default, "default")
        if value is _UNSET:
            value = (not default) if ftype == "bool" else default
        value = check_value(ftype, value, "value")
        try:
            await self._read(True)
            deleted = self.store.log.version_at_deletion(key)
        except KafkaOpsError:
            deleted = 0  # apply reads again, and numbers the version from what it reads
        params = {"type": ftype, "default": default, "value": value, "owner": owner,
                  "description": description, "tags": list(tags)}
        return plan_create(key, ftype, default=default, value=value, deleted_version=deleted,
                           owner=owner, description=description, tags=tuple(tags),
                           rollout=rollout, variants=tuple(variants), rules=tuple(rules),
                           reason=reason, params=params)

    async def plan_set(
        self,
        key: str,
        *,
        value: Any = _UNSET,
        default: Any = _UNSET,
        owner: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        variants: Sequence[Variant] | None = None,
        rules: Sequence[Rule] | None = None,
        enabled: bool | None = None,
        rollout: float | None = None,
        expect_version: int | None = None,
        reason: str = "",
        audit: tuple[str, str] | None = None,
    ) -> FlagPlan:
        """Any of a flag's fields (the others stay as they are)."""
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "value": value, "default": default, "owner": owner,
                "description": description, "tags": tags, "variants": variants,
                "rules": rules, "enabled": enabled, "rollout": rollout,
            }.items()
            if v is not None and v is not _UNSET
        }
        if not changes:
            raise UsageError(f"nothing to change on flag {key!r}: name a value or an option")
        if rollout is not None:
            check_rollout(rollout)  # before anything is read or audited
        params = dict(changes)
        for name, said in (("tags", list), ("rules", lambda rs: [str(r) for r in rs]),
                           ("variants", lambda vs: [dataclasses.asdict(x) for x in vs])):
            if name in params:
                params[name] = said(params[name])
        current = await self._planned_against(key, expect_version, "set", reason, audit)
        return plan_set(current, changes, pinned=expect_version is not None, reason=reason,
                        params=params)

    async def plan_toggle(self, key: str, enabled: bool | None = None, *,
                          expect_version: int | None = None, reason: str = "",
                          audit: tuple[str, str] | None = None) -> FlagPlan:
        """Switch the flag on or off (`enabled`), or flip it (None)."""
        current = await self._planned_against(key, expect_version, "toggle", reason, audit)
        return plan_toggle(current, enabled, pinned=expect_version is not None, reason=reason)

    async def plan_rollout(self, key: str, percent: float | str, *,
                           expect_version: int | None = None, reason: str = "",
                           audit: tuple[str, str] | None = None) -> FlagPlan:
        """Set the rollout percentage (0-100)."""
        check_rollout(percent)
        current = await self._planned_against(key, expect_version, "rollout", reason, audit)
        return plan_rollout(current, percent, pinned=expect_version is not None, reason=reason)

    async def plan_rollback(self, key: str, to_version: int, *,
                            expect_version: int | None = None, reason: str = "",
                           audit: tuple[str, str] | None = None) -> FlagPlan:
        """Restore the flag's content as it was at `to_version` (as a new version)."""
        if isinstance(to_version, bool) or not isinstance(to_version, int) or to_version < 1:
            raise UsageError(f"rollback needs a version number >= 1, got {to_version!r}")
        await self._read(True)
        target = self.version_state(key, to_version)
        current = await self._planned_against(key, expect_version, "rollback", reason, audit)
        return plan_rollback(current, target, pinned=expect_version is not None, reason=reason)

    async def plan_delete(self, key: str, *, expect_version: int | None = None,
                          reason: str = "", audit: tuple[str, str] | None = None) -> FlagPlan:
        """Delete the flag (a tombstone). SDKs then serve their callers' defaults."""
        current = await self._planned_against(key, expect_version, "delete", reason, audit)
        return plan_delete(current, pinned=expect_version is not None, reason=reason)

    # -------------------------------------------------------- apply

    async def apply(self, plan: FlagPlan, *, actor: str, face: str,
                    reason: str | None = None) -> FlagState | None:
        """Write the plan by compare-and-set through the audit trail; the new state (None
        for a delete). A pinned plan whose version is no longer in force is a Conflict and
        writes nothing; an unpinned one is planned again against the version in force.
        `reason` replaces the plan's (the bot adds who requested it)."""
        why = plan.reason if reason is None else reason
        return await self._write(plan.key, plan.op, _build(plan, actor, why),
                                 plan.expects if plan.pinned else None, actor=actor, face=face,
                                 reason=why, params=plan.params)

    async def _apply_at(self, plan: FlagPlan, expect_version: int | None, actor: str,
                        face: str) -> FlagState | None:
        """Apply a plan made unpinned, against `expect_version` when one is named: a stale
        one is then refused by the write path (audited as refused), as any conflict is."""
        if expect_version is not None:
            plan = dataclasses.replace(plan, expects=expect_version, pinned=True)
        return await self.apply(plan, actor=actor, face=face)

    # -------------------------------------------------------- plan and apply in one call

    async def create(self, key: str, *, actor: str, face: str, **kw: Any) -> FlagState:
        """A new flag, disabled. Conflict if it exists (also when created concurrently)."""
        return _written(await self.apply(await self.plan_create(key, **kw), actor=actor,
                                         face=face))

    async def set(self, key: str, *, expect_version: int | None = None, actor: str, face: str,
                  **kw: Any) -> FlagState:
        """Change any of a flag's fields (the others stay as they are)."""
        plan = await self.plan_set(key, **kw)
        return _written(await self._apply_at(plan, expect_version, actor, face))

    async def toggle(self, key: str, enabled: bool | None = None, *,
                     expect_version: int | None = None, actor: str, face: str,
                     reason: str = "") -> FlagState:
        """Switch the flag on or off (`enabled`), or flip it (None)."""
        plan = await self.plan_toggle(key, enabled, reason=reason)
        return _written(await self._apply_at(plan, expect_version, actor, face))

    async def rollout(self, key: str, percent: float | str, *,
                      expect_version: int | None = None, actor: str, face: str,
                      reason: str = "") -> FlagState:
        """Set the rollout percentage (0-100)."""
        plan = await self.plan_rollout(key, percent, reason=reason)
        return _written(await self._apply_at(plan, expect_version, actor, face))

    async def rollback(self, key: str, to_version: int, *, expect_version: int | None = None,
                       actor: str, face: str, reason: str = "") -> FlagState:
        """Restore the flag's content as it was at `to_version` (as a new version)."""
        plan = await self.plan_rollback(key, to_version, reason=reason)
        return _written(await self._apply_at(plan, expect_version, actor, face))

    async def delete(self, key: str, *, expect_version: int | None = None, actor: str,
                     face: str, reason: str = "") -> None:
        """Delete the flag (a tombstone). SDKs then serve their callers' defaults."""
        plan = await self.plan_delete(key, reason=reason)
        await self._apply_at(plan, expect_version, actor, face)


def _build(plan: FlagPlan, actor: str, reason: str) -> Build | None:
    """The write path's builder for a plan: its state after, stamped with who, when, why
    (planned again when an unpinned plan meets a newer version)."""
    if plan.op == "delete":
        return None

    def build(current: FlagState | None, version: int, at: str) -> FlagState:
        if plan.op == "create":
            assert plan.after is not None
            return dataclasses.replace(plan.after, version=version, updated_by=actor,
                                       updated_at=at, reason=reason, created_by=actor,
                                       created_at=at)
        assert current is not None
        now = plan if current.version == plan.expects else replan(plan, current)
        assert now.after is not None
        return dataclasses.replace(now.after, version=version, updated_by=actor,
                                   updated_at=at, reason=reason, created_by=current.created_by,
                                   created_at=current.created_at)

    return build


def _written(state: FlagState | None) -> FlagState:
    assert state is not None
    return state


__all__ = [  # what other modules import from here (model.py and store.py hold most of it)
    "BUCKETS",
    "FLAG_TYPES",
    "FLAGS_TOPIC",
    "H_EXPECTS",
    "H_OP",
    "Evaluation",
    "FlagChange",
    "FlagLog",
    "FlagPlan",
    "FlagService",
    "FlagState",
    "FlagStore",
    "LogRecord",
    "Rule",
    "Variant",
    "bucket",
    "check_key",
    "check_rollout",
    "check_type",
    "evaluate",
    "in_rollout",
    "local_actor",
    "parse_rule",
    "parse_value",
    "parse_variant",
    "pick_variant",
    "same_content",
    "state_from_json",
    "state_summary",
    "state_to_json",
    "version_conflict",
]
