"""The command palette (ctrl+p) finds topics and consumer groups by name and opens them:
typing `orders.events` offers "Topic orders.events" (its partitions and configs) and any
group of that name (its partitions and lag). The screens themselves are offered by the app's
system commands ("Go to Lag", ...).

Names are read when the palette opens (one Metadata request and one ListGroups per broker),
while the cluster answers (core/reach.py); a cluster that does not answer leaves the list
empty rather than hold the palette up. Group ids are untrusted text: shown escaped, never
as markup.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.reach import answering
from kafkaops.core.untrusted import printable

#: names offered with an empty query (the palette's first page)
DISCOVER = 10


class FindProvider(Provider):
    """Topics and consumer groups by name."""

    async def startup(self) -> None:
        self._topics: list[str] = []
        self._groups: list[str] = []
        app: Any = self.app
        services = app.services

        async def names() -> tuple[list[str], list[str]]:
            topics = await (await services.topics()).list_topics(offsets=False)
            groups = await (await services.lag()).list_groups()
            return sorted(t.name for t in topics), groups

        with contextlib.suppress(KafkaOpsError):  # the palette still offers the screens
            self._topics, self._groups = await answering(
                services, [services.cluster_name], names)

    def _items(self) -> list[tuple[str, str, Any, str]]:
        app: Any = self.app
        return (
            [("Topic", t, functools.partial(app.open_topic, t),
              "its partitions, offsets and configs (m there tails its messages)")
             for t in self._topics]
            + [("Group", g, functools.partial(app.open_group, g),
                "its partitions, lag, status and members (o there resets offsets)")
               for g in self._groups]
        )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        wanted = query.strip()
        for kind, name, open_it, help_text in self._items():
            score = matcher.match(name)
            if name == wanted:
                score += 1_000_000  # the exact name first (fuzzy scores are not 0..1)
            if score > 0:
                label = f"{kind} {printable(name)}"
                yield Hit(score, Text(label), open_it, text=label, help=help_text)

    async def discover(self) -> Hits:
        for kind, name, open_it, help_text in self._items()[:DISCOVER]:
            label = f"{kind} {printable(name)}"
            yield DiscoveryHit(Text(label), open_it, text=label, help=help_text)
