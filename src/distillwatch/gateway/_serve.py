"""Running an ASGI app under uvicorn with the settings a proxy wants."""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn

from distillwatch.gateway._proxy import UpstreamBroken

__all__ = ["bind_socket", "quiet_upstream_breaks", "server_config"]


class _DropUpstreamBreaks(logging.Filter):
    """uvicorn logs every exception that aborts a response; a broken upstream is expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, UpstreamBroken) and "MockBreak" not in repr(exc)


def quiet_upstream_breaks() -> None:
    """Keep deliberate connection aborts (upstream broke mid-stream) out of uvicorn's log."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropUpstreamBreaks) for f in logger.filters):
        logger.addFilter(_DropUpstreamBreaks())


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def server_config(app: Any, *, host: str = "127.0.0.1", port: int = 0,
                  log_level: str = "warning", loop: str | None = None,
                  **extra: Any) -> uvicorn.Config:
    """uvicorn settings: uvloop and httptools when present, no access log, the upstream's own
    ``date`` and ``server`` headers passed through (uvicorn adds none)."""
    quiet_upstream_breaks()
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False,
        loop=loop or ("uvloop" if _has("uvloop") else "asyncio"),
        http="httptools" if _has("httptools") else "h11",
        server_header=False, date_header=False, lifespan="on",
        timeout_graceful_shutdown=30, **extra)


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: the OS picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
