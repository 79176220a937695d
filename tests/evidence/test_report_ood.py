"""The out-of-distribution score in the report: stored per face, read back from JSON, and an
abstention when the decisive face lies outside the detector's training faces; detectors
without statistics report none."""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import pytest

from opendfa.evidence import Analyzer, Report, validate_report
from opendfa.evidence.abstain import SETTLE_COPY, SETTLE_SECOND, abstention, known_accuracy
from opendfa.evidence.report import (
    FaceEvidence,
    ForgeryType,
    InputInfo,
    ModelInfo,
    OodScore,
    ReportError,
)
from opendfa.media import load_image
from stylised import cartoon

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "opendfa" / "assets" / "samples"


def _report(ood: OodScore | None, probability: float = 0.93, width: float = 200.0) -> Report:
    face = FaceEvidence(
        box=(10.0, 20.0, 10.0 + width, 20.0 + width),
        detection_score=0.98,
        fake_probability=probability,
        forgery_type=ForgeryType.decide({"face_swap": 0.8, "real": 0.2}, probability >= 0.5),
        ood=ood,
    )
    return Report(
        input=InputInfo("photo.png", "ab" * 32, "image", 240, 260, 1),
        model=ModelInfo("opendfa-lite0@2", "cd" * 32),
        verdict="fake" if probability >= 0.5 else "real",
        fake_probability=probability,
        forgery_type=face.forgery_type,
        faces=[face],
    )


def test_a_face_outside_the_distribution_abstains_and_asks_for_a_second_opinion():
    found = abstention(_report(OodScore.measure(91.25, 68.6)))
    assert found.reasons == [
        "the face is unlike anything the detector was trained on (out-of-distribution score "
        "91.2 above 68.6)"
    ]
    assert found.would_settle == SETTLE_SECOND
    assert abstention(_report(OodScore.measure(40.0, 68.6))) is None
    assert abstention(_report(None)) is None  # no statistics: no reason
    # With a size reason too, a larger copy is what settles it first.
    both = abstention(_report(OodScore.measure(91.25, 68.6), width=40.0))
    assert len(both.reasons) == 2 and both.would_settle == SETTLE_COPY


def test_no_known_accuracy_is_quoted_for_a_face_outside_the_distribution():
    from types import SimpleNamespace

    bundled = SimpleNamespace(folder=SAMPLES.parent / "models" / "opendfa-lite0", name="x@1")
    inside = known_accuracy(bundled, _report(OodScore.measure(40.0, 68.6)))
    assert inside["family"] == "face_swap" and inside["auc"] > 0.5
    assert known_accuracy(bundled, _report(OodScore.measure(91.25, 68.6))) is None


def test_the_ood_record_round_trips_through_json_and_the_schema():
    report = _report(OodScore.measure(91.25, 68.6))
    report.abstention = abstention(report)
    report.verdict = "inconclusive"
    data = report.to_json()
    assert data["faces"][0]["ood"] == {"score": 91.25, "threshold": 68.6, "outside": True}
    validate_report(data)
    again = Report.from_json(data)
    assert again.faces[0].ood == report.faces[0].ood and again.to_json() == data
    for broken in ({"score": -1.0}, {"outside": "yes"}, {"extra": 1}):
        bad = copy.deepcopy(data)
        bad["faces"][0]["ood"].update(broken)
        with pytest.raises(ReportError):
            validate_report(bad)
    older = copy.deepcopy(data)
    del older["faces"][0]["ood"]  # optional: reports without it stay valid version 2 reports
    validate_report(older)


@pytest.fixture(scope="module")
def bundled(face_detector):
    with Analyzer(face_detector=face_detector, forensics=False) as analyzer:
        assert analyzer.detector.ood is not None
        yield analyzer


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper", "swap_collins_on_hopper"])
def test_the_bundled_samples_are_inside_the_distribution(bundled, name):
    assert sorted(path.stem for path in SAMPLES.glob("*.jpg")) == [
        "astronaut",
        "grace_hopper",
        "swap_collins_on_hopper",
    ]
    report = bundled.analyze_image(SAMPLES / f"{name}.jpg")
    validate_report(report.to_json())
    (face,) = report.faces
    assert face.ood is not None and not face.ood.outside, face.ood
    assert face.ood.threshold == pytest.approx(bundled.detector.ood.threshold)
    reasons = report.abstention.reasons if report.abstention else []
    assert not any("out-of-distribution" in reason for reason in reasons)
    assert Report.from_json(report.to_json()).faces[0].ood == OodScore.from_json(face.ood.to_json())


def test_a_cartoon_or_a_negative_scores_higher_and_the_negative_abstains(bundled):
    path = SAMPLES / "astronaut.jpg"
    plain = bundled.analyze_image(path).faces[0].ood
    rgb = load_image(path).rgb
    styled = {}
    for style, image in (("cartoon", cartoon(rgb)), ("negative", 255 - rgb)):
        data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()
        styled[style] = report = bundled.analyze_image(data)
        validate_report(report.to_json())
        (face,) = report.faces
        assert face.ood.score > plain.score
    negative = styled["negative"]
    assert negative.faces[0].ood.outside and negative.verdict == "inconclusive"
    assert any("out-of-distribution" in reason for reason in negative.abstention.reasons)
    # The detector's AUC was measured on faces like its training faces: none is quoted here.
    assert negative.model.known_accuracy is None


def test_a_detector_without_statistics_reports_no_ood(tiny_detector, face_detector, hopper_path):
    with Analyzer(tiny_detector, face_detector, forensics=False) as analyzer:
        assert analyzer.detector.ood is None
        report = analyzer.analyze_image(hopper_path)
    assert report.faces and all(face.ood is None for face in report.faces)
    data = report.to_json()
    assert all("ood" not in face for face in data["faces"])
    validate_report(data)
