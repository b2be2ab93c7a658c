"""Console start: from launch to a known topic name on screen, kafkaops against kaskade.

Each tool runs in a real terminal (tmux, 200x50) against the same embedded broker holding
50 topics; the screen is polled with `tmux capture-pane` every 10 ms until the first topic's
name appears. Before timing, both tools' packages are compiled to bytecode (as `pip install`
leaves them; uv and PYTHONDONTWRITEBYTECODE=1 leave none, and the compiler would be
measured) and each is launched once untimed. Then RUNS rounds, each launching kafkaops,
kaskade and the floor (bench/console_floor.py: a bare Textual + aiokafka topic list) in an
order that rotates every round. Prints the medians and the ratio.

    .venv/bin/python bench/console_start.py [--runs 5] [--kaskade PATH] [--results FILE]

kaskade 5.1 (the Textual peer) is not a project dependency: without --kaskade the script
installs it with uv into its own virtualenv under ~/.cache/kafkaops-bench/ on first use.

Target: kafkaops' median <= 0.4x kaskade's.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    KAFKAOPS,
    PYTHON,
    ROOT,
    Result,
    add_results_option,
    compile_bytecode,
    compile_kafkaops,
    machine,
    save,
    say,
    site_packages,
    today,
)

TOPICS = [f"bench-start-{i:03d}" for i in range(50)]
SESSION = "kafkaops-bench-start"
TARGET = 0.4
KASKADE_VENV = Path.home() / ".cache" / "kafkaops-bench" / "kaskade-5.1"


def kaskade_path(given: str | None) -> str:
    if given:
        return given
    exe = KASKADE_VENV / "bin" / "kaskade"
    if not exe.exists():
        say(f"installing kaskade 5.1 into {KASKADE_VENV} ...")
        uv = shutil.which("uv") or None
        base = [uv] if uv else [sys.executable, "-m", "uv"]
        subprocess.run([*base, "venv", "-q", str(KASKADE_VENV), "--python", sys.executable],
                       check=True)
        subprocess.run([*base, "pip", "install", "-q", "--python",
                        str(KASKADE_VENV / "bin" / "python"), "kaskade==5.1.0"], check=True)
    return str(exe)


def time_to_text(command: list[str], text: str, timeout: float = 30.0) -> float:
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50",
                    *command], check=True)
    screen = ""
    try:
        while time.perf_counter() - start < timeout:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION],
                                    capture_output=True, text=True).stdout
            if text in screen:
                return time.perf_counter() - start
            time.sleep(0.01)
        raise SystemExit(f"{command[0]}: {text!r} never appeared; last screen:\n{screen}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


async def create_topics(bootstrap: str) -> None:
    from kafkaops.core.config import ClusterConfig
    from kafkaops.core.kafka.connection import KafkaConnection
    from kafkaops.core.topics.service import NewTopicSpec, TopicService

    async with KafkaConnection("bench", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec(t, 3) for t in TOPICS])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kaskade", help="path of the kaskade executable")
    parser.add_argument("--kafkaops", default=KAFKAOPS, help="kafkaops executable to time")
    parser.add_argument("--baseline", metavar="PATH",
                        help="another kafkaops executable (e.g. an older build's .venv/bin/"
                        "kafkaops) to time as well")
    add_results_option(parser)
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (apt-get install tmux)")
    from kafkaops.demo.embedded import EmbeddedClusters

    kaskade = kaskade_path(args.kaskade)
    kaskade_python = str(Path(kaskade).parent / "python")
    compile_kafkaops(args.kafkaops)
    compile_bytecode(kaskade_python, site_packages(kaskade_python))
    if args.baseline:  # its venv and its project's sources (an editable install)
        compile_kafkaops(args.baseline)
    with EmbeddedClusters(["bench"]) as clusters:
        b = clusters.bootstrap("bench")
        asyncio.run(create_topics(b))
        tools = {
            "kafkaops": [args.kafkaops, "-b", b, "console"],
            "kaskade": [kaskade, "admin", "-b", b],
            "floor": [PYTHON, str(ROOT / "bench" / "console_floor.py"), b],
        }
        if args.baseline:
            tools["baseline"] = [args.baseline, "-b", b, "console"]
        for cmd in tools.values():
            time_to_text(cmd, TOPICS[0])  # warm-up, untimed
        times: dict[str, list[float]] = {name: [] for name in tools}
        names = list(tools)
        for r in range(args.runs):
            for name in names[r % len(names):] + names[:r % len(names)]:
                times[name].append(time_to_text(tools[name], TOPICS[0]))
            say(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    med = {name: statistics.median(t) for name, t in times.items()}
    say("", f"console start, launch to the first topic name on screen ({args.runs} runs, "
        f"{len(TOPICS)} topics, {today()})",
        f"{'tool':<10} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, t in times.items():
        say(f"{name:<10} {med[name]:>9.2f} {min(t):>7.2f} {max(t):>7.2f}")
    r = med["kafkaops"] / med["kaskade"]
    say(f"kafkaops / kaskade = {r:.2f} (target <= {TARGET}); floor / kaskade = "
        f"{med['floor'] / med['kaskade']:.2f}")
    save(args.results, Result(
        "console-start", "`kafkaops console`: launch to a topic name on screen (tmux, "
        f"{len(TOPICS)} topics)", f"`bench/console_start.py --runs {args.runs}`",
        f"{med['kafkaops']:.2f} s median of {args.runs}",
        f"kaskade 5.1: {med['kaskade']:.2f} s (a bare Textual topic list: "
        f"{med['floor']:.2f} s)", f"{r:.2f}x", f"<= {TARGET}x kaskade", r <= TARGET,
        today(), machine()))
    return 0 if r <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
