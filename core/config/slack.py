"""Config of the Slack bot (SlackConfig, its HTTP listener) and the roles its permissions
name (RoleConfig).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kafkaops.core.config.values import Secret


@dataclass(frozen=True)
class SlackHttpConfig:
    """The bot's HTTP mode (Slack sends requests to it)."""

    host: str = "0.0.0.0"
    """Address the HTTP mode server listens on."""
    port: int = 3000
    """Port; serves /slack/events and /healthz."""


@dataclass(frozen=True)
class SlackConfig:
    """The slack section: the bot's tokens, channels and roles."""

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
    """A role of the bot's permissions."""

    users: list[str] = field(default_factory=list)
    """Slack user IDs."""
    usergroups: list[str] = field(default_factory=list)
    """Slack user group IDs."""


