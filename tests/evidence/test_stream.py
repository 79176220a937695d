"""The forensic stream inside the analysis: the face's own pixels, calibrated, honest limits."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from opendfa.evidence.stream import ForensicStream
from opendfa.models.forensic import ForensicConfig, ForensicNet, save_forensic


@pytest.fixture(scope="module")
def stream(tmp_path_factory) -> ForensicStream:
    torch.manual_seed(0)
    folder = save_forensic(
        ForensicNet(ForensicConfig(width=8, depth=1)), tmp_path_factory.mktemp("f") / "m"
    )
    return ForensicStream(folder)


def test_a_face_is_judged_on_its_own_pixel_grid(stream, astronaut_rgb, astronaut_face) -> None:
    judged = stream.judge(astronaut_rgb, astronaut_face)
    assert judged.made and 0.0 < judged.probability < 1.0
    x0, y0, x1, y1 = judged.box
    fx0, fy0, fx1, fy1 = astronaut_face.box
    assert x0 <= fx0 and y0 <= fy0 and x1 >= fx1 and y1 >= fy1  # the face and some context
    assert judged.heat.shape == (y1 - y0, x1 - x0)  # one value per image pixel: no resize
    # The same pixels cut out of a larger canvas give the same answer (grid-aligned).
    canvas = np.zeros((astronaut_rgb.shape[0] + 40, astronaut_rgb.shape[1] + 40, 3), np.uint8)
    canvas[40:, 40:] = astronaut_rgb
    moved = replace(
        astronaut_face,
        box=tuple(v + 40 for v in astronaut_face.box),
        landmarks=astronaut_face.landmarks + np.array([40, 40, 0]),
    )
    again = stream.judge(canvas, moved)
    assert again.probability == pytest.approx(judged.probability, abs=1e-4)


def test_a_face_below_the_floor_is_not_judged_and_says_why(
    stream, astronaut_rgb, astronaut_face
) -> None:
    x0, y0, _, _ = astronaut_face.box
    tiny = replace(astronaut_face, box=(x0, y0, x0 + 30, y0 + 30))
    judged = stream.judge(astronaut_rgb, tiny)
    assert not judged.made and judged.probability is None
    assert "below the 64 px" in judged.reason
    assert judged.to_json() == {"made": False, "reason": judged.reason}


def test_the_analysis_reports_both_streams_and_their_fusion(
    tmp_path, astronaut_path, tiny_detector, face_detector
) -> None:
    import json

    from opendfa.evidence.fusion import Fusion
    from opendfa.evidence.pipeline import Analyzer
    from opendfa.evidence.report import validate_report

    torch.manual_seed(0)
    folder = save_forensic(ForensicNet(ForensicConfig(width=8, depth=1)), tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    fusion = Fusion(semantic_weight=1.0, forensic_weight=2.0, bias=-0.5, detector="tiny")
    config["fusion"] = fusion.to_json()
    (folder / "config.json").write_text(json.dumps(config))
    with Analyzer(
        tiny_detector, face_detector, forensic_stream=folder, forensics=False
    ) as analyzer:
        report = analyzer.analyze_image(astronaut_path)
    validate_report(report.to_json())
    [face] = report.faces
    assert face.forensic_stream["made"] and face.forensic_stream["model"] == "m@1"
    expected = fusion.combine(face.semantic_probability, face.forensic_stream["logit"])
    assert face.fake_probability == pytest.approx(expected, abs=1e-3)
    assert report.fake_probability == face.fake_probability
    assert "stream" in report.timings_ms
