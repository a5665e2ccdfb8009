"""gateway: an OpenAI-compatible proxy that logs every call, scores it live, and acts.

``create_app(config, scorer=...)`` builds the ASGI app around any
:class:`~distillwatch.detect.LiveScorer`; ``distillwatch gateway`` runs it under uvicorn.
See docs/gateway.md.
"""

from distillwatch.gateway._app import GatewayApp, GatewayState, create_app
from distillwatch.gateway._config import (
    AdminConfig,
    BlockConfig,
    CanaryHook,
    GatewayConfig,
    LogConfig,
    ScoringConfig,
    StepPolicy,
    ThrottleConfig,
    UpstreamConfig,
    load_config,
    parse_config,
)
from distillwatch.gateway._degrade import (
    Refusal,
    degrade_request,
    degrade_response,
    degrade_stream_event,
)
from distillwatch.gateway._keys import Identity, KeyStore, hash_key
from distillwatch.gateway._logwriter import TrafficLogWriter
from distillwatch.gateway._mock import MockUpstream, parse_mock_options
from distillwatch.gateway._policy import Decision, Override, Overrides, decide
from distillwatch.gateway._scorer_proc import RiskTable, ScorerProcess, ScorerSpec
from distillwatch.gateway._scoring import ScoringFeed, restore_or_create, save_scorer
from distillwatch.gateway._serve import bind_socket, server_config
from distillwatch.gateway._sse import SSEParser, StreamAssembler

__all__ = [
    "AdminConfig",
    "BlockConfig",
    "CanaryHook",
    "Decision",
    "GatewayApp",
    "GatewayConfig",
    "GatewayState",
    "Identity",
    "KeyStore",
    "LogConfig",
    "MockUpstream",
    "Override",
    "Overrides",
    "Refusal",
    "RiskTable",
    "SSEParser",
    "ScorerProcess",
    "ScorerSpec",
    "ScoringConfig",
    "ScoringFeed",
    "StepPolicy",
    "StreamAssembler",
    "ThrottleConfig",
    "TrafficLogWriter",
    "UpstreamConfig",
    "bind_socket",
    "create_app",
    "decide",
    "degrade_request",
    "degrade_response",
    "degrade_stream_event",
    "hash_key",
    "load_config",
    "parse_config",
    "parse_mock_options",
    "restore_or_create",
    "save_scorer",
    "server_config",
]
