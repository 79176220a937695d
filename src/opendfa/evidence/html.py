"""A self-contained HTML report: one file, inline CSS, images as base64 PNG, no scripts.

It shows the image with the detector's mask as a heatmap and the face boxes, the verdict
card, the explanation, each face's region table with its measured cues, and for videos a
timeline of per-frame scores. Every piece of text is escaped: file names and warnings come
from outside.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape
from pathlib import Path

import cv2
import numpy as np

from opendfa.evidence.cues import CUES
from opendfa.evidence.report import FaceEvidence, Report
from opendfa.evidence.words import category_label, region_label

PREVIEW_SIDE = 720
_FAKE, _REAL = (220, 40, 40), (40, 170, 80)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;
color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.3rem;word-break:break-all}h2{font-size:1.1rem;margin-top:28px}
.card{background:#fff;border-radius:10px;padding:16px 20px;margin:14px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
.verdict{font-size:1.6rem;font-weight:700;text-transform:uppercase}
.fake{color:#c62828}.real{color:#2e7d32}.no_face,.error{color:#6d6d6d}
.images{display:flex;flex-wrap:wrap;gap:12px}.images figure{margin:0;flex:1 1 320px}
.images img{max-width:100%;border-radius:6px}figcaption{font-size:.85rem;color:#555}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e5ea;vertical-align:top}
.bar{display:inline-block;height:9px;background:#c62828;border-radius:4px;margin-right:6px}
.muted{color:#666;font-size:.85rem}code{word-break:break-all}
"""


def render_html(report: Report) -> str:
    """The report as one HTML document (uses `report.preview` for the picture if present)."""
    name = Path(report.input.path).name or report.input.path
    body = [
        f"<h1>OpenDFA report: {escape(name)}</h1>",
        _verdict_card(report),
        _images(report),
        _timeline(report),
        *(_face_section(number, face) for number, face in enumerate(report.faces, start=1)),
        _details(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>OpenDFA report: {escape(name)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(part for part in body if part)}</main></body></html>\n"
    )


def write_html(report: Report, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report), encoding="utf-8")
    return target


def _verdict_card(report: Report) -> str:
    verdict = escape(report.verdict.replace("_", " "))
    rows = []
    if report.fake_probability is not None:
        rows.append(
            f"<div>Fake probability <b>{report.fake_probability:.2f}</b> "
            f"(threshold {report.model.threshold:.2f})</div>"
        )
    if report.forgery_type is not None:
        label = category_label(report.forgery_type.label)
        probabilities = ", ".join(
            f"{escape(category_label(k))} {v:.2f}"
            for k, v in sorted(report.forgery_type.probabilities.items(), key=lambda kv: -kv[1])
        )
        rows.append(f"<div>Forgery type <b>{escape(label)}</b> ({probabilities})</div>")
    if report.error:
        rows.append(f"<div>Error: {escape(report.error)}</div>")
    return (
        f'<section class="card"><div class="verdict {escape(report.verdict)}">{verdict}</div>'
        f"{''.join(rows)}<p>{escape(report.explanation)}</p></section>"
    )


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


def _images(report: Report) -> str:
    views = preview_views(report)
    if views is None:
        return ""
    caption = "" if report.preview_frame is None else f" (frame {report.preview_frame})"
    return (
        '<section class="card images">'
        f'<figure><img alt="analysed image" src="{_png(views.boxed)}">'
        f"<figcaption>Faces found{escape(caption)}</figcaption></figure>"
        f'<figure><img alt="manipulation heatmap" src="{_png(views.overlay)}">'
        "<figcaption>Where the detector sees manipulation (red: likely)</figcaption></figure>"
        "</section>"
    )


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


def _face_section(number: int, face: FaceEvidence) -> str:
    title = f"Face {number}"
    if face.track_id is not None:
        title += f" (track {face.track_id}, frame {face.frame_index})"
    label = category_label(face.forgery_type.label)
    rows = "".join(
        f"<tr><td>{escape(region_label(r.name))}</td>"
        f'<td><span class="bar" style="width:{round(60 * r.score)}px"></span>{r.score:.2f}</td>'
        f"<td>{_cue_text(r.cues)}</td></tr>"
        for r in face.regions
    )
    whole = _cue_text(face.cues)
    return (
        f'<section class="card"><h2>{escape(title)}</h2>'
        f"<div>Fake probability <b>{face.fake_probability:.2f}</b>, type {escape(label)}, "
        f"detection score {face.detection_score:.2f}</div>"
        f'<div class="muted">Cues of the whole mask: {whole}</div>'
        "<table><tr><th>Region</th><th>Score</th><th>Measured cues</th></tr>"
        f"{rows}</table></section>"
    )


def _cue_text(cues: dict[str, float]) -> str:
    if not cues:
        return '<span class="muted">none measured</span>'
    return ", ".join(
        f'<span title="{escape(CUES[name].meaning) if name in CUES else ""}">'
        f"{escape(CUES[name].label if name in CUES else name)} {value:.2f}</span>"
        for name, value in cues.items()
    )


def _timeline(report: Report) -> str:
    if not report.timeline:
        return ""
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
        point = f"{x(i):.1f},{y(frame.fake_probability):.1f}"
        runs[-1].append(point)
        dots.append(
            f'<circle cx="{x(i):.1f}" cy="{y(frame.fake_probability):.1f}" r="2.5">'
            f"<title>frame {frame.index} ({frame.timestamp_s:.2f} s): "
            f"{frame.fake_probability:.2f}</title></circle>"
        )
    lines = "".join(
        f'<polyline fill="none" stroke="#c62828" stroke-width="2" points="{" ".join(run)}"/>'
        for run in runs
        if len(run) > 1
    )
    limit = y(report.model.threshold)
    svg = (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="fake probability per frame">'
        f'<rect width="{width}" height="{height}" fill="#fafafa"/>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{limit:.1f}" y2="{limit:.1f}" stroke="#999" '
        'stroke-dasharray="4 3"/>'
        f'{lines}<g fill="#c62828">{"".join(dots)}</g></svg>'
    )
    tracks = "".join(
        f"<tr><td>{t.track_id}</td><td>{len(t.frames)}</td><td>{t.fake_probability:.2f}</td>"
        f"<td>{max(t.scores):.2f}</td></tr>"
        for t in report.tracks or []
    )
    table = (
        "<table><tr><th>Track</th><th>Frames</th><th>Score (top frames)</th><th>Best frame</th>"
        f"</tr>{tracks}</table>"
        if tracks
        else ""
    )
    return (
        '<section class="card"><h2>Timeline</h2>'
        f'<div class="muted">Highest face score in each of {count} sampled frames; '
        "dashed: threshold; gaps: no face.</div>"
        f"{svg}{table}</section>"
    )


def _details(report: Report) -> str:
    info = report.input
    size = f"{info.width}x{info.height}" if info.width and info.height else "unknown size"
    warnings = "".join(f"<li>{escape(w)}</li>" for w in report.warnings)
    timings = ", ".join(f"{escape(k)} {v:.0f} ms" for k, v in report.timings_ms.items())
    return (
        '<section class="card muted">'
        f"<div>Input <code>{escape(info.path)}</code> ({escape(info.kind)}, {size}, "
        f"{info.frames_analyzed} frame(s) analysed)</div>"
        f"<div>SHA-256 <code>{escape(info.sha256 or 'unknown')}</code></div>"
        f"<div>Detector {escape(report.model.detector)}, weights "
        f"<code>{escape(report.model.weights_sha256 or 'unknown')}</code></div>"
        + (f"<div>Timings: {timings}</div>" if timings else "")
        + (f"<div>Warnings:<ul>{warnings}</ul></div>" if warnings else "")
        + "</section>"
    )


def _png(rgb: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB array
        raise ValueError("cannot encode image as PNG")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")
