"""One topic: its partitions (leader, replicas, ISR, earliest / latest offsets, records
kept) and the configs the broker reported.

Data: `TopicService.topic_detail(name)`. A broker that does not report a config (Tansu
reports only those set at creation, docs/broker-notes.md) gets "broker default (not reported)",
never a default made up here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.widgets import DataTable, Static

from kafkaops.console import format as fmt
from kafkaops.console.base import DataScreen
from kafkaops.core.records import NOT_REPORTED, SUMMARY_CONFIGS, ConfigEntry, TopicDetail
from kafkaops.core.untrusted import printable

PARTITION_COLUMNS = ("Partition", "Leader", "Replicas", "ISR", "Earliest", "Latest", "Messages")
CONFIG_COLUMNS = ("Config", "Value", "Source")


def config_rows(reported: tuple[ConfigEntry, ...]) -> list[tuple[str, str, str]]:
    """(name, value, source) rows: what the broker reported, then each config the topic
    list shows as a column that it did not report, marked NOT_REPORTED."""
    rows = []
    for c in reported:
        if c.value is None:
            value = "(not shown: sensitive or unset)"
        elif c.name.endswith(".ms"):
            value = fmt.duration_ms_long(c.value)
        else:
            value = c.value
        rows.append((c.name, value, c.source))
    names = {c.name for c in reported}
    rows += [(name, NOT_REPORTED, "-") for name in SUMMARY_CONFIGS if name not in names]
    return rows


def right(value: str, style: str = "") -> Text:
    return Text(value, style=style, justify="right")


class TopicDetailScreen(DataScreen):
    REFRESH_EVERY = 5.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("backspace", "app.pop_screen", "Back", show=False),
        Binding("m", "messages", "Messages"),
        Binding("p", "produce", "Produce"),
        Binding("e", "alter_config", "Configs"),
        Binding("plus", "add_partitions", "Partitions", key_display="+"),
        Binding("X", "delete_topic", "Delete", show=False),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("X", "delete this topic (plan first; type its name to confirm)"),
    )

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic
        self.title = f"Topics › {topic}"

    def action_messages(self) -> None:
        from kafkaops.console.messages import MessagesScreen

        self.app.push_screen(MessagesScreen(self.topic))

    def action_produce(self) -> None:
        from kafkaops.console.compose import ComposeScreen

        self.app.push_screen(ComposeScreen(self.topic), lambda _: self.refresh_data())

    def action_alter_config(self) -> None:
        from kafkaops.console.admin import alter_config

        self.app.push_screen(alter_config(self.topic), lambda _: self.refresh_data())

    def action_add_partitions(self) -> None:
        from kafkaops.console.admin import add_partitions

        self.app.push_screen(add_partitions(self.topic), lambda _: self.refresh_data())

    def action_delete_topic(self) -> None:
        from kafkaops.console.admin import delete_topic

        def done(result: object) -> None:
            if result is not None and self.app.screen is self:
                self.app.pop_screen()  # the topic is gone: back to the list
            else:
                self.refresh_data()

        self.app.push_screen(delete_topic(self.topic), done)

    def compose_body(self) -> ComposeResult:
        yield Static(f"[b]{escape(self.topic)}[/]", id="detail-summary")
        yield Static("[b]Partitions[/]", classes="section")
        yield DataTable(id="partitions", cursor_type="row", zebra_stripes=True)
        yield Static("[b]Configs[/]", classes="section")
        yield DataTable(id="configs", cursor_type="row", zebra_stripes=True)
        yield Static(
            f"Configs not listed: {NOT_REPORTED}.", id="configs-note"
        )

    def on_mount(self) -> None:
        parts: DataTable[Any] = self.query_one("#partitions", DataTable)
        for i, label in enumerate(PARTITION_COLUMNS):
            parts.add_column(Text(label, justify="left" if i in (2, 3) else "right"), key=label)
        configs: DataTable[Any] = self.query_one("#configs", DataTable)
        for label in CONFIG_COLUMNS:
            configs.add_column(label, key=label)

    async def load(self) -> TopicDetail:
        return await (await self.services.topics()).topic_detail(self.topic)

    def show(self, data: TopicDetail) -> None:
        s = data.summary
        health = "ok"
        if s.offline_partitions or s.under_replicated:
            health = f"[b red]{s.offline_partitions} offline[/], " \
                     f"[yellow]{s.under_replicated} under-replicated[/]"
        internal = " · internal" if s.internal else ""
        self.query_one("#detail-summary", Static).update(
            f"[b]{escape(printable(s.name))}[/]{internal} · "
            f"{fmt.plural(s.partitions, 'partition')} · "
            f"replication factor {s.replication_factor} · {fmt.count(s.messages)} messages kept"
            f" · end offsets {fmt.count(s.end_offsets_total)} · health {health}"
        )

        parts: DataTable[Any] = self.query_one("#partitions", DataTable)
        cursor = parts.cursor_row
        parts.clear()
        for p in data.partitions:
            leader = (
                right("none (offline)", "bold red") if p.leader is None else right(str(p.leader))
            )
            isr_style = "yellow" if len(p.isr) < len(p.replicas) else ""
            parts.add_row(
                right(str(p.partition)), leader, fmt.node_list(p.replicas),
                Text(fmt.node_list(p.isr), style=isr_style),
                right(fmt.count(p.earliest)), right(fmt.count(p.latest)),
                right(fmt.count(p.messages)),
                key=str(p.partition),
            )
        if parts.row_count:
            parts.move_cursor(row=min(cursor, parts.row_count - 1), animate=False)

        configs: DataTable[Any] = self.query_one("#configs", DataTable)
        configs.clear()
        for name, value, source in config_rows(data.configs):
            style = "dim" if value == NOT_REPORTED else ""
            configs.add_row(Text(printable(name)), Text(printable(value), style=style),
                            Text(printable(source)), key=name)
