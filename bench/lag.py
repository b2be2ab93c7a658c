"""`kafkaops lag --json` as a whole process over 10,000 partitions x 500 groups.

Sets up the data of bench/lag_snapshot.py once on an embedded Tansu broker of its own (100
topics x 100 partitions, 500 groups with seeded committed offsets). Then, alternating,
ROUNDS times each:
- a first run: `kafkaops -b B lag --json` into a file with an empty cache directory: the
  whole process (start, connect, a snapshot that reads the record timestamp at every
  group's committed offset, JSON out, exit); the snapshot's own seconds and requests are
  read from the document it printed (`elapsed`, `requests`);
- a run again: 50 groups (10 %) commit new offsets, as live consumers would have meanwhile,
  then the same command with the timestamp file earlier runs left (core/lag/stamps.py), so
  only the timestamps at offsets that moved are read;
- `kafkaops -b B lag` (the text tables), run again, for information;
- the reference, in this process: the raw requests a snapshot cannot avoid (OffsetFetch v8
  for every group, one Fetch for every partition's end), nothing decoded.
Every JSON document is checked: lag = end - committed for all 50,000 group partitions.

    .venv/bin/python bench/lag.py [--rounds 3] [--results FILE]

Targets: the whole process <= 2.0 s, the snapshot inside it < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    KAFKAOPS,
    Result,
    add_results_option,
    child_env,
    compile_kafkaops,
    cpu_seconds,
    machine,
    ratio,
    run_timed,
    save,
    say,
    today,
)
from lag_snapshot import (  # noqa: E402
    CHURN,
    GROUPS,
    PARTITIONS,
    TOPICS,
    broker_floor,
    commit_groups,
    setup,
)

WHOLE_TARGET = 2.0
SNAPSHOT_TARGET = 1.0
RECORDS = 10


def check(doc: dict, committed: dict[str, dict[int, int]]) -> None:
    rows = doc["partitions"]
    seen = 0
    for r in rows:
        want = committed.get(r["group"])
        if want is None:
            continue
        c = want[r["partition"]]
        if (r["committed"], r["end"], r["lag"]) != (c, RECORDS, RECORDS - c):
            raise SystemExit(f"lag --json: {r} is wrong: want committed {c}, end {RECORDS}")
        seen += 1
    if seen != GROUPS * PARTITIONS:
        raise SystemExit(f"lag --json listed {seen} group partitions, want {GROUPS * PARTITIONS}")


async def commit(bootstrap: str, groups: list[int], committed: dict[str, dict[int, int]],
                 rnd: random.Random) -> None:
    """New committed offsets for `groups`, as live consumers would have moved meanwhile."""
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await commit_groups(client, groups, RECORDS, rnd, committed)
    finally:
        await client.close()


async def floor(bootstrap: str) -> float:
    from kafkaops.core.config import ClusterConfig
    from kafkaops.core.kafka.connection import KafkaConnection

    async with KafkaConnection("bench", ClusterConfig(bootstrap)) as conn:
        return await broker_floor(conn)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kafkaops", default=KAFKAOPS, help="kafkaops executable to time")
    ap.add_argument("--baseline", metavar="PATH",
                    help="another kafkaops executable (e.g. an older build) to time as well")
    add_results_option(ap)
    args = ap.parse_args()
    from kafkaops.demo.embedded import EmbeddedClusters
    # .pyc files as `pip install` leaves them: without them (uv, PYTHONDONTWRITEBYTECODE=1)
    # every start compiles every module it imports
    compile_kafkaops(args.kafkaops)
    if args.baseline:
        compile_kafkaops(args.baseline)

    first = Runs()
    again = Runs()
    text: list[float] = []
    floors: list[float] = []
    baseline: list[float] = []
    rnd = random.Random(5)
    with EmbeddedClusters(["bench"]) as clusters, tempfile.TemporaryDirectory() as tmp:
        b = clusters.bootstrap("bench")
        committed = asyncio.run(setup(b, RECORDS, rnd))
        broker = clusters.brokers["bench"].process.pid
        out = Path(tmp) / "lag.json"
        # a user's timestamp file (core/lag/stamps.py), left by an earlier run
        kept = child_env(KAFKAOPS_CACHE_DIR=str(Path(tmp) / "kept"))
        run_timed([args.kafkaops, "-b", b, "lag", "--json"], env=kept)
        for r in range(args.rounds):
            # the first run on a machine: no timestamp file, every record timestamp is read
            fresh = child_env(KAFKAOPS_CACHE_DIR=str(Path(tmp) / f"fresh-{r}"))
            first.run([args.kafkaops, "-b", b, "lag", "--json"], fresh, out, broker, committed)
            # a run again a little later: 10 % of the groups have committed new offsets
            moved = rnd.sample(range(GROUPS), CHURN)
            asyncio.run(commit(b, moved, committed, rnd))
            again.run([args.kafkaops, "-b", b, "lag", "--json"], kept, out, broker, committed)
            text.append(run_timed([args.kafkaops, "-b", b, "lag"], env=kept))
            floors.append(asyncio.run(floor(b)))
            if args.baseline:
                baseline.append(run_timed([args.baseline, "-b", b, "lag", "--json"], env=fresh))
                say(f"         baseline lag --json {baseline[-1]:.2f} s (first run)")
            say(f"round {r + 1}: first run {first.line()}",
                f"         again     {again.line()}",
                f"         lag (text) {text[-1]:.2f} s, raw requests {floors[-1]:.2f} s")
    t, fl = statistics.median(text), statistics.median(floors)
    say("", f"{TOPICS * PARTITIONS:,} partitions x {GROUPS} groups, median of {args.rounds} "
        f"rounds ({today()}):",
        f"  kafkaops lag --json, run again    {again.figure()}",
        f"  kafkaops lag --json, first run    {first.figure()}",
        f"  kafkaops lag (text), run again    {t:6.2f} s whole process",
        f"  raw requests alone                {fl:6.2f} s (OffsetFetch v8 + Fetch, nothing "
        "decoded)",
        f"  targets: <= {WHOLE_TARGET:g} s whole process, snapshot < {SNAPSHOT_TARGET:g} s")
    if baseline:
        say(f"  baseline lag --json  {statistics.median(baseline):6.2f} s whole process")
    target = f"<= {WHOLE_TARGET:g} s whole process, snapshot < {SNAPSHOT_TARGET:g} s"
    name = f"`lag --json`, {TOPICS * PARTITIONS:,} partitions x {GROUPS} groups"
    reference = f"the snapshot's unavoidable requests, raw: {fl:.2f} s"
    save(args.results, Result(
        "lag", f"{name}, run again ({CHURN} groups moved since)", "`bench/lag.py`",
        f"{again.figure()}; text tables {t:.2f} s", reference,
        f"{ratio(again.whole(), fl):.1f}x", target, again.met(), today(), machine()))
    save(args.results, Result(
        "lag-first", f"{name}, first run (no timestamp file)", "`bench/lag.py`",
        first.figure(), reference, f"{ratio(first.whole(), fl):.1f}x", target, first.met(),
        today(), machine()))
    return 0 if again.met() and first.met() else 1


class Runs:
    """Whole-process runs of `kafkaops lag --json` of one kind, each checked."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.snaps: list[float] = []
        self.requests: list[int] = []
        self.fetches: list[int] = []
        self.broker_cpu: list[float] = []

    def run(self, cmd: list[str], env: dict[str, str], out: Path, broker: int,
            committed: dict[str, dict[int, int]]) -> None:
        with open(out, "wb") as f:
            cpu0 = cpu_seconds(broker)
            self.walls.append(run_timed(cmd, stdout=f, env=env))
            self.broker_cpu.append(cpu_seconds(broker) - cpu0)
        doc = json.loads(out.read_bytes())
        check(doc, committed)
        # (a kafkaops from before the document carried them: not known)
        self.snaps.append(doc.get("elapsed", float("nan")))
        self.requests.append(sum(doc.get("requests", {}).values()))
        self.fetches.append(doc.get("requests", {}).get("Fetch", 0))

    def whole(self) -> float:
        return statistics.median(self.walls)

    def line(self) -> str:
        return (f"{self.walls[-1]:.2f} s (snapshot {self.snaps[-1]:.2f} s, "
                f"{self.requests[-1]} requests; the broker's CPU {self.broker_cpu[-1]:.2f} s)")

    def figure(self) -> str:
        return (f"{self.whole():.2f} s whole process; snapshot "
                f"{statistics.median(self.snaps):.2f} s in "
                f"{statistics.median(self.requests):.0f} requests "
                f"({statistics.median(self.fetches):.0f} Fetches; the broker's CPU "
                f"{statistics.median(self.broker_cpu):.2f} s)")

    def met(self) -> bool:
        return (self.whole() <= WHOLE_TARGET
                and statistics.median(self.snaps) < SNAPSHOT_TARGET)


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    say(f"(bench/lag.py took {time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
