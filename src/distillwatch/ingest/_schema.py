"""The canonical call table, declared once.

Every input format becomes rows of this schema (see docs/traffic-log.md for the mapping).
Full prompt text travels in the Arrow batches handed to the feature stage; the store keeps
only bounded excerpts (``*_excerpt``) plus the features computed from the full text.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["CANONICAL_SCHEMA", "STORED_TEXT_CHARS", "TEXT_COLUMNS"]

#: Characters of each text kept in the store for evidence and reports.
STORED_TEXT_CHARS = 320

#: Full-text columns that the feature stage reads and the store drops.
TEXT_COLUMNS = ("system_text", "user_text", "history_text", "response_text")

CANONICAL_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("account_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("key_id", pa.string()),
        ("end_user", pa.string()),
        ("client_ip", pa.string()),
        ("user_agent", pa.string()),
        ("endpoint", pa.string()),
        ("status", pa.int32()),
        ("latency_ms", pa.float64()),
        ("model", pa.string()),
        # request shape
        ("n_messages", pa.int32()),
        ("n_user_turns", pa.int32()),
        ("n_assistant_turns", pa.int32()),
        ("n_tool_messages", pa.int32()),
        ("n_tools", pa.int32()),
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("n", pa.int32()),
        ("max_tokens", pa.int64()),
        ("logprobs", pa.bool_()),
        ("top_logprobs", pa.int32()),
        ("logit_bias_size", pa.int32()),
        ("seed_set", pa.bool_()),
        ("stream", pa.bool_()),
        ("reasoning_effort", pa.string()),
        ("param_keys", pa.string()),
        # response facts
        ("finish_reason", pa.string()),
        ("n_choices", pa.int32()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("response_logprobs", pa.bool_()),
        ("reasoning_chars", pa.int64()),
        # full texts (dropped by the store, see STORED_TEXT_CHARS)
        ("system_text", pa.string()),
        ("user_text", pa.string()),
        ("history_text", pa.string()),
        ("response_text", pa.string()),
        # provenance
        ("source", pa.string()),
        ("line", pa.int64()),
    ]
)
