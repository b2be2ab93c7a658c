"""Errors of the Connect capability: each names the Connect cluster, its URL and what to
check, and says whether trying again may help. All derive from core's root error."""

from __future__ import annotations

from kafkaops.core.errors import Conflict, KafkaOpsError, NotFound


class ConnectError(KafkaOpsError):
    """A Kafka Connect worker answered with an error, or not as Connect does."""


class ConnectUnreachable(ConnectError):
    """The worker did not answer (refused, timed out, DNS). Trying again may help."""

    retriable = True


class NotConnect(ConnectError):
    """Something answered at the URL, but not the Kafka Connect REST API."""

    exit_code = 2


class ConnectAuthError(ConnectError):
    """The worker refused our credentials (401) or our access (403)."""

    exit_code = 2


class ConnectorNotFound(ConnectError, NotFound):
    """The worker knows no connector (or task) of that name."""


class ConnectRebalancing(ConnectError, Conflict):
    """409: the Connect cluster is rebalancing or its config changed under us. Retried a
    few times before this reaches the user; trying again later usually works."""

    retriable = True


class ConnectSetupError(KafkaOpsError):
    """The local Connect worker (tests, demo) cannot be installed or started."""
