"""The audit trail in Slack: the newest records, and the result of a verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from kafkaops.bot.render.common import Block, Message, code_sections, context, esc, header, section
from kafkaops.bot.render.common import text_table as table
from kafkaops.core.audit import AuditRecord, VerifyReport


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%m-%d %H:%M:%S")


def render_audit(records: Sequence[AuditRecord], *, cluster: str, topic: str) -> Message:
    if not records:
        return Message(
            f"no audit records on {topic} ({cluster})",
            (section(f"No audit records on `{esc(topic)}` ({esc(cluster)})."),),
        )
    rows = [
        (
            _utc(r.time),
            r.actor,
            r.face,
            r.action,
            r.target,
            r.result if r.result == "ok" else f"{r.result}: {r.error or ''}".strip(),
        )
        for r in reversed(records)  # newest first: what happened last is what matters now
    ]
    lines = table(["TIME (UTC)", "ACTOR", "FACE", "ACTION", "TARGET", "RESULT"], rows)
    blocks: list[Block] = [
        header(f"Audit trail of {cluster}"),
        context(f"newest {len(records)} record{'s' if len(records) != 1 else ''} on "
                f"`{esc(topic)}`, newest first · `kafkaops audit list` has them all"),
        *code_sections(lines, max_blocks=6),
    ]
    newest = records[-1]
    return Message(
        f"{len(records)} audit records on {cluster}; newest: {newest.actor} {newest.action} "
        f"{newest.target} {newest.result}",
        tuple(blocks),
    )


def render_verify(report: VerifyReport, *, cluster: str) -> Message:
    head = (
        f"head: offset {report.head_offset}, sig `{report.head_sig[:16]}…`"
        if report.head_offset is not None and report.head_sig
        else "head: (empty trail)"
    )
    summary = (
        f"`{esc(report.topic)}` on {esc(cluster)}: {report.records:,} records from offset "
        f"{report.log_start}, {report.writers} writers; {head}"
    )
    if report.ok:
        return Message(
            f"audit trail OK on {cluster}: {report.records} records",
            (section(f":white_check_mark: *Audit trail verified.* {summary}"),),
        )
    lines = [
        f"partition {p.partition} offset {p.offset}: {p.kind}: {p.message}"
        for p in report.problems
    ]
    blocks: list[Block] = [
        section(f":rotating_light: *Audit trail FAILED verification:* "
                f"{len(report.problems)} bad record(s). {summary}"),
        *code_sections(["BAD RECORDS", *lines], max_blocks=5),
    ]
    return Message(
        f"audit trail FAILED on {cluster}: {len(report.problems)} bad records", tuple(blocks)
    )
