"""The console's admin change dialogs: create, reconfigure, grow and delete a topic; delete
an empty consumer group. One dialog for all of them (`ChangeScreen`), as core has one plan
for all of them (core/admin/plans.py):

    fields (when the change takes any) -> Plan -> the plan as text (state now, each change
    before -> after, warnings) -> Apply -> a confirmation opening on Cancel (deleting a
    topic: its name typed out) -> core applies, audited -> what was read back

It dismisses with the `AdminResult` when a change was applied, else None. The plan shown is
the plan applied: editing a field throws it away. Planning and applying run in workers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from kafkaops.console.confirm import ConfirmScreen
from kafkaops.core.admin.plans import (
    GROUP_DELETE,
    TOPIC_CONFIG,
    TOPIC_CREATE,
    TOPIC_DELETE,
    TOPIC_PARTITIONS,
    AdminPlan,
    AdminResult,
)
from kafkaops.core.admin.rules import parse_assignments
from kafkaops.core.capabilities import in_console_words
from kafkaops.core.errors import KafkaOpsError, Refused
from kafkaops.core.services import Services
from kafkaops.core.untrusted import printable


@dataclass(frozen=True)
class Field:
    id: str
    """Widget id; the value's key."""
    label: str
    """Label left of the input."""
    placeholder: str = ""
    """Hint inside the empty input."""
    value: str = ""
    """Initial value."""


Planner = Callable[[Services, dict[str, str]], Awaitable[AdminPlan]]


def plan_text(plan: AdminPlan) -> Text:
    """The plan as the dialog shows it: every line through printable (names and config
    values come from the cluster)."""
    out = Text()
    for i, line in enumerate(plan.lines()):
        style = "bold" if i == 0 else ("yellow" if line.startswith("Warning:") else "")
        out.append(printable(line) + "\n", style=style)
    return out


class TypedNameConfirm(ModalScreen[bool]):
    """Confirmation by typing a name (deleting a topic). Opens on Cancel, like every
    confirmation; going ahead takes the exact name in the box and the button (or Enter in
    the box)."""

    DEFAULT_CSS = """
    TypedNameConfirm { align: center middle; }
    TypedNameConfirm #typed-box {
        width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: thick $error; background: $surface; padding: 1 2;
    }
    TypedNameConfirm #typed-summary { height: auto; margin-bottom: 1; }
    TypedNameConfirm #typed-buttons { height: auto; align-horizontal: right; }
    TypedNameConfirm #typed-buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, summary: Text, name: str, *, yes_label: str) -> None:
        super().__init__()
        self.summary = summary
        self.name_to_type = name
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(id="typed-box"):
            yield Static(self.summary, id="typed-summary")
            yield Input(placeholder="type the name to confirm", id="typed-name")
            with Horizontal(id="typed-buttons"):
                yield Button(self.yes_label, id="typed-yes", variant="error", disabled=True)
                yield Button("Cancel", id="typed-no")

    def on_mount(self) -> None:
        self.query_one("#typed-no", Button).focus()

    @on(Input.Changed, "#typed-name")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#typed-yes", Button).disabled = event.value != self.name_to_type

    @on(Input.Submitted, "#typed-name")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value == self.name_to_type:
            self.dismiss(True)

    @on(Button.Pressed, "#typed-yes")
    def _yes(self) -> None:
        if self.query_one("#typed-name", Input).value == self.name_to_type:
            self.dismiss(True)

    @on(Button.Pressed, "#typed-no")
    def action_cancel(self) -> None:
        self.dismiss(False)


class ChangeScreen(ModalScreen["AdminResult | None"]):
    """One admin change: `ChangeScreen(title, action, target, planner, fields=...,
    typed_name=...)`; `action` and `target` name it in the audit trail when it is refused
    before a plan is made (a group with members)."""

    DEFAULT_CSS = """
    ChangeScreen { align: center middle; }
    ChangeScreen #change-dialog {
        width: 90%; max-width: 130; height: 90%; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ChangeScreen #change-title { height: auto; margin-bottom: 1; }
    ChangeScreen .field { height: 1; }
    ChangeScreen .field-label { width: 22; padding: 0 1 0 0; }
    ChangeScreen .field Input { width: 1fr; background: $boost; }
    ChangeScreen #change-plan { height: 1fr; min-height: 5; border: round $primary-background; }
    ChangeScreen #change-status { height: auto; margin: 1 0 0 0; }
    ChangeScreen #change-status.status-error { color: $error; }
    ChangeScreen #change-status.status-done { color: $success; }
    ChangeScreen .buttons { height: auto; align-horizontal: right; }
    ChangeScreen .buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    class Planned(Message):
        def __init__(self, plan: AdminPlan) -> None:
            super().__init__()
            self.plan = plan

    class Applied(Message):
        def __init__(self, result: AdminResult) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        def __init__(self, error: BaseException, step: str) -> None:
            super().__init__()
            self.error = error
            self.step = step

    def __init__(self, title: str, action: str, target: str, planner: Planner, *,
                 fields: Sequence[Field] = (), typed_name: str | None = None,
                 yes_label: str = "Apply") -> None:
        super().__init__()
        self.title_text = title
        self.action = action
        self.target = target
        self.planner = planner
        self.fields = tuple(fields)
        self.typed_name = typed_name
        self.yes_label = yes_label
        self.plan: AdminPlan | None = None
        """The plan on screen; None when there is none or a field changed since."""
        self.result: AdminResult | None = None
        """Set once the plan was applied."""
        self._busy = False

    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined, no-any-return]

    def compose(self) -> ComposeResult:
        with Vertical(id="change-dialog"):
            yield Static(Text.from_markup(
                f"[b]{escape(self.title_text)}[/] · cluster "
                f"{escape(self.services.cluster_name)}"), id="change-title")
            for f in self.fields:
                with Horizontal(classes="field"):
                    yield Label(f.label, classes="field-label")
                    yield Input(f.value, placeholder=f.placeholder, id=f.id, compact=True)
            with VerticalScroll(id="change-plan"):
                yield Static("", id="change-plan-text")
            yield Static("", id="change-status")
            with Horizontal(classes="buttons"):
                yield Button("Plan", id="change-do-plan", variant="primary", compact=True)
                yield Button(f"{self.yes_label}…", id="change-apply", variant="error",
                             disabled=True, compact=True)
                yield Button("Close", id="change-close", compact=True)

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#{self.fields[0].id}", Input).focus()
            self.set_status("Fill in the fields, then Plan (Enter). Nothing changes before "
                            "Apply.")
        else:
            self.query_one("#change-close", Button).focus()
            self.action_plan()

    def set_status(self, text: str, kind: str = "ok") -> None:
        status = self.query_one("#change-status", Static)
        # escaped (errors quote names from the cluster), commands as the console's keys
        status.update(Text(printable(in_console_words(text), multiline=True)))
        status.set_classes(f"status-{kind}")

    def values(self) -> dict[str, str]:
        return {f.id: self.query_one(f"#{f.id}", Input).value for f in self.fields}

    # ------------------------------------------------------------ plan

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        if event.input.id not in {f.id for f in self.fields}:
            return
        if self.plan is not None and self.result is None:
            self.plan = None
            self.query_one("#change-apply", Button).disabled = True
            self.query_one("#change-plan-text", Static).update("")
            self.set_status("Changed: Plan again to see what it would do.")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id in {f.id for f in self.fields}:
            self.action_plan()

    @on(Button.Pressed, "#change-do-plan")
    def action_plan(self) -> None:
        if self._busy or self.result is not None:
            return
        self._busy = True
        self.set_status("Planning: reading the state the change depends on…")
        self._plan_worker(self.values())

    @work(exclusive=True, group="admin-change")
    async def _plan_worker(self, values: dict[str, str]) -> None:
        try:
            plan = await self.planner(self.services, values)
        except Exception as e:  # shown in the dialog; the console stays up
            self.post_message(self.Failed(e, "plan"))
        else:
            self.post_message(self.Planned(plan))

    @on(Planned)
    def _planned(self, message: Planned) -> None:
        self._busy = False
        plan = self.plan = message.plan
        self.query_one("#change-plan-text", Static).update(plan_text(plan))
        apply = self.query_one("#change-apply", Button)
        if plan.read_only:
            apply.disabled = True
            self.set_status(f"Cluster {plan.cluster!r} is read-only (read_only: true): this "
                            "plan cannot be applied.", "error")
            return
        apply.disabled = False
        self.set_status(f"Nothing changed yet: {self.yes_label} to go ahead.")

    # ------------------------------------------------------------ apply

    @on(Button.Pressed, "#change-apply")
    def action_apply(self) -> None:
        plan = self.plan
        if plan is None or self._busy or self.result is not None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes and self.plan is plan:
                self._busy = True
                self.query_one("#change-apply", Button).disabled = True
                self.set_status("Applying, then reading the outcome back…")
                self._apply_worker(plan)
            elif not yes:
                self.set_status("Cancelled: nothing was changed.")

        summary = Text()
        summary.append(printable(plan.title) + "?\n\n", style="bold")
        for c in plan.changes:
            summary.append(printable(f"{c.item}: {c.before} -> {c.after}") + "\n")
        for w in plan.warnings:
            summary.append("\n" + printable(w) + "\n", style="yellow")
        if self.typed_name is not None:
            summary.append(f"\nType {printable(self.typed_name)!r} to confirm.")
            self.app.push_screen(TypedNameConfirm(summary, self.typed_name,
                                                  yes_label=self.yes_label), confirmed)
        else:
            self.app.push_screen(ConfirmScreen(summary, yes_label=self.yes_label,
                                               yes_variant="error", yes_key=False), confirmed)

    @work(exclusive=True, group="admin-change")
    async def _apply_worker(self, plan: AdminPlan) -> None:
        from kafkaops.core.admin.apply import apply_plan
        from kafkaops.core.audit.log import local_actor

        try:
            result = await apply_plan(self.services, plan, actor=local_actor(),
                                      face="console")
        except Exception as e:
            self.post_message(self.Failed(e, "apply"))
        else:
            self.post_message(self.Applied(result))

    @on(Applied)
    def _applied(self, message: Applied) -> None:
        self._busy = False
        result = self.result = message.result
        text = plan_text(result.plan)
        text.append("\nRead back from the cluster:\n", style="bold")
        for line in result.read_back:
            text.append(f"  {printable(line)}\n")
        self.query_one("#change-plan-text", Static).update(text)
        for f in self.fields:
            self.query_one(f"#{f.id}", Input).disabled = True
        self.query_one("#change-do-plan", Button).disabled = True
        if result.verified:
            self.set_status("Done: the cluster shows what the plan said (audited).", "done")
        else:
            self.set_status("Applied (audited), but the cluster does not show what the plan "
                            "said: see what was read back.", "error")
        self.query_one("#change-close", Button).focus()

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self._busy = False
        e = message.error
        if isinstance(e, Refused) and e.cluster is not None and not e.audited:
            from kafkaops.core.audit.log import local_actor
            from kafkaops.core.audit.trails import note_refusal

            self.run_worker(note_refusal(self.services, e, actor=local_actor(),
                                         face="console", action=self.action,
                                         target=self.target), group="admin-refusal")
        text = str(e) if isinstance(e, KafkaOpsError) else f"{type(e).__name__}: {e}"
        if message.step == "apply" and self.plan is not None:
            self.query_one("#change-apply", Button).disabled = False
        self.set_status(text, "error")

    @on(Button.Pressed, "#change-close")
    def action_close(self) -> None:
        if self._busy and self.plan is not None and self.result is None:
            return  # an apply is in flight: its outcome must be seen
        self.dismiss(self.result)


# ---------------------------------------------------------------- the changes


def create_topic() -> ChangeScreen:
    async def plan(services: Services, v: dict[str, str]) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_create(
            v["name"].strip(), _number(v["partitions"], "Partitions"),
            _number(v["replication"] or "1", "Replication factor"),
            parse_assignments(v["configs"].split(), "Configs"))

    return ChangeScreen("Create topic", TOPIC_CREATE, "", plan, fields=(
        Field("name", "Name", "letters, digits, . _ -"),
        Field("partitions", "Partitions", "e.g. 6"),
        Field("replication", "Replication factor", "1", "1"),
        Field("configs", "Configs", "retention.ms=86400000 cleanup.policy=compact"),
    ), yes_label="Create")


def alter_config(topic: str) -> ChangeScreen:
    async def plan(services: Services, v: dict[str, str]) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_alter_config(
            topic, parse_assignments(v["set"].split(), "Set"), v["delete"].split())

    return ChangeScreen(f"Change configs of {topic}", TOPIC_CONFIG, topic, plan, fields=(
        Field("set", "Set", "retention.ms=86400000 cleanup.policy=compact"),
        Field("delete", "Back to default", "config names, e.g. retention.bytes"),
    ), yes_label="Change")


def add_partitions(topic: str) -> ChangeScreen:
    async def plan(services: Services, v: dict[str, str]) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_add_partitions(
            topic, _number(v["total"], "Partitions"))

    return ChangeScreen(f"Add partitions to {topic}", TOPIC_PARTITIONS, topic, plan, fields=(
        Field("total", "Partitions in total", "more than now"),), yes_label="Add partitions")


def delete_topic(topic: str) -> ChangeScreen:
    async def plan(services: Services, v: dict[str, str]) -> AdminPlan:
        from kafkaops.core.admin.topic_admin import TopicAdmin

        return await TopicAdmin(services).plan_delete(topic)

    return ChangeScreen(f"Delete topic {topic}", TOPIC_DELETE, topic, plan, typed_name=topic,
                        yes_label="Delete")


def delete_group(group: str) -> ChangeScreen:
    async def plan(services: Services, v: dict[str, str]) -> AdminPlan:
        from kafkaops.core.admin.groups import GroupAdmin

        return await GroupAdmin(services).plan_delete(group)

    return ChangeScreen(f"Delete consumer group {group}", GROUP_DELETE, group, plan,
                        yes_label="Delete group")


def _number(text: str, what: str) -> int:
    from kafkaops.core.errors import UsageError

    try:
        return int(text.strip())
    except ValueError:
        raise UsageError(f"{what}: a whole number, please (got {text.strip()!r})") from None
