"""The byte prefilter: necessary byte conditions derived from a filter's tree
(`status == "failed"` needs the bytes `failed` in the value), so records that cannot match
are dropped with one `bytes in bytes` test before any decoding or JSON parsing. A JSON
value that holds a backslash escape skips the test (the literal could be spelled with
escapes there)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkaops.core.expr.evaluate import as_number
from kafkaops.core.expr.kernel import BoolOp
from kafkaops.core.expr.model import Compare, Literal, Node, Path, RecordLike

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


def needles(node: Node) -> Alternatives:
    """Necessary byte conditions of `node`, or None when none can be derived."""
    if isinstance(node, BoolOp):
        subs = [needles(n) for n in node.operands]
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
            if needle is not None and (node.op == "contains"
                                       or as_number(node.right.value) is None):
                return (((part + ("_json" if src.endswith("_json") else "")), needle),),
        if node.op == "in" and isinstance(node.right, tuple):
            alts = []
            for lit in node.right:
                needle = _safe_literal(lit.value)
                if needle is None or as_number(lit.value) is not None:
                    return None
                alts.append(((part + ("_json" if src.endswith("_json") else ""), needle),))
            return tuple(alts)
    return None


def needle_test(alts: tuple[Needles, ...]) -> Callable[[RecordLike], bool]:
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


