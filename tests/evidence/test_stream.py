"""The forensic stream inside the analysis: the face's own pixels, calibrated, honest limits."""

from __future__ import annotations

import json
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
    landmarks = astronaut_face.landmarks.copy()
    spread = landmarks[:, 0].max() - landmarks[:, 0].min()
    landmarks[:, :2] = (x0, y0) + (landmarks[:, :2] - landmarks[:, :2].min(axis=0)) * 30 / spread
    tiny = replace(astronaut_face, box=(x0, y0, x0 + 30, y0 + 30), landmarks=landmarks)
    judged = stream.judge(astronaut_rgb, tiny)
    assert not judged.made and judged.probability is None
    assert "below the 64 px" in judged.reason
    assert judged.to_json() == {"made": False, "reason": judged.reason}


def test_the_analysis_reports_both_streams_and_their_fusion(
    tmp_path, astronaut_path, tiny_detector, face_detector
) -> None:

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


def test_the_flow_head_names_the_regions_that_moved_and_by_how_much(
    tmp_path, astronaut_rgb, astronaut_face, constant_flow_stream
) -> None:
    from opendfa.models.forensic import predict_map

    moving = ForensicStream(constant_flow_stream(tmp_path / "moving", (3.0, 4.0)))  # 5 px
    judged = moving.judge(astronaut_rgb, astronaut_face)
    names = [m.region for m in judged.moved]
    assert {"nose", "mouth", "left_eye", "right_eye"} <= set(names)
    assert "skin" not in names and "face_boundary" not in names  # the parts, not the whole
    assert all(m.peak_px == pytest.approx(5.0, abs=0.01) for m in judged.moved)
    x0, y0, x1, y1 = judged.box
    assert judged.flow.shape == (y1 - y0, x1 - x0, 2)
    record = judged.to_json()
    assert record["moved"][0]["peak_px"] == pytest.approx(5.0, abs=0.01)
    assert record["motion_floor_px"] == 1.5
    # One pass gives both heads: the map is the one `predict_map` gives alone.
    alone = predict_map(moving.model, astronaut_rgb[y0:y1, x0:x1])
    assert np.allclose(judged.heat, 1 / (1 + np.exp(-alone)), atol=1e-3)

    still = ForensicStream(constant_flow_stream(tmp_path / "still", (0.5, 0.5)))  # < floor
    judged = still.judge(astronaut_rgb, astronaut_face)
    assert judged.moved == [] and judged.to_json()["moved"] == []


def test_a_model_without_the_flow_head_says_nothing_of_motion(
    stream, astronaut_rgb, astronaut_face
) -> None:
    judged = stream.judge(astronaut_rgb, astronaut_face)
    assert judged.moved is None and judged.flow is None
    assert "moved" not in judged.to_json()


def test_the_html_report_states_the_pixel_level_check(
    tmp_path, astronaut_path, tiny_detector, face_detector, constant_flow_stream
) -> None:
    from opendfa.evidence.html import render_html
    from opendfa.evidence.pipeline import Analyzer
    from opendfa.evidence.report import validate_report

    constant_flow_stream(tmp_path / "moving", (3.0, 4.0))
    with Analyzer(
        tiny_detector, face_detector, forensic_stream=tmp_path / "moving", forensics=False
    ) as analyzer:
        report = analyzer.analyze_image(astronaut_path)
    validate_report(report.to_json())
    [face] = report.faces
    stored = face.forensic_stream["map"]
    x0, y0, x1, y1 = stored["box"]
    fx0, fy0, fx1, fy1 = face.box
    assert x0 <= fx0 and y0 <= fy0 and x1 >= fx1 and y1 >= fy1  # the face's own pixels
    from opendfa.evidence.report import MaskImage

    assert MaskImage(stored["data"], tuple(stored["box"])).to_array().shape == (y1 - y0, x1 - x0)
    html = render_html(report)
    assert 'alt="pixel-level manipulation map of the face"' in html
    assert "Pixel-level check: P(manipulated)" in html
    assert "predicted displacement:" in html and "about 5.0 px" in html
    assert "not combined" in html  # this model carries no fusion: the verdict is semantic
    from opendfa.evidence.report import FlowImage

    flow = FlowImage.from_json(face.forensic_stream["flow"]).to_array()
    assert flow.shape == (y1 - y0, x1 - x0, 2)
    assert np.allclose(flow[..., 0], 3.0, atol=0.05) and np.allclose(flow[..., 1], 4.0, atol=0.05)
    assert 'alt="predicted displacement of the face\'s pixels"' in html


def test_a_flow_survives_its_png_to_a_fraction_of_a_pixel() -> None:
    from opendfa.evidence.report import FlowImage

    ys, xs = np.mgrid[0:40, 0:60].astype(np.float32)
    flow = np.dstack([np.sin(xs / 9) * 6.0, np.cos(ys / 7) * -2.5])  # a smooth bulge-like field
    stored = FlowImage.from_array(flow, (10, 20, 70, 60))
    back = FlowImage.from_json(stored.to_json()).to_array()
    assert back.shape == flow.shape
    assert np.abs(back - flow).max() <= stored.scale_px / 255 + 1e-4
    broken = flow.copy()
    broken[0, 0] = np.nan  # a diverged head: stored as no move there, the scale stays finite
    kept = FlowImage.from_array(broken, (10, 20, 70, 60))
    assert np.isfinite(kept.scale_px) and np.isfinite(kept.to_array()).all()
    still = FlowImage.from_array(np.zeros((8, 8, 2), np.float32), (0, 0, 8, 8))
    assert still.scale_px == 0.5 and np.abs(still.to_array()).max() < 0.002


def test_the_flow_view_draws_moves_above_the_floor_only() -> None:
    import base64

    import cv2

    from opendfa.evidence.html import stream_flow_image
    from opendfa.evidence.report import FaceEvidence, FlowImage

    flow = np.zeros((80, 80, 2), np.float32)
    flow[20:40, 20:40] = (0.0, 6.0)  # one square moved 6 px
    face = FaceEvidence.__new__(FaceEvidence)
    record = {"made": True, "motion_floor_px": 1.5}
    face.forensic_stream = {**record, "flow": FlowImage.from_array(flow, (0, 0, 80, 80)).to_json()}
    uri = stream_flow_image(face)
    assert uri is not None and uri.startswith("data:image/png;base64,")
    raw = np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8)
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR)[..., ::-1]
    coloured = (image[..., 0].astype(int) - image[..., 2]) > 100  # red/yellow arrows on grey
    ys, xs = np.nonzero(coloured)
    zoom = image.shape[1] / 80
    assert ys.size and xs.min() >= 15 * zoom and xs.max() <= 45 * zoom  # only the square
    face.forensic_stream = {
        **record,
        "flow": FlowImage.from_array(flow * 0.2, (0, 0, 80, 80)).to_json(),  # 1.2 px
    }
    assert stream_flow_image(face) is None
    face.forensic_stream = {"made": False, "reason": "too small"}
    assert stream_flow_image(face) is None


def test_a_check_not_made_is_never_read_as_real() -> None:
    from opendfa.evidence.html import stream_line
    from opendfa.evidence.report import FaceEvidence

    face = FaceEvidence.__new__(FaceEvidence)
    face.forensic_stream = {"made": False, "reason": "the face is 30 px wide"}
    assert stream_line(face) == ("not made (the face is 30 px wide); this is not evidence of real.")


def test_below_the_jpeg_floor_the_check_is_not_made(
    tmp_path, astronaut_rgb, tiny_detector, face_detector
) -> None:
    """A model whose limits say it needs JPEG quality 80 does not judge a quality-50 file,
    says why, and the semantic verdict stands alone; a PNG of the same pixels is judged."""
    import cv2

    from opendfa.evidence.pipeline import Analyzer

    torch.manual_seed(0)
    folder = save_forensic(ForensicNet(ForensicConfig(width=8, depth=1)), tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["limits"] = {"min_jpeg_quality": 80}
    (folder / "config.json").write_text(json.dumps(config))
    bgr = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR)
    low = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes()
    png = cv2.imencode(".png", bgr)[1].tobytes()
    with Analyzer(tiny_detector, face_detector, forensic_stream=folder, forensics=False) as a:
        [low_face] = a.analyze_image(low).faces
        [png_face] = a.analyze_image(png).faces
        (tmp_path / "low.jpg").write_bytes(low)
        [path_face] = a.analyze_image(tmp_path / "low.jpg").faces  # read from the file too
    record = low_face.forensic_stream
    assert not record["made"] and "quality 50, below the 80" in record["reason"]
    assert not path_face.forensic_stream["made"]
    assert png_face.forensic_stream["made"]


def test_region_motion_names_only_the_region_that_moved(astronaut_face) -> None:
    """Flow set inside the nose's box only: the nose leads, the far regions stay silent, and
    a box that starts elsewhere in the image gives the same answer (coordinates honoured)."""
    from opendfa.evidence.stream import region_motion
    from opendfa.faces.regions import region_masks

    fx0, fy0, fx1, fy1 = (int(v) for v in astronaut_face.box)
    box = (fx0 - 10, fy0 - 10, fx1 + 10, fy1 + 10)
    shape = (box[3] - box[1], box[2] - box[0])
    landmarks = astronaut_face.landmarks[:, :2] - (box[0], box[1])
    nose = region_masks(landmarks, (shape[1], shape[0])).full("nose")
    flow = np.zeros((*shape, 2), np.float32)
    flow[nose, 0] = 4.0
    moved = region_motion(flow, astronaut_face, box, floor_px=1.5)
    names = [m.region for m in moved]
    assert names[0] == "nose" and moved[0].median_px == pytest.approx(4.0)
    assert not {"forehead", "chin", "left_eyebrow", "right_eyebrow"} & set(names)


def test_the_floor_reads_the_toolbox_quality_or_the_file_header(astronaut_rgb) -> None:
    import cv2

    from opendfa.evidence.pipeline import _jpeg_quality
    from opendfa.media import load_image

    bgr = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR)
    data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 55])[1].tobytes()
    jpeg = load_image(data)
    assert jpeg.format == "JPEG" and jpeg.data == data  # the bytes read once, kept
    assert _jpeg_quality(jpeg, {"jpeg": {"quality": 42}}) == 42  # the toolbox's record
    assert _jpeg_quality(jpeg, None) == 55  # the header, toolbox off
    assert _jpeg_quality(load_image(bytearray(data)), {"jpeg": {"is_jpeg": True}}) == 55
    png = load_image(cv2.imencode(".png", bgr)[1].tobytes())
    assert _jpeg_quality(png, None) is None
