"""`/kafka schema SUBJECT` and `/kafka dlq show` on schemas and dead letters written by
confluent-kafka's serializers through the demo/test registry, over signed HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kafkaops.bot.render.common import MAX_BLOCKS, MAX_SECTION_TEXT
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import unique

from .schema_support import (
    avro_values,
    order,
    produce_values,
    registry_client,
    registry_url,  # noqa: F401 - a fixture
    with_registry,
)


@pytest.fixture
async def rb(config_data: dict, registry_url: str) -> AsyncIterator[RunningBot]:  # noqa: F811
    async with running_bot(with_registry(config_data, registry_url)) as r:
        yield r


async def test_schema_shows_the_subject(rb: RunningBot, registry_url: str) -> None:  # noqa: F811
    topic = unique("bot")
    avro_values(registry_url, topic, [order(1)])
    subject = f"{topic}-value"
    with registry_client(registry_url) as sr:
        sid = sr.get_latest_version(subject).schema_id
    _, _, url = await rb.command(f"schema {subject}", user="U0BOB")
    reply = await rb.reply(url)
    text = reply.text
    assert f"*{subject}* version *1* of 1 · id {sid} · AVRO" in text
    assert "compatibility *BACKWARD* (the global level)" in text
    assert "references `com.acme.Address` → com.acme.Address v1" in text
    assert '"name": "ship_to"' in text
    assert len(reply.blocks) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT for b in reply.blocks)


async def test_schema_errors(rb: RunningBot) -> None:
    missing = unique("nope")
    _, _, url = await rb.command(f"schema {missing}")
    text = (await rb.reply(url)).text
    assert f"Subject '{missing}' not found" in text
    status, ack, _ = await rb.command("schema")
    assert status == 200 and "usage: /kafka schema" in ack.lower()
    _, _, url = await rb.command("schema x-value --version two")
    assert "give a version number or `latest`" in (await rb.reply(url)).text


async def test_dlq_show_decodes_dead_letters(rb: RunningBot, bootstrap: str,
                                             registry_url: str) -> None:  # noqa: F811
    dlq = unique("botpay") + ".dlq"
    await produce_values(bootstrap, dlq, avro_values(registry_url, dlq, [order(4, "FAILED")]),
                         headers=[("kafkaops.origin.topic", b"botpay")])
    _, _, url = await rb.command(f"dlq show {dlq}", user="U0BOB")
    text = (await rb.reply(url)).text
    assert '{"id":"o-4","status":"FAILED"' in text
