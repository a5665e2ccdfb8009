"""The forensics lab: a small world (teacher, harvesters, students, attacks) to test marks on.

Needs the public corpora in ``../shared/data``; nothing is downloaded.
"""

from distillwatch.forensics.lab._attacks import (
    ATTACKS,
    NeutraliseHook,
    paraphrase,
    unicode_normalise,
)
from distillwatch.forensics.lab._corpus import LabCorpora, load_lab_corpora
from distillwatch.forensics.lab._ngram import LogitsHook, NGramModel
from distillwatch.forensics.lab._server import Marks, lab_app, serve_lab
from distillwatch.forensics.lab._world import Lab, LabConfig, harvest, leading_documents

__all__ = [
    "ATTACKS",
    "Lab",
    "LabConfig",
    "LabCorpora",
    "LogitsHook",
    "Marks",
    "NGramModel",
    "NeutraliseHook",
    "harvest",
    "lab_app",
    "leading_documents",
    "load_lab_corpora",
    "paraphrase",
    "serve_lab",
    "unicode_normalise",
]
