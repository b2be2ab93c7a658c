"""Feature flags: every flag with its state, rollout, value, owner, version and last change
(`FlagsScreen`); space switches the highlighted flag on or off, p edits its rollout, Enter
opens its history (`FlagHistoryScreen`), where b rolls back to the highlighted version.
Flags tagged `critical` ask first (`ConfirmFlagScreen`). Every change is core's plan
(FlagService.plan_*), shown in its own words (FlagPlan.describe()) and applied as planned
(FlagService.apply): the console never words or computes a flag's next state itself.

Data: the cluster's `FlagService` (`self.services.flags()`), which follows `_kafkaops.flags`
live: the screen redraws when any writer changes a flag, and polls as a safety net. Every
change is compare-and-set against the version on screen, so a change someone else made in
the meantime is reported as a conflict, never overwritten; core audits each one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from kafkaops.console import format as fmt
from kafkaops.console.base import DataScreen
from kafkaops.console.confirm import ConfirmScreen
from kafkaops.core.audit.log import local_actor
from kafkaops.core.audit.trails import note_refusal
from kafkaops.core.capabilities import in_console_words
from kafkaops.core.errors import KafkaOpsError, NothingToChange, Refused, UsageError
from kafkaops.core.flags.plan import FlagPlan
from kafkaops.core.flags.service import (
    FlagChange,
    FlagService,
    FlagState,
    check_rollout,
    state_summary,
)
from kafkaops.core.untrusted import printable

COLUMNS = ("Flag", "State", "Rollout", "Value", "Owner", "Version", "Last change", "Tags")


def when(iso: str) -> str:
    """2026-11-25T14:03:05.12Z -> 2026-11-25 14:03:05Z; "-" when unknown."""
    return iso.replace("T", " ")[:19] + "Z" if iso else fmt.MISSING


def short(value: Any, width: int = 24) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def flag_row(f: FlagState) -> tuple[Text, ...]:
    """The cells of one flag in the list."""
    state = Text("on", style="bold green") if f.enabled else Text("off", style="dim")
    key = Text(printable(f.key), style="bold" if f.critical else "")
    return (
        key,
        state,
        Text(f"{f.rollout:g}%", justify="right"),
        Text(printable(short(f.value))),
        Text(printable(fmt.text(f.owner))),
        Text(str(f.version), justify="right"),
        Text(printable(f"{when(f.updated_at)} {f.updated_by}".strip())),
        Text(printable(", ".join(f.tags)), style="bold red" if f.critical else ""),
    )


UNSIGNED_LINE = ("flag records are unsigned: anyone who can write _kafkaops.flags can change "
                 "a flag; set flags.signing_key")


@dataclass
class FlagsView:
    """What the list shows: the flags in force, and what signing left out."""

    flags: list[FlagState]
    signed: bool = True
    #: (offset, flag key, why) of records not applied (signature missing or wrong)
    ignored: list[tuple[int, str, str]] = field(default_factory=list)
    #: keys that have only unsigned records: their state is UNKNOWN until re-signed
    unknown: list[str] = field(default_factory=list)


def signing_lines(view: FlagsView) -> list[str]:
    """The notes under the list: records unsigned, records ignored (by offset)."""
    lines = [] if view.signed else [UNSIGNED_LINE]
    if view.ignored:
        # the newest ten: a long-lived topic may hold many old ones
        offsets = ", ".join(str(o) for o, _, _ in view.ignored[-10:])
        more = "" if len(view.ignored) <= 10 else f" ({len(view.ignored) - 10} older not listed)"
        n = len(view.ignored)
        lines.append(f"{n} record{'' if n == 1 else 's'} ignored (unsigned or altered): "
                     f"offsets {offsets}{more}")
    if view.unknown:
        lines.append("UNKNOWN (only unsigned records; `kafkaops flags resign NAME` writes "
                     "them again, signed): " + ", ".join(view.unknown))
    return [printable(line) for line in lines]


def unknown_row(key: str, offsets: list[int]) -> tuple[Text, ...]:
    """A flag that has only unsigned records: its state is not known, its old value is not
    shown (nothing verifies it)."""
    where = "only unsigned records" + (
        f" (offsets {', '.join(str(o) for o in offsets[:5])})" if offsets else "")
    return (
        Text(printable(key)),
        Text("UNKNOWN", style="bold yellow"),
        Text(fmt.MISSING, justify="right"),
        Text(fmt.MISSING),
        Text(fmt.MISSING),
        Text(fmt.MISSING, justify="right"),
        Text(printable(where)),
        Text(""),
    )


def visible_flags(flags: Sequence[FlagState], query: str) -> list[FlagState]:
    return [f for f in flags if fmt.matches(f.key, query)]


class FlagsChanged(Message):
    """A writer (this console or anyone else) changed the flags topic."""


class ConfirmFlagScreen(ConfirmScreen):
    """A change to a critical flag: y (or Enter once the yes button has the focus) goes
    ahead; n, Esc, or Enter as the dialog opens cancels."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)


class RolloutScreen(ModalScreen["float | None"]):
    """Ask for a rollout percentage; a bad one is explained in place, Esc cancels."""

    CSS_PATH = "flags.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, flag: FlagState) -> None:
        super().__init__()
        self.flag = flag

    def compose(self) -> ComposeResult:
        with Vertical(id="flag-rollout"):
            yield Static(
                Text(
                    f"Rollout of {self.flag.key} (now {self.flag.rollout:g}%, "
                    f"version {self.flag.version}). Raising it only adds users."
                ),
                id="flag-rollout-title",
            )
            yield Input(value=f"{self.flag.rollout:g}", id="flag-rollout-input",
                        placeholder="0-100, e.g. 25 or 12.5")
            yield Static("", id="flag-rollout-error")

    def on_mount(self) -> None:
        box = self.query_one("#flag-rollout-input", Input)
        box.focus()
        box.action_select_all()

    @on(Input.Submitted, "#flag-rollout-input")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            pct = check_rollout(event.value)
        except UsageError as e:
            self.query_one("#flag-rollout-error", Static).update(Text(str(e), style="bold red"))
            return
        self.dismiss(pct)

    def action_cancel(self) -> None:
        self.dismiss(None)


class _FlagActions:
    """The writes both flag screens make, in workers; the outcome goes to `#flag-result`."""

    services: Any
    app: Any

    def result(self, text: str, *, error: bool = False) -> None:
        box = self.query_one("#flag-result", Static)  # type: ignore[attr-defined]
        box.update(Text(in_console_words(text), style="bold red" if error else "bold"))

    def writable(self, what: str, key: str) -> bool:
        try:
            self.services.require_writable(None, what)
        except KafkaOpsError as e:
            self.result(f"refused: {e}", error=True)
            if isinstance(e, Refused):  # on the audit trail too, as from every face
                self.run_worker(  # type: ignore[attr-defined]
                    note_refusal(self.services, e, actor=local_actor(), face="console",
                                 action="flag.write", target=key),
                    group="audit-refusal", exit_on_error=False)
            return False
        return True

    async def change(self, flag: FlagState, planning: Any) -> None:
        """Plan with core (`planning`: a FlagService.plan_* call), ask when the flag is
        critical, showing the plan's own words (FlagPlan.describe()), and apply that plan
        against the version it was planned on. A change that would change nothing goes
        straight to core, which refuses it before anything is written or audited."""
        try:
            plan: FlagPlan = (await planning).pin()
        except KafkaOpsError as e:
            self.result(f"{flag.key} not changed: {e}", error=True)
            return
        head = plan.describe()[0]
        same = plan.nothing_to_change()
        if same:
            self.result(same)  # nothing asked, written or audited
            return
        if flag.critical:
            summary = (f"{flag.key} is tagged critical.\n\n" + "\n".join(plan.describe())
                       + f"\n\nOwner: {flag.owner or '-'}. The change is audited.")
            if not await self.app.push_screen_wait(ConfirmFlagScreen(summary)):
                self.result(f"cancelled: {flag.key} was not changed")
                return
        svc = await self.services.flags()
        self.result(f"{head}…")
        try:
            state = await svc.apply(plan, actor=local_actor(), face="console")
        except NothingToChange as e:
            self.result(str(e))
            return
        except KafkaOpsError as e:
            self.result(f"{head}: failed: {e}", error=True)
            return
        now = state_summary(state) if state is not None else "deleted"
        self.result(f"{head}: done, now {now}")


class FlagsScreen(_FlagActions, DataScreen):
    """Every flag; space toggles, p edits the rollout, Enter shows the history."""

    TITLE = "Flags"
    CSS_PATH = "flags.tcss"
    AUTO_FOCUS = "#flags"
    REFRESH_EVERY = 30.0  # changes arrive live; the poll is a safety net
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_flag", "On/off"),
        Binding("p", "rollout", "Rollout %"),
        Binding("enter", "history", "History"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("space", "switch the highlighted flag on or off (critical flags ask first)"),
        ("p", "change the highlighted flag's rollout percentage"),
        ("enter", "the flag's history, with b to roll back to a version"),
    )

    search: reactive[str] = reactive("", init=False)
    """Incremental search over flag keys."""

    def __init__(self) -> None:
        super().__init__()
        self.flags: list[FlagState] = []
        self.view = FlagsView([])
        self._watching = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="flags-summary")
        yield Static("", id="flags-signing")
        yield DataTable(id="flags", cursor_type="row", zebra_stripes=True)
        yield Static("", id="flag-result")
        yield Input(placeholder="search flag keys (Enter: keep, Esc: clear)", id="flags-search")

    def on_mount(self) -> None:
        self.query_one("#flags-search", Input).display = False
        table: DataTable[Any] = self.query_one("#flags", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)

    async def load(self) -> FlagsView:
        svc = await self.services.flags()
        if not self._watching:
            self._watching = True
            self._watch(svc)
        flags = await svc.list_flags(fresh=False)
        shown = {f.key for f in flags}
        unknown = sorted(k for k in svc.store.log.unsigned_states if k not in shown)
        return FlagsView(flags, svc.signed, svc.ignored_records(), unknown)

    def show(self, data: FlagsView) -> None:
        self.view = data
        self.flags = data.flags
        notes = signing_lines(data)
        box = self.query_one("#flags-signing", Static)
        box.update(Text("\n".join(notes), style="bold yellow"))
        box.display = bool(notes)
        self._render_rows()

    @work(exclusive=True, group="flags-watch", exit_on_error=False)
    async def _watch(self, svc: FlagService) -> None:
        """Follow the topic: one FlagsChanged per burst of changes (never overlapping)."""
        seq = svc.seq
        while True:
            seq = await svc.wait_changed(seq)
            self.post_message(FlagsChanged())

    @on(FlagsChanged)
    def _changed(self, message: FlagsChanged) -> None:
        message.stop()
        if self.is_current:
            self.refresh_data()

    def _render_rows(self) -> None:
        table: DataTable[Any] = self.query_one("#flags", DataTable)
        current = self.highlighted()
        rows = visible_flags(self.flags, self.search)
        table.clear()
        for f in rows:
            table.add_row(*flag_row(f), key=f.key)
        keys = [f.key for f in rows]
        for key in self.view.unknown:
            if key not in keys and fmt.matches(key, self.search):
                offsets = [o for o, k, _ in self.view.ignored if k == key]
                table.add_row(*unknown_row(key, offsets), key=key)
        if current is not None and current.key in keys:
            table.move_cursor(row=keys.index(current.key), animate=False)
        on = sum(1 for f in self.flags if f.enabled)
        words = [f"{len(rows)} of {len(self.flags)} flags", f"{on} on"]
        if self.search:
            words.append(f'search "{self.search}"' + ("" if rows else ": no flag matches"))
        words.append("space on/off · p rollout · enter history")
        self.query_one("#flags-summary", Static).update(Text(" · ".join(words)))

    def highlighted(self) -> FlagState | None:
        table: DataTable[Any] = self.query_one("#flags", DataTable)
        if not table.row_count:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return next((f for f in self.flags if f.key == key), None)

    def watch_search(self) -> None:
        self._render_rows()

    # ------------------------------------------------------------ actions

    def action_search(self) -> None:
        box = self.query_one("#flags-search", Input)
        box.display = True
        box.focus()

    def action_clear_search(self) -> None:
        box = self.query_one("#flags-search", Input)
        box.value = ""
        box.display = False
        self.search = ""
        self.query_one("#flags", DataTable).focus()

    @on(Input.Changed, "#flags-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value

    @on(Input.Submitted, "#flags-search")
    def _search_done(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self.query_one("#flags", DataTable).focus()

    def action_toggle_flag(self) -> None:  # not `toggle`: DOMNode has an action of that name
        flag = self.highlighted()
        if flag is not None and self.writable(f"switch flag {flag.key!r}", flag.key):
            self._toggle_worker(flag)

    @work(exclusive=True, group="flag-action", exit_on_error=False)
    async def _toggle_worker(self, flag: FlagState) -> None:
        svc = await self.services.flags()
        await self.change(flag, svc.plan_toggle(
            flag.key, not flag.enabled, expect_version=flag.version,
            audit=(local_actor(), "console")))
        self.refresh_data()

    def action_rollout(self) -> None:
        flag = self.highlighted()
        if flag is not None and self.writable(f"change the rollout of flag {flag.key!r}", flag.key):
            self._rollout_worker(flag)

    @work(exclusive=True, group="flag-action", exit_on_error=False)
    async def _rollout_worker(self, flag: FlagState) -> None:
        pct = await self.app.push_screen_wait(RolloutScreen(flag))
        if pct is None:
            self.result(f"cancelled: {flag.key} was not changed")
            return
        svc = await self.services.flags()
        await self.change(flag, svc.plan_rollout(
            flag.key, pct, expect_version=flag.version, audit=(local_actor(), "console")))
        self.refresh_data()

    def action_history(self) -> None:
        flag = self.highlighted()
        if flag is not None:
            self.app.push_screen(FlagHistoryScreen(flag.key))

    @on(DataTable.RowSelected, "#flags")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_history()


class FlagHistoryScreen(_FlagActions, DataScreen):
    """One flag's records on the topic, oldest first; b rolls back to the highlighted one."""

    CSS_PATH = "flags.tcss"
    AUTO_FOCUS = "#flag-history"
    REFRESH_EVERY = 15.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "rollback", "Roll back to this"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.title = f"Flag {key}"
        self.changes: list[FlagChange] = []
        self.current: FlagState | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="flag-now")
        yield DataTable(id="flag-history", cursor_type="row", zebra_stripes=True)
        yield Static("", id="flag-result")

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#flag-history", DataTable)
        for label in ("Offset", "When", "Op", "Version", "By", "Outcome", "What"):
            table.add_column(label, key=label)

    async def load(self) -> tuple[FlagState | None, list[FlagChange]]:
        svc = await self.services.flags()
        changes = await svc.history(self.key)
        return svc.store.flags.get(self.key), changes

    def show(self, data: tuple[FlagState | None, list[FlagChange]]) -> None:
        self.current, self.changes = data
        now = self.query_one("#flag-now", Static)
        if self.current is None:
            now.update(Text(f"{self.key}: deleted", style="bold"))
        else:
            now.update(Text(f"{self.key} now: {state_summary(self.current)}"
                            f" · b rolls back to the highlighted version"))
        table: DataTable[Any] = self.query_one("#flag-history", DataTable)
        row = table.cursor_row
        table.clear()
        for c in self.changes:
            outcome = Text(c.outcome, style="" if c.outcome == "applied" else "bold yellow")
            what = c.note or (state_summary(c.state) if c.state else "deleted")
            if c.reason and not c.note:
                what += f" — {c.reason}"
            table.add_row(
                Text(str(c.offset), justify="right"),
                when(c.at),
                c.op,
                Text("-" if c.version is None else str(c.version), justify="right"),
                c.by,
                outcome,
                Text(what),
                key=str(c.offset),
            )
        if self.changes:
            table.move_cursor(row=min(row, len(self.changes) - 1) if row else
                              len(self.changes) - 1, animate=False)

    def highlighted(self) -> FlagChange | None:
        table: DataTable[Any] = self.query_one("#flag-history", DataTable)
        if not table.row_count:
            return None
        offset = int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        return next((c for c in self.changes if c.offset == offset), None)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_rollback(self) -> None:
        change = self.highlighted()
        if change is None or self.current is None:
            return
        if change.outcome != "applied" or change.state is None or change.op == "restate":
            self.result(f"offset {change.offset} is not a version to roll back to "
                        f"({change.op}, {change.outcome})", error=True)
            return
        if self.writable(f"roll back flag {self.key!r}", self.key):
            self._rollback_worker(self.current, change.state)

    @work(exclusive=True, group="flag-action", exit_on_error=False)
    async def _rollback_worker(self, current: FlagState, target: FlagState) -> None:
        svc = await self.services.flags()
        await self.change(current, svc.plan_rollback(
            self.key, target.version, expect_version=current.version,
            audit=(local_actor(), "console")))
        self.refresh_data()
