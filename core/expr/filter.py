"""The filter language of `tail --filter`, the console's filter box, `dlq replay --filter` and
alert event rules, over Kafka records: `compile_filter` and the compiled `Filter`.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.expr import kernel as expr
from kafkaops.core.expr.evaluate import MISSING, Ctx, Pred, predicate, value_of
from kafkaops.core.expr.model import Node, RecordLike
from kafkaops.core.expr.parse import parse_filter, parse_name
from kafkaops.core.expr.prefilter import Needles, needle_test, needles


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
        return self._pred(Ctx(record))

    def __call__(self, record: RecordLike) -> bool:
        return self.matches(record)

    def select(self, records: Sequence[Any]) -> list[Any]:
        """The records that match, in order. The fast path for a stream: the byte prefilter
        runs as one comprehension over the batch, the full test only on what is left."""
        alts = self._alternatives
        if alts is not None and len(alts) == 1 and len(alts[0]) == 1:
            part, needle = alts[0][0]
            # one attribute read per record (the walrus): most records of a selective
            # filter end here, so this line is the whole cost of rejecting them
            if part == "value":
                cands = [r for r in records if (v := r.value) is not None and needle in v]
            elif part == "value_json":
                cands = [r for r in records if (v := r.value) is not None
                         and (needle in v or b"\\" in v)]
            else:
                esc = part == "key_json"
                cands = [r for r in records if (k := r.key) is not None
                         and (needle in k or (esc and b"\\" in k))]
            pred = self._pred
            return [r for r in cands if pred(Ctx(r))]
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


def compile_filter(text: str, *, max_length: int = expr.MAX_LENGTH) -> Filter:
    """Parse and compile an expression. Raises FilterError (a UsageError, exit code 2)."""
    tree = parse_filter(text, max_length=max_length)
    alts = needles(tree)
    return Filter(text, tree, predicate(tree), needle_test(alts) if alts else None, alts or None)


def extract(record: RecordLike, name: str) -> Any:
    """The value a name in a filter refers to for this record (None when absent), e.g. for an
    alert message template: `extract(rec, "payload.user")`, `extract(rec, "header.trace-id")`."""
    v = value_of(parse_name(name), Ctx(record))
    return None if v is MISSING else v

