"""The ``distillwatch`` command line: a thin click group over the library."""

from __future__ import annotations

import sys

import click

from distillwatch import __version__
from distillwatch.cli._bench import bench
from distillwatch.cli._convert import convert
from distillwatch.cli._demo import demo
from distillwatch.cli._export import export
from distillwatch.cli._forensics import forensics
from distillwatch.cli._gateway import gateway
from distillwatch.cli._scan import scan
from distillwatch.cli._simulate import simulate
from distillwatch.cli._watch import watch
from distillwatch.errors import DistillwatchError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distillwatch")
def cli() -> None:
    """Detect accounts that harvest a model's API outputs for distillation.

    \b
    Start here:
      distillwatch demo                      simulate traffic and scan it (no data needed)
      distillwatch scan LOGS... --out DIR    rank the accounts in your own traffic logs
      distillwatch watch LOGS... --alerts F  score calls as they come; alert while it happens
      distillwatch simulate --out DIR        make labelled traffic to try things on
      distillwatch bench                     measure detection quality and speed
      distillwatch gateway --upstream URL    proxy an OpenAI-compatible API: log, score, act
      distillwatch export FINDINGS ALERTS    findings and alerts as OCSF events for a SIEM
      distillwatch forensics probe ...       test whether a suspect model learned from you
    """


cli.add_command(scan)
cli.add_command(simulate)
cli.add_command(bench)
cli.add_command(demo)
cli.add_command(watch)
cli.add_command(gateway)
cli.add_command(forensics)
cli.add_command(convert)
cli.add_command(export)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the group and maps our errors to exit codes."""
    try:
        cli.main(args=argv, prog_name="distillwatch", standalone_mode=False)
    except DistillwatchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
