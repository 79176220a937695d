"""The analysis report (`opendfa.report/2`): records, JSON, schema check and the summary text.

`Report.to_json()` writes the document `report.schema.json` (beside this file) describes,
`forensics` included (the forensic toolbox's record of the file,
`opendfa.forensics.ForensicsReport.to_dict()`, or null); `Report.from_json()` reads it back;
`validate_report()` checks a document against that schema. Version 1 documents (before
`forensics`) are read through `upgrade_report()`, which fills `forensics: null`. A face's `ood`
record (its out-of-distribution score, `OodScore`) is optional, so documents written before it
are version 2 documents as they are. The `explanation` is made by
`opendfa.evidence.words.explain()` from the numbers in the report and nothing else.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from opendfa.models.operating_point import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD  # re-exported
from opendfa.taxonomy import CATEGORIES, FAKE_CATEGORIES, REAL

if TYPE_CHECKING:
    from opendfa.forensics.maps import ForensicMaps

SCHEMA = "opendfa.report/2"
OLDER_SCHEMAS = ("opendfa.report/1",)
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
VERDICTS = ("fake", "real", "inconclusive", "no_face", "error")


@dataclass
class ForgeryType:
    """Category probabilities and the label they support.

    The label agrees with the verdict: the most likely fake category for a face judged fake,
    `real` for one judged real (the category head alone does not decide real or fake).
    """

    label: str
    probabilities: dict[str, float]

    @classmethod
    def decide(cls, probabilities: dict[str, float], is_fake: bool) -> ForgeryType:
        probs = {name: float(probabilities.get(name, 0.0)) for name in CATEGORIES}
        label = max(FAKE_CATEGORIES, key=lambda name: probs[name]) if is_fake else REAL
        return cls(label=label, probabilities=probs)

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "probabilities": {k: _round(v, 4) for k, v in self.probabilities.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> ForgeryType:
        return cls(label=data["label"], probabilities=dict(data["probabilities"]))


@dataclass
class RegionEvidence:
    """One face region: the detector's score for it and the cues measured there."""

    name: str
    score: float
    cues: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "score": _round(self.score, 4),
            "cues": {k: _round(v, 3) for k, v in self.cues.items()},
        }


@dataclass
class MaskImage:
    """A manipulation mask as an 8-bit grey PNG covering `box` (x0, y0, x1, y1) of the image."""

    data: str
    box: tuple[int, int, int, int]

    @classmethod
    def from_array(cls, values: np.ndarray, box: tuple[int, int, int, int]) -> MaskImage:
        grey = np.clip(np.asarray(values, dtype=np.float32) * 255.0 + 0.5, 0, 255)
        ok, png = cv2.imencode(".png", grey.astype(np.uint8))
        if not ok:  # pragma: no cover - OpenCV encodes any non-empty uint8 array
            raise ValueError("cannot encode mask as PNG")
        return cls(data=base64.b64encode(png.tobytes()).decode("ascii"), box=box)

    def to_array(self) -> np.ndarray:
        """The mask as float32 in [0, 1], shaped (y1 - y0, x1 - x0)."""
        raw = np.frombuffer(base64.b64decode(self.data), dtype=np.uint8)
        grey = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise ValueError("mask data is not a PNG")
        return grey.astype(np.float32) / 255.0

    def to_json(self) -> dict:
        return {"format": "png-base64", "data": self.data, "box": list(self.box)}


@dataclass(frozen=True)
class FlowImage:
    """A predicted displacement field (dx, dy in px) over `box` of the image, kept as a colour
    PNG: red holds dx and green dy, 127.5 meaning no move and 0 or 255 meaning ±`scale_px`.
    The field is smooth and the report only reads it to a fraction of a pixel, so 8 bits at
    this scale keep it (the error is at most `scale_px` / 255)."""

    data: str
    box: tuple[int, int, int, int]
    scale_px: float

    @classmethod
    def from_array(cls, flow: np.ndarray, box: tuple[int, int, int, int]) -> FlowImage:
        flow = np.nan_to_num(np.asarray(flow, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        scale = max(float(np.abs(flow).max()) if flow.size else 0.0, 0.5)
        levels = np.clip(np.round(127.5 + 127.5 * flow / scale), 0, 255).astype(np.uint8)
        rgb = np.dstack([levels[..., 0], levels[..., 1], np.zeros_like(levels[..., 0])])
        ok, png = cv2.imencode(".png", rgb[..., ::-1])  # OpenCV writes BGR
        if not ok:  # pragma: no cover - OpenCV encodes any non-empty uint8 array
            raise ValueError("cannot encode flow as PNG")
        data = base64.b64encode(png.tobytes()).decode("ascii")
        return cls(data=data, box=box, scale_px=round(scale, 4))

    @classmethod
    def from_json(cls, record: dict) -> FlowImage:
        return cls(record["data"], tuple(record["box"]), float(record["scale_px"]))

    def to_array(self) -> np.ndarray:
        """The field as float32 (y1 - y0, x1 - x0, 2) in px."""
        raw = np.frombuffer(base64.b64decode(self.data), dtype=np.uint8)
        bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError("flow data is not a PNG")
        levels = np.dstack([bgr[..., 2], bgr[..., 1]]).astype(np.float32)
        return (levels - 127.5) / 127.5 * self.scale_px

    def to_json(self) -> dict:
        return {
            "format": "png-base64",
            "data": self.data,
            "box": list(self.box),
            "scale_px": self.scale_px,
        }


@dataclass
class OodScore:
    """How unlike the detector's training faces a face is (`opendfa.models.ood`): the score,
    the threshold fitted with the detector's statistics, and whether the score lies above it
    (`opendfa.evidence.abstain` then abstains)."""

    score: float
    threshold: float
    outside: bool

    @classmethod
    def measure(cls, score: float, threshold: float) -> OodScore:
        return cls(float(score), float(threshold), bool(score > threshold))

    def to_json(self) -> dict:
        return {
            "score": _round(self.score, 3),
            "threshold": _round(self.threshold, 3),
            "outside": self.outside,
        }

    @classmethod
    def from_json(cls, data: dict) -> OodScore:
        return cls(float(data["score"]), float(data["threshold"]), bool(data["outside"]))


@dataclass
class FaceEvidence:
    """Everything the analysis found about one face (for a video: one track's best frame)."""

    box: tuple[float, float, float, float]
    detection_score: float
    fake_probability: float
    forgery_type: ForgeryType
    regions: list[RegionEvidence] = field(default_factory=list)
    mask: MaskImage | None = None
    cues: dict[str, float] = field(default_factory=dict)  # cues of the whole mask
    rotation: int = 0
    track_id: int | None = None
    frame_index: int | None = None
    # With the pixel-level forensic stream (opt-in): the semantic detector's own P(fake),
    # and what the stream said (made or not, its calibrated probability); `fake_probability`
    # is then their fusion.
    semantic_probability: float | None = None
    forensic_stream: dict[str, Any] | None = None
    # The out-of-distribution score of the face's crop, where the detector has statistics.
    ood: OodScore | None = None

    def to_json(self) -> dict:
        record: dict[str, Any] = {
            "box": [round(float(v), 1) for v in self.box],
            "detection_score": _round(self.detection_score, 4),
            "fake_probability": _round(self.fake_probability, 4),
            "forgery_type": self.forgery_type.to_json(),
            "regions": [region.to_json() for region in self.regions],
            "mask": self.mask.to_json() if self.mask is not None else None,
            "cues": {k: _round(v, 3) for k, v in self.cues.items()},
            "rotation": self.rotation,
        }
        if self.track_id is not None:
            record["track_id"] = self.track_id
        if self.frame_index is not None:
            record["frame_index"] = self.frame_index
        if self.semantic_probability is not None:
            record["semantic_probability"] = _round(self.semantic_probability, 4)
        if self.forensic_stream is not None:
            record["forensic_stream"] = self.forensic_stream
        if self.ood is not None:
            record["ood"] = self.ood.to_json()
        return record

    @classmethod
    def from_json(cls, data: dict) -> FaceEvidence:
        mask = data.get("mask")
        return cls(
            box=tuple(data["box"]),  # type: ignore[arg-type]
            detection_score=data["detection_score"],
            fake_probability=data["fake_probability"],
            forgery_type=ForgeryType.from_json(data["forgery_type"]),
            regions=[
                RegionEvidence(r["name"], r["score"], dict(r["cues"])) for r in data["regions"]
            ],
            mask=MaskImage(mask["data"], tuple(mask["box"])) if mask else None,  # type: ignore[arg-type]
            cues=dict(data.get("cues", {})),
            rotation=data.get("rotation", 0),
            track_id=data.get("track_id"),
            frame_index=data.get("frame_index"),
            semantic_probability=data.get("semantic_probability"),
            forensic_stream=data.get("forensic_stream"),
            ood=OodScore.from_json(data["ood"]) if data.get("ood") else None,
        )

    def top_regions(self, limit: int = 3, minimum: float = 0.5) -> list[RegionEvidence]:
        """The highest-scoring regions at or above `minimum` (at most `limit`)."""
        ranked = sorted(self.regions, key=lambda r: r.score, reverse=True)
        return [r for r in ranked if r.score >= minimum][:limit]


@dataclass
class FrameScore:
    """One sampled video frame: the highest face score in it (None without faces)."""

    index: int
    timestamp_s: float
    fake_probability: float | None
    faces: int

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "timestamp_s": round(self.timestamp_s, 4),
            "fake_probability": _round(self.fake_probability, 4),
            "faces": self.faces,
        }


@dataclass
class TrackScore:
    """One face track: its frames, their scores and the aggregate that judges it."""

    track_id: int
    frames: list[int]
    scores: list[float]
    fake_probability: float
    box: tuple[float, float, float, float]  # mean box over the track

    def to_json(self) -> dict:
        return {
            "track_id": self.track_id,
            "frames": list(self.frames),
            "scores": [_round(s, 4) for s in self.scores],
            "fake_probability": _round(self.fake_probability, 4),
            "box": [round(float(v), 1) for v in self.box],
        }


@dataclass
class InputInfo:
    path: str
    sha256: str | None = None
    kind: str = "image"  # image | video
    width: int | None = None
    height: int | None = None
    frames_analyzed: int = 0
    fps: float | None = None  # videos only

    def to_json(self) -> dict:
        record: dict[str, Any] = {
            "path": self.path,
            "sha256": self.sha256,
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "frames_analyzed": self.frames_analyzed,
        }
        if self.fps is not None:
            record["fps"] = round(self.fps, 3)
        return record


@dataclass
class ModelInfo:
    detector: str
    weights_sha256: str | None
    threshold: float = DEFAULT_THRESHOLD
    # The detector's measured AUC for the predicted family and for inputs degraded like this
    # one (`opendfa.evidence.abstain.known_accuracy`); None where no figure was measured.
    known_accuracy: dict[str, Any] | None = None

    def to_json(self) -> dict:
        record: dict[str, Any] = {
            "detector": self.detector,
            "weights_sha256": self.weights_sha256,
            "threshold": self.threshold,
        }
        if self.known_accuracy is not None:
            record["known_accuracy"] = self.known_accuracy
        return record


@dataclass
class Abstention:
    """Why an `inconclusive` report gives no real/fake verdict, and what would settle it."""

    reasons: list[str]
    would_settle: str

    def to_json(self) -> dict:
        return {"reasons": list(self.reasons), "would_settle": self.would_settle}

    @classmethod
    def from_json(cls, data: dict) -> Abstention:
        return cls(reasons=list(data["reasons"]), would_settle=data["would_settle"])


@dataclass
class Report:
    """One analysed input. `preview` (the image, or the decisive video frame) is not written
    to JSON; the HTML report draws on it."""

    input: InputInfo
    model: ModelInfo
    verdict: str
    fake_probability: float | None = None
    forgery_type: ForgeryType | None = None
    faces: list[FaceEvidence] = field(default_factory=list)
    explanation: str = ""
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    timeline: list[FrameScore] | None = None
    tracks: list[TrackScore] | None = None
    error: str | None = None
    forensics: dict[str, Any] | None = None  # ForensicsReport.to_dict() of the input file
    # Only with verdict "inconclusive": the reasons (faces and probability stay as measured).
    abstention: Abstention | None = None
    preview: np.ndarray | None = field(default=None, repr=False, compare=False)
    preview_frame: int | None = field(default=None, repr=False, compare=False)
    # The forensic maps (ELA, noise) of `preview` when the analysis made them; not JSON.
    forensic_maps: ForensicMaps | None = field(default=None, repr=False, compare=False)
    # The decisive face's aligned crop as the detector read it (DFA-GPT sees it); not JSON.
    decisive_crop: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; expected one of {VERDICTS}")

    def to_json(self) -> dict:
        record: dict[str, Any] = {
            "schema": SCHEMA,
            "input": self.input.to_json(),
            "model": self.model.to_json(),
            "verdict": self.verdict,
            "fake_probability": _round(self.fake_probability, 4),
            "forgery_type": self.forgery_type.to_json() if self.forgery_type else None,
            "faces": [face.to_json() for face in self.faces],
            "explanation": self.explanation,
            "warnings": list(self.warnings),
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings_ms.items()},
            "forensics": self.forensics,
        }
        if self.timeline is not None:
            record["timeline"] = [frame.to_json() for frame in self.timeline]
        if self.tracks is not None:
            record["tracks"] = [track.to_json() for track in self.tracks]
        if self.error is not None:
            record["error"] = self.error
        if self.abstention is not None:
            record["abstention"] = self.abstention.to_json()
        return record

    def to_json_line(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict) -> Report:
        """A report from its document, of this or an older schema version."""
        data = upgrade_report(data)
        info, model = data["input"], data["model"]
        timeline = data.get("timeline")
        tracks = data.get("tracks")
        return cls(
            input=InputInfo(
                path=info["path"],
                sha256=info.get("sha256"),
                kind=info.get("kind", "image"),
                width=info.get("width"),
                height=info.get("height"),
                frames_analyzed=info.get("frames_analyzed", 0),
                fps=info.get("fps"),
            ),
            model=ModelInfo(
                model["detector"],
                model.get("weights_sha256"),
                model.get("threshold", DEFAULT_THRESHOLD),
                model.get("known_accuracy"),
            ),
            verdict=data["verdict"],
            fake_probability=data.get("fake_probability"),
            forgery_type=ForgeryType.from_json(data["forgery_type"])
            if data.get("forgery_type")
            else None,
            faces=[FaceEvidence.from_json(face) for face in data.get("faces", [])],
            explanation=data.get("explanation", ""),
            warnings=list(data.get("warnings", [])),
            timings_ms=dict(data.get("timings_ms", {})),
            timeline=[FrameScore(**frame) for frame in timeline] if timeline is not None else None,
            tracks=[
                TrackScore(
                    t["track_id"], t["frames"], t["scores"], t["fake_probability"], tuple(t["box"])
                )
                for t in tracks
            ]
            if tracks is not None
            else None,
            error=data.get("error"),
            forensics=data.get("forensics"),
            abstention=Abstention.from_json(data["abstention"]) if data.get("abstention") else None,
        )


def upgrade_report(data: dict) -> dict:
    """A report document in the current schema: version 1 documents (no `forensics`) gain
    `forensics: null`; current ones come back as they are. Never changes `data`."""
    if data.get("schema") not in OLDER_SCHEMAS:
        return data
    upgraded = {**data, "schema": SCHEMA}
    upgraded.setdefault("forensics", None)
    return upgraded


class ReportError(ValueError):
    """A document that is not a valid `opendfa.report/2` report; one line."""


def validate_report(data: dict) -> None:
    """Raise `ReportError` unless `data` matches the schema and its own counts agree."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        raise ReportError(f"report does not match {SCHEMA} at {where}: {error.message[:200]}")
    if data["verdict"] == "no_face" and data["faces"]:
        raise ReportError("a no_face report lists faces")
    if data["verdict"] in ("fake", "real", "inconclusive") and not data["faces"]:
        raise ReportError(f"a {data['verdict']} report lists no faces")
    if (data["verdict"] == "inconclusive") != ("abstention" in data):
        raise ReportError("an abstention belongs to an inconclusive report, and only there")
    timeline = data.get("timeline")
    if timeline is not None and len(timeline) != data["input"]["frames_analyzed"]:
        raise ReportError(
            f"timeline has {len(timeline)} frames, input says "
            f"{data['input']['frames_analyzed']} were analysed"
        )


@cache
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def report_schema() -> dict:
    """The JSON Schema (draft 2020-12) of `opendfa.report/2`."""
    return json.loads(json.dumps(_schema()))


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    return round(float(value), digits)
