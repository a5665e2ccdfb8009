"""``distillwatch gateway`` (serve), ``gateway mock-upstream`` and ``gateway hash-key``."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from distillwatch.errors import ConfigError

if TYPE_CHECKING:
    from distillwatch.detect import OnlineDetector

__all__ = ["build_online_detector", "gateway"]


def build_online_detector(accounts: Path | None, state: Path | None
                          ) -> tuple[OnlineDetector, bool]:
    """The gateway's live scorer, restored from ``state`` when a saved one exists.

    Returns ``(scorer, restored)``. The detector module is imported here, not at the top,
    so ``distillwatch gateway --help`` stays fast.
    """
    from distillwatch.detect import OnlineDetector
    from distillwatch.gateway import restore_or_create

    scorer, restored = restore_or_create(OnlineDetector.load, lambda: OnlineDetector(accounts),
                                         state)
    return scorer, restored


_PATH = click.Path(path_type=Path)


@click.group("gateway", invoke_without_command=True)
@click.option("--upstream", metavar="URL",
              help="Base URL of the OpenAI-compatible upstream, e.g. http://127.0.0.1:8000 "
                   "(required here or as upstream.url in --config).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on.")
@click.option("--keys", type=_PATH, default=None,
              help='Keys file: one {"account_id": ..., "key_sha256": ...} per line '
                   "(make lines with `distillwatch gateway hash-key`).")
@click.option("--log", "log_dir", type=_PATH, default=None,
              help="Folder for the traffic log (rotating traffic-*.jsonl files).")
@click.option("--config", "config_file", type=_PATH, default=None,
              help="YAML or TOML config: ladder, step policies, limits, admin token "
                   "(see docs/gateway.md). Command-line options win over it.")
@click.option("--state", "state_dir", type=_PATH, default=None,
              help="Folder where the scorer's state and analyst overrides are saved on "
                   "shutdown and restored on start.")
@click.option("--accounts", type=_PATH, default=None,
              help="Accounts file (created_at, payment_fingerprint, allowlisted, ...) for "
                   "the scorer.")
@click.option("--observe-unknown-keys", is_flag=True, default=None,
              help="Pass calls with unknown keys through (logged, never acted on) instead "
                   "of answering 401.")
@click.option("--gzip", "gzip_log", is_flag=True, default=None,
              help="Write .jsonl.gz (one gzip member per flush).")
@click.option("--no-scoring", is_flag=True, help="Log and proxy only: no live scorer.")
@click.option("--in-process-scoring", is_flag=True,
              help="Score in a thread of the gateway's process instead of a scorer process "
                   "of its own (costs the proxy CPU; see docs/gateway.md).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info"]),
              default="warning", show_default=True, help="Server log verbosity.")
@click.pass_context
def gateway(ctx: click.Context, upstream: str | None, host: str, port: int, keys: Path | None,
            log_dir: Path | None, config_file: Path | None, state_dir: Path | None,
            accounts: Path | None, observe_unknown_keys: bool | None, gzip_log: bool | None,
            no_scoring: bool, in_process_scoring: bool, log_level: str) -> None:
    """Serve an OpenAI-compatible proxy that logs, scores and acts on every call.

    Proxies /v1/chat/completions, /v1/completions, /v1/responses, /v1/embeddings and
    /v1/models (streaming included) to --upstream. Each call's key maps to an account via
    --keys; every call is written to --log as traffic-log v1; the live scorer's risk moves
    each account along the ladder (observe, alert, throttle, degrade, block). GET /healthz
    answers 200 once serving; the admin API is under /admin (token in the config or
    DISTILLWATCH_ADMIN_TOKEN). SIGTERM or Ctrl-C drains and flushes everything.

    \b
    Example:
      distillwatch gateway mock-upstream --port 9000 &
      echo -n "$KEY" | distillwatch gateway hash-key --account acme >> keys.jsonl
      distillwatch gateway --upstream http://127.0.0.1:9000 --keys keys.jsonl \\
          --log gw-logs --state gw-state --port 8080
    """
    if ctx.invoked_subcommand is not None:
        return
    from distillwatch.gateway import create_app, load_config

    overrides: dict[str, Any] = {
        "upstream.url": upstream, "keys": keys, "log.dir": log_dir, "state_dir": state_dir,
        "accounts": accounts, "log.gzip": gzip_log or None,
        "unknown_keys": "observe" if observe_unknown_keys else None,
    }
    if no_scoring:
        overrides["scoring.enabled"] = False
    if in_process_scoring:
        overrides["scoring.process"] = False
    str_overrides = {k: str(v) if isinstance(v, Path) else v for k, v in overrides.items()}
    config = load_config(config_file, **str_overrides)
    if config.log.dir is None:
        raise ConfigError("--log DIR is required (or log.dir in --config)")
    scorer = None
    spec = None
    scoring = "off"
    if config.scoring.enabled and config.scoring.process:
        from distillwatch.gateway import ScorerSpec

        spec = ScorerSpec()
        scoring = "OnlineDetector in a scorer process"
    elif config.scoring.enabled:
        state = config.state_dir / "scorer.state" if config.state_dir else None
        scorer, restored = build_online_detector(config.accounts, state)
        scoring = f"{type(scorer).__name__} in-process{' (state restored)' if restored else ''}"

    def reload() -> Any:
        return load_config(config_file, **str_overrides)

    app = create_app(config, scorer=scorer, reload=reload, scorer_process=spec)
    _serve(app, host, port, log_level, config, scoring)


def _serve(app: Any, host: str, port: int, log_level: str, config: Any, scoring: str) -> None:
    import uvicorn

    from distillwatch.cli._console import err_console
    from distillwatch.gateway import server_config

    err_console.print(
        f"[bold]distillwatch gateway[/bold] on http://{host}:{port} -> {config.upstream.url}\n"
        f"  keys: {app.state.keys.__len__()}  unknown keys: {config.unknown_keys}  "
        f"log: {config.log.dir}  scoring: {scoring}  "
        f"admin: {'on' if config.admin_token_digest() else 'off (no token)'}",
        highlight=False)
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # garbage collector's full passes (tens of ms each with the analysis stack loaded).
    gc.freeze()
    uvicorn.Server(server_config(app, host=host, port=port, log_level=log_level)).run()


@gateway.command("mock-upstream")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=9000, show_default=True)
def mock_upstream(host: str, port: int) -> None:
    """Serve a fast OpenAI-compatible mock upstream (tests, benchmarks, trying things out).

    Faults come from the model name, e.g. "mock:status=503", "mock:delay=2",
    "mock:break=3" (drop a stream after 3 chunks), "mock:slow=0.05", "mock:chunks=32".
    """
    import uvicorn

    from distillwatch.gateway import MockUpstream, server_config

    uvicorn.Server(server_config(MockUpstream(), host=host, port=port,
                                 log_level="critical")).run()


@gateway.command("hash-key")
@click.option("--account", required=True, help="The account the key belongs to.")
@click.option("--key-id", default=None, help="A name for the key to show in logs.")
def hash_key_command(account: str, key_id: str | None) -> None:
    """Print a keys-file line for the API key read from stdin (the key is never stored).

    \b
    Example:
      echo -n "$API_KEY" | distillwatch gateway hash-key --account acme >> keys.jsonl
    """
    import orjson

    from distillwatch.gateway import hash_key

    key = sys.stdin.readline().strip()
    if not key:
        raise ConfigError("no key on stdin (pipe the key in: echo -n KEY | ...)")
    line: dict[str, str] = {"account_id": account, "key_sha256": hash_key(key)}
    if key_id:
        line["key_id"] = key_id
    click.echo(orjson.dumps(line).decode())
