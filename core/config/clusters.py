"""Config of the clusters and what talks to them: ClusterConfig with its SASL, TLS, Kafka
Connect and Schema Registry settings, and the disaster-recovery pairs of clusters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kafkaops.core.config.values import Duration, Secret


@dataclass(frozen=True)
class SaslConfig:
    """SASL settings of a cluster."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    """SASL mechanism."""
    username: str = ""
    """SASL user name."""
    password: Secret = field(default_factory=lambda: Secret(""))
    """SASL password; use ${ENV_VAR}."""


@dataclass(frozen=True)
class TlsConfig:
    """TLS settings of a cluster's brokers."""

    ca_file: str | None = None
    """PEM file of the CA that signed the brokers' certificates."""
    cert_file: str | None = None
    """Client certificate (mutual TLS)."""
    key_file: str | None = None
    """Client private key (mutual TLS)."""
    key_password: Secret = field(default_factory=lambda: Secret(""))
    """Password of the client key, if it has one."""
    check_hostname: bool = True
    """Verify that the broker's certificate names the host we connected to."""


@dataclass(frozen=True)
class BasicAuthConfig:
    """HTTP basic auth for a REST API."""

    username: str
    """User name for HTTP basic auth."""
    password: Secret = field(default_factory=lambda: Secret(""))
    """Password; use ${ENV_VAR}."""


@dataclass(frozen=True)
class ConnectTlsConfig:
    """TLS settings of a Kafka Connect REST API."""

    ca_file: str | None = None
    """PEM file of the CA that signed the worker's certificate (https:// URLs)."""


@dataclass(frozen=True)
class ConnectConfig:
    """A Kafka Connect cluster beside a Kafka cluster."""

    name: str
    """Name of this Kafka Connect cluster (`--connect NAME`)."""
    url: str
    """REST API of one of its workers, e.g. http://connect-1:8083."""
    basic_auth: BasicAuthConfig | None = None
    """HTTP basic auth, when the REST API asks for it."""
    tls: ConnectTlsConfig | None = None
    """TLS settings for an https:// URL."""


@dataclass(frozen=True)
class RegistryTlsConfig:
    """TLS files of a Schema Registry."""

    ca_file: str | None = None
    """PEM file of the CA that signed the registry's certificate (default: the system's)."""
    cert_file: str | None = None
    """Client certificate (mutual TLS)."""
    key_file: str | None = None
    """Client private key (mutual TLS)."""


@dataclass(frozen=True)
class SchemaRegistryConfig:
    """A Schema Registry beside a Kafka cluster."""

    url: str
    """Base URL of a Confluent-compatible Schema Registry, e.g. https://schemas:8081."""
    basic_auth: BasicAuthConfig | None = None
    """HTTP basic auth credentials."""
    tls: RegistryTlsConfig | None = None
    """TLS files for an https:// URL."""
    timeout: Duration = Duration(5.0)
    """How long to wait for the registry's answer."""


@dataclass(frozen=True)
class ClusterConfig:
    """One Kafka cluster: where it is and how to talk to it."""

    bootstrap_servers: str
    """Comma-separated HOST:PORT list."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How to talk to the brokers."""
    sasl: SaslConfig | None = None
    """SASL credentials, for SASL_PLAINTEXT and SASL_SSL."""
    tls: TlsConfig | None = None
    """TLS files, for SSL and SASL_SSL."""
    read_only: bool = False
    """Refuse every change to this cluster, from every face."""
    request_timeout: Duration = Duration(10.0)
    """How long to wait for a broker's answer."""
    connect: list[ConnectConfig] = field(default_factory=list)
    """Kafka Connect clusters whose workers use this Kafka cluster."""
    schema_registry: SchemaRegistryConfig | None = None
    """The Schema Registry that decodes this cluster's framed records (clusters may share one)."""

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]



@dataclass(frozen=True)
class DrPairConfig:
    """A disaster-recovery pair of clusters."""

    name: str
    """Name of the pair, used by `--pair`."""
    primary: str
    """Cluster name (from clusters:) that is active in normal times."""
    secondary: str
    """Cluster name that MirrorMaker 2 replicates into."""
    replication_policy: Literal["default", "identity"] = "default"
    """default: remote topics are named <source><separator><topic>; identity: same name."""
    separator: str = "."
    """Separator of the default replication policy."""
    rpo: Duration = Duration(60.0)
    """Recovery point objective: the data loss a failover may accept."""
    groups: list[str] = field(default_factory=list)
    """Consumer groups (glob patterns) that move on failover."""
    primary_alias: str | None = None
    """MirrorMaker 2's alias for the primary cluster (default: its name under clusters:)."""
    secondary_alias: str | None = None
    """MirrorMaker 2's alias for the secondary cluster (default: its name under clusters:)."""
    internal_topic_separator: bool = True
    """MM2's replication.policy.internal.topic.separator.enabled: the separator also
    names the checkpoints and offset-syncs topics."""


@dataclass(frozen=True)
class DrConfig:
    """The dr section: the pairs of clusters."""

    pairs: list[DrPairConfig] = field(default_factory=list)
    """Primary/secondary cluster pairs."""
    signing_key: Secret = field(default_factory=lambda: Secret(""))
    """Secret from which the Ed25519 key that signs DR control records is derived; unset:
    the audit.signing_key; use ${ENV_VAR}. Unset both: control records are unsigned."""
    verify_key: str = ""
    """Public key that verifies DR control records (`ed25519:...`, printed by `kafkaops
    doctor`), for a follower that must not hold the signing secret; unset: derived from
    signing_key."""


