"""Which action the next call of an account gets: analyst overrides first, then the ladder.

The hot path calls :func:`decide` once per call: a dictionary lookup in the scorer's
``risk_of`` and one in the overrides, nothing else.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from distillwatch.act import Ladder, action_rank
from distillwatch.detect import LiveRisk, LiveScorer
from distillwatch.errors import ConfigError, InputError
from distillwatch.ingest import parse_ts

__all__ = ["RING_PREFIX", "Decision", "Override", "Overrides", "decide", "utc_now"]

RING_PREFIX = "ring:"


def utc_now(now: float | None = None) -> str:
    """RFC 3339 UTC timestamp with milliseconds and ``Z``."""
    now = time.time() if now is None else now
    millis = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{millis:03d}Z"


@dataclass(frozen=True)
class Override:
    """An analyst's decision for one account (or ``ring:<cluster_id>``), with why and until."""

    action: str
    reason: str
    set_at: str
    by: str | None = None
    expires_at: str | None = None

    @classmethod
    def parse(cls, body: Any, *, now: float | None = None) -> Override:
        """Validate an override from the admin API or the overrides file."""
        if not isinstance(body, dict):
            raise ConfigError("an override must be a JSON object with 'action' and 'reason'")
        action = body.get("action")
        if not isinstance(action, str):
            raise ConfigError("override 'action' is required (observe, alert, throttle, "
                              "degrade or block)")
        action_rank(action)
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError("override 'reason' is required: say why, it is logged")
        expires = body.get("expires_at")
        if expires is not None and parse_ts(expires) is None:
            raise ConfigError("override 'expires_at' must be an RFC 3339 timestamp")
        by = body.get("by")
        if by is not None and not isinstance(by, str):
            raise ConfigError("override 'by' must be a string")
        return cls(action=action, reason=reason.strip(),
                   set_at=body.get("set_at") or utc_now(now), by=by, expires_at=expires)

    def expired(self, now: float) -> bool:
        """True once ``expires_at`` has passed."""
        if self.expires_at is None:
            return False
        when = parse_ts(self.expires_at)
        return when is not None and when.timestamp() <= now


class Overrides:
    """Overrides by account id (or ring), kept in a JSON file when ``path`` is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._by_id: dict[str, Override] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InputError(f"cannot read overrides: {exc}", path=str(path)) from exc
        if not isinstance(data, dict):
            raise InputError("overrides file must hold a JSON object", path=str(path))
        for key, body in data.items():
            try:
                self._by_id[key] = Override.parse(body)
            except ConfigError as exc:
                raise InputError(str(exc), path=str(path), field=key) from exc

    def get(self, key: str, now: float) -> Override | None:
        """The live override for ``key`` (expired ones are dropped on read)."""
        found = self._by_id.get(key)
        if found is not None and found.expired(now):
            del self._by_id[key]
            self.save()
            return None
        return found

    def set(self, key: str, override: Override) -> None:
        """Add or replace an override and persist it."""
        self._by_id[key] = override
        self.save()

    def delete(self, key: str) -> Override | None:
        """Remove an override; returns it (None if there was none)."""
        found = self._by_id.pop(key, None)
        if found is not None:
            self.save()
        return found

    def items(self) -> Iterator[tuple[str, Override]]:
        """Every override."""
        return iter(list(self._by_id.items()))

    def __len__(self) -> int:
        return len(self._by_id)

    def save(self) -> None:
        """Write the file atomically (temp file and rename)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps({k: asdict(v) for k, v in self._by_id.items()},
                            option=orjson.OPT_INDENT_2)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".overrides-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class Decision:
    """The action for one call, and why."""

    action: str
    source: str
    risk: float | None
    reasons: tuple[str, ...]


_OBSERVE = Decision("observe", "ladder", None, ())
_log = logging.getLogger("distillwatch.gateway")


def _risk_of(scorer: LiveScorer | None, account_id: str) -> LiveRisk | None:
    """The scorer's answer; a failing scorer reads as no risk (fail open) and is logged."""
    if scorer is None:
        return None
    try:
        return scorer.risk_of(account_id)
    except Exception:
        _log.exception("live scorer risk_of(%r) failed; treating the account as unscored",
                       account_id)
        return None


def decide(account_id: str, *, scorer: LiveScorer | None, ladder: Ladder,
           overrides: Overrides, now: float) -> Decision:
    """Override for the account, else for its ring, else the ladder step its risk reaches."""
    risk = _risk_of(scorer, account_id)
    value = None if risk is None else risk.risk
    if len(overrides):
        override = overrides.get(account_id, now)
        source = "override"
        if override is None and risk is not None and risk.cluster_id:
            override = overrides.get(RING_PREFIX + risk.cluster_id, now)
            source = "ring-override"
        if override is not None:
            return Decision(override.action, source, value, (f"analyst: {override.reason}",))
    if risk is None:
        return _OBSERVE
    action = ladder.action_for(risk.risk, allowlisted=risk.allowlisted)
    return Decision(action, "ladder", risk.risk, risk.reasons)
