"""Issue 22, F2 end to end: the red team's AVI of 4 real frames then 60 swapped ones was FAKE
with its true frame count and REAL with a header claiming 4 or 2,000,000,000 frames. With
the bundled detector, the verdict must not depend on the header, and the report must say
that the header lied."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from opendfa.evidence.pipeline import Analyzer
from opendfa.media import load_image

SAMPLES = Path(__file__).parents[2] / "src" / "opendfa" / "assets" / "samples"


@pytest.fixture(scope="module")
def real_then_swapped(tmp_path_factory: pytest.TempPathFactory, avi_tools) -> Path:
    real = load_image(SAMPLES / "grace_hopper.jpg").rgb
    swapped = load_image(SAMPLES / "swap_collins_on_hopper.jpg").rgb
    size = (real.shape[1] // 4 * 2, real.shape[0] // 4 * 2)
    frames = [cv2.resize(real, size, interpolation=cv2.INTER_AREA)] * 4
    frames += [cv2.resize(swapped, size, interpolation=cv2.INTER_AREA)] * 60
    return avi_tools.write(tmp_path_factory.mktemp("f2") / "real-then-swapped.avi", frames)


@pytest.fixture(scope="module")
def analyzer():
    with Analyzer() as loaded:
        yield loaded


def test_header_frame_count_does_not_decide_the_verdict(
    real_then_swapped: Path, analyzer: Analyzer, avi_tools
) -> None:
    honest = analyzer.analyze_video(real_then_swapped, num_frames=8)
    assert honest.input.frames_analyzed == 8
    assert not any("header" in w for w in honest.warnings)
    for claimed in (4, 2_000_000_000):
        liar = analyzer.analyze_video(avi_tools.lie(real_then_swapped, claimed), num_frames=8)
        assert liar.verdict == honest.verdict
        assert liar.fake_probability == pytest.approx(honest.fake_probability, abs=0.02)
        assert liar.input.frames_analyzed == 8
        assert any(f"claims {claimed} frames but 64 decoded" in w for w in liar.warnings)
        # The frames judged reach into the swapped part, not only the 4 real frames.
        assert max(point.index for point in liar.timeline) >= 56
    assert np.isfinite(honest.fake_probability)
