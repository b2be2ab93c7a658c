"""The bot's one call into the audit trail for what only the bot knows: refusals.

Changes themselves are audited by core's `record_change` (executors call
`Execution.audited(...)`, which passes the confirming Slack user as actor and `slack` as
face). What is recorded here is a request refused before any change started: a Slack user
without the role, or a click on someone else's confirmation. Result `refused`, the reason
in `error`, the Slack user ID as actor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

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
) -> None:
    """Write one audit record on `cluster`'s trail. Never raises: the person's reply does not
    depend on it (a refusal changed nothing), and a failed write is logged loudly instead.

    A read-only cluster gets nothing written (read-only means kafkaops writes nothing
    there); the refusal is only logged.
    """
    cluster = cluster or services.cluster_name
    try:
        if services.cluster_config(cluster).read_only:
            log.info("refused (not written: cluster %s is read-only): actor=%s action=%s "
                     "target=%s: %s", cluster, actor, action, target, error)
            return
        trail = await services.audit(cluster)
        await trail.append(
            actor=actor, face=FACE, action=action, target=target, params=dict(params),
            result=result, error=error,
        )
    except KafkaOpsError as e:
        log.error("could not write the audit record (%s %s %s by %s): %s",
                  result, action, target, actor, e)
    except Exception:
        log.exception("could not write the audit record (%s %s %s by %s)",
                      result, action, target, actor)
