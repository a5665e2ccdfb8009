"""The floor: the thinnest proxy on the same stack (uvicorn + httptools + uvloop + one shared
aiohttp session), with no auth, policy, logging or scoring. The benchmark runs it beside the
gateway so the cost of the gateway's own work can be read off on the same machine, same run.

    python bench/gateway/bare_proxy.py --upstream http://127.0.0.1:9000 --port 8081
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import uvicorn

_SKIP = {b"host", b"content-length", b"connection", b"transfer-encoding", b"authorization"}
_DROP = {"content-length", "transfer-encoding", "connection"}


def make_app(upstream: str) -> Any:
    session: dict[str, aiohttp.ClientSession] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    session["s"] = aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=512), auto_decompress=False)
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await session["s"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k not in _SKIP}
        async with session["s"].request(scope["method"], upstream + scope["path"], data=body,
                                        headers=headers) as resp:
            out = [(k.encode(), v.encode()) for k, v in resp.headers.items()
                   if k.lower() not in _DROP]
            if resp.headers.get("content-type", "").startswith("text/event-stream"):
                await send({"type": "http.response.start", "status": resp.status,
                            "headers": out})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            else:
                data = await resp.read()
                await send({"type": "http.response.start", "status": resp.status,
                            "headers": [*out, (b"content-length", str(len(data)).encode())]})
                await send({"type": "http.response.body", "body": data})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(make_app(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port,
                loop="uvloop", http="httptools", log_level="warning", access_log=False,
                server_header=False, date_header=False)


if __name__ == "__main__":
    main()
