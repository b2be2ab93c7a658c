"""Run the benchmarks one after another and rewrite the README's benchmark table.

Each benchmark is a script of its own (bench/<name>.py), run here as a separate process
with `--results FILE`; the rows it writes replace that benchmark's rows in
bench/results.json (the latest row per benchmark, with its date and machine), and the table
between the README's `<!-- benchmarks -->` markers is written from that file. No figure in
the README is typed by hand. How each figure is measured: docs/benchmarks.md.

    .venv/bin/python bench/runall.py [NAME ...] [--no-readme] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, ROOT, machine, say  # noqa: E402

#: benchmark name -> (script arguments, the result keys it writes); in the order they run
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "tail": (["bench/tail.py"], ["tail", "tail-filter"]),
    "lag": (["bench/lag.py"], ["lag", "lag-first"]),
    "console_start": (["bench/console_start.py"], ["console-start"]),
    "flag_propagation": (["bench/flag_propagation.py"], ["flag-propagation"]),
    "slack_ack": (["bench/slack_ack.py", "--rounds", "10"], ["slack-ack"]),
}
#: --quick: small sizes, to check that every benchmark runs (figures not kept)
QUICK: dict[str, list[str]] = {
    "tail": ["--records", "20000", "--rounds", "1"],
    "lag": ["--rounds", "1"],
    "console_start": ["--runs", "1"],
    "flag_propagation": ["--clients", "10", "--rounds", "4"],
    "slack_ack": ["--rounds", "1"],
}
ORDER = [key for _, keys in BENCHMARKS.values() for key in keys]
RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
BEGIN = "<!-- benchmarks: written by bench/run from bench/results.json; do not edit -->"
END = "<!-- /benchmarks -->"


def load() -> dict[str, dict[str, object]]:
    if not RESULTS.exists():
        return {}
    rows = json.loads(RESULTS.read_text())
    return {r["key"]: r for r in rows}


def table(rows: dict[str, dict[str, object]]) -> str:
    ordered = [rows[k] for k in ORDER if k in rows] + [
        r for k, r in rows.items() if k not in ORDER]
    dates = sorted({str(r["date"]) for r in ordered})
    machines = sorted({str(r["machine"]) for r in ordered})
    out = [BEGIN,
           f"Measured {', '.join(dates)} on {'; '.join(machines)}, by `bench/run`. Load: the "
           "machine's 1-minute load average at the end of each benchmark (other work shares "
           "the cores; ratios hold up better than absolute figures).",
           "",
           "| benchmark | figure | reference, same run | ratio | target | met | load | run alone |",
           "|---|---|---|---|---|---|---|---|"]
    for r in ordered:
        load = r.get("load", -1)
        cells = [r["benchmark"], r["figure"], r["reference"], r["ratio"], r["target"],
                 "yes" if r["met"] else "**no**", "-" if load is None or load < 0 else
                 f"{load:g}", r["command"]]
        if len(dates) > 1:
            cells[0] = f"{cells[0]} ({r['date']})"
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    out.append(END)
    return "\n".join(out)


def rewrite_readme(block: str) -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN!r} ... {END!r} block to rewrite")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + block + tail)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    ap.add_argument("--no-readme", action="store_true",
                    help="only print: leave README.md and bench/results.json as they are")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, one round: checks the benchmarks run (implies --no-readme)")
    args = ap.parse_args()
    if args.quick:
        args.no_readme = True
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark {unknown[0]!r} (known: {', '.join(BENCHMARKS)})")
    names = args.names or list(BENCHMARKS)
    rows = load()
    failed = []
    say(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            script, keys = BENCHMARKS[name]
            path = Path(tmp) / f"{name}.jsonl"
            say("", f"==== {name}: {' '.join(script)}")
            t0 = time.perf_counter()
            extra = QUICK[name] if args.quick else []
            code = subprocess.run([PYTHON, *script, *extra, "--results", str(path)],
                                  cwd=ROOT).returncode
            got = [json.loads(line) for line in path.read_text().splitlines()] \
                if path.exists() else []
            say(f"==== {name}: exit {code} in {time.perf_counter() - t0:.0f} s")
            if not got:
                failed.append(name)
                continue
            for row in got:
                rows[row["key"]] = row
            missing = set(keys) - {r["key"] for r in got}
            if missing:
                failed.append(name)
    block = table(rows)
    say("", block)
    if not args.no_readme:
        RESULTS.write_text(json.dumps([rows[k] for k in ORDER if k in rows] + [
            r for k, r in rows.items() if k not in ORDER], indent=2, ensure_ascii=False) + "\n")
        rewrite_readme(block)
        say("", f"wrote {RESULTS.relative_to(ROOT)} and the table in README.md")
    if failed:
        say(f"no figures from: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
