"""Alert rules read from config: each rule under `alerts.rules` checked and compiled into a
MetricRule (with `when:`) or an EventRule (with `watch:`), with a ConfigError naming the
file, the rule and the problem when it is not right.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kafkaops.core.alerts.conditions import RuleSyntaxError, metrics_of, parse_when, scope_of
from kafkaops.core.alerts.metrics import MATCH_KEYS, SCOPE_WORDS
from kafkaops.core.alerts.model import EventRule, MetricRule, Route, Rules, Subject, route
from kafkaops.core.errors import ConfigError

if TYPE_CHECKING:
    from kafkaops.core.config import AlertRuleConfig, Config

DEFAULT_MESSAGE = "{value}"
#: longest runbook link (Slack's limit on a button's url)
MAX_RUNBOOK = 3000


def compile_rules(config: Config) -> Rules:
    """Every rule in `config.alerts`, parsed and checked. Raises ConfigError naming the file,
    the rule and the problem (`config.yaml: alerts.rules[0] (orders-behind): when: ...`)."""
    metric: list[MetricRule] = []
    event: list[EventRule] = []
    for i, rule in enumerate(config.alerts.rules):
        where = f"{config.source}: alerts.rules[{i}] ({rule.name})"
        if rule.when is not None:
            metric.append(_metric_rule(rule, config, where))
        else:
            event.append(_event_rule(rule, config, where))
    return Rules(tuple(metric), tuple(event))


def check_rules(config: Config) -> None:
    """Validation hook called when config is loaded: ConfigError for a rule that does not
    parse, or an alerts.cluster that is not configured."""
    name = config.alerts.cluster
    if name is not None and name not in config.clusters:
        raise ConfigError(
            f"{config.source}: alerts.cluster: no cluster named {name!r} under clusters: "
            f"(configured: {', '.join(config.clusters) or 'none'})")
    from kafkaops.core.config import owner_ids

    for team, t in config.teams.items():
        owner_ids(t.owner, f"{config.source}: teams.{team}.owner")
    compile_rules(config)
    # An alerts cluster that is read-only is refused when alerts are published (AlertLog),
    # not here: a read-only production cluster must not stop `kafkaops topics` from working.


def alerts_cluster(config: Config) -> str:
    """The cluster that holds the alerts topic: alerts.cluster, else default_cluster, else
    the first cluster. Not KAFKAOPS_CLUSTER nor -c: every replica and face must meet on
    the same topic whatever cluster it works on."""
    if config.alerts.cluster is not None:
        return config.alerts.cluster
    if config.default_cluster is not None:
        return config.default_cluster
    return next(iter(config.clusters), "")


@dataclass(frozen=True)
class _Common:
    channel: str
    owner: tuple[str, ...]
    runbook: str
    routes: tuple[Route, ...]


def _common(rule: AlertRuleConfig, config: Config, where: str) -> _Common:
    """What every rule has: a name, where it posts (its channel, its team), whom it
    @mentions, its runbook."""
    from kafkaops.core.config import CHANNEL, owner_ids

    if not rule.name.strip():
        raise ConfigError(f"{where}: name: give the rule a name")
    if rule.channel is not None and not CHANNEL.match(rule.channel):
        raise ConfigError(
            f"{where}: channel: {rule.channel!r} is neither a Slack channel id (C0123ABCD) "
            "nor a #channel-name")
    owner = owner_ids(rule.owner, f"{where}: owner")
    runbook = rule.runbook or ""
    if runbook and (not re.match(r"^https?://[^\s<>|]+$", runbook) or len(runbook) > MAX_RUNBOOK):
        raise ConfigError(f"{where}: runbook: expected an http:// or https:// link (no spaces, "
                          f"at most {MAX_RUNBOOK} characters), got {runbook[:80]!r}")
    routes = tuple(Route(name, tuple(t.match), t.channel,
                         owner_ids(t.owner, f"{config.source}: teams.{name}.owner"))
                   for name, t in config.teams.items())
    if rule.team is not None:
        team = config.teams.get(rule.team)
        if team is None:
            raise ConfigError(f"{where}: team: no team named {rule.team!r} under teams: "
                              f"(configured: {', '.join(config.teams) or 'none'})")
        if team.channel is None and rule.channel is None:
            raise ConfigError(f"{where}: team: team {rule.team!r} has no channel; give the "
                              "rule a channel: or the team one")
        routes = tuple(dataclasses.replace(r, forced=True) for r in routes if r.team == rule.team)
    elif rule.channel is None:
        raise ConfigError(f"{where}: channel: required (a Slack channel id or #name), or name "
                          "a team with a channel under teams: (team: NAME)")
    return _Common(rule.channel or "", owner, runbook, routes)


def _metric_rule(rule: AlertRuleConfig, config: Config, where: str) -> MetricRule:
    common = _common(rule, config, where)
    for key in ("filter", "message"):
        if getattr(rule, key) is not None:
            raise ConfigError(f"{where}: {key}: applies to event rules (with watch:), not to "
                              "metric rules (with when:)")
    assert rule.when is not None
    try:
        expr = parse_when(rule.when)
        scope = scope_of(expr, rule.when)
    except RuleSyntaxError as e:
        raise ConfigError(f"{where}: when: {e}") from None
    match = dict(rule.match or {})
    allowed = MATCH_KEYS[scope]
    for key, pattern in match.items():
        if key not in allowed:
            raise ConfigError(
                f"{where}: match.{key}: a rule on {SCOPE_WORDS[scope]}s "
                f"({', '.join(metrics_of(expr))}) matches on {', '.join(allowed)}, "
                f"not {key}")
        if not pattern:
            raise ConfigError(f"{where}: match.{key}: empty pattern (leave it out to match "
                              "everything)")
    if "cluster" in match:
        names = list(config.clusters)
        if not any(fnmatch.fnmatchcase(n, match["cluster"]) for n in names):
            raise ConfigError(
                f"{where}: match.cluster: {match['cluster']!r} matches no cluster under "
                f"clusters: (configured: {', '.join(names) or 'none'})")
    if scope == "dr":
        pairs = [p.name for p in config.dr.pairs]
        if not pairs:
            raise ConfigError(f"{where}: when: {', '.join(metrics_of(expr))} needs a DR pair "
                              "under dr: pairs:")
        if "pair" in match and not any(fnmatch.fnmatchcase(p, match["pair"]) for p in pairs):
            raise ConfigError(f"{where}: match.pair: {match['pair']!r} matches no DR pair "
                              f"(configured: {', '.join(pairs)})")
    if scope == "connector":
        from kafkaops.core.connect.alerting import check_connector_rule

        check_connector_rule(match, config, where, metrics_of(expr))
    return MetricRule(
        name=rule.name, channel=common.channel, severity=rule.severity, when=rule.when,
        expr=expr, scope=scope, match=match, for_seconds=float(rule.for_),
        owner=common.owner, runbook=common.runbook, routes=common.routes,
    )


def _event_rule(rule: AlertRuleConfig, config: Config, where: str) -> EventRule:
    from kafkaops.core.expr.filter import compile_filter
    from kafkaops.core.expr.model import FilterError

    common = _common(rule, config, where)
    if rule.match is not None:
        raise ConfigError(f"{where}: match: applies to metric rules (with when:); an event "
                          "rule names its topic in watch: {cluster, topic}")
    if float(rule.for_) > 0:
        raise ConfigError(f"{where}: for: applies to metric rules (with when:); an event "
                          "rule posts matching records as they come")
    watch = dict(rule.watch or {})
    for key in watch:
        if key not in ("cluster", "topic"):
            raise ConfigError(f"{where}: watch.{key}: unknown key (expected cluster, topic)")
    topic = watch.get("topic", "")
    if not topic:
        raise ConfigError(f"{where}: watch.topic: required (the topic to watch)")
    if any(c in topic for c in "*?["):
        raise ConfigError(f"{where}: watch.topic: {topic!r}: name one topic (no patterns)")
    cluster = watch.get("cluster") or config.default_cluster or next(iter(config.clusters), "")
    if cluster not in config.clusters:
        raise ConfigError(
            f"{where}: watch.cluster: no cluster named {cluster!r} under clusters: "
            f"(configured: {', '.join(config.clusters) or 'none'})")
    flt = None
    if rule.filter is not None:
        try:
            flt = compile_filter(rule.filter)
        except FilterError as e:
            raise ConfigError(f"{where}: filter: {e}") from None
    message = rule.message if rule.message is not None else DEFAULT_MESSAGE
    try:
        template_fields(message)
    except ValueError as e:
        raise ConfigError(f"{where}: message: {e}") from None
    if rule.max_per_minute < 1:
        raise ConfigError(f"{where}: max_per_minute: must be at least 1 (got "
                          f"{rule.max_per_minute})")
    channel, owner = route(common.routes, common.channel, common.owner,
                           Subject(cluster=cluster, topic=topic))
    if not channel:
        raise ConfigError(f"{where}: channel: required: no team with a channel owns "
                          f"{topic!r}")
    return EventRule(
        name=rule.name, channel=channel, severity=rule.severity, cluster=cluster,
        topic=topic, filter_text=rule.filter, filter=flt, message=message,
        max_per_minute=rule.max_per_minute, owner=owner, runbook=common.runbook,
    )


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def template_fields(template: str) -> list[str]:
    """The {field} names of a message template, checked with the filter language's own name
    parser; ValueError naming the bad one. `{{` and `}}` are literal braces."""
    from kafkaops.core.expr.filter import extract
    from kafkaops.core.expr.model import FilterError
    from kafkaops.core.messages.model import Message

    probe = Message("", 0, 0, 0, None, None)
    out = []
    for m in _PLACEHOLDER.finditer(template):
        tok = m.group()
        if tok in ("{{", "}}"):
            continue
        if m.group(1) is None:
            raise ValueError(f"unmatched {tok!r} at column {m.start() + 1} (write {tok * 2} "
                             "for a literal brace)")
        name = m.group(1).strip()
        if not name:
            raise ValueError(f"empty {{}} at column {m.start() + 1}; name a field, e.g. "
                             "{pipeline}")
        try:
            extract(probe, name)
        except FilterError as e:
            raise ValueError(f"{{{name}}} is not a field name: {e.reason}") from None
        out.append(name)
    return out


