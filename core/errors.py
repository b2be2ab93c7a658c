"""One root error type for everything core raises, so each face can catch it in one place.

Messages are written for the person at the keyboard: what went wrong, where, and what to
check next. `retriable` tells a face whether trying again later may help.
"""

from __future__ import annotations


class KafkaOpsError(Exception):
    """Root of every error core raises on purpose."""

    retriable: bool = False
    #: exit code the CLI uses for this kind of error
    exit_code: int = 1

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retriable is not None:
            self.retriable = retriable

    def __str__(self) -> str:
        return self.message


class ConfigError(KafkaOpsError):
    """The config file, a flag or an environment variable is wrong. Nothing was changed."""

    exit_code = 2


class UsageError(KafkaOpsError):
    """A command was called the wrong way. Nothing was changed."""

    exit_code = 2


class ClusterUnreachable(KafkaOpsError):
    """No broker of a cluster answered."""

    retriable = True

    def __init__(self, message: str, *, retriable: bool | None = None,
                 cluster: str | None = None) -> None:
        super().__init__(message, retriable=retriable)
        #: the cluster that did not answer, when the raiser knows it
        self.cluster = cluster


class NothingToChange(KafkaOpsError):
    """The change asked for would leave everything as it is, so nothing was written (not even
    an audit record). Not a failure: the CLI exits 0 after saying so."""

    exit_code = 0


class NotFound(KafkaOpsError):
    """A topic, group, flag or other named thing does not exist."""


class Refused(KafkaOpsError):
    """A change was refused by a guardrail (read-only cluster, missing confirmation, permission)."""

    #: the cluster it was refused on, when a cluster's guardrail refused it
    cluster: str | None = None
    #: set once the refusal is on an audit trail, so a face does not record it twice
    audited: bool = False


class Conflict(KafkaOpsError):
    """A compare-and-set write lost to a concurrent writer."""

    exit_code = 3


class StaleVersion(Conflict):
    """A compare-and-set write turned away: the version it names is no longer the one in
    force (another writer came first). Audited as refused."""


class BrokerError(KafkaOpsError):
    """The embedded broker could not be started or stopped."""
