"""The filter language read: tokens, the parser on the expression kernel
(core/expr/kernel.py), and names resolved to where a value comes from. The language itself
is described in core/expr/filter.py."""

from __future__ import annotations

import re
from typing import Any

import re2

from kafkaops.core.expr import kernel as expr
from kafkaops.core.expr.kernel import Tok
from kafkaops.core.expr.model import (
    RECORD_FIELDS,
    Compare,
    FilterError,
    Literal,
    Node,
    Path,
    Present,
)

#: RE2 options for `~`: the default memory budget (8 MiB per pattern) bounds compiling too
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is our error message, not a line on stderr

_OPS = {"==", "!=", "<", "<=", ">", ">=", "contains", "~", "!~", "in"}

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
    if head in RECORD_FIELDS and not rest:
        return Path(str(head), (), written)
    return Path("value_json", tuple(steps), written)


def parse_filter(text: str, *, max_length: int = expr.MAX_LENGTH) -> Node:
    """The expression's tree; raises FilterError naming the column of the first problem.
    Longer than `max_length` characters, or nested deeper than expr.MAX_DEPTH, is refused."""
    expr.check_length(text, FilterError, "the filter", max_length)
    return _Parser(text).parse()


def parse_name(name: str) -> Path:
    """A field name alone (`payload.user`, `header.trace-id`), as the filter reads it."""
    p = _Parser(name)
    path = p.parse_path()
    if p.tok.kind != "end":
        raise p.fail("expected only a field name")
    return path
