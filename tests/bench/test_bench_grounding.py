"""`opendfa bench`: the grounding check of AD answers against the detector's evidence on each
image, stored with the answers and reused, and the bootstrap intervals of the scores."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from opendfa.bench.answerers import BenchAnswer, DetectorAnswerer
from opendfa.bench.grounding import EvidenceSource
from opendfa.bench.runner import BenchConfig, markdown, run_bench, score
from opendfa.evidence.words import REGION_EVIDENCE
from opendfa.metrics.grounding import check_answer

FAKE_MOUTH = {
    "verdict": "fake",
    "fake_probability": 0.9,
    "category": "face_swap",
    "regions": {"mouth": 0.8, "nose": 0.2, "left_eye": 0.3, "right_eye": 0.7},
}


def _ad(k, answer, evidence=FAKE_MOUTH, category="face_swap"):
    return {
        "id": f"s{k}-AD",
        "task": "AD",
        "label": "fake",
        "category": category,
        "question": "<image>\nDescribe the artifacts.",
        "reference": "The mouth is blurrier than the skin around it.",
        "answer": answer,
        "score": None,
        "evidence": evidence,
    }


ROWS = [
    _ad(0, "This face looks like a face swap. The mouth is blurry."),  # grounded
    _ad(1, "This face looks like a face swap. The nose is blurry."),  # unsupported region
    _ad(2, "The face looks real. The mouth looks fine."),  # says real
    _ad(3, "A face reenactment: the lips and the left eye were changed."),  # both
    _ad(4, "The eyes were resized."),  # "eyes": the right eye supports it
    _ad(5, "The nose is blurry.", evidence=None),  # no evidence: not checked
]


def test_grounding_rates_count_handcrafted_answers():
    ad = score(ROWS, resamples=200)["AD"]
    assert ad["grounding_checked"] == 5
    assert ad["hallucinated_region_rate"] == pytest.approx(2 / 5)
    assert ad["contradiction_rate"] == pytest.approx(2 / 5)
    assert ad["grounding_violation_rate"] == pytest.approx(3 / 5)
    assert ad["unsupported_regions"] == {"nose": 1, "left eye": 1}
    for name in ("hallucinated_region_rate", "contradiction_rate", "grounding_violation_rate"):
        low, high = ad[f"{name}_ci"]
        assert low <= ad[name] <= high
    assert "grounding_checked" not in score(ROWS, grounding=False)["AD"]


def test_claim_precision_counts_every_claim_of_the_answers():
    ad = score(ROWS, resamples=200)["AD"]
    # s0: type, mouth, blur (unmeasured); s1: type, nose, blur; s2: verdict real, "the mouth
    # looks fine" (untouched, but it is evidence); s3: reenactment, lips, left eye;
    # s4: technique (the eyes were resized), eyes
    assert ad["claims"] == 13
    assert ad["claims_by_kind"]["technique"] == "0/1"
    assert ad["claims_by_kind"]["attribute"] == "0/2"  # bench evidence holds no cues
    assert ad["claim_precision"] == pytest.approx(5 / 13)
    assert ad["claim_contradiction"] == pytest.approx(3 / 13)  # real; mouth fine; reenactment
    low, high = ad["claim_precision_ci"]
    assert low <= ad["claim_precision"] <= high
    assert "claim precision" in markdown({"answerer": "x", "split": "test", **score(ROWS)})


def test_intervals_contain_the_estimate_and_narrow_with_more_records():
    def rows(copies):
        out = []
        for k in range(copies):
            for label, answer in (("fake", "Fake."), ("fake", "Real."), ("real", "Real.")):
                out.append(
                    {
                        "id": f"{k}{label}{answer}",
                        "task": "DF-D",
                        "label": label,
                        "category": "face_swap" if label == "fake" else "real",
                        "question": "Is it fake?",
                        "answer": answer,
                        "score": None,
                    }
                )
        return out

    small, large = score(rows(4), resamples=300)["DF-D"], score(rows(40), resamples=300)["DF-D"]
    for d in (small, large):
        for name in ("accuracy", "acer"):
            low, high = d[f"{name}_ci"]
            assert low <= d[name] <= high
    width = {name: (d["acer_ci"][1] - d["acer_ci"][0]) for name, d in (("s", small), ("l", large))}
    assert width["l"] < width["s"]
    assert small["acer"] == pytest.approx(0.25)  # half the fakes missed, no real rejected


# ----------------------------------------------------------------------------- a whole run


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    records = []
    for k in range(3):
        cv2.imwrite(str(folder / f"images/s{k}.png"), rng.integers(0, 255, (64, 64, 3), np.uint8))
        for task, answer in (("DF-D", "Fake."), ("AD", "The mouth is blurry.")):
            records.append(
                {
                    "id": f"s{k}-{task}",
                    "image": f"images/s{k}.png",
                    "split": "test",
                    "label": "fake",
                    "category": "face_swap",
                    "task": task,
                    "conversations": [
                        {"from": "human", "value": "<image>\nQuestion?"},
                        {"from": "gpt", "value": answer},
                    ],
                }
            )
    (folder / "instruct.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


class WithEvidence:
    """Says the mouth is blurry; its evidence supports the mouth on s0 only."""

    name = "scripted"

    def __init__(self):
        self.looked: list[str] = []

    def answer(self, image, question, task):
        return BenchAnswer("Fake." if task == "DF-D" else "Face swap. The mouth is blurry.", 0.9)

    def evidence(self, image):
        self.looked.append(image.name)
        mouth = 0.9 if image.name == "s0.png" else 0.1
        return {**FAKE_MOUTH, "regions": {"mouth": mouth}}


def test_a_run_stores_the_evidence_of_checked_answers_and_a_rerun_reuses_it(data, tmp_path):
    answerer = WithEvidence()
    results = run_bench(data, answerer, tmp_path / "out", BenchConfig(resamples=50))
    assert answerer.looked == ["s0.png", "s1.png", "s2.png"]  # AD records only, once each
    rows = [json.loads(line) for line in (tmp_path / "out/answers.jsonl").read_text().splitlines()]
    assert [("evidence" in r) for r in rows] == [r["task"] == "AD" for r in rows]
    assert results["AD"]["hallucinated_region_rate"] == pytest.approx(2 / 3)
    table = (tmp_path / "out/results.md").read_text()
    assert "| AD | 3 | grounding: unsupported region % | 66.67 [" in table
    again = WithEvidence()
    rerun = run_bench(data, again, tmp_path / "out", BenchConfig(resamples=50))
    assert rerun["AD"] == results["AD"]
    assert again.looked == []


def test_answers_of_a_run_without_the_check_get_their_evidence_later(data, tmp_path):
    first = WithEvidence()
    results = run_bench(data, first, tmp_path / "out", BenchConfig(grounding=False))
    assert first.looked == [] and "grounding_checked" not in results["AD"]
    later = WithEvidence()
    results = run_bench(data, later, tmp_path / "out", BenchConfig(resamples=50))
    assert later.looked == ["s0.png", "s1.png", "s2.png"]
    assert results["AD"]["grounding_checked"] == 3
    assert all("evidence" in json.loads(line) for line in _lines(tmp_path / "out", "AD"))


def _lines(out, task):
    return [
        line
        for line in (out / "answers.jsonl").read_text().splitlines()
        if json.loads(line)["task"] == task
    ]


def test_evidence_source_runs_the_detector_once_per_crop(data, tiny_model, monkeypatch):
    import opendfa.evidence.judge as judge_module

    calls = []
    predict = judge_module.predict_crops
    monkeypatch.setattr(
        judge_module,
        "predict_crops",
        lambda loaded, crops, **kw: calls.append(len(crops)) or predict(loaded, crops, **kw),
    )
    source = EvidenceSource(answerer=object(), model=tiny_model)
    images = [data / "images/s0.png", data / "images/s1.png", data / "images/s0.png"]
    first = source.evidence(images)
    assert source.evidence(images[:2]) == first[:2] and calls == [2]
    assert first[0] == first[2] and source.evidence([data / "missing.png"]) == [None]
    e = first[0]
    assert e["verdict"] == ("fake" if e["fake_probability"] >= e["threshold"] else "real")
    assert set(e["regions"]) >= {"mouth", "face_boundary", "skin"}


def test_the_detector_answerer_describes_only_its_own_evidence(tiny_model, astronaut_path):
    answerer = DetectorAnswerer(tiny_model)
    text = answerer.answer(astronaut_path, "<image>\nDescribe the artifacts.", "AD").text
    e = answerer.evidence(astronaut_path)
    assert text.startswith(("This face looks", "I cannot tell"))  # inconclusive: no claim
    check = check_answer(text, e["verdict"], e["category"], e["regions"], REGION_EVIDENCE)
    assert not check.violated, (text, e)
