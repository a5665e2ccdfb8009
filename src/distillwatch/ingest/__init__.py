"""ingest: traffic logs and other formats in, canonical events (Arrow, DuckDB) out."""

from distillwatch.ingest._accounts import ACCOUNTS_SCHEMA, read_accounts
from distillwatch.ingest._canonical import canonical_row, content_text
from distillwatch.ingest._files import STDIN, expand_inputs, open_input
from distillwatch.ingest._litellm import iter_litellm_spend_logs
from distillwatch.ingest._otel import OtelStats, iter_otel_genai_spans
from distillwatch.ingest._reader import FORMATS, BadLine, ReadStats, read_canonical_batches
from distillwatch.ingest._schema import CANONICAL_SCHEMA, STORED_TEXT_CHARS
from distillwatch.ingest._secrets import looks_like_secret, redact_secrets, safe_key_id
from distillwatch.ingest._store import MergeResult, Store
from distillwatch.ingest._validate import (
    parse_ts,
    validate_account_record,
    validate_traffic_record,
)

__all__ = [
    "ACCOUNTS_SCHEMA",
    "CANONICAL_SCHEMA",
    "FORMATS",
    "STDIN",
    "STORED_TEXT_CHARS",
    "BadLine",
    "MergeResult",
    "OtelStats",
    "ReadStats",
    "Store",
    "canonical_row",
    "content_text",
    "expand_inputs",
    "iter_litellm_spend_logs",
    "iter_otel_genai_spans",
    "looks_like_secret",
    "open_input",
    "parse_ts",
    "read_accounts",
    "read_canonical_batches",
    "redact_secrets",
    "safe_key_id",
    "validate_account_record",
    "validate_traffic_record",
]
