"""The layers: core imports no UI or Slack; bot no Textual; console no Slack. Each face is
imported in a fresh interpreter and the modules it loaded are inspected.

And Kafka clients have one owner: only core/kafka/clients.py builds aiokafka clients, only
core/kafka/errors.py turns aiokafka's errors into core's, and no stopper swallows its
caller's cancellation (read from the source of every product package).
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import kafkaops.bot
import kafkaops.console
import kafkaops.core

FORBIDDEN = {
    "kafkaops.core": (
        "textual",
        "rich",
        "slack_bolt",
        "slack_sdk",
        "kafkaops.console",
        "kafkaops.bot",
        "kafkaops.cli",
        "kafkaops.demo",  # the demo/test parts (the schema registry) are never product code
    ),
    "kafkaops.console": ("slack_bolt", "slack_sdk", "kafkaops.bot"),
    "kafkaops.bot": ("textual", "kafkaops.console"),
}
PACKAGES = {
    "kafkaops.core": kafkaops.core,
    "kafkaops.console": kafkaops.console,
    "kafkaops.bot": kafkaops.bot,
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_nothing_forbidden(package: str) -> None:
    modules = [package] + [
        m.name for m in pkgutil.walk_packages(PACKAGES[package].__path__, prefix=f"{package}.")
    ]
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    offending = sorted(
        name
        for name in loaded
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])
    )
    assert offending == [], f"{package} loaded {offending}"
    assert set(modules) <= loaded  # every module of the layer was really imported


# ---------------------------------------------------------------- Kafka clients have one owner

#: the one module that builds aiokafka clients, and the one that maps their errors
CLIENTS_MODULE = "core/kafka/clients.py"
ERRORS_MODULES = ("core/kafka/errors.py",)
AIOKAFKA_CLIENTS = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient",
                    "AIOKafkaClient"}
SOURCES = Path(kafkaops.core.__file__).resolve().parent.parent  # core, demo, cli, bot, console


def _called_name(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def client_constructions(source: str) -> list[int]:
    """Lines of `source` that construct an aiokafka client."""
    return [n.lineno for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Call) and _called_name(n) in AIOKAFKA_CLIENTS]


def kafka_error_handlers(source: str) -> list[int]:
    """Lines of `source` with an `except` clause naming aiokafka's KafkaError."""
    out = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.ExceptHandler) and n.type is not None:
            names = {x.id if isinstance(x, ast.Name) else getattr(x, "attr", None)
                     for x in ast.walk(n.type)}
            if "KafkaError" in names:
                out.append(n.lineno)
    return out


def swallowed_cancellations(source: str) -> list[int]:
    """Lines with `contextlib.suppress(... CancelledError ...)`: a stopper that swallows the
    caller's own cancellation too (core/tasks.py cancel_and_wait does it right)."""
    return [n.lineno for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Call) and _called_name(n) == "suppress"
            and any(getattr(a, "attr", getattr(a, "id", None)) == "CancelledError"
                    for a in n.args)]


def _product_sources() -> list[tuple[str, str]]:
    out = []
    for pkg in ("core", "demo", "cli", "bot", "console"):
        for path in sorted((SOURCES / pkg).rglob("*.py")):
            out.append((path.relative_to(SOURCES).as_posix(), path.read_text()))
    return out


def test_the_checks_find_what_they_look_for() -> None:
    src = ("import asyncio, contextlib\n"
           "from aiokafka import AIOKafkaProducer\n"
           "import aiokafka\n"
           "from aiokafka.errors import KafkaError\n"
           "p = AIOKafkaProducer(bootstrap_servers='x')\n"
           "c = aiokafka.AIOKafkaConsumer('t')\n"
           "try:\n    pass\nexcept (KafkaError, OSError):\n    pass\n"
           "with contextlib.suppress(asyncio.CancelledError):\n    pass\n")
    assert client_constructions(src) == [5, 6]
    assert kafka_error_handlers(src) == [9]
    assert swallowed_cancellations(src) == [11]


def test_only_the_clients_module_builds_aiokafka_clients() -> None:
    sources = _product_sources()
    assert any(name == CLIENTS_MODULE for name, _ in sources)
    found = {name: lines for name, src in sources
             if name != CLIENTS_MODULE and (lines := client_constructions(src))}
    assert found == {}, f"aiokafka clients built outside {CLIENTS_MODULE}: {found}"


def test_only_the_errors_module_catches_kafka_errors() -> None:
    found = {name: lines for name, src in _product_sources()
             if name not in ERRORS_MODULES and (lines := kafka_error_handlers(src))}
    assert found == {}, f"KafkaError caught outside core/kafka/errors.py: {found}"


def test_no_stopper_swallows_the_callers_cancellation() -> None:
    found = {name: lines for name, src in _product_sources()
             if (lines := swallowed_cancellations(src))}
    assert found == {}, f"use kafkaops.core.tasks.cancel_and_wait: {found}"
