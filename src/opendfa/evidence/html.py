"""A self-contained HTML report: one file, inline CSS, images as base64 PNG, no scripts.

It shows the image with the detector's mask as a heatmap and the face boxes, the verdict
card, the explanation, each face's region table with its measured cues, for videos a
timeline of per-frame scores, and for images the file's forensic checks (metadata, C2PA
provenance, JPEG structure) with the error-level and noise-residual maps beside the heatmap.
The page is `templates/report.html.j2`, rendered by Jinja2 with autoescape on, so every piece
of text is escaped: file names and warnings come from outside.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import jinja2
import numpy as np

from opendfa.evidence.cues import CUES
from opendfa.evidence.report import FaceEvidence, FlowImage, MaskImage, Report
from opendfa.evidence.words import category_label, region_label
from opendfa.forensics.copy_move import copy_move_line

if TYPE_CHECKING:
    from opendfa.forensics.maps import ForensicMaps

PREVIEW_SIDE = 720
_FAKE, _REAL = (220, 40, 40), (40, 170, 80)

TEMPLATES = Path(__file__).with_name("templates")


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.globals.update(
        cue_label=lambda name: CUES[name].label if name in CUES else name,
        cue_meaning=lambda name: CUES[name].meaning if name in CUES else "",
    )
    return environment


def render_html(report: Report) -> str:
    """The report as one HTML document (uses `report.preview` for the picture if present)."""
    info = report.input
    forgery = None
    if report.forgery_type is not None:
        ranked = sorted(report.forgery_type.probabilities.items(), key=lambda kv: -kv[1])
        forgery = {
            "label": category_label(report.forgery_type.label),
            "probabilities": [(category_label(k), v) for k, v in ranked],
        }
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            name=Path(info.path).name or info.path,
            forgery=forgery,
            images=_images(report),
            forensics=_forensics(report),
            timeline=_timeline(report),
            faces=[
                _face(number, face, report) for number, face in enumerate(report.faces, start=1)
            ],
            size=f"{info.width}x{info.height}" if info.width and info.height else "unknown size",
        )
    )


def write_html(report: Report, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report), encoding="utf-8")
    return target


@dataclass
class PreviewViews:
    """Images of a report at preview size: faces boxed, heatmap overlay, and the mask alone."""

    boxed: np.ndarray  # RGB
    overlay: np.ndarray  # RGB
    heat: np.ndarray  # float32 in [0, 1]


def preview_views(report: Report, max_side: int = PREVIEW_SIDE) -> PreviewViews | None:
    """The views the HTML report and the web UI show; None without a preview image."""
    if report.preview is None:
        return None
    rgb = report.preview
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
    faces = [
        face
        for face in report.faces
        if face.frame_index is None or face.frame_index == report.preview_frame
    ]
    heat = np.zeros(small.shape[:2], dtype=np.float32)
    for face in faces:
        _paste_mask(heat, face, scale)
    colours = cv2.cvtColor(
        cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB
    )
    alpha = (0.6 * heat)[..., None]
    overlay = (small * (1 - alpha) + colours * alpha).astype(np.uint8)
    boxed = small.copy()
    for canvas in (boxed, overlay):
        _draw_boxes(canvas, faces, scale, report.model.threshold)
    return PreviewViews(boxed=boxed, overlay=overlay, heat=heat)


def _images(report: Report) -> dict | None:
    views = preview_views(report)
    if views is None:
        return None
    caption = "" if report.preview_frame is None else f" (frame {report.preview_frame})"
    return {"boxed": _png(views.boxed), "overlay": _png(views.overlay), "caption": caption}


def _forensics(report: Report) -> dict[str, Any] | None:
    """The forensic section: findings, a few facts per check, and the two maps as images at
    preview size when the analysis that made the report kept them."""
    data = report.forensics
    if not data:
        return None
    metadata, provenance, jpeg = data["metadata"], data["provenance"], data["jpeg"]
    rows = [
        ("Camera", " ".join(v for v in (metadata["camera_make"], metadata["camera_model"]) if v)),
        ("Software", metadata["software"] or metadata["creator_tool"]),
        (
            "Taken / modified",
            " / ".join(v or "—" for v in (metadata["date_original"], metadata["date_modified"])),
        ),
        ("IPTC digital source type", metadata["digital_source_type"]),
        ("Content Credentials (C2PA)", _provenance_text(provenance)),
        (
            "C2PA actions",
            ", ".join(
                a["action"] + (f" ({a['digital_source_type']})" if a["digital_source_type"] else "")
                for a in provenance["actions"]
            ),
        ),
        ("JPEG", _jpeg_text(jpeg)),
        ("Copy-move (clone) check", copy_move_line(data.get("copy_move"))),
    ]
    maps = _map_images(report)
    return {
        "findings": list(data["findings"]),
        "rows": [(label, value) for label, value in rows if value and value != "— / —"],
        "maps": maps,
        "copy_move": _copy_move_image(report, data.get("copy_move")),
        "summary": data.get("maps"),
        "warnings": [
            *data["warnings"],
            *metadata["warnings"],
            *provenance["warnings"],
            *jpeg["warnings"],
        ],
    }


def _provenance_text(provenance: dict) -> str:
    words = {
        "trusted": "valid, signer trusted",
        "valid_untrusted": "valid, signer not on a trust list",
        "invalid": "present but invalid",
        "absent": "none (provenance unknown)",
        "unavailable": "not checked",
    }
    text = words.get(provenance["state"], provenance["state"])
    details = [provenance[k] for k in ("signer", "claim_generator", "reason") if provenance[k]]
    return f"{text} ({'; '.join(details)})" if details else text


def _jpeg_text(jpeg: dict) -> str | None:
    if not jpeg["is_jpeg"] or jpeg["quality"] is None:
        return None
    parts = [
        f"quality ≈ {jpeg['quality']}",
        "standard tables" if jpeg["standard_tables"] else "custom tables",
        jpeg["subsampling"] or "",
        "progressive" if jpeg["progressive"] else "baseline",
    ]
    if jpeg["double_compressed"]:
        parts.append(f"re-compressed (first quality ≈ {jpeg['first_quality']})")
    elif jpeg["double_compressed"] is False:
        parts.append("no re-compression pattern")
    return ", ".join(p for p in parts if p)


def _map_images(report: Report, max_side: int = PREVIEW_SIDE) -> dict[str, str] | None:
    """The maps the analysis made, coloured, at preview size. Not remade from a stored
    preview: that may be a downscaled, re-saved copy whose ELA says nothing of the file."""
    from opendfa.forensics.maps import colourize

    maps: ForensicMaps | None = report.forensic_maps
    if maps is None:
        return None
    images = {}
    for name, values in (("ela", maps.ela), ("noise", maps.noise)):
        scale = min(1.0, max_side / max(values.shape))
        if scale < 1.0:
            size = (max(1, round(values.shape[1] * scale)), max(1, round(values.shape[0] * scale)))
            values = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
        images[name] = _png(colourize(values))
    return images


def _copy_move_image(report: Report, record: dict | None) -> str | None:
    """The preview with each copied region's source (cyan) and copy (magenta) boxes joined by
    a line; None when nothing was found or there is no preview."""
    if not record or not record["regions"] or report.preview is None or not report.input.width:
        return None
    rgb = report.preview
    scale = min(1.0, PREVIEW_SIDE / max(rgb.shape[:2]))
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    canvas = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
    factor = size[0] / report.input.width  # region boxes are in the input's pixels
    for region in record["regions"]:
        boxes = [[round(v * factor) for v in region[k]] for k in ("source_box", "target_box")]
        for (x0, y0, x1, y1), colour in zip(boxes, ((0, 200, 230), (230, 0, 200)), strict=True):
            cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, 2)
        centres = [((b[0] + b[2]) // 2, (b[1] + b[3]) // 2) for b in boxes]
        cv2.arrowedLine(canvas, centres[0], centres[1], (255, 255, 255), 1, tipLength=0.05)
    return _png(canvas)


def _paste_mask(heat: np.ndarray, face: FaceEvidence, scale: float) -> None:
    if face.mask is None:
        return
    try:
        values = face.mask.to_array()
    except ValueError:
        return
    x0, y0, x1, y1 = (round(v * scale) for v in face.mask.box)
    x1, y1 = min(x1, heat.shape[1]), min(y1, heat.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    resized = cv2.resize(values, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    np.maximum(heat[y0:y1, x0:x1], resized, out=heat[y0:y1, x0:x1])


def _draw_boxes(canvas: np.ndarray, faces: list[FaceEvidence], scale: float, threshold: float):
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for number, face in enumerate(faces, start=1):
        colour = _FAKE if face.fake_probability >= threshold else _REAL
        x0, y0, x1, y1 = (round(v * scale) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness, cv2.LINE_AA)
        label = f"#{number} {face.fake_probability:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        top = max(th + 4, y0)
        cv2.rectangle(canvas, (x0, top - th - 4), (x0 + tw + 4, top), colour, -1)
        cv2.putText(
            canvas, label, (x0 + 2, top - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1
        )


def _face(number: int, face: FaceEvidence, report: Report | None = None) -> dict:
    title = f"Face {number}"
    if face.track_id is not None:
        title += f" (track {face.track_id}, frame {face.frame_index})"
    regions = [
        {
            "label": region_label(r.name),
            "score": r.score,
            "bar": round(60 * r.score),
            "cues": r.cues,
        }
        for r in face.regions
    ]
    return {
        "title": title,
        "label": category_label(face.forgery_type.label),
        "fake_probability": face.fake_probability,
        "detection_score": face.detection_score,
        "cues": face.cues,
        "regions": regions,
        "stream": stream_line(face),
        "stream_map": _stream_map(face),
        "stream_flow": stream_flow_image(face, report),
    }


def _stream_map(face: FaceEvidence) -> str | None:
    """The forensic stream's manipulation map as a colour image of the face's box (PNG data
    URI), or None when the stream did not run or stored no map."""
    record = (face.forensic_stream or {}).get("map")
    if not record:
        return None
    try:
        heat = MaskImage(record["data"], tuple(record["box"])).to_array()
    except (KeyError, TypeError, ValueError):
        return None
    colours = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return _png(cv2.cvtColor(colours, cv2.COLOR_BGR2RGB))


FLOW_VIEW_SIDE = 240  # px: the flow view is drawn at least this wide, arrows need room
FLOW_ARROWS = 14  # arrows along the box's longer side


def stream_flow_image(face: FaceEvidence, report: Report | None = None) -> str | None:
    """The flow head's predicted displacement as arrows over the face (PNG data URI), or None
    when no flow was stored or no part of it moved more than the motion floor.

    An arrow runs from where the pixels were to where they are now (the stored field is
    backward: the pixel at p shows what was at p + d), coloured from yellow at the floor to
    red at twice the floor or more; moves under the floor are not drawn, so an empty face
    means nothing above the floor, not nothing edited."""
    record = face.forensic_stream or {}
    if not record.get("flow") or not record.get("made"):
        return None
    try:
        stored = FlowImage.from_json(record["flow"])
        flow = stored.to_array()
    except (KeyError, TypeError, ValueError):
        return None
    floor = float(record.get("motion_floor_px") or 0.0)
    length = np.hypot(flow[..., 0], flow[..., 1])
    if not (length > floor).any():
        return None
    height, width = flow.shape[:2]
    zoom = max(1.0, FLOW_VIEW_SIDE / max(width, 1))
    canvas = _flow_background(report, stored.box, (round(width * zoom), round(height * zoom)))
    step = max(4, round(max(width, height) / FLOW_ARROWS))
    for y in range(step // 2, height, step):
        for x in range(step // 2, width, step):
            dx, dy = flow[y, x]
            moved = float(np.hypot(dx, dy))
            if moved <= floor:
                continue
            strength = min(1.0, (moved - floor) / max(floor, 0.5))
            colour = (255, round(220 * (1 - strength)), 0)
            start = (round((x + dx) * zoom), round((y + dy) * zoom))
            end = (round(x * zoom), round(y * zoom))
            cv2.arrowedLine(canvas, start, end, colour, 1, cv2.LINE_AA, tipLength=0.3)
    return _png(canvas)


def _flow_background(
    report: Report | None, box: tuple[int, int, int, int], size: tuple[int, int]
) -> np.ndarray:
    """The face's box from the report's preview, grey and faded so the arrows stand out; a
    plain grey canvas without a preview."""
    blank = np.full((size[1], size[0], 3), 96, np.uint8)
    if report is None or report.preview is None or not report.input.width:
        return blank
    factor = report.preview.shape[1] / report.input.width  # the preview may be downscaled
    x0, y0, x1, y1 = (round(v * factor) for v in box)
    crop = report.preview[max(0, y0) : max(y0 + 1, y1), max(0, x0) : max(x0 + 1, x1)]
    if crop.size == 0:
        return blank
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
    faded = (grey.astype(np.float32) * 0.5 + 40).astype(np.uint8)
    return cv2.cvtColor(faded, cv2.COLOR_GRAY2RGB)


def stream_line(face: FaceEvidence) -> str | None:
    """The forensic stream's word on a face in one sentence: its score beside the semantic
    detector's, or why the check was not made, and which regions it thinks were moved."""
    record = face.forensic_stream
    if not record:
        return None
    if not record.get("made"):
        reason = record.get("reason") or "no reason given"
        return f"not made ({reason}); this is not evidence of real."
    text = f"P(manipulated) {record['probability']:.2f}"
    semantic = face.semantic_probability
    if semantic is not None and abs(semantic - face.fake_probability) > 1e-6:
        text += f" (semantic detector {semantic:.2f}, combined {face.fake_probability:.2f})"
    elif semantic is not None:
        text += f" (semantic detector {semantic:.2f}; not combined: the verdict is its alone)"
    moved = record.get("moved")
    if moved:
        parts = [f"{region_label(m['region'])} about {m['peak_px']:.1f} px" for m in moved[:3]]
        text += "; predicted displacement: " + ", ".join(parts)
    elif moved is not None:
        floor = record.get("motion_floor_px", 0)
        text += (
            f"; its flow head predicts no region moved more than {floor:.1f} px (its floor), "
            "which is not evidence that nothing was edited"
        )
    return text + "."


def _timeline(report: Report) -> dict | None:
    """The per-frame score chart's geometry: lines through scored frames, one dot each."""
    if not report.timeline:
        return None
    width, height, pad = 640, 110, 8
    count = len(report.timeline)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / max(count - 1, 1))

    def y(p: float) -> float:
        return pad + (height - 2 * pad) * (1 - p)

    runs: list[list[str]] = [[]]
    dots = []
    for i, frame in enumerate(report.timeline):
        if frame.fake_probability is None:
            runs.append([])
            continue
        px, py = f"{x(i):.1f}", f"{y(frame.fake_probability):.1f}"
        runs[-1].append(f"{px},{py}")
        dots.append(
            {
                "x": px,
                "y": py,
                "index": frame.index,
                "time": frame.timestamp_s,
                "p": frame.fake_probability,
            }
        )
    return {
        "width": width,
        "height": height,
        "pad": pad,
        "count": count,
        "limit": f"{y(report.model.threshold):.1f}",
        "runs": [" ".join(run) for run in runs if len(run) > 1],
        "dots": dots,
        "tracks": report.tracks or [],
    }


def _png(rgb: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB array
        raise ValueError("cannot encode image as PNG")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")
