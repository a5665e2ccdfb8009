"""``distillwatch forensics``: keys, canaries and probing a suspect model for our marks."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from distillwatch.cli._console import err_console
from distillwatch.errors import ConfigError
from distillwatch.forensics import (
    CASE_FORMAT,
    PURPOSES,
    SECRET_ENV,
    SECRET_FILE_ENV,
    KeyRing,
    ProbeConfig,
    SuspectClient,
    load_case,
    load_keyring,
    probe_case,
)

__all__ = ["forensics"]

_SECRET_HELP = (f"Operator secret file (JSON, created by `forensics keys init`) [default: "
                f"${SECRET_FILE_ENV}, else the secret in ${SECRET_ENV}].")


@click.group("forensics")
def forensics() -> None:
    """Prove that a suspect model learned from our outputs.

    \b
    Marks derive from one operator secret and the account (key = HMAC(secret, account,
    purpose)), so a mark found in a suspect names the account that leaked it.
      distillwatch forensics keys init --secret-file S     create the operator secret
      distillwatch forensics keys list --account A          show key ids (never keys)
      distillwatch forensics keys rotate                    new active secret, old ones kept
      distillwatch forensics case DIR --account A --registry canaries.sqlite
      distillwatch forensics probe --suspect URL --model M --case DIR
    """


@forensics.group("keys")
def keys() -> None:
    """Create, list and rotate the operator secret behind every mark."""


@keys.command("init")
@click.option("--secret-file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the new secret (owner-only permissions).")
def keys_init(secret_file: Path) -> None:
    """Create a new operator secret file (refuses to overwrite one)."""
    if secret_file.exists():
        raise ConfigError(f"{secret_file} exists; use `forensics keys rotate` to add a version")
    ring = KeyRing.generate()
    ring.save(secret_file)
    click.echo(f"wrote secret version 1 (id {ring.secret_ids()[1]}) to {secret_file}")


@keys.command("rotate")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar=SECRET_FILE_ENV, help="The secret file to rotate in place.")
def keys_rotate(secret_file: Path | None) -> None:
    """Add a fresh secret as the active version; older versions stay for verification."""
    if secret_file is None:
        raise ConfigError(f"rotation needs a secret file (--secret-file or ${SECRET_FILE_ENV})")
    ring = load_keyring(secret_file).rotated()
    ring.save(secret_file)
    click.echo(f"active secret is now version {ring.active} (id {ring.secret_ids()[ring.active]});"
               f" kept versions: {', '.join(map(str, sorted(ring.secrets)))}")


@keys.command("list")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_SECRET_HELP)
@click.option("--account", "accounts", multiple=True,
              help="Also show this account's key ids per purpose and version (repeatable).")
def keys_list(secret_file: Path | None, accounts: tuple[str, ...]) -> None:
    """List secret versions and key ids: hashes of keys, never the keys themselves."""
    ring = load_keyring(secret_file)
    table = Table(title="operator secret versions", title_justify="left")
    for col in ("version", "secret id", "created", "active"):
        table.add_column(col)
    for version, sid in ring.secret_ids().items():
        table.add_row(str(version), sid, ring.created.get(version) or "",
                      "yes" if version == ring.active else "")
    console = Console()
    console.print(table)
    if accounts:
        keys_table = Table(title="account key ids", title_justify="left")
        for col in ("account", "version", *PURPOSES):
            keys_table.add_column(col)
        for account in accounts:
            for version in sorted(ring.secrets):
                keys_table.add_row(account, str(version),
                                   *(ring.key(account, p, version).key_id for p in PURPOSES))
        console.print(keys_table)


@forensics.command("probe")
@click.option("--suspect", required=True, help="Base URL of the suspect's OpenAI-compatible API "
              "(e.g. http://host:8000/v1).")
@click.option("--model", required=True, help="Model name to ask for.")
@click.option("--case", "case_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Case folder with case.json; evidence.json/.html are written here.")
@click.option("--budget", type=click.IntRange(min=1), default=None,
              help="Most completions to ask for (canaries first, then corroboration, then the "
              "watermark tests) [default: no limit].")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Most requests per second.")
@click.option("--api", type=click.Choice(["completions", "chat"]), default="completions",
              show_default=True, help="Which endpoint to probe.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.01, show_default=True,
              help="Family-wise significance level (Holm over all tests and accounts).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for question order and sampling.")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_SECRET_HELP)
def probe(suspect: str, model: str, case_dir: Path, budget: int | None, rate: float, api: str,
          alpha: float, seed: int, secret_file: Path | None) -> None:
    """Test a suspect model for this case's marks and write a case file.

    Runs whichever tests the case allows: canary recall (served vs never-served decoys, exact
    test), watermark radioactivity over distinct (context, token) pairs and the per-context
    mode test (exact binomial), and agreement with our model against reference models
    (corroboration only). Every figure carries its null, p-value, Holm-adjusted p-value and
    queries spent; every probe and response is hashed and kept in transcript.jsonl.
    """
    ring = load_keyring(secret_file)
    client = SuspectClient(suspect, model, api=api, budget=budget, rate=rate)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console) as bar:
        tasks: dict[str, TaskID] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        evidence = probe_case(case_dir, client, ring, ProbeConfig(alpha=alpha, seed=seed), tick)
    table = Table(title=f"forensics probe: {evidence['case_id']}", title_justify="left")
    for col in ("test", "account", "p", "Holm p", "queries"):
        table.add_column(col)
    for t in evidence["tests"]:
        mark = " [red]*[/red]" if t["significant"] else ""
        table.add_row(t["test"], t["account_id"] or "all", f"{t['p_value']:.3g}",
                      f"{t['p_holm']:.3g}{mark}", str(t["queries"]))
    Console().print(table)
    named = [f["account_id"] for f in evidence["findings"] if f["named"]]
    click.echo(f"accounts named at alpha {alpha}: {', '.join(named) or 'none'}; "
               f"{evidence['budget']['spent']} completions; wrote {case_dir / 'evidence.json'}, "
               f"{case_dir / 'evidence.html'}")


@forensics.command("case")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--account", "accounts", multiple=True, required=True,
              help="An account whose marks to test (repeatable).")
@click.option("--registry", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Canary registry (SQLite) to copy in: enables canary recall.")
@click.option("--canary-prompt", type=click.Choice(["prefix", "question"]), default="prefix",
              show_default=True, help="Ask for canaries as a completion prefix or a question.")
@click.option("--vocab", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Word vocabulary of the marked generator (JSON): with "
              "--prompts, enables the watermark tests.")
@click.option("--prompts", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Probe prompts, one a line.")
@click.option("--gamma", type=float, default=0.25, show_default=True)
@click.option("--delta", type=float, default=2.0, show_default=True)
@click.option("--context", type=click.IntRange(1, 2), default=1, show_default=True)
@click.option("--corroboration", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="JSONL of {prompt, ours, references} for the corroboration "
              "test.")
def case(folder: Path, accounts: tuple[str, ...], registry: Path | None, canary_prompt: str,
         vocab: Path | None, prompts: Path | None, gamma: float, delta: float, context: int,
         corroboration: Path | None) -> None:
    """Create a case folder (case.json plus copies of the files it names) for `probe`."""
    if (vocab is None) != (prompts is None):
        raise ConfigError("the watermark tests need both --vocab and --prompts")
    if registry is None and vocab is None and corroboration is None:
        raise ConfigError("nothing to test: give --registry, --vocab/--prompts or "
                          "--corroboration")
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "case.json").exists():
        raise ConfigError(f"{folder / 'case.json'} exists; a case is not overwritten")
    spec: dict[str, object] = {"format": CASE_FORMAT, "case_id": folder.name,
                               "accounts": list(accounts)}
    if registry is not None:
        shutil.copyfile(registry, folder / "canaries.sqlite")
        spec["canaries"] = {"registry": "canaries.sqlite", "prompt": canary_prompt}
    if vocab is not None and prompts is not None:
        shutil.copyfile(vocab, folder / "vocab.json")
        shutil.copyfile(prompts, folder / "prompts.txt")
        spec["watermark"] = {"gamma": gamma, "delta": delta, "context": context,
                             "vocab": "vocab.json", "prompts": "prompts.txt", "max_tokens": 48,
                             "mode_contexts": 100, "mode_samples": 16}
    if corroboration is not None:
        shutil.copyfile(corroboration, folder / "corroboration.jsonl")
        spec["corroboration"] = {"file": "corroboration.jsonl", "match_tokens": 2}
    (folder / "case.json").write_bytes(orjson.dumps(spec, option=orjson.OPT_INDENT_2))
    loaded = load_case(folder)
    tests = ", ".join(k for k in ("canaries", "watermark", "corroboration") if k in spec)
    click.echo(f"wrote case {loaded.case_id} for {len(loaded.accounts)} account(s) to "
               f"{folder}; tests: {tests}")
