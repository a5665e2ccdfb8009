"""features: per-call features as pure Arrow batch functions."""

from distillwatch.features._calls import CALL_FEATURES_SCHEMA, call_features, ip_prefix
from distillwatch.features._hashing import stable_hash, stable_hashes
from distillwatch.features._patterns import COT_PATTERNS, COT_REGEX
from distillwatch.features._tokens import count_tokens

__all__ = [
    "CALL_FEATURES_SCHEMA",
    "COT_PATTERNS",
    "COT_REGEX",
    "call_features",
    "count_tokens",
    "ip_prefix",
    "stable_hash",
    "stable_hashes",
]
