"""Alert conditions: a metric rule's `when`, parsed on the expression kernel
(core/expr/kernel.py: tokens, `and` / `or` / `not`, parentheses, lists, bounds) and
evaluated with three-valued logic.

    lag_seconds > 5m            lag > 10_000 and members == 0
    status in [ERR, STOP]       status >= STALL          data_loss
    offline_partitions > 0      unreachable              rpo_exceeded or heartbeat_age > 2m
    bytes_in_rate > 3 * baseline

`and`, `or`, `not` and parentheses combine conditions on one kind of subject (the metrics
and their subjects: core/alerts/metrics.py). A metric that is not known this time (no
record timestamp to date the lag, say) is neither true nor false: an unknown condition
neither fires an alert nor resolves one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafkaops.core.alerts.metrics import ALIASES, METRICS, SCOPE_WORDS, MetricSpec, kind_words
from kafkaops.core.alerts.model import Scope
from kafkaops.core.expr import kernel as expr
from kafkaops.core.expr.kernel import BoolOp, Not, Tok
from kafkaops.core.lag.status import Status

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


Expr = Cmp | Truth | Not["Expr"] | BoolOp["Expr"]


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
            raise self.fail(f"{spec.name} is {kind_words(spec)}: expected a number, found "
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
            raise self.fail(f"{spec.name} is {kind_words(spec)}, not a duration: drop "
                            f"{unit!r}", tok)
        return number * _UNITS[unit]

    def parse_ref(self, spec: MetricSpec) -> MetricSpec:
        """A metric compared with `spec`: of the same kind and subject."""
        tok = self.take()
        other = _metric(tok.text, self, tok)
        if other.kind != spec.kind or other.scope != spec.scope:
            raise self.fail(f"{spec.name} ({kind_words(spec)} on a {SCOPE_WORDS[spec.scope]}) "
                            f"cannot be compared with {other.name} ({kind_words(other)} on a "
                            f"{SCOPE_WORDS[other.scope]})", tok)
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
        return self.parse_list(self.parse_status, "[ERR, STOP]", empty="the list is empty")


def _statuses() -> str:
    return ", ".join(s.value for s in Status)


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
        elif isinstance(e, Not):
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
        parts = "; ".join(f"{', '.join(ms)} on a {SCOPE_WORDS[s]}" for s, ms in by_scope.items())
        raise RuleSyntaxError(
            f"a rule watches one kind of subject, and this one mixes them ({parts}): "
            "split it into one rule each", text, 0)
    return next(iter(by_scope))


# ---------------------------------------------------------------- evaluation


def evaluate(expr: Expr, values: Mapping[str, Any]) -> bool | None:
    """True, False, or None when a metric it needs is not known (three-valued logic:
    `unknown and false` is false, `unknown or true` is true)."""
    if isinstance(expr, BoolOp):
        results = [evaluate(e, values) for e in expr.operands]
        if expr.op == "and":
            if any(r is False for r in results):
                return False
            return None if any(r is None for r in results) else True
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if isinstance(expr, Not):
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


