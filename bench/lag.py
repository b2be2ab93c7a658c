"""`kafkaops lag --json` as a whole process over 10,000 partitions x 500 groups.

Sets up the data of bench/lag_snapshot.py once on an embedded Tansu broker of its own (100
topics x 100 partitions, 500 groups with seeded committed offsets). Then, alternating,
ROUNDS times each:
- `kafkaops -b B lag --json` into a file: the whole process (start, connect, a first and
  so cold snapshot, JSON out, exit); the snapshot's own seconds and requests are read from
  the document it printed (`elapsed`, `requests`);
- `kafkaops -b B lag` (the text tables) the same way, for information;
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
    compile_kafkaops,
    cpu_seconds,
    machine,
    ratio,
    run_timed,
    save,
    say,
    today,
)
from lag_snapshot import GROUPS, PARTITIONS, TOPICS, broker_floor, setup  # noqa: E402

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

    whole: list[float] = []
    text: list[float] = []
    snaps: list[float] = []
    floors: list[float] = []
    requests: list[int] = []
    broker_cpu: list[float] = []
    baseline: list[float] = []
    with EmbeddedClusters(["bench"]) as clusters, tempfile.TemporaryDirectory() as tmp:
        b = clusters.bootstrap("bench")
        committed = asyncio.run(setup(b, RECORDS, random.Random(5)))
        broker = clusters.brokers["bench"].process.pid
        out = Path(tmp) / "lag.json"
        for r in range(args.rounds):
            with open(out, "wb") as f:
                cpu0 = cpu_seconds(broker)
                whole.append(run_timed([args.kafkaops, "-b", b, "lag", "--json"], stdout=f))
                broker_cpu.append(cpu_seconds(broker) - cpu0)
            doc = json.loads(out.read_bytes())
            check(doc, committed)
            # (a kafkaops from before the document carried them: not known)
            snaps.append(doc.get("elapsed", float("nan")))
            requests.append(sum(doc.get("requests", {}).values()))
            text.append(run_timed([args.kafkaops, "-b", b, "lag"]))
            floors.append(asyncio.run(floor(b)))
            if args.baseline:
                baseline.append(run_timed([args.baseline, "-b", b, "lag", "--json"]))
                say(f"         baseline lag --json {baseline[-1]:.2f} s")
            say(f"round {r + 1}: lag --json {whole[-1]:.2f} s (snapshot {snaps[-1]:.2f} s, "
                f"{requests[-1]} requests; the broker's CPU {broker_cpu[-1]:.2f} s), lag (text) "
                f"{text[-1]:.2f} s, raw requests {floors[-1]:.2f} s")
    w, s, t, fl, bc = (statistics.median(x) for x in (whole, snaps, text, floors, broker_cpu))
    say("", f"{TOPICS * PARTITIONS:,} partitions x {GROUPS} groups, median of {args.rounds} "
        f"rounds ({today()}):",
        f"  kafkaops lag --json  {w:6.2f} s whole process (target <= {WHOLE_TARGET:g} s)",
        f"  snapshot inside it   {s:6.2f} s, {statistics.median(requests):.0f} requests "
        f"(target < {SNAPSHOT_TARGET:g} s)",
        f"  the broker's CPU     {bc:6.2f} s during lag --json (the Tansu process)",
        f"  kafkaops lag (text)  {t:6.2f} s whole process",
        f"  raw requests alone   {fl:6.2f} s (OffsetFetch v8 + Fetch, nothing decoded)")
    if baseline:
        say(f"  baseline lag --json  {statistics.median(baseline):6.2f} s whole process")
    met = w <= WHOLE_TARGET and s < SNAPSHOT_TARGET
    save(args.results, Result(
        "lag", f"`lag --json`, {TOPICS * PARTITIONS:,} partitions x {GROUPS} groups",
        "`bench/lag.py`",
        f"{w:.2f} s whole process; snapshot {s:.2f} s in "
        f"{statistics.median(requests):.0f} requests (the broker's CPU {bc:.2f} s); text "
        f"tables {t:.2f} s",
        f"the snapshot's unavoidable requests, raw: {fl:.2f} s",
        f"{ratio(w, fl):.1f}x", f"<= {WHOLE_TARGET:g} s whole process, snapshot "
        f"< {SNAPSHOT_TARGET:g} s", met, today(), machine()))
    return 0 if met else 1


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    say(f"(bench/lag.py took {time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
