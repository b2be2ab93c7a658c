"""The compose dialog: write a record (key, headers, partition, value) and produce it,
seeing the partition and offset the broker acknowledged. Opened empty from the topic list,
a topic and the messages screen (`p`), or filled with a record to produce an edited copy
(`e` on the messages screen: `ComposeScreen.from_message`).

The value editor checks JSON as it is typed (line and column of the first error); with
"JSON" on, a value that is not JSON is not sent. A Schema Registry subject frames the
value (given as JSON) with the subject's latest schema, as `produce --schema` does.
Sending asks first (the confirmation opens on Cancel), goes through core's one produce
path (audited, refused on a read-only cluster), in a worker.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea

from kafkaops.console.confirm import ConfirmScreen
from kafkaops.core.admin.plans import PRODUCE
from kafkaops.core.admin.produce import Ack, OutRecord, ProduceSpec
from kafkaops.core.admin.rules import parse_headers
from kafkaops.core.capabilities import in_console_words
from kafkaops.core.errors import KafkaOpsError, Refused, UsageError
from kafkaops.core.messages.model import Message as Record
from kafkaops.core.services import Services
from kafkaops.core.textfmt import plural
from kafkaops.core.untrusted import is_printable, printable


def json_check(text: str) -> str | None:
    """None when `text` is JSON, else where and why not ("line 2, column 5: Expecting
    ',' delimiter")."""
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return f"line {e.lineno}, column {e.colno}: {e.msg}"
    return None


def editable(record: Record) -> tuple[str, list[tuple[str, str]], str, str]:
    """(key, headers, value, schema subject) of a record as text to edit; UsageError when
    part of it is not text (bytes that are not UTF-8, control characters), which an editor
    would change without anyone seeing it."""

    def text(raw: bytes | None, what: str) -> str:
        if raw is None:
            return ""
        try:
            out = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"the record's {what} is not text (not UTF-8): it cannot be "
                             "edited here") from None
        if not is_printable(out, multiline=True):
            raise UsageError(f"the record's {what} has control characters: it cannot be "
                             "edited here")
        return out

    if record.value is None:
        raise UsageError("the record is a tombstone (no value): nothing to edit")
    subject = ""
    if record.framed is not None:
        if record.framed.error is not None or not record.framed.schema.subject:
            raise UsageError("the record's value is framed for a Schema Registry and could "
                             "not be decoded: it cannot be edited here")
        subject = record.framed.schema.subject
    headers = [(name, text(raw, f"header {name!r}")) for name, raw in record.headers]
    return text(record.key, "key"), headers, text(record.value, "value"), subject


class ComposeScreen(ModalScreen["Ack | None"]):
    """`ComposeScreen(topic, key=..., headers=..., value=..., schema=...)`. Dismisses with
    the last acknowledgement (None when nothing was sent)."""

    DEFAULT_CSS = """
    ComposeScreen { align: center middle; }
    ComposeScreen #compose-dialog {
        width: 90%; max-width: 130; height: 95%; padding: 0 2;
        border: thick $primary; background: $surface;
    }
    ComposeScreen #compose-title { height: auto; margin-bottom: 1; }
    ComposeScreen .field { height: 1; }
    ComposeScreen .field-label { width: 12; padding: 0 1 0 0; }
    ComposeScreen .field Input { width: 1fr; background: $boost; }
    ComposeScreen #compose-headers { height: 4; }
    ComposeScreen #compose-value { height: 1fr; min-height: 4; }
    ComposeScreen #compose-check { height: 1; }
    ComposeScreen #compose-check.bad { color: $error; }
    ComposeScreen #compose-check.good { color: $success; }
    ComposeScreen #compose-status { height: auto; }
    ComposeScreen #compose-status.status-error { color: $error; }
    ComposeScreen #compose-status.status-done { color: $success; }
    ComposeScreen .buttons { height: auto; align-horizontal: right; }
    ComposeScreen .buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "send", "Send", show=False),
    ]

    class Sent(Message):
        def __init__(self, ack: Ack) -> None:
            super().__init__()
            self.ack = ack

    class Failed(Message):
        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    def __init__(self, topic: str, *, key: str = "",
                 headers: Sequence[tuple[str, str]] = (), value: str = "",
                 schema: str = "", partition: int | None = None, note: str = "") -> None:
        super().__init__()
        self.topic = topic
        self.initial = (key, list(headers), value, schema, partition)
        self.note = note
        self.ack: Ack | None = None
        """The last acknowledgement."""
        self._busy = False

    @classmethod
    def from_message(cls, record: Record) -> ComposeScreen:
        """The dialog filled with a record (to produce an edited copy); UsageError when the
        record is not text."""
        key, headers, value, subject = editable(record)
        return cls(record.topic, key=key, headers=headers, value=value, schema=subject,
                   note=f"a copy of partition {record.partition} offset {record.offset}")

    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined, no-any-return]

    def compose(self) -> ComposeResult:
        key, headers, value, schema, partition = self.initial
        note = f" · {escape(self.note)}" if self.note else ""
        with Vertical(id="compose-dialog"):
            yield Static(Text.from_markup(
                f"[b]Produce to {escape(printable(self.topic))}[/] · cluster "
                f"{escape(self.services.cluster_name)}{note}"), id="compose-title")
            with Horizontal(classes="field"):
                yield Label("Key", classes="field-label")
                yield Input(key, placeholder="none", id="compose-key", compact=True)
                yield Label("Partition", classes="field-label")
                yield Input("" if partition is None else str(partition),
                            placeholder="by key hash", id="compose-partition", compact=True)
            with Horizontal(classes="field"):
                yield Label("Schema", classes="field-label")
                yield Input(schema, placeholder="none: the value as typed (or a Schema "
                            "Registry subject)", id="compose-schema", compact=True)
                yield Checkbox("JSON", value=not value or json_check(value) is None,
                               id="compose-json", compact=True)
            yield Label("Headers, one NAME=VALUE per line")
            yield TextArea("\n".join(f"{n}={v}" for n, v in headers), id="compose-headers",
                           soft_wrap=False)
            yield Label("Value")
            yield TextArea(value, id="compose-value", tab_behavior="indent")
            yield Static("", id="compose-check")
            yield Static("", id="compose-status")
            with Horizontal(classes="buttons"):
                yield Button("Send…", id="compose-send", variant="primary", compact=True)
                yield Button("Close", id="compose-close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#compose-value", TextArea).focus()
        self._check()
        self.set_status("Nothing is sent before Send (ctrl+s) and its confirmation.")

    def set_status(self, text: str, kind: str = "ok") -> None:
        status = self.query_one("#compose-status", Static)
        # escaped (errors quote names from the cluster), commands as the console's keys
        status.update(Text(printable(in_console_words(text), multiline=True)))
        status.set_classes(f"status-{kind}")

    # ------------------------------------------------------------ JSON check

    def _json_on(self) -> bool:
        schema = self.query_one("#compose-schema", Input).value.strip()
        return bool(schema) or self.query_one("#compose-json", Checkbox).value

    def _check(self) -> str | None:
        """Show whether the value is JSON; the error when JSON is on and it is not."""
        value = self.query_one("#compose-value", TextArea).text
        check = self.query_one("#compose-check", Static)
        if not self._json_on():
            check.update(Text(f"text, {len(value.encode('utf-8')):,} bytes (JSON off)"))
            check.set_classes("")
            return None
        error = json_check(value)
        if error is None:
            check.update(Text(f"valid JSON, {len(value.encode('utf-8')):,} bytes"))
            check.set_classes("good")
            return None
        check.update(Text(f"not JSON: {error}"))
        check.set_classes("bad")
        return error

    @on(TextArea.Changed, "#compose-value")
    @on(Checkbox.Changed, "#compose-json")
    @on(Input.Changed, "#compose-schema")
    def _changed(self) -> None:
        self._check()

    # ------------------------------------------------------------ send

    def _record(self) -> tuple[ProduceSpec, OutRecord]:
        key = self.query_one("#compose-key", Input).value
        part_text = self.query_one("#compose-partition", Input).value.strip()
        try:
            partition = int(part_text) if part_text else None
        except ValueError:
            raise UsageError(f"Partition: a whole number, or empty (got {part_text!r})") \
                from None
        lines = [ln for ln in self.query_one("#compose-headers", TextArea).text.splitlines()
                 if ln.strip()]
        headers = parse_headers(lines)
        error = self._check()
        if error is not None:
            raise UsageError(f"the value is not JSON ({error}): fix it, or turn JSON off")
        value = self.query_one("#compose-value", TextArea).text.encode("utf-8")
        schema = self.query_one("#compose-schema", Input).value.strip() or None
        spec = ProduceSpec(self.topic, partition=partition, schema=schema, source="console")
        return spec, OutRecord(value, key.encode("utf-8") if key else None, headers)

    @on(Button.Pressed, "#compose-send")
    def action_send(self) -> None:
        if self._busy:
            return
        try:
            spec, record = self._record()
        except KafkaOpsError as e:
            self.set_status(str(e), "error")
            return
        size = len(record.value or b"")
        key = "no key" if record.key is None else f"key {printable(record.key.decode())!r}"
        where = "by key hash" if spec.partition is None else f"partition {spec.partition}"
        framing = f", framed with {spec.schema}'s latest schema" if spec.schema else ""
        summary = Text()
        summary.append(f"Produce 1 record to {printable(self.topic)}?\n\n", style="bold")
        summary.append(f"Cluster {self.services.cluster_name}, {where}, {key}, "
                       f"{plural(len(record.headers), 'header')}, {plural(size, 'byte')}{framing}.")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._busy = True
                self.set_status("Sending, waiting for the broker's acknowledgement…")
                self._send_worker(spec, record)
            else:
                self.set_status("Cancelled: nothing was sent.")

        self.app.push_screen(ConfirmScreen(summary, yes_label="Send"), confirmed)

    @work(exclusive=True, group="compose")
    async def _send_worker(self, spec: ProduceSpec, record: OutRecord) -> None:
        from kafkaops.core.admin.produce import ProduceService
        from kafkaops.core.audit.log import local_actor

        acks: list[Ack] = []
        try:
            await ProduceService(self.services).produce(
                spec, [record], actor=local_actor(), face="console", on_acks=acks.extend)
        except Exception as e:  # shown in the dialog; the console stays up
            self.post_message(self.Failed(e))
        else:
            self.post_message(self.Sent(acks[-1]))

    @on(Sent)
    def _sent(self, message: Sent) -> None:
        self._busy = False
        ack = self.ack = message.ack
        if ack.partition is None:
            self.set_status("Sent (the broker acknowledges nothing with acks=0).", "done")
        else:
            self.set_status(f"Produced to partition {ack.partition} at offset {ack.offset} "
                            "(audited). Send again for another record, Close when done.",
                            "done")

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self._busy = False
        e = message.error
        if isinstance(e, Refused) and e.cluster is not None and not e.audited:
            from kafkaops.core.audit.log import local_actor
            from kafkaops.core.audit.trails import note_refusal

            self.run_worker(note_refusal(self.services, e, actor=local_actor(),
                                         face="console", action=PRODUCE, target=self.topic),
                            group="compose-refusal")
        self.set_status(str(e) if isinstance(e, KafkaOpsError) else
                        f"{type(e).__name__}: {e}", "error")

    @on(Button.Pressed, "#compose-close")
    def action_close(self) -> None:
        if self._busy:
            return  # a send is in flight: its outcome must be seen
        self.dismiss(self.ack)
