"""API keys to accounts: the keys file holds only SHA-256 digests, never a secret."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from distillwatch.errors import InputError

__all__ = ["Identity", "KeyStore", "hash_key", "key_id_for"]

_HEX64: Final = re.compile(r"^[0-9a-f]{64}$")


def hash_key(key: str) -> str:
    """Hex SHA-256 of an API key, the form the keys file stores."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_for(digest: str) -> str:
    """The key identifier written to the traffic log: a short prefix of the digest."""
    return f"sha256:{digest[:16]}"


@dataclass(frozen=True)
class Identity:
    """Who made a call: the account, and the key id safe to log."""

    account_id: str
    key_id: str
    known: bool = True


class KeyStore:
    """Digest -> identity, loaded from a keys file (``{"account_id", "key_sha256"}`` a line)."""

    def __init__(self, entries: Mapping[str, Identity] | None = None) -> None:
        self._by_digest: dict[str, Identity] = dict(entries or {})

    def __len__(self) -> int:
        return len(self._by_digest)

    @classmethod
    def from_file(cls, path: str | Path) -> KeyStore:
        """Read and validate a keys file; errors name the file, line and field."""
        name = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read keys file: {exc.strerror}", path=name) from exc
        entries: dict[str, Identity] = {}
        for lineno, line in enumerate(raw.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith(b"#"):
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc}", path=name, line=lineno) from exc
            if not isinstance(obj, dict):
                raise InputError("must be a JSON object", path=name, line=lineno)
            account = obj.get("account_id")
            if not isinstance(account, str) or not account:
                raise InputError("is required and must be a non-empty string", path=name,
                                 line=lineno, field="account_id")
            digest = obj.get("key_sha256")
            if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
                raise InputError("must be the 64-character hex SHA-256 of the key (never the "
                                 "key itself)", path=name, line=lineno, field="key_sha256")
            digest = digest.lower()
            key_id = obj.get("key_id")
            if key_id is not None and (not isinstance(key_id, str) or not key_id):
                raise InputError("must be a non-empty string", path=name, line=lineno,
                                 field="key_id")
            previous = entries.get(digest)
            if previous is not None and previous.account_id != account:
                raise InputError(f"this key is already assigned to account "
                                 f"{previous.account_id!r}", path=name, line=lineno,
                                 field="key_sha256")
            entries[digest] = Identity(account, key_id or key_id_for(digest))
        return cls(entries)

    def identify(self, key: str) -> tuple[str, Identity | None]:
        """The key's digest and its identity (None for a key the file does not hold)."""
        digest = hash_key(key)
        return digest, self._by_digest.get(digest)

    def accounts(self) -> set[str]:
        """Every account that holds a key."""
        return {identity.account_id for identity in self._by_digest.values()}
