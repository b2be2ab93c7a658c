"""Usage and policies in Slack: per team (or topic) what was produced and is stored, with a
sparkline and the change against the window before; policy violations with the value found
and the fix; a fix's plan (for its confirmation) and its outcome. Sections and fields that
read on a phone, at most ten items and "n more". Pure functions of core's records."""

from __future__ import annotations

from kafkaops.bot.render.common import (
    Block,
    Message,
    context,
    esc,
    fields,
    header,
    plural,
    section,
)
from kafkaops.core.policy.model import Finding, FixPlan, PolicyReport
from kafkaops.core.usage.model import Amount, UsageReport
from kafkaops.core.usage.summary import human_bytes, shown

MAX_ITEMS = 10
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[int, ...]) -> str:
    top = max(values, default=0)
    if not top:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(7, round(v / top * 7))] for v in values)


def window_words(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _change(before: Amount, now: Amount) -> str:
    if before.value is None or now.value is None:
        return "unknown"
    if not before.value:
        return "new" if now.value else "no change"
    ratio = (now.value - before.value) / before.value
    return f"{ratio:+.0%}" + (" :rotating_light:" if ratio >= 2 else "")


def _rate(amount: Amount, window: float) -> str:
    return "unknown" if amount.value is None else f"{human_bytes(amount.value / window)}/s"


def render_usage(report: UsageReport, *, by: str, command: str) -> Message:
    w = window_words(report.window)
    title = f"Usage on {report.cluster}, last {w}"
    blocks: list[Block] = [header(title)]
    if by == "team":
        items = list(report.teams)
        for t in items[:MAX_ITEMS]:
            plural = "s" if t.topics != 1 else ""
            trend = f" · `{sparkline(t.buckets)}`" if t.buckets else ""
            blocks.append(section(f"*{esc(t.team)}* · {t.topics} topic{plural}{trend}"))
            blocks.append(fields([
                ("Bytes in", f"{esc(shown(t.bytes_in))} ({_rate(t.bytes_in, report.window)})"),
                ("Records in", f"{t.records_in:,}"),
                ("Stored", esc(shown(t.bytes_stored))),
                (f"Against the {w} before", _change(t.bytes_in_previous, t.bytes_in)),
            ]))
        left = len(items) - MAX_ITEMS
    else:
        topics = sorted(report.topics, key=lambda u: -(u.bytes_in.value or 0))
        for u in topics[:MAX_ITEMS]:
            ratio = "-" if u.compression_ratio is None else f"{u.compression_ratio:.1f}x"
            blocks.append(section(f"*{esc(u.topic)}* · {esc(u.team)}"))
            blocks.append(fields([
                ("Bytes in", f"{esc(shown(u.bytes_in))} ({_rate(u.bytes_in, report.window)})"),
                ("Stored", esc(shown(u.bytes_stored))),
                ("Compression", f"{esc(u.compression or 'not reported')}, {ratio}"),
                (f"Against the {w} before", _change(u.bytes_in_previous, u.bytes_in)),
            ]))
        left = len(topics) - MAX_ITEMS
    if left > 0:
        blocks.append(context(f"… {left} more: `{esc(command)} --by {by}` narrows with "
                              "`--team NAME` or `--topic PATTERN`"))
    movers = [m for m in report.movers if m.kind == "topic"][:3]
    if movers:
        blocks.append(section("*Top movers:* " + "; ".join(
            f"{esc(m.name)} {human_bytes(m.before)} → {human_bytes(m.now)}" for m in movers)))
    estimated = sum(1 for t in report.topics if t.bytes_in.error or t.bytes_stored.error)
    blocks.append(context(
        "Bytes as the broker stores them, read off the log: "
        + ("every batch read (exact)" if not estimated
           else f"{plural(estimated, 'topic')} estimated from sampled batches (± is the 95% "
                "interval)")))
    lines = [f"{t.team}: {shown(t.bytes_in)} in, {shown(t.bytes_stored)} stored"
             for t in report.teams[:MAX_ITEMS]] if by == "team" else []
    return Message(f"{title}. " + "; ".join(lines), tuple(blocks))


def _fix_words(f: Finding, command: str) -> str:
    if f.fix is not None:
        return (f"`{esc(command)} policy fix {esc(f.topic)} --cluster {esc(f.cluster)}` sets "
                f"{esc(f.fix.config)}={esc(f.fix.shown)}")
    return esc(f.fix_command)


def render_policy(report: PolicyReport, *, command: str) -> Message:
    v, u = len(report.violations), len(report.unknown)
    title = f"Policies on {report.cluster}: {v} violation{'s' if v != 1 else ''}, {u} unknown"
    blocks: list[Block] = [header(title)]
    if not report.findings:
        blocks.append(section(f":white_check_mark: Every topic complies "
                              f"({plural(report.topics, 'topic')} under "
                              f"{plural(len(report.policies), 'policy', 'policies')})."))
        return Message(title, tuple(blocks))
    for f in report.findings[:MAX_ITEMS]:
        mark = ":red_circle:" if f.status == "violation" else ":grey_question:"
        blocks.append(section(
            f"{mark} *{esc(f.topic)}* ({esc(f.team)}) · {esc(f.policy)}: `{esc(f.rule)}`\n"
            f"found *{esc(f.found_shown)}*"
            + (" (the broker does not report it: never taken as compliant)"
               if f.status == "unknown" else "")
            + f"\nfix: {_fix_words(f, command)}"))
    left = len(report.findings) - MAX_ITEMS
    if left > 0:
        blocks.append(context(f"… {left} more: `{esc(command)} policy check --topic NAME` "
                              "shows one topic"))
    return Message(title + ". " + "; ".join(f"{f.topic}: {f.rule}"
                                           for f in report.findings[:MAX_ITEMS]), tuple(blocks))


def render_fix_plan(plan: FixPlan) -> Message:
    lines = [f"• {esc(c.config)}: {esc('not reported' if c.before is None else c.before)} → "
             f"*{esc(c.after)}* ({esc(c.policy)})" for c in plan.changes]
    blocks: list[Block] = [section(f"Change the configs of topic *{esc(plan.topic)}* on "
                                   f"{esc(plan.cluster)}:\n" + "\n".join(lines))]
    if plan.not_fixable:
        blocks.append(context("Not a config change: " + "; ".join(
            f"{esc(f.rule)} ({esc(f.fix_command)})" for f in plan.not_fixable)))
    return Message(f"Change configs of {plan.topic}: " + ", ".join(
        f"{c.config}={c.after}" for c in plan.changes), tuple(blocks))


def render_fix_done(plan: FixPlan) -> Message:
    text = f"Changed topic {plan.topic} on {plan.cluster}: " + ", ".join(
        f"{c.config}={c.after}" for c in plan.changes)
    return Message(text, (section(f":white_check_mark: {esc(text)}"),))


def render_nothing_to_fix(plan: FixPlan) -> Message:
    why = "; ".join(f"{f.rule}: {f.fix_command}" for f in plan.not_fixable)
    text = f"Topic {plan.topic}: no topic config to change" + (f" ({why})" if why else "")
    done = ". Nothing was changed."
    return Message(text + done, (section(esc(text) + done),))
