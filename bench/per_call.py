"""Where a scan's per-call CPU goes: time each step of the Python ingest path on real traffic.

    python bench/per_call.py TRAFFIC.jsonl.gz [--calls 50000] [--json FILE]

Reads the first ``--calls`` lines once into memory, then times each step alone on one core:
JSON decoding, validation, flattening to the canonical row, building the Arrow batch, the
per-call feature function, and DuckDB's insert of the stored rows. Prints a table (microseconds
per call) and writes JSON (default ``bench/results/per_call.json``).
"""

from __future__ import annotations

import argparse
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


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(path: str, calls: int) -> dict[str, Any]:
    lines: list[bytes] = []
    with open_input(path) as stream:
        for raw in stream:
            if raw.strip():
                lines.append(raw)
            if len(lines) >= calls:
                break
    n = len(lines)
    steps: dict[str, float] = {}
    steps["json decode (orjson)"], objs = _time(lambda: [orjson.loads(x) for x in lines])
    steps["validate"], _ = _time(lambda: [validate_traffic_record(o) for o in objs])
    steps["canonical row"], rows = _time(lambda: [(*canonical_row(o), path, i)
                                                  for i, o in enumerate(objs, 1)])
    steps["Arrow batch"], batch = _time(lambda: to_batch(rows))
    call_features(batch.slice(0, 10))  # load the tokenizer outside the timing
    steps["feature function"], feats = _time(lambda: call_features(batch))
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "t.duckdb"))
        con.register("b", feats)
        con.execute("CREATE TABLE t AS SELECT * FROM b WHERE false")
        steps["DuckDB insert"], _ = _time(lambda: con.execute("INSERT INTO t SELECT * FROM b"))
        con.close()
    per_call = {k: 1e6 * v / n for k, v in steps.items()}
    return {"input": path, "calls": n, "bytes_per_call": sum(map(len, lines)) / n,
            "us_per_call": per_call, "total_us_per_call": sum(per_call.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traffic")
    parser.add_argument("--calls", type=int, default=50000)
    parser.add_argument("--json", type=Path, default=RESULTS / "per_call.json")
    args = parser.parse_args()
    result = measure(args.traffic, args.calls)
    table = Table(title=f"per-call CPU, {result['calls']:,} calls, "
                        f"{result['bytes_per_call']:,.0f} bytes a line")
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
