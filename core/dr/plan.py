"""A failover's plan and the pure rules that make it: no I/O here (core/dr/planner.py reads
the clusters, core/dr/failover.py runs it).

The plan (`FailoverPlan`):
- pre-checks: target reachable and not read-only (never overridable), the pair's active
  cluster is the run's source, no other run unfinished; heartbeat age and replication lag
  within RPO, translated offsets inside the target's log, groups without active members
  on the target (these refuse unless `force`); warnings for what will be reprocessed or
  cannot be translated;
- per group and partition: the group's offset on the source, its newest checkpoint and its
  age, the translated offset and how it was found, the target's log start and end, what
  will be committed and how many records the group will read again.

How offsets are translated:
1. the source is reachable: the group's current committed offset N goes through MM2's own
   OffsetSyncStore rules (core/dr/mm2_offsets.py) over the offset syncs MM2 wrote (the
   offset MM2's next checkpoint for N would carry; never more than one record past a sync,
   so it never skips a record the group has not read), and the group's newest checkpoint,
   read as RemoteClusterUtils.translateOffsets reads it (last in log order wins), counts
   too when its upstream offset is <= N (a group that rewound after it would skip). The larger of
   the two is used: both are safe, and MM2 itself never moves a checkpoint back;
2. the source is unreachable: the newest checkpoint, as RemoteClusterUtils returns it;
3. topics that came from the target in the first place (failback of a remote copy such as
   `primary.orders` on dr back to `orders` on primary) use the opposite flow's offset
   syncs backwards (mm2_offsets.translate_upstream), with the same never-skip rule.
Every translated offset is checked against the target partition's log start and end: past
the end is an MM2 translation bug and the group is not moved; below the start the offset
is raised to the log start (those records are gone on the target either way).

The plan is what a person confirms: `fingerprint` names the decision it shows, `describe()`
says it in words for every face, `runbook` lists its steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from kafkaops.core.config import DrPairConfig
from kafkaops.core.dr.control import (
    ControlView,
    Direction,
)
from kafkaops.core.dr.mm2_formats import Checkpoint
from kafkaops.core.dr.mm2_offsets import (
    OffsetSyncStore,
)
from kafkaops.core.dr.rpo import fmt_age as _fmt_age
from kafkaops.core.records import TopicPartition

CheckStatus = Literal["ok", "warn", "fail"]
Method = Literal["offset-sync", "checkpoint", "reverse-offset-sync", "none"]


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Precheck:
    """One pre-check of a failover."""

    name: str
    """What is checked."""
    status: CheckStatus
    """ok, warn (go ahead, but read this) or fail."""
    detail: str
    """The finding, in words."""
    overridable: bool = True
    """A failure `--force` may override (some never are: an unreachable target...)."""


@dataclass(frozen=True)
class PartitionPlan:
    """What happens to one partition of a group."""

    topic: str
    """Topic on the target (the one the offset is committed for)."""
    partition: int
    """Partition."""
    source_topic: str
    """Topic on the source."""
    source_offset: int | None
    """The group's committed offset on the source (None: unknown or none)."""
    checkpoint: tuple[int, int] | None
    """Newest MM2 checkpoint (source offset, target offset), None when there is none."""
    checkpoint_age_seconds: float | None
    """Age of that checkpoint."""
    translated: int | None
    """The translated offset before the log-bounds check (None: cannot translate)."""
    method: Method
    """How it was translated."""
    target_start: int | None
    """Log start offset of the target partition."""
    target_end: int | None
    """True end offset of the target partition."""
    current: int | None
    """The group's committed offset on the target now."""
    offset: int | None
    """What will be committed (None: nothing for this partition)."""
    reprocess: int | None
    """Records the group will read again on the target (estimate; None: unknown)."""
    note: str = ""
    """Anything to know, in words."""
    out_of_range: bool = False
    """The translated offset lies past the target's log end: it is never committed."""


@dataclass(frozen=True)
class GroupPlan:
    """What happens to one consumer group."""

    group: str
    """Consumer group id."""
    action: Literal["move", "leave"]
    """move: its offsets are committed on the target; leave: nothing is done to it."""
    reason: str
    """Why, in words."""
    partitions: tuple[PartitionPlan, ...]
    """Per partition."""
    checkpoint_age_seconds: float | None
    """Age of the group's newest checkpoint (None: no checkpoint)."""
    source_members: int | None
    """Active members on the source (None: source unreachable)."""
    target_members: int | None
    """Active members on the target."""
    reprocess: int | None
    """Records it will read again in total (None: unknown)."""

    @property
    def offsets(self) -> dict[TopicPartition, int]:
        """Offsets to commit on the target."""
        return {TopicPartition(p.topic, p.partition): p.offset
                for p in self.partitions if p.offset is not None}


def _plain_mark(status: str) -> str:
    return ""


@dataclass(frozen=True)
class PlanWords:
    """How a face marks up a plan's words: plain text (CLI, console) or Slack mrkdwn."""

    text: Callable[[str], str] = str
    """Words from the plan's data (check names)."""
    code: Callable[[str], str] = str
    """A name: a pair, a cluster, an option."""
    em: Callable[[str], str] = str
    """The direction."""
    strong: Callable[[str], str] = str
    """What must not be missed: a failed verdict, the records read again."""
    mark: Callable[[str], str] = _plain_mark
    """What stands before a verdict of this status (ok, warn, fail)."""
    arrow: str = "->"


PLAIN = PlanWords()


@dataclass(frozen=True)
class FailoverPlan:
    """Everything a failover (or failback) will do, before it does it."""

    pair: str
    """DR pair."""
    direction: Direction
    """failover (primary -> secondary) or failback."""
    source: str
    """Cluster that is active now."""
    target: str
    """Cluster that will be active."""
    source_alias: str
    """MM2 alias of the source."""
    target_alias: str
    """MM2 alias of the target."""
    active: str
    """Active cluster per _kafkaops.control."""
    epoch: int
    """Active epoch now."""
    new_epoch: int
    """Epoch the target becomes active with."""
    rpo_seconds: float
    """Configured RPO."""
    heartbeat_age_seconds: float | None
    """Newest heartbeat across the flow source -> target."""
    replication_lag_seconds: float | None
    """Worst replication lag source -> target (None: unknown)."""
    prechecks: tuple[Precheck, ...]
    """Pre-checks."""
    groups: tuple[GroupPlan, ...]
    """Groups, in the order they will be moved."""
    steps: tuple[str, ...]
    """The runbook, in words."""
    generated_at: float
    """When the plan was made."""

    @property
    def failed(self) -> list[Precheck]:
        return [c for c in self.prechecks if c.status == "fail"]

    @property
    def fingerprint(self) -> str:
        """A short hash of the decision this plan asks a person to confirm: the clusters and
        epoch, which groups move and which are left, which partitions of each get an offset,
        which checks failed. A face that showed a plan passes it back to
        `execute(fingerprint=...)`, which refuses if the fresh plan's decision differs (a
        Slack button can carry it).

        Not the offsets themselves: a group whose consumers still run on the source commits
        every second, and its translated offsets move with it, so a hash of them changes
        between showing and running whenever consumers are active. Execute commits the
        offsets translated when it runs (newer, never older, than those shown); the run's
        audit records hold exactly what was committed."""
        import hashlib
        import json

        data = {
            "pair": self.pair, "direction": self.direction, "source": self.source,
            "target": self.target, "epoch": self.epoch,
            "groups": {g.group: [g.action, sorted(
                [p.topic, p.partition] for p in g.partitions if p.offset is not None
                and g.action == "move")] for g in self.groups},
            "failed": sorted(c.name for c in self.failed),
        }
        raw = json.dumps(data, sort_keys=True).encode("utf-8")
        return hashlib.sha256(raw).hexdigest()[:16]

    @property
    def allowed(self) -> bool:
        """True when execute would go ahead without --force."""
        return not self.failed

    @property
    def forceable(self) -> bool:
        """True when --force would let it go ahead."""
        return all(c.overridable for c in self.failed)

    @property
    def warned(self) -> list[Precheck]:
        return [c for c in self.prechecks if c.status == "warn"]

    @property
    def moving(self) -> list[GroupPlan]:
        """The groups whose offsets are committed on the target."""
        return [g for g in self.groups if g.action == "move"]

    @property
    def left(self) -> list[GroupPlan]:
        """The groups left as they are."""
        return [g for g in self.groups if g.action != "move"]

    @property
    def reread(self) -> tuple[int, bool]:
        """(records the moving groups read again, True when that is only a lower bound:
        a group's count is unknown)."""
        moving = self.moving
        return (sum(g.reprocess or 0 for g in moving),
                any(g.reprocess is None for g in moving))

    def verdict(self, words: PlanWords | None = None, *, force: bool = False) -> str:
        """The pre-checks' verdict. Never says they passed when one of them warns."""
        w = words or PLAIN
        if self.allowed:
            if self.warned:
                names = w.text(", ".join(c.name for c in self.warned))
                return w.mark("warn") + f"no pre-check failed; {len(self.warned)} warned ({names})"
            return w.mark("ok") + "every pre-check passed"
        failed = w.text(", ".join(c.name for c in self.failed))
        if force and self.forceable:
            return (w.mark("warn") + w.strong(f"pre-checks FAILED ({failed}) and --force "
                                              "overrides them")
                    + ": data within the failed checks may be lost or read again")
        refuses = "execute refuses unless " if self.forceable else "execute refuses, even with "
        return (w.mark("fail") + w.strong(f"pre-checks FAILED ({failed})") + ": " + refuses
                + w.code("--force"))

    def describe(self, words: PlanWords | None = None, *, force: bool = False
                 ) -> tuple[str, ...]:
        """The plan for people, in every face's words: what becomes active, what moves and
        how much is read again, the RPO and what was measured, the verdict. Each group's
        offsets and each step are in the plan's own fields."""
        w = words or PLAIN
        moving, left = self.moving, self.left
        reread, unknown = self.reread
        moves = (f"Moves {len(moving)} consumer group{'s' * (len(moving) != 1)}"
                 + (f", leaves {len(left)} as {'they are' if len(left) != 1 else 'it is'}"
                    if left else "")
                 + (f"; about {w.strong(f'{reread:,}')}{'+' if unknown else ''} record"
                    f"{'' if reread == 1 and not unknown else 's'} read again"
                    if moving else ""))
        return (
            f"{w.em(self.direction)} of pair {w.code(self.pair)}: {w.code(self.target)} "
            f"becomes active instead of {w.code(self.source)} (epoch {self.epoch} {w.arrow} "
            f"{self.new_epoch})",
            moves,
            f"RPO target {_fmt_age(self.rpo_seconds)} · replication lag "
            f"{_fmt_age(self.replication_lag_seconds)} · heartbeat "
            f"{_fmt_age(self.heartbeat_age_seconds)} old",
            self.verdict(w, force=force),
        )


# ---------------------------------------------------------------- pure decisions


def decide_forward(
    source_offset: int | None,
    source_reachable: bool,
    translated_by_syncs: int | None,
    checkpoint: Checkpoint | None,
) -> tuple[int | None, Method, str]:
    """(translated offset, method, note) for a partition MM2 replicates source -> target.

    translated_by_syncs: MM2's translation of source_offset over the offset syncs (None: no
    syncs; -1: behind every retained sync)."""
    if source_reachable:
        if source_offset is None:
            return None, "none", "the group has no committed offset here on the source"
        # Both are safe lower bounds of where the group's next record sits on the target: the
        # checkpoint translated an offset the group has passed. MM2 keeps the checkpoint when
        # a new translation would be lower (it never moves one back), so the larger wins,
        # and on a tie the checkpoint: it is what RemoteClusterUtils.translateOffsets returns.
        usable_cp = checkpoint is not None and checkpoint.upstream_offset <= source_offset
        by_cp = checkpoint.downstream_offset if checkpoint is not None and usable_cp else None
        by_sync = (translated_by_syncs
                   if translated_by_syncs is not None and translated_by_syncs >= 0 else None)
        if by_cp is not None and (by_sync is None or by_cp >= by_sync):
            return by_cp, "checkpoint", ""
        if by_sync is not None:
            return by_sync, "offset-sync", ""
        why = (
            "behind every offset sync MM2 kept" if translated_by_syncs == -1
            else "no offset sync for this partition yet"
        )
        if checkpoint is not None:
            why += " (its checkpoint is newer than its offset: it rewound; not used)"
        return None, "none", why
    if checkpoint is not None:
        return checkpoint.downstream_offset, "checkpoint", "source unreachable: last checkpoint"
    return None, "none", "source unreachable and no checkpoint"


def bound_offset(
    translated: int | None, target_start: int | None, target_end: int | None
) -> tuple[int | None, str, bool]:
    """(offset to commit, note, invalid) after checking the target's log bounds.

    Past the end: invalid (an MM2 translation bug; never committed). Below the start:
    raised to the start (the records before it are gone on the target anyway)."""
    if translated is None:
        return None, "", False
    if target_end is None or target_start is None:
        return None, "target partition does not exist", True
    if translated > target_end:
        return None, (
            f"translated offset {translated} is past the log end {target_end} on the target "
            "(an MM2 translation bug): not committed"
        ), True
    if translated < target_start:
        return target_start, (
            f"translated offset {translated} is below the log start {target_start}: "
            f"records {translated}..{target_start - 1} were deleted on the target before "
            "the group read them; committing the log start"
        ), False
    return translated, "", False


def reprocess_estimate(
    offset: int | None, position: int | None, target_end: int | None
) -> int | None:
    """Records the group reads again: from `offset` to where its source position lands on
    the target (`position`, estimated one-for-one from the newest sync), within the log."""
    if offset is None or position is None or target_end is None:
        return None
    return max(min(position, target_end) - offset, 0)


def target_position(syncs: OffsetSyncStore, tp: TopicPartition, source_offset: int) -> int | None:
    """Where source offset N lands on the target, one for one from the newest sync <= N."""
    sync = syncs.lookup(tp, source_offset)
    if sync is None or sync.upstream_offset > source_offset:
        return None
    return sync.downstream_offset + (source_offset - sync.upstream_offset)


def refusal(plan: FailoverPlan, failed: Sequence[Precheck], *, forced: bool) -> str:
    lines = [f"{plan.direction} of pair {plan.pair!r} ({plan.source} -> {plan.target}) refused; "
             "nothing was changed:"]
    lines += [f"  - {c.name}: {c.detail}" for c in failed]
    if forced:
        lines.append("run with --force to go ahead anyway (data within the failed checks may "
                     "be lost or re-read)")
    return "\n".join(lines)


def group_checks(g: GroupPlan, rpo: float, source: str, target: str) -> list[Precheck]:
    out: list[Precheck] = []
    name = f"group {g.group}"
    if g.target_members or (g.action == "leave" and any(p.out_of_range for p in g.partitions)):
        out.append(Precheck(name, "fail", g.reason + "; --force leaves it as it is"))
    elif g.action == "leave":
        out.append(Precheck(name, "warn", g.reason))
    else:
        untranslated = [p for p in g.partitions if p.offset is None]
        if untranslated:
            first = untranslated[0]
            out.append(Precheck(
                name, "warn",
                f"{len(untranslated)} partitions cannot be translated (e.g. {first.topic}/"
                f"{first.partition}: {first.note}); no offset is committed for them, so its "
                "consumers start there from their auto.offset.reset"))
        if g.checkpoint_age_seconds is not None and g.checkpoint_age_seconds > rpo and any(
            p.method == "checkpoint" for p in g.partitions
        ):
            out.append(Precheck(
                name, "warn",
                f"newest checkpoint is {_fmt_age(g.checkpoint_age_seconds)} old: records the "
                "group consumed since will be read again"))
        if g.source_members:
            out.append(Precheck(
                name, "warn",
                f"{g.source_members} consumer{'' if g.source_members == 1 else 's'} still "
                f"active on {source!r}: stop them first, "
                f"or they keep committing there and will read again on {target!r}"))
        if not out:
            out.append(Precheck(
                name, "ok",
                f"{len(g.offsets)} partitions translated, about "
                f"{g.reprocess if g.reprocess is not None else '?'} records read again"))
    return out


def direction_for(view: ControlView, pair: DrPairConfig) -> Direction:
    """failover when the primary is active, failback when the secondary is."""
    return "failover" if view.active.cluster == pair.primary else "failback"




def runbook(source: str, target: str, epoch: int, groups: Sequence[GroupPlan]) -> tuple[str, ...]:
    """The steps a run takes, in words, from the active epoch and the groups' plans."""
    moving = [g for g in groups if g.action == "move"]
    left = [g for g in groups if g.action == "leave"]
    steps = [
        f"record the run in _kafkaops.control on {target!r} "
        f"(epoch {epoch} -> {epoch + 1})",
        f"fence {source!r}: mark it stood down in its _kafkaops.control (if reachable)",
    ]
    steps += [
        f"commit offsets of group {g.group!r} on {target!r} "
        f"({len(g.offsets)} partitions, about {g.reprocess if g.reprocess is not None else '?'}"
        " records read again), read them back"
        for g in moving
    ]
    steps += [f"leave group {g.group!r} as it is: {g.reason}" for g in left]
    steps += [
        f"make {target!r} active (epoch {epoch + 1}) in _kafkaops.control on "
        f"{target!r} and {source!r}; clients following the control topic switch",
        "record the run complete; every step is in the audit trail",
    ]
    return tuple(steps)
