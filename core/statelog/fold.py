"""The compare-and-set rule decided by log order, as a pure fold (no I/O).

Every record of a compare-and-set log proposes a new state for one key: the version it
creates and the version it `expects` to replace (0: the key must be absent). Every reader
folds the log in offset order with the same rule, so every reader reaches the same state
and the same verdict on each record:

1. a record that cannot be read as a write (damaged, foreign, unsigned or signed with
   another key) is `ignored`; under a key that has a state in force it is noted in
   `tampered`, so a caller can refuse to act on what someone wrote by hand;
2. the first record met for a key is `applied` as it is: it is the key's first write, or
   its predecessors were removed (compaction, retention), and the log's owner keeps what is
   left authoritative;
3. otherwise a record is `applied` only when `expects` equals the version in force (0 when
   absent), else it is `rejected`: of two writers that both read version n and both write
   "n+1 expects n", the one first in the log wins on every reader and the other loses on
   every reader;
4. an applied record must move the version on: a restate (the state in force written again,
   to keep a compacted key's last record authoritative) carries the version in force,
   every other record a later one (the next one exactly unless the log allows gaps); one
   that does not is `ignored`. A record without a state deletes the key.

A writer learns whether it won by reading the log back past its own record (its
`write_id` comes back in a `Decision`): module kafkaops.core.statelog.outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

S = TypeVar("S")
Outcome = Literal["applied", "rejected", "ignored"]


class Invalid(Exception):
    """A record that is not a write of this log; the message says why (a reader's note)."""


@dataclass(frozen=True)
class Proposal(Generic[S]):
    """One record read as a write: what it proposes for its key."""

    key: str
    """The key it writes."""
    expects: int
    """Version it replaces (0: the key must be absent)."""
    version: int
    """Version it creates (for a delete, the version it carries, else `expects` + 1)."""
    state: S | None
    """The new state; None deletes the key."""
    write_id: str | None = None
    """Unique id of the write, so its writer can tell whether it won."""
    restate: bool = False
    """Re-publishes the version in force (same version, expecting it): a no-op for readers
    that are up to date, the truth for a reader that starts after compaction."""


@dataclass(frozen=True)
class Decision(Generic[S]):
    """What the fold made of one record."""

    offset: int
    """Offset of the record."""
    key: str
    """The record's key."""
    outcome: Outcome
    """applied, rejected (lost a compare-and-set) or ignored (not a valid write)."""
    note: str
    """Why it was rejected or ignored; empty when applied."""
    proposal: Proposal[S] | None
    """The write as read; None when the record could not be read as one."""
    before: int
    """Version in force before the record (0: absent)."""
    after: int
    """Version in force after it."""

    @property
    def write_id(self) -> str | None:
        return self.proposal.write_id if self.proposal is not None else None


class CasFold(Generic[S]):
    """The states in force per key, by the compare-and-set rule (module docstring).

    `gaps`: an applied write may jump versions (a re-created flag continues the numbering
    of the deleted one); without it a write must create exactly `expects` + 1.
    `what`: how a rejection names a key's owner in its note ("the flag").
    """

    def __init__(self, *, gaps: bool = False, what: str = "the key") -> None:
        self.gaps = gaps
        self.what = what
        #: key -> state in force
        self.states: dict[str, S] = {}
        #: key -> version in force
        self.versions: dict[str, int] = {}
        #: keys met at least once in this read of the log
        self.seen: set[str] = set()
        #: key -> True when the key's last record was applied (its tail is authoritative)
        self.tail_ok: dict[str, bool] = {}
        #: version a deleted key had, so a re-created key can continue the numbering
        self.deleted_versions: dict[str, int] = {}
        #: key -> offsets of records ignored while the key had a state in force
        self.tampered: dict[str, list[int]] = {}

    def version(self, key: str) -> int:
        """Version in force for `key` (0: absent)."""
        return self.versions.get(key, 0)

    def apply(self, offset: int, key: str, read: Proposal[S] | Invalid) -> Decision[S]:
        """Fold one record (`read`: the write it carries, or why it is not one)."""
        before = self.version(key)
        outcome, note = self._judge(key, before, read)
        proposal = read if isinstance(read, Proposal) else None
        if outcome == "applied":
            assert proposal is not None
            if proposal.state is None:
                if key in self.versions:
                    self.deleted_versions[key] = before
                self.states.pop(key, None)
                self.versions.pop(key, None)
            else:
                self.states[key] = proposal.state
                self.versions[key] = proposal.version
                self.deleted_versions.pop(key, None)
        elif outcome == "ignored" and key in self.versions:
            self.tampered.setdefault(key, []).append(offset)
        self.seen.add(key)
        self.tail_ok[key] = outcome == "applied"
        return Decision(offset, key, outcome, note, proposal, before, self.version(key))

    def _judge(self, key: str, before: int, read: Proposal[S] | Invalid) -> tuple[Outcome, str]:
        if isinstance(read, Invalid):
            return "ignored", str(read)
        if read.expects < 0:
            return "ignored", f"expects version {read.expects}: not a write of this log"
        if key not in self.seen:
            return "applied", ""
        if read.expects != before:
            if key not in self.versions:
                return "rejected", f"expected version {read.expects}, but {self.what} did not exist"
            return "rejected", f"expected version {read.expects}, but version {before} was in force"
        if read.state is None:
            return "applied", ""
        if read.restate:
            if read.version != before:
                return "ignored", "restate of a version that is not in force"
        elif self.gaps and read.version <= read.expects:
            return "ignored", f"version {read.version} does not advance {read.expects}"
        elif not self.gaps and read.version != read.expects + 1:
            return "ignored", f"version {read.version} does not follow {read.expects}"
        return "applied", ""

    def unhealthy_tails(self) -> list[str]:
        """Keys whose last record is not authoritative (they need a restate before
        compaction could keep a loser)."""
        return sorted(k for k, ok in self.tail_ok.items() if not ok)

    def forget(self, key: str) -> None:
        """Drop a key entirely (its records left the log by retention)."""
        for table in (self.states, self.versions, self.tail_ok, self.deleted_versions,
                      self.tampered):
            table.pop(key, None)
        self.seen.discard(key)
