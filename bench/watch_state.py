"""Online detector at scale: state memory for many accounts, and scoring speed.

    python bench/watch_state.py [--accounts 1000000] [--calls 3000000] [--json PATH]

Feeds synthetic per-call feature batches (the columns ``call_features`` produces; values drawn
at random, every account seen at least once) through ``OnlineDetector.observe_features`` in
time order, then reports the state it holds (per-account arrays, sketches, account index),
the process's peak resident memory, scoring calls per second on one core, and the size and
time of a snapshot. Prints a table and writes JSON (default bench/results/watch_state.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from distillwatch.detect import OnlineDetector

OUT = Path(__file__).resolve().parent / "results" / "watch_state.json"


def synthetic_batch(rng: np.random.Generator, accounts: np.ndarray, t0_us: int,
                    span_us: int, rows: int, offset: int) -> pa.RecordBatch:
    """One time-ordered batch of plausible per-call features for the given account ids."""
    ts = np.sort(rng.integers(t0_us, t0_us + span_us, size=rows))
    acct = accounts[rng.integers(0, len(accounts), size=rows)]
    pick = rng.random(rows)
    return pa.RecordBatch.from_pydict({
        "request_id": [f"r{offset + i}" for i in range(rows)],
        "account_id": acct.tolist(),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "key_id": [f"k{a % 7}" for a in range(rows)],
        "end_user": pa.array(np.where(pick < 0.3, "u", None).tolist(), pa.string()),
        "user_agent": pa.array(["sdk/1.2"] * rows, pa.string()),
        "status": pa.array(np.where(pick < 0.01, 429, 200), pa.int32()),
        "model": pa.array(np.where(pick < 0.5, "m1", "m2").tolist(), pa.string()),
        "n_assistant_turns": pa.array(rng.integers(0, 3, rows), pa.int32()),
        "n_tool_messages": pa.array(np.zeros(rows, dtype=np.int32)),
        "n_tools": pa.array(np.zeros(rows, dtype=np.int32)),
        "temperature": pa.array(rng.random(rows)),
        "n": pa.array(np.ones(rows, dtype=np.int32)),
        "max_tokens": pa.array(rng.integers(100, 8000, rows)),
        "top_logprobs": pa.array(np.where(pick < 0.02, 20, 0).astype(np.int32)),
        "logit_bias_size": pa.array(np.zeros(rows, dtype=np.int32)),
        "reasoning_effort": pa.array(np.where(pick < 0.1, "high", None).tolist(), pa.string()),
        "prompt_tokens": pa.array(rng.integers(10, 3000, rows)),
        "completion_tokens": pa.array(rng.integers(10, 3000, rows)),
        "reasoning_tokens": pa.array(np.zeros(rows, dtype=np.int64)),
        "history_chars": pa.array(rng.integers(0, 2000, rows)),
        "prompt_hash": pa.array(rng.integers(1, 2**62, rows)),
        "system_hash": pa.array(rng.integers(1, 50, rows)),
        "template_prefix": pa.array(rng.integers(1, 1000, rows)),
        "template_suffix": pa.array(rng.integers(1, 1000, rows)),
        "cot": pa.array(pick < 0.2),
        "script": pa.array(["latin"] * rows, pa.string()),
        "ip_prefix": pa.array([f"10.{a % 200}.0.0/24" for a in range(rows)], pa.string()),
    })


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=3_000_000)
    parser.add_argument("--batch", type=int, default=16384)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    ids = np.array([f"acct_{i:08d}" for i in range(args.accounts)], dtype=object)
    detector = OnlineDetector()
    rss_start = peak_rss_mib()
    t0 = 1_788_000_000_000_000
    span = 3_600_000_000
    scoring = 0.0
    done = 0
    alerts = 0
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("scoring synthetic calls", total=args.calls)
        # first pass: every account once, so the state really holds them all
        order = rng.permutation(args.accounts)
        while done < args.calls:
            rows = min(args.batch, args.calls - done)
            if done < args.accounts:
                chunk = ids[order[done:done + rows]]
                rows = len(chunk)
            else:
                chunk = ids
            batch = synthetic_batch(rng, chunk if done < args.accounts else ids,
                                    t0 + done * 1000, span, rows, done)
            if done < args.accounts:  # one call per account in this pass
                batch = batch.set_column(1, "account_id", pa.array(chunk.tolist()))
            start = time.perf_counter()
            alerts += len(detector.observe_features(batch))
            scoring += time.perf_counter() - start
            done += rows
            progress.update(task, completed=done)
    state = detector.state_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.npz"
        start = time.perf_counter()
        detector.save(path)
        save_s = time.perf_counter() - start
        snapshot_mib = path.stat().st_size / 2**20
        start = time.perf_counter()
        OnlineDetector.load(path)
        load_s = time.perf_counter() - start
    report = {
        "schema": "distillwatch.bench.watch_state/1",
        "accounts": detector.n_accounts,
        "calls": done,
        "alerts": alerts,
        "scoring_calls_per_s": done / scoring,
        "state": state,
        "state_mib": (state["account_arrays"] + state["bloom"] + state["countmin"]) / 2**20,
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": rss_start,
        "snapshot_mib": snapshot_mib,
        "snapshot_save_s": save_s,
        "snapshot_load_s": load_s,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "command": "python bench/watch_state.py " + " ".join(sys.argv[1:]),
    }
    table = Table(title="online detector at scale", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("accounts / calls", f"{report['accounts']:,} / {done:,}")
    table.add_row("scoring, one core", f"{report['scoring_calls_per_s']:,.0f} calls/s")
    table.add_row("state arrays", f"{state['account_arrays'] / 2**20:,.0f} MiB "
                                  f"({state['bytes_per_account_slot']} B per account slot)")
    table.add_row("sketches", f"{(state['bloom'] + state['countmin']) / 2**20:,.0f} MiB")
    table.add_row("peak resident memory", f"{report['peak_rss_mib']:,.0f} MiB "
                                          f"(process, ids and batches included)")
    table.add_row("snapshot", f"{snapshot_mib:,.0f} MiB, save {save_s:.1f} s, "
                              f"load {load_s:.1f} s")
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
