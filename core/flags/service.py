"""Feature flags and config values, kept in the compacted topic `_kafkaops.flags`.

Layout (DESIGN.md): one partition, key = flag key, value = the flag's full state as JSON,
a tombstone (null value) = deleted. Control data rides in record headers, so the value stays
the plain state and a tombstone can carry it too:

    kafkaops-expects   version this write replaces ("0": the flag must not exist)
    kafkaops-write-id  unique id of the write (the writer waits for this id to come back)
    kafkaops-op        create | set | toggle | rollout | rollback | delete | restate
    kafkaops-by, kafkaops-at, kafkaops-reason   who, when (UTC), why

Compare-and-set. Every reader folds the single partition in offset order with the same rule
(`FlagLog.apply`): a write is applied only if its `expects` equals the version in force when
it is read; otherwise every reader ignores it ("rejected"). So of two writers that both saw
version 5, the first record in the log wins everywhere and the second is rejected
everywhere. The writer returns only after its own store has read its record back and seen
which of the two happened; a rejection becomes `Conflict` (exit 3). Both attempts stay in
the log, so `history` shows them. Every write goes through the audit trail's one path
(`kafkaops.core.audit.record_change`): action flag.<op>, target the flag key, its outcome
(a Conflict included) signed onto `_kafkaops.audit`.

Compaction, and why rejected records are repaired. A compacted topic keeps only the last
record per key. If that last record is a rejected write, compaction would drop the winner
and keep the loser, and a reader starting later would see the loser's state. The rule
chosen here: the last record of every key must be authoritative. Whoever leaves a
non-authoritative record at a key's tail re-publishes the state in force (op `restate`: same
version, expects = that version, so it is a no-op for readers that are up to date and the
truth for readers that start after compaction). Concretely:
  - the losing writer restates before it raises Conflict (`FlagService._repair`);
  - every write first repairs any key whose tail is not authoritative, so a loser that
    crashed between its write and its restate is repaired by the next write from anyone;
  - the topic is created with `min.compaction.lag.ms` = 7 days, so the cleaner never
    touches a record younger than that and a repair has a week to happen.
  - a reader that meets a key for the first time accepts that record as it is: either it is
    the key's first write or its predecessors were compacted away, and by the rule above
    what compaction leaves is authoritative. Every reader reading the same log applies the
    same rule, so they agree.
We chose this over keying proposals by write id (which would need a second record per
write, a cleanup tombstone per proposal and a coordinator to merge them) because it keeps
DESIGN.md's layout (key = flag key, value = full state) and costs nothing in the normal
case: only a lost race writes one extra record.

Rollout is sticky: a user's bucket is a stable hash of flag key + user key (0..9999), and
the user is in a rollout of p % when bucket < p * 100, so raising p only adds users.
Variants use a second, independent hash, so changing the rollout never reshuffles them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.audit.log import local_actor
from kafkaops.core.config import ClusterConfig
from kafkaops.core.errors import (
    ClusterUnreachable,
    KafkaOpsError,
    NotFound,
    NothingToChange,
    Refused,
    StaleVersion,
    UsageError,
)
from kafkaops.core.kafka.connection import reader_clients, stop_quietly
from kafkaops.core.kafka.logwatch import LogWatch
from kafkaops.core.untrusted import MAX_JSON_DEPTH, UntrustedData, parse_json

if TYPE_CHECKING:
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.services import Services

log = logging.getLogger(__name__)

FLAGS_TOPIC = "_kafkaops.flags"
FLAG_TYPES = ("bool", "string", "number", "json")
FlagType = Literal["bool", "string", "number", "json"]
#: rollout resolution: buckets 0..9999, so percentages with two decimals are exact
BUCKETS = 10_000
#: the cleaner leaves records younger than this alone: the window for repairs (see above)
MIN_COMPACTION_LAG_MS = 7 * 24 * 3600 * 1000

H_EXPECTS = "kafkaops-expects"
H_WRITE_ID = "kafkaops-write-id"
H_OP = "kafkaops-op"
H_BY = "kafkaops-by"
H_AT = "kafkaops-at"
H_REASON = "kafkaops-reason"

OPS = ("create", "set", "toggle", "rollout", "rollback", "delete", "restate")
_KEY_FORM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
#: a tag that makes the console ask before changing the flag
CRITICAL_TAG = "critical"


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Variant:
    name: str
    """Variant name, reported with each evaluation (e.g. control, treatment)."""
    value: Any
    """Value served to users assigned to this variant; of the flag's type."""
    weight: int = 1
    """Relative weight; users in the rollout are split in proportion to the weights."""


@dataclass(frozen=True)
class Rule:
    attribute: str
    """Attribute of the evaluation context; `user` is the user key unless given explicitly."""
    op: Literal["in", "not in"]
    """`in`: the attribute's value is one of `values`; `not in`: it is none of them."""
    values: tuple[str, ...]
    """Values compared as text."""

    def __str__(self) -> str:
        return f"{self.attribute} {self.op} [{', '.join(self.values)}]"


@dataclass(frozen=True)
class FlagState:
    key: str
    """Flag key, also the record key on the topic."""
    type: FlagType
    """bool, string, number or json."""
    enabled: bool
    """Off: everyone gets `default`. A new flag starts off."""
    value: Any
    """Served when the flag is on and the user passes the rules and the rollout."""
    default: Any
    """Served when the flag is off, or the user is not targeted or outside the rollout."""
    rollout: float = 100.0
    """Percentage (0-100, two decimals) of users who get `value` (or a variant)."""
    variants: tuple[Variant, ...] = ()
    """If any, users in the rollout get a variant's value instead of `value`."""
    rules: tuple[Rule, ...] = ()
    """Targeting: every rule must match for a user to be considered at all."""
    owner: str = ""
    """Team or person answerable for the flag."""
    description: str = ""
    """What the flag does."""
    tags: tuple[str, ...] = ()
    """Free tags; `critical` makes the console ask before a change."""
    version: int = 1
    """Bumped by every accepted write; what compare-and-set compares."""
    updated_by: str = ""
    """Who made the last change (user@host, or a Slack user)."""
    updated_at: str = ""
    """When, ISO 8601 UTC."""
    reason: str = ""
    """Why, as the writer said."""
    created_by: str = ""
    """Who created the flag."""
    created_at: str = ""
    """When it was created, ISO 8601 UTC."""

    @property
    def critical(self) -> bool:
        return CRITICAL_TAG in self.tags


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


@dataclass(frozen=True)
class FlagChange:
    offset: int
    """Offset of the record on the topic."""
    key: str
    """Flag key."""
    op: str
    """create, set, toggle, rollout, rollback, delete or restate ("?" if not given)."""
    outcome: Literal["applied", "rejected", "ignored"]
    """applied: it is (or was) the flag's state; rejected: it lost a compare-and-set;
    ignored: not a valid kafkaops write."""
    expects: int | None
    """Version the write replaced (0: the flag had to be absent)."""
    version: int | None
    """Version the record carries; None for a tombstone."""
    write_id: str | None
    """Unique id of the write."""
    by: str
    """Who wrote it."""
    at: str
    """When, ISO 8601 UTC (the writer's clock)."""
    reason: str
    """Why, as the writer said."""
    note: str
    """Why it was rejected or ignored; empty when applied."""
    state: FlagState | None
    """The state the record carries; None for a delete."""
    current_version: int
    """Version in force after this record (0: absent)."""
    current_by: str
    """Who wrote the version in force after this record."""
    timestamp_ms: int = 0
    """The record's Kafka timestamp."""


@dataclass(frozen=True)
class LogRecord:
    """One record of the flags topic, as core hands it to the fold (no aiokafka types)."""

    offset: int
    """Offset."""
    key: bytes | None
    """Record key."""
    value: bytes | None
    """Record value; None for a tombstone."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Record headers."""
    timestamp_ms: int = 0
    """Record timestamp."""


# ---------------------------------------------------------------- validation and parsing


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY_FORM.match(key):
        raise UsageError(
            f"invalid flag key {key!r}: use letters, digits and . _ : / - "
            "(starting with a letter or digit, at most 200 characters)"
        )
    return key


def check_type(type_: str) -> FlagType:
    if type_ not in FLAG_TYPES:
        raise UsageError(f"unknown flag type {type_!r}: use one of {', '.join(FLAG_TYPES)}")
    return type_  # type: ignore[return-value]


def check_value(type_: str, value: Any, what: str = "value") -> Any:
    """`value` if it fits a flag of `type_`, else UsageError. Numbers stay int when whole."""
    if type_ == "bool":
        if isinstance(value, bool):
            return value
        raise UsageError(f"{what}: a bool flag takes true or false, got {value!r}")
    if type_ == "string":
        if isinstance(value, str):
            return value
        raise UsageError(f"{what}: a string flag takes text, got {value!r}")
    if type_ == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{what}: a number flag takes a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{what}: a number flag takes a finite number, got {value!r}")
        return value
    if type_ == "json":
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise UsageError(f"{what}: not JSON data ({e})") from None
        except RecursionError:
            raise UsageError(f"{what}: JSON nested too deeply") from None
        return value
    raise UsageError(f"unknown flag type {type_!r}")


_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}


def parse_value(type_: str, text: str, what: str = "value") -> Any:
    """A value typed on a command line, converted to the flag's type (UsageError if it
    does not fit): bool true/false/on/off/yes/no/1/0; number; string as is; json parsed."""
    if type_ == "bool":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise UsageError(f"{what}: a bool flag takes true or false, got {text!r}")
    if type_ == "string":
        return text
    if type_ == "number":
        try:  # short text cannot nest deep enough to trouble json
            number = json.loads(text) if len(text) <= 100 else None
        except ValueError:
            number = None
        if isinstance(number, bool) or not isinstance(number, int | float):
            shown = text if len(text) <= 60 else text[:59] + "…"
            raise UsageError(f"{what}: a number flag takes a number, got {shown!r}")
        return check_value(type_, number, what)
    if type_ == "json":
        try:
            data = parse_json(text)
        except UntrustedData as e:
            shown = text if len(text) <= 60 else text[:59] + "…"
            if "nested deeper" in str(e):
                raise UsageError(f"{what}: JSON nested too deeply (more than "
                                 f"{MAX_JSON_DEPTH} levels)") from None
            if "larger than" in str(e):
                raise UsageError(f"{what}: {e}") from None
            try:  # NaN and the like: JSON to Python, not JSON data (check_value says so)
                if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
                    raise ValueError(str(e))
                data = json.loads(text)
            except ValueError:
                raise UsageError(f"{what}: not valid JSON: {shown!r}") from None
        return check_value(type_, data, what)
    raise UsageError(f"unknown flag type {type_!r}")


def check_rollout(percent: Any) -> float:
    """A rollout percentage: a number from 0 to 100 with at most two decimals."""
    if isinstance(percent, str):
        text = percent.strip().removesuffix("%")
        try:
            percent = float(text)
        except ValueError:
            raise UsageError(f"rollout must be a percentage from 0 to 100, got {text!r}") from None
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise UsageError(f"rollout must be a percentage from 0 to 100, got {percent!r}")
    if not math.isfinite(percent) or not 0 <= percent <= 100:
        raise UsageError(f"rollout must be a percentage from 0 to 100, got {percent:g}")
    if abs(percent * 100 - round(percent * 100)) > 1e-6:
        raise UsageError(f"rollout takes at most two decimals (e.g. 12.5), got {percent:g}")
    return round(float(percent), 2)


_RULE_FORM = re.compile(
    r"^\s*(?P<attr>[A-Za-z_][A-Za-z0-9_.-]*)\s+"
    r"(?:(?P<op>not\s+in|in)\s*\[(?P<list>[^\]]*)\]|(?P<eq>==|=|!=)\s*(?P<one>\S.*?))\s*$"
)


def parse_rule(text: str) -> Rule:
    """`region in [eu-west-1, eu-central-1]`, `plan not in [free]`, `plan = pro`, `tier != x`."""
    m = _RULE_FORM.match(text)
    if not m:
        raise UsageError(
            f"cannot read targeting rule {text!r}: write ATTRIBUTE in [A, B], "
            "ATTRIBUTE not in [A, B], ATTRIBUTE = A or ATTRIBUTE != A"
        )
    if m.group("op"):
        op: Literal["in", "not in"] = "in" if m.group("op") == "in" else "not in"
        values = tuple(v.strip().strip("'\"") for v in m.group("list").split(",") if v.strip())
        if not values:
            raise UsageError(f"targeting rule {text!r} lists no values")
    else:
        op = "not in" if m.group("eq") == "!=" else "in"
        values = (m.group("one").strip().strip("'\""),)
    return Rule(m.group("attr"), op, values)


def parse_variant(type_: str, text: str) -> Variant:
    """`NAME=VALUE` or `NAME:WEIGHT=VALUE` (weight a whole number, default 1)."""
    name_part, sep, value_text = text.partition("=")
    if not sep or not name_part.strip():
        raise UsageError(f"cannot read variant {text!r}: write NAME=VALUE or NAME:WEIGHT=VALUE")
    name, _, weight_text = name_part.partition(":")
    try:
        weight = int(weight_text) if weight_text.strip() else 1
    except ValueError:
        raise UsageError(
            f"variant {text!r}: weight {weight_text!r} is not a whole number"
        ) from None
    return Variant(name.strip(), parse_value(type_, value_text, f"variant {name.strip()}"), weight)


def check_variants(type_: str, variants: Iterable[Variant]) -> tuple[Variant, ...]:
    out = tuple(variants)
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise UsageError(f"variant names must be unique, got {', '.join(names)}")
    for v in out:
        if not v.name:
            raise UsageError("a variant needs a name")
        if isinstance(v.weight, bool) or not isinstance(v.weight, int) or v.weight < 0:
            raise UsageError(f"variant {v.name}: weight must be a whole number >= 0")
        check_value(type_, v.value, f"variant {v.name}")
    if out and sum(v.weight for v in out) <= 0:
        raise UsageError("variants: at least one weight must be above 0")
    return out


def check_state(state: FlagState) -> FlagState:
    """Validate a whole state (raises UsageError); returns it with normalised fields."""
    check_key(state.key)
    check_type(state.type)
    check_value(state.type, state.value, "value")
    check_value(state.type, state.default, "default")
    if not isinstance(state.enabled, bool):
        raise UsageError("enabled must be true or false")
    return dataclasses.replace(
        state,
        rollout=check_rollout(state.rollout),
        variants=check_variants(state.type, state.variants),
        tags=tuple(dict.fromkeys(t.strip() for t in state.tags if t.strip())),
    )


# ---------------------------------------------------------------- encoding


def state_to_json(state: FlagState) -> dict[str, Any]:
    data = dataclasses.asdict(state)
    data["variants"] = [dataclasses.asdict(v) for v in state.variants]
    data["rules"] = [
        {"attribute": r.attribute, "op": r.op, "values": list(r.values)} for r in state.rules
    ]
    data["tags"] = list(state.tags)
    return data


def encode_state(state: FlagState) -> bytes:
    return json.dumps(state_to_json(state), separators=(",", ":"), allow_nan=False).encode()


def state_from_json(data: Any) -> FlagState:
    """A state from JSON data (the topic, a snapshot); ValueError says what is wrong.

    Unknown fields are ignored so that older readers accept states from newer writers.
    """
    if not isinstance(data, dict):
        raise ValueError("flag state is not a JSON object")
    try:
        rules = tuple(
            Rule(str(r["attribute"]), r["op"], tuple(str(v) for v in r["values"]))
            for r in data.get("rules") or ()
        )
        for r in rules:
            if r.op not in ("in", "not in"):
                raise ValueError(f"unknown rule operator {r.op!r}")
        state = FlagState(
            key=data["key"],
            type=data["type"],
            enabled=data["enabled"],
            value=data.get("value"),
            default=data.get("default"),
            rollout=data.get("rollout", 100.0),
            variants=tuple(
                Variant(str(v["name"]), v.get("value"), v.get("weight", 1))
                for v in data.get("variants") or ()
            ),
            rules=rules,
            owner=str(data.get("owner") or ""),
            description=str(data.get("description") or ""),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            version=data["version"],
            updated_by=str(data.get("updated_by") or ""),
            updated_at=str(data.get("updated_at") or ""),
            reason=str(data.get("reason") or ""),
            created_by=str(data.get("created_by") or ""),
            created_at=str(data.get("created_at") or ""),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"flag state lacks or mistypes {e}") from None
    if isinstance(state.version, bool) or not isinstance(state.version, int) or state.version < 1:
        raise ValueError(f"flag state has an invalid version {state.version!r}")
    try:
        return check_state(state)
    except UsageError as e:
        raise ValueError(str(e)) from None


#: states decoded lately, by their bytes: every reader in a process (the SDK's clients, a
#: writer, a re-read after a reconnect) folds the same records, and decoding with its
#: checks costs far more than the rest of the fold. States are frozen, so sharing is safe.
_DECODED: OrderedDict[bytes, FlagState] = OrderedDict()
_DECODED_MAX = 512
_DECODED_MAX_BYTES = 16 * 1024  # larger values are decoded every time, never kept


def decode_state(raw: bytes) -> FlagState:
    raw = bytes(raw)  # the cache's key (a no-op for bytes)
    state = _DECODED.get(raw)
    if state is not None:
        _DECODED.move_to_end(raw)
        return state
    try:
        data = parse_json(raw)
    except UntrustedData as e:
        raise ValueError(f"value is {e}") from None
    state = state_from_json(data)
    if len(raw) <= _DECODED_MAX_BYTES:
        _DECODED[raw] = state
        if len(_DECODED) > _DECODED_MAX:
            _DECODED.popitem(last=False)
    return state


# ---------------------------------------------------------------- rollout and evaluation


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


# ---------------------------------------------------------------- the fold


def _header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for k, v in headers:
        if k == name:
            try:
                return v.decode()
            except UnicodeDecodeError:
                return None
    return None


class FlagLog:
    """The deterministic fold every reader applies to the topic, record by record (no I/O).

    `flags` holds the states in force. Rules, in order:
    1. a record without a key or a valid kafkaops-expects header, or whose value is not a
       valid state for its key, is ignored;
    2. the first record seen for a key is applied as it is (its predecessors, if any, were
       compacted away, and compaction leaves authoritative records: module docstring);
    3. otherwise it is applied iff `expects` equals the version in force (0 when absent),
       else rejected;
    4. an applied tombstone deletes; an applied restate must carry the version in force;
       any other applied state must carry a higher version than it replaces.
    """

    def __init__(self, *, keep_history: bool = False) -> None:
        self.flags: dict[str, FlagState] = {}
        #: keys seen at least once in this read of the log
        self.seen: set[str] = set()
        #: key -> True when the key's last record was applied (its tail is authoritative)
        self.tail_ok: dict[str, bool] = {}
        #: version a deleted flag had, so a re-created flag continues the numbering
        self.deleted_versions: dict[str, int] = {}
        self.keep_history = keep_history
        self.history: dict[str, list[FlagChange]] = {}
        #: offset of the next record to read
        self.next_offset = 0
        #: offset of the first record read (the log start, after compaction and retention)
        self.first_offset: int | None = None

    def apply(self, rec: LogRecord) -> FlagChange | None:
        """Fold one record; returns what happened to it (None for a record with no key)."""
        if self.first_offset is None:
            self.first_offset = rec.offset
        self.next_offset = rec.offset + 1
        if rec.key is None:
            return None
        try:
            key = rec.key.decode()
        except UnicodeDecodeError:
            return None
        h = rec.headers
        op = _header(h, H_OP) or "?"
        by, at, why = _header(h, H_BY) or "", _header(h, H_AT) or "", _header(h, H_REASON) or ""
        write_id = _header(h, H_WRITE_ID)
        expects_text = _header(h, H_EXPECTS)
        current = self.flags.get(key)
        state: FlagState | None = None
        note = ""
        outcome: Literal["applied", "rejected", "ignored"] = "applied"
        expects: int | None = None
        try:
            expects = int(expects_text) if expects_text is not None else None
        except ValueError:
            expects = None
        if expects is None or expects < 0:
            outcome, note = "ignored", f"no valid {H_EXPECTS} header: not a kafkaops write"
        elif rec.value is not None:
            try:
                state = decode_state(rec.value)
            except ValueError as e:
                outcome, note = "ignored", f"invalid flag state: {e}"
            else:
                if state.key != key:
                    outcome, note = "ignored", f"state names key {state.key!r}, record key {key!r}"
                    state = None
        if outcome == "applied" and key in self.seen:
            assert expects is not None
            in_force = current.version if current else 0
            if expects != in_force:
                outcome = "rejected"
                if current is None:
                    note = f"expected version {expects}, but the flag did not exist"
                else:
                    by_whom = f" (by {current.updated_by})" if current.updated_by else ""
                    note = f"expected version {expects}, but version {in_force} was in force"
                    note += by_whom
            elif state is not None and op == "restate" and state.version != in_force:
                outcome, note = "ignored", "restate of a version that is not in force"
            elif state is not None and op != "restate" and state.version <= expects:
                outcome, note = "ignored", f"version {state.version} does not advance {expects}"
        if outcome == "applied":
            if rec.value is None:
                if current is not None:
                    self.deleted_versions[key] = current.version
                self.flags.pop(key, None)
            else:
                assert state is not None
                self.flags[key] = state
                self.deleted_versions.pop(key, None)
        self.seen.add(key)
        self.tail_ok[key] = outcome == "applied"
        now = self.flags.get(key)
        change = FlagChange(
            offset=rec.offset,
            key=key,
            op=op,
            outcome=outcome,
            expects=expects,
            version=state.version if state else None,
            write_id=write_id,
            by=by or (state.updated_by if state else ""),
            at=at or (state.updated_at if state else ""),
            reason=why or (state.reason if state else ""),
            note=note,
            state=state,
            current_version=now.version if now else 0,
            current_by=now.updated_by if now else "",
            timestamp_ms=rec.timestamp_ms,
        )
        if self.keep_history:
            self.history.setdefault(key, []).append(change)
        return change

    def unhealthy_tails(self) -> list[str]:
        """Keys whose last record is not authoritative (need a restate before compaction)."""
        return sorted(k for k, ok in self.tail_ok.items() if not ok)

    def version_at_deletion(self, key: str) -> int:
        return self.deleted_versions.get(key, 0)


# ---------------------------------------------------------------- the store (reader)


def _client_options(name: str, cfg: ClusterConfig) -> dict[str, Any]:
    from kafkaops.core.kafka.connection import client_options

    opts: dict[str, Any] = client_options(name, cfg)
    return opts


async def topic_partitions(name: str, cfg: ClusterConfig, topic: str) -> int | None:
    """Partition count of `topic`, None when it does not exist. Raises ClusterUnreachable.

    Asks with allow_auto_topic_creation=False: Tansu (and Apache Kafka with
    auto.create.topics.enable, its default) would otherwise create the flags topic with
    default settings, not compacted and with several partitions.
    """
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError
    from aiokafka.protocol.metadata import MetadataRequest

    opts = _client_options(name, cfg)
    client = AIOKafkaClient(**opts)
    try:
        await client.bootstrap()
        node = client.get_random_node()
        if node is None:
            raise ClusterUnreachable(f"cluster {name!r}: no broker known")
        resp = await client.send(node, MetadataRequest([topic], False))
    except (KafkaError, OSError) as e:
        detail = str(e) or type(e).__name__
        raise ClusterUnreachable(
            f"cluster {name!r} unreachable at {cfg.bootstrap_servers}: {detail} "
            f"— check clusters.{name}.bootstrap_servers and that the brokers are up"
        ) from None
    finally:
        await client.close()
    for t in resp.to_object()["topics"]:
        if t["topic"] == topic and t["error_code"] == 0:
            return len(t["partitions"])
    return None


class FlagStore:
    """Reads the flags topic from its start and keeps folding it, live.

    Used by the writer (FlagService, with history) and by the SDK (FlagClient). The consumer
    is assigned the single partition (no group: every reader reads everything). When the
    offsets go backwards (the topic was recreated, or a new empty cluster answers at the
    same address) the fold starts again from scratch; `ready` says whether the fold has
    caught up with the topic since it last started.
    """

    def __init__(
        self,
        cluster: str,
        config: ClusterConfig,
        *,
        topic: str = FLAGS_TOPIC,
        keep_history: bool = False,
        fetch_max_wait: float = 0.1,
        listener: Callable[[FlagStore, FlagChange | None], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.config = config
        self.topic = topic
        self.keep_history = keep_history
        self.fetch_max_wait = fetch_max_wait
        self.listener = listener
        self.log = FlagLog(keep_history=keep_history)
        #: caught up with the topic at least once since the fold (re)started
        self.ready = False
        #: wall-clock time (s) of the last fetch response from the broker
        self.last_contact: float | None = None
        #: the run loop ended on an error it cannot recover from
        self.failed: str | None = None
        #: why the fold last started again from scratch, and when (None: it never did)
        self.restarted: str | None = None
        #: the log's end was seen below the position read; not ready until explained
        self.suspect = False
        self._watch: LogWatch | None = None
        self._consumer: Any = None
        self._tp: Any = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._waiters: dict[str, asyncio.Future[FlagChange]] = {}
        self._position = 0

    @property
    def flags(self) -> dict[str, FlagState]:
        return self.log.flags

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> bool:
        """Start reading. False (nothing started) when the topic does not exist.

        Raises ClusterUnreachable when no broker answers, KafkaOpsError when the topic does
        not have exactly one partition (the total order of writes depends on it).
        """
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.errors import KafkaError

        parts = await topic_partitions(self.cluster, self.config, self.topic)
        if parts is None:
            return False
        if parts != 1:
            raise KafkaOpsError(
                f"topic {self.topic!r} on cluster {self.cluster!r} has {parts} partitions; "
                "flags need exactly 1 (compare-and-set relies on one total order). "
                "Recreate it with 1 partition and cleanup.policy=compact"
            )
        consumer = AIOKafkaConsumer(
            **_client_options(self.cluster, self.config),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=max(int(self.fetch_max_wait * 1000), 1),
        )
        tp = TopicPartition(self.topic, 0)
        # aiokafka offers no public way to send a request over a consumer's connections;
        # its client is `_client` (LogWatch asks the topic's id through it)
        # a fetch round answers every fetch_max_wait + 0.2 s (the getmany below) when in
        # contact: two missed answers are lost contact
        watch = LogWatch(lambda: consumer._client, self.topic,
                         gap=2 * (self.fetch_max_wait + 0.2) + 0.2, check_every=5.0)
        watch.follow_connections(consumer._client)
        try:
            with reader_clients():  # a reader never creates the topic it reads
                await consumer.start()
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            await watch.identity()  # the log this fold reads
        except BaseException as e:  # cancellation included: never leave a client running
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await consumer.stop()
            if isinstance(e, KafkaError | OSError):
                raise ClusterUnreachable(
                    f"cluster {self.cluster!r} unreachable at {self.config.bootstrap_servers}: {e}"
                ) from None
            raise
        self._tp = tp
        self._consumer = consumer
        self._watch = watch
        if self.failed is not None or self.log.next_offset:  # a start after a stop: read anew
            self.failed = None
            self.log = FlagLog(keep_history=self.keep_history)
            self.ready = self.suspect = False
            self._position = 0
        self._task = asyncio.create_task(self._run(), name=f"flags-store-{self.cluster}")
        return True

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await stop_quietly(consumer)
        for fut in self._waiters.values():
            if not fut.done():
                fut.cancel()
        self._waiters.clear()

    async def _run(self) -> None:
        from aiokafka.errors import KafkaError

        consumer, tp = self._consumer, self._tp
        watch = self._watch
        assert watch is not None
        while True:
            try:
                batch = await consumer.getmany(tp, timeout_ms=int(self.fetch_max_wait * 1000) + 200)
                records = batch.get(tp, ())
                stamp = consumer.last_poll_timestamp(tp)
                answered = stamp / 1000 if stamp is not None else None
                if watch.due(answered, bool(records)):
                    # before using records that came after lost contact: are they the
                    # same log's? (module logwatch)
                    seen = await watch.identity()
                    if seen == "gone":
                        log.warning("flags: topic %s is gone from cluster %r", self.topic,
                                    self.cluster)
                        self.failed = (f"topic {self.topic} no longer exists on cluster "
                                       f"{self.cluster!r} (deleted, or the broker restarted "
                                       "empty)")
                        self._wake()
                        return
                    if seen == "new":
                        await self._refold(consumer, tp, "the topic was created again (new "
                                           "topic id): the broker restarted empty or someone "
                                           "recreated it")
                        continue
                high = consumer.highwater(tp)
                position = await consumer.position(tp)
                if high is not None and high < position:
                    # the log end is below what was read: not live until it is explained
                    if not self.suspect:
                        self.suspect, self.ready = True, False
                        seen = await watch.identity()  # a new topic id settles it at once
                        if seen == "gone":
                            log.warning("flags: topic %s is gone from cluster %r", self.topic,
                                        self.cluster)
                            self.failed = (f"topic {self.topic} no longer exists on cluster "
                                           f"{self.cluster!r}")
                            self._wake()
                            return
                        if seen == "new":
                            await self._refold(consumer, tp, "the topic was created again "
                                               "(new topic id)")
                            continue
                    if watch.behind(0, high, position, answered):
                        await self._refold(consumer, tp, f"the log end went back to offset "
                                           f"{high}, below offset {position} already read")
                        continue
                else:
                    watch.behind(0, high, position, answered)  # clears a passing doubt
                    self.suspect = False
            except asyncio.CancelledError:
                raise
            except KafkaError as e:  # e.g. the topic was deleted under us
                log.warning("flags: reading %s failed: %s", self.topic, e)
                self.failed = f"reading {self.topic} failed: {e}"
                self._wake()
                return
            except Exception as e:  # a bug must not leave a silent, frozen cache behind
                log.exception("flags: reading %s failed", self.topic)
                self.failed = f"reading {self.topic} failed: {type(e).__name__}: {e}"
                self._wake()
                return
            for rec in records:
                if rec.offset < self.log.next_offset:
                    # the log went backwards (aiokafka reset an out-of-range position)
                    self._restart_fold(f"offset {rec.offset} came after "
                                       f"{self.log.next_offset - 1} (offset out of range: the "
                                       "log was truncated or recreated)")
                self._apply(rec)
            if answered is not None:
                self.last_contact = answered
            self._position = position
            if not self.ready and not self.suspect and high is not None \
                    and self._position >= high:
                self.ready = True
                if self.listener is not None:
                    self.listener(self, None)
            self._wake()

    def _restart_fold(self, why: str) -> None:
        """Throw the fold away: what it holds came from a log that is no longer there."""
        log.warning("flags: %s on cluster %r: %s; reading it again from its start",
                    self.topic, self.cluster, why)
        self.restarted = f"{why} ({now_iso()})"
        self.log = FlagLog(keep_history=self.keep_history)
        self.ready = self.suspect = False
        self._position = 0

    async def _refold(self, consumer: Any, tp: Any, why: str) -> None:
        self._restart_fold(why)
        await consumer.seek_to_beginning(tp)
        self._wake()

    def _apply(self, rec: Any) -> None:
        change = self.log.apply(
            LogRecord(
                rec.offset,
                rec.key,
                rec.value,
                tuple((k, bytes(v)) for k, v in (rec.headers or ())),
                rec.timestamp or 0,
            )
        )
        if change is None:
            return
        if change.write_id is not None:
            fut = self._waiters.pop(change.write_id, None)
            if fut is not None and not fut.done():
                fut.set_result(change)
        if self.listener is not None and self.ready:
            self.listener(self, change)

    def _wake(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    async def progressed(self, limit: float) -> None:
        """Wait until the next fetch round ended (at most `limit` seconds).

        Every wait here uses asyncio.timeout, never asyncio.wait_for: on Python 3.11,
        wait_for loses a cancellation that arrives as the awaited event fires, and a
        stop() that cancels this loop then waits forever.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):  # not wait_for: see the docstring
                await self._progress.wait()

    async def wait_position(self, end: int, limit: float) -> None:
        """Wait (at most `limit` seconds) until every record before offset `end` is folded."""
        deadline = time.monotonic() + limit
        while max(self._position, self.log.next_offset) < end:
            if self.failed:
                raise KafkaOpsError(f"flags store stopped: {self.failed}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClusterUnreachable(
                    f"could not read {self.topic} up to offset {end} on cluster "
                    f"{self.cluster!r} within {limit:g}s (read up to "
                    f"{max(self._position, self.log.next_offset)})"
                )
            await self.progressed(left)

    def expect(self, write_id: str) -> asyncio.Future[FlagChange]:
        fut: asyncio.Future[FlagChange] = asyncio.get_running_loop().create_future()
        self._waiters[write_id] = fut
        return fut

    def forget(self, write_id: str) -> None:
        self._waiters.pop(write_id, None)


# ---------------------------------------------------------------- the writer


@dataclass(frozen=True)
class PendingWrite:
    """A write that passed its checks and is about to be put on the topic."""

    key: str
    """Flag key."""
    op: str
    """create, set, toggle, rollout, rollback or delete."""
    state: FlagState | None
    """The new state; None for a delete."""
    expects: int
    """Version it replaces (0: the flag must not exist)."""
    actor: str
    """Who makes it."""
    face: str
    """cli, console or slack."""
    reason: str
    """Why."""
    at: str
    """When it was prepared, ISO 8601 UTC."""
    params: dict[str, Any]
    """Parameters, for the audit trail."""


_UNSET: Any = object()


class FlagService:
    """Flags on one cluster for the control plane (CLI, console, Slack): read, write, history.

    `start()` reads the whole topic (with history) and keeps following it. Writes are
    compare-and-set (module docstring); each returns the new state once the record has been
    read back as applied, or raises Conflict. `actor` is who acts (user@host, a Slack user),
    `face` is cli, console or slack; both go into the record and the audit trail.
    """

    def __init__(
        self,
        services: Services | None,
        cluster: str,
        config: ClusterConfig,
        *,
        topic: str = FLAGS_TOPIC,
        connection: KafkaConnection | None = None,
        write_timeout: float = 15.0,
    ) -> None:
        self.services = services
        self.cluster = cluster
        self.config = config
        self.topic = topic
        self.write_timeout = write_timeout
        self._conn = connection
        self.store = FlagStore(cluster, config, topic=topic, keep_history=True)
        self._producer: Any = None
        self._start_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self.seq = 0
        self.store.listener = self._on_store

    # -------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Read the topic up to its end. A missing topic is not an error (no flags yet);
        each call looks again until it exists."""
        async with self._start_lock:
            if not self.store.running and await self.store.start():
                await self._catch_up()

    async def stop(self) -> None:
        await self.store.stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            await stop_quietly(producer)
        if self._conn is not None and self.services is None:
            await self._conn.stop()

    async def __aenter__(self) -> FlagService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def connection(self) -> KafkaConnection:
        if self._conn is None:
            if self.services is not None:
                self._conn = await self.services.connection(self.cluster)
            else:
                from kafkaops.core.kafka.connection import KafkaConnection

                conn = KafkaConnection(self.cluster, self.config)
                await conn.start()
                self._conn = conn
        return self._conn

    def _on_store(self, store: FlagStore, change: FlagChange | None) -> None:
        self.seq += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_changed(self, seen: int, limit: float | None = None) -> int:
        """Wait until the flags changed after sequence number `seen`; returns the new one.

        For live views: `seq = svc.seq; ...; seq = await svc.wait_changed(seq)`.
        """
        if self.seq == seen:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    await self._changed.wait()
        return self.seq

    async def _catch_up(self) -> None:
        """Fold every record written before now (the true end offset, Tansu-safe)."""
        from kafkaops.core.records import TopicPartition

        conn = await self.connection()
        tp = TopicPartition(self.topic, 0)
        marks = await conn.high_watermarks([tp])
        if tp not in marks:  # the connection's metadata predates the topic: refresh it
            await conn.metadata([self.topic])
            marks = await conn.high_watermarks([tp])
        if tp not in marks:
            raise ClusterUnreachable(
                f"cannot read the end of {self.topic} on cluster {self.cluster!r}: "
                "no leader for partition 0"
            )
        await self.store.wait_position(marks[tp][1], self.write_timeout)

    # -------------------------------------------------------- reads

    @property
    def topic_exists(self) -> bool:
        return self.store.running

    async def list_flags(self, *, fresh: bool = True) -> list[FlagState]:
        """Every flag, sorted by key. `fresh`: first read up to the topic's current end (what
        any writer has written before this call); a live view that follows changes anyway
        passes False and gets the store's state at once."""
        await self._read(fresh)
        return [self.store.flags[k] for k in sorted(self.store.flags)]

    async def get(self, key: str, *, fresh: bool = True) -> FlagState:
        """One flag (NotFound if it does not exist); `fresh` as for list_flags."""
        await self._read(fresh)
        state = self.store.flags.get(key)
        if state is None:
            raise NotFound(self._missing(key))
        return state

    def _missing(self, key: str) -> str:
        if not self.store.running:
            return (
                f"no flag named {key!r}: cluster {self.cluster!r} has no flags yet "
                f"(topic {self.topic} does not exist; `kafkaops flags create` makes it)"
            )
        known = sorted(self.store.flags)
        close = [k for k in known if key.lower() in k.lower() or k.lower() in key.lower()]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
        return f"no flag named {key!r} on cluster {self.cluster!r}{hint}"

    async def _read(self, fresh: bool) -> None:
        was_running = self.store.running
        await self.start()  # a start reads up to the end already
        if fresh and was_running:
            await self._catch_up()

    async def history(self, key: str) -> list[FlagChange]:
        """Every record of the flag still on the topic, oldest first, with its outcome."""
        await self._read(True)
        changes = self.store.log.history.get(key, [])
        if not changes:
            raise NotFound(f"no history for flag {key!r} on cluster {self.cluster!r}")
        return list(changes)

    @property
    def history_start(self) -> int | None:
        """First offset still on the topic (older records were compacted or expired)."""
        return self.store.log.first_offset

    async def evaluate(
        self, key: str, users: Sequence[str | None], attributes: Mapping[str, Any] | None = None
    ) -> list[Evaluation]:
        """The flag evaluated for each user exactly as the SDK does."""
        state = await self.get(key)
        return [evaluate(state, u, attributes) for u in users]

    # -------------------------------------------------------- writes

    async def check_version(
        self, key: str, expected: int | None, *, op: str, actor: str, face: str,
        reason: str = "",
    ) -> FlagState:
        """The flag as it is now. When `expected` (the version the person last saw) is not
        the version in force, the write is refused before it starts: the refusal goes to
        the audit trail (action flag.<op>, result refused) and Conflict is raised, nothing
        written. NotFound when the flag does not exist."""
        state = await self.get(key)
        if expected is not None and expected != state.version:
            error = version_conflict(state, expected)
            if self.services is not None:
                from kafkaops.core.audit.trails import record_refusal

                try:
                    await record_refusal(
                        self.services, actor=actor, face=face, action=f"flag.{op}",
                        target=key, params={"expect_version": expected}, error=str(error),
                        cluster=self.cluster, context={"reason": reason or None})
                except KafkaOpsError as e:  # the refusal stands either way
                    log.error("could not audit the refusal of flag.%s %s by %s: %s", op, key,
                              actor, e)
            raise error
        return state

    def _require_writable(self, action: str) -> None:
        if self.services is not None:
            self.services.require_writable(self.cluster, action)
        elif self.config.read_only:
            raise Refused(f"cluster {self.cluster!r} is read-only; refusing to {action}")

    async def create(
        self,
        key: str,
        *,
        type: str = "bool",  # noqa: A002 - the flag's type, as the CLI names it
        default: Any = _UNSET,
        value: Any = _UNSET,
        owner: str = "",
        description: str = "",
        tags: Sequence[str] = (),
        rollout: float = 100.0,
        variants: Sequence[Variant] = (),
        rules: Sequence[Rule] = (),
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """A new flag, disabled. Conflict if it exists (also when created concurrently)."""
        check_key(key)
        ftype = check_type(type)
        if default is _UNSET:
            default = {"bool": False, "string": "", "number": 0, "json": None}[ftype]
        default = check_value(ftype, default, "default")
        if value is _UNSET:
            value = (not default) if ftype == "bool" else default
        value = check_value(ftype, value, "value")
        params = {
            "type": ftype,
            "default": default,
            "value": value,
            "owner": owner,
            "description": description,
            "tags": list(tags),
        }

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            return FlagState(
                key=key,
                type=ftype,
                enabled=False,
                value=value,
                default=default,
                rollout=rollout,
                variants=tuple(variants),
                rules=tuple(rules),
                owner=owner,
                description=description,
                tags=tuple(tags),
                version=version,
                updated_by=actor,
                updated_at=at,
                reason=reason,
                created_by=actor,
                created_at=at,
            )

        return _written(
            await self._write(
                key, "create", build, None, actor=actor, face=face, reason=reason, params=params
            )
        )

    async def set(
        self,
        key: str,
        *,
        value: Any = _UNSET,
        default: Any = _UNSET,
        owner: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        variants: Sequence[Variant] | None = None,
        rules: Sequence[Rule] | None = None,
        enabled: bool | None = None,
        rollout: float | None = None,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Change any of a flag's fields (the others stay as they are)."""
        params: dict[str, Any] = {
            k: v
            for k, v in {
                "value": value,
                "default": default,
                "owner": owner,
                "description": description,
                "tags": list(tags) if tags is not None else None,
                "variants": [dataclasses.asdict(x) for x in variants]
                if variants is not None
                else None,
                "rules": [str(r) for r in rules] if rules is not None else None,
                "enabled": enabled,
                "rollout": rollout,
            }.items()
            if v is not None and v is not _UNSET
        }
        if not params:
            raise UsageError(f"nothing to change on flag {key!r}: name a value or an option")
        if rollout is not None:
            check_rollout(rollout)  # before anything is read or audited

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            changes: dict[str, Any] = {}
            if value is not _UNSET:
                changes["value"] = check_value(current.type, value, "value")
            if default is not _UNSET:
                changes["default"] = check_value(current.type, default, "default")
            for name, v in (
                ("owner", owner),
                ("description", description),
                ("enabled", enabled),
            ):
                if v is not None:
                    changes[name] = v
            if tags is not None:
                changes["tags"] = tuple(tags)
            if variants is not None:
                changes["variants"] = tuple(variants)
            if rules is not None:
                changes["rules"] = tuple(rules)
            if rollout is not None:
                changes["rollout"] = check_rollout(rollout)
            return _next(current, version, actor, at, reason, **changes)

        return _written(
            await self._write(
                key,
                "set",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason,
                params=params,
            )
        )

    async def toggle(
        self,
        key: str,
        enabled: bool | None = None,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Switch the flag on or off (`enabled`), or flip it (None)."""

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            target = (not current.enabled) if enabled is None else enabled
            return _next(current, version, actor, at, reason, enabled=target)

        params = {"enabled": "flip" if enabled is None else enabled}
        return _written(
            await self._write(
                key,
                "toggle",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason,
                params=params,
            )
        )

    async def rollout(
        self,
        key: str,
        percent: float | str,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Set the rollout percentage (0-100)."""
        pct = check_rollout(percent)

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            return _next(current, version, actor, at, reason, rollout=pct)

        return _written(
            await self._write(
                key,
                "rollout",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason,
                params={"rollout": pct},
            )
        )

    async def rollback(
        self,
        key: str,
        to_version: int,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> FlagState:
        """Restore the flag's content as it was at `to_version` (as a new version)."""
        if isinstance(to_version, bool) or not isinstance(to_version, int) or to_version < 1:
            raise UsageError(f"rollback needs a version number >= 1, got {to_version!r}")
        await self._read(True)
        target = self.version_state(key, to_version)

        def build(current: FlagState | None, version: int, at: str) -> FlagState:
            assert current is not None
            if current.version == to_version:
                raise UsageError(f"flag {key!r} is already at version {to_version}")
            return dataclasses.replace(
                target,
                version=version,
                updated_by=actor,
                updated_at=at,
                reason=reason or f"rollback to version {to_version}",
                created_by=current.created_by,
                created_at=current.created_at,
            )

        return _written(
            await self._write(
                key,
                "rollback",
                build,
                expect_version,
                actor=actor,
                face=face,
                reason=reason or f"rollback to version {to_version}",
                params={"to_version": to_version},
            )
        )

    def version_state(self, key: str, version: int) -> FlagState:
        """The state the flag had at `version`, from the history still on the topic."""
        found = [
            c.state
            for c in self.store.log.history.get(key, [])
            if c.outcome == "applied"
            and c.state is not None
            and c.state.version == version
            and c.op != "restate"
        ]
        if not found:
            kept = sorted(
                {
                    c.state.version
                    for c in self.store.log.history.get(key, [])
                    if c.outcome == "applied" and c.state is not None
                }
            )
            listing = ", ".join(str(v) for v in kept) or "none"
            raise NotFound(
                f"version {version} of flag {key!r} is not on the topic (versions kept: {listing})"
            )
        return found[-1]

    async def delete(
        self,
        key: str,
        *,
        expect_version: int | None = None,
        actor: str,
        face: str,
        reason: str = "",
    ) -> None:
        """Delete the flag (a tombstone). SDKs then serve their callers' defaults."""
        await self._write(
            key,
            "delete",
            None,
            expect_version,
            actor=actor,
            face=face,
            reason=reason,
            params={},
        )

    # -------------------------------------------------------- the write path

    async def _write(
        self,
        key: str,
        op: str,
        build: Callable[[FlagState | None, int, str], FlagState] | None,
        expect_version: int | None,
        *,
        actor: str,
        face: str,
        reason: str,
        params: Mapping[str, Any],
    ) -> FlagState | None:
        """Compare-and-set one write through the audit trail's one path (`record_change`:
        read-only refusal first, then the intent, the change, and its outcome; a Conflict
        is audited as refused). Returns the new state (None for a delete)."""
        from kafkaops.core.audit.log import record_change

        if self.services is None:
            raise Refused("flag changes are audited: build FlagService with the Services of a face")
        check_key(key)
        if not actor:
            raise UsageError("a flag change needs an actor (who is making it)")
        if build is not None and op != "create":
            await self._refuse_no_op(key, build, expect_version)

        async def apply() -> FlagState | None:
            async with self._write_lock:
                pending = await self._prepare(
                    key,
                    op,
                    build,
                    expect_version,
                    actor=actor,
                    face=face,
                    reason=reason,
                    params=params,
                )
                return await self._commit(pending)

        result: FlagState | None = await record_change(
            self.services,
            actor=actor,
            face=face,
            action=f"flag.{op}",
            target=key,
            params=dict(params, expect_version=expect_version),
            apply=apply,
            cluster=self.cluster,
            summarize=_audit_detail,
            reason=reason,
        )
        return result

    async def _refuse_no_op(
        self, key: str, build: Callable[[FlagState | None, int, str], FlagState],
        expect_version: int | None,
    ) -> None:
        """Raise NothingToChange, before anything is written or audited, when the change
        would leave the flag exactly as it is (a rollout of 25% to 25%, switching on a flag
        that is on). Anything this check cannot tell (the topic unreadable, the flag
        missing, a stale `expect_version`) is left to the write path, which reports it."""
        try:
            await self._read(True)
        except KafkaOpsError:
            return
        current = self.store.flags.get(key)
        if current is None or (expect_version is not None and expect_version != current.version):
            return
        proposed = build(current, current.version + 1, now_iso())
        if same_content(current, proposed):
            raise NothingToChange(
                f"nothing to change: flag {key!r} is already {state_summary(current)}; "
                "nothing was written")

    async def _prepare(
        self,
        key: str,
        op: str,
        build: Callable[[FlagState | None, int, str], FlagState] | None,
        expect_version: int | None,
        *,
        actor: str,
        face: str,
        reason: str,
        params: Mapping[str, Any],
    ) -> PendingWrite:
        """Phase 1: catch up, check, build the record. Raises (writing nothing) on a stale
        `expect_version`, a missing flag or bad input."""
        self._require_writable(f"{op} flag {key!r}")
        if op == "create":
            await self._ensure_topic()
        await self.start()
        if not self.store.running:
            raise NotFound(self._missing(key))
        await self._catch_up()
        await self._repair_all(actor)
        current = self.store.flags.get(key)
        in_force = current.version if current else 0
        if op == "create":
            if current is not None:
                raise StaleVersion(
                    f"flag {key!r} already exists (version {current.version}, "
                    f"by {current.updated_by or 'unknown'} at {current.updated_at}); "
                    "nothing was written"
                )
        elif current is None:
            raise NotFound(self._missing(key))
        if expect_version is not None and expect_version != in_force:
            raise version_conflict(current, expect_version, key)
        at = now_iso()
        if op == "create":
            new_version = self.store.log.version_at_deletion(key) + 1
        else:
            new_version = in_force + 1
        state = None if build is None else check_state(build(current, new_version, at))
        return PendingWrite(key, op, state, in_force, actor, face, reason, at, dict(params))

    async def _commit(self, pending: PendingWrite) -> FlagState | None:
        """Phase 2: write the record, read it back; Conflict if another write came first.

        Between the phases another writer may write: then the log decides, the losing
        record is rejected by every reader, and the loser restates before raising.
        """
        p = pending
        change = await self._produce(p.key, p.op, p.state, p.expects, p.actor, p.at, p.reason)
        if change.outcome != "applied":
            await self._repair(p.key, p.actor)
            raise StaleVersion(
                f"flag {p.key!r} was changed by someone else at the same time: you expected "
                f"version {p.expects}, but version {change.current_version} by "
                f"{change.current_by or 'unknown'} came first. Your change was not "
                f"applied (it is in the history as rejected, offset {change.offset})."
            )
        return p.state

    async def _produce(
        self,
        key: str,
        op: str,
        state: FlagState | None,
        expects: int,
        actor: str,
        at: str,
        reason: str,
    ) -> FlagChange:
        """Write one record and wait until the store has folded it; returns its outcome."""
        from aiokafka.errors import KafkaError

        producer = await self._get_producer()
        write_id = uuid.uuid4().hex
        headers = [
            (H_EXPECTS, str(expects).encode()),
            (H_WRITE_ID, write_id.encode()),
            (H_OP, op.encode()),
            (H_BY, actor.encode()),
            (H_AT, at.encode()),
            (H_REASON, reason.encode()),
        ]
        fut = self.store.expect(write_id)
        try:
            meta = await producer.send_and_wait(
                self.topic,
                None if state is None else encode_state(state),
                key=key.encode(),
                partition=0,
                headers=headers,
            )
        except (KafkaError, OSError) as e:
            self.store.forget(write_id)
            raise ClusterUnreachable(
                f"cluster {self.cluster!r}: could not write flag {key!r}: {e} "
                "— nothing was changed unless `kafkaops flags history` shows it"
            ) from None
        try:
            async with asyncio.timeout(self.write_timeout):
                return await fut
        except TimeoutError:
            self.store.forget(write_id)
            raise KafkaOpsError(
                f"wrote flag {key!r} at offset {meta.offset} but could not read it back "
                f"within {self.write_timeout:g}s; check `kafkaops flags history {key}` "
                "before trying again",
                retriable=True,
            ) from None

    async def _repair(self, key: str, actor: str, attempts: int = 5) -> None:
        """Make the key's last record authoritative again by restating what is in force.

        Not audited on its own: a restate changes no state (the write that caused it is).

        A restate is itself compare-and-set; if another write slips in first, that write is
        authoritative and the loop ends, or the restate lost and is retried.
        """
        for _ in range(attempts):
            await self._catch_up()
            if self.store.log.tail_ok.get(key, True):
                return
            current = self.store.flags.get(key)
            in_force = current.version if current else 0
            await self._produce(
                key,
                "restate",
                current,
                in_force,
                actor,
                now_iso(),
                "restate after a rejected write (keeps compaction safe)",
            )
        log.warning("flags: could not restate %r after %d attempts", key, attempts)

    async def _repair_all(self, actor: str) -> None:
        for key in self.store.log.unhealthy_tails():
            await self._repair(key, actor)

    async def _get_producer(self) -> Any:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer
            from aiokafka.errors import KafkaError

            producer = AIOKafkaProducer(
                **_client_options(self.cluster, self.config), acks="all", linger_ms=0
            )
            try:
                await producer.start()
            except BaseException as e:  # cancellation included: never leave a client running
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await producer.stop()
                if not isinstance(e, KafkaError | OSError):
                    raise
                raise ClusterUnreachable(
                    f"cluster {self.cluster!r} unreachable at {self.config.bootstrap_servers}: {e}"
                ) from None
            self._producer = producer
        return self._producer

    async def _ensure_topic(self) -> None:
        """Create the flags topic (1 partition, compacted) if it does not exist yet."""
        if self.store.running:
            return
        from kafkaops.core.topics.service import NewTopicSpec, TopicService

        conn = await self.connection()
        meta = await conn.metadata()
        if self.topic not in meta.topics:
            replicas = max(1, min(3, len(meta.brokers)))
            await TopicService(conn).create_topics(
                [
                    NewTopicSpec(
                        self.topic,
                        1,
                        replicas,
                        {
                            "cleanup.policy": "compact",
                            "min.compaction.lag.ms": str(MIN_COMPACTION_LAG_MS),
                        },
                    )
                ]
            )
        deadline = time.monotonic() + self.write_timeout
        while True:  # metadata may lag the creation a moment
            async with self._start_lock:  # a concurrent start() must not start a second reader
                if self.store.running or await self.store.start():
                    return
            if time.monotonic() > deadline:
                raise KafkaOpsError(f"created topic {self.topic!r} but it does not show up")
            await asyncio.sleep(0.05)


def version_conflict(current: FlagState | None, expected: int, key: str = "") -> StaleVersion:
    """The Conflict for a write that names a version the flag is no longer at."""
    if current is None:
        return StaleVersion(
            f"flag {key!r} does not exist (you expected version {expected}); nothing was written"
        )
    return StaleVersion(
        f"flag {current.key!r} is at version {current.version} (changed by "
        f"{current.updated_by or 'unknown'} at {current.updated_at}"
        + (f": {current.reason}" if current.reason else "")
        + f"), not {expected}; nothing was written. Look at that change, then retry "
        f"against version {current.version}"
    )


def _audit_detail(state: FlagState | None) -> dict[str, Any]:
    """What the audit record says a flag write produced."""
    if state is None:
        return {"deleted": True}
    return {"version": state.version, "enabled": state.enabled, "rollout": state.rollout}


def _written(state: FlagState | None) -> FlagState:
    assert state is not None
    return state


def _next(
    current: FlagState, version: int, actor: str, at: str, reason: str, **changes: Any
) -> FlagState:
    return dataclasses.replace(
        current, version=version, updated_by=actor, updated_at=at, reason=reason, **changes
    )


def same_content(current: FlagState, proposed: FlagState) -> bool:
    """The proposed state serves exactly what the current one does: only the bookkeeping
    (version, who, when, why) differs."""
    return dataclasses.replace(
        proposed, version=current.version, updated_by=current.updated_by,
        updated_at=current.updated_at, reason=current.reason, created_by=current.created_by,
        created_at=current.created_at,
    ) == current


def state_summary(state: FlagState) -> str:
    """One line for people: `on, 30% rollout, value true (v4)`."""
    parts = ["on" if state.enabled else "off"]
    if state.rollout < 100:
        parts.append(f"{state.rollout:g}% rollout")
    if state.variants:
        parts.append("variants " + ", ".join(f"{v.name}:{v.weight}" for v in state.variants))
    if state.rules:
        parts.append("rules " + "; ".join(str(r) for r in state.rules))
    parts.append(f"value {json.dumps(state.value)}")
    return ", ".join(parts) + f" (v{state.version})"


__all__ = [
    "BUCKETS",
    "FLAGS_TOPIC",
    "Evaluation",
    "FlagChange",
    "FlagLog",
    "FlagService",
    "FlagState",
    "FlagStore",
    "LogRecord",
    "Rule",
    "Variant",
    "bucket",
    "check_rollout",
    "evaluate",
    "in_rollout",
    "local_actor",
    "parse_rule",
    "parse_value",
    "parse_variant",
    "pick_variant",
    "state_from_json",
    "state_to_json",
    "version_conflict",
]
