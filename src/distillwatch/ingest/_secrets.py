"""Keep API keys and similar secrets out of the store and the reports."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

__all__ = ["SECRET_PATTERN", "looks_like_secret", "redact_secrets", "safe_key_id"]

# Provider key shapes (OpenAI sk-/sk-proj-, Anthropic sk-ant-, generic bearer tokens, AWS ids,
# Google API keys, GitHub tokens, Slack tokens, JWTs).
#: One regular expression, valid both for Python's ``re`` and RE2 (Arrow compute).
SECRET_PATTERN = (
    r"(?:\bsk-(?:proj-|ant-|or-)?[A-Za-z0-9_\-]{16,}"
    r"|\bBearer\s+[A-Za-z0-9_\-\.=]{16,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_\-]{35}"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[abpr]-[A-Za-z0-9\-]{10,}"
    r"|\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})"
)
_SECRET_RE = re.compile(SECRET_PATTERN)


def looks_like_secret(value: str) -> bool:
    """True when the string holds something shaped like a credential."""
    return _SECRET_RE.search(value) is not None


def redact_secrets(text: str) -> str:
    """Replace every credential-shaped substring with a marker naming its hash prefix."""
    return _SECRET_RE.sub(lambda m: f"[secret:{_digest(m.group(0))}]", text)


def safe_key_id(value: str | None) -> str | None:
    """A key id safe to store: unchanged when it is an id, hashed when it is the secret itself."""
    if value is None:
        return None
    return _safe_key_id(value)


@lru_cache(maxsize=65536)
def _safe_key_id(value: str) -> str:
    """``safe_key_id`` of a string; cached, as a log repeats a few thousand keys endlessly."""
    if not looks_like_secret(value):
        return value
    return f"sha256:{_digest(value)}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
