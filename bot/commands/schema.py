"""`/kafka schema SUBJECT [--version N]`: a subject of the cluster's Schema Registry, the
bot's twin of `kafkaops schemas show`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kafkaops.bot.render.common import Message
from kafkaops.bot.render.schema import render_schema
from kafkaops.core.errors import UsageError
from kafkaops.core.schema.browse import SchemaBrowser

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.bot.router import Invocation
    from kafkaops.core.services import Services


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("subject", metavar="SUBJECT")
    p.add_argument("--version", "-V", metavar="N", default="latest")


def register(bot: Bot, services: Services) -> None:
    bot.command(
        "schema",
        summary="a Schema Registry subject: its schema, versions, compatibility level",
        arguments=_args,
        examples=("orders-value", "orders-value --version 2"),
    )(schema)


async def schema(inv: Invocation) -> Message:
    raw = str(inv.args.version).strip().lower()
    if raw != "latest" and not (raw.isdigit() and 0 < int(raw) < 2**31):
        raise UsageError(f"--version {inv.args.version}: give a version number or `latest`")
    version: int | str = raw if raw == "latest" else int(raw)
    browser = SchemaBrowser(inv.services, inv.cluster)
    detail = await browser.detail(inv.args.subject, version)
    return render_schema(inv.cluster, browser.client.url, detail)
