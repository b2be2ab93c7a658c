"""The offset reset dialog: pick a mode, see the plan as a table, confirm, see it read back.

Opened from the group detail screen (console/lag.py):

    self.app.push_screen(OffsetResetScreen(group, topic), callback)

It dismisses with the `ResetResult` when a reset was applied, else None. The plan shown is
always the plan applied: editing any field after planning throws the plan away, and Apply
stays disabled until a new one is made. Every step runs in a worker; nothing here waits on
the broker on the UI loop.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from kafkaops.console.confirm import ConfirmScreen
from kafkaops.core.audit.log import local_actor
from kafkaops.core.capabilities import in_console_words
from kafkaops.core.errors import KafkaOpsError, Refused
from kafkaops.core.offsets.model import PartitionReset, ResetPlan, ResetRequest, ResetResult
from kafkaops.core.offsets.rules import parse_target, writable_action
from kafkaops.core.offsets.service import OffsetResetService
from kafkaops.core.untrusted import printable

MODE_OPTIONS: list[tuple[str, str]] = [
    ("earliest: the log start", "earliest"),
    ("latest: the log end", "latest"),
    ("time: first record at or after a time", "time"),
    ("offset: a given offset", "offset"),
    ("shift: move by +N / -N records", "shift"),
]
VALUE_HINTS = {
    "earliest": "(no value)",
    "latest": "(no value)",
    "time": "1h, 30m, 2d ago, 2026-11-25T02:00:00Z, or epoch ms",
    "offset": "offset, e.g. 1200",
    "shift": "+N skips N records, -N replays N",
}
PLAN_COLUMNS = ("Partition", "Committed", "New", "Log start", "Log end", "Move", "Note")
READ_BACK = "Read back"


def _off(v: int | None) -> str:
    return "no offset" if v is None else f"{v:,}"


def _right(value: str, style: str = "") -> Text:
    return Text(value, style=style, justify="right")


def parse_partitions(text: str) -> tuple[int, ...] | None:
    """"" -> None (every partition); "0, 2" -> (0, 2). ValueError when unreadable."""
    text = text.strip()
    if not text:
        return None
    parts = [int(x) for x in text.replace(" ", ",").split(",") if x]
    if any(p < 0 for p in parts):
        raise ValueError("negative partition")
    return tuple(sorted(set(parts)))


class ConfirmResetScreen(ConfirmScreen):
    """Yes / no on one plan. Cancel has the focus and there is no `y`: Enter alone never
    resets a group."""

    def __init__(self, plan: ResetPlan) -> None:
        super().__init__(
            Text.from_markup(
                f"[b]Reset offsets?[/]\n\n{escape(plan.summary())}.\n\n"
                f"Cluster [b]{escape(plan.cluster)}[/]. The group's consumers must stay "
                "stopped until this is done."
            ),
            yes_label="Reset offsets", yes_variant="error", yes_key=False,
        )
        self.plan = plan


class OffsetResetScreen(ModalScreen["ResetResult | None"]):
    """Reset one consumer group's offsets on one topic. `OffsetResetScreen(group, topic)`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
    ]
    CSS_PATH = "offsets.tcss"

    class Planned(Message):
        """A plan was made."""

        def __init__(self, plan: ResetPlan) -> None:
            super().__init__()
            self.plan = plan

    class Applied(Message):
        """A plan was applied and read back."""

        def __init__(self, result: ResetResult) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        """Planning or applying failed; nothing may have changed (the text says)."""

        def __init__(self, error: BaseException, step: str) -> None:
            super().__init__()
            self.error = error
            self.step = step

    def __init__(self, group: str, topic: str | None = None) -> None:
        super().__init__()
        self.group = group
        self.topic = topic
        self.plan: ResetPlan | None = None
        """The plan on screen; None when there is none or the fields changed since."""
        self.result: ResetResult | None = None
        """Set once the plan was applied."""
        self._busy = False

    @property
    def services(self) -> Any:
        return self.app.services  # type: ignore[attr-defined]

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Vertical(id="reset-dialog"):
            yield Static(
                f"[b]Reset offsets[/] · group [b]{escape(self.group)}[/] · cluster "
                f"{escape(self.services.cluster_name)}",
                id="reset-title",
            )
            with Horizontal(classes="field"):
                yield Label("Topic", classes="field-label")
                yield Input(self.topic or "", placeholder="topic name", id="topic")
                yield Label("Partitions", classes="field-label")
                yield Input(placeholder="all (or 0,1,2)", id="partitions")
            with Horizontal(classes="field"):
                yield Label("Move to", classes="field-label")
                yield Select(MODE_OPTIONS, value="earliest", allow_blank=False, id="mode")
                yield Label("Value", classes="field-label")
                yield Input(placeholder=VALUE_HINTS["earliest"], id="value", disabled=True)
            yield Static("", id="plan-heading")
            yield DataTable(id="plan-table", cursor_type="row", zebra_stripes=True)
            yield Static("Choose where to move the group, then Plan.", id="reset-status")
            with Horizontal(classes="buttons"):
                yield Button("Plan", id="plan", variant="primary")
                yield Button("Apply…", id="apply", variant="error", disabled=True)
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self._columns(read_back=False)
        (self.query_one("#mode" if self.topic else "#topic")).focus()

    def _columns(self, *, read_back: bool) -> None:
        """(Re)build the plan table's columns; after applying, "Read back" follows "New"."""
        table: DataTable[Any] = self.query_one("#plan-table", DataTable)
        table.clear(columns=True)
        labels = list(PLAN_COLUMNS)
        if read_back:
            labels.insert(labels.index("New") + 1, READ_BACK)
        for label in labels:
            table.add_column(Text(label, justify="left" if label in ("Move", "Note")
                                  else "right"), key=label)

    def set_status(self, text: str, kind: str = "ok") -> None:
        status = self.query_one("#reset-status", Static)
        # plain text, escaped: errors name groups and members' client ids from the broker
        status.update(Text(printable(in_console_words(text), multiline=True)))
        status.set_classes(f"status-{kind}")

    # ------------------------------------------------------------ editing

    @on(Select.Changed, "#mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        mode = str(event.value)
        value = self.query_one("#value", Input)
        value.placeholder = VALUE_HINTS.get(mode, "")
        value.disabled = mode in ("earliest", "latest")
        if value.disabled:
            value.value = ""
        self._forget_plan()

    @on(Input.Changed)
    def _input_changed(self) -> None:
        self._forget_plan()

    def _forget_plan(self) -> None:
        """Fields changed: the plan on screen no longer describes them."""
        if self.plan is not None and self.result is None:
            self.plan = None
            self.query_one("#apply", Button).disabled = True
            self.query_one("#plan-heading", Static).update("")
            self.query_one("#plan-table", DataTable).clear()
            self.set_status("Changed: press Plan to see the new plan.")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_plan()

    # ------------------------------------------------------------ plan

    @on(Button.Pressed, "#plan")
    def action_plan(self) -> None:
        if self._busy or self.result is not None:
            return
        try:
            request = self._request()
        except (KafkaOpsError, ValueError) as e:
            self.set_status(f"{e}", "error")
            return
        self._busy = True
        self.set_status("Planning: reading the group, its offsets and the log…")
        self._plan_worker(request)

    def _request(self) -> ResetRequest:
        topic = self.query_one("#topic", Input).value.strip()
        if not topic:
            raise ValueError("Enter a topic.")
        try:
            partitions = parse_partitions(self.query_one("#partitions", Input).value)
        except ValueError:
            raise ValueError(
                "Partitions: give numbers such as 0,1,2, or leave empty for all."
            ) from None
        mode = str(self.query_one("#mode", Select).value)
        value = self.query_one("#value", Input).value
        target = parse_target(mode, value if mode not in ("earliest", "latest") else None)
        return ResetRequest(self.group, topic, target, partitions)

    @work(exclusive=True, group="offsets-reset")
    async def _plan_worker(self, request: ResetRequest) -> None:
        try:
            plan = await OffsetResetService(self.services).plan(request)
        except Exception as e:  # shown in the dialog; the console stays up
            self.post_message(self.Failed(e, "plan"))
        else:
            self.post_message(self.Planned(plan))

    @on(Planned)
    def _planned(self, message: Planned) -> None:
        self._busy = False
        plan = self.plan = message.plan
        self.query_one("#plan-heading", Static).update(
            f"[b]Plan[/]: {escape(plan.target.describe())} · group state "
            f"{escape(plan.group_state)}"
        )
        table: DataTable[Any] = self.query_one("#plan-table", DataTable)
        table.clear()
        for p in plan.partitions:
            table.add_row(*self._row(p), key=str(p.partition))
        apply = self.query_one("#apply", Button)
        if plan.read_only:
            apply.disabled = True
            try:
                self.services.require_writable(plan.cluster, writable_action(plan.group))
            except Refused as e:
                self.set_status(f"{e}. This plan cannot be applied.", "error")
            return
        if not plan.changing:
            apply.disabled = True
            self.set_status(plan.nothing_to_change())
            return
        apply.disabled = False
        self.set_status(
            f"Total: replays {plan.total_replay:,} records, skips {plan.total_skip:,} "
            f"({len(plan.changing)} of {len(plan.partitions)} partitions change). "
            "Nothing changed yet: Apply to commit."
        )

    @staticmethod
    def _row(p: PartitionReset) -> list[Text]:
        clamp = "yellow" if p.clamped else ""
        return [
            _right(str(p.partition)),
            _right(_off(p.current)),
            _right("unchanged" if p.new is None else f"{p.new:,}", clamp),
            _right(f"{p.log_start:,}"),
            _right(f"{p.log_end:,}"),
            Text(p.move, style="bold" if p.changes else "dim"),
            Text(p.note, style=clamp or "dim"),
        ]

    # ------------------------------------------------------------ apply

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        plan = self.plan
        if plan is None or self._busy or self.result is not None or not plan.changing:
            return

        def confirmed(yes: bool | None) -> None:
            if yes and self.plan is plan:
                self._busy = True
                self.query_one("#apply", Button).disabled = True
                self.set_status("Applying: committing the offsets and reading them back…")
                self._apply_worker(plan)
            elif not yes:
                self.set_status("Cancelled: nothing was changed.")

        self.app.push_screen(ConfirmResetScreen(plan), confirmed)

    @work(exclusive=True, group="offsets-reset")
    async def _apply_worker(self, plan: ResetPlan) -> None:
        try:
            result = await OffsetResetService(self.services, plan.cluster).apply(
                plan, actor=local_actor(), face="console"
            )
        except Exception as e:
            self.post_message(self.Failed(e, "apply"))
        else:
            self.post_message(self.Applied(result))

    @on(Applied)
    def _applied(self, message: Applied) -> None:
        self._busy = False
        result = self.result = message.result
        read = {c.partition: c for c in result.checks}
        self._columns(read_back=True)
        table: DataTable[Any] = self.query_one("#plan-table", DataTable)
        for p in result.plan.partitions:
            cells = self._row(p)
            c = read[p.partition]
            cells.insert(3, _right(_off(c.committed), "green" if c.ok else "bold red"))
            table.add_row(*cells, key=str(p.partition))
        for field in ("#topic", "#partitions", "#value", "#mode", "#plan", "#apply"):
            self.query_one(field).disabled = True
        if result.verified:
            self.set_status(
                f"Applied: the committed offsets read back match the plan "
                f"({len(result.checks)} partitions).", "done"
            )
        else:
            bad = ", ".join(str(c.partition) for c in result.mismatches)
            self.set_status(
                f"Applied, but the offsets read back do not match the plan on "
                f"{'partition' if len(result.mismatches) == 1 else 'partitions'} {bad}.", "error"
            )
        self.query_one("#close", Button).focus()

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self._busy = False
        e = message.error
        text = str(e) if isinstance(e, KafkaOpsError) else f"{type(e).__name__}: {e}"
        if message.step == "apply" and self.plan is not None:
            self.query_one("#apply", Button).disabled = False
        self.set_status(text, "error")

    # ------------------------------------------------------------ close

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self._busy and self.plan is not None and self.result is None:
            return  # an apply is in flight: its outcome must be seen
        self.dismiss(self.result)
