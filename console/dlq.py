"""Dead letters: the dead-letter topics with counts and reasons grouped (`DlqScreen`); one
topic's records with origin and reason, marked or filtered, replayed to their origin after a
confirmation (`DlqTopicScreen`).

Data: `DeadLetterService` from core. A replay goes through core's `replay()`, which refuses
on a read-only cluster, skips records replayed before, and writes the audit record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Static

from kafkaops.console.base import DataScreen
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.console.messages import render_detail
from kafkaops.core.audit.log import local_actor
from kafkaops.core.audit.trails import note_refusal
from kafkaops.core.dlq.model import DeadLetter, DeadLetterTopic, ReplayPlan, Words
from kafkaops.core.dlq.service import DeadLetterService
from kafkaops.core.errors import KafkaOpsError, NothingToChange, Refused
from kafkaops.core.expr.filter import Filter, compile_filter
from kafkaops.core.expr.model import FilterError
from kafkaops.core.messages.display import preview
from kafkaops.core.textfmt import plural
from kafkaops.core.untrusted import printable


def right(value: str) -> Text:
    return Text(value, justify="right")


class DlqScreen(DataScreen):
    """Every dead-letter topic: messages, replayed, formats, and the reasons grouped."""

    CSS_PATH = "messages.tcss"
    AUTO_FOCUS = "#dlq-topics"
    REFRESH_EVERY = 15.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Records", show=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.title = "Dead letters"
        self._topics: dict[str, DeadLetterTopic] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(id="dlq-summary")
        yield DataTable(id="dlq-topics", cursor_type="row", zebra_stripes=True)
        yield Static("[b]Reasons[/]", classes="section", id="dlq-reasons-title")
        yield DataTable(id="dlq-reasons", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        t: DataTable[Any] = self.query_one("#dlq-topics", DataTable)
        for label in ("Dead-letter topic", "Origin", "Messages", "Replayed", "Format",
                      "Top reason"):
            t.add_column(label, key=label)
        r: DataTable[Any] = self.query_one("#dlq-reasons", DataTable)
        for label in ("Count", "Reason", "Example"):
            r.add_column(label, key=label)

    async def load(self) -> list[DeadLetterTopic]:
        return await DeadLetterService(self.services).list_topics(sample=500)

    def show(self, data: list[DeadLetterTopic]) -> None:
        self._topics = {t.topic: t for t in data}
        table: DataTable[Any] = self.query_one("#dlq-topics", DataTable)
        cursor = table.cursor_row
        table.clear()
        for t in data:
            top = f"{t.reasons[0].reason} ({t.reasons[0].count:,})" if t.reasons else "-"
            table.add_row(t.topic, t.origin or "?", right(f"{t.messages:,}"),
                          right(f"{t.replayed:,}"), ",".join(t.frameworks) or "-", top,
                          key=t.topic)
        total = sum(t.messages for t in data)
        self.query_one("#dlq-summary", Static).update(
            f"{plural(len(data), 'dead-letter topic')}, {plural(total, 'message')} · "
            "Enter: records and replay"
            if data else "no dead-letter topics (names ending in "
            f"{', '.join(self.services.config.dead_letters.suffixes)}, or dead_letters.topics)")
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
            self._show_reasons(self._current())

    def _current(self) -> str | None:
        table: DataTable[Any] = self.query_one("#dlq-topics", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowHighlighted, "#dlq-topics")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None:
            self._show_reasons(str(event.row_key.value))

    def _show_reasons(self, topic: str | None) -> None:
        reasons: DataTable[Any] = self.query_one("#dlq-reasons", DataTable)
        reasons.clear()
        t = self._topics.get(topic or "")
        if t is None:
            return
        note = f" (newest {t.read:,} of {t.messages:,})" if t.read < t.messages else ""
        self.query_one("#dlq-reasons-title", Static).update(
            Text.assemble(("Reasons", "bold"), f" of {t.topic}{note}"))
        for r in t.reasons:
            reasons.add_row(right(f"{r.count:,}"), Text(printable(r.reason)),
                            Text(printable(r.example)))

    @on(DataTable.RowSelected, "#dlq-topics")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        topic = self._current()
        if topic is not None:
            self.app.push_screen(DlqTopicScreen(topic))


class ConfirmReplayScreen(ConfirmScreen):
    """Replay? Shows what will happen; y (or Enter once Replay has the focus) goes ahead;
    n, Esc, or Enter as the dialog opens cancels."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary, yes_label="Replay")


#: the console replays to each record's origin only (no destination to give)
CONSOLE_WORDS = Words(to_hint="")


def replay_summary(plan: ReplayPlan, what: str) -> str:
    """The confirmation's text: the plan's own words. Its counts add up to the records
    chosen (`what`: marked, shown): replayed now, plus skipped as replayed before, plus
    skipped for want of an origin."""
    head, *rest = plan.describe(CONSOLE_WORDS, chosen=what, limit=5)
    lines = [head[:1].upper() + head[1:], *rest]
    lines.append("This produces to the origin topics and is written to the audit trail.")
    return "\n".join(lines)


class DlqTopicScreen(DataScreen):
    """One dead-letter topic's records: mark with space, filter with /, replay with R."""

    CSS_PATH = "messages.tcss"
    AUTO_FOCUS = "#dlq-records"  # not the (hidden) filter box: keys must reach the screen
    REFRESH_EVERY = 10.0
    LIMIT = 1000
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("R", "replay", "Replay", key_display="R"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic
        self.title = f"Dead letters › {topic}"
        self.where: Filter | None = None
        self.marked: set[tuple[int, int]] = set()
        self._letters: dict[str, DeadLetter] = {}
        self._replayed: set[tuple[int, int]] = set()

    def compose_body(self) -> ComposeResult:
        yield Static(id="dlq-summary")
        yield Static(id="dlq-result")
        yield Input(placeholder='filter, e.g. header.kafka_dlt-exception-fqcn contains "Null" '
                    "(Enter applies, empty clears)", id="dlq-filter")
        with Horizontal(id="dlq-body"):
            yield DataTable(id="dlq-records", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="dlq-detail-pane"):
                yield Static("select a record", id="dlq-detail")

    def on_mount(self) -> None:
        t: DataTable[Any] = self.query_one("#dlq-records", DataTable)
        for label in ("✓", "P:Offset", "Origin", "Reason", "Replayed", "Value"):
            t.add_column(label, key=label)
        self.query_one("#dlq-filter", Input).display = False

    async def load(self) -> tuple[list[DeadLetter], set[tuple[int, int]]]:
        svc = DeadLetterService(self.services)
        letters = await svc.letters(self.topic, where=self.where, limit=self.LIMIT)
        return letters, await svc.replayed_positions(self.topic)

    def show(self, data: tuple[list[DeadLetter], set[tuple[int, int]]]) -> None:
        letters, self._replayed = data
        self._letters = {f"{d.message.partition}:{d.message.offset}": d for d in letters}
        self.marked &= {(d.message.partition, d.message.offset) for d in letters}
        self._redraw()

    def _redraw(self) -> None:
        table: DataTable[Any] = self.query_one("#dlq-records", DataTable)
        cursor = table.cursor_row
        table.clear()
        for key, d in self._letters.items():
            pos = (d.message.partition, d.message.offset)
            origin = d.origin.topic or "?"
            if d.origin.offset is not None:
                origin += f" {d.origin.partition}:{d.origin.offset}"
            table.add_row("✓" if pos in self.marked else "", key, Text(printable(origin)),
                          Text(printable(d.reason[:60])),
                          "yes" if pos in self._replayed else "",
                          Text(preview(d.message.value, 60)), key=key)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
        # the detail pane shows the highlighted record: after a redraw the row under the
        # cursor may hold another record, and a cursor that did not move posts no event
        self._show_detail(self._current())
        where = f" matching {self.where.text}" if self.where else ""
        replayed = sum(1 for k in self._letters.values()
                       if (k.message.partition, k.message.offset) in self._replayed)
        self.query_one("#dlq-summary", Static).update(Text(
            f"{plural(len(self._letters), 'record')}{where} · {replayed:,} replayed · "
            f"{len(self.marked):,} marked · R replays the marked ones, or all shown if none"))

    def _current(self) -> DeadLetter | None:
        table: DataTable[Any] = self.query_one("#dlq-records", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._letters.get(str(key))

    @on(DataTable.RowHighlighted, "#dlq-records")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        # the cursor as it is now: a redraw may have come between the event and this
        self._show_detail(self._current())

    def _show_detail(self, d: DeadLetter | None) -> None:
        if d is None:
            self.query_one("#dlq-detail", Static).update(
                "no record" if not self._letters else "select a record")
            return
        text = Text()
        o = d.origin
        text.append("origin     ", style="bold")
        text.append(printable(f"{o.topic or 'unknown'}"
                              + (f" partition {o.partition} offset {o.offset}"
                                 if o.offset is not None else "") + f" ({o.framework})") + "\n")
        if o.group:
            text.append(f"group      {printable(o.group)}\n")
        if o.timestamp:
            text.append("original   " + datetime.fromtimestamp(o.timestamp / 1000).isoformat(
                sep=" ", timespec="seconds") + "\n")
        text.append("error      ", style="bold")
        text.append(printable(f"{d.error_class or '-'}: {d.error_message or '-'}",
                              multiline=True) + "\n\n")
        text.append_text(render_detail(d.message, "auto"))
        self.query_one("#dlq-detail", Static).update(text)

    def action_mark(self) -> None:
        d = self._current()
        if d is None:
            return
        pos = (d.message.partition, d.message.offset)
        self.marked ^= {pos}
        table: DataTable[Any] = self.query_one("#dlq-records", DataTable)
        row = table.cursor_row
        self._redraw()
        if row + 1 < table.row_count:
            table.move_cursor(row=row + 1, animate=False)

    def action_filter(self) -> None:
        box = self.query_one("#dlq-filter", Input)
        box.display = True
        box.value = self.where.text if self.where else ""
        box.focus()

    def action_back(self) -> None:
        box = self.query_one("#dlq-filter", Input)
        if box.display:
            box.display = False
            self.query_one("#dlq-records", DataTable).focus()
        elif len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    @on(Input.Submitted, "#dlq-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            self.where = compile_filter(text) if text else None
        except FilterError as e:
            self.set_status(str(e).replace("\n", "  "), "error")
            return
        event.input.display = False
        self.marked.clear()
        self.query_one("#dlq-records", DataTable).focus()
        self.refresh_data()

    def action_replay(self) -> None:
        try:
            self.services.require_writable(None, f"replay dead letters of {self.topic!r}")
        except KafkaOpsError as e:
            self._result(f"refused: {e}", error=True)
            if isinstance(e, Refused):  # on the audit trail too, as from every face
                self.run_worker(note_refusal(self.services, e, actor=local_actor(),
                                             face="console", action="dlq.replay",
                                             target=self.topic),
                                group="audit-refusal", exit_on_error=False)
            return
        self._plan_worker()

    def _result(self, text: str, *, error: bool = False) -> None:
        """The outcome of the last replay (kept until the next one; polls do not clear it)."""
        box = self.query_one("#dlq-result", Static)
        box.update(Text(text, style="bold red" if error else "bold"))

    @work(exclusive=True, group="replay", exit_on_error=False)
    async def _plan_worker(self) -> None:
        svc = DeadLetterService(self.services)
        # exactly the records on screen (marked, else all shown): dead letters that arrived
        # since the last refresh are not replayed unseen, and the counts match the header
        shown = {(d.message.partition, d.message.offset) for d in self._letters.values()}
        positions = sorted(self.marked & shown) if self.marked else sorted(shown)
        if not positions:
            self._result("nothing to replay: no record is shown")
            return
        what = "marked" if self.marked else (
            f"shown (matching {self.where.text})" if self.where else "shown")
        try:
            plan = await svc.plan_replay(self.topic, positions=positions)
        except KafkaOpsError as e:
            self._result(f"cannot replay: {e}", error=True)
            return
        if not plan.items:
            counted = plural(len(positions), "record")
            self._result(f"nothing to change: none of the {counted} {what} "
                         f"can be replayed ({len(plan.already_replayed):,} replayed before, "
                         f"{len(plan.no_origin):,} with no known origin); nothing was written")
            return
        summary = replay_summary(plan, what)
        yes = await self.app.push_screen_wait(ConfirmReplayScreen(summary))
        if not yes:
            self._result("replay cancelled: nothing was changed")
            return
        self._result(f"replaying {plural(plan.count, 'record')}…")
        try:
            result = await svc.apply(plan, actor=local_actor(), face="console")
        except NothingToChange as e:
            self._result(str(e))
            return
        except KafkaOpsError as e:
            self._result(f"replay failed: {e}", error=True)
            return
        dests = ", ".join(f"{n:,} to {t}" for t, n in sorted(result.by_destination().items()))
        self.marked.clear()
        self._result(f"replayed {plural(result.count, 'record')}: {dests or 'none'}"
                        + (f"; {len(result.already_replayed):,} had been replayed before"
                           if result.already_replayed else ""))
        self.refresh_data()
