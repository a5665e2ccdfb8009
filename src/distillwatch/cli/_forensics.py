"""``distillwatch forensics``: keys, canaries and probing a suspect model for our marks."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from distillwatch.errors import ConfigError
from distillwatch.forensics import PURPOSES, SECRET_ENV, SECRET_FILE_ENV, KeyRing, load_keyring

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
