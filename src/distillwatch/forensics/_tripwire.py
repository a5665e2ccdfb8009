"""Invisible-Unicode marks: a tripwire for verbatim scraping, never evidence.

A run of zero-width characters spelling an account's tripwire key id. Any pipeline that applies
NFKC and drops format characters (:func:`normalise_text`) removes it, so its absence proves
nothing and its presence only shows that text was copied verbatim.
"""

from __future__ import annotations

import re
import unicodedata

from distillwatch.forensics._keys import MarkKey

__all__ = ["find_tripwires", "mark_tripwire", "normalise_text"]

_ZERO, _ONE, _FENCE = "\u200b", "\u200c", "\u2060"
_RUN = re.compile(f"{_FENCE}([{_ZERO}{_ONE}]{{64}}){_FENCE}")


def mark_tripwire(key: MarkKey, text: str) -> str:
    """``text`` with the key id's 64 bits hidden after its first word."""
    bits = bin(int(key.key_id, 16))[2:].zfill(64)
    run = _FENCE + "".join(_ONE if b == "1" else _ZERO for b in bits) + _FENCE
    head, sep, tail = text.partition(" ")
    return head + run + sep + tail


def find_tripwires(text: str) -> list[str]:
    """Key ids spelled by tripwire runs in ``text``."""
    return [f"{int(''.join('1' if c == _ONE else '0' for c in m), 2):016x}"
            for m in _RUN.findall(text)]


def normalise_text(text: str) -> str:
    """What a careful harvester does: NFKC, then drop every format (Cf) character."""
    return "".join(c for c in unicodedata.normalize("NFKC", text)
                   if unicodedata.category(c) != "Cf")
