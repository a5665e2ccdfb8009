"""Per-account mark keys: key = HMAC(operator secret, account_id, purpose), versioned secrets.

The operator secret lives in a file (JSON, mode 0600) or an environment variable; it never
reaches logs, reports or case files. What may be shown is a *key id*: a short hash of a derived
key, enough to say which key a figure was computed with and to check it later, useless for
recomputing the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from distillwatch.errors import ConfigError, InputError

__all__ = [
    "PURPOSES",
    "SECRET_ENV",
    "SECRET_FILE_ENV",
    "KeyRing",
    "MarkKey",
    "derive_key",
    "key_id",
    "load_keyring",
]

SECRET_ENV = "DISTILLWATCH_FORENSICS_SECRET"
SECRET_FILE_ENV = "DISTILLWATCH_FORENSICS_SECRET_FILE"
PURPOSES = ("canary", "watermark", "tripwire")
_DOMAIN = b"distillwatch/forensics/v1"
_MIN_SECRET_BYTES = 16


def _field(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def derive_key(secret: bytes, account_id: str, purpose: str) -> bytes:
    """HMAC-SHA256 of (account, purpose) under the operator secret; length-prefixed fields."""
    if purpose not in PURPOSES:
        raise ConfigError(f"unknown key purpose {purpose!r} (one of {', '.join(PURPOSES)})")
    if not account_id:
        raise ConfigError("account_id must not be empty")
    return hmac.new(secret, _DOMAIN + _field(account_id) + _field(purpose),
                    hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A public fingerprint of a key (never the key): 16 hex digits of a domain-separated hash."""
    return hashlib.sha256(b"distillwatch-key-id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class MarkKey:
    """A derived key with what it was derived for; its bytes never appear in ``repr``."""

    account_id: str
    purpose: str
    version: int
    key: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return key_id(self.key)


@dataclass(frozen=True)
class KeyRing:
    """Versioned operator secrets: the active one marks, every kept one verifies."""

    secrets: Mapping[int, bytes] = field(repr=False)
    active: int
    created: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.active not in self.secrets:
            raise ConfigError(f"active secret version {self.active} is not in the key ring")
        for version, secret in self.secrets.items():
            if len(secret) < _MIN_SECRET_BYTES:
                raise ConfigError(f"secret version {version} is shorter than "
                                  f"{_MIN_SECRET_BYTES} bytes")

    def key(self, account_id: str, purpose: str, version: int | None = None) -> MarkKey:
        """The key for (account, purpose) under ``version`` (default: the active secret)."""
        v = self.active if version is None else version
        if v not in self.secrets:
            raise ConfigError(f"secret version {v} is not in the key ring (kept: "
                              f"{', '.join(map(str, sorted(self.secrets)))})")
        return MarkKey(account_id, purpose, v, derive_key(self.secrets[v], account_id, purpose))

    def secret_ids(self) -> dict[int, str]:
        """Version -> fingerprint of the secret itself (to tell versions apart, not to use)."""
        return {v: key_id(s) for v, s in sorted(self.secrets.items())}

    def rotated(self) -> KeyRing:
        """A new ring with a fresh random secret as the active version; old ones kept."""
        version = max(self.secrets) + 1
        return KeyRing({**self.secrets, version: secrets.token_bytes(32)}, version,
                       {**self.created, version: _now()})

    @staticmethod
    def generate() -> KeyRing:
        return KeyRing({1: secrets.token_bytes(32)}, 1, {1: _now()})

    def to_json(self) -> bytes:
        return orjson.dumps({
            "format": "distillwatch-forensics-secrets/1",
            "active": self.active,
            "versions": [{"version": v, "secret_hex": s.hex(), "created": self.created.get(v)}
                         for v, s in sorted(self.secrets.items())],
        }, option=orjson.OPT_INDENT_2)

    def save(self, path: Path) -> None:
        """Write atomically with owner-only permissions."""
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_file(path: Path) -> KeyRing:
    try:
        obj = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError("secret file does not exist (create it with "
                         "`distillwatch forensics keys init`)", path=str(path)) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("versions"), list):
        raise InputError("expected an object with a 'versions' list", path=str(path),
                         field="versions")
    ring: dict[int, bytes] = {}
    created: dict[int, str] = {}
    for i, entry in enumerate(obj["versions"]):
        try:
            version = int(entry["version"])
            ring[version] = bytes.fromhex(entry["secret_hex"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"version entry {i} needs an integer 'version' and a hex "
                             "'secret_hex'", path=str(path), field=f"versions[{i}]") from None
        if entry.get("created"):
            created[version] = str(entry["created"])
    if not ring:
        raise InputError("no secret versions", path=str(path), field="versions")
    active = obj.get("active", max(ring))
    if not isinstance(active, int) or active not in ring:
        raise InputError("'active' must name a kept version", path=str(path), field="active")
    return KeyRing(ring, active, created)


def load_keyring(path: Path | None = None, env: Mapping[str, str] | None = None) -> KeyRing:
    """The key ring from ``path``, else $DISTILLWATCH_FORENSICS_SECRET_FILE, else the secret in
    $DISTILLWATCH_FORENSICS_SECRET (hex, or any string of 16+ bytes; one version, number 1)."""
    environ = os.environ if env is None else env
    if path is None and environ.get(SECRET_FILE_ENV):
        path = Path(environ[SECRET_FILE_ENV])
    if path is not None:
        return _parse_file(path)
    raw = environ.get(SECRET_ENV)
    if not raw:
        raise ConfigError(f"no operator secret: pass --secret-file, or set {SECRET_FILE_ENV} "
                          f"or {SECRET_ENV}")
    try:
        secret = bytes.fromhex(raw)
    except ValueError:
        secret = raw.encode("utf-8")
    return KeyRing({1: secret}, 1)
