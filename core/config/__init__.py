"""One validated config model for every face.

Order of precedence: the defaults written on the dataclasses, then the YAML file, then
environment variables (`KAFKAOPS_CLUSTER` picks the cluster; `${VAR}` inside the file pulls
secrets from the environment). Command-line flags (`-c`, `-b`) win over all of it.

- values.py: the value types: Secret (redacted), Duration (15s, 2m, 1h).
- model.py: Config, the root, with the small sections (audit, confirmations, dead letters).
- clusters.py: ClusterConfig (SASL, TLS, Kafka Connect, Schema Registry), the DR pairs.
- slack.py: SlackConfig and the roles its permissions name.
- alerts.py: AlertsConfig with its rules, LagConfig.
- teams.py: TeamConfig, CostsConfig, PolicyConfig.
- load.py: load_config (YAML file), parse_config (parsed data), adhoc_config (`-b`),
  redacted (for `config show`); ConfigError naming the file, the key path and what was
  expected.
- checks.py: what the types alone do not check: bootstrap lists, references between
  sections, Slack owner and channel ids (owner_ids, CHANNEL).

Nearly every module reads config, so this package re-exports the public names
(`from kafkaops.core.config import Config, parse_config`); importing it loads the model and
the loader, never YAML (read only when a file is loaded).
"""

from kafkaops.core.config.alerts import AlertRuleConfig, AlertsConfig, LagConfig
from kafkaops.core.config.checks import CHANNEL, MAX_DEPTH, check_bootstrap, owner_ids
from kafkaops.core.config.clusters import (
    BasicAuthConfig,
    ClusterConfig,
    ConnectConfig,
    ConnectTlsConfig,
    DrConfig,
    DrPairConfig,
    RegistryTlsConfig,
    SaslConfig,
    SchemaRegistryConfig,
    TlsConfig,
)
from kafkaops.core.config.load import adhoc_config, load_config, parse_config, redacted
from kafkaops.core.config.model import (
    ADHOC_CLUSTER,
    DEFAULT_CONFIG_PATH,
    AuditConfig,
    Config,
    ConfirmationsConfig,
    DeadLetterConfig,
    FlagsConfig,
)
from kafkaops.core.config.slack import RoleConfig, SlackConfig, SlackHttpConfig
from kafkaops.core.config.teams import CostsConfig, PolicyConfig, TeamConfig
from kafkaops.core.config.values import Duration, Secret

__all__ = [
    "ADHOC_CLUSTER", "CHANNEL", "DEFAULT_CONFIG_PATH", "MAX_DEPTH", "AlertRuleConfig",
    "AlertsConfig", "AuditConfig", "BasicAuthConfig", "ClusterConfig", "Config",
    "ConfirmationsConfig", "ConnectConfig", "ConnectTlsConfig", "CostsConfig",
    "DeadLetterConfig", "DrConfig", "DrPairConfig", "Duration", "FlagsConfig", "LagConfig",
    "PolicyConfig",
    "RegistryTlsConfig", "RoleConfig", "SaslConfig", "SchemaRegistryConfig", "Secret",
    "SlackConfig", "SlackHttpConfig", "TeamConfig", "TlsConfig", "adhoc_config",
    "check_bootstrap", "load_config", "owner_ids", "parse_config", "redacted",
]
