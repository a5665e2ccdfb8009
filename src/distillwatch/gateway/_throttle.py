"""Throttle: request and token rates per account through ``limits``.

Counters live in memory for one process, or in Redis (``throttle.storage: redis://...``) so
that every replica of the gateway counts against the same budget. Only accounts at a
throttling step touch the storage; everyone else skips it.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from distillwatch.gateway._config import StepPolicy
from distillwatch.gateway._degrade import Refusal

__all__ = ["Throttle"]

_log = logging.getLogger("distillwatch.gateway")


def _storage(uri: str) -> Any:
    if uri.startswith(("redis://", "rediss://")):
        return storage_from_string(f"async+{uri}", implementation="redispy")
    return storage_from_string(f"async+{uri}")


class Throttle:
    """Check and record request and token use against a step's limits."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        self._storage = _storage(storage_uri)
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}
        self.errors = 0

    def _item(self, spec: str) -> RateLimitItem:
        item = self._items.get(spec)
        if item is None:
            item = self._items[spec] = parse(spec)
        return item

    async def check(self, account_id: str, step: StepPolicy) -> Refusal | None:
        """Count one request; a 429 refusal when the request or token budget is spent.

        A storage failure (Redis down) fails open: the call goes through and the error is
        counted, because a throttle must not become an outage.
        """
        try:
            if step.requests is not None:
                item = self._item(step.requests)
                if not await self._limiter.hit(item, "req", account_id):
                    return await self._refusal(item, "req", account_id, "requests")
            if step.tokens is not None:
                item = self._item(step.tokens)
                if not await self._limiter.test(item, "tok", account_id):
                    return await self._refusal(item, "tok", account_id, "tokens")
        except Exception as exc:  # storage unreachable: fail open, count it
            self.errors += 1
            _log.warning("throttle storage %s failed: %s", self.storage_uri, exc)
        return None

    async def record_tokens(self, account_id: str, step: StepPolicy, tokens: int) -> None:
        """Charge the tokens a finished call used to the account's token budget."""
        if step.tokens is None or tokens <= 0:
            return
        try:
            await self._limiter.hit(self._item(step.tokens), "tok", account_id, cost=tokens)
        except Exception as exc:
            self.errors += 1
            _log.warning("throttle storage %s failed: %s", self.storage_uri, exc)

    async def _refusal(self, item: RateLimitItem, kind: str, account_id: str,
                       what: str) -> Refusal:
        stats = await self._limiter.get_window_stats(item, kind, account_id)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        return Refusal(429, "rate_limit_exceeded",
                       f"Rate limit reached for {what} ({item}). Try again in {retry} s.",
                       headers=(("retry-after", str(retry)),))

    async def reset(self) -> None:
        """Forget every counter (tests, and an analyst lifting a throttle)."""
        await self._storage.reset()

    async def close(self) -> None:
        """Release storage connections."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None:  # redis.asyncio.Redis behind limits' bridge
            await client.aclose()
