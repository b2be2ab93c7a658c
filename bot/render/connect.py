"""Kafka Connect in Slack: the connectors of a Connect cluster, one connector with its tasks
and the failed task's trace, a change's plan (for its confirmation) and its outcome, and
the buttons an alert about a connector carries. Pure functions of core/connect's records."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from kafkaops.bot.render.common import (
    MAX_SECTION_TEXT,
    Block,
    Message,
    button,
    clause,
    clip,
    context,
    esc,
    header,
    human_seconds,
    page_of,
    pager,
    plural,
    row,
    run_button,
    run_words,
    section,
    wrap_code,
)
from kafkaops.core.connect.model import (
    ChangePlan,
    ChangeResult,
    ConnectListing,
    Connector,
    SinkLag,
    TaskStatus,
)
from kafkaops.core.connect.rules import counts_text, problem, trace_headline

RESTART_ACTION = "kafkaops.connect.restart"
TRACE_ACTION = "kafkaops.connect.trace"
#: lines of a trace shown in Slack (the whole of it is in `kafkaops connect status NAME`)
TRACE_LINES = 25
_EMOJI = {"RUNNING": ":large_green_circle:", "FAILED": ":red_circle:",
          "PAUSED": ":double_vertical_bar:", "STOPPED": ":black_square_for_stop:",
          "RESTARTING": ":arrows_counterclockwise:", "UNASSIGNED": ":white_circle:"}


def _emoji(c: Connector) -> str:
    return _EMOJI["FAILED"] if c.failed else _EMOJI.get(c.state, ":white_circle:")


def _lag(c: Connector, lag: SinkLag | None) -> str:
    if c.type != "sink":
        return "-"
    if lag is None or lag.lag is None:
        return "unknown"
    return f"{lag.lag:,} {lag.status}"


def render_connect_list(listing: ConnectListing, *, page: int = 1,
                        again: Callable[[int], str] | None = None) -> Message:
    """Connectors, failing first, ten to a page: state, tasks, sink lag, the first problem;
    Restart (what failed, after Confirm) on a failing one, Details on the others."""
    where = f"Connect {listing.connect} (cluster {listing.cluster})"
    if not listing.connectors:
        return Message(f"no connectors on {where}",
                       (section(f"No connectors on *{esc(where)}*."),))
    failing = [c for c in listing.connectors if c.failed]
    ordered = sorted(listing.connectors, key=lambda c: (not c.failed, c.name))
    shown, start = page_of(ordered, page)
    blocks: list[Block] = [header(f"Kafka Connect: {where}")]
    base = ["--connect", listing.connect, "--cluster", listing.cluster]
    for i, c in enumerate(shown):
        text = (f"{_emoji(c)} *{esc(c.name)}* · {esc(c.type)} · *{esc(c.state)}* · tasks "
                f"{esc(counts_text(c.task_counts))}\nsink lag "
                f"{esc(_lag(c, listing.lag.get(c.name)))}")
        if c.failed:
            text += f"\n{esc(clip(problem(c), 300))}"
            button_ = run_button("Restart", run_words(["connect", "restart", "--failed-only",
                                                     *base], c.name), start + i,
                                 style="danger")
        else:
            button_ = run_button("Details", run_words(["connect", *base], c.name), start + i)
        blocks.append(row(text, button_))
    blocks += pager(len(ordered), page, again, noun="connectors")
    notes = [f"Kafka Connect {listing.worker.version} · {plural(len(listing.workers), 'worker')}",
             "Restart asks you to Confirm"]
    if listing.lag_error:
        notes.append(f"sink lag unknown: {esc(clip(listing.lag_error, 300))}")
    blocks.append(context(*notes))
    summary = f"{plural(len(listing.connectors), 'connector')} on {where}"
    if failing:
        summary += f", {len(failing)} failing: " + ", ".join(c.name for c in failing[:5])
    return Message(summary, tuple(blocks))


def _trace_block(title: str, trace: str | None) -> Block:
    """A trace in a code block, its lines wrapped at CODE_WIDTH (a phone wraps them anyway,
    and would break the block's width for everything else)."""
    lines = (trace or "").rstrip().splitlines()
    shown = "\n".join(wrap_code(lines[:TRACE_LINES]))
    more = f"\n… {len(lines) - TRACE_LINES} more lines" if len(lines) > TRACE_LINES else ""
    body = clip(esc(shown), MAX_SECTION_TEXT - len(title) - 40)
    return section(f"{title}\n```\n{body}\n```{more}")


def render_connector(connect: str, cluster: str, c: Connector, lag: SinkLag | None,
                     lag_error: str | None) -> Message:
    """One connector: state, tasks, sink lag, and the trace of each failed task."""
    short = c.class_name.rsplit(".", 1)[-1] or "?"
    lines = [f"{_emoji(c)} *{esc(c.name)}* · {esc(c.type)} · `{esc(short)}` · "
             f"Connect {esc(connect)} (cluster {esc(cluster)})",
             f"State *{esc(c.state)}*" + (f" on `{esc(c.worker_id)}`" if c.worker_id else "")
             + f" · tasks: {esc(counts_text(c.task_counts))}"]
    if c.group is not None:
        if lag is not None and lag.lag is not None:
            lines.append(f"Sink lag: *{lag.lag:,}* records ({human_seconds(lag.lag_seconds)}), "
                         f"{esc(lag.status)} · group `{esc(c.group)}`")
        else:
            why = lag_error or (lag.error if lag else None)
            lines.append(f"Sink lag: unknown · group `{esc(c.group)}`"
                         + (f" ({esc(clip(why, 200))})" if why else ""))
    blocks: list[Block] = [section("\n".join(lines))]
    if c.trace:
        blocks.append(_trace_block("*Connector trace*", c.trace))
    for t in c.tasks:
        if t.trace:
            blocks.append(_trace_block(f"*Task {t.id}* · {esc(t.state)} on "
                                       f"`{esc(t.worker_id or '?')}`", t.trace))
    ok = ", ".join(f"{t.id} {t.state}" for t in c.tasks if not t.trace)
    if ok:
        blocks.append(context(f"Tasks without a trace: {esc(ok)}"))
    restart = run_button("Restart failed tasks", run_words(
        ["connect", "restart", "--failed-only", "--connect", connect, "--cluster", cluster],
        c.name), 0, style="danger") if c.failed else None
    if restart is not None:
        blocks.append({"type": "actions", "block_id": "kafkaops.connect.next",
                       "elements": [restart]})
    blocks.append(context(f"Whole traces: `kafkaops connect status {esc(c.name)}` in a "
                          "terminal"))
    text = f"{c.name}: {c.state}, tasks {counts_text(c.task_counts)}"
    if c.failed:
        text += f": {problem(c)}"
    return Message(clip(text, 3000), tuple(blocks[:20]))


def _counts(tasks: tuple[TaskStatus, ...]) -> str:
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t.state] = counts.get(t.state, 0) + 1
    return counts_text(counts)


def render_connect_plan(plan: ChangePlan) -> Message:
    """The confirmation's summary: what will happen and the state now."""
    r = plan.request
    body = (f"*{esc(r.action)}* connector `{esc(r.connector)}` on Connect {esc(plan.connect)} "
            f"(cluster {esc(plan.cluster)}):\n{esc(plan.will)}\n"
            f"Now: *{esc(plan.state)}*, tasks {esc(_counts(plan.tasks))}")
    failed = [t for t in plan.tasks if t.state == "FAILED" and t.id in plan.targets]
    if failed:
        cause = clip(trace_headline(failed[0].trace), 400)
        body += f"\nTask {failed[0].id} failed with: {esc(cause)}"
    return Message(f"{r.action} {r.connector}: {plan.will}", (section(body),))


def render_nothing_to_change(plan: ChangePlan) -> Message:
    text = f"Nothing to change: {clause(plan.noop or plan.blocked or '')}"
    return Message(text, (section(f":information_source: {esc(text)}. Nothing was done."),))


def render_connect_done(result: ChangeResult) -> Message:
    r = result.plan.request
    if result.state == "DELETED":
        text = f"{r.connector} deleted"
    else:
        text = (f"{r.action} done: {r.connector} is {result.state}, tasks "
                f"{_counts(result.tasks)}")
    again = [t for t in result.tasks if t.state == "FAILED"
             and (t.id in result.plan.targets or not result.plan.targets)]
    lines = [f"{':warning:' if again and r.action == 'restart' else ':white_check_mark:'} "
             f"{esc(text)}"]
    if again and r.action == "restart":
        lines.append(f"Task {again[0].id} FAILED again: "
                     f"{esc(clip(trace_headline(again[0].trace), 500))}")
    if result.retries:
        lines.append(f"(retried {plural(len(result.retries), 'time')} while Connect "
                     "rebalanced)")
    return Message(text, (section("\n".join(lines)),))


def connect_buttons(value: Mapping[str, str]) -> list[Block]:
    """The Restart and Show trace buttons of an alert about a connector. `value` names
    the cluster, the Connect cluster and the connector; the click is checked again."""
    v = json.dumps(dict(value), separators=(",", ":"))
    return [button("Restart failed", RESTART_ACTION, v, style="danger"),
            button("Show trace", TRACE_ACTION, v)]
