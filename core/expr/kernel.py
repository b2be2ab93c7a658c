"""The expression kernel shared by the filter language (core/expr/parse.py) and alert
conditions (core/alerts/conditions.py, a rule's `when`): tokens, `and` / `or` / `not` /
parentheses and their tree nodes, `[a, b]` lists, and the bounds that keep a hostile
expression from costing more than a clear error.

Each language brings its own token pattern and its own atoms (a comparison of record fields,
a metric condition); the boolean structure around them, its error messages and its limits
are here once:

- an expression is at most `max_length` characters (a Slack user's filter less);
- parentheses and `not` nest at most `MAX_DEPTH` levels (deeper would exhaust Python's
  stack: 10,000 `(` raised RecursionError);
- a number is at most `MAX_NUMBER_CHARS` characters and finite (a 5,000-digit integer is
  beyond what int() converts).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

MAX_LENGTH = 10_000
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40
#: an expression up to this long is shown in an error with a caret under the problem; a
#: longer one is named by column only, so the error stays one line
SHOW_TEXT = 200

N = TypeVar("N")
T = TypeVar("T")
ErrorFactory = Callable[[str, str, int], Exception]


@dataclass(frozen=True)
class Tok:
    kind: str
    """A language's token kind; every language has op (operators and keywords) and end."""
    text: str
    """As written (operators normalised: `&&` is `and`)."""
    pos: int
    """0-based column."""
    value: Any = None
    """A literal's value."""


@dataclass(frozen=True)
class Not(Generic[N]):
    """`not X` in either language."""

    operand: N
    """The negated expression."""


@dataclass(frozen=True)
class BoolOp(Generic[N]):
    """`X and Y ...` / `X or Y ...` in either language."""

    op: Literal["and", "or"]
    """and / or."""
    operands: tuple[N, ...]
    """Two or more expressions."""


def check_length(text: str, error: ErrorFactory, what: str,
                 max_length: int = MAX_LENGTH) -> None:
    """Refuse an expression longer than `max_length` before reading any of it."""
    if len(text) > max_length:
        raise error(f"{what} is {len(text):,} characters long; at most {max_length:,} are "
                    "allowed", text, 0)


def scan(text: str, pattern: re.Pattern[str],
         unmatched: Callable[[int], Exception]) -> Iterator[tuple[str, str, int]]:
    """(kind, raw, pos) for each match of the language's `pattern` (named groups), skipping
    the `ws` group; `unmatched(pos)` is raised where nothing matches."""
    pos = 0
    while pos < len(text):
        m = pattern.match(text, pos)
        if m is None:
            raise unmatched(pos)
        if m.lastgroup != "ws":
            yield m.lastgroup or "", m.group(), pos
        pos = m.end()


def number(raw: str, error: ErrorFactory, text: str, pos: int) -> float | int:
    """A numeric literal as int or float, within bounds (else error)."""
    digits = raw.replace("_", "")
    if len(digits) > MAX_NUMBER_CHARS:
        raise error(f"number of {len(digits):,} characters is too long (at most "
                    f"{MAX_NUMBER_CHARS})", text, pos)
    value: float | int = float(digits) if any(c in digits for c in ".eE") else int(digits)
    if isinstance(value, float) and not math.isfinite(value):
        raise error(f"number {raw} is out of range", text, pos)
    return value


class BoolParser(Generic[N]):
    """Recursive descent over `or` of `and` of `not` of atoms or parenthesised groups.

    A language subclasses it with `parse_atom` (what stands between the operators); its
    node type N is the union of its atoms with `BoolOp[N]` and `Not[N]`."""

    #: what the language calls a whole expression, for messages ("the filter is empty")
    what = "the expression"
    #: example shown when the expression is empty
    example = ""
    #: token kinds that start an operand: a stray one after a complete expression means a
    #: missing `and` / `or`
    operand_kinds: Sequence[str] = ("name",)

    def __init__(self, text: str, toks: list[Tok], error: ErrorFactory) -> None:
        self.text = text
        self.toks = toks
        self.i = 0
        self.error = error
        self.depth = 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, message: str, tok: Tok | None = None) -> Exception:
        return self.error(message, self.text, (tok or self.tok).pos)

    # ------------------------------------------------------------ the tree, per language

    def parse_atom(self) -> N:
        raise NotImplementedError

    def parse_list(self, item: Callable[[], T], example: str, empty: str = "") -> tuple[T, ...]:
        """`[a, b, ...]` after `in`, each element read by `item`; `empty`, when given, is
        the error for `[]` (else `item` says what it expected)."""
        if not self.at("["):
            raise self.fail(f"expected a list after `in`, e.g. {example}")
        self.take()
        items: list[T] = []
        while True:
            if empty and not items and self.at("]"):
                raise self.fail(empty)
            items.append(item())
            if self.at(","):
                self.take()
                continue
            if self.at("]"):
                self.take()
                return tuple(items)
            raise self.fail("expected `,` or `]` in the list")

    # ------------------------------------------------------------ the boolean structure

    def parse(self) -> N:
        if self.tok.kind == "end":
            raise self.fail(f"{self.what} is empty" + (f"; e.g. `{self.example}`"
                                                       if self.example else ""))
        node = self.parse_or()
        if self.tok.kind != "end":
            if self.tok.kind in self.operand_kinds or self.at("("):
                raise self.fail(f"expected `and` or `or` before {self.tok.text!r}")
            raise self.fail(f"unexpected {self.tok.text!r}")
        return node

    def parse_or(self) -> N:
        items = [self.parse_and()]
        while self.at("or"):
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else cast(N, BoolOp("or", tuple(items)))

    def parse_and(self) -> N:
        items = [self.parse_not()]
        while self.at("and"):
            self.take()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else cast(N, BoolOp("and", tuple(items)))

    def parse_not(self) -> N:
        if self.at("not"):
            with self.nested(self.take()):
                return cast(N, Not(self.parse_not()))
        if self.at("("):
            open_tok = self.take()
            with self.nested(open_tok):
                node = self.parse_or()
            if not self.at(")"):
                raise self.fail("expected `)` to close the `(`",
                                open_tok if self.tok.kind == "end" else None)
            self.take()
            return node
        return self.parse_atom()

    @contextlib.contextmanager
    def nested(self, tok: Tok) -> Iterator[None]:
        """One more level of `(` or `not`; refused beyond MAX_DEPTH."""
        if self.depth >= MAX_DEPTH:
            raise self.fail(f"{self.what} nests `(` and `not` more than {MAX_DEPTH} levels "
                            "deep", tok)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
