"""``distillwatch demo``: simulate a week of traffic with built-in text, then scan it."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from distillwatch.cli._console import err_console, scan_progress, summary_table
from distillwatch.scan import ScanOptions
from distillwatch.scan import scan as run_scan
from distillwatch.sim import simulate as run_simulate

__all__ = ["demo"]


@click.command("demo")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=Path("distillwatch-demo"), show_default=True,
              help="Folder for the simulated logs, the database and the scan outputs.")
@click.option("--seed", type=int, default=7, show_default=True, help="Simulation seed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def demo(folder: Path, seed: int, quiet: bool) -> None:
    """Simulate traffic with built-in text (no data needed), scan it and write the report.

    The simulated week holds ordinary apps, honest heavy users (batch jobs, evaluation labs,
    resellers) and several kinds of harvesters. The folder is made afresh each run.
    """
    if folder.exists():
        shutil.rmtree(folder)
    sim_dir = folder / "sim"
    err_console.print(f"simulating traffic into {sim_dir} ...")
    run_simulate(out=sim_dir, scenario="demo", seed=seed)
    options = ScanOptions(out=folder / "scan", db=folder / "distillwatch.duckdb",
                          accounts=str(sim_dir / "accounts.jsonl"))
    with scan_progress(enabled=not quiet) as (on_rows, on_stage):
        summary = run_scan([str(sim_dir / "traffic.jsonl.gz")], options, on_rows=on_rows,
                           on_stage=on_stage)
    err_console.print(summary_table(summary))
    err_console.print(f"\nOpen {summary.outputs['report']} in a browser to read the case files.")
    err_console.print(f"The simulator's ground truth is in {sim_dir / 'labels.jsonl'} "
                      "(the scan never reads it).")
