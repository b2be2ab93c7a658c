"""The audit trail's records as read back, and what verification reports: frozen data, no I/O.

A record's fields, in the order they are written (the log's format is described in
core/audit/log.py, its tamper evidence in core/audit/chain.py):

    v, id, time (ms), cluster, actor, face, action, target, params, result, detail, error,
    writer, seq, prev, head, sig
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.untrusted import parse_json

if TYPE_CHECKING:
    from kafkaops.core.messages.model import Message

Face = Literal["console", "slack", "cli"]
Result = Literal["intent", "ok", "error", "refused", "interrupted", "cancelled", "expired",
                 "tampered"]
FACES = ("console", "slack", "cli")
#: `intent` opens a change (written before it acts); the others are outcomes
RESULTS = ("intent", "ok", "error", "refused", "interrupted", "cancelled", "expired",
           "tampered")
INTENT = "intent"
VERSION = 1
FIELDS = ("v", "id", "time", "cluster", "actor", "face", "action", "target", "params",
           "result", "detail", "error", "writer", "seq", "prev", "head")


class AuditError(KafkaOpsError):
    """The audit trail could not be written or read."""


@dataclass(frozen=True)
class AuditRecord:
    """One record of the trail, as read back."""

    id: str
    """Id of the change (also the Kafka record key)."""
    time: int
    """When the change finished, ms since the epoch (the writer's clock)."""
    cluster: str
    """Cluster that was changed."""
    actor: str
    """Who: user@host for the CLI and console, the Slack user for the bot."""
    face: str
    """console, slack or cli."""
    action: str
    """What kind of change, e.g. dlq.replay, flag.write, offsets.reset, failover."""
    target: str
    """What was changed: a topic, a flag key, a group..."""
    params: dict[str, Any]
    """The parameters of the change."""
    result: str
    """intent (the change was about to be made; no outcome recorded yet), ok, error,
    refused, interrupted; cancelled, expired (a confirmation not given) or tampered (a
    confirmation altered outside kafkaops, refused)."""
    detail: Any
    """What the change reported on success (e.g. counts)."""
    error: str | None
    """The error message when result is not ok."""
    writer: str
    """Id of the writer (one per running console, bot or CLI invocation)."""
    seq: int
    """Position in its writer's chain, from 1."""
    partition: int = 0
    """Where the record is on the audit topic."""
    offset: int = -1
    """Where the record is on the audit topic."""
    requested_by: str | None = None
    """Who asked for the change, when someone else confirmed it (Slack)."""
    confirmed_by: str | None = None
    """Who confirmed it (Slack; also the actor)."""
    reason: str | None = None
    """Why, as given with --reason."""
    channel: str | None = None
    """The Slack channel it was asked in."""
    trail: str = ""
    """The cluster whose audit topic holds it (a listing of several trails sets it)."""
    problem: str | None = None
    """Set by listings that verify: the kind of problem it has (malformed, bad-signature,
    altered, duplicate, missing, reordered, rewritten), None when it verified."""

    @classmethod
    def from_fields(cls, d: Mapping[str, Any], *, partition: int = 0,
                    offset: int = -1) -> AuditRecord:
        def opt(k: str) -> str | None:
            return str(d[k]) if d.get(k) is not None else None

        return cls(
            id=str(d["id"]), time=int(d["time"]), cluster=str(d["cluster"]),
            actor=str(d["actor"]), face=str(d["face"]), action=str(d["action"]),
            target=str(d["target"]), params=dict(d.get("params") or {}),
            result=str(d["result"]), detail=d.get("detail"), error=d.get("error"),
            writer=str(d["writer"]), seq=int(d["seq"]), partition=partition, offset=offset,
            requested_by=opt("requested_by"), confirmed_by=opt("confirmed_by"),
            reason=opt("reason"), channel=opt("channel"),
        )


#: optional fields a record carries when they are known, signed like the others
CONTEXT_FIELDS = ("requested_by", "confirmed_by", "reason", "channel")


ProblemKind = Literal["malformed", "bad-signature", "altered", "duplicate", "missing",
                      "reordered", "rewritten", "no-outcome"]


@dataclass(frozen=True)
class AuditProblem:
    partition: int
    """Partition of the bad record."""
    offset: int
    """Offset of the bad record."""
    kind: str
    """malformed, bad-signature (forged or altered), altered (a changed copy of a record that
    is also there), duplicate (a replayed copy), missing, reordered, rewritten (the record
    its head names is not there: records were removed or inserted before it), no-outcome
    (a change's intent with no outcome after it: its process stopped mid-change, or it is
    still running; what it did is unknown until someone looks and closes it)."""
    message: str
    """What is wrong, for a person."""


@dataclass(frozen=True)
class VerifyReport:
    topic: str
    """The audit topic."""
    records: int
    """Records read."""
    writers: int
    """Distinct writers whose records verified."""
    problems: tuple[AuditProblem, ...]
    """Everything wrong, in offset order."""
    log_start: int = 0
    """First offset still on the topic (older ones went by retention)."""
    head_offset: int | None = None
    """Offset of the last record."""
    head_sig: str | None = None
    """Its signature: keep a copy apart to detect removal of the newest records."""

    @property
    def ok(self) -> bool:
        return not self.problems


def fold_changes(records: list[AuditRecord]) -> list[AuditRecord]:
    """One row per change: an intent is left out once its outcome is on the trail."""
    closed = {r.id for r in records if r.result != INTENT}
    return [r for r in records if r.result != INTENT or r.id not in closed]


def parse_records(msgs: Sequence[Message], skipped: list[tuple[int, str]] | None
                  ) -> list[AuditRecord]:
    """The messages that are audit records; the others go to `skipped` as (offset, why)."""
    out: list[AuditRecord] = []
    for m in msgs:
        try:
            d = parse_json(m.value)
            out.append(AuditRecord.from_fields(d, partition=m.partition, offset=m.offset))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            why = str(e) if isinstance(e, ValueError) else f"not an audit record ({e})"
            if skipped is not None:
                skipped.append((m.offset, why))
    return out

