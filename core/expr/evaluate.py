"""The filter language evaluated on a record: values read lazily from its key, value,
headers and position, compared as the language says (absent fields make every comparison
false; numbers compare as numbers, also from text), and a tree compiled to a predicate."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kafkaops.core.expr.kernel import BoolOp, Not
from kafkaops.core.expr.model import (
    RECORD_FIELDS,
    Compare,
    Literal,
    Node,
    Path,
    Present,
    RecordLike,
)
from kafkaops.core.expr.parse import compile_regex
from kafkaops.core.untrusted import UntrustedData, parse_json

MISSING: Any = object()


class Ctx:
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
                self._json[which] = MISSING if not raw else parse_json(
                    raw, max_bytes=None, exact=False)
            except UntrustedData:
                self._json[which] = MISSING
        return self._json[which]


def _text(raw: bytes | None) -> Any:
    if raw is None:
        return MISSING
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return MISSING


def value_of(path: Path, ctx: Ctx) -> Any:
    src = path.source
    rec = ctx.rec
    if src == "value":
        return _text(rec.value)
    if src == "key":
        return _text(rec.key)
    if src == "header":
        name = path.steps[0]
        found: Any = MISSING
        for k, v in rec.headers or ():
            if k == name:
                found = _text(v)  # the last one wins, as Kafka's lastHeader()
        return found
    if src in RECORD_FIELDS:
        return getattr(rec, src)
    data = ctx.json("key" if src == "key_json" else "value")
    for step in path.steps:
        if data is MISSING:
            return MISSING
        if isinstance(step, int):
            if isinstance(data, list) and -len(data) <= step < len(data):
                data = data[step]
            else:
                return MISSING
        elif isinstance(data, dict):
            data = data.get(step, MISSING)
        else:
            return MISSING
    return data


def as_number(v: Any) -> float | None:
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
    na, nb = as_number(a), as_number(b)
    if na is not None and nb is not None:
        return na == nb
    return _as_text(a) == _as_text(b)


def _order(a: Any, b: Any) -> int | None:
    """-1/0/1, or None when the two cannot be ordered (then every ordering test is false)."""
    na, nb = as_number(a), as_number(b)
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


Pred = Callable[[Ctx], bool]


def _operand_getter(x: Path | Literal) -> Callable[[Ctx], Any]:
    if isinstance(x, Literal):
        v = x.value
        return lambda ctx: v
    return lambda ctx: value_of(x, ctx)


def predicate(node: Node) -> Pred:
    if isinstance(node, BoolOp):
        parts = [predicate(n) for n in node.operands]
        if node.op == "and":
            return lambda ctx: all(p(ctx) for p in parts)
        return lambda ctx: any(p(ctx) for p in parts)
    if isinstance(node, Not):
        inner = predicate(node.operand)
        return lambda ctx: not inner(ctx)
    if isinstance(node, Present):
        path = node.path

        def present(ctx: Ctx) -> bool:
            v = value_of(path, ctx)
            return v is not MISSING and v is not None and v is not False

        return present
    return _compile_compare(node)


def _compile_compare(node: Compare) -> Pred:
    left = _operand_getter(node.left)
    op = node.op
    if op == "in":
        assert isinstance(node.right, tuple)
        options = [lit.value for lit in node.right]

        def is_in(ctx: Ctx) -> bool:
            v = left(ctx)
            return v is not MISSING and any(_equal(v, o) for o in options)

        return is_in
    assert not isinstance(node.right, tuple)
    right = _operand_getter(node.right)
    if op in ("~", "!~"):
        assert isinstance(node.right, Literal)
        rx = compile_regex(str(node.right.value))
        want = op == "~"

        def match(ctx: Ctx) -> bool:
            v = left(ctx)
            if v is MISSING or v is None:
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

    def compare(ctx: Ctx) -> bool:
        a = left(ctx)
        if a is MISSING:
            return False
        b = right(ctx)
        return b is not MISSING and test(a, b)

    return compare


