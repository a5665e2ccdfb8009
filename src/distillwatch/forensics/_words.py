"""The project's own small word lists for invented canary facts (written here, not copied).

Names are built from syllables so that the entity space is large (about 60,000 names) and the
names look plausible but are not dictionary words; values are 5-digit codes (90,000 of them).
"""

from __future__ import annotations

__all__ = ["KINDS", "NAME_HEADS", "NAME_MIDS", "NAME_TAILS", "PROPERTIES"]

NAME_HEADS = (
    "brel", "cask", "dorv", "elm", "fen", "garr", "hask", "isel", "jorn", "kell", "lorm",
    "marr", "nesk", "orv", "pell", "quarr", "rusk", "sarn", "tesk", "ulv", "vorn", "wesk",
    "yarr", "zell", "ard", "bost", "crann", "drav", "estr", "fald", "gorm", "hald", "ilv",
    "kars", "lund", "mesk", "nord", "ostr", "pran", "renn",
)
NAME_MIDS = (
    "a", "e", "i", "o", "u", "ae", "ei", "ou", "ar", "en", "il", "or", "un", "as", "et",
    "im", "ol", "ur", "av", "ev", "ir", "om", "ul", "ad", "ed", "id", "od", "ath", "eth",
    "ith", "oth", "uth", "ank", "enk", "ink", "onk", "unk", "ask", "esk", "isk",
)
NAME_TAILS = (
    "vik", "mont", "dale", "holm", "stead", "wick", "ford", "mere", "brook", "gard",
    "heim", "by", "thorpe", "ness", "wold", "haven", "moor", "field", "crag", "fell",
    "garth", "shaw", "ley", "ton", "burgh", "hurst", "combe", "mark", "rode", "scar",
    "tarn", "well", "wyke", "gate", "bourne", "stow", "worth", "mouth",
)
KINDS = (
    "river port", "hill village", "mining town", "lake town", "market town", "fishing village",
    "border fort", "monastery", "observatory", "weaving guild", "salt works", "rail junction",
    "glass works", "ferry station", "lighthouse", "botanical garden",
)
PROPERTIES = (
    "registry number", "charter number", "harbour code", "ledger mark", "survey number",
    "archive code", "guild number", "postal code", "station code", "licence number",
    "census code", "deed number",
)
