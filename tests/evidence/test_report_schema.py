"""The `opendfa.report/2` document: exact keys, schema checks, and an explanation that names
only what the report holds."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from opendfa.evidence import (
    CUES,
    FaceEvidence,
    ForgeryType,
    FrameScore,
    InputInfo,
    MaskImage,
    ModelInfo,
    RegionEvidence,
    Report,
    ReportError,
    TrackScore,
    explain,
    validate_report,
)
from opendfa.evidence.report import report_schema
from opendfa.evidence.words import region_label
from opendfa.faces import REGION_NAMES
from opendfa.taxonomy import CATEGORIES

SHA = "ab" * 32
DESIGN_KEYS = [
    "schema",
    "input",
    "model",
    "verdict",
    "fake_probability",
    "forgery_type",
    "faces",
    "explanation",
    "warnings",
    "timings_ms",
    "forensics",
]


def _face(regions: list[RegionEvidence], probability: float = 0.93, **extra) -> FaceEvidence:
    probs = {"real": 0.07, "face_swap": 0.81, "face_reenactment": 0.06}
    mask = np.zeros((40, 30), np.float32)
    mask[10:30, 5:25] = 0.8
    return FaceEvidence(
        box=(10.0, 20.0, 40.0, 60.0),
        detection_score=0.98,
        fake_probability=probability,
        forgery_type=ForgeryType.decide(probs, probability >= 0.5),
        regions=regions,
        mask=MaskImage.from_array(mask, (10, 20, 40, 60)),
        cues={"blur_ratio": 1.4},
        **extra,
    )


def _report(faces: list[FaceEvidence], **extra) -> Report:
    decisive = max(faces, key=lambda f: f.fake_probability) if faces else None
    verdict = "no_face" if not faces else "fake" if decisive.fake_probability >= 0.5 else "real"
    report = Report(
        input=InputInfo("photo.jpg", SHA, "image", 64, 80, 1),
        model=ModelInfo("opendfa-lite0@1", "cd" * 32),
        verdict=verdict,
        fake_probability=decisive.fake_probability if decisive else None,
        forgery_type=decisive.forgery_type if decisive else None,
        faces=faces,
        timings_ms={"total": 52.3},
        **extra,
    )
    report.explanation = explain(report)
    return report


SAMPLE_REGIONS = [
    RegionEvidence("mouth", 0.88, {"blur_ratio": 1.9, "illumination_mismatch": -2.0}),
    RegionEvidence("left_cheek", 0.71, {"boundary_colour_mismatch": 7.2}),
    RegionEvidence("nose", 0.65, {}),
    RegionEvidence("right_eye", 0.62, {"left_right_asymmetry": 1.0}),
    RegionEvidence("chin", 0.2, {"edge_discontinuity": 3.0}),
]


def test_report_json_has_the_design_keys_in_order_and_validates():
    data = _report([_face(SAMPLE_REGIONS)]).to_json()
    assert list(data) == DESIGN_KEYS
    assert data["schema"] == "opendfa.report/2"
    assert list(data["input"]) == ["path", "sha256", "kind", "width", "height", "frames_analyzed"]
    assert data["forgery_type"]["label"] == "face_swap"
    assert set(data["forgery_type"]["probabilities"]) == set(CATEGORIES)
    face = data["faces"][0]
    assert face["mask"]["format"] == "png-base64"
    assert face["regions"][0] == {
        "name": "mouth",
        "score": 0.88,
        "cues": {"blur_ratio": 1.9, "illumination_mismatch": -2.0},
    }
    validate_report(data)
    validate_report(json.loads(json.dumps(data)))  # survives a trip through text


def test_report_round_trips_through_json():
    video = _report(
        [_face(SAMPLE_REGIONS, track_id=0, frame_index=4)],
        timeline=[FrameScore(0, 0.0, 0.5, 1), FrameScore(4, 0.13, 0.93, 1)],
        tracks=[TrackScore(0, [0, 4], [0.5, 0.93], 0.93, (10.0, 20.0, 40.0, 60.0))],
    )
    video.input = InputInfo("clip.mp4", SHA, "video", 64, 80, 2, fps=30.0)
    data = video.to_json()
    validate_report(data)
    assert Report.from_json(data).to_json() == data


def test_mask_png_decodes_to_the_values_and_box_it_was_made_from():
    values = np.linspace(0, 1, 12 * 7, dtype=np.float32).reshape(12, 7)
    mask = MaskImage.from_array(values, (3, 4, 10, 16))
    assert np.abs(mask.to_array() - values).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("explanation"),
        lambda d: d.update(verdict="maybe"),
        lambda d: d.update(fake_probability=1.5),
        lambda d: d.update(schema="opendfa.report/1"),  # old documents go via upgrade_report
        lambda d: d.update(schema="opendfa.report/3"),
        lambda d: d.pop("forensics"),
        lambda d: d.update(forensics={"findings": []}),
        lambda d: d["faces"][0]["regions"][0].update(name="ear"),
        lambda d: d["faces"][0]["regions"][0]["cues"].update(sharpness=2.0),
        lambda d: d["faces"][0].update(box=[1, 2, 3]),
        lambda d: d["input"].update(sha256="not-a-hash"),
        lambda d: d["forgery_type"]["probabilities"].pop("face_swap"),
        lambda d: d.update(surprise=True),
        lambda d: d.update(faces=[]),  # a fake verdict needs its faces
        lambda d: d.update(verdict="no_face"),  # ... and no_face must not list any
        lambda d: d.update(error="boom"),  # only error reports carry an error
        lambda d: d.update(timeline=[]),  # timeline length must match frames_analyzed
    ],
)
def test_schema_check_rejects_broken_reports(breakage):
    data = _report([_face(SAMPLE_REGIONS)]).to_json()
    broken = copy.deepcopy(data)
    breakage(broken)
    with pytest.raises(ReportError, match=r"report|no_face|faces|timeline"):
        validate_report(broken)


def test_schema_file_is_valid_json_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(report_schema())


def test_no_face_and_error_reports_validate():
    empty = _report([])
    assert empty.verdict == "no_face" and "No face" in empty.explanation
    validate_report(empty.to_json())
    failed = Report(
        input=InputInfo("broken.jpg"), model=ModelInfo("x@1", None), verdict="error", error="bad"
    )
    failed.explanation = explain(failed)
    validate_report(failed.to_json())
    assert failed.to_json()["error"] == "bad" and "bad" in failed.explanation


def _named(text: str, report: Report) -> tuple[set[str], set[str]]:
    """Region names and cue names whose words appear in the explanation."""
    regions = {name for name in REGION_NAMES if re.search(rf"\b{region_label(name)}\b", text)}
    found = {name for name, info in CUES.items() if info.label in text}
    return regions, found


def _assert_grounded(report: Report) -> None:
    regions, found = _named(report.explanation, report)
    decisive = max(report.faces, key=lambda f: f.fake_probability)
    present = {r.name: r for r in decisive.regions}
    assert regions <= set(present), (regions, report.explanation)
    for cue in found:
        assert any(cue in present[name].cues for name in regions), (cue, report.explanation)


def test_explanation_names_the_top_regions_with_their_strongest_cue_and_nothing_else():
    report = _report([_face(SAMPLE_REGIONS)])
    text = report.explanation
    assert text.startswith("Judged fake: the fake probability is 0.93")
    assert "face swap (0.81)" in text
    assert "mouth 0.88, blurrier than its untouched surroundings (blur ratio 1.90);" in text
    assert "left cheek 0.71, a colour step along the mask edge of 7.2 ΔE;" in text
    assert text.endswith("nose 0.65.")
    assert "right eye" not in text  # fourth region: only the top three are named
    assert "chin" not in text  # scores 0.2
    assert "brightness" not in text  # weaker than the blur cue in the same region
    _assert_grounded(report)


def test_explanation_leaves_out_weak_cues_and_low_regions_of_real_faces():
    weak = [RegionEvidence("nose", 0.6, {"blur_ratio": 1.05})]
    fake = _report([_face(weak, probability=0.7)])
    assert "nose 0.60." in fake.explanation and "blur" not in fake.explanation
    real = _report([_face([RegionEvidence("mouth", 0.3, {"blur_ratio": 3.0})], 0.2)])
    assert real.explanation.startswith("Judged real: the fake probability is 0.20")
    assert "mouth" not in real.explanation and "blur" not in real.explanation


def test_explanation_never_reads_as_equal_to_the_threshold():
    report = _report([_face(SAMPLE_REGIONS, probability=0.4952)])
    assert "0.495," in report.explanation


def test_explanation_is_grounded_for_random_reports():
    rng = np.random.default_rng(7)
    for _ in range(60):
        faces = []
        for _ in range(rng.integers(1, 4)):
            names = rng.choice(REGION_NAMES, size=rng.integers(0, 8), replace=False)
            regions = [
                RegionEvidence(
                    str(name),
                    float(rng.random()),
                    {
                        str(cue): float(rng.uniform(0.2, 12))
                        for cue in rng.choice(list(CUES), size=rng.integers(0, 4), replace=False)
                    },
                )
                for name in names
            ]
            faces.append(_face(regions, probability=float(rng.random())))
        report = _report(faces)
        validate_report(report.to_json())
        _assert_grounded(report)
