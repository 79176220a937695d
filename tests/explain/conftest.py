"""Reports built by hand, so each test knows exactly what evidence the answers may use."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.evidence.report import (
    FaceEvidence,
    ForgeryType,
    FrameScore,
    InputInfo,
    MaskImage,
    ModelInfo,
    RegionEvidence,
    Report,
)
from opendfa.faces import REGION_NAMES
from opendfa.taxonomy import CATEGORIES


def build_report(
    probability: float,
    *,
    category: str = "face_swap",
    region_scores: dict[str, float] | None = None,
    region_cues: dict[str, dict[str, float]] | None = None,
    cues: dict[str, float] | None = None,
    warnings: list[str] | None = None,
    timeline: list[float | None] | None = None,
    path: str = "photo.jpg",
) -> Report:
    region_scores = region_scores or {}
    region_cues = region_cues or {}
    probs = {c: 0.05 for c in CATEGORIES}
    probs[category] = 0.8
    is_fake = probability >= 0.5
    mask = np.zeros((100, 100), np.float32)
    if is_fake:
        mask[40:80, 30:70] = 0.9
    face = FaceEvidence(
        box=(100.0, 50.0, 200.0, 150.0),
        detection_score=0.95,
        fake_probability=probability,
        forgery_type=ForgeryType.decide(probs, is_fake),
        regions=[
            RegionEvidence(n, region_scores.get(n, 0.1), region_cues.get(n, {}))
            for n in REGION_NAMES
        ],
        mask=MaskImage.from_array(mask, (100, 50, 200, 150)),
        cues=cues or {},
    )
    frames = None
    if timeline is not None:
        frames = [
            FrameScore(
                index=10 * k, timestamp_s=0.4 * k, fake_probability=p, faces=int(p is not None)
            )
            for k, p in enumerate(timeline)
        ]
    return Report(
        input=InputInfo(
            path,
            "0" * 64,
            "video" if timeline is not None else "image",
            640,
            480,
            len(timeline) if timeline is not None else 1,
        ),
        model=ModelInfo("opendfa-lite0@1", "ab" * 32, 0.5),
        verdict="fake" if is_fake else "real",
        fake_probability=probability,
        forgery_type=face.forgery_type,
        faces=[face],
        warnings=warnings or [],
        timeline=frames,
    )


@pytest.fixture
def fake_report() -> Report:
    return build_report(
        0.91,
        region_scores={"mouth": 0.83, "chin": 0.64, "nose": 0.3},
        region_cues={
            "mouth": {"blur_ratio": 2.1, "noise_residual_ratio": 1.05},
            "nose": {"blur_ratio": 3.0},
        },
        cues={"boundary_colour_mismatch": 7.5, "illumination_mismatch": 0.5},
    )


@pytest.fixture
def real_report() -> Report:
    return build_report(0.12, region_scores={"forehead": 0.31}, category="face_editing")


@pytest.fixture
def make_report():
    """`make_report(probability, **evidence)` builds a report (see `build_report`)."""
    return build_report


@pytest.fixture(autouse=True)
def no_bundled_dfa_gpt(monkeypatch):
    """`opendfa chat` picks the bundled DFA-GPT when there is one; tests see none unless they
    put one there (`monkeypatch.setattr(dfagpt, "bundled_model_dir", ...)`)."""
    monkeypatch.setattr("opendfa.models.dfagpt.bundled_model_dir", lambda: None)
