"""Abstention: a face below the size floor, a JPEG below the quality floor or a score inside
the margin band gives `inconclusive` with its reason, never a plain real/fake verdict."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import pytest

from opendfa.evidence import Analyzer, Report, validate_report
from opendfa.evidence.abstain import (
    MARGIN_BAND,
    MEASURED_FOR,
    QUALITY_FLOOR,
    SETTLE_COPY,
    SETTLE_SECOND,
    SIZE_FLOOR_PX,
    family_aucs,
    known_accuracy,
)
from opendfa.evidence.report import ReportError
from opendfa.media import load_image

BUNDLED = Path(__file__).resolve().parents[2] / "src/opendfa/assets/models/opendfa-lite0"


@pytest.fixture(scope="module")
def hopper_bgr(hopper_path):
    return cv2.cvtColor(load_image(hopper_path).rgb, cv2.COLOR_RGB2BGR)


def _png(bgr) -> bytes:
    return cv2.imencode(".png", bgr)[1].tobytes()


def _analyze(tiny_detector, face_detector, scripted, data: bytes, p: float, **options) -> Report:
    with Analyzer(tiny_detector, face_detector, predict=scripted(p), **options) as analyzer:
        report = analyzer.analyze_image(data)
    validate_report(report.to_json())
    return report


def test_a_tiny_face_is_inconclusive_with_the_size_reason(
    tiny_detector, face_detector, scripted, hopper_bgr
):
    scale = 0.6 * SIZE_FLOOR_PX / 195  # Grace Hopper's face is about 195 px wide
    height, width = hopper_bgr.shape[:2]
    small = cv2.resize(
        hopper_bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
    )
    report = _analyze(tiny_detector, face_detector, scripted, _png(small), 0.95, forensics=False)
    assert report.verdict == "inconclusive"
    assert report.faces and report.fake_probability == pytest.approx(0.95)  # kept as said
    assert any("px wide" in reason for reason in report.abstention.reasons)
    assert report.abstention.would_settle == SETTLE_COPY
    assert report.explanation.startswith("Inconclusive: The face is only")
    assert "What would settle it: a larger" in report.explanation
    assert "Judged" not in report.explanation


def test_a_heavily_compressed_jpeg_is_inconclusive_with_the_quality_reason(
    tiny_detector, face_detector, scripted, hopper_bgr
):
    quality = max(1, QUALITY_FLOOR // 2)
    data = cv2.imencode(".jpg", hopper_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    report = _analyze(tiny_detector, face_detector, scripted, data, 0.05)
    assert report.forensics["jpeg"]["quality"] == quality
    assert report.verdict == "inconclusive"
    assert report.abstention.reasons == [
        f"the JPEG is compressed at quality {quality}, below the quality {QUALITY_FLOOR} the "
        "detector needs to stay reliable"
    ]
    assert report.abstention.would_settle == SETTLE_COPY


@pytest.mark.parametrize(("p", "verdict"), [(0.95, "fake"), (0.05, "real")])
def test_a_normal_photo_keeps_its_verdict(
    tiny_detector, face_detector, scripted, hopper_bgr, p, verdict
):
    data = cv2.imencode(".jpg", hopper_bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    report = _analyze(tiny_detector, face_detector, scripted, data, p)
    assert report.verdict == verdict and report.abstention is None
    assert "abstention" not in report.to_json()


def test_a_score_inside_the_margin_band_asks_for_a_second_opinion(
    tiny_detector, face_detector, scripted, hopper_bgr
):
    p = 0.5 + MARGIN_BAND / 2
    report = _analyze(tiny_detector, face_detector, scripted, _png(hopper_bgr), p, forensics=False)
    assert report.verdict == "inconclusive"
    assert report.abstention.reasons == [
        f"the detector's score {p:.2f} is within {MARGIN_BAND:.2f} of the threshold 0.50, "
        "where it is often wrong"
    ]
    assert report.abstention.would_settle == SETTLE_SECOND
    again = Report.from_json(report.to_json())
    assert again.verdict == "inconclusive" and again.abstention == report.abstention


def test_the_schema_ties_the_abstention_to_the_inconclusive_verdict(
    tiny_detector, face_detector, scripted, hopper_bgr
):
    p = 0.5 + MARGIN_BAND / 2
    data = _analyze(
        tiny_detector, face_detector, scripted, _png(hopper_bgr), p, forensics=False
    ).to_json()
    without = {key: value for key, value in data.items() if key != "abstention"}
    with pytest.raises(ReportError):
        validate_report(without)
    with pytest.raises(ReportError):
        validate_report({**data, "verdict": "fake"})


def test_known_accuracy_reads_the_model_card_and_the_measured_degradation():
    assert family_aucs(BUNDLED)["face_swap"] == pytest.approx(0.952)
    face = SimpleNamespace(
        box=(0.0, 0.0, 30.0, 30.0),
        fake_probability=0.9,
        forgery_type=SimpleNamespace(label="face_swap"),
    )
    report = SimpleNamespace(faces=[face], forensics=None)
    bundled = SimpleNamespace(folder=BUNDLED, name=MEASURED_FOR)
    known = known_accuracy(bundled, report)
    assert known["family"] == "face_swap" and known["auc"] == pytest.approx(0.952)
    assert known["degradation"]["condition"] == "face about 32 px wide"
    assert known_accuracy(SimpleNamespace(folder=None, name="x"), report) is None
