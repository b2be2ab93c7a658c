"""The audit trail in Slack: the newest records, and the result of a verification."""

from __future__ import annotations

import datetime as dt

from kafkaops.bot.render.common import Block, Message, code_sections, context, esc, header, section
from kafkaops.bot.render.common import text_table as table
from kafkaops.core.audit.log import VerifyReport
from kafkaops.core.audit.trails import Listing, mark


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%m-%d %H:%M:%S")


def render_audit(listing: Listing) -> Message:
    """The newest records of every trail read, newest first, each with the cluster it is
    about and what verification says of it (CHECK: ok, FORGED, REPLAYED, ...); which
    trails were read, and which did not answer."""
    records = listing.records
    read = [t for t in listing.trails if t.error is None]
    topics = sorted({t.topic for t in listing.trails})
    where = f"`{esc(', '.join(topics))}` of " + (", ".join(esc(t.cluster) for t in read)
                                                 or "no cluster")
    notes = [f":warning: *{esc(t.cluster)}*'s trail was not read: {esc(t.error or '')}. "
             "Its records are unknown." for t in listing.unread]
    for t in listing.trails:
        if t.skipped:
            offsets = ", ".join(str(o) for o, _ in t.skipped[:10])
            notes.append(f":rotating_light: {len(t.skipped)} record(s) on *{esc(t.cluster)}*'s "
                         f"trail are not audit records at all (offset {offsets}).")
    if not listing.verified:
        notes.append("Not verified: the bot's config sets no audit.signing_key.")
    if listing.problems:
        notes.append(f":rotating_light: *{listing.problems} record(s) failed verification* "
                     "(see CHECK): written without the signing key, altered or replayed. "
                     "`/kafka audit verify` says what is wrong with each.")
    if not records:
        return Message(
            f"no audit records on {', '.join(topics)} ({', '.join(t.cluster for t in read)})",
            (section(f"No audit records on {where}."), *(section(n) for n in notes)),
        )
    rows = [
        (
            _utc(r.time),
            r.cluster,
            r.actor,
            r.face,
            r.action,
            r.target,
            mark(r, listing.verified),
            r.result if r.result == "ok" else f"{r.result}: {r.error or ''}".strip(),
        )
        for r in reversed(records)  # newest first: what happened last is what matters now
    ]
    lines = table(["TIME (UTC)", "CLUSTER", "ACTOR", "FACE", "ACTION", "TARGET", "CHECK",
                   "RESULT"], rows)
    blocks: list[Block] = [
        header("Audit trail" if len(read) == 1 else "Audit trails"),
        context(f"newest {len(records)} record{'s' if len(records) != 1 else ''} on {where}, "
                "newest first · `kafkaops audit list` has them all"),
        *(section(n) for n in notes),
        *code_sections(lines, max_blocks=6),
    ]
    newest = records[-1]
    bad = f"; {listing.problems} failed verification" if listing.problems else ""
    return Message(
        f"{len(records)} audit records on {', '.join(t.cluster for t in read)}{bad}; newest: "
        f"{newest.actor} {newest.action} {newest.target} {newest.result}",
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
