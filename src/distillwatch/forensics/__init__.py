"""forensics: marks that survive training, exact tests, and evidence a suspect learned from us.

Keys (one operator secret, one key per account and purpose), canary facts with a registry and
the gateway's text transform, a keyed green-list watermark with its detectors, invisible-Unicode
tripwires, the black-box probe and its case file. See docs/forensics.md.
"""

from distillwatch.forensics._canary import Canary, canary_slot, recall_score, reproduces
from distillwatch.forensics._case import CASE_FORMAT, Case, CorroborationItem, load_case
from distillwatch.forensics._client import BudgetExhausted, Exchange, SuspectClient, http_transport
from distillwatch.forensics._evidence import (
    EVIDENCE_FORMAT,
    ProbeRun,
    build_evidence,
    probe_case,
    render_evidence_html,
    write_case_outputs,
)
from distillwatch.forensics._inject import REGISTRY_ENV, CanaryInjector, gateway_canary, weave
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
from distillwatch.forensics._probe import NULLS, ProbeConfig, TestRecord, run_probe
from distillwatch.forensics._registry import CanaryRegistry, ServedCanary
from distillwatch.forensics._stats import (
    CanarySlot,
    binomial_test,
    canary_test,
    graded_canary_test,
    holm,
    hypergeometric_test,
    two_proportion_test,
)
from distillwatch.forensics._tokenize import UNKNOWN, WordVocab, words
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
    "CASE_FORMAT",
    "EVIDENCE_FORMAT",
    "NULLS",
    "PURPOSES",
    "REGISTRY_ENV",
    "SECRET_ENV",
    "SECRET_FILE_ENV",
    "UNKNOWN",
    "BudgetExhausted",
    "Canary",
    "CanaryInjector",
    "CanaryRegistry",
    "CanarySlot",
    "Case",
    "CorroborationItem",
    "Exchange",
    "GreenListLogitsProcessor",
    "KeyRing",
    "MarkKey",
    "ModeScore",
    "ProbeConfig",
    "ProbeRun",
    "ServedCanary",
    "SuspectClient",
    "TestRecord",
    "WatermarkScheme",
    "WatermarkScore",
    "WordVocab",
    "binomial_test",
    "build_evidence",
    "canary_slot",
    "canary_test",
    "derive_key",
    "find_tripwires",
    "gateway_canary",
    "graded_canary_test",
    "green_mask",
    "holm",
    "http_transport",
    "hypergeometric_test",
    "is_green",
    "key_id",
    "load_case",
    "load_keyring",
    "mark_tripwire",
    "mode_test",
    "normalise_text",
    "probe_case",
    "recall_score",
    "render_evidence_html",
    "reproduces",
    "run_probe",
    "score_tokens",
    "two_proportion_test",
    "weave",
    "words",
    "write_case_outputs",
]
