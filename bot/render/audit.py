"""The audit trail in Slack: the newest records, and the result of a verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

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
    section,
    who,
)
from kafkaops.core.audit.model import VerifyReport
from kafkaops.core.audit.trails import Listing, TrailCheck, mark


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%m-%d %H:%M:%S")


def render_audit(listing: Listing, *, page: int = 1,
                 again: Callable[[int], str] | None = None) -> Message:
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
            what = ("is not an audit record" if len(t.skipped) == 1 else
                    "are not audit records")
            notes.append(f":rotating_light: {plural(len(t.skipped), 'record')} on "
                         f"*{esc(t.cluster)}*'s trail {what} at all (offset {offsets}).")
    if not listing.verified:
        notes.append("Not verified: the bot's config sets no audit.signing_key.")
    if listing.problems:
        notes.append(f":rotating_light: *{plural(listing.problems, 'record')} failed "
                     "verification* "
                     "(marked :rotating_light:): written without the signing key, altered or "
                     "replayed. "
                     "`/kafka audit verify` says what is wrong with each.")
    if not records:
        return Message(
            f"no audit records on {', '.join(topics)} ({', '.join(t.cluster for t in read)})",
            (section(f"No audit records on {where}."), *(section(n) for n in notes)),
        )
    newest_first = list(reversed(records))  # what happened last is what matters now
    shown, _ = page_of(newest_first, page)
    blocks: list[Block] = [
        header("Audit trail" if len(read) == 1 else "Audit trails"),
        context(f"{plural(len(records), 'record')} on {where}, newest first"),
        *(section(n) for n in notes),
    ]
    for r in shown:
        check = mark(r, listing.verified)
        flag = "" if check in ("ok", "", "-") else f" · :rotating_light: *{esc(check)}*"
        result = esc(r.result if r.result == "ok" else f"{r.result}: {r.error or ''}".strip())
        blocks.append(section(
            f"*{esc(r.action)}* `{esc(clip(r.target, 60))}` · {clip(result, 200)}{flag}\n"
            f"{_utc(r.time)} UTC · {who(r.actor)} ({esc(r.face)}) · {esc(r.cluster)}"))
    blocks += pager(len(newest_first), page, again, noun="records")
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
            f"audit trail OK on {cluster}: {plural(report.records, 'record')}",
            (section(f":white_check_mark: *Audit trail verified.* {summary}"),),
        )
    lines = [f"`{p.partition}:{p.offset}` *{esc(p.kind)}*: {esc(clip(p.message, 150))}"
             for p in report.problems[:10]]
    if len(report.problems) > 10:
        lines.append(f"… {len(report.problems) - 10:,} more")
    blocks: list[Block] = [
        section(f":rotating_light: *Audit trail FAILED verification:* "
                f"{plural(len(report.problems), 'bad record')}. {summary}"),
        section("\n".join(lines)),
    ]
    return Message(
        f"audit trail FAILED on {cluster}: {len(report.problems)} bad records", tuple(blocks)
    )


def render_verify_trails(checks: Sequence[TrailCheck]) -> Message:
    """`/kafka audit verify` over several trails (every cluster's, unless --cluster names
    one): each trail's verdict, and UNKNOWN, never OK, for one that was not read."""
    if len(checks) == 1 and checks[0].report is not None:
        return render_verify(checks[0].report, cluster=checks[0].cluster)
    blocks: list[Block] = []
    words: list[str] = []
    for c in checks:
        if c.report is None:
            blocks.append(section(f":grey_question: *Audit trail UNKNOWN* on {esc(c.cluster)}: "
                                  f"`{esc(c.topic)}` not read: {esc(clip(c.error or '', 300))}"))
            words.append(f"UNKNOWN on {c.cluster}")
            continue
        one = render_verify(c.report, cluster=c.cluster)
        blocks.extend(one.blocks)
        words.append(one.text.removeprefix("audit trail "))
    bad = sum(1 for c in checks if not c.ok)
    head = "audit trails OK" if not bad else f"audit trails: {bad} not OK"
    return Message(f"{head}: {'; '.join(words)}", tuple(blocks))
