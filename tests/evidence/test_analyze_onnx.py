"""`Analyzer` on the bundled detector's ONNX export: chosen by default on the CPU, and the same
report as the torch model gives (cues and masks included)."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.evidence import Analyzer

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def reports(face_detector, astronaut_path):
    from opendfa.models.detector import LoadedDetector
    from opendfa.models.onnx_detector import OnnxDetector

    made = {}
    for backend, kind in (("auto", OnnxDetector), ("torch", LoadedDetector)):
        with Analyzer(face_detector=face_detector, backend=backend) as analyzer:
            assert isinstance(analyzer.detector, kind)
            made[backend] = analyzer.analyze_image(astronaut_path)
    return made["auto"], made["torch"]


def test_onnx_and_torch_analyzers_give_the_same_report(reports):
    onnx, torch = reports
    assert onnx.model == torch.model  # same name and weights sha256: the report cannot tell
    assert onnx.verdict == torch.verdict
    assert onnx.fake_probability == pytest.approx(torch.fake_probability, abs=1e-4)
    (a,), (b,) = onnx.faces, torch.faces
    assert a.forgery_type.label == b.forgery_type.label
    for name, p in b.forgery_type.probabilities.items():
        assert a.forgery_type.probabilities[name] == pytest.approx(p, abs=1e-4)
    assert [r.name for r in a.regions] == [r.name for r in b.regions]
    for x, y in zip(a.regions, b.regions, strict=True):
        assert x.score == pytest.approx(y.score, abs=1e-4)
    assert a.mask.box == b.mask.box
    # The image-space mask is stored as 8-bit PNG: one grey level at most.
    assert np.abs(a.mask.to_array() - b.mask.to_array()).max() <= 1 / 255 + 1e-6
    assert a.cues.keys() == b.cues.keys()
    for name, value in b.cues.items():
        assert a.cues[name] == pytest.approx(value, rel=1e-3, abs=1e-3)
    assert onnx.explanation == torch.explanation


def test_the_device_decides_too(face_detector):
    """A model name on another device than the CPU loads torch's (CUDA is torch's)."""
    from opendfa.models.onnx_detector import OnnxUnavailable

    with pytest.raises(OnnxUnavailable, match="CPU"):
        Analyzer(face_detector=face_detector, device="cuda", backend="onnx")
