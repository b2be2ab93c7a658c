"""Apply any admin plan with the service that made it: the one call each face makes after
the person confirmed (the bot keeps plans as data and applies them on Confirm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kafkaops.core.admin.plans import GROUP_DELETE, AdminPlan, AdminResult

if TYPE_CHECKING:
    from kafkaops.core.services import Services


async def apply_plan(services: Services, plan: AdminPlan, *, actor: str, face: str,
                     reason: str | None = None) -> AdminResult:
    """Apply `plan` on its cluster (refused when read-only; Conflict when the state it was
    made from changed; audited)."""
    if plan.action == GROUP_DELETE:
        from kafkaops.core.admin.groups import GroupAdmin

        return await GroupAdmin(services, plan.cluster).apply(
            plan, actor=actor, face=face, reason=reason)
    from kafkaops.core.admin.topic_admin import TopicAdmin

    return await TopicAdmin(services, plan.cluster).apply(
        plan, actor=actor, face=face, reason=reason)
