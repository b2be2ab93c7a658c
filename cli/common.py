"""What every CLI command shares: the context (config, cluster, services), output as a
table for people or JSON for scripts, and confirmation of changes.

Conventions: every read command takes --json; a change asks on a terminal, takes --yes in
scripts, and refuses (changing nothing) with neither. Exit codes: 0 done, 1 failed, 2 bad
usage or config, 3 conflict.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kafkaops.core.config import Config, adhoc_config, load_config
from kafkaops.core.errors import UsageError
from kafkaops.core.records import to_jsonable
from kafkaops.core.services import Services
from kafkaops.core.textfmt import text_table
from kafkaops.core.untrusted import printable_json


class Context:
    """Built once per invocation from the global options."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            base = load_config(self.args.config)
            if self.args.bootstrap:
                base = adhoc_config(self.args.bootstrap, base)
            self._config = base
        return self._config

    def services(self) -> Services:
        return Services(self.config, None if self.args.bootstrap else self.args.cluster)


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


def add_yes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def print_json(data: Any, *, lines: bool = False) -> None:
    """JSON for scripts; control characters the encoder leaves raw are \\u-escaped too."""
    if lines and isinstance(data, list):
        for item in data:
            sys.stdout.write(printable_json(json.dumps(to_jsonable(item), ensure_ascii=False))
                             + "\n")
    else:
        sys.stdout.write(printable_json(json.dumps(to_jsonable(data), indent=2,
                                                   ensure_ascii=False)) + "\n")
    sys.stdout.flush()




def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Iterable[int] = ()
) -> str:
    """A plain aligned text table; columns listed in `right` are right-aligned."""
    return "\n".join(text_table(headers, rows, right=right))


def confirm(args: argparse.Namespace, summary: str, *, ask: Callable[[str], str] = input) -> None:
    """Return if the change may go ahead; raise UsageError (changing nothing) otherwise."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{summary}\nnot a terminal and --yes not given: nothing was changed")
    sys.stderr.write(summary + "\n")
    answer = ask("Go ahead? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("cancelled: nothing was changed")
