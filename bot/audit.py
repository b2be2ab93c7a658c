"""The bot's one call into the audit trail for what only the bot knows: refusals, cancels,
expiries and tampering.

Changes themselves are audited by core's `record_change` (executors call
`Execution.audited(...)`, which passes the confirming Slack user as actor and `slack` as
face; who asked, who confirmed, the reason and the channel come from `audit_context`).
What is recorded here is a request that changed nothing: a Slack user without the role, a
read-only cluster, a click on someone else's confirmation (`refused`), a Cancel
(`cancelled`), a click after expiry (`expired`), a confirmation altered outside kafkaops
(`tampered`); the reason in `error`, the Slack user ID as actor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from kafkaops.core.audit.trails import refusal_trails
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.services import Services

log = logging.getLogger("kafkaops.bot")

FACE = "slack"


def plain(mrkdwn: str) -> str:
    """A reason as plain text for the audit trail (<@U123> mentions become U123)."""
    return re.sub(r"<@([A-Z0-9]+)>", r"\1", mrkdwn)


async def record(
    services: Services,
    *,
    actor: str,
    action: str,
    target: str,
    params: Mapping[str, Any],
    result: str,
    error: str | None = None,
    cluster: str | None = None,
    context: Mapping[str, str | None] | None = None,
) -> None:
    """Write one audit record about `cluster`. Never raises: the person's reply does not
    depend on it (a refusal changed nothing), and a failed write is logged loudly instead.

    It goes on that cluster's trail; a read-only cluster gets nothing written (read-only
    means kafkaops writes nothing there), so its record goes on the default cluster's trail,
    else another writable one (core/audit/trails.py record_refusal). `context`: requested_by,
    confirmed_by, reason, channel.
    """
    cluster = cluster or services.cluster_name
    try:
        trails = refusal_trails(services, cluster)
        if not trails:
            log.warning("%s (not written: no cluster may be written to): actor=%s action=%s "
                        "target=%s: %s", result, actor, action, target, error)
            return
        trail = await services.audit(trails[0])
        await trail.append(
            actor=actor, face=FACE, action=action, target=target, params=dict(params),
            result=result, error=error, change_cluster=cluster, context=context,
        )
    except KafkaOpsError as e:
        log.error("could not write the audit record (%s %s %s by %s): %s",
                  result, action, target, actor, e)
    except Exception:
        log.exception("could not write the audit record (%s %s %s by %s)",
                      result, action, target, actor)
