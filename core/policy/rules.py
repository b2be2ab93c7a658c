"""Topic policies from config, checked against what the broker reports. Pure: no I/O.

    policies:
      - name: iac-retention
        match: {topic: "iac.*"}
        require: {retention: ">= 7y", cleanup_policy: delete, min_insync_replicas: ">= 2"}
      - name: logs-compressed
        match: {topic: "logs.*"}
        require: {compression_type: [lz4, snappy, zstd]}

A requirement's key is a topic config written with `_` or `.` (`cleanup_policy`,
`max.message.bytes`; `retention` is `retention.ms`), or `partitions` /
`replication_factor`. Its value is one value, a list of allowed values, or a comparison.
Values are read by the config's kind: `*.ms` are durations (`500ms`, `30s`, `12h`, `7d`,
`2w`, `7y` = 7 x 365 days; a bare number is milliseconds), `*.bytes` are sizes (`1GB` =
10^9, `1GiB` = 2^30; a bare number is bytes), counts are numbers, `cleanup.policy` is a set
(`compact,delete`), the rest are names compared without case. For retention, -1 (keep
forever) is more than any duration or size.

A config the broker does not report (the embedded broker reports only configs set
explicitly) is "unknown": listed, never taken as compliant.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from kafkaops.core.errors import ConfigError
from kafkaops.core.policy.model import (
    Finding,
    Fix,
    Op,
    Policy,
    Requirement,
    TopicFacts,
    ValueKind,
)

if TYPE_CHECKING:
    from kafkaops.core.config import Config

#: topic configs of Apache Kafka 3.x/4.x (what a requirement may name)
TOPIC_CONFIGS = frozenset({
    "cleanup.policy", "compression.type", "compression.gzip.level", "compression.lz4.level",
    "compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
    "flush.ms", "follower.replication.throttled.replicas", "index.interval.bytes",
    "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
    "max.compaction.lag.ms", "max.message.bytes", "message.downconversion.enable",
    "message.format.version", "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms", "message.timestamp.difference.max.ms",
    "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms",
    "min.insync.replicas", "preallocate", "remote.storage.enable", "retention.bytes",
    "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
    "unclean.leader.election.enable",
})
#: requirements on the topic's shape, read from metadata (not configs)
SHAPE = ("partitions", "replication_factor")
ALIASES = {"retention": "retention.ms", "replicas": "replication_factor",
           "replication.factor": "replication_factor"}
#: configs where -1 means "no limit"
UNLIMITED = frozenset({"retention.ms", "retention.bytes", "local.retention.ms",
                       "local.retention.bytes"})
MATCH_KEYS = ("topic", "cluster", "team")
MAX_VALUES = 50

_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
                   "w": 7 * 86_400_000, "y": 365 * 86_400_000}
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_NUMBER_UNIT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_OP = re.compile(r"^\s*(>=|<=|!=|==|>|<|=)\s*(.*)$")


def kind_of(key: str) -> ValueKind:
    if key in ("partitions", "replication_factor", "min.insync.replicas", "flush.messages",
               "min.cleanable.dirty.ratio") or key.endswith(".level"):
        return "number"
    if key.endswith(".ms"):
        return "duration"
    if key.endswith(".bytes"):
        return "size"
    if key == "cleanup.policy" or key.endswith(".replicas"):
        return "set"
    if key.endswith(".enable") or key == "preallocate":
        return "bool"
    return "text"


def config_key(written: str) -> str:
    """The config a requirement key names: aliases, then `_` read as `.`."""
    key = written.strip().lower()
    key = ALIASES.get(key, key)
    if key in SHAPE:
        return key
    return ALIASES.get(key.replace("_", "."), key.replace("_", "."))


# ---------------------------------------------------------------- values


def parse_number(kind: ValueKind, text: str, key: str = "") -> float:
    """A value of a number kind as a float (ms, bytes or a count); ValueError saying what
    was expected. -1 of a retention config is infinity."""
    m = _NUMBER_UNIT.match(text)
    if not m or len(text) > 40:
        raise ValueError(_expected(kind))
    number, unit = float(m.group(1)), m.group(2).lower()
    if key in UNLIMITED and number == -1 and not unit:
        return math.inf
    if kind == "duration":
        if unit not in _DURATION_UNITS and unit:
            raise ValueError(_expected(kind))
        value = number * _DURATION_UNITS.get(unit, 1)
    elif kind == "size":
        if unit not in _SIZE_UNITS and unit:
            raise ValueError(_expected(kind))
        value = number * _SIZE_UNITS.get(unit, 1)
    else:
        if unit:
            raise ValueError(_expected(kind))
        value = number
    if not math.isfinite(value) or value < 0 or value > 2**63:
        raise ValueError(_expected(kind))
    return value


def _expected(kind: ValueKind) -> str:
    return {
        "duration": "a duration such as 500ms, 30s, 12h, 7d or 7y (a bare number is ms)",
        "size": "a size such as 1048576, 100MB or 1GiB (a bare number is bytes)",
        "number": "a number",
    }.get(kind, "a value")


def shown(kind: ValueKind, value: float) -> str:
    """A number of a kind as people read it: 7y, 30d, 1GiB, 3."""
    if math.isinf(value):
        return "unlimited"
    if kind == "duration":
        for unit in ("y", "w", "d", "h", "m", "s"):
            size = _DURATION_UNITS[unit]
            if value >= size and value % size == 0:
                return f"{int(value // size)}{unit}"
        return f"{value:g}ms"
    if kind == "size":
        for unit in ("TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "KB"):
            size = _SIZE_UNITS[unit.lower()]
            if value >= size and value % size == 0:
                return f"{int(value // size)}{unit}"
        return f"{value:g}B"
    return f"{value:g}"


def kafka_text(kind: ValueKind, value: float) -> str:
    """A number as the config value Kafka takes (integer ms or bytes; -1 for unlimited)."""
    if math.isinf(value):
        return "-1"
    return str(int(value)) if value == int(value) else repr(value)


def _norm(kind: ValueKind, text: str) -> str:
    text = text.strip()
    if kind == "set":
        return ",".join(sorted({p.strip().lower() for p in text.split(",") if p.strip()}))
    return text.lower()


# ---------------------------------------------------------------- requirements


def parse_requirement(written: str, spec: str | Sequence[str]) -> Requirement:
    """One `require:` entry; ValueError saying what is wrong (the caller names the key)."""
    key = config_key(written)
    if key not in SHAPE and key not in TOPIC_CONFIGS:
        known = sorted(TOPIC_CONFIGS | set(SHAPE) | {"retention"})
        best = difflib.get_close_matches(key, known, n=1) or difflib.get_close_matches(
            written, [k.replace(".", "_") for k in known], n=1)
        hint = f"; did you mean {best[0]!r}?" if best else ""
        raise ValueError(f"not a topic config nor partitions/replication_factor{hint}")
    kind = kind_of(key)
    numeric = kind in ("duration", "size", "number")
    op: Op
    if isinstance(spec, list | tuple):
        if not spec:
            raise ValueError("the list of allowed values is empty")
        if len(spec) > MAX_VALUES:
            raise ValueError(f"at most {MAX_VALUES} allowed values")
        op, raw = "in", [str(v) for v in spec]
    else:
        m = _OP.match(str(spec))
        if m:
            op = "==" if m.group(1) == "=" else m.group(1)  # type: ignore[assignment]
            raw = [m.group(2)]
        else:
            op, raw = "==", [str(spec)]
        if op in (">", ">=", "<", "<=") and not numeric:
            raise ValueError(f"{op} compares numbers, and {key} is "
                             f"{'a set of names' if kind == 'set' else 'a name'}: give the "
                             "value, or a list of allowed values")
    if any(not r.strip() for r in raw):
        raise ValueError("give a value, e.g. " + ("\">= 7d\"" if numeric else "delete"))
    numbers: tuple[float, ...] = ()
    if numeric:
        numbers = tuple(parse_number(kind, r, key) for r in raw)
        values = tuple(shown(kind, n) for n in numbers)
    elif kind == "bool":
        values = tuple(_norm(kind, r) for r in raw)
        if any(v not in ("true", "false") for v in values):
            raise ValueError("true or false")
    else:
        values = tuple(_norm(kind, r) for r in raw)
    return Requirement(key, written, kind, op, values, numbers)


def compile_policies(config: Config) -> tuple[Policy, ...]:
    """Every policy in config, parsed. ConfigError naming the policy and key."""
    out: list[Policy] = []
    seen: set[str] = set()
    for i, p in enumerate(config.policies):
        where = f"{config.source}: policies[{i}] ({p.name})"
        if not p.name.strip():
            raise ConfigError(f"{config.source}: policies[{i}].name: give the policy a name")
        if p.name in seen:
            raise ConfigError(f"{where}.name: {p.name!r} is used twice")
        seen.add(p.name)
        for key, pattern in p.match.items():
            if key not in MATCH_KEYS:
                raise ConfigError(f"{where}: match.{key}: unknown key (expected one of: "
                                  f"{', '.join(MATCH_KEYS)})")
            if not pattern.strip():
                raise ConfigError(f"{where}: match.{key}: empty pattern (leave it out to "
                                  "match everything)")
        team = p.match.get("team")
        if team is not None and team not in config.teams:
            raise ConfigError(f"{where}: match.team: no team named {team!r} under teams: "
                              f"(configured: {', '.join(config.teams) or 'none'})")
        if not p.require:
            raise ConfigError(f"{where}: require: name at least one config, e.g. "
                              "{cleanup_policy: delete}")
        reqs: list[Requirement] = []
        for key, spec in p.require.items():
            try:
                req = parse_requirement(key, spec)
            except ValueError as e:
                raise ConfigError(f"{where}: require.{key}: {e}") from None
            if any(r.key == req.key for r in reqs):
                raise ConfigError(f"{where}: require.{key}: {req.key} is required twice")
            reqs.append(req)
        out.append(Policy(p.name, dict(p.match), tuple(reqs)))
    return tuple(out)


def check_policies(config: Config) -> None:
    """Validation hook called when config is loaded."""
    compile_policies(config)


# ---------------------------------------------------------------- checking


def applies(policy: Policy, facts: TopicFacts) -> bool:
    m = policy.match
    pattern = m.get("topic")
    if facts.internal and (pattern is None or not pattern.startswith("_")):
        return False  # kafkaops' and Kafka's own topics only when a policy names them
    if pattern is not None and not fnmatch.fnmatchcase(facts.topic, pattern):
        return False
    if "cluster" in m and not fnmatch.fnmatchcase(facts.cluster, m["cluster"]):
        return False
    return not ("team" in m and facts.team != m["team"])


def found_value(req: Requirement, facts: TopicFacts) -> tuple[bool, str | None]:
    """(reported, value as text) of what a requirement reads on a topic."""
    if req.key == "partitions":
        return True, str(facts.partitions)
    if req.key == "replication_factor":
        return True, str(facts.replication_factor)
    if req.key not in facts.configs:
        return False, None
    value = facts.configs[req.key]
    return value is not None, value


def meets(req: Requirement, value: str) -> bool:
    """The reported value meets the requirement (a value that cannot be read does not)."""
    if req.numbers:
        try:
            v = parse_number(req.kind, value, req.key)
        except ValueError:
            return False
        if req.op == "in":
            return v in req.numbers
        want = req.numbers[0]
        return {"==": v == want, "!=": v != want, ">=": v >= want, ">": v > want,
                "<=": v <= want, "<": v < want}[req.op]
    got = _norm(req.kind, value)
    if req.op == "in":
        return got in req.values
    return (got == req.values[0]) if req.op == "==" else (got != req.values[0])


def show_found(req: Requirement, value: str | None) -> str:
    if value is None:
        return "not reported"
    if req.numbers and req.kind != "number":
        try:
            n = parse_number(req.kind, value, req.key)
        except ValueError:
            return value
        human = shown(req.kind, n)
        return value if human == value else f"{value} ({human})"
    return value


def fix_for(req: Requirement, facts: TopicFacts) -> tuple[Fix | None, str]:
    """(the config change that meets the requirement, or None with what to do instead)."""
    if not req.is_config:
        what = ("add partitions or recreate the topic with more" if req.key == "partitions"
                else "reassign the partitions to more brokers (kafka-reassign-partitions)")
        return None, f"not a topic config: {what}"
    if req.op == "!=":
        return None, f"set {req.key} to a value other than {req.values[0]}"
    if req.numbers:
        want = req.numbers[0]
        if req.op == ">" and math.isfinite(want):
            want += 1
        elif req.op == "<":
            if math.isinf(want):
                return None, f"set {req.key} to a limit"
            want -= 1
        if req.key == "min.insync.replicas" and want > facts.replication_factor:
            return None, (f"the replication factor is {facts.replication_factor}: raise it to "
                          f"{shown(req.kind, want)} or more first (min.insync.replicas above "
                          "it refuses every acks=all write)")
        return Fix(req.key, kafka_text(req.kind, want), shown(req.kind, want)), ""
    return Fix(req.key, req.values[0], req.values[0]), ""


def fix_command(cluster: str | None, topic: str) -> str:
    """The command that applies every config fix of a topic."""
    where = f"-c {shlex.quote(cluster)} " if cluster else ""
    return f"kafkaops {where}policy fix {shlex.quote(topic)}"


def check(policies: Iterable[Policy], topics: Iterable[TopicFacts], *,
          cluster_flag: str | None = None) -> tuple[list[Finding], int, int]:
    """(findings, topic-and-policy pairs checked, topics some policy applies to).
    `cluster_flag`: the -c name to put in fix commands (None: leave it out)."""
    pols = list(policies)
    findings: list[Finding] = []
    checked = 0
    covered = 0
    for facts in sorted(topics, key=lambda f: f.topic):
        hit = False
        for policy in pols:
            if not applies(policy, facts):
                continue
            hit = True
            checked += 1
            for req in policy.requires:
                reported, value = found_value(req, facts)
                if reported and value is not None and meets(req, value):
                    continue
                fix, instead = fix_for(req, facts)
                command = fix_command(cluster_flag, facts.topic) if fix is not None else instead
                findings.append(Finding(
                    cluster=facts.cluster, topic=facts.topic, team=facts.team,
                    policy=policy.name, rule=req.describe(), key=req.key,
                    status="violation" if reported else "unknown", found=value,
                    found_shown=show_found(req, value), fix=fix, fix_command=command))
        covered += hit
    return findings, checked, covered


def by_topic(findings: Iterable[Finding]) -> Mapping[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.topic, []).append(f)
    return out
