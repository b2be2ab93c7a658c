"""The floor for console start: the smallest Textual app that lists a cluster's topics
(aiokafka's admin client, one DataTable). bench/console_start.py times it next to kafkaops
and kaskade so the figures show how much of a start is Textual and Python themselves.

    python bench/console_floor.py HOST:PORT
"""

import sys

from textual.app import App, ComposeResult
from textual.widgets import DataTable


class Floor(App[None]):
    def __init__(self, bootstrap: str) -> None:
        super().__init__()
        self.bootstrap = bootstrap

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        self.run_worker(self.load())

    async def load(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            names = sorted(await admin.list_topics())
        finally:
            await admin.close()
        table = self.query_one(DataTable)
        table.add_column("Topic")
        for name in names:
            table.add_row(name)


if __name__ == "__main__":
    Floor(sys.argv[1]).run()
