"""Evaluating a flag for a user, pure: sticky rollout buckets, targeting rules, variants,
and `Evaluation` (what the user gets and why). The one evaluation every face and the SDK use.

Rollout is sticky: a user's bucket is a stable hash of flag key + user key (0..9999), and
the user is in a rollout of p % when bucket < p * 100, so raising p only adds users.
Variants use a second, independent hash, so changing the rollout never reshuffles them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.core.flags.model import FlagState, Rule, Variant

#: rollout resolution: buckets 0..9999, so percentages with two decimals are exact
BUCKETS = 10_000


@dataclass(frozen=True)
class Evaluation:
    key: str
    """Flag key."""
    user: str | None
    """User key the flag was evaluated for."""
    value: Any
    """The value the user gets."""
    reason: str
    """on, rollout, targeting_match, variant, disabled, targeting_miss, outside_rollout,
    no_user_key, not_found or type_mismatch."""
    detail: str = ""
    """The reason in words, e.g. "bucket 27.31 < rollout 30"."""
    variant: str | None = None
    """Variant name when the flag has variants and one was served."""
    version: int | None = None
    """Version of the flag state used; None when the flag does not exist."""
    bucket: float | None = None
    """The user's rollout bucket as a percentage (0-99.99); None without a user key."""
    stale: bool = False
    """The state used may be out of date (the SDK cannot reach Kafka)."""


#: reasons under which the user gets `value` or a variant (the flag is "on" for them)
SERVED_REASONS = frozenset({"on", "rollout", "targeting_match", "variant"})

def bucket(flag_key: str, user_key: str, salt: str = "rollout") -> int:
    """The user's bucket for a flag, 0..9999: a stable hash of flag key + user key.

    SHA-256 so it is the same in every process and language (Python's hash() is salted per
    process); 64 bits mod 10,000 has a negligible bias.
    """
    digest = hashlib.sha256(f"{salt}\x00{flag_key}\x00{user_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_rollout(flag_key: str, user_key: str, percent: float) -> bool:
    """True when the user is in a rollout of `percent` %. Monotone in `percent`."""
    return bucket(flag_key, user_key) < round(percent * 100)


def pick_variant(flag_key: str, user_key: str, variants: Sequence[Variant]) -> Variant:
    """The user's variant: an independent stable hash split in proportion to the weights."""
    total = sum(v.weight for v in variants)
    point = bucket(flag_key, user_key, "variant") * total // BUCKETS
    for v in variants:
        if point < v.weight:
            return v
        point -= v.weight
    return variants[-1]  # unreachable while total > 0


def _rule_matches(rule: Rule, user: str | None, attrs: Mapping[str, Any]) -> bool:
    """A user without the attribute matches no rule on it, `not in` included: a rule on an
    attribute the service did not pass should not switch the flag on for everyone."""
    if rule.attribute in attrs:
        raw = attrs[rule.attribute]
    elif rule.attribute in ("user", "key", "targeting_key") and user is not None:
        raw = user
    else:
        return False
    text = "true" if raw is True else "false" if raw is False else str(raw)
    return (text in rule.values) == (rule.op == "in")


def evaluate(
    state: FlagState | None,
    user: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    *,
    key: str = "",
    default: Any = None,
) -> Evaluation:
    """What `user` gets from the flag: the one evaluation every face and the SDK use.

    Order: off -> default; any rule not matched -> default; outside the rollout -> default;
    then a variant (if the flag has variants) or `value`.
    """
    attrs = attributes or {}
    if state is None:
        return Evaluation(key, user, default, "not_found", f"no flag named {key!r}")
    v = state.version
    pct = None if user is None else bucket(state.key, user) / 100

    def off(reason: str, detail: str) -> Evaluation:
        return Evaluation(state.key, user, state.default, reason, detail, None, v, pct)

    if not state.enabled:
        return off("disabled", "the flag is off")
    for rule in state.rules:
        if not _rule_matches(rule, user, attrs):
            have = attrs.get(rule.attribute, "<not given>")
            return off("targeting_miss", f"rule {rule} not matched ({rule.attribute}={have})")
    partial = state.rollout < 100
    if partial or state.variants:
        if user is None:
            return off("no_user_key", "a partial rollout or variants need a user key")
        assert pct is not None
        if partial and not in_rollout(state.key, user, state.rollout):
            return off("outside_rollout", f"bucket {pct:.2f} >= rollout {state.rollout:g}")
    if state.variants:
        assert user is not None
        chosen = pick_variant(state.key, user, state.variants)
        return Evaluation(
            state.key, user, chosen.value, "variant", f"variant {chosen.name}", chosen.name, v, pct
        )
    if partial:
        detail = f"bucket {pct:.2f} < rollout {state.rollout:g}"
        return Evaluation(state.key, user, state.value, "rollout", detail, None, v, pct)
    if state.rules:
        detail = "; ".join(str(r) for r in state.rules)
        return Evaluation(state.key, user, state.value, "targeting_match", detail, None, v, pct)
    return Evaluation(state.key, user, state.value, "on", "on for everyone", None, v, pct)
