"""The layers DESIGN.md sets: core imports no UI or Slack; bot no Textual; console no Slack.

Each face is imported in a fresh interpreter and the modules it loaded are inspected.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

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
