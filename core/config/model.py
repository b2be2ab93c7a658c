"""The root of the config model: Config (every section), the small sections of their own
(audit, confirmations, dead letters), and the default path and ad-hoc cluster name.
The sections' dataclasses live in clusters.py, slack.py, alerts.py and teams.py; their
defaults are the first layer of config (see load.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.core.config.alerts import AlertsConfig, LagConfig
from kafkaops.core.config.clusters import ClusterConfig, DrConfig
from kafkaops.core.config.slack import RoleConfig, SlackConfig
from kafkaops.core.config.teams import CostsConfig, PolicyConfig, TeamConfig
from kafkaops.core.config.values import Secret
from kafkaops.core.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("~/.config/kafkaops/config.yaml")
#: the name given to the cluster made from `-b HOST:PORT`
ADHOC_CLUSTER = "adhoc"


@dataclass(frozen=True)
class AuditConfig:
    """The audit section: the audit trail and its signing."""

    signing_key: Secret = field(default_factory=lambda: Secret(""))
    """HMAC key that signs every audit record; use ${ENV_VAR}."""
    topic: str = "_kafkaops.audit"
    """Topic the audit trail is written to, on the cluster being changed."""


@dataclass(frozen=True)
class ConfirmationsConfig:
    """The confirmations section: how pending confirmations are signed."""

    signing_key: Secret = field(default_factory=lambda: Secret(""))
    """HMAC key that signs pending confirmations (Slack's Confirm buttons); unset: the
    audit.signing_key; use ${ENV_VAR}."""



@dataclass(frozen=True)
class FlagsConfig:
    """The flags section: the flag store and its signing."""

    signing_key: Secret = field(default_factory=lambda: Secret(""))
    """Secret from which the Ed25519 key that signs flag records is derived; unset: the
    audit.signing_key; use ${ENV_VAR}. Unset both: flag records are unsigned."""
    verify_key: str = ""
    """Public key that verifies flag records (`ed25519:...`, printed by `kafkaops doctor`),
    for a reader that must not hold the signing secret; unset: derived from signing_key."""


@dataclass(frozen=True)
class DeadLetterConfig:
    """The dead letters section: which topics are dead-letter topics, and of which topic."""

    suffixes: list[str] = field(default_factory=lambda: [".dlq", "-dlq", ".dlt", "-dlt", ".DLT"])
    """A topic whose name ends in one of these is a dead-letter topic of the name before it."""
    topics: dict[str, str] = field(default_factory=dict)
    """Explicit dead-letter topic -> origin topic."""



@dataclass(frozen=True)
class Config:
    """The whole validated config (see the package docstring for precedence)."""

    clusters: dict[str, ClusterConfig] = field(default_factory=dict)
    """Named clusters."""
    default_cluster: str | None = None
    """Cluster used when -c is not given (default: the only one, or the first)."""
    audit: AuditConfig = field(default_factory=AuditConfig)
    """Audit trail."""
    confirmations: ConfirmationsConfig = field(default_factory=ConfirmationsConfig)
    """Pending confirmations of risky actions."""
    flags: FlagsConfig = field(default_factory=FlagsConfig)
    """How flag records are signed and verified."""
    dr: DrConfig = field(default_factory=DrConfig)
    """Disaster recovery pairs."""
    slack: SlackConfig = field(default_factory=SlackConfig)
    """Slack bot."""
    roles: dict[str, RoleConfig] = field(default_factory=dict)
    """Roles: who is in them."""
    permissions: dict[str, list[str]] = field(default_factory=dict)
    """Action (flag.write, dlq.replay, offsets.reset, failover) -> roles allowed."""
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    """Alert rules into Slack channels."""
    lag: LagConfig = field(default_factory=LagConfig)
    """How consumer lag status is judged."""
    dead_letters: DeadLetterConfig = field(default_factory=DeadLetterConfig)
    """How dead-letter topics are recognised."""
    teams: dict[str, TeamConfig] = field(default_factory=dict)
    """Teams and the topics they own: usage and chargeback per team, alert routing."""
    costs: CostsConfig | None = None
    """Prices for the chargeback report (`kafkaops usage report`)."""
    policies: list[PolicyConfig] = field(default_factory=list)
    """Rules topic configs must follow (`kafkaops policy check`)."""
    source: str = "<defaults>"
    """Where this config was read from (not a key)."""

    def cluster(self, name: str | None = None) -> tuple[str, ClusterConfig]:
        """The named cluster, else KAFKAOPS_CLUSTER, else default_cluster, else the first."""
        if name is None and ADHOC_CLUSTER in self.clusters and len(self.clusters) == 1:
            name = ADHOC_CLUSTER  # -b HOST:PORT means that broker, whatever the environment says
        name = name or os.environ.get("KAFKAOPS_CLUSTER") or self.default_cluster
        if not self.clusters:
            raise ConfigError(
                f"{self.source}: no clusters configured; add one under clusters: "
                "or pass -b HOST:PORT"
            )
        if name is None:
            name = next(iter(self.clusters))
        try:
            return name, self.clusters[name]
        except KeyError:
            known = ", ".join(sorted(self.clusters))
            raise ConfigError(
                f"{self.source}: no cluster named {name!r} (configured: {known})"
            ) from None

