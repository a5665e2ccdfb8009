"""Gateway configuration: one frozen tree, parsed purely from a mapping and validated at start-up.

A config file (YAML or TOML) and the command line feed the same :func:`parse_config`; every
problem is a :class:`~distillwatch.errors.ConfigError` naming the offending key, raised before
the gateway accepts a call.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from distillwatch.act import ACTIONS, Ladder
from distillwatch.errors import ConfigError

__all__ = [
    "AdminConfig",
    "BlockConfig",
    "CanaryHook",
    "GatewayConfig",
    "LogConfig",
    "ScoringConfig",
    "StepPolicy",
    "ThrottleConfig",
    "UpstreamConfig",
    "load_config",
    "parse_config",
    "read_config_file",
]

#: The forensics room's response-text transform: ``(account_id, request_id, text) -> text``.
CanaryHook = Callable[[str, str, str], str]

_RATE_RE: Final = re.compile(
    r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*$", re.IGNORECASE)
_LOGPROBS: Final = ("allow", "strip", "cap")
_LOGIT_BIAS: Final = ("allow", "strip", "refuse")
_UNKNOWN_KEYS: Final = ("reject", "observe")
_OVERFLOW: Final = ("wait", "drop")
_SHA256_RE: Final = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class UpstreamConfig:
    """Where calls go and how long the gateway waits for them."""

    url: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    """Longest silence between two bytes of the upstream's answer (streams included)."""
    total_timeout: float | None = None
    pool_size: int = 512
    keepalive_timeout: float = 4.0
    """Close idle upstream connections sooner than the upstream would (uvicorn: 5 s)."""
    api_key_env: str | None = None
    """Environment variable holding the key the gateway sends upstream (``Bearer``)."""
    forward_authorization: bool = False
    """Pass the caller's own Authorization header upstream (off: callers' keys stay here)."""


@dataclass(frozen=True)
class LogConfig:
    """The traffic-log writer."""

    dir: Path | None = None
    gzip: bool = False
    flush_interval: float = 1.0
    rotate_bytes: int = 256 * 1024 * 1024
    rotate_seconds: float = 3600.0
    queue_size: int = 10_000
    fsync: bool = False


@dataclass(frozen=True)
class ThrottleConfig:
    """Where rate-limit counters live: ``memory://`` (one process) or ``redis://host:port``."""

    storage: str = "memory://"


@dataclass(frozen=True)
class StepPolicy:
    """What one ladder step (observe, alert, throttle, degrade) does to a call."""

    requests: str | None = None
    """Request-rate limit in ``limits`` notation, e.g. ``60/minute``; None: unlimited."""
    tokens: str | None = None
    """Token-rate limit (prompt plus completion tokens), e.g. ``200000/hour``."""
    logprobs: str = "allow"
    top_logprobs_cap: int = 0
    logit_bias: str = "allow"
    max_tokens_cap: int | None = None
    n_cap: int | None = None
    withhold_reasoning: bool = False
    canary: bool = False

    @property
    def degrades(self) -> bool:
        """True when the step rewrites requests or responses."""
        return (self.logprobs != "allow" or self.logit_bias != "allow"
                or self.max_tokens_cap is not None or self.n_cap is not None
                or self.withhold_reasoning or self.canary)


@dataclass(frozen=True)
class BlockConfig:
    """The answer a blocked account gets."""

    status: int = 403
    message: str = "This account is blocked. Contact support if you believe this is a mistake."


@dataclass(frozen=True)
class ScoringConfig:
    """How finished calls reach the live scorer (docs/gateway.md, "Scoring")."""

    enabled: bool = True
    process: bool = True
    """Score in a process of its own (``distillwatch gateway``'s default); false: in a thread
    of the gateway's process."""
    batch_max: int = 256
    queue_size: int = 100_000
    overflow: str = "wait"
    """In-thread scorer only: ``wait``: a full queue holds calls back (nothing unscored);
    ``drop``: skip, count it. The scorer process never holds a call back (it drops and counts)."""
    checkpoint_seconds: float = 300.0
    tick: float = 0.5
    """Scorer process: seconds between two hand-overs of the queued records. A scoring pass
    costs a few milliseconds whatever its size, so a longer tick means fewer, cheaper passes:
    at 1,000 calls/s, 0.5 s instead of 0.05 s took the scorer's CPU from about a fifth of a
    core to a twentieth, and with it the p99 the scorer added to a proxy on a shared core."""
    buffer_bytes: int = 16 * 1024 * 1024
    """Scorer process: record bytes allowed unread in its socket before records wait."""
    stall_seconds: float = 120.0
    """Scorer process: killed and restarted after this long without progress while records
    wait."""
    start_timeout: float = 120.0
    """Scorer process: seconds start-up waits for it to be ready (restore included)."""
    process_idle: bool = True
    """Scorer process: run it under Linux's ``SCHED_IDLE`` policy, so that it takes a core only
    when the proxy does not want it and never preempts the proxy when the proxy wakes up.
    Niceness alone lets each of the scorer's passes (a few milliseconds) delay the calls that
    arrive meanwhile: about +5 ms on the proxy's p99 at every rate, measured. Where the
    policy does not exist, ``process_nice`` alone applies."""
    process_nice: int = 10
    """Scorer process: niceness added to it (0-19), so that on a shared core it yields to the
    proxy; scoring is not latency-bound (its batches just grow)."""
    process_cpus: str | None = None
    """Scorer process: CPUs to pin it to, e.g. ``"0"`` or ``"0,2-3"`` (default: the
    gateway's)."""

    def cpus(self) -> list[int]:
        """``process_cpus`` as a list of CPU numbers (empty: not pinned)."""
        return _parse_cpus(self.process_cpus)


def _parse_cpus(text: str | None) -> list[int]:
    """``"0,2-3"`` to ``[0, 2, 3]`` (ConfigError when malformed)."""
    if not text:
        return []
    out: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ConfigError(f"scoring.process_cpus must look like '0' or '0,2-3', got "
                              f"{text!r}") from None
        if first < 0 or last < first:
            raise ConfigError(f"scoring.process_cpus has a bad range {part!r}")
        out.extend(range(first, last + 1))
    return out


@dataclass(frozen=True)
class AdminConfig:
    """The admin API under ``/admin``; disabled unless a token is configured."""

    token_sha256: str | None = None
    token_env: str = "DISTILLWATCH_ADMIN_TOKEN"


def _default_steps() -> dict[str, StepPolicy]:
    throttle = StepPolicy(requests="60/minute", tokens="200000/hour")
    degrade = replace(throttle, requests="30/minute", tokens="50000/hour", logprobs="strip",
                      logit_bias="refuse", max_tokens_cap=1024, n_cap=1,
                      withhold_reasoning=True)
    return {"observe": StepPolicy(), "alert": StepPolicy(), "throttle": throttle,
            "degrade": degrade}


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs; build with :func:`parse_config` or :func:`load_config`."""

    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    keys: Path | None = None
    unknown_keys: str = "reject"
    accounts: Path | None = None
    state_dir: Path | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    log: LogConfig = field(default_factory=LogConfig)
    ladder: Ladder = field(default_factory=Ladder)
    steps: Mapping[str, StepPolicy] = field(default_factory=_default_steps)
    block: BlockConfig = field(default_factory=BlockConfig)
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    canary_hook: str | None = None
    """``module:function`` of a :data:`CanaryHook`, imported at start-up."""
    source: Path | None = None
    """The file this config was read from (reloads read it again)."""

    def step(self, action: str) -> StepPolicy:
        """The policy of a non-blocking ladder step."""
        return self.steps.get(action) or StepPolicy()

    def admin_token_digest(self) -> str | None:
        """Hex SHA-256 of the admin token (from the config, else the environment)."""
        if self.admin.token_sha256:
            return self.admin.token_sha256.lower()
        token = os.environ.get(self.admin.token_env)
        return hashlib.sha256(token.encode()).hexdigest() if token else None

    def upstream_key(self) -> str | None:
        """The key sent upstream, read from the environment variable the config names."""
        if not self.upstream.api_key_env:
            return None
        return os.environ.get(self.upstream.api_key_env)

    def load_canary_hook(self) -> CanaryHook | None:
        """Import the configured canary transform (ConfigError when it cannot be)."""
        if not self.canary_hook:
            return None
        module_name, _, attr = self.canary_hook.partition(":")
        if not module_name or not attr:
            raise ConfigError(f"canary_hook must be 'module:function', got {self.canary_hook!r}")
        try:
            hook = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"canary_hook {self.canary_hook!r} cannot be imported: {exc}")\
                from exc
        if not callable(hook):
            raise ConfigError(f"canary_hook {self.canary_hook!r} is not callable")
        return hook


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file into a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: config must be .yaml, .yml or .toml")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot parse config: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError without importing yaml at module level
        if type(exc).__module__.startswith("yaml"):
            raise ConfigError(f"{path}: cannot parse config: {exc}") from exc
        raise
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: config must be a mapping at the top level")
    return data


def load_config(path: str | Path | None = None, **overrides: Any) -> GatewayConfig:
    """Read ``path`` (if any), apply command-line ``overrides`` (None values skipped), validate."""
    data = read_config_file(path) if path is not None else {}
    merged = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    config = parse_config(merged)
    return replace(config, source=Path(path) if path is not None else None)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if "." in key:
            head, _, rest = key.partition(".")
            sub = out.get(head)
            out[head] = _merge(sub if isinstance(sub, dict) else {}, {rest: value})
        else:
            out[key] = value
    return out


def parse_config(data: Mapping[str, Any]) -> GatewayConfig:
    """Build and validate a :class:`GatewayConfig` from a plain mapping."""
    _only(data, {f.name for f in fields(GatewayConfig)} - {"source"}, "")
    upstream = _section(UpstreamConfig, data.get("upstream", {}), "upstream")
    if not re.match(r"^https?://[^/\s]+", upstream.url):
        raise ConfigError(f"upstream.url must be an http(s) URL, got {upstream.url!r}")
    log = _section(LogConfig, data.get("log", {}), "log")
    scoring = _section(ScoringConfig, data.get("scoring", {}), "scoring")
    throttle = _section(ThrottleConfig, data.get("throttle", {}), "throttle")
    block = _section(BlockConfig, data.get("block", {}), "block")
    admin = _section(AdminConfig, data.get("admin", {}), "admin")
    config = GatewayConfig(
        upstream=replace(upstream, url=upstream.url.rstrip("/")),
        keys=_path(data.get("keys"), "keys"),
        unknown_keys=_choice(data.get("unknown_keys", "reject"), _UNKNOWN_KEYS, "unknown_keys"),
        accounts=_path(data.get("accounts"), "accounts"),
        state_dir=_path(data.get("state_dir"), "state_dir"),
        max_body_bytes=_positive_int(data.get("max_body_bytes", 4 * 1024 * 1024),
                                     "max_body_bytes"),
        log=replace(log, dir=_path(log.dir, "log.dir")),
        ladder=_ladder(data.get("ladder", {})),
        steps=_steps(data.get("steps", {})),
        block=block,
        throttle=throttle,
        scoring=scoring,
        admin=admin,
        canary_hook=_opt_str(data.get("canary_hook"), "canary_hook"),
    )
    _validate(config)
    return config


def _validate(config: GatewayConfig) -> None:
    up, log, sc = config.upstream, config.log, config.scoring
    for name, value in (("upstream.connect_timeout", up.connect_timeout),
                        ("upstream.read_timeout", up.read_timeout),
                        ("upstream.keepalive_timeout", up.keepalive_timeout),
                        ("log.flush_interval", log.flush_interval),
                        ("log.rotate_seconds", log.rotate_seconds),
                        ("scoring.checkpoint_seconds", sc.checkpoint_seconds),
                        ("scoring.tick", sc.tick), ("scoring.stall_seconds", sc.stall_seconds),
                        ("scoring.start_timeout", sc.start_timeout)):
        if not float(value) > 0:
            raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    if up.total_timeout is not None and not up.total_timeout > 0:
        raise ConfigError(f"upstream.total_timeout must be positive, got {up.total_timeout!r}")
    for name, ivalue in (("upstream.pool_size", up.pool_size), ("log.queue_size", log.queue_size),
                         ("log.rotate_bytes", log.rotate_bytes),
                         ("scoring.batch_max", sc.batch_max),
                         ("scoring.queue_size", sc.queue_size),
                         ("scoring.buffer_bytes", sc.buffer_bytes)):
        _positive_int(ivalue, name)
    sc.cpus()
    if not 0 <= sc.process_nice <= 19:
        raise ConfigError(f"scoring.process_nice must be 0 to 19, got {sc.process_nice}")
    _choice(sc.overflow, _OVERFLOW, "scoring.overflow")
    if not 400 <= config.block.status <= 599:
        raise ConfigError(f"block.status must be a 4xx or 5xx status, got {config.block.status}")
    if not config.throttle.storage.startswith(("memory://", "redis://", "rediss://")):
        raise ConfigError("throttle.storage must be memory:// or redis://host:port[/db], got "
                          f"{config.throttle.storage!r}")
    token = config.admin.token_sha256
    if token is not None and not _SHA256_RE.match(token):
        raise ConfigError("admin.token_sha256 must be 64 hex characters (the SHA-256 of the "
                          "token)")


def _ladder(value: Any) -> Ladder:
    if not isinstance(value, Mapping):
        raise ConfigError("ladder must be a mapping with 'thresholds' and 'allowlisted_max'")
    _only(value, {"thresholds", "allowlisted_max"}, "ladder.")
    thresholds = value.get("thresholds", Ladder().thresholds)
    if not isinstance(thresholds, Mapping):
        raise ConfigError("ladder.thresholds must map actions to risks")
    for name, risk in thresholds.items():
        if isinstance(risk, bool) or not isinstance(risk, (int, float)):
            raise ConfigError(f"ladder.thresholds.{name} must be a number, got {risk!r}")
    return Ladder(thresholds=dict(thresholds),
                  allowlisted_max=str(value.get("allowlisted_max", "alert")))


def _steps(value: Any) -> dict[str, StepPolicy]:
    if not isinstance(value, Mapping):
        raise ConfigError("steps must map ladder steps to their policies")
    steps = _default_steps()
    for name, body in value.items():
        if name not in ACTIONS or name == "block":
            raise ConfigError(f"steps.{name}: unknown step; expected one of "
                              f"{', '.join(a for a in ACTIONS if a != 'block')} "
                              "(block is configured under 'block')")
        step = _section(StepPolicy, body, f"steps.{name}", base=steps[name])
        for key in ("requests", "tokens"):
            rate = getattr(step, key)
            if rate is not None and not _RATE_RE.match(rate):
                raise ConfigError(f"steps.{name}.{key} must look like '60/minute' or "
                                  f"'10 per second', got {rate!r}")
        _choice(step.logprobs, _LOGPROBS, f"steps.{name}.logprobs")
        _choice(step.logit_bias, _LOGIT_BIAS, f"steps.{name}.logit_bias")
        if step.top_logprobs_cap < 0:
            raise ConfigError(f"steps.{name}.top_logprobs_cap must be >= 0")
        for key in ("max_tokens_cap", "n_cap"):
            cap = getattr(step, key)
            if cap is not None:
                _positive_int(cap, f"steps.{name}.{key}")
        steps[name] = step
    return steps


_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "Path": (str, Path),
}


def _section(cls: type[Any], value: Any, where: str, base: Any = None) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(value).__name__}")
    known = {f.name: f for f in fields(cls)}
    _only(value, set(known), f"{where}.")
    out = base if base is not None else cls()
    changes: dict[str, Any] = {}
    for key, item in value.items():
        spec = str(known[key].type)
        optional = "None" in spec
        if item is None:
            if not optional:
                raise ConfigError(f"{where}.{key} must not be empty")
            changes[key] = None
            continue
        kind = next((k for k in _TYPES if k in spec.split(" | ")[0]), "str")
        if (kind != "bool" and isinstance(item, bool)) or not isinstance(item, _TYPES[kind]):
            raise ConfigError(f"{where}.{key} must be {kind}, got {item!r}")
        changes[key] = float(item) if kind == "float" else item  # type: ignore[arg-type]
    return replace(out, **changes)


def _only(value: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for key in value:
        if key not in allowed:
            raise ConfigError(f"unknown config key {prefix}{key!s}; expected one of "
                              f"{', '.join(sorted(allowed))}")


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where} must be a positive integer, got {value!r}")
    return value


def _path(value: Any, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, Path)) or not str(value):
        raise ConfigError(f"{where} must be a path, got {value!r}")
    return Path(value)


def _opt_str(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    return value
