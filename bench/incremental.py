"""Incremental scans against a full rescan: parity, the state's size, and what a new day costs.

    python bench/incremental.py [--size small] [--engine duckdb] [--workdir DIR]

Simulates the suite (the bench seed, built-in text), splits it into one file per UTC day, and
scans it twice: once in full (every day's logs), and incrementally (every day but the last in
one run into a state folder, then the last day alone). Reports the wall time of the last-day
run against the full rescan, the bytes each stored partial takes per call, and whether the
outputs agree (every accounts.csv column and every finding, floats to 1e-9, counted per
column). Writes bench/results/incremental-<size>-<engine>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distillwatch.bench import SEEDS
from distillwatch.bench._parity import column_differences
from distillwatch.profile import PARTIALS
from distillwatch.scan import ScanOptions, scan
from distillwatch.sim import simulate

RESULTS = Path(__file__).resolve().parent / "results"


def split_days(logs: Path, folder: Path) -> list[str]:
    """One gzip file per UTC day (the traffic-log ``ts`` starts with the date)."""
    folder.mkdir(parents=True, exist_ok=True)
    handles: dict[str, Any] = {}
    with gzip.open(logs, "rb") as fh, contextlib.ExitStack() as stack:
        for line in fh:
            at = line.find(b'"ts":')
            day = line[at:at + 40].split(b'"')[3][:10].decode()
            if day not in handles:
                handles[day] = stack.enter_context(
                    gzip.open(folder / f"{day}.jsonl.gz", "wb", compresslevel=1))
            handles[day].write(line)
    return [str(folder / f"{d}.jsonl.gz") for d in sorted(handles)]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "medium"), default="small")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dw-incremental-"))
    sim = work / "sim"
    if not (sim / "traffic.jsonl.gz").exists():
        simulate(out=sim, scenario=args.size, seed=SEEDS[args.size])
    days = sorted(str(p) for p in (work / "days").glob("*.jsonl.gz")) or split_days(
        sim / "traffic.jsonl.gz", work / "days")
    accounts = str(sim / "accounts.jsonl")
    base: dict[str, Any] = {"accounts": accounts, "engine": args.engine,
                            "spark_master": args.spark_master}
    for name in ("full", "full.duckdb", "inc", "state"):
        target = work / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    t = time.perf_counter()
    full = scan(days, ScanOptions(out=work / "full", db=work / "full.duckdb", **base))
    full_s = time.perf_counter() - t
    state = work / "state"
    t = time.perf_counter()
    history = scan(days[:-1], ScanOptions(out=work / "inc", incremental=str(state), **base))
    history_s = time.perf_counter() - t
    t = time.perf_counter()
    last = scan(days[-1:], ScanOptions(out=work / "inc", incremental=str(state),
                                       **{**base, "accounts": None}))
    last_s = time.perf_counter() - t
    parity = column_differences(work / "full", work / "inc")
    agrees = all(v == 0 for f in parity.values() for k, v in f.items() if k != "rows")
    calls = full.calls
    state_bytes = {name: _size(state / name) for name in PARTIALS}
    result = {
        "suite": args.size, "seed": SEEDS[args.size], "engine": args.engine,
        "command": " ".join([sys.executable, "bench/incremental.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"), "load_average": list(os.getloadavg()),
        "machine": "2 cores, 24 GiB, SHARED with other workers (CPU contention)",
        "calls": calls, "days": len(days), "last_day_calls": last.added,
        "incremental_calls_total": last.calls,
        "full_rescan_s": round(full_s, 2), "history_run_s": round(history_s, 2),
        "last_day_run_s": round(last_s, 2), "full_rescan_stage_s": full.seconds,
        "last_day_stage_s": last.seconds, "history_stage_s": history.seconds,
        "state_bytes": state_bytes, "state_bytes_per_call": {
            k: round(v / calls, 2) for k, v in state_bytes.items()},
        "state_bytes_total": sum(state_bytes.values()),
        "outputs_agree": agrees, "parity_by_column": parity,
    }
    path = args.json or RESULTS / f"incremental-{args.size}-{args.engine}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"{calls:,} calls over {len(days)} days; last day {last.added:,} calls")
    print(f"full rescan {full_s:.1f} s; last day incremental {last_s:.1f} s "
          f"(history run {history_s:.1f} s)")
    print("state bytes per call: " + ", ".join(
        f"{k} {v}" for k, v in result["state_bytes_per_call"].items())
        + f"; total {result['state_bytes_total'] / calls:.1f}")
    print(f"outputs agree with the full rescan: {agrees}\nwrote {path}")


if __name__ == "__main__":
    main()
