"""Where a scan's per-call CPU goes: time each step of the Python ingest path on real traffic.

    python bench/per_call.py TRAFFIC.jsonl.gz [--calls 50000] [--json FILE]

Reads the first ``--calls`` lines once into memory, then times each step alone on one core,
block by block as the scan's workers run them (``--block`` lines at a time, so the decoded
objects of one block are freed before the next, as in a scan): JSON decoding, validation,
flattening to the canonical row, building the Arrow batch, the per-call feature function, and
DuckDB's insert of the stored rows. Each step's time is the best of ``--repeat`` runs, in CPU
seconds of this process (the machine may be shared), with Python's cyclic garbage collector
paused: holding a whole block of decoded objects at once would otherwise make it rescan them
over and over, which a worker (that frees each object as soon as its row is made) does not
pay. Prints a table (microseconds per call) and writes JSON (default
``bench/results/per_call.json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson
from rich.console import Console
from rich.table import Table

from distillwatch.features import call_features
from distillwatch.ingest import canonical_row, open_input, validate_traffic_record
from distillwatch.ingest._reader import to_batch

RESULTS = Path(__file__).resolve().parent / "results"


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best CPU time of ``repeat`` runs of ``fn``, and its result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def _blocks(lines: list[bytes], size: int) -> list[list[bytes]]:
    return [lines[i:i + size] for i in range(0, len(lines), size)]


def measure(path: str, calls: int, block: int = 8192, repeat: int = 3) -> dict[str, Any]:
    lines: list[bytes] = []
    with open_input(path) as stream:
        for raw in stream:
            if raw.strip():
                lines.append(raw)
            if len(lines) >= calls:
                break
    n = len(lines)
    steps = dict.fromkeys(("json decode (orjson)", "validate", "canonical row", "Arrow batch",
                           "feature function", "DuckDB insert"), 0.0)
    call_features(to_batch([(*canonical_row(orjson.loads(lines[0])), path, 1)]))  # warm up
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "t.duckdb"))
        first_line = 1
        for chunk in _blocks(lines, block):
            seconds, objs = _time(lambda c=chunk: [orjson.loads(x) for x in c], repeat)
            steps["json decode (orjson)"] += seconds
            seconds, _ = _time(lambda o=objs: [validate_traffic_record(x) for x in o], repeat)
            steps["validate"] += seconds
            seconds, rows = _time(lambda o=objs, f=first_line: [
                (*canonical_row(x), path, i) for i, x in enumerate(o, f)], repeat)
            steps["canonical row"] += seconds
            seconds, batch = _time(lambda r=rows: to_batch(r), repeat)
            steps["Arrow batch"] += seconds
            seconds, feats = _time(lambda b=batch: call_features(b), repeat)
            steps["feature function"] += seconds
            con.register("b", feats)
            con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT * FROM b WHERE false")
            seconds, _ = _time(lambda: con.execute("INSERT INTO t SELECT * FROM b"), 1)
            steps["DuckDB insert"] += seconds
            con.unregister("b")
            first_line += len(chunk)
            del objs, rows, batch, feats
        con.close()
    per_call = {k: 1e6 * v / n for k, v in steps.items()}
    return {"input": path, "calls": n, "block": block, "repeat": repeat,
            "bytes_per_call": sum(map(len, lines)) / n,
            "us_per_call": per_call, "total_us_per_call": sum(per_call.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traffic")
    parser.add_argument("--calls", type=int, default=50000)
    parser.add_argument("--block", type=int, default=8192, help="lines per block (as workers)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the best counts")
    parser.add_argument("--json", type=Path, default=RESULTS / "per_call.json")
    args = parser.parse_args()
    gc.disable()
    try:
        result = measure(args.traffic, args.calls, args.block, args.repeat)
    finally:
        gc.enable()
    table = Table(title=f"per-call CPU, {result['calls']:,} calls in blocks of "
                        f"{result['block']:,}, {result['bytes_per_call']:,.0f} bytes a line")
    table.add_column("step")
    table.add_column("µs per call", justify="right")
    for step, us in result["us_per_call"].items():
        table.add_row(step, f"{us:.1f}")
    table.add_row("total", f"{result['total_us_per_call']:.1f}")
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
