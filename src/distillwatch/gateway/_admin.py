"""The admin API under ``/admin`` (bearer token, compared as SHA-256) and ``GET /healthz``.

| method | path | what |
|---|---|---|
| GET | /healthz | 200 once the gateway serves (no token) |
| GET | /admin/health | queues, writer and scorer state |
| GET | /admin/metrics | Prometheus text format |
| GET | /admin/accounts | every account seen or holding a key: risk, action, override |
| GET | /admin/accounts/{id} | one account |
| GET | /admin/overrides | overrides in force |
| PUT | /admin/overrides/{id} | set ``{"action", "reason", "by"?, "expires_at"?}`` |
| DELETE | /admin/overrides/{id} | remove |
| POST | /admin/reload | re-read config and keys |

An override id is an account id, or ``ring:<cluster_id>`` for every account of a ring.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from distillwatch.errors import ConfigError
from distillwatch.gateway._metrics import render_prometheus
from distillwatch.gateway._policy import Override

if TYPE_CHECKING:
    from distillwatch.gateway._app import GatewayState
    from distillwatch.gateway._scorer_proc import ScorerProcess

__all__ = ["admin_routes"]

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "code": status}}, status_code=status)


def _authed(state: GatewayState, handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        expected = state.config.admin_token_digest()
        if expected is None:
            return _error(403, "the admin API is disabled: set admin.token_sha256 in the config "
                               "or the DISTILLWATCH_ADMIN_TOKEN environment variable")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(digest, expected):
            return _error(401, "admin token missing or wrong (Authorization: Bearer TOKEN)")
        return await handler(request)

    return wrapped


def _process_health(p: ScorerProcess | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"up": p.alive, "pid": p.pid, "scorer": p.scorer_name, "restored": p.restored,
            "restarts": p.restarts, "last_exit": p.last_exit, "sent": p.sent,
            "rejected": p.rejected, "checkpoints": p.checkpoints,
            "checkpoint_errors": p.checkpoint_errors, "accounts": len(p.table),
            "last_batch_s": round(p.last_batch_seconds, 6)}


def admin_routes(state: GatewayState) -> list[Route]:
    """The routes, bound to one gateway's state."""

    async def healthz(_request: Request) -> Response:
        if not state.serving:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def health(_request: Request) -> Response:
        w, f = state.writer, state.feed
        return JSONResponse({
            "status": "ok" if state.serving else "stopping",
            "uptime_s": round(time.time() - state.started_at, 3),
            "upstream": state.upstream_base,
            "keys": len(state.keys),
            "log": None if w is None else {
                "dir": str(w.directory), "queue_depth": w.depth, "written": w.stats.written,
                "backpressure_waits": w.stats.backpressure_waits,
                "files": [p.name for p in w.paths[-5:]],
            },
            "scoring": None if f is None else {
                "queue_depth": f.depth, "observed": f.observed, "alerts": f.alerts,
                "errors": f.errors, "lag_s": round(f.lag_seconds, 6), "unscored": f.dropped,
                "process": _process_health(state.process),
            },
        })

    async def metrics(_request: Request) -> Response:
        return PlainTextResponse(render_prometheus(state.metrics, state.gauges()),
                                 media_type="text/plain; version=0.0.4")

    async def accounts(_request: Request) -> Response:
        ids = sorted(set(state.seen) | state.keys.accounts()
                     | {k for k, _ in state.overrides.items()})
        return JSONResponse({"accounts": [state.account_view(a) for a in ids]})

    async def account(request: Request) -> Response:
        return JSONResponse(state.account_view(request.path_params["account_id"]))

    async def overrides(_request: Request) -> Response:
        return JSONResponse({k: asdict(v) for k, v in state.overrides.items()})

    async def set_override(request: Request) -> Response:
        key = request.path_params["account_id"]
        try:
            body = orjson.loads(await request.body())
            override = Override.parse(body)
        except orjson.JSONDecodeError:
            return _error(400, "body must be JSON: {\"action\": ..., \"reason\": ...}")
        except ConfigError as exc:
            return _error(400, str(exc))
        state.overrides.set(key, override)
        state.log_override(key, asdict(override))
        return JSONResponse({"account_id": key, "override": asdict(override)})

    async def delete_override(request: Request) -> Response:
        key = request.path_params["account_id"]
        removed = state.overrides.delete(key)
        if removed is None:
            return _error(404, f"no override for {key!r}")
        state.log_override(key, None)
        return JSONResponse({"account_id": key, "removed": asdict(removed)})

    async def reload(_request: Request) -> Response:
        try:
            return JSONResponse(state.reload())
        except ConfigError as exc:
            return _error(400, str(exc))

    def auth(handler: Handler) -> Handler:
        return _authed(state, handler)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/admin/health", auth(health), methods=["GET"]),
        Route("/admin/metrics", auth(metrics), methods=["GET"]),
        Route("/admin/accounts", auth(accounts), methods=["GET"]),
        Route("/admin/accounts/{account_id:path}", auth(account), methods=["GET"]),
        Route("/admin/overrides", auth(overrides), methods=["GET"]),
        Route("/admin/overrides/{account_id:path}", auth(set_override), methods=["PUT", "POST"]),
        Route("/admin/overrides/{account_id:path}", auth(delete_override), methods=["DELETE"]),
        Route("/admin/reload", auth(reload), methods=["POST"]),
    ]
