"""The canary registry: which canary went to which account, when, in which response.

One SQLite file (safe for several writer threads or processes). Decoys are never stored: they
are redrawn from the key when a suspect is probed, so the file alone does not reveal them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CanaryRegistry", "ServedCanary"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS served (
    account_id TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    n_decoys INTEGER NOT NULL,
    canary_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    served_at TEXT NOT NULL,
    response_sha256 TEXT NOT NULL,
    PRIMARY KEY (account_id, key_version, slot),
    UNIQUE (account_id, request_id)
);
"""


@dataclass(frozen=True)
class ServedCanary:
    """One registry row."""

    account_id: str
    key_version: int
    key_id: str
    slot: int
    n_decoys: int
    canary_id: str
    request_id: str
    served_at: str
    response_sha256: str


class CanaryRegistry:
    """Append-only record of served canaries in a SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30.0)
        try:
            with con:
                yield con
        finally:
            con.close()

    def by_request(self, account_id: str, request_id: str) -> ServedCanary | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM served WHERE account_id = ? AND request_id = ?",
                              (account_id, request_id)).fetchone()
        return ServedCanary(*row) if row else None

    def record(self, account_id: str, key_version: int, key_id: str, n_decoys: int,
               request_id: str, served_at: str, max_slots: int,
               render: Callable[[int], tuple[str, str]]) -> int | None:
        """Claim the account's next slot for this request and store the row in one transaction.

        ``render(slot) -> (canary_id, response_sha256)``. Returns the slot, or None when the
        account already has ``max_slots`` canaries.
        """
        with self._lock, self._connect() as con:
            (count,) = con.execute(
                "SELECT COUNT(*) FROM served WHERE account_id = ? AND key_version = ?",
                (account_id, key_version)).fetchone()
            if count >= max_slots:
                return None
            canary_id, digest = render(int(count))
            con.execute("INSERT INTO served VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (account_id, key_version, key_id, count, n_decoys, canary_id,
                         request_id, served_at, digest))
            return int(count)

    def served(self, account_id: str | None = None) -> list[ServedCanary]:
        """Rows in (account, version, slot) order; one account's or all."""
        sql = "SELECT * FROM served"
        args: tuple[str, ...] = ()
        if account_id is not None:
            sql += " WHERE account_id = ?"
            args = (account_id,)
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY account_id, key_version, slot", args).fetchall()
        return [ServedCanary(*r) for r in rows]

    def accounts(self) -> list[str]:
        with self._connect() as con:
            rows = con.execute("SELECT DISTINCT account_id FROM served ORDER BY 1").fetchall()
        return [r[0] for r in rows]
