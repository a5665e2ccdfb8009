"""Seconds and peak memory of each stage of a scan, and what the DuckDB insert costs.

    python bench/scan_stages.py TRAFFIC [--accounts FILE]   # the whole scan
    python bench/scan_stages.py --db SCAN.duckdb             # everything after ingest
    python bench/scan_stages.py --insert-cost SCAN.duckdb    # insert CPU with / without texts
    python bench/scan_stages.py --ingest-cpu TRAFFIC         # ingest CPU: main vs workers

The first form runs the whole scan in a temporary folder as ``scan`` does (workers included);
the second copies a scan database and runs everything after ingest on the copy, so the stages
after ingest can be timed at sizes where ingest takes many minutes. The main process's
resident size is sampled every 0.2 s and its peak kept per stage (workers are not counted).
The third inserts 400,000 stored calls into a fresh database, with and without the three text
excerpts, best of two, and prints the CPU time a row. The fourth runs ingest alone (the
store in a temporary folder) and splits its CPU between this process (inflating, handing
blocks over, the DuckDB insert) and the worker processes (parse, validate, features), per call.
Writes ``--json`` when given.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from distillwatch.ingest import Store
from distillwatch.scan import ScanOptions, ScanSummary, _analyse, ingest, scan

_PAGE = 4096


class PeakByStage:
    """Samples this process's resident size and keeps the peak of each stage."""

    def __init__(self) -> None:
        self.stage = "start"
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with open("/proc/self/statm") as fh:
                rss = int(fh.read().split()[1]) * _PAGE
            self.peak[self.stage] = max(self.peak.get(self.stage, 0), rss)
            time.sleep(0.2)

    def __enter__(self) -> PeakByStage:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def on_stage(self, name: str) -> None:
        self.stage = name


def whole_scan(traffic: str, accounts: str | None, work: Path) -> dict[str, Any]:
    with PeakByStage() as peaks:
        summary = scan([traffic], ScanOptions(out=work / "out", db=work / "scan.duckdb",
                                              accounts=accounts), on_stage=peaks.on_stage)
    return {"calls": summary.calls, "seconds": summary.seconds, "peak_rss": peaks.peak}


def after_ingest(db: Path, work: Path) -> dict[str, Any]:
    copy = work / "scan.duckdb"
    shutil.copyfile(db, copy)
    (work / "out").mkdir()
    summary = ScanSummary()
    with PeakByStage() as peaks, Store(copy) as store:
        # scan's own analysis stages, on calls already ingested (no public entry point skips
        # ingest, and this bench must not re-read the logs)
        _analyse(store, ScanOptions(out=work / "out", db=copy), summary, peaks.on_stage,
                 time.perf_counter())
    return {"calls": summary.calls, "seconds": summary.seconds, "peak_rss": peaks.peak}


_TEXTS = ("response_excerpt", "user_excerpt", "system_excerpt")


def insert_cost(db: Path, work: Path, rows: int = 400_000) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as con:
        calls = con.sql(f"SELECT * FROM calls LIMIT {rows}").to_arrow_table()
    out: dict[str, Any] = {"rows": calls.num_rows,
                           "bytes_per_row": round(calls.nbytes / max(calls.num_rows, 1), 1)}
    for name, table in (("all columns", calls),
                        ("without the text excerpts", calls.drop_columns(list(_TEXTS)))):
        best = float("inf")
        for attempt in range(2):
            path = work / f"insert-{attempt}.duckdb"
            with duckdb.connect(str(path)) as con:
                con.register("_t", table)
                con.execute("CREATE TABLE x AS SELECT * FROM _t LIMIT 0")
                con.unregister("_t")
                start = time.process_time()
                for batch in table.to_batches(65536):
                    con.register("_b", pa.Table.from_batches([batch]))
                    con.execute("INSERT INTO x SELECT * FROM _b")
                    con.unregister("_b")
                con.execute("CHECKPOINT")
                best = min(best, time.process_time() - start)
            path.unlink()
        out[name] = round(best / max(table.num_rows, 1) * 1e6, 2)
    return out


def ingest_cpu(traffic: str, work: Path) -> dict[str, Any]:
    summary = ScanSummary()
    start = time.perf_counter()
    with Store(work / "scan.duckdb") as store:
        ingest(store, [traffic], ScanOptions(out=work / "out", db=work / "scan.duckdb"), summary)
    wall = time.perf_counter() - start
    calls = max(summary.read.good, 1)
    main_ru = resource.getrusage(resource.RUSAGE_SELF)
    workers_ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool, joined by now
    return {"calls": summary.read.good, "wall_s": round(wall, 1),
            "main_cpu_us_per_call": round((main_ru.ru_utime + main_ru.ru_stime) / calls * 1e6, 1),
            "workers_cpu_us_per_call": round((workers_ru.ru_utime + workers_ru.ru_stime)
                                             / calls * 1e6, 1),
            "workers_system_us_per_call": round(workers_ru.ru_stime / calls * 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traffic", nargs="?")
    parser.add_argument("--accounts")
    parser.add_argument("--db", type=Path, help="time everything after ingest on a copy")
    parser.add_argument("--insert-cost", type=Path, metavar="DB")
    parser.add_argument("--ingest-cpu", metavar="TRAFFIC")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.ingest_cpu:
            result = ingest_cpu(args.ingest_cpu, Path(tmp))
        elif args.insert_cost:
            result = {"insert_cpu_us_per_row": insert_cost(args.insert_cost, Path(tmp))}
        elif args.db:
            result = after_ingest(args.db, Path(tmp))
        elif args.traffic:
            result = whole_scan(args.traffic, args.accounts, Path(tmp))
        else:
            parser.error("give TRAFFIC, --db, --insert-cost or --ingest-cpu")
    result["command"] = [sys.executable, "bench/scan_stages.py", *sys.argv[1:]]
    if "peak_rss" in result:
        result["peak_rss_gib"] = {k: round(v / 2**30, 2) for k, v in result.pop("peak_rss").items()}
        result["seconds"] = {k: round(v, 1) for k, v in result["seconds"].items()}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
