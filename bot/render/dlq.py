"""Dead letters in Slack: the topics with their reasons, one topic's records, a replay plan
(for its confirmation) and a replay's result. Pure functions of core's DLQ records."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kafkaops.bot.render.common import (
    Block,
    Message,
    code_sections,
    context,
    esc,
    header,
    section,
    text_table,
)
from kafkaops.core.dlq.service import DeadLetter, DeadLetterTopic, ReplayResult
from kafkaops.core.messages.service import preview


def render_dlq_list(cluster: str, topics: Sequence[DeadLetterTopic], suffixes: str) -> Message:
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
    lines = text_table(
        ["DEAD-LETTER TOPIC", "ORIGIN", "MESSAGES", "REPLAYED", "TOP REASON"],
        [
            (
                t.topic,
                t.origin,
                t.messages,
                t.replayed,
                f"{t.reasons[0].reason[:50]} ({t.reasons[0].count:,})" if t.reasons else "-",
            )
            for t in topics
        ],
        right=(2, 3),
    )
    blocks: list[Block] = [
        header(f"Dead letters on {cluster}"),
        *code_sections(lines, max_blocks=4),
    ]
    for t in [t for t in topics if len(t.reasons) > 1][:8]:
        note = f" (newest {t.read:,} of {t.messages:,})" if t.read < t.messages else ""
        reasons = "\n".join(f"{r.count:>7,}  {esc(r.reason[:90])}" for r in t.reasons[:6])
        more = f"\n… {len(t.reasons) - 6} more reasons" if len(t.reasons) > 6 else ""
        blocks.append(section(f"*{esc(t.topic)}* reasons{note}\n```\n{reasons}\n```{more}"))
    blocks.append(context("replay with `dlq replay TOPIC [--filter EXPR] [--to TOPIC]`"))
    total = sum(t.messages for t in topics)
    return Message(
        f"{len(topics)} dead-letter topics on {cluster}, {total:,} records", tuple(blocks)
    )


def render_dlq_show(
    topic: str, letters: Sequence[DeadLetter], replayed: Collection[tuple[int, int]],
    *, scanned: tuple[int, int] | None = None,
) -> Message:
    partial = ""
    if scanned is not None and scanned[0] < scanned[1]:
        partial = (f"Searched the oldest {scanned[0]:,} of {scanned[1]:,} records (a Slack "
                   "request reads no more); `kafkaops dlq show` searches them all.")
    if not letters:
        return Message(
            f"no records on {topic}",
            (section(f"No matching records on `{esc(topic)}`."),
             *((context(partial),) if partial else ())),
        )
    lines = text_table(
        ["P:OFFSET", "ORIGIN", "REASON", "REPLAYED", "VALUE"],
        [
            (
                f"{d.message.partition}:{d.message.offset}",
                (d.origin.topic or "?")
                + (
                    f" {d.origin.partition}:{d.origin.offset}"
                    if d.origin.offset is not None
                    else ""
                ),
                d.reason[:40],
                (d.message.partition, d.message.offset) in replayed,
                preview(d.message.value, 40),
            )
            for d in letters
        ],
    )
    return Message(
        f"{len(letters)} records of {topic}",
        (header(f"Dead letters in {topic}"), *code_sections(lines, max_blocks=6),
         *((context(partial),) if partial else ())),
    )


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
    rows = text_table(
        ["FROM P:OFFSET", "TO TOPIC", "REASON"],
        [(f"{i.partition}:{i.offset}", i.to_topic, i.reason[:60]) for i in r.items[:20]],
    )
    more = f"… and {r.count - 20:,} more" if r.count > 20 else ""
    blocks += code_sections(rows, more=more, max_blocks=2)
    blocks.append(
        context(
            "exactly these records: dead letters arriving after this prompt are "
            "not included; records replayed before are never replayed again"
        )
    )
    return Message(f"replay {r.count} records of {r.topic}", tuple(blocks))


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
        f"replayed {r.count} records of {r.topic}",
        (
            section("\n".join(lines)),
            context(f"replay id `{esc(r.replay_id or '-')}` (header kafkaops.replay.id); audited"),
        ),
    )
