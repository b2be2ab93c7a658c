"""`/kafka status`: every configured cluster, its brokers, offline and under-replicated
partitions. Clusters are read concurrently; one that does not answer is shown as such
instead of failing the whole reply."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kafkaops.bot.errors import public
from kafkaops.bot.render.common import Message
from kafkaops.bot.render.topics import ClusterStatus, render_status
from kafkaops.core.errors import KafkaOpsError

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services

#: per cluster, so one dead cluster does not hold up the others' answer
CLUSTER_TIMEOUT = 15.0


def register(bot: Bot, services: Services) -> None:
    bot.command(
        "status",
        summary="clusters, brokers, offline and under-replicated partitions",
    )(status)


async def status(inv: Invocation) -> Message:
    names = [inv.cluster] if inv.cluster_given else list(inv.services.config.clusters)
    results = await asyncio.gather(*(_one(inv, n) for n in names))
    return render_status(results)


async def _one(inv: Invocation, name: str) -> ClusterStatus:
    try:
        async with asyncio.timeout(CLUSTER_TIMEOUT):
            ov = await (await inv.services.topics(name)).overview()
    except TimeoutError:
        await inv.services.drop(name)
        return ClusterStatus(name, None, f"no answer within {CLUSTER_TIMEOUT:.0f} s")
    except KafkaOpsError as e:
        await inv.services.drop(name)
        return ClusterStatus(name, None, public(e, config=inv.services.config,
                                                what=f"status of {name}"))
    return ClusterStatus(name, ov)
