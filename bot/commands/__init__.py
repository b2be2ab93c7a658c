"""One module per capability, each with `register(bot, services)`.

Every module in this package that defines `register` is found and called by
`build_bot()`, in the order below and then by name: adding a capability is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafkaops.bot.app import Bot
    from kafkaops.core.services import Services

#: the order subcommands appear in help; other modules follow by name
FIRST = ["status", "topics", "lag", "flags", "dlq", "audit"]


def modules() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    return [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]


def register_all(bot: Bot, services: Services) -> None:
    for name in modules():
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "register"):
            module.register(bot, services)
