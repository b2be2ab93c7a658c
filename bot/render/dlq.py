"""Dead letters in Slack: the topics with their reasons, one topic's records, a replay plan
(for its confirmation) and a replay's result. Pure functions of core's DLQ records."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from kafkaops.bot.render.common import (
    Block,
    Message,
    clip,
    context,
    esc,
    header,
    page_of,
    pager,
    plural,
    row,
    run_button,
    run_words,
    section,
)
from kafkaops.core.dlq.model import DeadLetter, DeadLetterTopic, ReplayPlan, ReplayResult, Words
from kafkaops.core.messages.display import preview


def render_dlq_list(cluster: str, topics: Sequence[DeadLetterTopic], suffixes: str, *,
                    page: int = 1, again: Callable[[int], str] | None = None) -> Message:
    """Dead-letter topics, fullest first, ten to a page: where they come from, how many
    records, the top reasons; Replay (which plans and asks for Confirm) on each with
    records still to replay."""
    if not topics:
        return Message(
            f"no dead-letter topics on {cluster}",
            (
                section(
                    f"No dead-letter topics on *{esc(cluster)}* (names ending in "
                    f"{esc(suffixes)}, or `dead_letters.topics` in config)."
                ),
            ),
        )
    ordered = sorted(topics, key=lambda t: (-(t.messages - t.replayed), t.topic))
    shown, start = page_of(ordered, page)
    blocks: list[Block] = [header(f"Dead letters on {cluster}")]
    for i, t in enumerate(shown):
        origin = f" → `{esc(t.origin)}`" if t.origin else " (origin unknown)"
        replayed = f" ({t.replayed:,} replayed)" if t.replayed else ""
        reasons = "; ".join(f"{esc(clip(r.reason, 60))} ×{r.count:,}" for r in t.reasons[:2])
        note = f" (newest {t.read:,} read)" if t.read < t.messages else ""
        more = f"; {len(t.reasons) - 2} more reasons" if len(t.reasons) > 2 else ""
        text = (f"*{esc(t.topic)}*{origin} · {plural(t.messages, 'record')}{replayed}\n"
                + (f"{reasons}{more}{note}" if reasons else "no records"))
        todo = t.messages - t.replayed
        accessory = run_button("Replay", run_words(["dlq", "replay", "--cluster", cluster],
                                                 t.topic), start + i)
        blocks.append(row(text, accessory if todo > 0 else run_button(
            "Show", run_words(["dlq", "show", "--cluster", cluster], t.topic), start + i)))
    blocks += pager(len(ordered), page, again, noun="dead-letter topics")
    blocks.append(context("Replay shows what it would put back and asks you to Confirm; "
                          "records replayed before are never replayed again"))
    total = sum(t.messages for t in topics)
    return Message(
        f"{plural(len(topics), 'dead-letter topic')} on {cluster}, "
        f"{plural(total, 'record')}", tuple(blocks)
    )


def render_dlq_show(
    topic: str, letters: Sequence[DeadLetter], replayed: Collection[tuple[int, int]],
    *, scanned: tuple[int, int] | None = None, page: int = 1,
    again: Callable[[int], str] | None = None,
) -> Message:
    partial = ""
    if scanned is not None and scanned[0] < scanned[1]:
        partial = (f"Searched the oldest {scanned[0]:,} of {scanned[1]:,} records (a Slack "
                   "request reads no more); a terminal's `kafkaops dlq show` searches them "
                   "all.")
    if not letters:
        return Message(
            f"no records on {topic}",
            (section(f"No matching records on `{esc(topic)}`."),
             *((context(partial),) if partial else ())),
        )
    shown, _ = page_of(letters, page)
    lines = []
    for d in shown:
        m = d.message
        origin = (d.origin.topic or "?") + (
            f"[{d.origin.partition}] @{d.origin.offset}" if d.origin.offset is not None else "")
        done = " · :white_check_mark: replayed" if (m.partition, m.offset) in replayed else ""
        lines.append(f"`{m.partition}:{m.offset}` from `{esc(origin)}`{done}\n"
                     f"      {esc(clip(d.reason, 80))} · `{esc(preview(m.value, 40))}`")
    blocks: list[Block] = [header(f"Dead letters in {topic}"), section("\n".join(lines)),
                           *pager(len(letters), page, again, noun="records")]
    if partial:
        blocks.append(context(partial))
    return Message(f"{plural(len(letters), 'record')} of {topic}", tuple(blocks))


#: a plan's words in mrkdwn: names and positions in code, the count in bold
SLACK_WORDS = Words(text=esc, code=lambda s: f"`{esc(s)}`", strong=lambda s: f"*{s}*",
                    to_hint=" (use `--to TOPIC`)")


def render_replay_plan(plan: ReplayPlan) -> Message:
    """What a replay will do (core's plan in its own words), for its confirmation."""
    blocks: list[Block] = [
        section("\n".join(plan.headline(SLACK_WORDS))),
        section("\n".join(plan.item_lines(SLACK_WORDS))),
        context(
            "exactly these records: dead letters arriving after this prompt are "
            "not included; records replayed before are never replayed again"
        ),
    ]
    return Message(f"replay {plural(plan.count, 'record')} of {plan.topic}", tuple(blocks))


def render_nothing_to_replay(plan: ReplayPlan) -> Message:
    why = plan.skipped(SLACK_WORDS)
    return Message(
        f"nothing to replay from {plan.topic}",
        (
            section(
                f"Nothing to replay from `{esc(plan.topic)}`"
                + (": " + esc(", ".join(why)) if why else "")
                + ". Nothing was changed."
            ),
        ),
    )


def render_replayed(r: ReplayResult) -> Message:
    dests = ", ".join(f"{n:,} to `{esc(t)}`" for t, n in sorted(r.by_destination().items()))
    lines = [
        f":white_check_mark: replayed *{r.count:,}* record{'s' if r.count != 1 else ''} "
        f"of `{esc(r.topic)}`" + (f": {dests}" if dests else "")
    ]
    skipped = []
    if r.already_replayed:
        skipped.append(f"{len(r.already_replayed):,} replayed before")
    if r.no_origin:
        skipped.append(f"{len(r.no_origin):,} with no known origin{SLACK_WORDS.to_hint}")
    if skipped:
        lines.append("skipped " + ", ".join(skipped))
    if r.recovered:
        lines.append(
            f"{r.recovered:,} records of an interrupted earlier replay were found "
            "on their destination and marked done"
        )
    return Message(
        f"replayed {plural(r.count, 'record')} of {r.topic}",
        (
            section("\n".join(lines)),
            context(f"replay id `{esc(r.replay_id or '-')}` (header kafkaops.replay.id); audited"),
        ),
    )
