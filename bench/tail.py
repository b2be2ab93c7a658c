"""Tail throughput as users run it: `kafkaops tail --json` as a whole process against the
smallest aiokafka + orjson script printing the same lines, and kcat, on the same topic.

Sets up an embedded Tansu broker of its own with one topic of RECORDS JSON records of about
200 bytes on one partition, with keys; 1 in 100 has "level": "ERROR" (the last record is
one). Then, alternating, ROUNDS times each, every reader a process of its own starting at
offset 0, its stdout into a file:
- kafkaops:  `kafkaops -b B tail T --from-offset 0 --json --limit RECORDS`
- reference: `python bench/tail_reference.py B T RECORDS` (aiokafka getmany, orjson lines)
- the same two with a 1 % filter: `--filter 'level == "ERROR"' --limit RECORDS/100` against
  the script keeping records whose bytes contain `"level": "ERROR"`;
- kcat: `kcat -C -o 0 -c RECORDS -e -q` (raw values, no JSON) with the flags Tansu needs;
  installed with apt-get when missing and possible, else skipped.
Both JSON outputs must be identical byte for byte. Prints records/s (whole process: start,
connect, read, print, exit) and the ratios.

    .venv/bin/python bench/tail.py [--records 200000] [--rounds 3] [--results FILE]

Target: kafkaops >= 0.9x the reference, with and without the filter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    KAFKAOPS,
    PYTHON,
    ROOT,
    Result,
    add_results_option,
    compile_kafkaops,
    machine,
    run_timed,
    save,
    say,
    today,
)

TOPIC = "bench-tail"
TARGET = 0.9
KCAT_FLAGS = ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"]
REFERENCE = str(ROOT / "bench" / "tail_reference.py")
MATCH = '"level": "ERROR"'
FILTER = 'level == "ERROR"'


def value(i: int, rng: random.Random) -> bytes:
    doc = {
        "n": i, "service": f"svc-{rng.randrange(40)}",
        "level": "ERROR" if i % 100 == 99 else rng.choice(["INFO", "INFO", "WARN", "DEBUG"]),
        "msg": rng.choice(["request done", "cache miss", "retrying", "slow query"]),
        "latency_ms": rng.randrange(2_000), "trace": f"{rng.getrandbits(64):016x}",
        "host": f"web-{rng.randrange(64)}", "pad": "x" * rng.randrange(8, 40),
    }
    return json.dumps(doc).encode()


async def fill(bootstrap: str, records: int) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 1, 1)])
    finally:
        await admin.close()
    rng = random.Random(7)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for i in range(records):
            pending.append(await producer.send(TOPIC, value(i, rng), key=f"k{i % 64}".encode(),
                                               partition=0))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def find_kcat() -> str | None:
    exe = shutil.which("kcat")
    if exe is None and shutil.which("apt-get") and os.geteuid() == 0:
        say("kcat is missing: apt-get install -y kcat ...")
        subprocess.run(["apt-get", "install", "-y", "-q", "kcat"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        exe = shutil.which("kcat")
    return exe


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kafkaops", default=KAFKAOPS, help="kafkaops executable to time")
    ap.add_argument("--baseline", metavar="PATH",
                    help="another kafkaops executable (e.g. an older build) to time as well")
    add_results_option(ap)
    args = ap.parse_args()
    n, matches = args.records, args.records // 100
    from kafkaops.demo.embedded import EmbeddedClusters

    # .pyc files as `pip install` leaves them: without them (uv, PYTHONDONTWRITEBYTECODE=1)
    # every start compiles every module, and kafkaops imports more than the reference
    compile_kafkaops(args.kafkaops)
    if args.baseline:
        compile_kafkaops(args.baseline)
    kcat = find_kcat()
    if kcat is None:
        say("kcat is not installed (Debian package kcat): its figure is skipped")
    with EmbeddedClusters(["bench"]) as clusters, tempfile.TemporaryDirectory() as tmp:
        b = clusters.bootstrap("bench")
        t0 = time.perf_counter()
        asyncio.run(fill(b, n))
        say(f"produced {n:,} records of ~200 bytes in {time.perf_counter() - t0:.1f} s")
        out = Path(tmp)
        readers = {
            "reference": ([PYTHON, REFERENCE, b, TOPIC, str(n)], n),
            "kafkaops": ([args.kafkaops, "-b", b, "tail", TOPIC, "--from-offset", "0", "--json",
                          "--limit", str(n)], n),
            "reference 1% filter": ([PYTHON, REFERENCE, b, TOPIC, str(matches),
                                     "--contains", MATCH], n),
            "kafkaops 1% filter": ([args.kafkaops, "-b", b, "tail", TOPIC, "--from-offset", "0",
                                    "--json", "--filter", FILTER, "--limit", str(matches)], n),
        }
        if args.baseline:
            readers["baseline"] = ([args.baseline, "-b", b, "tail", TOPIC, "--from-offset", "0",
                                    "--json", "--limit", str(n)], n)
            readers["baseline 1% filter"] = (
                [args.baseline, "-b", b, "tail", TOPIC, "--from-offset", "0", "--json",
                 "--filter", FILTER, "--limit", str(matches)], n)
        if kcat:
            readers["kcat (raw values)"] = (
                [kcat, "-b", b, *KCAT_FLAGS, "-C", "-t", TOPIC, "-o", "0", "-c", str(n), "-e",
                 "-q"], n)
        rates: dict[str, list[float]] = {k: [] for k in readers}
        for r in range(args.rounds):
            for name, (cmd, read) in readers.items():
                path = out / name.replace(" ", "_").replace("%", "")
                with open(path, "wb") as f:
                    took = run_timed(cmd, stdout=f)
                rates[name].append(read / took)
            check(out, n, matches)
            say(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()))
    med = {k: statistics.median(v) for k, v in rates.items()}
    say("", f"records read per second, whole process, median of {args.rounds} rounds, "
        f"{n:,} records ({today()}):")
    for k, v in med.items():
        say(f"  {k:<22} {v:>10,.0f}")
    plain = med["kafkaops"] / med["reference"]
    filt = med["kafkaops 1% filter"] / med["reference 1% filter"]
    kc = med.get("kcat (raw values)")
    kcat_note = f"; kcat {kc:,.0f}/s raw, kafkaops = {med['kafkaops'] / kc:.2f}x kcat" if kc \
        else "; kcat not installed"
    say(f"kafkaops / reference: {plain:.2f} (target >= {TARGET}); with the filter {filt:.2f}"
        + kcat_note)
    common = dict(date=today(), machine=machine(), target=f">= {TARGET}x the reference")
    save(args.results,
         Result("tail", "`tail --json`, all records",
                f"`bench/tail.py --records {n}`",
                f"{med['kafkaops']:,.0f} records/s" + (
                    f" ({med['kafkaops'] / kc:.2f}x kcat's {kc:,.0f}/s)" if kc else ""),
                f"aiokafka + orjson script: {med['reference']:,.0f} records/s",
                f"{plain:.2f}x", met=plain >= TARGET, **common),
         Result("tail-filter", f"`tail --json --filter '{FILTER}'` (1 % match)",
                f"`bench/tail.py --records {n}`",
                f"{med['kafkaops 1% filter']:,.0f} records/s read",
                f"script keeping values containing `{MATCH}`: "
                f"{med['reference 1% filter']:,.0f} records/s",
                f"{filt:.2f}x", met=filt >= TARGET, **common))
    return 0 if plain >= TARGET and filt >= TARGET else 1


def check(out: Path, n: int, matches: int) -> None:
    """kafkaops printed exactly what the reference did, with and without the filter."""
    for ours, ref, want in (("kafkaops", "reference", n),
                            ("kafkaops_1_filter", "reference_1_filter", matches)):
        a, b = (out / ours).read_bytes(), (out / ref).read_bytes()
        lines = a.count(b"\n")
        if a != b or lines != want:
            raise SystemExit(f"{ours}: {lines:,} lines, want {want:,}; identical to the "
                             f"reference's output: {a == b}")


if __name__ == "__main__":
    sys.exit(main())
