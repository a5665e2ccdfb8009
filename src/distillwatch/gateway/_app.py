"""The gateway application: shared state, lifespan, and the dispatch between proxy and admin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from starlette.applications import Starlette

from distillwatch.detect import Alert, LiveScorer
from distillwatch.errors import ConfigError, DistillwatchError
from distillwatch.gateway._admin import admin_routes
from distillwatch.gateway._config import CanaryHook, GatewayConfig
from distillwatch.gateway._keys import KeyStore
from distillwatch.gateway._logwriter import TrafficLogWriter
from distillwatch.gateway._metrics import Metrics
from distillwatch.gateway._policy import Decision, Overrides, utc_now
from distillwatch.gateway._proxy import PROXY_PATHS, handle_proxy
from distillwatch.gateway._scorer_proc import ScorerProcess, ScorerSpec
from distillwatch.gateway._scoring import EventLog, ScoringFeed, save_scorer
from distillwatch.gateway._throttle import Throttle

__all__ = ["GatewayApp", "GatewayState", "create_app"]

_log = logging.getLogger("distillwatch.gateway")

#: Settings a reload cannot change (they hold open sockets, files or stores).
_RESTART_ONLY = ("upstream", "log", "throttle", "state_dir", "max_body_bytes", "scoring",
                 "accounts")


def _check_canary(config: GatewayConfig, hook: CanaryHook | None) -> None:
    on = [name for name, step in config.steps.items() if step.canary]
    if on and hook is None:
        raise ConfigError(f"canary is on for {', '.join(on)} but no canary transform is "
                          "installed: set canary_hook: 'module:function' in the config")


class GatewayState:
    """Everything one gateway process shares between calls."""

    def __init__(self, config: GatewayConfig, *, scorer: LiveScorer | None,
                 canary: CanaryHook | None, keys: KeyStore | None,
                 reload: Callable[[], GatewayConfig] | None,
                 alert_sinks: Sequence[Callable[[Alert], None]] = (),
                 scorer_process: ScorerSpec | None = None) -> None:
        self.config = config
        self.scorer: Any = scorer
        self.scorer_spec = scorer_process if config.scoring.enabled else None
        self.process: ScorerProcess | None = None
        self.canary = canary if canary is not None else config.load_canary_hook()
        _check_canary(config, self.canary)
        self.keys = keys if keys is not None else (
            KeyStore.from_file(config.keys) if config.keys is not None else KeyStore())
        self._reload = reload
        self.alert_sinks = list(alert_sinks)
        self.metrics = Metrics()
        base = config.upstream.url
        self.upstream_base = base[:-3] if base.endswith("/v1") else base
        self.upstream_key = config.upstream_key()
        state_dir = config.state_dir
        self.overrides = Overrides(state_dir / "overrides.json" if state_dir else None)
        self.scorer_state = state_dir / "scorer.state" if state_dir else None
        self.throttle = Throttle(config.throttle.storage)
        self.writer: TrafficLogWriter | None = None
        self.feed: ScoringFeed | ScorerProcess | None = None
        events = config.log.dir / "events" if config.log.dir is not None else None
        self.actions_log = EventLog(events / "actions.jsonl" if events else None)
        self.alerts_log = EventLog(events / "alerts.jsonl" if events else None)
        self.last_action: dict[str, str] = {}
        self.seen: dict[str, list[Any]] = {}
        self.started_at = time.time()
        self.serving = False
        self._session: aiohttp.ClientSession | None = None
        self._checkpoint: asyncio.Task[None] | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled upstream session (exists while the app runs)."""
        if self._session is None:
            raise RuntimeError("the gateway is not started")
        return self._session

    async def start(self) -> None:
        """Open the upstream pool, the log writer and the scoring task."""
        up = self.config.upstream
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=up.pool_size, ttl_dns_cache=300,
                                           keepalive_timeout=up.keepalive_timeout),
            timeout=aiohttp.ClientTimeout(total=up.total_timeout, sock_connect=up.connect_timeout,
                                          sock_read=up.read_timeout),
            auto_decompress=False,
        )
        log = self.config.log
        if log.dir is not None:
            self.writer = TrafficLogWriter(
                log.dir, compress=log.gzip, flush_interval=log.flush_interval,
                rotate_bytes=log.rotate_bytes, rotate_seconds=log.rotate_seconds,
                queue_size=log.queue_size, fsync=log.fsync)
            await self.writer.start()
        sc = self.config.scoring
        if self.scorer_spec is not None:
            await self._start_process()
        elif self.scorer is not None and sc.enabled:
            self.feed = ScoringFeed(self.scorer, on_alert=self._on_alert,
                                    batch_max=sc.batch_max, queue_size=sc.queue_size,
                                    overflow=sc.overflow)
            self.feed.start()
            if self.scorer_state is not None:
                self._checkpoint = asyncio.create_task(self._checkpoints())
        self.serving = True

    async def _start_process(self) -> None:
        """Start the scorer process; ``risk_of`` then reads the table it publishes."""
        assert self.scorer_spec is not None
        sc = self.config.scoring
        options = dict(self.scorer_spec.options)
        if self.config.accounts is not None:
            options.setdefault("accounts", str(self.config.accounts))
        self.process = ScorerProcess(
            replace(self.scorer_spec, options=options), ladder=self.config.ladder,
            on_alert=self._on_alert, state=self.scorer_state, batch_max=sc.batch_max,
            queue_size=sc.queue_size, buffer_bytes=sc.buffer_bytes, tick=sc.tick,
            checkpoint_seconds=sc.checkpoint_seconds, stall_seconds=sc.stall_seconds,
            start_timeout=sc.start_timeout, cpus=sc.cpus(), nice=sc.process_nice,
            idle=sc.process_idle)
        self.scorer = self.process.table
        self.feed = self.process
        await self.process.start()

    async def stop(self) -> None:
        """Drain: score what is queued, write every record, save state, close the pool."""
        self.serving = False
        if self._checkpoint is not None:
            self._checkpoint.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint
        if self.feed is not None:
            await self.feed.close()
        if self.writer is not None:
            await self.writer.close()
        if (self.process is None and self.scorer is not None
                and save_scorer(self.scorer, self.scorer_state)):
            _log.info("scorer state saved to %s", self.scorer_state)
        self.actions_log.close()
        self.alerts_log.close()
        await self.throttle.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(self.config.scoring.checkpoint_seconds)
            try:
                if isinstance(self.feed, ScoringFeed):
                    await self.feed.in_scoring_thread(save_scorer, self.scorer,
                                                      self.scorer_state)
                else:
                    save_scorer(self.scorer, self.scorer_state)
            except Exception:
                _log.exception("scorer checkpoint failed")

    async def log_record(self, record: dict[str, Any]) -> None:
        """Queue a finished call for the traffic log and the scorer.

        The record is serialised once; the scorer process gets the same bytes as the log.
        """
        line = orjson.dumps(record) + b"\n"
        if self.writer is not None:
            await self.writer.submit_line(line)
        if record["gateway"].get("key") == "unknown":
            return
        if self.process is not None:
            self.process.submit(line)
        elif isinstance(self.feed, ScoringFeed):
            await self.feed.submit(record)

    def note_action(self, account_id: str, decision: Decision, request_id: str) -> None:
        """Track calls per account; log each change of an account's action, with why."""
        seen = self.seen.get(account_id)
        if seen is None:
            self.seen[account_id] = [1, time.time()]
        else:
            seen[0] += 1
            seen[1] = time.time()
        previous = self.last_action.get(account_id, "observe")
        if decision.action != previous:
            self.last_action[account_id] = decision.action
            self.actions_log.write({
                "ts": utc_now(), "event": "action", "account_id": account_id,
                "action": decision.action, "previous": previous, "source": decision.source,
                "risk": decision.risk, "reasons": list(decision.reasons),
                "request_id": request_id,
            })

    def _on_alert(self, alert: Alert) -> None:
        self.alerts_log.write(alert.to_json())
        for sink in self.alert_sinks:
            sink(alert)

    def log_override(self, key: str, body: dict[str, Any] | None) -> None:
        """Record an analyst's override change in the action log."""
        self.actions_log.write({"ts": utc_now(), "event": "override", "account_id": key,
                                "override": body})

    def reload(self) -> dict[str, Any]:
        """Re-read config and keys; keep the old ones when the new are bad (ConfigError)."""
        if self._reload is None:
            raise ConfigError("this gateway was started without a config file to reload")
        try:
            fresh = self._reload()
            keys = KeyStore.from_file(fresh.keys) if fresh.keys is not None else KeyStore()
            canary = fresh.load_canary_hook() if fresh.canary_hook else self.canary
            _check_canary(fresh, canary)
        except DistillwatchError as exc:
            raise ConfigError(f"reload rejected, old config kept: {exc}") from exc
        pinned = [name for name in _RESTART_ONLY
                  if getattr(fresh, name) != getattr(self.config, name)]
        kept = {name: getattr(self.config, name) for name in _RESTART_ONLY}
        self.config = replace(fresh, **kept)
        if self.process is not None and self.config.ladder != self.process.ladder:
            self.process.set_ladder(self.config.ladder)
        self.keys = keys
        self.canary = canary
        self.actions_log.write({"ts": utc_now(), "event": "reload", "keys": len(keys),
                                "needs_restart": pinned})
        return {"reloaded": True, "keys": len(keys), "needs_restart": pinned}

    def account_view(self, account_id: str) -> dict[str, Any]:
        """Risk, action and override of one account (admin API)."""
        from distillwatch.gateway._policy import decide

        now = time.time()
        risk = self.scorer.risk_of(account_id) if self.scorer is not None else None
        decision = decide(account_id, scorer=self.scorer, ladder=self.config.ladder,
                          overrides=self.overrides, now=now)
        override = self.overrides.get(account_id, now)
        seen = self.seen.get(account_id)
        return {
            "account_id": account_id,
            "risk": None if risk is None else round(risk.risk, 6),
            "reasons": [] if risk is None else list(risk.reasons),
            "scored_calls": 0 if risk is None else risk.calls,
            "cluster_id": None if risk is None else risk.cluster_id,
            "allowlisted": False if risk is None else risk.allowlisted,
            "action": decision.action,
            "source": decision.source,
            "override": None if override is None else override.__dict__,
            "calls": 0 if seen is None else seen[0],
            "last_call": None if seen is None else utc_now(seen[1]),
        }

    def gauges(self) -> list[tuple[str, str, str, float]]:
        """Live values for the metrics endpoint."""
        w, f = self.writer, self.feed
        out = [
            ("distillwatch_gateway_up", "gauge", "1 while the gateway serves.",
             1.0 if self.serving else 0.0),
            ("distillwatch_gateway_accounts_seen", "gauge", "Accounts that made a call.",
             float(len(self.seen))),
            ("distillwatch_gateway_overrides", "gauge", "Analyst overrides in force.",
             float(len(self.overrides))),
            ("distillwatch_gateway_throttle_storage_errors_total", "counter",
             "Rate-limit storage failures (throttle failed open).",
             float(self.throttle.errors)),
        ]
        if w is not None:
            out += [
                ("distillwatch_gateway_log_queue_depth", "gauge",
                 "Records waiting for the traffic-log writer.", float(w.depth)),
                ("distillwatch_gateway_log_records_written_total", "counter",
                 "Records handed to the OS.", float(w.stats.written)),
                ("distillwatch_gateway_log_backpressure_waits_total", "counter",
                 "Calls that waited for room in the full log queue.",
                 float(w.stats.backpressure_waits)),
                ("distillwatch_gateway_log_write_errors_total", "counter",
                 "Failed log writes (retried; records kept).", float(w.stats.write_errors)),
            ]
        if f is not None:
            out += [
                ("distillwatch_gateway_scoring_queue_depth", "gauge",
                 "Calls waiting to be scored.", float(f.depth)),
                ("distillwatch_gateway_scoring_lag_seconds", "gauge",
                 "Age of the oldest call in the last scored batch.", f.lag_seconds),
                ("distillwatch_gateway_scored_total", "counter", "Calls scored.",
                 float(f.observed)),
                ("distillwatch_gateway_alerts_total", "counter", "Alerts raised by the scorer.",
                 float(f.alerts)),
                ("distillwatch_gateway_scoring_errors_total", "counter",
                 "Scorer failures (batch skipped).", float(f.errors)),
                ("distillwatch_gateway_scoring_dropped_total", "counter",
                 "Calls not scored: the queue was full (scorer behind) or the scorer process "
                 "died before scoring them (the traffic log has every one).",
                 float(f.dropped)),
                ("distillwatch_gateway_scoring_busy_seconds_total", "counter",
                 "Time spent in the scorer.", f.busy_seconds),
            ]
        p = self.process
        if p is not None:
            out += [
                ("distillwatch_gateway_scorer_process_up", "gauge",
                 "1 while the scorer process runs and is ready.", 1.0 if p.alive else 0.0),
                ("distillwatch_gateway_scorer_process_restarts_total", "counter",
                 "Times the scorer process ended unasked and was started again.",
                 float(p.restarts)),
                ("distillwatch_gateway_scoring_unscored_total", "counter",
                 "Calls never scored (same as scoring_dropped_total).", float(p.unscored)),
                ("distillwatch_gateway_scorer_checkpoints_total", "counter",
                 "State snapshots the scorer process saved.", float(p.checkpoints)),
                ("distillwatch_gateway_scorer_checkpoint_errors_total", "counter",
                 "State snapshots that failed.", float(p.checkpoint_errors)),
                ("distillwatch_gateway_scoring_rejected_total", "counter",
                 "Records the scorer rejected as invalid.", float(p.rejected)),
            ]
        return out


class GatewayApp:
    """The ASGI callable: proxied paths go to the hot path, the rest to Starlette."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            await state.start()
            try:
                yield
            finally:
                await state.stop()

        self.admin = Starlette(routes=admin_routes(state), lifespan=lifespan)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in PROXY_PATHS:
            await handle_proxy(self.state, scope, receive, send)
            return
        await self.admin(scope, receive, send)


def create_app(config: GatewayConfig, *, scorer: LiveScorer | None = None,
               canary: CanaryHook | None = None, keys: KeyStore | None = None,
               reload: Callable[[], GatewayConfig] | None = None,
               alert_sinks: Sequence[Callable[[Alert], None]] = (),
               scorer_process: ScorerSpec | None = None) -> GatewayApp:
    """Build the gateway for ``config`` around any :class:`LiveScorer` (None: no scoring).

    ``scorer_process`` runs the scorer in a process of its own instead (``scorer`` is then
    ignored): the process builds it, restores and checkpoints its state under
    ``config.state_dir``, and is restarted if it dies (see ``ScorerProcess``).

    ``reload`` rebuilds the config for ``POST /admin/reload`` (default: re-read the file the
    config came from). State (scorer, overrides) is saved under ``config.state_dir`` on
    shutdown; restore the scorer before calling this (see ``restore_or_create``).
    """
    if reload is None and config.source is not None:
        from distillwatch.gateway._config import load_config

        source: Path = config.source

        def reread() -> GatewayConfig:
            return load_config(source)

        reload = reread
    state = GatewayState(config, scorer=scorer, canary=canary, keys=keys, reload=reload,
                         alert_sinks=alert_sinks, scorer_process=scorer_process)
    return GatewayApp(state)
