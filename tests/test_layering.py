"""The layers: core imports no UI or Slack and never the demo parts; bot no Textual; console
no Slack; the CLI loads no face (Textual, Slack, the console, the bot) until a command that
opens one runs; demo/ (test and demo parts) may use core, never a face. Each package is
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
import kafkaops.cli
import kafkaops.console
import kafkaops.core
import kafkaops.demo

#: what a user interface or Slack brings in
FACES = ("textual", "rich", "slack_bolt", "slack_sdk", "kafkaops.console", "kafkaops.bot")
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
    # every command module, as `kafkaops --help` and any command load them: a face is
    # imported only inside the function that opens it (CLI_FACES below)
    "kafkaops.cli": FACES,
    "kafkaops.demo": (*FACES, "kafkaops.cli"),
}
PACKAGES = {
    "kafkaops.core": kafkaops.core,
    "kafkaops.console": kafkaops.console,
    "kafkaops.bot": kafkaops.bot,
    "kafkaops.cli": kafkaops.cli,
    "kafkaops.demo": kafkaops.demo,
}


def loaded_by(modules: list[str], forbidden: tuple[str, ...], *,
              path: str | None = None) -> tuple[set[str], list[str]]:
    """Import `modules` in a fresh interpreter (with `path` first on sys.path): every module
    then loaded, and those of them under a `forbidden` name."""
    script = (
        "import importlib, sys\n"
        + (f"sys.path.insert(0, {path!r})\n" if path else "")
        + f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    return loaded, sorted(name for name in loaded
                          if any(name == f or name.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_nothing_forbidden(package: str) -> None:
    modules = [package] + [
        m.name for m in pkgutil.walk_packages(PACKAGES[package].__path__, prefix=f"{package}.")
    ]
    loaded, offending = loaded_by(modules, FORBIDDEN[package])
    assert offending == [], f"{package} loaded {offending}"
    assert set(modules) <= loaded  # every module of the layer was really imported


@pytest.mark.parametrize(("package", "imports", "found"), [
    ("kafkaops.cli", "from kafkaops.bot.app import build_bot", "kafkaops.bot.app"),
    ("kafkaops.cli", "import textual.app", "textual.app"),
    ("kafkaops.demo", "from kafkaops.console.format import plural", "kafkaops.console"),
    ("kafkaops.demo", "import kafkaops.cli.main", "kafkaops.cli.main"),
    ("kafkaops.core", "from kafkaops.demo import world", "kafkaops.demo.world"),
])
def test_the_layer_check_finds_a_forbidden_import(tmp_path: Path, package: str, imports: str,
                                                  found: str) -> None:
    """A module of the layer importing a face (or core the demo) at module level is found."""
    (tmp_path / "offender.py").write_text(imports + "\n")
    _, offending = loaded_by(["offender"], FORBIDDEN[package], path=str(tmp_path))
    assert found in offending


# ---------------------------------------------------------------- the CLI opens a face lazily

#: the faces, and which command module may import which (inside a function only: the
#: command that opens the console, the bot, or the demo with the console on it)
CLI_FACES = {
    "cli/console.py": ("kafkaops.console", "textual"),
    "cli/bot.py": ("kafkaops.bot",),
    "cli/demo.py": ("kafkaops.console",),
}


def imported_faces(source: str) -> list[tuple[int, str, bool]]:
    """(line, module, inside a function) of every import of a face in `source`."""
    tree = ast.parse(source)
    in_function = {id(n) for f in ast.walk(tree)
                   if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                   for n in ast.walk(f) if n is not f}
    out = []
    for n in ast.walk(tree):
        names = ([a.name for a in n.names] if isinstance(n, ast.Import)
                 else [n.module] if isinstance(n, ast.ImportFrom) and n.module and not n.level
                 else [])
        for name in names:
            if any(name == f or name.startswith(f + ".") for f in FACES):
                out.append((n.lineno, name, id(n) in in_function))
    return out


def misplaced_faces(name: str, source: str) -> list[tuple[int, str]]:
    """Face imports of CLI module `name` at module level or of a face it does not open."""
    allowed = CLI_FACES.get(name, ())
    return [(line, mod) for line, mod, lazy in imported_faces(source)
            if not lazy or not any(mod == a or mod.startswith(a + ".") for a in allowed)]


def test_cli_imports_a_face_only_in_the_command_that_opens_it() -> None:
    sources = {name: src for name, src in _product_sources() if name.startswith("cli/")}
    # the rule is not empty: the console, bot and demo commands do import their faces
    assert all(imported_faces(sources[name]) for name in CLI_FACES)
    found = {name: bad for name, src in sources.items() if (bad := misplaced_faces(name, src))}
    assert found == {}, f"import the face inside the command's function: {found}"


def test_the_cli_check_finds_a_misplaced_face() -> None:
    src = ("from kafkaops.console.app import KafkaOpsApp\n"
           "def run():\n    import textual.app\n    from kafkaops.bot import app\n")
    assert imported_faces(src) == [(1, "kafkaops.console.app", False), (3, "textual.app", True),
                                   (4, "kafkaops.bot", True)]
    # at module level even where allowed; a face the command does not open; any face elsewhere
    assert misplaced_faces("cli/console.py", src) == [(1, "kafkaops.console.app"),
                                                      (4, "kafkaops.bot")]
    assert misplaced_faces("cli/topics.py", src) == [(1, "kafkaops.console.app"),
                                                     (3, "textual.app"), (4, "kafkaops.bot")]


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
