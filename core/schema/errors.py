"""Errors of the Schema Registry client, under core's root error.

The registry answers errors as `{"error_code": 40401, "message": "..."}`; `RegistryError`
keeps both, and its message names the registry and says what to check.
"""

from __future__ import annotations

from kafkaops.core.errors import KafkaOpsError, NotFound, UsageError

SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
SUBJECT_SOFT_DELETED = 40404
SUBJECT_NOT_SOFT_DELETED = 40405
SUBJECT_LEVEL_CONFIG_NOT_FOUND = 40408
INCOMPATIBLE = 409
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
INVALID_COMPATIBILITY = 42203


class RegistryError(KafkaOpsError):
    """The registry answered with an error."""

    def __init__(self, message: str, *, status: int, error_code: int | None,
                 retriable: bool | None = None) -> None:
        super().__init__(message, retriable=retriable)
        self.status = status
        """HTTP status."""
        self.error_code = error_code
        """The registry's own code (40401, 42201, ...), None when its body had none."""


class RegistryNotFound(RegistryError, NotFound):
    """A subject, version or schema id the registry does not know (40401/40402/40403)."""


class RegistryRejected(RegistryError, UsageError):
    """The registry refused what was sent: an invalid schema, version or level (422xx),
    or a schema incompatible with the subject (409). Exit code 2: nothing was changed."""


class RegistryUnreachable(KafkaOpsError):
    """The registry did not answer (refused, timed out, TLS failed)."""

    retriable = True


class UnusableSchema(KafkaOpsError):
    """A schema text kafkaops refuses to read: JSON nested deeper than it walks (the
    registry can be written by anyone who can produce to its `_schemas` topic)."""
