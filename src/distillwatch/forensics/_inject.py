"""The canary text transform the gateway's ``canary`` action calls for flagged accounts.

``CanaryInjector(...)(account_id, request_id, text) -> text``: for a small keyed share of
responses it weaves the account's next canary into the text and records it in the registry.
Deterministic per request (a retried request gets the same canary), bounded per account.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from distillwatch.errors import ConfigError
from distillwatch.forensics._canary import Canary, canary_slot
from distillwatch.forensics._keys import KeyRing, MarkKey, load_keyring
from distillwatch.forensics._registry import CanaryRegistry, ServedCanary

__all__ = ["REGISTRY_ENV", "CanaryInjector", "gateway_canary", "weave"]


def _unit(key: MarkKey, label: str, text: str) -> float:
    digest = hmac.new(key.key, label.encode() + b"\x00" + text.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def weave(text: str, canary: Canary, position: float, placement: str = "paragraph") -> str:
    """Insert the canary sentence at a paragraph boundary chosen by ``position`` in [0, 1), or
    with ``placement="append"`` only after the text (the result then starts with ``text``, which
    is what a gateway can still do to a streamed answer)."""
    if placement == "append":
        sep = "" if not text or text.endswith((" ", "\n")) else (
            "\n\n" if "\n\n" in text else " ")
        return text + sep + canary.sentence()
    paragraphs = text.split("\n\n")
    if len(paragraphs) == 1:
        return f"{text.rstrip()} {canary.sentence()}" if text.strip() else canary.sentence()
    at = 1 + int(position * (len(paragraphs) - 1))
    return "\n\n".join([*paragraphs[:at], canary.sentence(), *paragraphs[at:]])


class CanaryInjector:
    """A ``(account_id, request_id, text) -> text`` transform that serves and records canaries."""

    def __init__(self, registry: CanaryRegistry, keyring: KeyRing, *, share: float = 0.05,
                 n_decoys: int = 3, max_per_account: int = 100, placement: str = "paragraph",
                 clock: Callable[[], datetime] | None = None) -> None:
        if placement not in ("paragraph", "append"):
            raise ConfigError(f"canary placement must be 'paragraph' or 'append', "
                              f"got {placement!r}")
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"canary share must be in [0, 1], got {share}")
        if n_decoys < 1 or max_per_account < 1:
            raise ConfigError("n_decoys and max_per_account must be at least 1")
        self.registry = registry
        self.keyring = keyring
        self.share = share
        self.n_decoys = n_decoys
        self.max_per_account = max_per_account
        self.placement = placement
        self._clock = clock or (lambda: datetime.now(UTC))

    def _replay(self, previous: ServedCanary, request_id: str, text: str) -> str:
        key = self.keyring.key(previous.account_id, "canary", previous.key_version)
        canary, _ = canary_slot(key, previous.slot, previous.n_decoys)
        return weave(text, canary, _unit(key, "where", request_id), self.placement)

    def __call__(self, account_id: str, request_id: str, text: str) -> str:
        previous = self.registry.by_request(account_id, request_id)
        if previous is not None:
            return self._replay(previous, request_id, text)
        key = self.keyring.key(account_id, "canary")
        if _unit(key, "share", request_id) >= self.share:
            return text
        when = self._clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        result: list[str] = []

        def render(slot: int) -> tuple[str, str]:
            canary, _ = canary_slot(key, slot, self.n_decoys)
            result.append(weave(text, canary, _unit(key, "where", request_id), self.placement))
            return canary.canary_id, hashlib.sha256(result[0].encode()).hexdigest()

        try:
            slot = self.registry.record(account_id, key.version, key.key_id, self.n_decoys,
                                        request_id, when, self.max_per_account, render)
        except sqlite3.IntegrityError:  # the same request recorded concurrently: replay it
            previous = self.registry.by_request(account_id, request_id)
            return text if previous is None else self._replay(previous, request_id, text)
        return text if slot is None else result[0]


_HOOK: list[CanaryInjector] = []
_HOOK_LOCK = threading.Lock()
REGISTRY_ENV = "DISTILLWATCH_CANARY_REGISTRY"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return default if raw is None else float(raw)
    except ValueError:
        raise ConfigError(f"${name} must be a number, got {raw!r}") from None


def gateway_canary(account_id: str, request_id: str, text: str) -> str:
    """The transform for the gateway's ``canary_hook: "distillwatch.forensics:gateway_canary"``.

    Configured from the environment on first use: the operator secret
    ($DISTILLWATCH_FORENSICS_SECRET_FILE or $DISTILLWATCH_FORENSICS_SECRET), the registry file
    ($DISTILLWATCH_CANARY_REGISTRY), and optionally $DISTILLWATCH_CANARY_SHARE (0.05),
    $DISTILLWATCH_CANARY_DECOYS (3) and $DISTILLWATCH_CANARY_MAX (100). Canaries are appended,
    so streamed answers can carry them too.
    """
    if not _HOOK:
        with _HOOK_LOCK:
            if not _HOOK:
                registry = os.environ.get(REGISTRY_ENV)
                if not registry:
                    raise ConfigError(f"the canary transform needs ${REGISTRY_ENV} (a SQLite "
                                      "file for the canary registry)")
                _HOOK.append(CanaryInjector(
                    CanaryRegistry(Path(registry)), load_keyring(),
                    share=_env_float("DISTILLWATCH_CANARY_SHARE", 0.05),
                    n_decoys=int(_env_float("DISTILLWATCH_CANARY_DECOYS", 3)),
                    max_per_account=int(_env_float("DISTILLWATCH_CANARY_MAX", 100)),
                    placement="append"))
    return _HOOK[0](account_id, request_id, text)
