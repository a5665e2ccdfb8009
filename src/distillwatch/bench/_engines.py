"""DuckDB and Spark side by side on a bench suite: calls/s, peak memory, fixed and marginal cost.

    distillwatch bench --engine spark [--size small] [--spark-master local[2]]

Simulates the suite (the bench's own seed, built-in text), converts it to day-partitioned
Parquet, and scans it in separate processes: DuckDB on the JSONL.gz, Spark on the JSONL.gz
(one task per gzip file) and on the Parquet, each on the whole suite and on its first quarter,
so that time = fixed + marginal x calls can be solved per engine. Peak memory is the summed
resident memory of the scan's whole process tree (driver, JVM, Python workers), sampled every
0.2 s. For Spark, per scan stage: executor run time and shuffle bytes written, read from
Spark's status store. The full-suite outputs of every run are compared with DuckDB's (every
accounts.csv column, risks and findings to 1e-9). Writes bench/results/spark-<size>.json.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import distillwatch
from distillwatch.bench._parity import column_differences, output_differences
from distillwatch.bench._runner import SEEDS, default_json_path
from distillwatch.convert import convert_to_parquet
from distillwatch.sim import simulate

__all__ = ["run_engine_bench"]

#: The folder that holds the distillwatch package the children must import.
SRC = Path(distillwatch.__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
from pathlib import Path
from distillwatch.scan import ScanOptions, scan
engine, out, accounts, master, conf, *inputs = sys.argv[1:]
conf = [tuple(kv.split("=", 1)) for kv in conf.split(",") if kv]
marks = {}
spark = None
def totals():
    if spark is None:
        return {}
    import urllib.request
    sc = spark.sparkContext
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages"
    stages = json.loads(urllib.request.urlopen(url, timeout=30).read())
    run = cpu = shuffle = read = 0
    for s in stages:
        run += s.get("executorRunTime", 0); cpu += s.get("executorCpuTime", 0)
        shuffle += s.get("shuffleWriteBytes", 0); read += s.get("inputBytes", 0)
    return {"executor_run_s": run / 1e3, "executor_cpu_s": cpu / 1e9,
            "shuffle_write_bytes": shuffle, "input_bytes": read}
def on_stage(name):
    marks[name] = totals()
t0 = time.perf_counter()
if engine == "spark":
    from distillwatch.engine.spark import spark_session
    spark, _ = spark_session(master, conf)
    spark.range(1).count()
t_session = time.perf_counter() - t0
summary = scan(inputs, ScanOptions(out=Path(out), db=Path(out) / "calls.duckdb",
                                   accounts=accounts, engine=engine, spark_master=master,
                                   spark_conf=tuple(conf)), on_stage=on_stage)
marks["end"] = totals()
print(json.dumps({"summary": summary.as_dict(), "marks": marks, "session_s": t_session,
                  "wall_s": time.perf_counter() - t0}))
"""


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == pid and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run_scan(engine: str, inputs: list[str], accounts: str, out: Path, master: str,
             conf: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    log = (out / "stderr.log").open("wb")
    conf_arg = ",".join(f"{k}={v}" for k, v in conf)
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, engine, str(out), accounts, master,
                             conf_arg, *inputs], stdout=subprocess.PIPE, stderr=log, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    done.set()
    sampler.join()
    log.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} scan failed (exit {proc.returncode}); see {log.name}")
    result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    result["peak_rss_bytes"] = peak
    return result


def _load_average() -> list[float]:
    """1, 5 and 15 minute load averages when the bench ends (the machine is shared)."""
    return [round(x, 2) for x in os.getloadavg()]


def _stage_costs(marks: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    order = [k for k in ("ingest", "profile", "score", "link", "report", "end") if k in marks]
    out: dict[str, dict[str, float]] = {}
    for a, b in itertools.pairwise(order):
        out[a] = {k: round(marks[b][k] - marks[a][k], 3) for k in marks[a]}
    return out


def _quarter(src: Path, dst: Path) -> int:
    """The first quarter of ``src``'s lines, streamed (a medium suite does not fit in lists)."""
    with gzip.open(src, "rb") as fh:
        total = sum(1 for _ in fh)
    keep = total // 4
    with gzip.open(src, "rb") as fh, gzip.open(dst, "wb", compresslevel=6) as out:
        out.writelines(itertools.islice(fh, keep))
    return keep


#: Above this size a single gzip file is not scanned by Spark in the bench: it is one task and
#: one in-memory row (``binaryFile``) on one core, which is what ``distillwatch convert`` is for.
SPARK_GZIP_MAX_BYTES = 512 << 20

#: Settings for the bench's local-mode Spark runs. In local mode the executors live in the
#: driver JVM; with a 4g heap and 8 shuffle partitions the medium suite's profile aggregation
#: failed with AGGREGATE_OUT_OF_MEMORY (two concurrent tasks, the cached calls holding half the
#: unified memory), so: a bigger heap and smaller tasks (adaptive execution coalesces them).
SPARK_BENCH_CONF = (("spark.driver.memory", "8g"), ("spark.sql.shuffle.partitions", "32"))

#: Per suite, settings that replace those above: about 100k calls per shuffle partition (what
#: worked on the medium suite), and a bigger heap for the 10M calls' cached table.
SUITE_SPARK_CONF: dict[str, tuple[tuple[str, str], ...]] = {
    "10m": (("spark.driver.memory", "12g"), ("spark.sql.shuffle.partitions", "128")),
}


#: The suites the engine comparison runs: name -> (simulator scenario, accounts, seed,
#: quarter runs). ``10m`` is the medium mix over 9,000 accounts (about 10M calls, the issue's
#: "10M calls" row); its fixed and marginal costs come from the medium suite's quarter runs,
#: which a 10M quarter would only repeat at an hour of Spark time.
ENGINE_SUITES: dict[str, tuple[str, int | None, int, bool]] = {
    "small": ("small", None, SEEDS["small"], True),
    "medium": ("medium", None, SEEDS["medium"], True),
    "10m": ("medium", 9000, SEEDS["medium"], False),
}


def run_engine_bench(size: str = "small", *, master: str = "local[2]",
                     workdir: Path | None = None, json_path: Path | None = None,
                     corpora: Path | None = None, command: str = "") -> dict[str, Any]:
    """Run the side-by-side benchmark; print its table, write and return its JSON."""
    if size not in ENGINE_SUITES:
        raise ValueError(f"unknown engine suite {size!r}; choose one of {sorted(ENGINE_SUITES)}")
    scenario, n_accounts, seed, quarters = ENGINE_SUITES[size]
    work = workdir or Path(tempfile.mkdtemp(prefix="dw-spark-bench-"))
    sim = work / "sim"
    if not (sim / "traffic.jsonl.gz").exists():
        print(f"simulating the {size} suite ...", file=sys.stderr, flush=True)
        simulate(out=sim, scenario=scenario, accounts=n_accounts, seed=seed, corpora=corpora)
    full = sim / "traffic.jsonl.gz"
    quarter = work / "quarter.jsonl.gz"
    if quarters and not quarter.exists():
        _quarter(full, quarter)
    accounts = str(sim / "accounts.jsonl")
    convert_s: float | None = None  # None: converted by an earlier run in this workdir
    if not (work / "parquet-full").exists():
        print("converting to Parquet ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        convert_to_parquet([str(full)], work / "parquet-full")
        convert_s = round(time.perf_counter() - t, 2)
    if quarters and not (work / "parquet-quarter").exists():
        convert_to_parquet([str(quarter)], work / "parquet-quarter")
    runs: dict[str, dict[str, Any]] = {}
    load_start = _load_average()
    plan = [("duckdb-jsonl", "duckdb", full), ("duckdb-jsonl-quarter", "duckdb", quarter),
            ("spark-jsonl", "spark", full), ("spark-parquet", "spark", work / "parquet-full"),
            ("spark-parquet-quarter", "spark", work / "parquet-quarter")]
    skipped: dict[str, str] = {}
    if not quarters:
        plan = [p for p in plan if not p[0].endswith("-quarter")]
    if full.stat().st_size > SPARK_GZIP_MAX_BYTES:
        skipped["spark-jsonl"] = (f"one {full.stat().st_size / 2**20:,.0f} MiB gzip file is one "
                                  "Spark task and one in-memory row; scanned as Parquet instead")
    conf = SUITE_SPARK_CONF.get(size, SPARK_BENCH_CONF) if master.startswith("local") else ()
    for name, engine, source in plan:
        if name in skipped:
            continue
        done = work / name / "run.json"
        if done.exists():  # an earlier, interrupted bench in this workdir ran it already
            print(f"reusing {name} from {done}", file=sys.stderr, flush=True)
            runs[name] = json.loads(done.read_text())
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        runs[name] = run_scan(engine, [str(source)], accounts, work / name, master,
                              conf if engine == "spark" else ())
        done.write_text(json.dumps(runs[name], default=str) + "\n")
        (work / "runs-so-far.json").write_text(json.dumps(runs, indent=2, default=str) + "\n")
    parity: dict[str, Any] = {}
    parity_columns: dict[str, Any] = {}
    for name in ("spark-jsonl", "spark-parquet"):
        if name not in runs:
            continue
        diffs = output_differences(work / "duckdb-jsonl", work / name)
        parity[name] = True if not diffs else f"differs: {diffs[:5]}"
        parity_columns[name] = column_differences(work / "duckdb-jsonl", work / name)
    rows = []
    for name, r in runs.items():
        calls = r["summary"]["calls"]
        rows.append({"run": name, "calls": calls, "wall_s": round(r["wall_s"], 2),
                     "calls_per_s": round(calls / r["wall_s"]),
                     "peak_rss_mib": round(r["peak_rss_bytes"] / 2**20),
                     "stage_s": r["summary"]["seconds"],
                     "spark_session_s": round(r["session_s"], 2),
                     "spark_stages": _stage_costs(r["marks"])})

    def fit(big: str, small: str) -> dict[str, float]:
        a, b = runs[big], runs[small]
        n1, n2 = a["summary"]["calls"], b["summary"]["calls"]
        marginal = (a["wall_s"] - b["wall_s"]) / (n1 - n2)
        return {"fixed_s": round(a["wall_s"] - marginal * n1, 2),
                "marginal_us_per_call": round(marginal * 1e6, 2)}

    costs = {"duckdb": fit("duckdb-jsonl", "duckdb-jsonl-quarter"),
             "spark-parquet": fit("spark-parquet", "spark-parquet-quarter")} if quarters else {}
    storage = {"jsonl_gz_bytes": full.stat().st_size,
               "parquet_bytes": sum(p.stat().st_size for p in (work / "parquet-full").rglob("*")
                                    if p.is_file()),
               "convert_s": convert_s}
    result = {"suite": size, "scenario": scenario, "accounts": n_accounts, "seed": seed,
              "master": master,
              "machine": f"{os.cpu_count()} cores; the load averages below say how "
                         "busy it was with other work",
              "command": command or f"distillwatch bench --engine spark --size {size} "
                                    f"--spark-master {master}",
              "date": time.strftime("%Y-%m-%d"), "parity_with_duckdb": parity,
              "parity_by_column": parity_columns, "skipped": skipped,
              "spark_conf": dict(conf),
              "load_average": {"start": load_start, "end": _load_average()}, "runs": rows,
              "cost_model": costs, "storage": storage}
    path = json_path or default_json_path(f"spark-{size}", work)
    path.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"DuckDB and Spark ({master}), suite {size}")
    for col in ("run", "calls", "wall s", "calls/s", "peak RSS MiB", "parity"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["run"], f"{row['calls']:,}", f"{row['wall_s']:.1f}",
                      f"{row['calls_per_s']:,}", f"{row['peak_rss_mib']:,}",
                      str(parity.get(row["run"], "reference" if row["run"] == "duckdb-jsonl"
                                     else "")))
    Console().print(table)
    for name, why in skipped.items():
        Console().print(f"not run: {name} ({why})")
    if costs:
        Console().print(f"fixed and marginal cost: {costs}")
    Console().print(f"wrote {path}")

    return result
