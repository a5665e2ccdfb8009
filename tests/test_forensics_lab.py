"""The n-gram lab end to end, over HTTP: a marked teacher, harvesting accounts, students with
0% and 20% of our outputs, and ``distillwatch forensics probe`` against each student."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from distillwatch.cli import cli
from distillwatch.forensics import (
    GreenListLogitsProcessor,
    WatermarkScheme,
    canary_slot,
    reproduces,
    score_tokens,
)
from distillwatch.forensics.lab import (
    Lab,
    LabConfig,
    NeutraliseHook,
    lab_app,
    paraphrase,
    serve_lab,
)

pytestmark = [pytest.mark.corpora, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, list[str]]]:
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not data.is_dir():
        pytest.skip(f"corpora folder {data} is not present")
    config = LabConfig(data=data, teacher_docs=1500, reference_docs=800, filler_tokens=40_000,
                       probe_prompts=120, mode_contexts=40, corroboration_prompts=40)
    lab = Lab(config, tmp_path_factory.mktemp("lab"))
    with serve_lab(lab.teacher_app()) as url:
        harvested = lab.harvest_for_share(url, "acct_leak", 0.2)
        lab.harvest_for_share(url, "acct_innocent", 0.005, offset=500)
    yield lab, harvested


def _probe(lab: Lab, student: Any, folder: Path, secret: Path, budget: int = 2000,
           hooks: Any = None) -> dict[str, Any]:
    lab.write_case(folder, ["acct_leak", "acct_innocent"])
    if not secret.exists():
        secret.write_bytes(lab.ring.to_json())
    with serve_lab(lab_app({"student": student}, hooks=hooks)) as url:
        result = CliRunner().invoke(cli, [
            "forensics", "probe", "--suspect", url, "--model", "student", "--case", str(folder),
            "--budget", str(budget), "--rate", "1000", "--secret-file", str(secret)],
            catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(orjson.loads((folder / "evidence.json").read_bytes()))


def _p(ev: dict[str, Any], test: str, account: str) -> float:
    return float(next(t["p_value"] for t in ev["tests"]
                      if t["test"] == test and t["account_id"] == account))


def test_the_teacher_server_marks_what_harvesters_receive(lab: tuple[Lab, list[str]]) -> None:
    the_lab, harvested = lab
    rows = the_lab.registry.served("acct_leak")
    assert 10 <= len(rows) <= 100
    text = "\n".join(harvested)
    key = the_lab.ring.key("acct_leak", "canary")
    for row in rows:
        served, decoys = canary_slot(key, row.slot, row.n_decoys)
        assert served.sentence() in text
        assert not any(reproduces(d, text) for d in decoys)
    vocab = the_lab.teacher.vocab
    ids = [vocab.encode(doc.split("\n", 1)[1]) for doc in harvested]
    wm = the_lab.ring.key("acct_leak", "watermark")
    assert score_tokens(wm, the_lab.config.scheme, ids, frozenset({-1})).p_value < 1e-30


def test_a_student_of_our_outputs_is_named_and_only_its_account(
        lab: tuple[Lab, list[str]], tmp_path: Path) -> None:
    the_lab, harvested = lab
    student = the_lab.student(harvested, 0.2)
    ev = _probe(the_lab, student, tmp_path / "case", tmp_path / "secret.json")
    assert _p(ev, "canary_recall", "acct_leak") < 1e-6
    assert _p(ev, "watermark_radioactivity", "acct_leak") < 1e-4
    named = {f["account_id"]: f["named"] for f in ev["findings"]}
    assert named == {"acct_leak": True, "acct_innocent": False}
    assert ev["budget"]["spent"] <= 2000


def test_a_clean_student_names_nobody(lab: tuple[Lab, list[str]], tmp_path: Path) -> None:
    the_lab, harvested = lab
    ev = _probe(the_lab, the_lab.student(harvested, 0.0), tmp_path / "case",
                tmp_path / "secret.json")
    assert not any(f["named"] for f in ev["findings"])
    assert min(t["p_value"] for t in ev["tests"] if t["role"] == "evidence") > 1e-3


def test_attacks_run_and_paraphrase_weakens_the_marks(lab: tuple[Lab, list[str]]) -> None:
    the_lab, harvested = lab
    rng = np.random.default_rng(0)
    assert paraphrase("Tom has 3 apples. He buys 2 more.", rng) != \
        "Tom has 3 apples. He buys 2 more."
    scheme = the_lab.config.scheme
    key = the_lab.ring.key("acct_leak", "watermark")
    vocab = the_lab.teacher.vocab
    plain = [vocab.encode(d) for d in harvested]
    para = [vocab.encode(paraphrase(d, rng)) for d in harvested]
    z_plain = score_tokens(key, scheme, plain, frozenset({-1})).z
    z_para = score_tokens(key, scheme, para, frozenset({-1})).z
    assert z_para < z_plain
    student = the_lab.student(harvested, 0.2)
    reference = type(student).train(the_lab.filler, vocab=student.vocab)
    hook = NeutraliseHook(reference)
    out = student.generate(student.vocab.encode("Tom has"), 5, temperature=1.0, rng=rng,
                           hooks=[hook])
    assert len(out) == 5


def test_processor_drives_lab_generation_like_a_transformers_one() -> None:
    from distillwatch.forensics import KeyRing
    from distillwatch.forensics.lab import NGramModel

    rng = np.random.default_rng(0)
    model = NGramModel.train([" ".join(f"w{i}" for i in rng.permutation(300)) for _ in range(5)])
    key = KeyRing({1: bytes(32)}, 1).key("a", "watermark")
    proc = GreenListLogitsProcessor(key, WatermarkScheme(delta=50.0))
    ids = model.generate([1], 30, temperature=1.0, rng=rng,
                         hooks=[lambda ids, lg: proc(np.array([ids]), lg[None, :])[0]])
    assert score_tokens(key, WatermarkScheme(), [[1, *ids]]).green == \
        score_tokens(key, WatermarkScheme(), [[1, *ids]]).pairs
