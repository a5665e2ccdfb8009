"""The lab students' open vocabulary: words outside the list are spelled, and come back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from distillwatch.forensics import words
from distillwatch.forensics._tokenize import UNKNOWN, detokenize
from distillwatch.forensics.lab._vocab import SPELLING, OpenVocab

VOCAB = OpenVocab.build(["the answer is 42 .", "the cat sat on the mat , twice ."], 12)


def test_known_words_are_one_token_and_unknown_ones_are_spelled() -> None:
    ids = VOCAB.encode("The value of Zorblax is 53421.")
    known = [i for i in ids if i < VOCAB.n_words]
    assert [VOCAB.tokens[i] for i in known] == ["the", "is", "."]
    assert ids.count(VOCAB.end) == 4  # value, of, zorblax and 53421 are spelled
    assert VOCAB.decode(ids) == "the value of zorblax is 53421."


def test_the_word_list_comes_from_the_texts_alone() -> None:
    again = OpenVocab.build(["the cat sat on the mat , twice .", "the answer is 42 ."], 12)
    assert again.tokens == VOCAB.tokens  # order of the texts does not matter
    assert len(VOCAB) == VOCAB.n_words + len(SPELLING) + 1


@given(st.text(alphabet=st.sampled_from("abcxyz0189 '.,!é\u00e9Z"), max_size=60))
def test_decode_inverts_encode_on_what_can_be_written(text: str) -> None:
    ids = VOCAB.encode(text)
    writable = [w for w in words(text)
                if w in VOCAB.index or all(c in SPELLING for c in w)]
    assert VOCAB.decode(ids) == detokenize(writable)
    assert ids.count(UNKNOWN) == len(words(text)) - len(writable)
