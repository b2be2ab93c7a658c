"""The filter language of `tail --filter`, the console's filter box, `dlq replay --filter` and
alert event rules: a standalone parser and evaluator over Kafka records.

    status == "failed" and branch == "main"
    key == "order-42" or header.trace-id ~ "^abc"
    value contains "timeout"            "timeout"        (a bare string: value contains it)
    payload.items[0].sku in ["A1", "B2"]     not retries > 3     error     (a bare field: present)

Names:
- `key`, `value`: the record's key and value as text (UTF-8; not text -> no match).
- `key.a.b`, `value.a.b`: a field of the key's / value's JSON. Any other bare name (`status`,
  `payload.user.id`, `items[0]`, `["odd name"]`) is a field of the value's JSON.
- `header.NAME` / `headers.NAME` / `header["NAME"]`: a header's value as text; NAME may hold
  dots and dashes (`header.__connect.errors.topic`, `header.kafka_dlt-exception-fqcn`).
- `topic`, `partition`, `offset`, `timestamp` (ms): the record's position.

Operators: `==` (or `=`), `!=`, `<`, `<=`, `>`, `>=`, `contains`, `~` (regular expression
search, RE2 syntax; `(?i)` for case-insensitive), `!~`, `in [..]`; `and`/`&&`, `or`/`||`,
`not`/`!`, parentheses. Literals: "double" or 'single' quoted strings, numbers, true, false,
null.

Bounds (expressions come from anyone who can type a command, Slack users included): RE2
matches in time linear in the text, whatever the pattern; an expression is at most
10,000 characters (callers may ask for less), nests `(` and `not` at most 32 deep, and
numbers are at most 40 characters (core/expr/kernel.py). A JSON value nested deeper than 64
levels counts as not JSON. `Filter.select_async` runs a batch in a worker thread, so a
loop serving a UI or Slack acks keeps going.

Semantics: a field that is absent (no such header, value not JSON, no such JSON key) makes
every comparison on it false, `!=` included; `not (x == 1)` is how to also match records
without `x`. Numbers compare as numbers, also when one side is text that reads as a number
(`code == 500` matches `{"code": "500"}`); otherwise values compare as text.

Speed: `compile_filter` also derives byte needles from the expression (`status == "failed"`
needs the bytes `failed` in the value), so records that cannot match are dropped with one
`bytes in bytes` test, before any decoding or JSON parsing. A JSON value that holds a
backslash escape skips the needle test (the literal could be spelled with escapes there).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import re2

from kafkaops.core.errors import UsageError
from kafkaops.core.expr import kernel as expr
from kafkaops.core.expr.kernel import BoolOp, Not, Tok
from kafkaops.core.untrusted import UntrustedData, parse_json

#: RE2 options for `~`: the default memory budget (8 MiB per pattern) bounds compiling too
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is our error message, not a line on stderr


class FilterError(UsageError):
    """A filter expression that does not parse. Exit code 2; nothing was read or changed."""

    def __init__(self, message: str, text: str, position: int) -> None:
        where = f"bad filter: {message} (column {position + 1})"
        if len(text) <= expr.SHOW_TEXT and "\n" not in text:  # the expression, a caret below
            where += f"\n  {text}\n  {' ' * position}^"
        super().__init__(where)
        self.reason = message
        self.text = text
        self.position = position


class RecordLike(Protocol):
    """What a filter reads from a record: core's Message and aiokafka's ConsumerRecord both fit."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


# ---------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Path:
    """A name in an expression."""

    source: str
    """Where the value comes from: key, value, header, topic, partition, offset, timestamp,
    key_json or value_json."""
    steps: tuple[str | int, ...] = ()
    """JSON path below the key or value (empty for the others); for header, the name."""
    text: str = ""
    """The name as written, for messages."""


@dataclass(frozen=True)
class Literal:
    value: Any
    """str, int, float, bool or None."""


@dataclass(frozen=True)
class Compare:
    op: str
    """==, !=, <, <=, >, >=, contains, ~, !~, in."""
    left: Path | Literal
    """Left operand."""
    right: Path | Literal | tuple[Literal, ...]
    """Right operand (a tuple of literals for `in`)."""


@dataclass(frozen=True)
class Present:
    path: Path
    """A bare name: true when the field exists and is not null or false."""


Node = Compare | Present | Not["Node"] | BoolOp["Node"]

_RECORD_FIELDS = {"topic", "partition", "offset", "timestamp"}
_OPS = {"==", "!=", "<", "<=", ">", ">=", "contains", "~", "!~", "in"}

# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<op>==|!=|<=|>=|&&|\|\||!~|[=<>~!()\[\].,$])
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def _unmatched(text: str, pos: int) -> FilterError:
    ch = text[pos]
    if ch in "\"'":
        return FilterError("string is not closed: add the closing quote", text, pos)
    return FilterError(f"unexpected character {ch!r}", text, pos)


def _tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    for kind, raw, pos in expr.scan(text, _TOKEN, lambda pos: _unmatched(text, pos)):
        if kind == "string":
            out.append(Tok("lit", raw, pos, _unquote(raw)))
        elif kind == "number":
            out.append(Tok("lit", raw, pos, expr.number(raw, FilterError, text, pos)))
        elif kind == "name":
            low = raw.lower()
            if low in ("and", "or", "not", "contains", "in"):
                out.append(Tok("op", low, pos))
            elif low in ("true", "false", "null"):
                out.append(Tok("lit", raw, pos, {"true": True, "false": False, "null": None}[low]))
            else:
                out.append(Tok("name", raw, pos))
        elif kind == "op":
            op = {"&&": "and", "||": "or", "!": "not", "=": "=="}.get(raw, raw)
            out.append(Tok("op", op, pos))
    out.append(Tok("end", "", len(text)))
    return out


# ---------------------------------------------------------------- parser


def compile_regex(pattern: str) -> Any:
    """A regular expression for `~`: RE2, whose matching time is linear in the text, so no
    pattern (`(a+)+$` over "aaaa...!") can stall a reader. RE2 has no look-around and no
    backreferences; it says so when asked for them."""
    return re2.compile(pattern, _RE2_OPTIONS)


class _Parser(expr.BoolParser[Node]):
    what = "the filter"
    operand_kinds = ("name", "lit")

    def __init__(self, text: str) -> None:
        super().__init__(text, _tokenize(text), FilterError)

    def parse_atom(self) -> Node:
        return self.parse_compare()

    def parse_compare(self) -> Node:
        left = self.parse_operand()
        if self.tok.kind == "op" and self.tok.text in _OPS:
            op_tok = self.take()
            op = op_tok.text
            if op == "in":
                if isinstance(left, Literal):
                    raise self.fail("the left side of `in` must be a field name", op_tok)
                return Compare("in", left, self.parse_list(self.parse_list_item, '["a", "b"]'))
            if self.tok.kind == "end" or (self.tok.kind == "op" and self.tok.text not in "[$"):
                raise self.fail(f"expected a value after {op!r}")
            right = self.parse_operand()
            if isinstance(left, Literal) and isinstance(right, Literal):
                raise self.fail("compare a field with a value: neither side is a field name",
                                op_tok)
            if op in ("~", "!~"):
                if not isinstance(right, Literal) or not isinstance(right.value, str):
                    raise self.fail(f"the right side of {op!r} must be a quoted regular expression",
                                    op_tok)
                try:
                    compile_regex(right.value)
                except re2.error as e:
                    raise self.fail(f"bad regular expression: {e} (RE2 syntax: no "
                                    "look-around or backreferences)", op_tok) from None
            return Compare(op, left, right)
        if isinstance(left, Literal):
            if isinstance(left.value, str):  # a bare string: the value text contains it
                return Compare("contains", Path("value", (), "value"), left)
            raise self.fail("a bare number or true/false/null is not a condition; "
                            "compare a field with it, e.g. `code == 500`", self.toks[self.i - 1])
        return Present(left)

    def parse_list_item(self) -> Literal:
        if self.tok.kind != "lit":
            raise self.fail("expected a value in the list")
        return Literal(self.take().value)

    def parse_operand(self) -> Path | Literal:
        tok = self.tok
        if tok.kind == "lit":
            self.take()
            return Literal(tok.value)
        if tok.kind == "name" or self.at("$", "["):
            return self.parse_path()
        if tok.kind == "end":
            raise self.fail("expected a field name or a value at the end")
        raise self.fail(f"expected a field name or a value, found {tok.text!r}")

    def parse_path(self) -> Path:
        start = self.tok
        steps: list[str | int] = []
        if self.at("$"):
            self.take()
            steps.append("$")
            if self.at("."):
                self.take()
        if self.tok.kind == "name":
            steps.append(self.take().text)
        while True:
            if self.at("."):
                self.take()
                if self.tok.kind != "name":
                    raise self.fail("expected a name after `.`")
                steps.append(self.take().text)
            elif self.at("["):
                self.take()
                t = self.tok
                if t.kind != "lit" or not isinstance(t.value, str | int) or isinstance(
                        t.value, bool):
                    raise self.fail(
                        'expected a quoted name or an index in [ ], e.g. ["a b"] or [0]')
                self.take()
                steps.append(t.value)
                if not self.at("]"):
                    raise self.fail("expected `]`")
                self.take()
            else:
                break
        written = self.text[start.pos:self.toks[self.i - 1].pos + len(self.toks[self.i - 1].text)]
        return _resolve(steps, written, self, start)


def _resolve(steps: list[str | int], written: str, parser: _Parser, start: Tok) -> Path:
    if not steps:
        raise parser.fail("expected a field name", start)
    head = steps[0]
    rest = tuple(steps[1:])
    if head == "$":
        return Path("value_json", rest, written)
    if head in ("header", "headers"):
        if not rest:
            raise parser.fail('name the header: header.NAME or header["NAME"]', start)
        return Path("header", (".".join(str(s) for s in rest),), written)
    if head in ("key", "value"):
        return Path(f"{head}_json" if rest else str(head), rest, written)
    if head in _RECORD_FIELDS and not rest:
        return Path(str(head), (), written)
    return Path("value_json", tuple(steps), written)


# ---------------------------------------------------------------- evaluation

_MISSING: Any = object()


class _Ctx:
    """One record's lazily decoded parts, so `a == 1 and b == 2` parses the JSON once."""

    __slots__ = ("rec", "_json")

    def __init__(self, rec: RecordLike) -> None:
        self.rec = rec
        self._json: dict[str, Any] = {}

    def json(self, which: str) -> Any:
        if which not in self._json:
            raw = self.rec.key if which == "key" else self.rec.value
            try:
                # bounded depth (deep data would break str() and comparisons later); the
                # size is the broker's to bound, and the work here is linear in it
                self._json[which] = _MISSING if not raw else parse_json(
                    raw, max_bytes=None, exact=False)
            except UntrustedData:
                self._json[which] = _MISSING
        return self._json[which]


def _text(raw: bytes | None) -> Any:
    if raw is None:
        return _MISSING
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _MISSING


def _get(path: Path, ctx: _Ctx) -> Any:
    src = path.source
    rec = ctx.rec
    if src == "value":
        return _text(rec.value)
    if src == "key":
        return _text(rec.key)
    if src == "header":
        name = path.steps[0]
        found: Any = _MISSING
        for k, v in rec.headers or ():
            if k == name:
                found = _text(v)  # the last one wins, as Kafka's lastHeader()
        return found
    if src in _RECORD_FIELDS:
        return getattr(rec, src)
    data = ctx.json("key" if src == "key_json" else "value")
    for step in path.steps:
        if data is _MISSING:
            return _MISSING
        if isinstance(step, int):
            if isinstance(data, list) and -len(data) <= step < len(data):
                data = data[step]
            else:
                return _MISSING
        elif isinstance(data, dict):
            data = data.get(step, _MISSING)
        else:
            return _MISSING
    return data


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _as_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(a, bool) and isinstance(b, bool):
            return a == b
        other = b if isinstance(a, bool) else a
        return isinstance(other, str) and _as_text(a if isinstance(a, bool) else b) == other
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    return _as_text(a) == _as_text(b)


def _order(a: Any, b: Any) -> int | None:
    """-1/0/1, or None when the two cannot be ordered (then every ordering test is false)."""
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    return None


def _contains(a: Any, b: Any) -> bool:
    if isinstance(a, list):
        return any(_equal(x, b) for x in a)
    if isinstance(a, dict):
        return isinstance(b, str) and b in a
    if isinstance(a, str):
        return _as_text(b) in a
    return False


Pred = Callable[[_Ctx], bool]


def _operand_getter(x: Path | Literal) -> Callable[[_Ctx], Any]:
    if isinstance(x, Literal):
        v = x.value
        return lambda ctx: v
    return lambda ctx: _get(x, ctx)


def _compile(node: Node) -> Pred:
    if isinstance(node, BoolOp):
        parts = [_compile(n) for n in node.operands]
        if node.op == "and":
            return lambda ctx: all(p(ctx) for p in parts)
        return lambda ctx: any(p(ctx) for p in parts)
    if isinstance(node, Not):
        inner = _compile(node.operand)
        return lambda ctx: not inner(ctx)
    if isinstance(node, Present):
        path = node.path

        def present(ctx: _Ctx) -> bool:
            v = _get(path, ctx)
            return v is not _MISSING and v is not None and v is not False

        return present
    return _compile_compare(node)


def _compile_compare(node: Compare) -> Pred:
    left = _operand_getter(node.left)
    op = node.op
    if op == "in":
        assert isinstance(node.right, tuple)
        options = [lit.value for lit in node.right]

        def is_in(ctx: _Ctx) -> bool:
            v = left(ctx)
            return v is not _MISSING and any(_equal(v, o) for o in options)

        return is_in
    assert not isinstance(node.right, tuple)
    right = _operand_getter(node.right)
    if op in ("~", "!~"):
        assert isinstance(node.right, Literal)
        rx = compile_regex(str(node.right.value))
        want = op == "~"

        def match(ctx: _Ctx) -> bool:
            v = left(ctx)
            if v is _MISSING or v is None:
                return False
            return (rx.search(v if isinstance(v, str) else _as_text(v)) is not None) == want

        return match

    test: Callable[[Any, Any], bool]
    if op == "==":
        test = _equal
    elif op == "!=":
        def test(a: Any, b: Any) -> bool:
            return not _equal(a, b)
    elif op == "contains":
        test = _contains
    else:
        signs = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (1, 0)}[op]

        def test(a: Any, b: Any) -> bool:
            o = _order(a, b)
            return o is not None and o in signs

    def compare(ctx: _Ctx) -> bool:
        a = left(ctx)
        if a is _MISSING:
            return False
        b = right(ctx)
        return b is not _MISSING and test(a, b)

    return compare


# ---------------------------------------------------------------- byte prefilter

# A needle test on one part of the record: ("value" | "key", needle bytes)
Needles = tuple[tuple[str, bytes], ...]
# Disjunctive form: the record can match only if, for some alternative, all its needles occur.
Alternatives = tuple[Needles, ...] | None


def _safe_literal(v: Any) -> bytes | None:
    """The bytes a JSON or text value must contain to equal/contain this literal, if any."""
    if not isinstance(v, str) or len(v) < 2:
        return None
    if any(c in v for c in '"\\') or any(ord(c) < 0x20 for c in v):
        return None
    return v.encode("utf-8")


def _needles(node: Node) -> Alternatives:
    """Necessary byte conditions of `node`, or None when none can be derived."""
    if isinstance(node, BoolOp):
        subs = [_needles(n) for n in node.operands]
        if node.op == "or":
            if any(s is None for s in subs):
                return None
            return tuple(alt for s in subs if s is not None for alt in s)
        known = [s for s in subs if s is not None]
        if not known:
            return None
        # and: combine by taking the needles of the most selective single operand only, so
        # the form never grows (each alternative keeps what it needs; skip the cross product)
        best = max(known, key=lambda s: min(len(a) for a in s))
        merged: set[tuple[str, bytes]] = set()
        for s in known:
            if len(s) == 1:
                merged.update(s[0])
        if merged:
            return (tuple(sorted(merged)),)
        return best
    if isinstance(node, Compare) and isinstance(node.left, Path):
        src = node.left.source
        part = "value" if src in ("value", "value_json") else "key" if src in (
            "key", "key_json") else None
        if part is None:
            return None
        if node.op in ("==", "contains") and isinstance(node.right, Literal):
            if node.op == "contains" and src.endswith("_json"):
                return None  # list membership of numbers etc.: no safe needle
            needle = _safe_literal(node.right.value)
            if needle is not None and (node.op == "contains" or _number(node.right.value) is None):
                return (((part + ("_json" if src.endswith("_json") else "")), needle),),
        if node.op == "in" and isinstance(node.right, tuple):
            alts = []
            for lit in node.right:
                needle = _safe_literal(lit.value)
                if needle is None or _number(lit.value) is not None:
                    return None
                alts.append(((part + ("_json" if src.endswith("_json") else ""), needle),))
            return tuple(alts)
    return None


def _needle_test(alts: tuple[Needles, ...]) -> Callable[[RecordLike], bool]:
    def ok(rec: RecordLike) -> bool:
        for alt in alts:
            for part, needle in alt:
                raw = rec.value if part.startswith("value") else rec.key
                if raw is None:
                    break
                if needle in raw:
                    continue
                # JSON may spell the literal with \u escapes: only a plain value can be ruled out
                if part.endswith("_json") and b"\\" in raw:
                    continue
                break
            else:
                return True
        return False

    return ok


# ---------------------------------------------------------------- the public API


@dataclass(frozen=True)
class Filter:
    """A compiled filter. `f.matches(record)` for any record with topic, partition, offset,
    timestamp, key, value and headers attributes."""

    text: str
    """The expression as written."""
    tree: Node
    """The parsed expression."""
    _pred: Pred
    _prefilter: Callable[[RecordLike], bool] | None
    _alternatives: tuple[Needles, ...] | None = None

    def matches(self, record: RecordLike) -> bool:
        if self._prefilter is not None and not self._prefilter(record):
            return False
        return self._pred(_Ctx(record))

    def __call__(self, record: RecordLike) -> bool:
        return self.matches(record)

    def select(self, records: Sequence[Any]) -> list[Any]:
        """The records that match, in order. The fast path for a stream: the byte prefilter
        runs as one comprehension over the batch, the full test only on what is left."""
        alts = self._alternatives
        if alts is not None and len(alts) == 1 and len(alts[0]) == 1:
            part, needle = alts[0][0]
            if part == "value":
                cands = [r for r in records if r.value is not None and needle in r.value]
            elif part == "value_json":
                cands = [r for r in records if r.value is not None
                         and (needle in r.value or b"\\" in r.value)]
            else:
                cands = [r for r in records if r.key is not None
                         and (needle in r.key or (part == "key_json" and b"\\" in r.key))]
            pred = self._pred
            return [r for r in cands if pred(_Ctx(r))]
        return [r for r in records if self.matches(r)]

    async def select_async(self, records: Sequence[Any]) -> list[Any]:
        """`select` in a worker thread, for callers on an event loop that serves a UI or
        Slack acks: a batch of large records under an expensive expression must not hold
        the loop. Each match is short (RE2 is linear, JSON parsing bounded), so the loop
        gets its turn between them even while the worker holds the GIL."""
        if not records:
            return []
        return await asyncio.to_thread(self.select, records)

    @property
    def has_prefilter(self) -> bool:
        """True when records can be ruled out from their bytes alone."""
        return self._prefilter is not None


def parse_filter(text: str, *, max_length: int = expr.MAX_LENGTH) -> Node:
    """The expression's tree; raises FilterError naming the column of the first problem.
    Longer than `max_length` characters, or nested deeper than expr.MAX_DEPTH, is refused."""
    expr.check_length(text, FilterError, "the filter", max_length)
    return _Parser(text).parse()


def compile_filter(text: str, *, max_length: int = expr.MAX_LENGTH) -> Filter:
    """Parse and compile an expression. Raises FilterError (a UsageError, exit code 2)."""
    tree = parse_filter(text, max_length=max_length)
    alts = _needles(tree)
    return Filter(text, tree, _compile(tree), _needle_test(alts) if alts else None, alts or None)


def extract(record: RecordLike, name: str) -> Any:
    """The value a name in a filter refers to for this record (None when absent), e.g. for an
    alert message template: `extract(rec, "payload.user")`, `extract(rec, "header.trace-id")`."""
    p = _Parser(name)
    path = p.parse_path()
    if p.tok.kind != "end":
        raise p.fail("expected only a field name")
    v = _get(path, _Ctx(record))
    return None if v is _MISSING else v
