"""`Analyzer.analyze_image`: the whole chain on real photos, faceless images and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.evidence import Analyzer, validate_report
from opendfa.evidence.abstain import MARGIN_BAND
from opendfa.faces import REGION_NAMES, alignment_for
from opendfa.media import MediaError


@pytest.fixture
def analyzer(tiny_detector, face_detector, scripted):
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.9)) as shared:
        yield shared


def test_astronaut_report_validates_and_puts_the_mask_on_the_face(analyzer, astronaut_path):
    report = analyzer.analyze_image(astronaut_path)
    data = report.to_json()
    validate_report(data)
    assert data["input"]["path"] == str(astronaut_path)
    assert data["input"]["kind"] == "image" and data["input"]["frames_analyzed"] == 1
    assert data["model"]["detector"] == "tiny@1"
    assert data["model"]["weights_sha256"] == analyzer.detector.weights_sha256
    assert data["verdict"] == "fake" and data["fake_probability"] == pytest.approx(0.9)
    assert data["forgery_type"]["label"] == "face_swap"
    assert len(report.faces) == 1
    face = report.faces[0]
    assert face.regions[0].name == "nose"  # sorted by score
    assert sorted(r.name for r in face.regions) == sorted(REGION_NAMES)
    assert {"blur_ratio", "boundary_colour_mismatch"} <= set(face.cues)
    # The disc in the middle of the crop lands on the middle of the aligned face.
    values = face.mask.to_array()
    x0, y0, x1, y1 = face.mask.box
    assert values.shape == (y1 - y0, x1 - x0)
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    ys, xs = np.nonzero(values > 0.5)
    side = analyzer.detector.config.input_size
    centre = alignment_for(_face_of(analyzer, astronaut_path), side, 0.25).to_image(
        np.array([[side / 2, side / 2]])
    )[0]
    assert xs.mean() + x0 + 0.5 == pytest.approx(centre[0], abs=1.5)
    assert ys.mean() + y0 + 0.5 == pytest.approx(centre[1], abs=1.5)
    assert "nose 0.90" in report.explanation
    assert report.timings_ms["total"] >= report.timings_ms["detector"] > 0


def _face_of(analyzer, path):
    from opendfa.media import load_image

    return analyzer.face_detector.detect(load_image(path).rgb)[0]


def test_untouched_detector_outputs_pass_through(tiny_detector, face_detector, astronaut_path):
    """The real `predict_crops` (random weights): the report holds exactly what it said."""
    from opendfa.faces import align_face
    from opendfa.media import load_image
    from opendfa.models.detector import predict_crops

    with Analyzer(tiny_detector, face_detector) as plain:
        report = plain.analyze_image(astronaut_path)
    validate_report(report.to_json())
    rgb = load_image(astronaut_path).rgb
    crop = align_face(rgb, face_detector.detect(rgb)[0], 128, 0.25).crop
    expected = predict_crops(tiny_detector, crop[None])[0]
    face = report.faces[0]
    assert face.fake_probability == pytest.approx(expected.fake_probability, abs=1e-5)
    assert {r.name: r.score for r in face.regions} == pytest.approx(expected.region_scores)
    side = "fake" if expected.fake_probability >= 0.5 else "real"
    near = abs(expected.fake_probability - 0.5) < MARGIN_BAND  # random weights: often so
    assert report.verdict == ("inconclusive" if near else side)


def test_the_report_keeps_the_judged_crop_of_the_decisive_face_out_of_its_json(
    analyzer, face_detector, astronaut_path
):
    """DFA-GPT reads the crop the detector judged, so a chat finds no face again; the crop
    stays in memory only."""
    from opendfa.faces import align_face
    from opendfa.media import load_image

    report = analyzer.analyze_image(astronaut_path)
    rgb = load_image(astronaut_path).rgb
    crop = align_face(rgb, face_detector.detect(rgb)[0], 128, 0.25).crop
    np.testing.assert_array_equal(report.decisive_crop, crop)
    assert "decisive_crop" not in str(report.to_json())


def test_threshold_decides_the_verdict(tiny_detector, face_detector, astronaut_path, scripted):
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.3)) as lenient:
        report = lenient.analyze_image(astronaut_path)
    assert report.verdict == "real" and report.forgery_type.label == "real"
    assert report.explanation.startswith("Judged real")
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.3), threshold=0.15) as strict:
        assert strict.analyze_image(astronaut_path).verdict == "fake"
    with pytest.raises(ValueError, match="threshold"):
        Analyzer(tiny_detector, face_detector, predict=scripted(0.3), threshold=1.0)


def test_image_is_as_fake_as_its_most_suspicious_face(
    tiny_detector, face_detector, group_photos, scripted
):
    path = group_photos["sample3.jpg"]
    scores = [0.2, 0.85, 0.4, 0.1, 0.3, 0.6, 0.05, 0.15]
    with Analyzer(tiny_detector, face_detector, predict=scripted(scores)) as several:
        report = several.analyze_image(path)
    validate_report(report.to_json())
    count = len(report.faces)
    assert count >= 2
    assert [f.fake_probability for f in report.faces] == pytest.approx(scores[:count])
    assert report.fake_probability == pytest.approx(max(scores[:count]))
    assert report.verdict == "fake"
    assert f"Face 2 of {count} decides" in report.explanation


def test_image_without_a_face_has_verdict_no_face(analyzer, no_face_png):
    report = analyzer.analyze_image(no_face_png)
    data = report.to_json()
    validate_report(data)
    assert data["verdict"] == "no_face" and data["faces"] == []
    assert data["fake_probability"] is None and data["forgery_type"] is None
    assert data["explanation"] == "No face was found in the image, so nothing was judged."


def test_small_face_crop_without_detection_is_judged_whole(analyzer, tmp_path, monkeypatch):
    import cv2
    from skimage.data import lfw_subset

    from opendfa.evidence.pipeline import CROP_FALLBACK_WARNING

    # A grey 25 px LFW face: too small for the landmark detector, plainly a face crop.
    face = (lfw_subset()[3] * 255).astype(np.uint8)
    path = tmp_path / "tiny_face.png"
    cv2.imwrite(str(path), face)
    # What the landmark detector does on such crops (it is shared by the whole session).
    monkeypatch.setattr(analyzer.face_detector, "detect", lambda rgb: [])
    report = analyzer.analyze_image(path)
    data = report.to_json()
    validate_report(data)
    # Judged, but a 25 px face is below the size floor: inconclusive, the score kept.
    assert data["verdict"] == "inconclusive" and data["fake_probability"] == pytest.approx(0.9)
    assert "px wide" in data["abstention"]["reasons"][0]
    assert len(data["faces"]) == 1 and CROP_FALLBACK_WARNING in data["warnings"]
    box = data["faces"][0]["box"]
    assert 0 <= box[0] < box[2] <= 25 and 0 <= box[1] < box[3] <= 25


def test_image_bytes_are_analysed_like_a_file(analyzer, astronaut_path):
    report = analyzer.analyze_image(astronaut_path.read_bytes())
    assert report.input.path == "<bytes>" and report.verdict == "fake"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.jpg", None, "file not found"),
        ("empty.jpg", b"", "empty file"),
        ("notes.jpg", b"just some text\n" * 20, "not a supported image (looks like text)"),
        ("cut.jpg", "truncate", "truncated image data"),
    ],
)
def test_bad_inputs_raise_one_line_media_errors(
    analyzer, astronaut_path, tmp_path, name, content, reason
):
    path = tmp_path / name
    if content == "truncate":
        path.write_bytes(astronaut_path.read_bytes()[:5000])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        analyzer.analyze_image(path)
    assert caught.value.reason == reason
    assert "\n" not in str(caught.value)


def test_verdict_follows_the_detector_operating_point(
    tmp_path, face_detector, scripted, astronaut_path
):
    """A folder's operating point (0.8) is the default line: P(fake) 0.62 is judged real;
    an explicit threshold still wins (both lines are outside the margin band of 0.62)."""
    from opendfa.models.detector import load_detector
    from opendfa.models.operating_point import OperatingPoint, save_operating_point
    from tiny_models import save_random_detector

    folder = save_random_detector(tmp_path / "tiny", name="tiny", input_size=128, mask_size=28)
    save_operating_point(folder, OperatingPoint(0.8), load_detector(folder).weights_sha256, {})
    detector = load_detector(folder)
    with Analyzer(detector, face_detector, predict=scripted(0.62)) as cautious:
        report = cautious.analyze_image(astronaut_path)
    assert cautious.threshold == pytest.approx(0.8)
    assert report.model.threshold == pytest.approx(0.8)
    assert report.verdict == "real"
    with Analyzer(detector, face_detector, predict=scripted(0.62), threshold=0.45) as plain:
        assert plain.analyze_image(astronaut_path).verdict == "fake"
