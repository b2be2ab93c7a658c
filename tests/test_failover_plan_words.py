"""A failover plan's own words (FailoverPlan.describe / verdict), which the CLI's
confirmation, the Slack prompt and the console's checks all use: pure, no broker."""

from __future__ import annotations

from kafkaops.core.dr.plan import FailoverPlan, GroupPlan, PlanWords, Precheck


def plan(checks: tuple[Precheck, ...], groups: tuple[GroupPlan, ...] = ()) -> FailoverPlan:
    return FailoverPlan(
        pair="main", direction="failover", source="primary", target="dr",
        source_alias="primary", target_alias="dr", active="primary", epoch=2, new_epoch=3,
        rpo_seconds=30.0, heartbeat_age_seconds=4.0, replication_lag_seconds=None,
        prechecks=checks, groups=groups, steps=("one",), generated_at=0.0)


def group(name: str, action: str, reprocess: int | None) -> GroupPlan:
    return GroupPlan(name, action, "why", (), None, 0, 0, reprocess)  # type: ignore[arg-type]


OK = Precheck("heartbeat", "ok", "fresh")
WARN = Precheck("source reachable", "warn", "no answer")
SOFT = Precheck("replication lag", "fail", "beyond RPO")
HARD = Precheck("target writable", "fail", "read-only", overridable=False)


def test_describe_says_what_becomes_active_what_moves_and_the_numbers() -> None:
    p = plan((OK,), (group("a", "move", 5), group("b", "move", None), group("c", "leave", None)))
    assert p.describe() == (
        "failover of pair main: dr becomes active instead of primary (epoch 2 -> 3)",
        "Moves 2 consumer groups, leaves 1 as it is; about 5+ records read again",
        "RPO target 30s · replication lag - · heartbeat 4.0s old",
        "every pre-check passed",
    )
    assert p.reread == (5, True)
    one = plan((OK,), (group("a", "move", 1),))
    assert one.describe()[1] == "Moves 1 consumer group; about 1 record read again"


def test_verdict_never_says_passed_when_a_check_warns_or_fails() -> None:
    assert plan((OK, WARN)).verdict() == "no pre-check failed; 1 warned (source reachable)"
    assert plan((OK, SOFT)).verdict() == (
        "pre-checks FAILED (replication lag): execute refuses unless --force")
    assert plan((OK, SOFT)).verdict(force=True) == (
        "pre-checks FAILED (replication lag) and --force overrides them: data within the "
        "failed checks may be lost or read again")
    assert plan((SOFT, HARD)).verdict(force=True) == (
        "pre-checks FAILED (replication lag, target writable): execute refuses, even with "
        "--force")


def test_a_face_marks_up_the_words_and_escapes_what_came_from_data() -> None:
    words = PlanWords(text=lambda s: s.replace("<", "&lt;"), code=lambda s: f"`{s}`",
                      strong=lambda s: f"*{s}*", mark=lambda st: f"[{st}] ", arrow="→")
    p = plan((Precheck("group <x>", "fail", "d"),))
    assert p.verdict(words) == "[fail] *pre-checks FAILED (group &lt;x>)*: execute refuses " \
        "unless `--force`"
    assert p.describe(words)[0] == (
        "failover of pair `main`: `dr` becomes active instead of `primary` (epoch 2 → 3)")
