"""Per-call features on hand-made calls."""

from __future__ import annotations

import pyarrow as pa
import pytest

from distillwatch.features import (
    CALL_FEATURES_SCHEMA,
    call_features,
    count_tokens,
    ip_prefix,
    stable_hash,
)
from distillwatch.ingest import CANONICAL_SCHEMA, canonical_row
from factories import make_event


def features_of(*records: dict[str, object]) -> list[dict[str, object]]:
    rows = [(*canonical_row(r), "test", i + 1) for i, r in enumerate(records)]
    cols = list(zip(*rows, strict=True))
    batch = pa.RecordBatch.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, CANONICAL_SCHEMA, strict=True)],
        schema=CANONICAL_SCHEMA)
    out = call_features(batch)
    assert out.schema == CALL_FEATURES_SCHEMA
    some = ["ts", "prompt_tokens", "template_suffix", "cot", "script", "ip_prefix"]
    assert call_features(batch, some).to_pylist() == out.select(some).to_pylist()
    return out.to_pylist()


@pytest.mark.parametrize(
    "text",
    [
        "Solve this step by step and show your work.",
        "Let's think about this carefully: what is 17*23?",
        "请一步一步地思考并给出详细的推理过程。",
        "Resuelve paso a paso el siguiente problema.",
        "Résous ce problème étape par étape.",
        "Löse die Aufgabe Schritt für Schritt.",
        "Реши задачу шаг за шагом.",
        "この問題を段階的に考えてください。",
        "Put your reasoning inside <think> tags before the answer.",
    ],
)
def test_reasoning_elicitation_is_found_in_many_languages(text: str) -> None:
    assert features_of(make_event(user_text=text))[0]["cot"] is True


def test_reasoning_elicitation_in_the_system_prompt_counts() -> None:
    row = features_of(make_event(system="Always explain your reasoning step-by-step.",
                                 user_text="What is 2+2?"))[0]
    assert row["cot"] is True


@pytest.mark.parametrize("text", ["What's the weather like in Paris?",
                                  "Write a haiku about autumn leaves.",
                                  "Translate 'good morning' into Spanish."])
def test_ordinary_prompts_are_not_reasoning_elicitation(text: str) -> None:
    assert features_of(make_event(user_text=text))[0]["cot"] is False


def test_template_hashes_match_for_one_template_with_different_fills() -> None:
    head = "Classify the sentiment of the following product review as positive or negative. "
    tail = " Answer with one word: positive or negative."
    rows = features_of(
        make_event(user_text=head + "Review: the blender broke after 3 days." + tail),
        make_event(user_text=head + "Review: works great, my kids love it, 10 stars." + tail),
        make_event(user_text="A completely different and long enough request about gardening "
                             "tomatoes on a balcony in a windy city."))
    assert rows[0]["template_prefix"] == rows[1]["template_prefix"] is not None
    assert rows[0]["template_suffix"] == rows[1]["template_suffix"]
    assert rows[0]["prompt_hash"] != rows[1]["prompt_hash"]
    assert rows[2]["template_prefix"] != rows[0]["template_prefix"]


def test_short_prompts_carry_no_template_hash() -> None:
    assert features_of(make_event(user_text="hi there"))[0]["template_prefix"] is None


def test_prompt_hash_ignores_case_and_surrounding_whitespace() -> None:
    a, b = features_of(make_event(user_text="  Hello World\n"),
                       make_event(user_text="hello world"))
    assert a["prompt_hash"] == b["prompt_hash"] == stable_hash("hello world")


def test_sampling_parameters_and_response_facts() -> None:
    record = make_event(logprobs=True, top_logprobs=20, max_tokens=1, n=3,
                        logit_bias={"1234": 100, "42": -100}, seed=7, temperature=0,
                        reasoning_effort="high", completion_tokens=900, reasoning_tokens=700)
    record["response"]["choices"][0]["finish_reason"] = "length"
    row = features_of(record)[0]
    assert (row["logprobs"], row["top_logprobs"], row["max_tokens"], row["n"]) == (True, 20, 1, 3)
    assert row["logit_bias_size"] == 2 and row["seed_set"] is True
    assert row["temperature"] == 0.0 and row["reasoning_effort"] == "high"
    assert row["finish_reason"] == "length" and row["reasoning_tokens"] == 700
    assert row["param_keys"].startswith("model,messages")


def test_missing_usage_is_filled_with_a_real_tokenizer() -> None:
    row = features_of(make_event(user_text="hello world", prompt_tokens=None))[0]
    assert row["prompt_tokens_estimated"] is True
    assert row["prompt_tokens"] == count_tokens(["\n\nhello world"])[0]
    assert count_tokens(["hello world"]) == [2]


def test_scripts_and_networks() -> None:
    rows = features_of(make_event(user_text="请解释量子计算"), make_event(user_text="Привет, мир"),
                       make_event(user_text="hello"))
    assert [r["script"] for r in rows] == ["han", "cyrillic", "latin"]
    assert ip_prefix("198.51.100.77") == "198.51.100.0/24"
    assert ip_prefix("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert ip_prefix("not an ip") is None


def test_excerpts_are_bounded_and_secret_free() -> None:
    secret = "sk-" + "x" * 40
    row = features_of(make_event(user_text=f"key {secret} " + "y" * 5000))[0]
    assert secret not in row["user_excerpt"]
    assert len(row["user_excerpt"]) <= 700
    assert row["user_chars"] > 5000


def test_topic_embedding_is_per_text_whatever_the_repeats_and_order() -> None:
    """Repeated excerpts are embedded once; every row still gets its own text's unit vector."""
    import numpy as np

    from distillwatch.profile import embed

    texts = ["plan a trip to Rome", "x" * 400, "plan a trip to Rome", "", "fix my SQL query",
             "x" * 300 + "different tail"]
    vectors = embed(texts)
    assert vectors.shape == (len(texts), 256)
    alone = np.vstack([embed([t]) for t in texts])
    assert np.allclose(vectors, alone, atol=1e-6)
    assert np.array_equal(vectors[0], vectors[2])
    assert np.array_equal(vectors[1], vectors[5])  # the same first 300 characters
    nonzero = np.linalg.norm(vectors, axis=1) > 0
    assert np.allclose(np.linalg.norm(vectors[nonzero], axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, 256)
