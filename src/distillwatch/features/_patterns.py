"""Patterns that mark a request as eliciting step-by-step reasoning, in several languages.

Each entry is one RE2 alternative (pyarrow's regex engine); they are matched case-insensitively
against the system prompt and the last user turn. The list covers instructions to think step by
step, to show work or reasoning, to put thinking in tags, and the same in Chinese, Japanese,
Korean, Spanish, Portuguese, French, German, Italian, Russian, Arabic, Hindi, Vietnamese,
Turkish and Indonesian.
"""

from __future__ import annotations

__all__ = ["COT_PATTERNS", "COT_REGEX"]

COT_PATTERNS: tuple[str, ...] = (
    # English
    r"step[ -]by[ -]step",
    r"think (?:it )?through",
    r"think carefully",
    r"show (?:all )?(?:your|the) (?:work|working|reasoning|steps|derivation|thinking)",
    r"explain (?:your|the|each) (?:reasoning|steps|thought process)",
    r"chain[ -]of[ -]thought",
    r"let'?s think",
    r"reason (?:through|carefully|step)",
    r"walk (?:me )?through (?:your|the) (?:reasoning|solution|steps)",
    r"before (?:giving|answering|you answer)[^.]{0,40}(?:think|reason)",
    r"full (?:reasoning|derivation|solution path)",
    r"detailed (?:reasoning|derivation|rationale)",
    r"<think>",
    r"thinking process",
    r"rationale (?:first|before)",
    # Chinese
    r"一步一步", r"逐步", r"分步", r"详细(?:的)?(?:推理|解题|步骤|过程)", r"思考过程", r"推理过程",
    r"解题思路",
    # Japanese
    r"段階的に", r"ステップバイステップ", r"順を追って", r"考え方を", r"推論過程",
    # Korean
    r"단계별로", r"차근차근", r"풀이 과정",
    # Spanish / Portuguese
    r"paso a paso", r"razona(?:miento)?", r"muestra (?:tu|el) (?:trabajo|razonamiento)",
    r"passo a passo", r"mostre (?:seu|o) racioc[ií]nio", r"racioc[ií]nio",
    # French
    r"[ée]tape par [ée]tape", r"raisonnement", r"d[ée]taille(?:z)? (?:ton|votre|le) raisonnement",
    # German
    r"schritt f[üu]r schritt", r"schrittweise", r"denkprozess", r"begr[üu]nde (?:deine|die)",
    r"l[öo]sungsweg",
    # Italian
    r"passo dopo passo", r"ragionamento",
    # Russian
    r"шаг за шагом", r"пошагово", r"рассуждени", r"ход решения", r"объясни (?:своё|свое|ход)",
    # Arabic, Hindi, Vietnamese, Turkish, Indonesian
    r"خطوة بخطوة", r"चरण दर चरण", r"từng bước", r"adım adım", r"langkah demi langkah",
)

COT_REGEX = "(?i)(?:" + "|".join(COT_PATTERNS) + ")"
