"""Config of teams and what they own (TeamConfig), prices for chargeback (CostsConfig) and
the policies topic configs must follow (PolicyConfig).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TeamConfig:
    """A team and what it owns."""

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
    """The costs section: prices for chargeback."""

    storage_gb_month: float = 0.0
    """Price of keeping one GB (10^9 bytes, every replica counted) for a month."""
    ingress_gb: float = 0.0
    """Price of one GB (10^9 bytes, as the broker stores the batches) produced."""
    currency: str = "USD"
    """Currency of both prices (ISO 4217 code), shown next to every amount."""


@dataclass(frozen=True)
class PolicyConfig:
    """One topic policy: the topics it applies to and what they must follow."""

    name: str
    """Policy name; each violation names it."""
    match: dict[str, str] = field(default_factory=dict)
    """Which topics it applies to: glob patterns on `topic` and `cluster`, and `team` (a
    team under teams:); a missing key matches everything."""
    require: dict[str, str | list[str]] = field(default_factory=dict)
    """Topic configs (`retention`, `cleanup_policy`, any topic config with `_` or `.`) and
    `partitions`, `replication_factor`: a value (`delete`), a list of allowed values
    (`[lz4, zstd]`), or a comparison (`>= 7y`, `<= 1GiB`, `!= compact`)."""


