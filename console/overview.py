"""The cluster overview: brokers, controller, topic and partition counts, and the partitions
that need attention (offline: no leader; under-replicated: ISR smaller than replicas).

Data: `TopicService.overview()` (one metadata request).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.markup import escape
from textual.widgets import DataTable, Static

from kafkaops.console import format as fmt
from kafkaops.console.base import DataScreen
from kafkaops.core.records import ClusterOverview
from kafkaops.core.untrusted import printable

BROKER_COLUMNS = ("Broker", "Host", "Port", "Rack", "Role")


def overview_lines(ov: ClusterOverview) -> list[str]:
    """The facts block, as Textual markup (values from the broker escaped)."""

    def problem(n: int, what: str, style: str) -> str:
        return f"[{style}]{n:,} {what}[/]" if n else f"0 {what}"

    controller = "not reported" if ov.controller_id is None else str(ov.controller_id)
    read_only = "  (read-only in config)" if ov.read_only else ""
    return [
        f"Cluster       [b]{escape(ov.name)}[/]{read_only}",
        f"Bootstrap     {escape(ov.bootstrap_servers)}",
        f"Cluster id    {escape(printable(ov.cluster_id or 'not reported'))}",
        f"Controller    {controller}",
        f"Brokers       {len(ov.brokers)}",
        f"Topics        {ov.topic_count:,} ({ov.internal_topic_count:,} internal)",
        f"Partitions    {ov.partition_count:,}: "
        f"{problem(ov.offline_partitions, 'offline', 'b red')}, "
        f"{problem(ov.under_replicated_partitions, 'under-replicated', 'yellow')}",
    ]


class OverviewScreen(DataScreen):
    TITLE = "Cluster"
    SHOWS_STALE = True
    REFRESH_EVERY = 10.0

    def compose_body(self) -> ComposeResult:
        yield Static("", id="overview-facts")
        yield Static("[b]Brokers[/]", classes="section")
        yield DataTable(id="brokers", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#brokers", DataTable)
        for label in BROKER_COLUMNS:
            table.add_column(label, key=label)

    async def load(self) -> ClusterOverview:
        return await (await self.services.topics()).overview()

    def show(self, data: ClusterOverview) -> None:
        lines = overview_lines(data)
        if self.stale_since is not None:
            # the counts are the last answer's: say that the partitions' health is not known
            lines[-1] += f"  [b yellow]UNKNOWN now[/]: no answer for {self.stale_age()}"
        self.query_one("#overview-facts", Static).update("\n".join(lines))
        table: DataTable[Any] = self.query_one("#brokers", DataTable)
        table.clear()
        for b in data.brokers:
            table.add_row(
                Text(str(b.node_id), justify="right"), Text(printable(b.host)),
                Text(str(b.port), justify="right"), Text(printable(fmt.text(b.rack))),
                "controller" if b.is_controller else "",
                key=str(b.node_id),
            )
