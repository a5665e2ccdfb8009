"""The canary text transform the gateway's ``canary`` action calls for flagged accounts.

``CanaryInjector(...)(account_id, request_id, text) -> text``: for a small keyed share of
responses it weaves the account's next canary into the text and records it in the registry.
Deterministic per request (a retried request gets the same canary), bounded per account.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from distillwatch.errors import ConfigError
from distillwatch.forensics._canary import Canary, canary_slot
from distillwatch.forensics._keys import KeyRing, MarkKey
from distillwatch.forensics._registry import CanaryRegistry, ServedCanary

__all__ = ["CanaryInjector", "weave"]


def _unit(key: MarkKey, label: str, text: str) -> float:
    digest = hmac.new(key.key, label.encode() + b"\x00" + text.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def weave(text: str, canary: Canary, position: float) -> str:
    """Insert the canary sentence at a paragraph boundary chosen by ``position`` in [0, 1)."""
    paragraphs = text.split("\n\n")
    if len(paragraphs) == 1:
        return f"{text.rstrip()} {canary.sentence()}" if text.strip() else canary.sentence()
    at = 1 + int(position * (len(paragraphs) - 1))
    return "\n\n".join([*paragraphs[:at], canary.sentence(), *paragraphs[at:]])


class CanaryInjector:
    """A ``(account_id, request_id, text) -> text`` transform that serves and records canaries."""

    def __init__(self, registry: CanaryRegistry, keyring: KeyRing, *, share: float = 0.05,
                 n_decoys: int = 3, max_per_account: int = 100,
                 clock: Callable[[], datetime] | None = None) -> None:
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"canary share must be in [0, 1], got {share}")
        if n_decoys < 1 or max_per_account < 1:
            raise ConfigError("n_decoys and max_per_account must be at least 1")
        self.registry = registry
        self.keyring = keyring
        self.share = share
        self.n_decoys = n_decoys
        self.max_per_account = max_per_account
        self._clock = clock or (lambda: datetime.now(UTC))

    def _replay(self, previous: ServedCanary, request_id: str, text: str) -> str:
        key = self.keyring.key(previous.account_id, "canary", previous.key_version)
        canary, _ = canary_slot(key, previous.slot, previous.n_decoys)
        return weave(text, canary, _unit(key, "where", request_id))

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
            result.append(weave(text, canary, _unit(key, "where", request_id)))
            return canary.canary_id, hashlib.sha256(result[0].encode()).hexdigest()

        try:
            slot = self.registry.record(account_id, key.version, key.key_id, self.n_decoys,
                                        request_id, when, self.max_per_account, render)
        except sqlite3.IntegrityError:  # the same request recorded concurrently: replay it
            previous = self.registry.by_request(account_id, request_id)
            return text if previous is None else self._replay(previous, request_id, text)
        return text if slot is None else result[0]
