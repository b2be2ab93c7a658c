"""Teams and the topics they own, from `teams:` in config. Pure: no I/O.

    teams:
      payments: {match: ["orders.*", "billing.*"], channel: "#payments-oncall"}
      platform: {match: ["logs.*", "metrics.*", "k8s.*"]}

A topic belongs to the first team, in config order, one of whose patterns matches its name
(fnmatch globs, case-sensitive as Kafka topic names are); a topic no team matches is
"unowned". Usage and chargeback are summed per owner, and alerts about a topic go to its
owner's channel when the team names one.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from kafkaops.core.errors import ConfigError

if TYPE_CHECKING:
    from kafkaops.core.config import Config, TeamConfig

#: the owner of a topic no team matches
UNOWNED = "unowned"
#: a team name: what a person types after `--team` and reads in a column
_TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
#: a Slack channel id (C0123ABCD; G private, D direct) or a #name as Slack writes it
_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._\-]{0,79}|[CGD][A-Z0-9]{2,})$")
#: ISO 4217 currency code
_CURRENCY = re.compile(r"^[A-Z]{3}$")
#: bounds on what config may ask for (patterns are matched against every topic name)
MAX_PATTERNS = 200
MAX_PATTERN_LENGTH = 249  # Kafka's own limit on a topic name


def team_of(teams: Mapping[str, TeamConfig], topic: str) -> str:
    """The team that owns `topic`, or UNOWNED."""
    for name, team in teams.items():
        if any(fnmatch.fnmatchcase(topic, p) for p in team.match):
            return name
    return UNOWNED


def owners(teams: Mapping[str, TeamConfig], topics: Iterable[str]) -> dict[str, str]:
    """topic -> owning team (or UNOWNED) for each topic."""
    return {t: team_of(teams, t) for t in topics}


def team_channel(teams: Mapping[str, TeamConfig], topic: str | None) -> str | None:
    """The Slack channel of the team owning `topic`, None when it names none (or no topic)."""
    if topic is None:
        return None
    name = team_of(teams, topic)
    team = teams.get(name)
    return team.channel if team is not None else None


def check_teams(config: Config) -> None:
    """ConfigError naming the key for a team or price that cannot be used."""
    src = config.source
    for name, team in config.teams.items():
        where = f"{src}: teams.{name}"
        if name == UNOWNED:
            raise ConfigError(f"{where}: {UNOWNED!r} is what topics no team owns; name the "
                              "team otherwise")
        if not _TEAM_NAME.match(name):
            raise ConfigError(f"{where}: a team name is letters, digits, '.', '_' or '-' "
                              "(at most 64)")
        if not team.match:
            raise ConfigError(f"{where}.match: give the topic patterns the team owns, e.g. "
                              "[\"orders.*\"]")
        if len(team.match) > MAX_PATTERNS:
            raise ConfigError(f"{where}.match: at most {MAX_PATTERNS} patterns")
        for i, pattern in enumerate(team.match):
            if not pattern.strip() or len(pattern) > MAX_PATTERN_LENGTH:
                raise ConfigError(f"{where}.match[{i}]: a topic pattern of 1 to "
                                  f"{MAX_PATTERN_LENGTH} characters, e.g. \"orders.*\"")
        if team.channel is not None and not _CHANNEL.match(team.channel):
            raise ConfigError(f"{where}.channel: {team.channel!r} is neither a Slack channel "
                              "id (C0123ABCD) nor a #channel-name")
    costs = config.costs
    if costs is not None:
        for key in ("storage_gb_month", "ingress_gb"):
            value = getattr(costs, key)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{src}: costs.{key}: a price of 0 or more (got {value!r})")
        if not _CURRENCY.match(costs.currency):
            raise ConfigError(f"{src}: costs.currency: a three-letter ISO 4217 code such as "
                              f"USD or EUR (got {costs.currency!r})")
