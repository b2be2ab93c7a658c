"""Checks across a parsed config that its types alone do not make: bootstrap lists, timeouts
above zero, names that refer to other sections (default_cluster, dr pairs, permissions'
roles, alert rules), Schema Registry URLs, Slack owner and channel ids; and the checks
each capability package owns (connect, teams, policies, alert rules).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kafkaops.core.config.values import clip as _clip
from kafkaops.core.errors import ConfigError

if TYPE_CHECKING:
    from kafkaops.core.config.clusters import SchemaRegistryConfig
    from kafkaops.core.config.model import Config

#: deepest nesting a config may have (kafkaops' own keys go 5 levels deep)
MAX_DEPTH = 32

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


def check_references(config: Config) -> None:
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
    from kafkaops.core.alerts.config import check_rules  # it reads this package's types

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

