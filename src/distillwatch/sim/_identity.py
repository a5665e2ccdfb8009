"""Opaque identifiers and infrastructure: account and key ids, addresses, user agents, domains.

Everything here is drawn from a ``numpy.random.Generator`` so it follows the simulation seed.
Nothing encodes a profile: ids are random hex, and the pools are shared by all profiles.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

__all__ = [
    "BROWSERISH",
    "CLOUD",
    "PROXY",
    "RESIDENTIAL",
    "SDK_AGENTS",
    "company_domain",
    "country",
    "days_before",
    "free_mail",
    "hexid",
    "ip",
    "ips",
    "rfc3339",
    "throwaway_domain",
]

Rng = np.random.Generator

SDK_AGENTS = (
    "OpenAI/Python 1.54.3", "OpenAI/Python 1.51.2", "OpenAI/Python 1.47.0", "OpenAI/Python 1.40.6",
    "AsyncOpenAI/Python 1.54.3", "OpenAI/NodeJS 4.67.3", "OpenAI/NodeJS 4.61.0",
    "OpenAI/NodeJS 4.52.7", "python-httpx/0.27.2", "python-requests/2.32.3", "axios/1.7.7",
    "langchain-openai/0.2.5 OpenAI/Python 1.54.3", "LiteLLM/1.51.0", "Go-http-client/2.0",
    "okhttp/4.12.0", "curl/8.5.0", "curl/7.81.0", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
)
BROWSERISH = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
)

# first octets (or prefixes) of address families; documentation ranges are avoided on purpose
CLOUD = ("3", "13", "18", "20", "34", "35", "40", "44", "52", "54", "104", "146", "159", "167")
PROXY = ("5", "23", "37", "45", "62", "77", "91", "138", "141", "185", "193", "194", "195")
RESIDENTIAL = ("24", "47", "50", "67", "71", "73", "76", "81", "82", "86", "89", "92", "98",
               "109", "151", "176", "178", "188", "190", "201", "212", "217")
V6 = {"CLOUD": ("2600:1f18", "2600:1900", "2a01:4f8"), "PROXY": ("2a0e:97c0", "2a02:6ea0"),
      "RESIDENTIAL": ("2a02:8109", "2601:647", "2003:e3", "2a01:cb00")}

COUNTRIES = ("US", "IN", "GB", "DE", "FR", "CA", "BR", "JP", "KR", "SG", "NL", "AU", "ES", "IT",
             "PL", "SE", "CH", "IL", "MX", "ID", "VN", "TR", "NG", "AE", "HK", "TW", "UA")
_CW = np.array([30, 8, 6, 6, 4, 4, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
               dtype=float)
_CW /= _CW.sum()

FREE_MAIL = ("gmail.com", "gmail.com", "gmail.com", "outlook.com", "yahoo.com", "hotmail.com",
             "proton.me", "icloud.com", "qq.com", "163.com", "mail.ru", "gmx.de", "yandex.ru")
_SYL = ("lu", "ma", "ri", "ko", "ne", "ta", "vo", "shi", "an", "el", "or", "qui", "bra", "dex",
        "fin", "zen", "pol", "tra", "nu", "sol", "ver", "cal", "mi", "ro", "ga", "tek", "lo", "sa")
_WORDS = ("north", "bright", "blue", "cedar", "pixel", "harbor", "quantum", "atlas", "lumen",
          "summit", "river", "maple", "signal", "vector", "orbit", "kite", "ember", "nimbus",
          "stack", "loop", "forge", "pine", "delta", "canvas", "spark", "tide", "arc", "nova")
_TLDS = (".com", ".com", ".com", ".io", ".ai", ".co", ".de", ".fr", ".co.uk", ".app", ".dev")
_JUNK_TLDS = (".xyz", ".top", ".shop", ".online", ".site", ".click", ".icu", ".cfd")


def hexid(rng: Rng, prefix: str, nbytes: int = 8) -> str:
    """``prefix`` + random hex, e.g. ``acct_3f9a…``."""
    return prefix + rng.bytes(nbytes).hex()


def ip(rng: Rng, family: tuple[str, ...], v6_share: float = 0.0) -> str:
    """One address from a family of prefixes; a share of them IPv6."""
    if v6_share and rng.random() < v6_share:
        key = "CLOUD" if family is CLOUD else "PROXY" if family is PROXY else "RESIDENTIAL"
        prefixes = V6[key]
        head = prefixes[int(rng.integers(len(prefixes)))]
        parts = rng.integers(0, 65536, 4)
        return f"{head}:{parts[0]:x}:{parts[1]:x}::{parts[2]:x}:{parts[3]:x}"
    first = family[int(rng.integers(len(family)))]
    a, b, c = rng.integers(0, 256, 3)
    return f"{first}.{a}.{b}.{max(int(c), 1)}"


def ips(rng: Rng, family: tuple[str, ...], n: int, v6_share: float = 0.0) -> list[str]:
    """``n`` addresses of a family, some of them in the same /24 as a company would have."""
    out: list[str] = []
    for _ in range(n):
        if out and rng.random() < 0.4 and ":" not in out[-1]:
            head = out[-1].rsplit(".", 1)[0]
            out.append(f"{head}.{int(rng.integers(1, 255))}")
        else:
            out.append(ip(rng, family, v6_share))
    return out


def country(rng: Rng) -> str:
    return str(COUNTRIES[int(rng.choice(len(COUNTRIES), p=_CW))])


def company_domain(rng: Rng) -> str:
    if rng.random() < 0.5:
        name = "".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), 2))
    else:
        name = "".join(_SYL[int(i)] for i in rng.integers(0, len(_SYL), int(rng.integers(2, 4))))
    return name + _TLDS[int(rng.integers(len(_TLDS)))]


def free_mail(rng: Rng) -> str:
    return FREE_MAIL[int(rng.integers(len(FREE_MAIL)))]


def throwaway_domain(rng: Rng) -> str:
    name = "".join(_SYL[int(i)] for i in rng.integers(0, len(_SYL), int(rng.integers(2, 4))))
    return f"{name}{int(rng.integers(10, 99))}{_JUNK_TLDS[int(rng.integers(len(_JUNK_TLDS)))]}"


def rfc3339(when: datetime) -> str:
    """``2026-09-01T12:34:56.789Z`` (UTC, millisecond precision)."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def days_before(start: datetime, days: float) -> datetime:
    return start - timedelta(days=days)
