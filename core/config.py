"""One validated config model for every face.

Order of precedence: the defaults written on the dataclasses below, then the YAML file,
then environment variables (`KAFKAOPS_CLUSTER` picks the cluster; `${VAR}` inside the file
pulls secrets from the environment). Command-line flags (`-c`, `-b`) win over all of it.

The loader walks the dataclasses' type hints, so adding a key is adding a field. Unknown
keys, wrong types and missing files are reported as `ConfigError` naming the file, the key
path and what was expected. Secrets are held as `Secret`, whose repr and str are redacted.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from kafkaops.core.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("~/.config/kafkaops/config.yaml")
#: the name given to the cluster made from `-b HOST:PORT`
ADHOC_CLUSTER = "adhoc"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Secret:
    """A secret value from config. Never shown: str() and repr() give a redaction mark.

    A `${VAR}` whose variable is unset does not fail the whole config (you may run
    `kafkaops topics` without a Slack token); it fails when the secret is used.
    """

    __slots__ = ("_value", "_missing_var", "_path")

    def __init__(
        self, value: str | None, *, missing_var: str | None = None, path: str = ""
    ) -> None:
        self._value = value
        self._missing_var = missing_var
        self._path = path

    @property
    def is_set(self) -> bool:
        return self._value is not None and self._value != ""

    def reveal(self) -> str:
        """The secret itself. Raises ConfigError if its environment variable was not set."""
        if self._value is None:
            raise ConfigError(
                f"{self._path}: environment variable {self._missing_var} is not set "
                f"(the config refers to it as ${{{self._missing_var}}})"
            )
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')" if self.is_set else "Secret(<unset>)"

    def __str__(self) -> str:
        return "***" if self.is_set else "<unset>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self._value == other._value

    def __hash__(self) -> int:
        return hash(self._value)


class Duration(float):
    """Seconds, written in config as `15s`, `2m`, `1h`, `1d`, `500ms` or a bare number;
    finite, not negative, at most 10 years."""

    _UNITS: typing.ClassVar[dict[str, float]] = {
        "ms": 0.001,
        "s": 1.0,
        "m": 60.0,
        "h": 3600.0,
        "d": 86400.0,
        "": 1.0,
    }
    _FORM: typing.ClassVar[re.Pattern[str]] = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)\s*$")
    MAX: typing.ClassVar[float] = 3650 * 86400.0

    @classmethod
    def parse(cls, text: object) -> Duration:
        problem = "a duration such as 15s, 2m or 1h"
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise ValueError(problem)
        try:
            if isinstance(text, str):
                m = cls._FORM.match(text)
                if not m or len(m.group(1)) > 20:
                    raise ValueError(problem)
                value = float(m.group(1)) * cls._UNITS[m.group(2)]
            else:
                value = float(text)
        except OverflowError:  # an integer of thousands of digits
            raise ValueError(problem) from None
        if not math.isfinite(value) or not 0 <= value <= cls.MAX:
            raise ValueError(problem)
        return cls(value)


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class SaslConfig:
    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    """SASL mechanism."""
    username: str = ""
    """SASL user name."""
    password: Secret = field(default_factory=lambda: Secret(""))
    """SASL password; use ${ENV_VAR}."""


@dataclass(frozen=True)
class TlsConfig:
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
    username: str
    """User name for HTTP basic auth."""
    password: Secret = field(default_factory=lambda: Secret(""))
    """Password; use ${ENV_VAR}."""


@dataclass(frozen=True)
class ConnectTlsConfig:
    ca_file: str | None = None
    """PEM file of the CA that signed the worker's certificate (https:// URLs)."""


@dataclass(frozen=True)
class ConnectConfig:
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
    ca_file: str | None = None
    """PEM file of the CA that signed the registry's certificate (default: the system's)."""
    cert_file: str | None = None
    """Client certificate (mutual TLS)."""
    key_file: str | None = None
    """Client private key (mutual TLS)."""


@dataclass(frozen=True)
class SchemaRegistryConfig:
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
class AuditConfig:
    signing_key: Secret = field(default_factory=lambda: Secret(""))
    """HMAC key that signs every audit record; use ${ENV_VAR}."""
    topic: str = "_kafkaops.audit"
    """Topic the audit trail is written to, on the cluster being changed."""


@dataclass(frozen=True)
class ConfirmationsConfig:
    signing_key: Secret = field(default_factory=lambda: Secret(""))
    """HMAC key that signs pending confirmations (Slack's Confirm buttons); unset: the
    audit.signing_key; use ${ENV_VAR}."""


@dataclass(frozen=True)
class DrPairConfig:
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
    pairs: list[DrPairConfig] = field(default_factory=list)
    """Primary/secondary cluster pairs."""


@dataclass(frozen=True)
class SlackHttpConfig:
    host: str = "0.0.0.0"
    """Address the HTTP mode server listens on."""
    port: int = 3000
    """Port; serves /slack/events and /healthz."""


@dataclass(frozen=True)
class SlackConfig:
    mode: Literal["socket", "http"] = "socket"
    """socket: Socket Mode (needs app_token); http: Events API (needs signing_secret)."""
    bot_token: Secret = field(default_factory=lambda: Secret(""))
    """xoxb- token."""
    app_token: Secret = field(default_factory=lambda: Secret(""))
    """xapp- token, for Socket Mode."""
    signing_secret: Secret = field(default_factory=lambda: Secret(""))
    """Signing secret, for HTTP mode."""
    http: SlackHttpConfig = field(default_factory=SlackHttpConfig)
    """HTTP mode listener."""
    api_url: str = "https://slack.com/api/"
    """Web API base URL; a proxy or a test server."""
    command: str = "/kafka"
    """The slash command the bot answers."""
    health_port: int | None = None
    """Serve /healthz and /metrics on this port, in either mode (in HTTP mode the public
    port then serves only /slack/events); none: Socket Mode has no health endpoint and HTTP
    mode serves them on its public port."""
    metrics_token: Secret = field(default_factory=lambda: Secret(""))
    """Bearer token a /metrics scrape must send (unset: /metrics is open); use ${ENV_VAR}."""
    team_id: str | None = None
    """Slack workspace (T...) every request must come from; unset: learnt from auth.test."""
    app_id: str | None = None
    """Slack app (A...) every request must name; unset: learnt from auth.test when it says
    (else not checked)."""


@dataclass(frozen=True)
class RoleConfig:
    users: list[str] = field(default_factory=list)
    """Slack user IDs."""
    usergroups: list[str] = field(default_factory=list)
    """Slack user group IDs."""


@dataclass(frozen=True)
class AlertRuleConfig:
    name: str
    """Unique rule name; appears in the alert."""
    channel: str | None = None
    """Slack channel id or #name (required unless `team:` names a team with a channel)."""
    owner: str | list[str] | None = None
    """Who to @mention when it fires: a Slack user group (S0123 or <!subteam^S0123>)
    and/or users (U0123 or <@U0123>); default: the owner of the team it is routed to."""
    runbook: str | None = None
    """Link to the runbook (https://...), shown as a button on the alert."""
    team: str | None = None
    """Post to this team's channel (a name under `teams:`)."""
    match: dict[str, str] | None = None
    """Metric rules: glob patterns on cluster, group, topic."""
    when: str | None = None
    """Metric rules: condition such as `lag_seconds > 300`."""
    for_: Duration = Duration(0.0)
    """How long the condition must hold before the alert fires (key: `for`)."""
    severity: Literal["critical", "warning", "info"] = "warning"
    """Severity shown in the alert."""
    watch: dict[str, str] | None = None
    """Event rules: {cluster, topic} to watch."""
    filter: str | None = None
    """Event rules: filter expression, the same language as `tail --filter`."""
    message: str | None = None
    """Event rules: message template with {field} references."""
    max_per_minute: int = 6
    """Event rules: at most this many Slack messages a minute; the rest are counted."""


@dataclass(frozen=True)
class AlertsConfig:
    interval: Duration = Duration(15.0)
    """How often rules are evaluated."""
    rules: list[AlertRuleConfig] = field(default_factory=list)
    """Alert rules."""
    cluster: str | None = None
    """Cluster that holds the alerts topic (default: default_cluster)."""
    topic: str = "_kafkaops.alerts"
    """Topic of firing/resolved/notice events, keyed by alert id."""
    group: str = "kafkaops-alerts"
    """Consumer group prefix: GROUP.notifier posts to Slack, GROUP.events.RULE reads the
    topics of event rules; replicas share them, so each alert is posted once."""
    min_firing: Duration = Duration(60.0)
    """An alert stays firing at least this long, so a flapping condition is not closed
    and reopened every evaluation."""
    renotify_interval: Duration = Duration(1800.0)
    """An alert that fires again within this time of its last Slack message updates that
    message ("fired again, 3 times") and replies in its thread, also to the channel (so
    people are notified), instead of posting a new message."""
    event_window: Duration = Duration(10.0)
    """Matches of an event rule are gathered this long into one message with a count."""


@dataclass(frozen=True)
class LagConfig:
    window: Duration = Duration(300.0)
    """Snapshots a consumer group's status is judged on (every face uses the same)."""
    warmup: Duration = Duration(30.0)
    """A group's status reads "warming up" until its snapshots span this long (and number at
    least 3): never WARN or STOP on too little evidence. 0s judges from the first one."""
    hold: Duration = Duration(30.0)
    """A status changes only when the change holds this long (no flapping). 0s: at once."""
    stall: Duration = Duration(60.0)
    """An offset standing still this long with records waiting is STALL (ERR when more keep
    arriving); keep it above the consumers' commit interval."""


@dataclass(frozen=True)
class DeadLetterConfig:
    suffixes: list[str] = field(default_factory=lambda: [".dlq", "-dlq", ".dlt", "-dlt", ".DLT"])
    """A topic whose name ends in one of these is a dead-letter topic of the name before it."""
    topics: dict[str, str] = field(default_factory=dict)
    """Explicit dead-letter topic -> origin topic."""


@dataclass(frozen=True)
class TeamConfig:
    match: list[str] = field(default_factory=list)
    """Topic name patterns (globs such as `orders.*`) the team owns. A topic belongs to the
    first team, in config order, with a pattern that matches it; else it is unowned."""
    channel: str | None = None
    """Slack channel (id or #name) the team's alerts go to."""
    owner: str | list[str] | None = None
    """Who to @mention on the team's alerts: a Slack user group (S0123 or <!subteam^S0123>)
    and/or users (U0123 or <@U0123>)."""


@dataclass(frozen=True)
class CostsConfig:
    storage_gb_month: float = 0.0
    """Price of keeping one GB (10^9 bytes, every replica counted) for a month."""
    ingress_gb: float = 0.0
    """Price of one GB (10^9 bytes, as the broker stores the batches) produced."""
    currency: str = "USD"
    """Currency of both prices (ISO 4217 code), shown next to every amount."""


@dataclass(frozen=True)
class PolicyConfig:
    name: str
    """Policy name; each violation names it."""
    match: dict[str, str] = field(default_factory=dict)
    """Which topics it applies to: glob patterns on `topic` and `cluster`, and `team` (a
    team under teams:); a missing key matches everything."""
    require: dict[str, str | list[str]] = field(default_factory=dict)
    """Topic configs (`retention`, `cleanup_policy`, any topic config with `_` or `.`) and
    `partitions`, `replication_factor`: a value (`delete`), a list of allowed values
    (`[lz4, zstd]`), or a comparison (`>= 7y`, `<= 1GiB`, `!= compact`)."""


@dataclass(frozen=True)
class Config:
    clusters: dict[str, ClusterConfig] = field(default_factory=dict)
    """Named clusters."""
    default_cluster: str | None = None
    """Cluster used when -c is not given (default: the only one, or the first)."""
    audit: AuditConfig = field(default_factory=AuditConfig)
    """Audit trail."""
    confirmations: ConfirmationsConfig = field(default_factory=ConfirmationsConfig)
    """Pending confirmations of risky actions."""
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


# ---------------------------------------------------------------- loading

_KEY_ALIASES = {"for": "for_"}
_INTERNAL_FIELDS = {"source"}


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is Secret:
        return "a string (use ${ENV_VAR} for secrets)"
    if tp is Duration:
        return "a duration such as 15s, 2m or 1h"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(tp))
    if origin is list:
        return "a list"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    return str(tp)


def _interpolate(text: str, path: str, src: str) -> str:
    def sub(m: re.Match[str]) -> str:
        var, default = m.group(1), m.group(2)
        value = os.environ.get(var)
        if value is None:
            if default is not None:
                return default
            raise ConfigError(f"{src}: {path}: environment variable {var} is not set")
        return value

    return _ENV_REF.sub(sub, text)


def _convert(value: Any, tp: Any, path: str, src: str) -> Any:
    def bad(expected: str | None = None) -> ConfigError:
        shown = (
            "a mapping"
            if isinstance(value, dict)
            else "a list"
            if isinstance(value, list)
            else _clip(repr(value) if not isinstance(value, int) or value.bit_length() < 200
                       else f"an integer of {len(str(value).lstrip('-')):,} digits")
        )
        return ConfigError(f"{src}: {path}: expected {expected or _type_name(tp)}, got {shown}")

    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for a in args:
            try:
                return _convert(value, a, path, src)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:  # `X | None`: X's own message names the key that is wrong
            raise errors[0]
        raise bad()
    if tp is Secret:
        if not isinstance(value, str):
            raise bad()
        refs = _ENV_REF.findall(value)
        if refs:
            missing = [v for v, d in refs if v not in os.environ and not d]
            if missing:
                return Secret(None, missing_var=missing[0], path=path)
            return Secret(_interpolate(value, path, src), path=path)
        return Secret(value, path=path)
    if isinstance(value, str) and tp is not Secret:
        value = _interpolate(value, path, src)
    if tp is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad()
        return str(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                return int(value)
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad()
        return float(value)
    if tp is Duration:
        try:
            return Duration.parse(value)
        except ValueError:
            raise bad() from None
    if origin is Literal:
        if value not in get_args(tp):
            raise bad()
        return value
    if origin is list:
        if not isinstance(value, list):
            raise bad()
        (item,) = get_args(tp)
        return [_convert(v, item, f"{path}[{i}]", src) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad()
        _, item = get_args(tp)
        return {str(k): _convert(v, item, f"{path}.{k}", src) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise bad()
        return _build(tp, value, path, src)
    raise bad()  # pragma: no cover - a type the model does not use


def _build(cls: type[Any], data: Mapping[str, Any], path: str, src: str) -> Any:
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _INTERNAL_FIELDS}
    kwargs: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _KEY_ALIASES.get(str(raw_key), str(raw_key))
        sub = f"{path}.{raw_key}" if path else str(raw_key)
        if key not in fields:
            known = ", ".join(sorted(k.rstrip("_") for k in fields))
            hint = _close_match(str(raw_key), [k.rstrip("_") for k in fields])
            raise ConfigError(f"{src}: {sub}: unknown key{hint} (expected one of: {known})")
        kwargs[key] = _convert(value, hints[key], sub, src)
    for name, f in fields.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            sub = f"{path}.{name.rstrip('_')}" if path else name
            raise ConfigError(f"{src}: {sub}: required key is missing ({_type_name(hints[name])})")
    return cls(**kwargs)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _close_match(word: str, candidates: list[str]) -> str:
    import difflib

    best = difflib.get_close_matches(word, candidates, n=1)
    return f"; did you mean {best[0]!r}?" if best else ""


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Build a Config from already-parsed YAML. Raises ConfigError on any problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    from kafkaops.core.untrusted import UntrustedData, check_depth

    try:
        check_depth(data, MAX_DEPTH, "the config")
    except UntrustedData as e:
        raise ConfigError(f"{source}: {e}") from None
    config: Config = _build(Config, data, "", source)
    config = dataclasses.replace(config, source=source)
    _check_references(config)
    return config


#: deepest nesting a config may have (kafkaops' own keys go 5 levels deep)
MAX_DEPTH = 32
#: durations that must be more than zero (a zero timeout or interval would spin or fail all)
_POSITIVE = ("request_timeout", "interval")


def check_bootstrap(servers: str) -> str | None:
    """What is wrong with a HOST:PORT[,HOST:PORT...] list, or None."""
    entries = [s.strip() for s in servers.split(",")]
    if not servers.strip() or any(not e for e in entries):
        return f"expected HOST:PORT[,HOST:PORT...], got {_clip(repr(servers))}"
    for e in entries:
        m = _HOST_PORT.match(e)
        if not m:
            return f"expected HOST:PORT[,HOST:PORT...], got {_clip(repr(e))}"
        port = int(m.group(2))
        if not 1 <= port <= 65535:
            return f"port {port} of {_clip(repr(e))} is not between 1 and 65535"
    return None


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\s,:\[\]]+):(\d{1,6})$")


def _check_references(config: Config) -> None:
    src = config.source
    for name, cluster in config.clusters.items():
        problem = check_bootstrap(cluster.bootstrap_servers)
        if problem:
            raise ConfigError(f"{src}: clusters.{name}.bootstrap_servers: {problem}")
        if cluster.request_timeout <= 0:
            raise ConfigError(f"{src}: clusters.{name}.request_timeout: must be more than 0 "
                              f"(got {float(cluster.request_timeout):g}s)")
    if config.alerts.interval <= 0:
        raise ConfigError(f"{src}: alerts.interval: must be more than 0 (got "
                          f"{float(config.alerts.interval):g}s)")
    if config.default_cluster is not None and config.default_cluster not in config.clusters:
        raise ConfigError(
            f"{src}: default_cluster: no cluster named {config.default_cluster!r} under clusters:"
        )
    for name, cluster in config.clusters.items():
        if cluster.schema_registry is not None:
            _check_registry(cluster.schema_registry, f"{src}: clusters.{name}.schema_registry")
    for i, pair in enumerate(config.dr.pairs):
        for side in ("primary", "secondary"):
            name = getattr(pair, side)
            if name not in config.clusters:
                raise ConfigError(
                    f"{src}: dr.pairs[{i}].{side}: no cluster named {name!r} under clusters:"
                )
    for action, roles in config.permissions.items():
        for role in roles:
            if role not in config.roles:
                raise ConfigError(
                    f"{src}: permissions.{action}: no role named {role!r} under roles:"
                )
    names = [r.name for r in config.alerts.rules]
    for i, rule in enumerate(config.alerts.rules):
        if names.count(rule.name) > 1:
            raise ConfigError(f"{src}: alerts.rules[{i}].name: {rule.name!r} is used twice")
        if (rule.watch is None) == (rule.when is None):
            raise ConfigError(
                f"{src}: alerts.rules[{i}] ({rule.name}): give either `when` (a metric rule) "
                "or `watch` (an event rule)"
            )
    from kafkaops.core.connect.settings import check_connect

    check_connect(config)  # ConfigError naming the connect entry and key
    from kafkaops.core.policy.rules import check_policies
    from kafkaops.core.usage.teams import check_teams

    check_teams(config)  # ConfigError naming the team, cost or key
    check_policies(config)  # ConfigError naming the policy and the requirement
    from kafkaops.core.alerts.config import check_rules  # it reads this module's types

    check_rules(config)  # ConfigError naming the rule and what does not parse


#: a Slack user group or user as config may name it, bare or as Slack writes a mention
_MENTION = re.compile(r"^(?:<!subteam\^(S[A-Z0-9]{2,})(?:\|[^<>]*)?>"
                      r"|<@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>|([SUW][A-Z0-9]{2,}))$")
#: a Slack channel id (C0123ABCD; G for private, D for direct) or a #name as Slack writes it
CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._\-]{0,79}|[CGD][A-Z0-9]{2,})$")


def owner_ids(value: str | list[str] | None, where: str) -> tuple[str, ...]:
    """The Slack IDs an `owner` names (S... user groups, U.../W... users), in order, each
    once. ConfigError for anything else: a mention must name an ID, since Slack turns
    only IDs into notifications (`@oncall` as text notifies nobody)."""
    items = [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for i, raw in enumerate(items):
        for word in str(raw).replace(",", " ").split():
            m = _MENTION.match(word)
            if m is None:
                at = f"{where}[{i}]" if isinstance(value, list) else where
                raise ConfigError(
                    f"{at}: {_clip(repr(word))} is not a Slack user group or user: give an "
                    "ID such as S0123ONCALL (user group) or U0123ALICE (user), or "
                    "<!subteam^S0123ONCALL>")
            ident = next(g for g in m.groups() if g)
            if ident not in out:
                out.append(ident)
    return tuple(out)


def _check_registry(reg: SchemaRegistryConfig, where: str) -> None:
    from urllib.parse import urlsplit

    try:
        url = urlsplit(reg.url)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise ConfigError(f"{where}.url: not a URL ({e}): {reg.url!r}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            f"{where}.url: expected an http:// or https:// URL such as "
            f"http://schemas:8081, got {reg.url!r}")
    if url.username or url.password:
        raise ConfigError(f"{where}.url: put credentials under basic_auth (with ${{ENV_VAR}} "
                          "for the password), not in the URL")
    if reg.tls is not None and url.scheme != "https":
        raise ConfigError(f"{where}.tls: the url is not https://, so TLS files are not used")
    if reg.tls is not None and bool(reg.tls.cert_file) != bool(reg.tls.key_file):
        raise ConfigError(f"{where}.tls: give both cert_file and key_file for mutual TLS")
    if not float(reg.timeout) > 0:
        raise ConfigError(f"{where}.timeout: give a duration above 0, such as 5s")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read config from `path`, else $KAFKAOPS_CONFIG, else the default path.

    A path that was asked for explicitly must exist; the default path may be missing (then
    the config is empty and a cluster must come from -b).
    """
    explicit = path is not None or "KAFKAOPS_CONFIG" in os.environ
    p = Path(path if path is not None else os.environ.get("KAFKAOPS_CONFIG", DEFAULT_CONFIG_PATH))
    p = p.expanduser()
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: config file not found")
        return Config(source=f"{p} (not found)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config file: {e}") from None
    import yaml  # here, not at the top: `kafkaops -b HOST:PORT ...` never needs it (start time)

    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as e:
        raise ConfigError(f"{p}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(f"{p}: the config is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # PyYAML's int() of a scalar: an integer of thousands of digits
        raise ConfigError(f"{p}: not valid YAML: {_clip(' '.join(str(e).split()), 120)}"
                          ) from None
    return parse_config(data, str(p))


class _DuplicateKey(Exception):
    """A mapping names one key twice: YAML would keep the last silently."""


def _loader() -> Any:
    """yaml.SafeLoader that refuses a key given twice in one mapping (keys merged in with
    `<<: *anchor` may still be overridden, as YAML intends)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is None:
                    continue
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DuplicateKey(f"duplicate key {key!r} (line {line}, first at line "
                                        f"{seen[key]}): give each key once")
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return Loader


def adhoc_config(bootstrap: str, base: Config | None = None) -> Config:
    """The `-b HOST:PORT` shortcut: a config whose only cluster is that address."""
    problem = check_bootstrap(bootstrap)
    if problem:
        raise ConfigError(f"-b {_clip(bootstrap)}: {problem}")
    base = base or Config()
    return dataclasses.replace(
        base,
        clusters={ADHOC_CLUSTER: ClusterConfig(bootstrap_servers=bootstrap)},
        default_cluster=ADHOC_CLUSTER,
        source=f"-b {bootstrap}",
    )


def redacted(config: Config) -> dict[str, Any]:
    """The config as plain data with every secret replaced by '***' (or '<unset>')."""

    def walk(v: Any) -> Any:
        if isinstance(v, Secret):
            return str(v)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            out = {}
            for f in dataclasses.fields(v):
                if f.name in _INTERNAL_FIELDS:
                    continue
                out[f.name.rstrip("_")] = walk(getattr(v, f.name))
            return out
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, Duration):
            return f"{float(v):g}s"
        return v

    result: dict[str, Any] = walk(config)
    return result
