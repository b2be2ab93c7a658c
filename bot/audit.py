"""The bot's one call into the audit trail (`_kafkaops.audit`, core/audit.py).

Every denial and every change the bot makes is recorded with the Slack user ID as actor
and `slack` as face. Changes made through core services that audit themselves (flag
writes, DLQ replay) are recorded there; this records what only the bot knows about
(permission denials, refused confirmations).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kafkaops.core.services import Services

log = logging.getLogger(__name__)

FACE = "slack"


async def record(
    services: Services,
    *,
    actor: str,
    action: str,
    target: str,
    params: Mapping[str, Any],
    result: str,
    cluster: str | None = None,
) -> None:
    """Write one audit record. Never raises: a failing audit write is logged loudly, and the
    reply the user gets does not depend on it (the denial already changed nothing)."""
    # AUDIT-HOOK: core/audit.py (issue 4) has not landed yet; this is the single place the
    # bot writes audit records. Wire it to the core audit writer here.
    log.warning(
        "audit (not yet written to the trail): actor=%s face=%s action=%s target=%s result=%s",
        actor,
        FACE,
        action,
        target,
        result,
    )
