"""The filter language's records: its error, what it reads from a record, and its tree
(the boolean nodes BoolOp and Not are the kernel's, core/expr/kernel.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kafkaops.core.errors import UsageError
from kafkaops.core.expr import kernel as expr
from kafkaops.core.expr.kernel import BoolOp, Not


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

#: names that are a record's position, not a field of its value
RECORD_FIELDS = {"topic", "partition", "offset", "timestamp"}
