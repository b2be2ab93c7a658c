"""Alert rules: parsing, pure evaluation, stable alert ids, and the events on `_kafkaops.alerts`.

Everything here is pure (no I/O, the clock is passed in), so rules, `for:` durations, ids
and the notifier's bookkeeping are tested with tables and a fake clock. The services that
do the I/O are in alert_log.py (the topic), alert_runner.py (the evaluator loop) and
alert_events.py (event rules).

A metric rule's `when` is a small language over the metrics of one kind of subject:

    lag_seconds > 5m            lag > 10_000 and members == 0
    status in [ERR, STOP]       status >= STALL          data_loss
    offline_partitions > 0      unreachable              rpo_exceeded or heartbeat_age > 2m

Metrics (and the subject each alert is about):
- consumer group (match: cluster, group, topic): `lag` (records), `lag_seconds` (age of the
  oldest unread record), `status` (OK, WARN, STALL, STOP, ERR, REWIND, DATA_LOSS; `>=`
  compares by severity), `members`, `data_loss`. With `match.topic` one alert per group
  and topic, on that topic's lag; else one per group.
- topic (match: cluster, topic): `offline_partitions`, `under_replicated_partitions`.
- cluster (match: cluster): `unreachable` (no broker answered).
- DR pair (match: pair): `dr_lag` (records), `dr_lag_seconds`, `heartbeat_age` (seconds),
  `rpo_exceeded` (the RPO estimate is above the pair's rpo).
- Kafka Connect connector (match: cluster, connect, connector): `failed_tasks`,
  `connector_failed` (measured by core/connect/alerting.py).

`and`, `or`, `not` and parentheses combine conditions on one kind of subject. A metric that
is not known this time (no record timestamp to date the lag, say) is neither true nor false:
an unknown condition neither fires an alert nor resolves one (three-valued logic).

Alert ids are stable: a hash of the rule name and the subject (cluster, group, topic, pair),
so the same problem keeps its id across evaluations, evaluator replicas and restarts, and
editing a rule's threshold does not orphan an alert that is firing.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.errors import ConfigError
from kafkaops.core.expr import kernel as expr
from kafkaops.core.expr.kernel import Tok
from kafkaops.core.lag.status import Status, age
from kafkaops.core.untrusted import parse_json

if TYPE_CHECKING:
    from kafkaops.core.config import AlertRuleConfig, Config
    from kafkaops.core.expr.filter import Filter
    from kafkaops.core.lag.service import LagSnapshot
    from kafkaops.core.records import MetadataSnapshot

Scope = Literal["group", "topic", "cluster", "dr", "connector"]
Kind = Literal["count", "seconds", "status", "bool"]
Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")


# ---------------------------------------------------------------- the metrics `when` knows


@dataclass(frozen=True)
class MetricSpec:
    name: str
    """Name used in `when`."""
    scope: Scope
    """Kind of subject it is measured on."""
    kind: Kind
    """count: a number of records/partitions/members; seconds: a duration (5m allowed);
    status: a lag status; bool: true or false (usable bare)."""
    help: str
    """What it measures, for error messages and docs."""


METRICS: dict[str, MetricSpec] = {m.name: m for m in (
    MetricSpec("lag", "group", "count", "records the group has not read yet"),
    MetricSpec("lag_seconds", "group", "seconds", "age of the oldest record not read yet"),
    MetricSpec("status", "group", "status", "lag status judged over the window"),
    MetricSpec("members", "group", "count", "consumers in the group"),
    MetricSpec("data_loss", "group", "bool",
               "committed offset below the log start: records deleted unread"),
    MetricSpec("offline_partitions", "topic", "count", "partitions with no leader"),
    MetricSpec("under_replicated_partitions", "topic", "count",
               "partitions whose ISR is smaller than their replica set"),
    MetricSpec("unreachable", "cluster", "bool", "no broker of the cluster answered"),
    MetricSpec("dr_lag", "dr", "count", "largest replication lag of a topic, in records"),
    MetricSpec("dr_lag_seconds", "dr", "seconds", "largest replication lag, in seconds"),
    MetricSpec("heartbeat_age", "dr", "seconds", "age of the newest MirrorMaker heartbeat"),
    MetricSpec("rpo_exceeded", "dr", "bool", "the RPO estimate is above the pair's rpo"),
    MetricSpec("failed_tasks", "connector", "count", "tasks of a Connect connector FAILED"),
    MetricSpec("policy_violations", "topic", "count",
               "requirements of the policies in config the topic breaks"),
    MetricSpec("policy_unknown", "topic", "count",
               "policy requirements whose value the broker does not report"),
    MetricSpec("bytes_in_rate", "topic", "count",
               "bytes a second produced over the last 5 minutes (core/usage)"),
    MetricSpec("baseline", "topic", "count",
               "bytes a second produced over the hour before those 5 minutes"),
    MetricSpec("connector_failed", "connector", "bool",
               "the Connect connector instance itself FAILED"),
)}
ALIASES = {
    "broker_unreachable": "unreachable",
    "offline": "offline_partitions",
    "under_replicated": "under_replicated_partitions",
    "dr_lag_messages": "dr_lag",
    "lag_records": "lag",
}
#: the `match:` keys each kind of rule accepts
MATCH_KEYS: dict[Scope, tuple[str, ...]] = {
    "group": ("cluster", "group", "topic"),
    "topic": ("cluster", "topic"),
    "cluster": ("cluster",),
    "dr": ("pair",),
    "connector": ("cluster", "connect", "connector"),
}
_SCOPE_WORDS = {"group": "consumer group", "topic": "topic", "cluster": "cluster",
                "dr": "DR pair", "connector": "Connect connector"}


# ---------------------------------------------------------------- the `when` tree


@dataclass(frozen=True)
class Cmp:
    metric: str
    """Metric name (aliases resolved)."""
    op: str
    """>, >=, <, <=, ==, !=, in."""
    value: Any
    """float for counts and seconds, Status, bool, a tuple of Status for `in`, or a Ref
    to another metric (`bytes_in_rate > 3 * baseline`)."""


@dataclass(frozen=True)
class Ref:
    """A value read from another metric of the same subject: `3 * baseline`."""

    factor: float
    """What the metric's value is multiplied by."""
    metric: str
    """The metric."""


@dataclass(frozen=True)
class Truth:
    metric: str
    """A bool metric used bare: `data_loss`."""


@dataclass(frozen=True)
class NotExpr:
    operand: Expr
    """The negated condition."""


@dataclass(frozen=True)
class BoolExpr:
    op: Literal["and", "or"]
    """and / or."""
    operands: tuple[Expr, ...]
    """Two or more conditions."""


Expr = Cmp | Truth | NotExpr | BoolExpr


class RuleSyntaxError(ValueError):
    """A `when` that does not parse: what is wrong and where (0-based column)."""

    def __init__(self, message: str, text: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.column = column

    def __str__(self) -> str:
        where = f"{self.message} (column {self.column + 1})"
        if len(self.text) > expr.SHOW_TEXT or "\n" in self.text:
            return where
        return f"{where}\n    {self.text}\n    {' ' * self.column}^"


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d[\d_]*(?:\.\d+)?(?:ms|s|m|h|d)?(?![A-Za-z0-9_.]))
  | (?P<str>"[^"]*"|'[^']*')
  | (?P<op>>=|<=|==|!=|&&|\|\||[<>=!()\[\],*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?![A-Za-z0-9_.\-]))
  | (?P<bad>[^\s()\[\],<>=!*]+)
    """,
    re.VERBOSE,
)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}
_NUM = re.compile(r"^(\d[\d_]*(?:\.\d+)?)(ms|s|m|h|d)?$")
_NUM_SPLIT = re.compile(r"(ms|s|m|h|d)$")


def _tokens(text: str) -> list[Tok]:
    out: list[Tok] = []

    def unmatched(pos: int) -> RuleSyntaxError:  # pragma: no cover - `bad` matches the rest
        return RuleSyntaxError(f"unexpected {text[pos]!r}", text, pos)

    for kind, raw, pos in expr.scan(text, _TOKEN, unmatched):
        if kind == "bad":
            if raw[0] in "\"'":
                raise RuleSyntaxError("string is not closed: add the closing quote", text, pos)
            raise RuleSyntaxError(f"cannot read {raw!r}", text, pos)
        if kind == "op":
            raw = {"&&": "and", "||": "or", "!": "not", "=": "=="}.get(raw, raw)
        elif kind == "name" and raw.lower() in ("and", "or", "not", "in"):
            kind, raw = "op", raw.lower()
        elif kind == "num":
            expr.number(_NUM_SPLIT.sub("", raw), RuleSyntaxError, text, pos)  # bounds only
        out.append(Tok(kind, raw, pos))
    out.append(Tok("end", "", len(text)))
    return out


class _Parser(expr.BoolParser[Expr]):
    what = "the condition"
    example = "lag_seconds > 300"
    operand_kinds = ("name", "num", "str")

    def __init__(self, text: str) -> None:
        super().__init__(text, _tokens(text), RuleSyntaxError)

    def fail(self, message: str, tok: Tok | None = None) -> RuleSyntaxError:
        return RuleSyntaxError(message, self.text, (tok or self.tok).pos)

    def make_bool(self, op: str, items: tuple[Expr, ...]) -> Expr:
        return BoolExpr("and" if op == "and" else "or", items)

    def make_not(self, operand: Expr) -> Expr:
        return NotExpr(operand)

    def parse_atom(self) -> Expr:
        return self.parse_condition()

    def parse_condition(self) -> Expr:
        tok = self.tok
        if tok.kind != "name":
            if tok.kind == "end":
                raise self.fail("expected a metric at the end, e.g. `lag > 1000`")
            raise self.fail(f"expected a metric name (lag, lag_seconds, status, ...), found "
                            f"{tok.text!r}")
        self.take()
        spec = _metric(tok.text, self, tok)
        if not (self.tok.kind == "op" and self.tok.text in (">", ">=", "<", "<=", "==", "!=",
                                                            "in")):
            if spec.kind == "bool":
                return Truth(spec.name)
            example = {"count": f"{spec.name} > 1000", "seconds": f"{spec.name} > 5m",
                       "status": f"{spec.name} in [ERR, STOP]"}[spec.kind]
            raise self.fail(f"{spec.name} needs a comparison, e.g. `{example}`",
                            None if self.tok.kind != "end" else tok)
        op_tok = self.take()
        op = op_tok.text
        if op == "in":
            if spec.kind != "status":
                raise self.fail(f"`in` compares a status with a list; {spec.name} is "
                                f"{'a duration' if spec.kind == 'seconds' else 'a number'}: "
                                "use >, >=, <, <=, == or !=", op_tok)
            return Cmp(spec.name, "in", self.parse_status_list())
        return Cmp(spec.name, op, self.parse_value(spec, op, op_tok))

    def parse_value(self, spec: MetricSpec, op: str, op_tok: Tok) -> Any:
        tok = self.tok
        if tok.kind == "end" or (tok.kind == "op" and tok.text != "["):
            raise self.fail(f"expected a value after {op!r}")
        if spec.kind == "bool":
            if op not in ("==", "!="):
                raise self.fail(f"{spec.name} is true or false: compare it with == or !=, or "
                                f"use it bare (`{spec.name}`, `not {spec.name}`)", op_tok)
            if tok.kind != "name" or tok.text.lower() not in ("true", "false"):
                raise self.fail(f"{spec.name} is true or false, not {tok.text!r}")
            self.take()
            return tok.text.lower() == "true"
        if spec.kind == "status":
            return self.parse_status()
        if tok.kind == "name" and ALIASES.get(tok.text.lower(), tok.text.lower()) in METRICS:
            return Ref(1.0, self.parse_ref(spec).name)  # another metric: `lag > max_lag`
        if tok.kind != "num":
            raise self.fail(f"{spec.name} is {_kind_words(spec)}: expected a number, found "
                            f"{tok.text!r}")
        self.take()
        m = _NUM.match(tok.text)
        assert m is not None
        number = float(m.group(1).replace("_", ""))
        unit = m.group(2) or ""
        if self.at("*"):  # `3 * baseline`
            star = self.take()
            if unit:
                raise self.fail(f"a factor has no unit: drop {unit!r}", tok)
            if self.tok.kind != "name":
                raise self.fail(f"expected a metric after {number:g} *", star)
            return Ref(number, self.parse_ref(spec).name)
        if unit and spec.kind != "seconds":
            raise self.fail(f"{spec.name} is {_kind_words(spec)}, not a duration: drop "
                            f"{unit!r}", tok)
        return number * _UNITS[unit]

    def parse_ref(self, spec: MetricSpec) -> MetricSpec:
        """A metric compared with `spec`: of the same kind and subject."""
        tok = self.take()
        other = _metric(tok.text, self, tok)
        if other.kind != spec.kind or other.scope != spec.scope:
            raise self.fail(f"{spec.name} ({_kind_words(spec)} on a {_SCOPE_WORDS[spec.scope]}) "
                            f"cannot be compared with {other.name} ({_kind_words(other)} on a "
                            f"{_SCOPE_WORDS[other.scope]})", tok)
        return other

    def parse_status(self) -> Status:
        tok = self.tok
        if tok.kind not in ("name", "str"):
            raise self.fail(f"expected a lag status ({_statuses()}), found {tok.text!r}")
        self.take()
        word = tok.text[1:-1] if tok.kind == "str" else tok.text
        try:
            return Status.parse(word)
        except ValueError:
            raise self.fail(f"unknown lag status {word!r} (known: {_statuses()})",
                            tok) from None

    def parse_status_list(self) -> tuple[Status, ...]:
        if not self.at("["):
            raise self.fail("expected a list after `in`, e.g. [ERR, STOP]")
        self.take()
        items: list[Status] = []
        while True:
            if self.at("]") and not items:
                raise self.fail("the list is empty")
            items.append(self.parse_status())
            if self.at(","):
                self.take()
                continue
            if self.at("]"):
                self.take()
                return tuple(items)
            raise self.fail("expected `,` or `]` in the list")


def _statuses() -> str:
    return ", ".join(s.value for s in Status)


def _kind_words(spec: MetricSpec) -> str:
    return {"count": "a count", "seconds": "a duration in seconds", "status": "a status",
            "bool": "true or false"}[spec.kind]


def _metric(name: str, parser: _Parser, tok: Tok) -> MetricSpec:
    key = ALIASES.get(name.lower(), name.lower())
    spec = METRICS.get(key)
    if spec is None:
        import difflib

        known = sorted(METRICS)
        best = difflib.get_close_matches(name.lower(), known + sorted(ALIASES), n=1)
        hint = f"; did you mean {ALIASES.get(best[0], best[0])!r}?" if best else ""
        raise parser.fail(f"unknown metric {name!r}{hint} (known: {', '.join(known)})", tok)
    return spec


def parse_when(text: str) -> Expr:
    """The condition's tree. Raises RuleSyntaxError naming the problem and its column;
    longer than 10,000 characters or nested deeper than 32 levels is refused (core/expr)."""
    expr.check_length(text, RuleSyntaxError, "the condition")
    return _Parser(text).parse()


def metrics_of(expr: Expr) -> list[str]:
    """The metrics a condition reads, in the order written, each once."""
    out: list[str] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Cmp | Truth):
            if e.metric not in out:
                out.append(e.metric)
            if isinstance(e, Cmp) and isinstance(e.value, Ref) and e.value.metric not in out:
                out.append(e.value.metric)
        elif isinstance(e, NotExpr):
            walk(e.operand)
        else:
            for o in e.operands:
                walk(o)

    walk(expr)
    return out


def scope_of(expr: Expr, text: str = "") -> Scope:
    """The one kind of subject a condition is about; RuleSyntaxError when it mixes kinds."""
    by_scope: dict[Scope, list[str]] = {}
    for m in metrics_of(expr):
        by_scope.setdefault(METRICS[m].scope, []).append(m)
    if len(by_scope) > 1:
        parts = "; ".join(f"{', '.join(ms)} on a {_SCOPE_WORDS[s]}" for s, ms in by_scope.items())
        raise RuleSyntaxError(
            f"a rule watches one kind of subject, and this one mixes them ({parts}): "
            "split it into one rule each", text, 0)
    return next(iter(by_scope))


# ---------------------------------------------------------------- evaluation


def evaluate(expr: Expr, values: Mapping[str, Any]) -> bool | None:
    """True, False, or None when a metric it needs is not known (three-valued logic:
    `unknown and false` is false, `unknown or true` is true)."""
    if isinstance(expr, BoolExpr):
        results = [evaluate(e, values) for e in expr.operands]
        if expr.op == "and":
            if any(r is False for r in results):
                return False
            return None if any(r is None for r in results) else True
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if isinstance(expr, NotExpr):
        r = evaluate(expr.operand, values)
        return None if r is None else not r
    v = values.get(expr.metric)
    if v is None:
        return None
    if isinstance(expr, Truth):
        return bool(v)
    want = expr.value
    if isinstance(want, Ref):
        other = values.get(want.metric)
        if other is None or isinstance(other, bool | Status):
            return None
        want = want.factor * float(other)
    return _compare(v, expr.op, want)


def _compare(v: Any, op: str, want: Any) -> bool | None:
    if isinstance(v, Status):
        wants = want if isinstance(want, tuple) else (want,)
        if not v.judged and v not in wants:
            return None  # a status nobody could judge (yet) is not one that passes or fails
        if op == "in":
            return v in wants
        if op == "==":
            return v is want
        if op == "!=":
            return v is not want
        a, b = float(v.severity), float(want.severity)
    elif isinstance(v, bool):
        return bool(v == want) if op == "==" else bool(v != want)
    else:
        a, b = float(v), float(want)
        if math.isnan(a):
            return None
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b, "==": a == b,
            "!=": a != b}[op]


# ---------------------------------------------------------------- compiled rules


@dataclass(frozen=True)
class MetricRule:
    name: str
    """Rule name; part of every alert id it produces."""
    channel: str
    """Slack channel id or #name."""
    severity: Severity
    """critical, warning or info."""
    when: str
    """The condition as written."""
    expr: Expr
    """The condition parsed."""
    scope: Scope
    """Kind of subject each alert is about."""
    match: Mapping[str, str]
    """Glob patterns on cluster, group, topic or pair; a missing key matches everything."""
    for_seconds: float
    """The condition must hold this long before the alert fires."""
    owner: tuple[str, ...] = ()
    """Slack IDs to @mention (S... user groups, U... users); else the routed team's."""
    runbook: str = ""
    """Link to the runbook ("" when none)."""
    routes: tuple[Route, ...] = ()
    """Teams alerts are routed by (`team:` given: that one team only)."""

    def route(self, subject: Subject, topics: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
        """(channel, owner) of an alert about `subject` (`topics`: a group's topics)."""
        return route(self.routes, self.channel, self.owner, subject, topics)

    @property
    def per_topic(self) -> bool:
        """A group rule that names topics: one alert per group and topic."""
        return self.scope == "group" and "topic" in self.match

    def matches(self, subject: Subject) -> bool:
        for key, pattern in self.match.items():
            value = getattr(subject, key)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        return True


@dataclass(frozen=True)
class EventRule:
    name: str
    """Rule name; notices say it."""
    channel: str
    """Slack channel id or #name."""
    severity: Severity
    """critical, warning or info."""
    cluster: str
    """Cluster of the watched topic."""
    topic: str
    """Watched topic."""
    filter_text: str | None
    """The filter as written (None: every record)."""
    filter: Filter | None
    """The compiled filter (the language of `tail --filter`)."""
    message: str
    """Template of the notice text: {field} references."""
    max_per_minute: int
    """At most this many Slack messages a minute; further matches are grouped and counted."""
    owner: tuple[str, ...] = ()
    """Slack IDs to @mention on its notices."""
    runbook: str = ""
    """Link to the runbook ("" when none)."""


@dataclass(frozen=True)
class Route:
    """A team under `teams:` as alerts are routed: alerts about its topics go to its
    channel and @mention its owner (when the rule names no owner)."""

    team: str
    """Team name."""
    patterns: tuple[str, ...]
    """Glob patterns on topic names."""
    channel: str | None
    """Its channel (None: the rule's own)."""
    owner: tuple[str, ...]
    """Its owner's Slack IDs."""
    forced: bool = False
    """The rule named this team with `team:`: it applies whatever the topic."""

    def owns(self, subject: Subject, topics: Sequence[str]) -> bool:
        if self.forced:
            return True
        names = [subject.topic] if subject.topic is not None else list(topics)
        return any(fnmatch.fnmatchcase(t, p) for t in names for p in self.patterns)


def route(routes: Sequence[Route], channel: str, owner: tuple[str, ...], subject: Subject,
          topics: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
    """Where an alert goes and whom it @mentions: the first team that owns its topic (or
    one of its group's topics) routes it to the team's channel and owner; the rule's own
    channel and owner otherwise (the rule's owner always wins over the team's)."""
    for r in routes:
        if r.owns(subject, topics):
            return r.channel or channel, owner or r.owner
    return channel, owner


@dataclass(frozen=True)
class Rules:
    metric: tuple[MetricRule, ...]
    """Metric rules, in config order."""
    event: tuple[EventRule, ...]
    """Event rules, in config order."""


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
                f"{where}: match.{key}: a rule on {_SCOPE_WORDS[scope]}s "
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
    from kafkaops.core.expr.filter import FilterError, compile_filter

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
    from kafkaops.core.expr.filter import FilterError, extract
    from kafkaops.core.messages.service import Message

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


# ---------------------------------------------------------------- subjects and observations


@dataclass(frozen=True)
class Subject:
    """What an alert is about."""

    cluster: str | None = None
    """Cluster name (None for DR pairs)."""
    group: str | None = None
    """Consumer group."""
    topic: str | None = None
    """Topic."""
    pair: str | None = None
    """DR pair."""
    connect: str | None = None
    """Kafka Connect cluster (clusters.<cluster>.connect[].name) of a connector."""
    connector: str | None = None
    """Kafka Connect connector."""

    def label(self) -> str:
        """How people read it: "group orders on primary", "topic t (group g) on primary"."""
        if self.pair is not None:
            return f"DR pair {self.pair}"
        where = f" on {self.cluster}" if self.cluster else ""
        if self.connector is not None:
            return f"connector {self.connector} (Connect {self.connect}){where}"
        if self.group is not None and self.topic is not None:
            return f"group {self.group}, topic {self.topic}{where}"
        if self.group is not None:
            return f"group {self.group}{where}"
        if self.topic is not None:
            return f"topic {self.topic}{where}"
        return f"cluster {self.cluster}"

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: Any) -> Subject:
        if not isinstance(data, dict):
            return cls()
        return cls(**{k: str(data[k]) for k in ("cluster", "group", "topic", "pair",
                                                "connect", "connector")
                      if data.get(k) is not None})


@dataclass(frozen=True)
class Observation:
    subject: Subject
    """What was measured."""
    values: Mapping[str, Any]
    """Metric name -> value this time (None: not known)."""
    topics: tuple[str, ...] = ()
    """A consumer group's topics (routes its alert to the team that owns them)."""


def alert_id(rule: str, subject: Subject) -> str:
    """Stable id of the alert `rule` raises about `subject`: the same across evaluations,
    replicas and restarts; independent of the rule's threshold."""
    parts = [rule, subject.cluster, subject.group, subject.topic, subject.pair]
    if subject.connector is not None:  # only then: the ids of every other subject stay
        parts += [subject.connect, subject.connector]
    raw = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return "a-" + hashlib.blake2b(raw.encode("utf-8"), digest_size=10).hexdigest()


def group_observations(snapshot: LagSnapshot, *, per_topic: bool) -> list[Observation]:
    """The group metrics of every group in a lag snapshot (per group, or per group and
    topic)."""
    out: list[Observation] = []
    for g in snapshot.groups:
        members = g.member_count
        if not per_topic:
            out.append(Observation(
                Subject(cluster=snapshot.cluster, group=g.group),
                {"lag": g.lag, "lag_seconds": g.lag_seconds, "status": g.status,
                 "members": members, "data_loss": g.data_loss},
                tuple(t.topic for t in g.topics)))
            continue
        for t in g.topics:
            loss = any(p.topic == t.topic and p.state.value == "data loss" for p in g.partitions)
            out.append(Observation(
                Subject(cluster=snapshot.cluster, group=g.group, topic=t.topic),
                {"lag": t.lag, "lag_seconds": t.lag_seconds, "status": t.status,
                 "members": members, "data_loss": loss}))
    return out


def topic_observations(cluster: str, meta: MetadataSnapshot) -> list[Observation]:
    """Offline and under-replicated partitions of every topic in a Metadata answer."""
    out = []
    for t in meta.topics.values():
        out.append(Observation(Subject(cluster=cluster, topic=t.name), {
            "offline_partitions": sum(1 for p in t.partitions if p.leader is None),
            "under_replicated_partitions": sum(
                1 for p in t.partitions if len(p.isr) < len(p.replicas)),
        }))
    return out


def cluster_observation(cluster: str, *, reachable: bool) -> Observation:
    return Observation(Subject(cluster=cluster), {"unreachable": not reachable})


def dr_observation(status: Any) -> Observation:
    """The DR metrics of a pair from core.dr's DrStatus."""
    exceeded = None if status.rpo_ok is None else not status.rpo_ok
    return Observation(Subject(pair=status.pair), {
        "dr_lag": status.max_lag_messages,
        "dr_lag_seconds": status.max_lag_seconds,
        "heartbeat_age": status.heartbeat_age_seconds,
        "rpo_exceeded": exceeded,
    })


def show_value(metric: str, value: Any) -> str:
    """A metric's value as people read it: 6m52s, 12,345, STOP, yes."""
    if value is None:
        return "unknown"
    spec = METRICS.get(metric)
    if isinstance(value, Status):
        return value.label
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec is not None and spec.kind == "seconds":
        return age(float(value))
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def describe(rule: MetricRule, values: Mapping[str, Any]) -> str:
    """The values a rule's condition reads: "lag_seconds 6m52s, members 0"."""
    return ", ".join(f"{m} {show_value(m, values.get(m))}" for m in metrics_of(rule.expr))


def _json_value(v: Any) -> Any:
    if isinstance(v, Status):
        return v.value
    if isinstance(v, float):
        return round(v, 3)
    return v


# ---------------------------------------------------------------- events on the topic

EventType = Literal["firing", "resolved", "notice", "delivered", "snoozed", "acked",
                    "changed"]
EVENT_TYPES = ("firing", "resolved", "notice", "delivered", "snoozed", "acked", "changed")


@dataclass(frozen=True)
class AlertEvent:
    """One record on `_kafkaops.alerts` (key: alert_id). The evaluator writes firing,
    changed (a firing alert got markedly worse) and resolved, event rules write notice, the
    notifier writes delivered once Slack accepted a message, and the alert's buttons write
    snoozed and acked."""

    type: EventType
    """firing | changed | resolved | notice | delivered | snoozed | acked."""
    alert_id: str
    """Stable alert id (alert_id()) or notice id; the record key."""
    at: float
    """When it was written (epoch seconds)."""
    rule: str = ""
    """Rule name."""
    seq: int = 0
    """Firing episode of this alert: 1 for its first firing, 2 after it resolved and fired
    again, ...; firing and resolved of one episode share it."""
    severity: str = "warning"
    """critical, warning or info."""
    channel: str = ""
    """Where the rule posts (channel id or #name)."""
    subject: Subject = field(default_factory=Subject)
    """What the alert is about."""
    when: str = ""
    """The rule's condition as written."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """The metrics the condition read, this time."""
    summary: str = ""
    """One line for people: the values against the condition."""
    since: float | None = None
    """firing: when the condition started to hold."""
    fired_at: float | None = None
    """resolved: when the alert fired."""
    for_seconds: float = 0.0
    """The rule's `for:`."""
    by: str = ""
    """Who wrote it: evaluator host:pid, notifier, or the Slack user who snoozed."""
    text: str = ""
    """notice: the first matching record's rendered message."""
    count: int = 0
    """notice: matching records it stands for."""
    examples: tuple[tuple[str, int], ...] = ()
    """notice: distinct rendered messages with how many records rendered so, first seen
    first (at most NOTICE_EXAMPLES)."""
    first_at: float | None = None
    """notice: timestamp of the first matching record."""
    last_at: float | None = None
    """notice: timestamp of the last matching record."""
    of: str = ""
    """delivered: which event was delivered (firing, resolved, notice)."""
    target: str = ""
    """delivered: the channel id Slack answered with."""
    ts: str = ""
    """delivered: the Slack message ts (what chat.update needs)."""
    posted_at: float | None = None
    """delivered: when that Slack message was first posted."""
    times: int = 1
    """delivered: firings this one message stands for (re-firings within the renotify
    interval update it instead of posting anew)."""
    until: float | None = None
    """snoozed: no Slack message for this alert until then; 0 lifts a snooze; none (with
    `seq`) holds it until that firing episode resolves."""
    error: str = ""
    """delivered: set when Slack refused the message for good (it is not retried)."""
    owner: tuple[str, ...] = ()
    """firing, notice: Slack IDs to @mention (user groups S..., users U...)."""
    runbook: str = ""
    """firing, notice: the rule's runbook link."""
    step: int = 0
    """changed: how many times this firing episode got markedly worse (1, 2, ...)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": 1}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in _EVENT_DEFAULTS and v == _EVENT_DEFAULTS[f.name]:
                continue
            if isinstance(v, Subject):
                v = v.to_json()
            elif f.name == "values":
                v = {k: _json_value(x) for k, x in v.items()}
            elif f.name == "examples":
                v = [list(x) for x in v]
            elif f.name == "owner":
                v = list(v)
            out[f.name] = v
        return out

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> AlertEvent:
        """Parse a record value; ValueError for anything that is not an alert event."""
        if not raw:
            raise ValueError("empty record")
        data = parse_json(raw)
        if not isinstance(data, dict) or data.get("type") not in EVENT_TYPES:
            raise ValueError("not an alert event")
        if not isinstance(data.get("alert_id"), str) or not isinstance(data.get("at"),
                                                                        int | float):
            raise ValueError("alert event without alert_id or at")
        kwargs: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for k, v in data.items():
            if k not in names:
                continue
            if k == "subject":
                v = Subject.from_json(v)
            elif k == "examples":
                v = tuple((str(t), int(n)) for t, n in v)
            elif k == "values":
                v = dict(v) if isinstance(v, dict) else {}
            elif k == "owner":
                v = tuple(str(x) for x in v[:20]) if isinstance(v, list) else ()
            elif k == "step":
                v = v if isinstance(v, int) and not isinstance(v, bool) else 0
            kwargs[k] = v
        return cls(**kwargs)


NOTICE_EXAMPLES = 10
#: the value of each AlertEvent field when not given: left out of the JSON
_EVENT_DEFAULTS: dict[str, Any] = {
    f.name: getattr(AlertEvent(type="firing", alert_id="", at=0.0), f.name)
    for f in dataclasses.fields(AlertEvent) if f.name not in ("type", "alert_id", "at")
}


# ---------------------------------------------------------------- the book: the topic folded


@dataclass(frozen=True)
class MessageRef:
    channel: str
    """Channel id the message is in."""
    ts: str
    """Slack message ts."""
    posted_at: float
    """When it was posted."""
    seq: int
    """The firing episode it shows now."""
    times: int
    """Firings it stands for."""


@dataclass
class AlertView:
    """What the topic says about one alert."""

    alert_id: str
    """Stable alert id."""
    state: Literal["firing", "resolved"]
    """Latest state the evaluators published."""
    seq: int
    """Latest firing episode."""
    event: AlertEvent
    """The latest firing or resolved event."""
    offset: int | None = None
    """Offset of that event (None: applied locally, not read from the topic yet)."""
    firing: AlertEvent | None = None
    """The firing event of the latest episode."""
    delivered: set[tuple[str, int]] = field(default_factory=set)
    """(firing|resolved, seq) the notifier delivered."""
    message: MessageRef | None = None
    """The Slack message that shows this alert, once posted."""
    snoozed_until: float | None = None
    """No Slack message until then."""
    snoozed_seq: int | None = None
    """Snoozed until the firing episode with this seq resolves (instead of a time)."""
    snoozed_by: str = ""
    """Who snoozed it (the Slack user), while it is snoozed."""
    acked_by: str = ""
    """Who acknowledged this firing episode (the Slack user): who is on it."""
    acked_at: float | None = None
    """When."""
    change: AlertEvent | None = None
    """The newest `changed` event of this firing episode (it got markedly worse)."""
    change_offset: int | None = None
    """Its offset."""

    def snoozed(self, now: float) -> bool:
        """Whether no new Slack message is sent for it now."""
        if self.snoozed_seq is not None:
            return self.state == "firing" and self.seq == self.snoozed_seq
        return self.snoozed_until is not None and now < self.snoozed_until

    @property
    def fired_at(self) -> float:
        if self.firing is not None:
            return self.firing.at
        return self.event.fired_at or self.event.at


@dataclass
class NoticeView:
    event: AlertEvent
    """The notice."""
    offset: int | None
    """Its offset."""
    delivered: bool = False
    """Posted (or refused for good)."""


ActionKind = Literal["post", "refire", "change", "resolve", "post_resolved", "notice"]


@dataclass(frozen=True)
class Action:
    """One thing the notifier has to do in Slack."""

    kind: ActionKind
    """post: a new firing message; refire: update the alert's recent message (it fired
    again within the renotify interval); change: the firing alert got markedly worse
    (event is the `changed` one, firing the episode's); resolve: update the firing message
    to resolved; post_resolved: one message for an alert that fired and resolved before it
    was posted; notice: an event rule's notice."""
    event: AlertEvent
    """The event to show (firing, changed, resolved or notice)."""
    firing: AlertEvent | None
    """The episode's firing event (for resolve: when it fired, what it said)."""
    message: MessageRef | None
    """The message to update (refire, resolve)."""
    offset: int | None
    """Offset of the event that made this work: nothing at or after it is committed until
    the work is done."""
    acked_by: str = ""
    """Who acknowledged the episode (shown on its message), "" when nobody did."""
    acked_at: float | None = None
    """When."""

    @property
    def alert_id(self) -> str:
        return self.event.alert_id


class AlertBook:
    """`_kafkaops.alerts` folded: each alert's state, its Slack message, snoozes, notices.

    Folding is idempotent and order-tolerant the way the topic needs: a firing or resolved
    event applies only when its (seq, kind) is newer than what is known (resolved after
    firing within one seq), so duplicates from several evaluator replicas change nothing.
    """

    def __init__(self) -> None:
        self.alerts: dict[str, AlertView] = {}
        self.notices: dict[str, NoticeView] = {}

    def apply(self, ev: AlertEvent, offset: int | None = None) -> bool:
        """Fold one event; True when it changed the state."""
        if ev.type in ("firing", "resolved"):
            return self._state(ev, offset)
        if ev.type == "notice":
            seen = self.notices.get(ev.alert_id)
            if seen is None:
                self.notices[ev.alert_id] = NoticeView(ev, offset)
                return True
            if seen.offset is None and offset is not None:
                seen.offset = offset
            return False
        if ev.type == "delivered":
            return self._delivered(ev)
        if ev.type == "snoozed":
            view = self.alerts.get(ev.alert_id)
            if view is None:
                return False
            # the newest snooze is in force: it may shorten or lift (until 0) an earlier one;
            # no `until` holds it until the episode `seq` resolves
            if ev.until is None:
                view.snoozed_seq, view.snoozed_until = ev.seq or view.seq, None
            else:
                view.snoozed_seq, view.snoozed_until = None, ev.until or None
            lifted = view.snoozed_seq is None and view.snoozed_until is None
            view.snoozed_by = "" if lifted else ev.by
            return True
        if ev.type in ("acked", "changed"):
            view = self.alerts.get(ev.alert_id)
            if view is None or view.state != "firing" or ev.seq != view.seq:
                return False  # about an episode that is over (or not read yet)
            if ev.type == "acked":
                view.acked_by, view.acked_at = ev.by, ev.at
                return True
            cur = view.change
            if cur is not None and ev.step <= cur.step:
                if ev.step == cur.step and view.change_offset is None and offset is not None:
                    view.change_offset = offset  # our own event read back
                return False  # a duplicate from another evaluator replica
            view.change, view.change_offset = ev, offset
            return True
        return False

    def _state(self, ev: AlertEvent, offset: int | None) -> bool:
        rank = 1 if ev.type == "resolved" else 0
        view = self.alerts.get(ev.alert_id)
        if view is None:
            self.alerts[ev.alert_id] = AlertView(
                ev.alert_id, ev.type, ev.seq, ev, offset,  # type: ignore[arg-type]
                firing=ev if ev.type == "firing" else None)
            return True
        cur = (view.seq, 1 if view.state == "resolved" else 0)
        if (ev.seq, rank) <= cur:
            if (ev.seq, rank) == cur and view.offset is None and offset is not None:
                view.offset = offset  # our own event read back: now it has an offset
            return False
        view.state = ev.type  # type: ignore[assignment]
        if ev.seq != view.seq:
            view.acked_by, view.acked_at = "", None
            view.change, view.change_offset = None, None
        view.seq = ev.seq
        view.event = ev
        view.offset = offset
        if ev.type == "firing":
            view.firing = ev
        elif view.firing is not None and view.firing.seq != ev.seq:
            view.firing = None
        return True

    def _delivered(self, ev: AlertEvent) -> bool:
        if ev.of == "notice":
            seen = self.notices.get(ev.alert_id)
            if seen is None:
                # delivered before the notice was read (cannot happen in one partition,
                # but a book may start mid-log): remember it so the notice is not posted
                self.notices[ev.alert_id] = NoticeView(ev, None, True)
                return True
            changed = not seen.delivered
            seen.delivered = True
            return changed
        view = self.alerts.get(ev.alert_id)
        if view is None:
            return False
        key = (ev.of, ev.seq)
        changed = key not in view.delivered
        view.delivered.add(key)
        if ev.ts and not ev.error:
            cur = view.message
            if cur is None or ev.seq >= cur.seq:
                view.message = MessageRef(ev.target or ev.channel, ev.ts,
                                          ev.posted_at or ev.at, ev.seq, ev.times)
        return changed

    # ------------------------------------------------------------ reading it

    def firing(self) -> list[AlertView]:
        """Alerts firing now, oldest first."""
        return sorted((v for v in self.alerts.values() if v.state == "firing"),
                      key=lambda v: v.fired_at)

    def get(self, alert_id: str) -> AlertView | None:
        return self.alerts.get(alert_id)

    def pending(self, now: float, *, renotify: float,
                horizon: Callable[[int | None], bool] | None = None) -> list[Action]:
        """What the notifier still has to do, oldest event first.

        `horizon(offset)` says whether an event is new to this notifier group (at or after
        its committed offset): history before it is not re-posted, except that an alert
        still firing is always shown and a shown alert is always closed.
        """
        def new(offset: int | None) -> bool:
            return horizon is None or horizon(offset)

        out: list[Action] = []
        for v in self.alerts.values():
            snoozed = v.snoozed(now)
            if v.state == "firing":
                msg = v.message
                if ("firing", v.seq) in v.delivered or snoozed:
                    change = v.change
                    if (change is not None and not snoozed and msg is not None
                            and msg.seq == v.seq
                            and (f"changed:{change.step}", v.seq) not in v.delivered):
                        out.append(Action("change", change, v.firing, msg, v.change_offset,
                                          v.acked_by, v.acked_at))
                elif msg is not None and msg.seq < v.seq and now - msg.posted_at < renotify:
                    out.append(Action("refire", v.event, v.event, msg, v.offset))
                else:
                    out.append(Action("post", v.event, v.event, None, v.offset))
            else:
                if ("resolved", v.seq) in v.delivered:
                    continue
                msg = v.message
                if ("firing", v.seq) in v.delivered and msg is not None and msg.seq == v.seq:
                    out.append(Action("resolve", v.event, v.firing, msg, v.offset, v.acked_by,
                                      v.acked_at))
                elif ("firing", v.seq) not in v.delivered and not snoozed and new(v.offset):
                    out.append(Action("post_resolved", v.event, v.firing, None, v.offset))
        for n in self.notices.values():
            if not n.delivered and n.event.type == "notice" and new(n.offset):
                out.append(Action("notice", n.event, None, None, n.offset))
        out.sort(key=lambda a: (a.event.at, a.offset if a.offset is not None else -1))
        return out

    def forget_notices(self, before: float) -> None:
        """Drop delivered notices older than `before` (bounded memory on a busy topic)."""
        for nid in [k for k, n in self.notices.items() if n.delivered and n.event.at < before]:
            del self.notices[nid]


# ---------------------------------------------------------------- `for:` and transitions


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict on one subject, for `kafkaops alerts check` and the evaluator."""

    rule: str
    """Rule name."""
    alert_id: str
    """Stable alert id."""
    subject: Subject
    """What it is about."""
    holds: bool | None
    """The condition now: true, false, or None when a metric it needs is not known."""
    values: Mapping[str, Any]
    """The metrics it read."""
    summary: str
    """The values against the condition, for people."""
    pending_seconds: float | None = None
    """How long the condition has held (None: it does not hold)."""
    firing: bool = False
    """The alert is firing (published, or fires with this evaluation)."""


class AlertTracker:
    """`for:` durations and flap damping for the metric rules: turns each evaluation into
    firing and resolved events. Pure: the time comes in, the published state is read from
    an AlertBook (the evaluators' shared memory), events go out.

    - An alert fires when its condition has held for the rule's `for:` (0: at once) and the
      topic does not already say it is firing (another replica may have published it).
    - It resolves when the condition is false, or its subject is gone from a cluster that
      answered, once it has been firing for at least `min_firing` (flapping is damped).
    - An unknown condition (a metric not known, a cluster that did not answer) changes
      nothing.
    """

    def __init__(self, rules: Sequence[MetricRule], *, min_firing: float = 0.0,
                 by: str = "") -> None:
        self.rules = list(rules)
        self.min_firing = min_firing
        self.by = by
        #: alert id -> (when its condition started to hold, its subject)
        self.pending: dict[str, tuple[float, Subject]] = {}

    def step(self, now: float, observations: Iterable[Observation], *,
             observed: set[str], book: AlertBook) -> tuple[list[AlertEvent], list[RuleResult]]:
        """One evaluation. `observations` hold every subject measured this time; `observed`
        names the clusters (and `dr:PAIR`s) that answered, so a subject missing from them
        is gone, while subjects of the others are unknown. Returns the events to publish
        (already applied to `book`) and every rule's verdict."""
        obs = list(observations)
        events: list[AlertEvent] = []
        results: list[RuleResult] = []
        for rule in self.rules:
            seen: set[str] = set()
            for o in obs:
                if not _fits(rule, o) or not rule.matches(o.subject):
                    continue
                aid = alert_id(rule.name, o.subject)
                seen.add(aid)
                holds = evaluate(rule.expr, o.values)
                values = {m: o.values.get(m) for m in metrics_of(rule.expr)}
                view = book.get(aid)
                firing = view is not None and view.state == "firing"
                ev = None
                if holds is True:
                    since = self.pending.setdefault(aid, (now, o.subject))[0]
                    if not firing and now - since >= rule.for_seconds:
                        ev = self._event(rule, "firing", o.subject, values, now, view, since,
                                         topics=o.topics)
                    elif firing and view is not None and view.firing is not None:
                        ref = view.change or view.firing
                        if worse(rule.expr, ref.values, values):
                            ev = dataclasses.replace(
                                view.firing, type="changed", at=now, values=dict(values),
                                summary=f"{o.subject.label()}: {describe(rule, values)}",
                                step=(view.change.step if view.change else 0) + 1, by=self.by)
                elif holds is False:
                    self.pending.pop(aid, None)
                    if firing and view is not None and now - view.fired_at >= self.min_firing:
                        ev = self._event(rule, "resolved", o.subject, values, now, view, None)
                if ev is not None:
                    book.apply(ev)
                    events.append(ev)
                    firing = ev.type in ("firing", "changed")
                held = self.pending.get(aid)
                results.append(RuleResult(
                    rule.name, aid, o.subject, holds, values, describe(rule, values),
                    None if held is None or holds is not True else now - held[0], firing))
            # alerts of this rule whose subject went away (group or topic deleted)
            for view in list(book.alerts.values()):
                ev0 = view.event
                if (view.state != "firing" or ev0.rule != rule.name or view.alert_id in seen
                        or not _answered(ev0.subject, observed)):
                    continue
                self.pending.pop(view.alert_id, None)
                if now - view.fired_at >= self.min_firing:
                    ev = self._event(rule, "resolved", ev0.subject, {}, now, view, None,
                                     gone=True)
                    book.apply(ev)
                    events.append(ev)
        # a pending condition whose subject is gone from a cluster that answered is over;
        # one on a cluster that did not answer is kept (unknown changes nothing)
        live = {r.alert_id for r in results}
        for aid in [a for a, (_, s) in self.pending.items()
                    if a not in live and _answered(s, observed)]:
            del self.pending[aid]
        return events, results

    def _event(self, rule: MetricRule, kind: Literal["firing", "resolved"], subject: Subject,
               values: Mapping[str, Any], now: float, view: AlertView | None,
               since: float | None, *, gone: bool = False,
               topics: Sequence[str] = ()) -> AlertEvent:
        if kind == "firing":
            seq = (view.seq if view is not None else 0) + 1
            summary = f"{subject.label()}: {describe(rule, values)} ({rule.when})"
        else:
            assert view is not None
            seq = view.seq
            summary = (f"{subject.label()}: no longer reported (deleted?)" if gone
                       else f"{subject.label()}: {describe(rule, values)}")
        if kind == "resolved" and view is not None and view.firing is not None:
            channel, owner = view.firing.channel, view.firing.owner  # where it was posted
        else:
            channel, owner = rule.route(subject, topics)
        return AlertEvent(
            type=kind, alert_id=alert_id(rule.name, subject), at=now, rule=rule.name, seq=seq,
            severity=rule.severity, channel=channel, subject=subject, when=rule.when,
            values={k: v for k, v in values.items()}, summary=summary, since=since,
            fired_at=None if view is None or kind == "firing" else view.fired_at,
            for_seconds=rule.for_seconds, by=self.by, owner=owner, runbook=rule.runbook,
        )


#: how much worse a firing alert's value must get before its thread is told again
WORSE_FACTOR = 2.0


def worse(expr: Expr, before: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    """Whether a firing alert got markedly worse since `before` (the values last told):
    a count or duration the condition bounds from below (`lag > 1000`) at least doubled,
    one it bounds from above (`members < 2`) at least halved, or a status more severe.
    Doubling keeps a steadily growing lag to a few messages, not one per evaluation."""
    for metric, op in _directions(expr):
        a, b = before.get(metric), now.get(metric)
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            continue
        if METRICS[metric].kind == "status":
            try:
                if Status.parse(str(getattr(b, "value", b))).severity > Status.parse(
                        str(getattr(a, "value", a))).severity:
                    return True
            except ValueError:
                continue
            continue
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            continue
        if op in (">", ">=") and x > 0 and y >= x * WORSE_FACTOR:
            return True
        if op in ("<", "<=") and y <= x / WORSE_FACTOR and y < x:
            return True
    return False


def _directions(expr: Expr) -> list[tuple[str, str]]:
    """(metric, operator) of each comparison in a condition that is not negated."""
    if isinstance(expr, Cmp):
        return [(expr.metric, expr.op)]
    if isinstance(expr, BoolExpr):
        return [d for e in expr.operands for d in _directions(e)]
    return []


def _fits(rule: MetricRule, o: Observation) -> bool:
    """The observation is of the rule's kind of subject (and granularity)."""
    s = o.subject
    if rule.scope == "group":
        return s.group is not None and (s.topic is not None) == rule.per_topic
    if rule.scope == "topic":
        return s.group is None and s.topic is not None
    if rule.scope == "cluster":
        return s.group is None and s.topic is None and s.pair is None and s.connector is None
    if rule.scope == "connector":
        return s.connector is not None
    return s.pair is not None


def _answered(subject: Subject, observed: set[str]) -> bool:
    if subject.pair is not None:
        return f"dr:{subject.pair}" in observed
    if subject.connector is not None:  # its Connect cluster answered, whatever Kafka did
        return f"connect:{subject.cluster}/{subject.connect}" in observed
    return subject.cluster in observed


def needs(rules: Iterable[MetricRule], clusters: Iterable[str]) -> dict[str, set[Scope]]:
    """Which cluster needs which reads (group lag, topic metadata, reachability) for
    these rules: cluster name -> scopes."""
    out: dict[str, set[Scope]] = {}
    names = list(clusters)
    for r in rules:
        if r.scope in ("dr", "connector"):  # read by their own services, not per cluster
            continue
        pattern = r.match.get("cluster", "*")
        for n in names:
            if fnmatch.fnmatchcase(n, pattern):
                out.setdefault(n, set()).add(r.scope)
    return out
