"""DFA-Bench counts inconclusive DF-D answers on their own: neither right nor wrong."""

from __future__ import annotations

import pytest

from opendfa.bench.answerers import DetectorAnswerer, _Judgement
from opendfa.bench.runner import markdown, score
from opendfa.metrics.answers import INCONCLUSIVE, parse_detection


def _row(label: str, answer: str, p: float) -> dict:
    category = "real" if label == "real" else "face_swap"
    return {
        "task": "DF-D",
        "label": label,
        "category": category,
        "question": "Is this face real or fake?",
        "answer": answer,
        "score": p,
    }


@pytest.mark.parametrize(
    "answer",
    [
        "Inconclusive: the face is only 30 px wide.",
        "I cannot tell: the JPEG is heavily compressed.",
        "I can’t tell.",
    ],
)
def test_abstaining_answers_parse_as_inconclusive(answer):
    assert parse_detection(answer, "Is it fake?") == INCONCLUSIVE


def test_inconclusive_answers_count_as_coverage_not_as_errors():
    rows = [
        _row("fake", "Fake.", 0.9),
        _row("real", "Real.", 0.1),
        _row("real", "Fake.", 0.7),
        _row("fake", "Inconclusive: the face is only 30 px wide.", 0.45),
    ]
    d = score(rows, resamples=20, grounding=False)["DF-D"]
    assert d["inconclusive"] == 1 and d["coverage"] == 0.75
    assert d["selective_accuracy"] == d["accuracy"] == pytest.approx(2 / 3)
    assert d["scored"] == 4 and d["auc"] == pytest.approx(0.75)  # ranking: every score
    results = {"answerer": "detector", "split": "test", "n": {"DF-D": 4}, "DF-D": d}
    table = markdown(results)
    assert "| DF-D | 4 | inconclusive | 1 |" in table
    assert "| DF-D | 4 | coverage % | 75.00 |" in table


def test_all_inconclusive_leaves_the_label_metrics_empty():
    rows = [_row("fake", "Inconclusive.", 0.5), _row("real", "Inconclusive.", 0.49)]
    d = score(rows, resamples=5, grounding=False)["DF-D"]
    assert d["coverage"] == 0.0 and d["accuracy"] is None and d["inconclusive"] == 2
    assert "n/a" in markdown({"answerer": "x", "split": "s", "n": {"DF-D": 2}, "DF-D": d})


def test_detector_answerer_says_inconclusive_with_its_reason(tmp_path):
    answerer = DetectorAnswerer.__new__(DetectorAnswerer)
    image = tmp_path / "face.png"
    reason = "the face is only 30 px wide"
    answerer._cache = {image: _Judgement("inconclusive", 0.8, "face_swap", [], [reason])}
    reply = answerer.answer(image, "Is this face real or fake?", "DF-D")
    assert reply.text == f"Inconclusive: {reason}." and reply.score == 0.8
    assert parse_detection(reply.text) == INCONCLUSIVE
