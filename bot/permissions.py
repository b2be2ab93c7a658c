"""Who may do what: roles (Slack user IDs and user groups) and the actions each role may do.

Config (`roles:` and `permissions:`) names, per risky action (flag.write, dlq.replay,
offsets.reset, failover, ...), the roles allowed; an action that is not named is denied to
everyone. A role holds user IDs and user group IDs; group membership is read from Slack's
Web API (`usergroups.users.list`, scope `usergroups:read`) and cached for a few minutes,
so a person added to the on-call group gets in without a bot restart.

`decide()` is the pure rule; `Permissions` adds the Slack look-ups and the cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from kafkaops.bot.render.common import who
from kafkaops.core.config import Config, RoleConfig

log = logging.getLogger(__name__)

#: how long a user group's member list is trusted before it is read again
GROUP_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class Decision:
    """The answer to "may this Slack user do this action?" and why."""

    allowed: bool
    """True when the user is in a role the action names."""
    user: str
    """Slack user ID asked about."""
    action: str
    """Action name, e.g. flag.write."""
    role: str | None
    """The role that allowed it, when allowed."""
    allowed_roles: tuple[str, ...]
    """Roles the config names for this action (empty: nobody may)."""
    reason: str
    """One sentence for the person: why allowed or denied, and what to ask for."""


def decide(
    user: str,
    action: str,
    roles: Mapping[str, RoleConfig],
    permissions: Mapping[str, Sequence[str]],
    group_members: Mapping[str, frozenset[str] | None],
) -> Decision:
    """Whether `user` may do `action`.

    `group_members` holds the members of each user group looked up so far; None marks a
    group whose membership could not be read (it grants nothing, and the reason says so).
    Roles are tried in the order the action lists them.
    """
    allowed_roles = tuple(permissions.get(action, ()))
    if not allowed_roles:
        return Decision(
            False,
            user,
            action,
            None,
            (),
            f"no role may run {action}: the bot's config names no roles under "
            f"permissions.{action}, and anything not named is denied",
        )
    unreadable: list[str] = []
    for name in allowed_roles:
        role = roles.get(name)
        if role is None:  # config validation prevents this; deny rather than crash
            continue
        if user in role.users:
            return Decision(True, user, action, name, allowed_roles, f"{user} is in role {name}")
        for group in role.usergroups:
            members = group_members.get(group)
            if members is None:
                if group in group_members:
                    unreadable.append(group)
                continue
            if user in members:
                return Decision(
                    True,
                    user,
                    action,
                    name,
                    allowed_roles,
                    f"{user} is in user group {group} of role {name}",
                )
    reason = (
        f"{who(user)} is not in a role allowed to run {action} "
        f"(allowed: {', '.join(allowed_roles)}); ask whoever runs the bot to add you "
        f"to one of these roles in its config"
    )
    if unreadable:
        reason += (
            f". The members of user group{'s' if len(unreadable) > 1 else ''} "
            f"{', '.join(unreadable)} could not be read from Slack (the bot needs the "
            f"usergroups:read scope), so membership there was not counted"
        )
    return Decision(False, user, action, None, allowed_roles, reason)


def groups_to_check(
    user: str,
    action: str,
    roles: Mapping[str, RoleConfig],
    permissions: Mapping[str, Sequence[str]],
) -> list[str]:
    """User groups whose members must be known to decide; none when a user ID matches."""
    names = [roles[r] for r in permissions.get(action, ()) if r in roles]
    if any(user in r.users for r in names):
        return []
    seen: dict[str, None] = {}
    for r in names:
        for g in r.usergroups:
            seen.setdefault(g, None)
    return list(seen)


class Permissions:
    """`await permissions.check(user, action)`: the decision, with user groups read from Slack."""

    def __init__(
        self,
        config: Config,
        client: AsyncWebClient,
        *,
        cache_seconds: float = GROUP_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._roles = config.roles
        self._permissions = config.permissions
        self._client = client
        self._cache_seconds = cache_seconds
        self._clock = clock
        #: group -> (read at, members or None when unreadable)
        self._cache: dict[str, tuple[float, frozenset[str] | None]] = {}
        self._inflight: dict[str, asyncio.Future[frozenset[str] | None]] = {}

    def roles_for(self, action: str) -> tuple[str, ...]:
        return tuple(self._permissions.get(action, ()))

    async def check(self, user: str, action: str) -> Decision:
        groups = groups_to_check(user, action, self._roles, self._permissions)
        members = await asyncio.gather(*(self._members(g) for g in groups))
        known = dict(zip(groups, members, strict=True))
        return decide(user, action, self._roles, self._permissions, known)

    async def _members(self, group: str) -> frozenset[str] | None:
        now = self._clock()
        hit = self._cache.get(group)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        fut = self._inflight.get(group)
        if fut is None:  # one request per group however many checks wait on it
            fut = asyncio.get_running_loop().create_future()
            self._inflight[group] = fut
            try:
                members = await self._fetch(group)
                if members is not None:  # a failed read is retried on the next check
                    self._cache[group] = (self._clock(), members)
                fut.set_result(members)
            finally:
                del self._inflight[group]
                if not fut.done():  # cancelled mid-request: the waiters give up too
                    fut.cancel()
            return members
        return await fut

    async def _fetch(self, group: str) -> frozenset[str] | None:
        try:
            resp = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as e:
            error = e.response.get("error")
            log.warning("cannot read members of Slack user group %s: %s", group, error)
            return None
        except Exception as e:  # network trouble: deny, say why in the log, keep serving
            log.warning("cannot read members of Slack user group %s: %s", group, e)
            return None
        return frozenset(resp.get("users") or ())
