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
from kafkaops.core.dlq.service import DeadLetter, DeadLetterTopic, ReplayResult
from kafkaops.core.messages.service import preview


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


def _skipped(r: ReplayResult) -> list[str]:
    out = []
    if r.already_replayed:
        out.append(f"{len(r.already_replayed):,} replayed before")
    if r.no_origin:
        out.append(f"{len(r.no_origin):,} with no known origin (use `--to TOPIC`)")
    return out


def render_replay_plan(r: ReplayResult, cluster: str, filter_text: str | None) -> Message:
    """What a replay will do (a dry run's result), for its confirmation."""
    dests = ", ".join(f"{n:,} to `{esc(t)}`" for t, n in sorted(r.by_destination().items()))
    lines = [
        f"replay *{r.count:,}* record{'s' if r.count != 1 else ''} of `{esc(r.topic)}` "
        f"on {esc(cluster)}: {dests}"
    ]
    if filter_text:
        lines.append(f"filter: `{esc(filter_text)}`")
    skipped = _skipped(r)
    if skipped:
        lines.append("skipping " + ", ".join(skipped))
    blocks: list[Block] = [section("\n".join(lines))]
    lines = [f"`{i.partition}:{i.offset}` → `{esc(i.to_topic)}` · {esc(clip(i.reason, 50))}"
             for i in r.items[:10]]
    if r.count > 10:
        lines.append(f"… and {r.count - 10:,} more")
    blocks.append(section("\n".join(lines)))
    blocks.append(
        context(
            "exactly these records: dead letters arriving after this prompt are "
            "not included; records replayed before are never replayed again"
        )
    )
    return Message(f"replay {plural(r.count, 'record')} of {r.topic}", tuple(blocks))


def render_nothing_to_replay(r: ReplayResult) -> Message:
    why = _skipped(r)
    return Message(
        f"nothing to replay from {r.topic}",
        (
            section(
                f"Nothing to replay from `{esc(r.topic)}`"
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
    skipped = _skipped(r)
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
