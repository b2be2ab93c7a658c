"""The audit trail's tamper evidence, as pure functions: signing a record and checking a trail.

Tamper evidence, and why several writers at once never raise a false alarm:
- `sig` = HMAC-SHA256 (key: audit.signing_key) over the canonical JSON of every other field:
  a changed field or a record made without the key is detected.
- Each `AuditLog` instance is a *writer* with its own id and its own chain: `seq` counts its
  records from 1 and `prev` is the sig of its previous record. Writers never coordinate, so
  two consoles and a bot interleave freely; within one chain a gap is a missing record, a
  smaller seq after a larger one is a reordered record, and the same sig twice is a replayed
  copy.
- `head` = (offset, sig) of the last record on the topic when this one was written. Kafka
  offsets never change, so removing or inserting a record anywhere (which means rewriting
  the topic) shifts later records away from what their heads saw: detected even when a
  whole chain is removed. What no hash chain can show is the removal of the newest records
  at the very end; `verify` prints the head so it can be compared with a copy kept apart.

`verify_trail` is the check over (partition, offset, value) triples (tested with tables);
`AuditLog.verify()` (core/audit/log.py) reads the topic and runs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkaops.core.audit.model import (
    CONTEXT_FIELDS,
    FIELDS,
    INTENT,
    VERSION,
    AuditProblem,
    VerifyReport,
)
from kafkaops.core.records import to_jsonable
from kafkaops.core.untrusted import UntrustedData, parse_json


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: every field but `sig`, as sorted, compact JSON."""
    body = {k: v for k, v in fields.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sign(fields: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the canonical form, hex."""
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()


def digest(value: bytes | None) -> str:
    """What a `head` names a record by: its sig when it is an audit record, else a hash of
    its bytes (so a later record can still point at a foreign record that sat at the head)."""
    if value:
        try:
            d = parse_json(value)
            if isinstance(d, dict) and isinstance(d.get("sig"), str):
                return str(d["sig"])
        except ValueError:
            pass
    return "sha256:" + hashlib.sha256(value or b"").hexdigest()


def build_record(
    *, key: bytes, change_id: str, time_ms: int, cluster: str, actor: str, face: str, action: str,
    target: str, params: Mapping[str, Any], result: str, detail: Any, error: str | None,
    writer: str, seq: int, prev: str, head: tuple[int, str] | None,
    context: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A signed record (the dict that is written as JSON); `context` adds the
    CONTEXT_FIELDS that are known."""
    fields: dict[str, Any] = {
        "v": VERSION, "id": change_id, "time": time_ms, "cluster": cluster, "actor": actor,
        "face": face, "action": action, "target": target, "params": _plain(params),
        "result": result, "detail": _plain(detail), "error": error, "writer": writer,
        "seq": seq, "prev": prev,
        "head": None if head is None else {"offset": head[0], "sig": head[1]},
    }
    fields.update({k: str(v) for k, v in (context or {}).items() if k in CONTEXT_FIELDS and v})
    fields["sig"] = sign(fields, key)
    return fields


def _plain(value: Any) -> Any:
    """Records and tuples to JSON data; anything else JSON cannot hold becomes its str()."""
    return json.loads(json.dumps(to_jsonable(value), default=str, allow_nan=False))


@dataclass
class _Chain:
    last_seq: int = 0
    last_sig: str = ""
    last_offset: int = -1
    sigs: dict[int, tuple[str, int]] = field(default_factory=dict)  # seq -> (sig, offset)


def verify_trail(
    records: Sequence[tuple[int, int, bytes | None]], key: bytes, *, log_start: int = 0,
    topic: str = "",
) -> VerifyReport:
    """Check a trail. `records` are (partition, offset, value) in offset order, starting at
    `log_start` (records before it went by retention and are not asked for)."""
    problems: list[AuditProblem] = []
    by_offset: dict[int, str] = {}
    valid: list[tuple[int, int, dict[str, Any]]] = []
    seen_sigs: dict[str, int] = {}
    #: (change id, is an intent) -> first good record: an intent and its outcome share an id
    by_id: dict[tuple[str, bool], tuple[int, dict[str, Any]]] = {}

    def bad(part: int, off: int, kind: str, msg: str) -> None:
        problems.append(AuditProblem(part, off, kind, msg))

    parsed: list[tuple[int, int, dict[str, Any] | None, str]] = []
    for part, off, value in records:
        by_offset[off] = digest(value)
        d: Any = None
        why = ""
        try:
            d = parse_json(value) if value else None
        except UntrustedData as e:
            why = str(e)
        if d is not None and not isinstance(d, dict):
            d, why = None, "not a JSON object"
        if d is None and not why:
            why = "empty value"
        if d is not None:
            missing = [f for f in (*FIELDS, "sig") if f not in d]
            if missing:
                d, why = None, "fields missing: " + ", ".join(missing)
            elif not isinstance(d["seq"], int) or not isinstance(d["sig"], str):
                d, why = None, "seq or sig has the wrong type"
        parsed.append((part, off, d, why))

    # first pass: signatures (a bad record must not feed the chains)
    for part, off, d, why in parsed:
        if d is None:
            bad(part, off, "malformed", f"not an audit record ({why}): written by hand?")
            continue
        try:
            expected = sign(d, key)
        except (TypeError, ValueError):
            expected = ""
        if not hmac.compare_digest(expected, d["sig"]):
            continue  # judged below, once the good records are known
        if d["sig"] in seen_sigs:
            bad(part, off, "duplicate",
                f"replayed copy of the record at offset {seen_sigs[d['sig']]} "
                f"(writer {d['writer']} seq {d['seq']})")
            continue
        seen_sigs[d["sig"]] = off
        by_id.setdefault((str(d["id"]), d.get("result") == INTENT), (off, d))
        valid.append((part, off, d))

    valid_offsets = {off for _, off, _ in valid}
    # seqs held by records whose signature failed: reported as such, not again as missing
    all_seqs: dict[str, set[int]] = {}
    for part, off, d, _ in parsed:
        if d is None or off in valid_offsets or any(
                p.offset == off for p in problems):
            continue
        all_seqs.setdefault(str(d["writer"]), set()).add(d["seq"])
        phase = d.get("result") == INTENT
        original = by_id.get((str(d.get("id")), phase)) or by_id.get(
            (str(d.get("id")), not phase))
        if original is not None:
            changed = sorted(k for k in set(d) | set(original[1])
                             if k != "sig" and d.get(k) != original[1].get(k))
            bad(part, off, "altered",
                f"altered copy of the record at offset {original[0]}: signature does not "
                f"match; changed: {', '.join(changed) or 'the signature itself'}")
        else:
            bad(part, off, "bad-signature",
                "signature does not match: a field was changed, or the record was forged "
                "without the signing key (or signed with another key)")

    # second pass: chains per writer and head links
    chains: dict[str, _Chain] = {}
    for _, _, d in valid:
        all_seqs.setdefault(str(d["writer"]), set()).add(int(d["seq"]))
    for part, off, d in valid:
        w, seq = str(d["writer"]), int(d["seq"])
        chain = chains.setdefault(w, _Chain())
        short = w[:12]
        if seq <= chain.last_seq:
            later = chain.sigs.get(chain.last_seq, ("", -1))[1]
            bad(part, off, "reordered",
                f"writer {short} seq {seq} stands after its seq {chain.last_seq} "
                f"(offset {later}): records were reordered")
            continue
        expected_first = chain.last_seq == 0
        if expected_first and seq != 1 and log_start == 0:
            gap = [s for s in range(1, seq) if s not in all_seqs[w]]
            if gap:
                bad(part, off, "missing",
                    f"writer {short} starts at seq {seq}: {_span(gap)} missing before it")
        elif not expected_first and seq != chain.last_seq + 1:
            gap = [s for s in range(chain.last_seq + 1, seq) if s not in all_seqs[w]]
            if gap:
                bad(part, off, "missing",
                    f"writer {short} jumps from seq {chain.last_seq} (offset "
                    f"{chain.last_offset}) to {seq}: {_span(gap)} missing")
        elif not expected_first and d["prev"] != chain.last_sig:
            bad(part, off, "rewritten",
                f"writer {short} seq {seq} does not follow its seq {chain.last_seq}: "
                "prev does not match")
        head = d.get("head")
        if isinstance(head, dict) and isinstance(head.get("offset"), int):
            h_off = head["offset"]
            if h_off >= off:
                bad(part, off, "rewritten",
                    f"it saw offset {h_off} as the newest record, but stands at offset {off}: "
                    "records before it were removed")
            elif h_off >= log_start and by_offset.get(h_off) != head.get("sig"):
                bad(part, off, "rewritten",
                    f"the record at offset {h_off} is not the one it saw there: records "
                    "before it were removed or inserted")
        chain.last_seq, chain.last_sig, chain.last_offset = seq, str(d["sig"]), off
        chain.sigs[seq] = (str(d["sig"]), off)

    problems.extend(_unreconciled(valid))
    problems.sort(key=lambda p: (p.partition, p.offset))
    last = records[-1] if records else None
    return VerifyReport(
        topic=topic, records=len(records), writers=len(chains), problems=tuple(problems),
        log_start=log_start, head_offset=last[1] if last else None,
        head_sig=digest(last[2]) if last else None,
    )


def _unreconciled(valid: Sequence[tuple[int, int, dict[str, Any]]]) -> list[AuditProblem]:
    """Intents with no outcome after them (any writer's: a resume closes a dead one's)."""
    open_: dict[str, tuple[int, int, dict[str, Any]]] = {}
    for part, off, d in valid:
        cid = str(d["id"])
        if d.get("result") == INTENT:
            open_.setdefault(cid, (part, off, d))
        else:
            open_.pop(cid, None)
    out = []
    for part, off, d in open_.values():
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(d["time"]) / 1000)) \
            if isinstance(d.get("time"), int) else "?"
        out.append(AuditProblem(
            part, off, "no-outcome",
            f"change {d['id']} ({d.get('action')} {d.get('target')} on {d.get('cluster')} by "
            f"{d.get('actor')}, {when}) has an intent and no outcome: the process stopped "
            "before recording what happened, or the change is still running; check "
            f"{d.get('target')} (a failover's `resume` records it)"))
    return out


def _span(seqs: list[int]) -> str:
    if len(seqs) == 1:
        return f"seq {seqs[0]} is"
    if seqs == list(range(seqs[0], seqs[-1] + 1)):
        return f"seq {seqs[0]}..{seqs[-1]} are"
    return "seq " + ", ".join(map(str, seqs)) + " are"

