"""Flags' model and pure rules, no I/O: the record layout (headers, key form), a flag's
state and its JSON form, the checks and parsers of values, rules, variants and rollouts.

Shared by the writer (kafkaops.core.flags.writer), the reader every face and the SDK use
(kafkaops.core.flags.store) and the SDK (kafkaops.core.flags.sdk); importing it loads no
Kafka client, audit or face code. The layout and the compare-and-set rule are described in
kafkaops.core.flags.writer's docstring; evaluation is in kafkaops.core.flags.evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kafkaops.core.errors import UsageError
from kafkaops.core.untrusted import MAX_JSON_DEPTH, UntrustedData, parse_json

FLAGS_TOPIC = "_kafkaops.flags"
FLAG_TYPES = ("bool", "string", "number", "json")
FlagType = Literal["bool", "string", "number", "json"]
#: the cleaner leaves records younger than this alone: the window for repairs (see flags/writer.py)
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
