"""``distillwatch simulate``: write labelled synthetic traffic."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from distillwatch.errors import InputError
from distillwatch.sim import SCENARIOS
from distillwatch.sim import simulate as run_simulation

__all__ = ["simulate"]


@click.command("simulate")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for traffic.jsonl.gz, accounts.jsonl and labels.jsonl.")
@click.option("--accounts", type=int, default=None, help="Number of accounts (scenario default).")
@click.option("--days", type=int, default=None, help="Days to simulate (scenario default).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--corpora", type=click.Path(path_type=Path), default=None,
              help="Folder laid out like ../shared/data; default: built-in prompt generator.")
@click.option("--scenario", type=click.Choice(sorted(SCENARIOS)), default="mixed",
              show_default=True, help="Traffic mix and size.")
def simulate(out: Path, accounts: int | None, days: int | None, seed: int,
             corpora: Path | None, scenario: str) -> None:
    """Simulate labelled API traffic: benign, hard-negative and harvesting accounts."""
    if corpora is not None and not corpora.is_dir():
        raise InputError("corpora folder not found", path=str(corpora))
    console = Console(stderr=True)
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("days · {task.fields[calls]:,} calls"), TimeElapsedColumn(),
                  console=console, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("simulate", total=None, calls=0)

        def progress(done: int, total: int, calls: int) -> None:
            bar.update(task, completed=done, total=total, calls=calls)

        summary = run_simulation(out, scenario=scenario, accounts=accounts, days=days, seed=seed,
                                 corpora=corpora, progress=progress)
    click.echo(f"wrote {summary.calls:,} calls from {summary.accounts} accounts "
               f"({summary.harvesters} harvesting) over {summary.days} days to {summary.out_dir} "
               f"in {summary.seconds:.1f}s ({summary.calls_per_second:,.0f} calls/s)")
