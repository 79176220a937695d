"""The analysis pipeline: media -> faces -> detector -> measured evidence -> `Report`.

For each face: the aligned crop the detector was trained on (its `input_size` and
`crop_margin`), the detector's calibrated probability, category probabilities, mask and region
scores, the cues measured on the crop under that mask, the mask mapped back onto the image
with the inverse of the alignment, and (where the detector has OOD statistics) how unlike its
training faces the crop is. An image is as fake as its most suspicious face. A video is
as fake as its most suspicious face track, a track's score being the mean of its `top_k`
highest frame scores (one bad frame does not condemn a track, a sustained run does).
"""

from __future__ import annotations

import hashlib
import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from opendfa.evidence.abstain import abstention, decisive_face, known_accuracy
from opendfa.evidence.batch import BatchSummary, OnReport, analyze_paths
from opendfa.evidence.cues import measure_cues, warm_up_lab_in_background
from opendfa.evidence.report import (
    DEFAULT_THRESHOLD,
    FaceEvidence,
    FlowImage,
    ForgeryType,
    FrameScore,
    InputInfo,
    MaskImage,
    ModelInfo,
    OodScore,
    RegionEvidence,
    Report,
    TrackScore,
)
from opendfa.evidence.words import explain
from opendfa.faces import REGION_NAMES, AlignedFace, Face, FaceDetector, align_face, region_masks
from opendfa.faces.align import face_from_crop, looks_like_face_crop
from opendfa.faces.follow import FaceFollower
from opendfa.faces.tracks import track_faces
from opendfa.media import (
    DEFAULT_MAX_PIXELS,
    LoadedImage,
    SamplingStats,
    WorkBudget,
    iter_video_frames,
    load_image,
    media_kind,
    probe_video,
)
from opendfa.media.budget import DEFAULT_MAX_DECODED_FRAMES
from opendfa.media.files import file_sha256
from opendfa.models.configs import DEFAULT_MODEL
from opendfa.taxonomy import CATEGORIES

__all__ = ["CROP_FALLBACK_WARNING", "Analyzer"]

Source = str | Path | bytes
Predict = Callable[[Any, np.ndarray], list[Any]]
SMALL_FACE_PX = 64
CROP_FALLBACK_WARNING = (
    "no face was detected; the image is small and roughly square, so it was judged whole as "
    "an aligned face crop: regions and mask are placed by a mean face and are approximate"
)
_PREVIEW_FRAMES = 4


@dataclass
class _JudgedFace:
    """A face with its aligned crop and the detector's outputs (mask kept as float16)."""

    face: Face
    aligned: AlignedFace
    probability: float
    categories: dict[str, float]
    region_scores: dict[str, float]
    mask: np.ndarray
    ood_score: float | None = None  # where the detector has OOD statistics


class Analyzer:
    """Runs the whole analysis; create once and reuse (models load in the constructor).

    `detector` is a `LoadedDetector` or an `OnnxDetector`, or a name or folder (default: the
    bundled `opendfa-lite0`) loaded by `opendfa.models.runtime.load_for_inference`: on
    the CPU the folder's current ONNX export when it has one (no torch import), else the
    torch model on `device`; `backend` "torch" or "onnx" decides instead. `face_detector` is
    shared if given, else one is made and closed by `close()`. `predict` replaces
    `opendfa.models.detector_base.predict_crops` (same contract). In videos the full face detector
    runs every `redetect_every` sampled frames and faces are followed by the mesh between
    (`opendfa.faces.follow`); 1 runs it on every frame. Each analysis
    gets a fresh `WorkBudget` of `max_seconds` (None: no limit) and `max_decoded_frames`
    per video unless the caller passes its own (a server that cancels when a client leaves).
    A face is fake at P(fake) >= `threshold`; None takes the detector's operating point
    (`opendfa.models.operating_point`: chosen on validation reals), or 0.5 without one.
    `forensics` runs the file checks on images; `copy_move` adds the opt-in clone check to
    them (ORB self-matching, measured in benchmarks/forensics.py).
    """

    def __init__(
        self,
        detector: Any = None,
        face_detector: FaceDetector | None = None,
        *,
        threshold: float | None = None,
        predict: Predict | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        top_k: int = 3,
        max_video_frames: int = 300,
        batch_size: int = 16,
        device: str = "cpu",
        redetect_every: int = 16,
        backend: str = "auto",
        max_seconds: float | None = None,
        max_decoded_frames: int | None = None,
        forensics: bool = True,
        forensic_stream: str | Path | Any = None,
        copy_move: bool = False,
    ) -> None:
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if min(top_k, max_video_frames, batch_size, redetect_every) < 1:
            raise ValueError(
                "top_k, max_video_frames, batch_size and redetect_every must be at least 1"
            )
        from opendfa.models.detector_base import predict_crops

        self._owns_faces = face_detector is None
        self.face_detector = face_detector or FaceDetector()
        # MediaPipe's import and start-up and OpenCV's colour tables overlap the detector's
        # load on a second core (see there).
        preparing = self.face_detector.prepare_in_background() if self._owns_faces else None
        warm_up_lab_in_background()
        try:
            self._load_models(detector, forensic_stream, device, backend)
        except BaseException:
            if preparing is not None:
                preparing.join()  # no start-up left running while the process exits
            raise
        self.predict = predict or predict_crops
        self.threshold = float(threshold if threshold is not None else self._operating_threshold())
        self.max_pixels = max_pixels
        self.top_k = top_k
        self.max_video_frames = max_video_frames
        self.batch_size = batch_size
        self.redetect_every = redetect_every
        self.max_seconds = max_seconds
        self.max_decoded_frames = max_decoded_frames or DEFAULT_MAX_DECODED_FRAMES
        self.forensics = forensics  # images: run opendfa.forensics on the file (no model)
        self.copy_move = copy_move  # images: also the opt-in clone check (forensics.copy_move)

    def _load_models(self, detector: Any, forensic_stream: Any, device: str, backend: str) -> None:
        """The detector and the optional forensic stream."""
        from opendfa.models.runtime import load_for_inference

        if detector is None or isinstance(detector, str | Path):
            detector = load_for_inference(
                str(detector or DEFAULT_MODEL), device=device, backend=backend
            )
        self.detector = detector
        self.stream = _load_stream(forensic_stream)

    def _operating_threshold(self) -> float:
        """The detector's own operating point (its folder's `operating_point.json`), else 0.5:
        a detector that records none is judged at its calibrated probability's midpoint."""
        threshold = getattr(self.detector, "decision_threshold", DEFAULT_THRESHOLD)
        return float(threshold) if isinstance(threshold, int | float) else DEFAULT_THRESHOLD

    def close(self) -> None:
        if self._owns_faces:
            self.face_detector.close()

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_budget(self) -> WorkBudget:
        """The default budget of one analysis, started now."""
        return WorkBudget(max_seconds=self.max_seconds, max_decoded_frames=self.max_decoded_frames)

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            detector=str(self.detector.name),
            weights_sha256=getattr(self.detector, "weights_sha256", None),
            threshold=self.threshold,
        )

    # Single inputs.

    def analyze(
        self,
        source: Source,
        *,
        num_frames: int | None = 16,
        fps: float | None = None,
        budget: WorkBudget | None = None,
    ) -> Report:
        """An image or a video, told apart by the file suffix (bytes are read as an image).
        `budget` bounds the work (time, decoded frames, cancellation; `BudgetExceeded`)."""
        if isinstance(source, str | Path) and media_kind(str(source)) == "video":
            return self.analyze_video(source, num_frames=num_frames, fps=fps, budget=budget)
        return self.analyze_image(source, budget=budget)

    def analyze_image(self, source: Source, *, budget: WorkBudget | None = None) -> Report:
        """Analyse one image; raises `MediaError` if it cannot be loaded."""
        budget = budget or self.new_budget()
        label = str(source) if isinstance(source, str | Path) else "<bytes>"
        timings: dict[str, float] = {}
        start = time.perf_counter()
        image = load_image(source, max_pixels=self.max_pixels)
        timings["load"] = _ms(start)
        forensic = (
            _forensics(source, image.rgb, timings, copy_move=self.copy_move)
            if self.forensics
            else (None, None, None)
        )
        budget.check(label)
        mark = time.perf_counter()
        faces = self.face_detector.detect(image.rgb)
        timings["faces"] = _ms(mark)
        budget.check(label)
        warnings = list(image.warnings) + _face_warnings(faces)
        if not faces and looks_like_face_crop(image.rgb):
            faces = [face_from_crop(image.width, image.height)]
            warnings.append(CROP_FALLBACK_WARNING)
        judged = self._judge(image.rgb, faces, timings)
        mark = time.perf_counter()
        evidence = [self._evidence(j, (image.width, image.height)) for j in judged]
        if self.stream is not None:
            quality = _jpeg_quality(image, forensic[0])
            warnings.extend(self._add_stream(image.rgb, judged, evidence, timings, quality))
        timings["cues"] = _ms(mark)
        info = InputInfo(image.source, image.sha256, "image", image.width, image.height, 1)
        report = self._finish(info, evidence, warnings, forensics=forensic[0])
        timings["total"] = _ms(start)
        report.timings_ms = timings
        report.preview = image.rgb
        _keep_decisive_crop(report, [j.aligned for j in judged])
        report.forensics, report.forensic_maps, failure = forensic
        if failure:
            report.warnings.append(failure)
        return report

    def analyze_video(
        self,
        source: str | Path | bytes,
        *,
        num_frames: int | None = 16,
        fps: float | None = None,
        budget: WorkBudget | None = None,
    ) -> Report:
        """Analyse sampled frames of a video (`fps` wins over `num_frames` if given).

        Frames are chosen from what decodes, not from the header's frame count; a header
        that disagrees, or a stream only partly read, becomes a warning in the report."""
        budget = budget or self.new_budget()
        label = str(Path(source)) if isinstance(source, str | Path) else "<bytes>"
        timings = {"faces": 0.0, "align": 0.0, "detector": 0.0}
        start = time.perf_counter()
        info = probe_video(source)
        sha256 = _sha256(source)
        frames: list[tuple[int, float, list[_JudgedFace]]] = []
        previews: list[tuple[float, int, np.ndarray]] = []  # a min-heap of the best frames
        warnings: list[str] = []
        stats = SamplingStats()
        sampled = iter_video_frames(
            source,
            num_frames=num_frames,
            target_fps=fps,
            max_pixels=self.max_pixels,
            budget=budget,
            stats=stats,
        )
        follower = FaceFollower(self.face_detector, self.redetect_every)
        pending: list[tuple[Any, list[Face]]] = []

        def judge_pending() -> None:
            judged_frames = self._judge_many([(f.rgb, faces) for f, faces in pending], timings)
            for (frame, _), judged in zip(pending, judged_frames, strict=True):
                frames.append((frame.index, frame.timestamp_s, judged))
                best = max((j.probability for j in judged), default=-1.0)
                heapq.heappush(previews, (best, -frame.index, frame.rgb))
                if len(previews) > _PREVIEW_FRAMES:
                    heapq.heappop(previews)
            pending.clear()

        for frame in sampled:
            if len(frames) + len(pending) >= self.max_video_frames:
                sampled.close()  # releases the decoder now, not when collected
                warnings.append(
                    f"stopped after {self.max_video_frames} sampled frames, at "
                    f"{frame.timestamp_s:.1f} s: the rest of the video was not analysed"
                )
                break
            budget.check(label)
            mark = time.perf_counter()
            faces = follower(frame.rgb, frame.timestamp_s)
            timings["faces"] += _ms(mark)
            pending.append((frame, faces))
            if sum(len(f) for _, f in pending) >= self.batch_size or len(pending) >= 32:
                judge_pending()  # batched detector calls; at most 32 frames held at once
        judge_pending()
        warnings.extend(stats.warnings)
        mark = time.perf_counter()
        tracks = track_faces([(index, ts, [j.face for j in js]) for index, ts, js in frames])
        by_face = {id(j.face): j for _, _, js in frames for j in js}
        scores: list[TrackScore] = []
        evidence: list[FaceEvidence] = []
        aligned: list[AlignedFace] = []  # the judged crop of each track's best frame
        for track in tracks:
            items = [by_face[id(item.face)] for item in track.items]
            summary, face, crop = self._track_evidence(track, items, (info.width, info.height))
            aligned.append(crop)
            scores.append(summary)
            evidence.append(face)
        timings["cues"] = _ms(mark)
        timeline = [
            FrameScore(
                index=index,
                timestamp_s=ts,
                fake_probability=max((j.probability for j in js), default=None),
                faces=len(js),
            )
            for index, ts, js in frames
        ]
        size = (info.width, info.height)
        report_input = InputInfo(label, sha256, "video", *size, len(frames), fps=info.fps)
        report = self._finish(report_input, evidence, warnings, timeline=timeline, tracks=scores)
        timings["total"] = _ms(start)
        timings["per_frame"] = timings["total"] / max(len(frames), 1)
        report.timings_ms = timings
        self._attach_preview(report, previews, source, num_frames, fps, budget)
        _keep_decisive_crop(report, aligned)
        return report

    # Many inputs.

    def analyze_paths(
        self,
        paths: Iterable[str | Path],
        out_jsonl: str | Path,
        *,
        resume: bool = True,
        num_frames: int | None = 16,
        fps: float | None = None,
        on_report: OnReport | None = None,
    ) -> BatchSummary:
        """Analyse files and folders into a JSONL file, one report per input, in order: a
        file that fails gets an "error" report, and with `resume` the inputs already in the
        file are skipped (`on_report` gets None for them). See `opendfa.evidence.batch`."""
        return analyze_paths(
            self,
            paths,
            out_jsonl,
            resume=resume,
            num_frames=num_frames,
            fps=fps,
            on_report=on_report,
        )

    # Steps.

    def _judge(self, rgb: np.ndarray, faces: list[Face], timings: dict) -> list[_JudgedFace]:
        return self._judge_many([(rgb, faces)], timings)[0]

    def _judge_many(
        self, frames: list[tuple[np.ndarray, list[Face]]], timings: dict
    ) -> list[list[_JudgedFace]]:
        """Judge the faces of several images (video frames) with batched detector calls."""
        config = self.detector.config
        mark = time.perf_counter()
        aligned = [
            [
                align_face(rgb, face, size=int(config.input_size), margin=float(config.crop_margin))
                for face in faces
            ]
            for rgb, faces in frames
        ]
        timings["align"] = timings.get("align", 0.0) + _ms(mark)
        flat = [crop for crops in aligned for crop in crops]
        mark = time.perf_counter()
        predictions = []
        for first in range(0, len(flat), self.batch_size):
            crops = np.stack([a.crop for a in flat[first : first + self.batch_size]])
            predictions.extend(self.predict(self.detector, crops))
        if flat:
            timings["detector"] = timings.get("detector", 0.0) + _ms(mark)
        judged, position = [], 0
        for (_, faces), crops in zip(frames, aligned, strict=True):
            judged.append(
                [
                    self._judged_face(face, crop, p)
                    for face, crop, p in zip(
                        faces, crops, predictions[position : position + len(faces)], strict=True
                    )
                ]
            )
            position += len(faces)
        return judged

    @staticmethod
    def _judged_face(face: Face, crop: Any, p: Any) -> _JudgedFace:
        return _JudgedFace(
            face=face,
            aligned=crop,
            probability=float(np.clip(p.fake_probability, 0.0, 1.0)),
            categories={k: float(v) for k, v in p.category_probabilities.items()},
            region_scores={k: float(v) for k, v in p.region_scores.items()},
            mask=np.clip(np.asarray(p.mask, dtype=np.float32), 0, 1).astype(np.float16),
            ood_score=p.ood_score,
        )

    def _evidence(self, judged: _JudgedFace, image_size: tuple[int, int]) -> FaceEvidence:
        """Cues on the crop, the mask mapped back onto the image, the region table."""
        crop = judged.aligned.crop
        mask = judged.mask.astype(np.float32)
        size = crop.shape[1], crop.shape[0]
        regions = region_masks(judged.aligned.landmarks, size)
        cues = measure_cues(crop, mask, regions)
        table = [
            RegionEvidence(name, judged.region_scores.get(name, 0.0), cues.regions.get(name, {}))
            for name in REGION_NAMES
        ]
        table.sort(key=lambda region: region.score, reverse=True)
        is_fake = judged.probability >= self.threshold
        return FaceEvidence(
            box=judged.face.box,
            detection_score=judged.face.score,
            fake_probability=judged.probability,
            forgery_type=ForgeryType.decide(judged.categories, is_fake),
            regions=table,
            mask=_mask_in_image(judged.aligned, mask, image_size),
            cues=cues.face,
            rotation=judged.face.rotation,
            ood=self._ood(judged.ood_score),
        )

    def _ood(self, score: float | None) -> OodScore | None:
        """The face's OOD record against the detector's fitted threshold (None without one)."""
        stats = getattr(self.detector, "ood", None)
        if score is None or stats is None:
            return None
        return OodScore.measure(score, stats.threshold)

    def _add_stream(
        self,
        rgb: np.ndarray,
        judged: list[_JudgedFace],
        evidence: list[FaceEvidence],
        timings: dict,
        jpeg_quality: int | None = None,
    ) -> list[str]:
        """The forensic stream's judgement of each face, fused with the semantic one where the
        stream's model carries a fusion fitted on validation data; returns warnings."""
        fusion = self.stream.fusion
        notes = []
        mark = time.perf_counter()
        for number, (item, face) in enumerate(zip(judged, evidence, strict=True), start=1):
            verdict = self.stream.judge(rgb, item.face, jpeg_quality=jpeg_quality)
            face.semantic_probability = face.fake_probability
            face.forensic_stream = {**verdict.to_json(), "model": self.stream.name}
            if verdict.heat is not None and verdict.box is not None:
                # The stream's own map, at the image's pixels, for the report to show.
                face.forensic_stream["map"] = MaskImage.from_array(
                    verdict.heat, verdict.box
                ).to_json()
            if verdict.flow is not None and verdict.box is not None:
                face.forensic_stream["flow"] = FlowImage.from_array(
                    verdict.flow, verdict.box
                ).to_json()
            if not verdict.made:
                notes.append(f"face {number}: the pixel-level check was not made: {verdict.reason}")
                continue
            if fusion is not None:
                face.fake_probability = fusion.combine(face.semantic_probability, verdict.logit)
                is_fake = face.fake_probability >= self.threshold
                face.forgery_type = ForgeryType.decide(item.categories, is_fake)
        timings["stream"] = _ms(mark)
        return notes

    def _track_evidence(
        self, track, items: list[_JudgedFace], image_size: tuple[int, int]
    ) -> tuple[TrackScore, FaceEvidence, AlignedFace]:
        scores = [j.probability for j in items]
        top = sorted(range(len(items)), key=lambda i: scores[i], reverse=True)[: self.top_k]
        aggregate = float(np.mean([scores[i] for i in top]))
        categories = {
            name: float(np.mean([items[i].categories.get(name, 0.0) for i in top]))
            for name in CATEGORIES
        }
        best = top[0]
        face = self._evidence(items[best], image_size)
        face.fake_probability = aggregate
        face.forgery_type = ForgeryType.decide(categories, aggregate >= self.threshold)
        face.track_id = track.track_id
        face.frame_index = track.items[best].frame_index
        summary = TrackScore(
            track_id=track.track_id,
            frames=track.frame_indices,
            scores=scores,
            fake_probability=aggregate,
            box=track.mean_box(),
        )
        return summary, face, items[best].aligned

    def _finish(
        self,
        info: InputInfo,
        faces: list[FaceEvidence],
        warnings: list[str],
        *,
        timeline: list[FrameScore] | None = None,
        tracks: list[TrackScore] | None = None,
        forensics: dict[str, Any] | None = None,
    ) -> Report:
        """The report of judged faces: the decisive face's verdict, or `inconclusive` where
        `opendfa.evidence.abstain` says the detector cannot be trusted on this input."""
        report = Report(
            input=info,
            model=self.model_info,
            verdict="no_face",
            faces=faces,
            warnings=warnings,
            timeline=timeline,
            tracks=tracks,
            forensics=forensics,
        )
        if faces:
            decisive = decisive_face(report)
            report.fake_probability = decisive.fake_probability
            report.verdict = "fake" if decisive.fake_probability >= self.threshold else "real"
            report.forgery_type = decisive.forgery_type
            report.model.known_accuracy = known_accuracy(self.detector, report)
            report.abstention = abstention(report)
            if report.abstention is not None:
                report.verdict = "inconclusive"
        report.explanation = explain(report)
        return report

    def _attach_preview(
        self,
        report: Report,
        previews: list[tuple[float, int, np.ndarray]],
        source: str | Path | bytes,
        num_frames: int | None,
        fps: float | None,
        budget: WorkBudget,
    ) -> None:
        """The decisive face's frame (re-read in the rare case it was not kept), for HTML."""
        if report.faces:
            wanted = decisive_face(report).frame_index
        elif previews:
            wanted = -max(previews)[1]
        else:
            return
        kept = {-index: rgb for _, index, rgb in previews}
        if wanted not in kept:
            frames = iter_video_frames(
                source,
                num_frames=num_frames,
                target_fps=fps,
                max_pixels=self.max_pixels,
                budget=budget,
            )
            kept = {f.index: f.rgb for f in frames if f.index == wanted}
        report.preview = kept.get(wanted)
        report.preview_frame = wanted


def _keep_decisive_crop(report: Report, aligned: list[AlignedFace]) -> None:
    """Keep the decisive face's aligned crop on the report (`aligned` in the order of
    `report.faces`), so a chat about it need not find and align the face again."""
    face = decisive_face(report)
    if face is not None:
        index = next(i for i, other in enumerate(report.faces) if other is face)
        report.decisive_crop = aligned[index].crop


def _mask_in_image(
    aligned: AlignedFace, mask: np.ndarray, image_size: tuple[int, int]
) -> MaskImage | None:
    """The crop mask warped back onto the window of the image the crop covers."""
    width, height = image_size
    side = aligned.alignment.size
    corners = aligned.alignment.to_image(np.array([[0, 0], [side, 0], [0, side], [side, side]]))
    x0 = int(np.clip(np.floor(corners[:, 0].min()), 0, width))
    y0 = int(np.clip(np.floor(corners[:, 1].min()), 0, height))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()), 0, width))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()), 0, height))
    if x1 <= x0 or y1 <= y0:
        return None
    matrix = aligned.alignment.matrix.copy()
    matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
    window = cv2.warpAffine(
        mask.astype(np.float32),
        matrix,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return MaskImage.from_array(window, (x0, y0, x1, y1))


def _face_warnings(faces: list[Face]) -> list[str]:
    notes = []
    for number, face in enumerate(faces, start=1):
        if face.width < SMALL_FACE_PX:
            notes.append(
                f"face {number} is only {face.width:.0f} px wide: its scores are less reliable"
            )
        if face.rotation:
            notes.append(f"face {number} was found with the image turned by {face.rotation}°")
    return notes


def _sha256(source: str | Path | bytes) -> str:
    if not isinstance(source, str | Path):
        return hashlib.sha256(bytes(source)).hexdigest()
    return file_sha256(source)


def _jpeg_quality(image: LoadedImage, forensics: Any) -> int | None:
    """The file's estimated JPEG quality for the stream's floor: from the toolbox's JPEG record
    when it ran, else from the header of the bytes already read; None for anything that is not
    a JPEG file."""
    if image.format not in ("JPEG", "MPO"):
        return None
    known = ((forensics or {}).get("jpeg") or {}).get("quality")  # the toolbox's record
    if known is not None:
        return int(known)
    from opendfa.forensics.jpeg import jpeg_quality

    return jpeg_quality(image.data) if image.data else None


def _load_stream(stream: Any) -> Any:
    """A `ForensicStream` from a model folder (or one already loaded); None stays None."""
    if stream is None or not isinstance(stream, str | Path):
        return stream
    from opendfa.evidence.stream import ForensicStream

    return ForensicStream(stream)


def _forensics(
    source: Source, rgb: np.ndarray, timings: dict, *, copy_move: bool = False
) -> tuple[dict | None, Any, str | None]:
    """`opendfa.forensics` on the image file: (its JSON record, its maps, None); a failing
    check never fails the analysis: the record is then None and the third item says why."""
    from opendfa.forensics import run_forensics

    mark = time.perf_counter()
    try:
        found = run_forensics(source, rgb, copy_move=copy_move)
    except Exception as err:
        reason = " ".join(str(err).split())[:160] or type(err).__name__
        return None, None, f"file forensics could not run: {reason}"
    finally:
        timings["forensics"] = _ms(mark)
    return found.to_dict(), found.maps, None


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1e3
