"""Config of alerts (AlertsConfig, AlertRuleConfig) and of how consumer lag is judged
(LagConfig).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kafkaops.core.config.values import Duration


@dataclass(frozen=True)
class AlertRuleConfig:
    """One alert rule of the config (alerts.rules)."""

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
    """The alerts section: how often rules are evaluated, and the rules."""

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
    """The lag section: the window a group's status is judged on, and its warm-up."""

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
    remember_timestamps: bool = True
    """Keep the record timestamps read for lag in seconds in a file per cluster
    (~/.cache/kafkaops/lag/, $KAFKAOPS_CACHE_DIR/lag/), so the next `kafkaops lag` reads
    only offsets that moved; entries count only while their topic keeps its id."""


