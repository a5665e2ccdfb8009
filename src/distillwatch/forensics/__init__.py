"""forensics: marks that survive training, exact tests, and evidence a suspect learned from us.

Keys (one operator secret, one key per account and purpose), canary facts with a registry and
the gateway's text transform, a keyed green-list watermark with its detectors, invisible-Unicode
tripwires, the black-box probe and its case file. See docs/forensics.md.
"""

from distillwatch.forensics._canary import Canary, canary_slot, reproduces
from distillwatch.forensics._inject import CanaryInjector, weave
from distillwatch.forensics._keys import (
    PURPOSES,
    SECRET_ENV,
    SECRET_FILE_ENV,
    KeyRing,
    MarkKey,
    derive_key,
    key_id,
    load_keyring,
)
from distillwatch.forensics._registry import CanaryRegistry, ServedCanary
from distillwatch.forensics._stats import (
    CanarySlot,
    binomial_test,
    canary_test,
    holm,
    hypergeometric_test,
    two_proportion_test,
)
from distillwatch.forensics._tripwire import find_tripwires, mark_tripwire, normalise_text
from distillwatch.forensics._watermark import (
    GreenListLogitsProcessor,
    ModeScore,
    WatermarkScheme,
    WatermarkScore,
    green_mask,
    is_green,
    mode_test,
    score_tokens,
)

__all__ = [
    "PURPOSES",
    "SECRET_ENV",
    "SECRET_FILE_ENV",
    "Canary",
    "CanaryInjector",
    "CanaryRegistry",
    "CanarySlot",
    "GreenListLogitsProcessor",
    "KeyRing",
    "MarkKey",
    "ModeScore",
    "ServedCanary",
    "WatermarkScheme",
    "WatermarkScore",
    "binomial_test",
    "canary_slot",
    "canary_test",
    "derive_key",
    "find_tripwires",
    "green_mask",
    "holm",
    "hypergeometric_test",
    "is_green",
    "key_id",
    "load_keyring",
    "mark_tripwire",
    "mode_test",
    "normalise_text",
    "reproduces",
    "score_tokens",
    "two_proportion_test",
    "weave",
]
