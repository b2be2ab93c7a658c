"""What the benchmarks share: where things are, timing a whole process, the machine's
description, and the result rows `bench/run` turns into the README's table.

A result row is one line of JSON in the file named by a benchmark's `--results FILE`
(bench/run passes it); run by hand, a benchmark only prints.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
KAFKAOPS = str(ROOT / ".venv" / "bin" / "kafkaops")


@dataclass(frozen=True)
class Result:
    key: str
    """Stable id of the row: tail, tail-filter, lag, console-start, flag-propagation, ..."""
    benchmark: str
    """What is measured, for people."""
    command: str
    """How to run this benchmark alone."""
    figure: str
    """Ours, as measured."""
    reference: str
    """The reference, measured in the same run."""
    ratio: str
    """Ours against the reference, in the direction the target is written."""
    target: str
    """What the figure must reach."""
    met: bool
    """Whether it did, in this run."""
    date: str
    """Day of the run (YYYY-MM-DD)."""
    machine: str
    """Where it ran (machine())."""
    load: float = -1.0
    """The machine's 1-minute load average when the figure was taken (other work on it
    slows ours and the reference alike, but not always equally); -1 when unknown."""


def machine() -> str:
    """"2 cores, Intel Xeon ..., Linux": the machine kind a figure belongs to."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()}"


def today() -> str:
    return time.strftime("%Y-%m-%d")


def add_results_option(parser: Any) -> None:
    parser.add_argument("--results", metavar="FILE",
                        help="append the result rows as JSON lines (bench/run uses this)")


def save(path: str | None, *results: Result) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    say(f"(load average now: {load:.1f} on {os.cpu_count()} cores)")
    if path is None:
        return
    with open(path, "a", encoding="utf-8") as f:
        for r in results:
            row = asdict(r)
            if row["load"] < 0:
                row["load"] = round(load, 1)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def child_env(**extra: str) -> dict[str, str]:
    """The environment a measured process gets: ours, without kafkaops' own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKAOPS_")}
    env.update(extra)
    return env


def run_timed(cmd: list[str], *, stdout: Any = subprocess.DEVNULL, timeout: float = 600,
              env: dict[str, str] | None = None) -> float:
    """Seconds from starting `cmd` to its exit (it must exit 0)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout,
                          env=env if env is not None else child_env(), stdin=subprocess.DEVNULL)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n"
                         f"{proc.stderr.decode(errors='replace')}")
    return took


def compile_bytecode(python: str, *paths: str | Path) -> None:
    """Compile .pyc files, as `pip install` does (uv and PYTHONDONTWRITEBYTECODE=1 leave
    none): without them a start-up time measures the compiler."""
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", *map(str, paths)],
                   stdout=subprocess.DEVNULL, check=False)


#: the project's package folders (sources of the editable install a benchmark times)
SOURCES = ("core", "cli", "console", "bot", "demo")


def compile_kafkaops(kafkaops: str = KAFKAOPS) -> None:
    """Bytecode for everything a `kafkaops` executable (of a virtualenv in a checkout: this
    one's, or a baseline's) imports: its venv's packages and the project's sources."""
    venv = Path(kafkaops).resolve().parent.parent
    python = str(venv / "bin" / "python")
    compile_bytecode(python, site_packages(python), *(venv.parent / d for d in SOURCES))


def site_packages(python: str) -> str:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run([python, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ratio(ours: float, reference: float) -> float:
    return ours / reference if reference else float("inf")


def say(*lines: str) -> None:
    for line in lines:
        print(line, flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("bench/_common.py is a library for the benchmarks")
