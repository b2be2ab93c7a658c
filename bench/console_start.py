"""Console start: time from launch to a topic name on screen, kafkaops vs kaskade.

Both run in a real terminal (tmux, 200x50) against the same embedded broker holding 50
topics; the screen is polled with `tmux capture-pane` every 10 ms until the last topic's
name appears. Runs each tool several times, alternating, and prints medians and the ratio.

    .venv/bin/python bench/console_start.py [--runs 5] [--kaskade PATH]

kaskade is the Textual peer (BENCHMARKS.md). It is not a project dependency: pass its
executable with --kaskade, or the script installs it into .bench-venv/ with uv on first use.
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

from kafkaops.core.config import ClusterConfig
from kafkaops.core.embedded import EmbeddedClusters
from kafkaops.core.kafka import KafkaConnection
from kafkaops.core.topics import NewTopicSpec, TopicService

ROOT = Path(__file__).resolve().parent.parent
TOPICS = [f"bench-start-{i:03d}" for i in range(50)]
SESSION = "kafkaops-bench-start"


def kaskade_path(given: str | None) -> str:
    if given:
        return given
    exe = ROOT / ".bench-venv" / "bin" / "kaskade"
    if not exe.exists():
        print("installing kaskade into .bench-venv/ ...", file=sys.stderr)
        subprocess.run(["uv", "venv", "-q", str(ROOT / ".bench-venv"), "--python", sys.executable],
                       check=True)
        subprocess.run(["uv", "pip", "install", "-q", "--python",
                        str(ROOT / ".bench-venv" / "bin" / "python"), "kaskade==5.1.0"], check=True)
    return str(exe)


def time_to_text(command: list[str], text: str, timeout: float = 30.0) -> float:
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50",
                    *command], check=True)
    try:
        while time.perf_counter() - start < timeout:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION],
                                    capture_output=True, text=True).stdout
            if text in screen:
                return time.perf_counter() - start
            time.sleep(0.01)
        raise TimeoutError(f"{text!r} never appeared; last screen:\n{screen}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


async def create_topics(bootstrap: str) -> None:
    async with KafkaConnection("bench", ClusterConfig(bootstrap)) as conn:
        await TopicService(conn).create_topics([NewTopicSpec(t, 3) for t in TOPICS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kaskade", help="path of the kaskade executable")
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (apt-get install tmux)")
    kaskade = kaskade_path(args.kaskade)
    with EmbeddedClusters(["bench"]) as clusters:
        b = clusters.bootstrap("bench")
        asyncio.run(create_topics(b))
        tools = {
            "kafkaops": [str(ROOT / ".venv" / "bin" / "kafkaops"), "-b", b, "console"],
            "kaskade": [kaskade, "admin", "-b", b],
        }
        times: dict[str, list[float]] = {name: [] for name in tools}
        for _ in range(args.runs):
            for name, cmd in tools.items():
                times[name].append(time_to_text(cmd, TOPICS[0]))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"console start, launch to first topic name on screen ({args.runs} runs, 50 topics)")
    print(f"{'tool':<10} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, t in times.items():
        print(f"{name:<10} {med[name]:>9.2f} {min(t):>7.2f} {max(t):>7.2f}")
    print(f"kafkaops / kaskade = {med['kafkaops'] / med['kaskade']:.2f} (target <= 0.40)")


if __name__ == "__main__":
    main()
