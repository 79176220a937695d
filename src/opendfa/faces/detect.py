"""Face detection and 478-point landmarks with MediaPipe, tuned for forensic use.

Detection runs MediaPipe's full-range detector on the whole image and, for large images, on
overlapping tiles (small faces in group photos are otherwise lost to the 192 px input). Each
detection is then refined by the face mesh on an upscaled square crop around it, which gives
precise landmarks for small faces too; detections the mesh cannot confirm are dropped. If no
face is found upright, the image is tried turned by 90, 270 and 180 degrees.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from opendfa.console import STDERR_LOCK
from opendfa.faces import mesh
from opendfa.faces.mediapipe_import import import_solutions
from opendfa.faces.types import Face, box_iou

# Quiet MediaPipe's C++ start-up logging unless the user asked for it.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_MESH_INPUT = 256
# Crop sides for the mesh, in detection-box sizes, tried in order: the tighter crop confirms
# profile faces the looser one misses, the looser one helps when the box is off-centre.
_MESH_CONTEXTS = (1.6, 2.2)
# The full-range detector finds faces down to about 6.5 % of its input's side; tiles of
# min_face_px / _DETECTABLE_FRACTION pixels make faces of min_face_px findable anywhere.
_DETECTABLE_FRACTION = 0.065
_MIN_TILE = 320
_MAX_SHORT_RANGE_ROLL = 60.0
_SHORT_RANGE_SCORE = 0.6
_DETECTOR_FEED = 320  # longest side handed to the detector (its model input is 192)


@dataclass
class FaceDetectorConfig:
    """Settings for `FaceDetector`; the defaults suit photos and video frames alike."""

    min_score: float = 0.5
    # "both": the short-range model for faces that fill much of the frame (close-ups and
    # face crops, which the full-range model misses) plus the full-range model for small
    # and distant faces; or just one of "full_range" / "short_range".
    model: str = "both"
    tiles: bool = True  # scan overlapping tiles too, so faces of min_face_px are found
    min_face_px: float = 40.0
    try_rotations: bool = True
    max_faces: int = 32
    nms_iou: float = 0.35


class FaceDetector:
    """Finds faces with landmarks; reuse one instance (graphs are built on first use).

    Instances are safe to share between threads (calls are serialised); use one per process
    for parallel work.
    """

    def __init__(self, config: FaceDetectorConfig | None = None) -> None:
        self.config = config or FaceDetectorConfig()
        if self.config.model not in ("both", "full_range", "short_range"):
            raise ValueError(f"unknown detector model {self.config.model!r}")
        self._lock = threading.Lock()
        self._started = self._served = False  # served: a call has found a face (see _running)
        self._full = self._short = self._mesh = None
        self._not_run_yet: set = set()

    def _create(self, solutions) -> None:
        detection = solutions.face_detection.FaceDetection
        use_full = self.config.model in ("both", "full_range")
        use_short = self.config.model in ("both", "short_range")
        score = self.config.min_score
        self._full = (
            detection(model_selection=1, min_detection_confidence=score) if use_full else None
        )
        self._short = (
            detection(model_selection=0, min_detection_confidence=score) if use_short else None
        )
        self._mesh = solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=3,
            refine_landmarks=True,
            min_detection_confidence=0.5,  # second opinion on an upscaled crop
        )

    @contextmanager
    def _running(self, warm_up: bool = False) -> Iterator[None]:
        """Hold the lock with the graphs built.

        They are built on first use, so a command that never detects never pays for them.
        MediaPipe's C++ start-up lines bypass Python's logging, and some come from its own
        threads, not always before `process` returns. So every call is silenced whole until
        one call has found a face: the mesh's landmark model starts only on a face (a warm-up
        on a blank image, or an image with no face, leaves it unstarted), and lines of its
        start-up leaked when only the mesh's first run was silenced (1 run in 12 on a loaded
        machine). Each graph's first run is silenced too, for calls after that.
        """
        with self._lock:
            if self._started and (self._served or warm_up):
                yield
                return
            with _quiet_native_stderr():
                if not self._started:
                    self._create(import_solutions())
                    self._not_run_yet = {g for g in (self._full, self._short, self._mesh) if g}
                    self._started = True
                yield

    def _process(self, graph, image: np.ndarray):
        """`graph.process(image)`, silenced on the graph's first run (see `_running`)."""
        if graph not in self._not_run_yet:
            return graph.process(image)
        self._not_run_yet.discard(graph)
        with _quiet_native_stderr():
            return graph.process(image)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 image, largest first; an empty list if there is none."""
        image = _as_rgb(rgb)
        with self._running():
            faces = self._detect_upright(image)
            if faces or not self.config.try_rotations:
                return faces
            for quarter_turns in (1, 3, 2):
                turned = np.ascontiguousarray(np.rot90(image, k=-quarter_turns))
                faces = self._detect_upright(turned)
                if faces:
                    return [_unrotate(face, quarter_turns, image.shape) for face in faces]
        return []

    def detect_boxes(
        self, rgb: np.ndarray
    ) -> list[tuple[tuple[float, float, float, float], float]]:
        """Detector boxes and scores only, before landmark refinement (for benchmarks)."""
        with self._running():
            return [(box, score) for box, score, _ in self._boxes(_as_rgb(rgb))]

    def landmarks_for_box(
        self, rgb: np.ndarray, box: tuple[float, float, float, float], roll: float = 0.0
    ) -> np.ndarray | None:
        """478x3 landmarks of the face in `box`, or None if the mesh does not confirm a face."""
        with self._running():
            return self._landmarks(_as_rgb(rgb), box, roll)

    def warm_up(self) -> None:
        """Build the graphs and run each once on a blank image: MediaPipe starts its models
        on a graph's first run (about 90 ms here), which the first real image then skips."""
        blank = np.zeros((_MESH_INPUT, _MESH_INPUT, 3), np.uint8)
        with self._running(warm_up=True):
            for graph in (self._full, self._short, self._mesh):
                if graph is not None and graph in self._not_run_yet:
                    self._process(graph, blank)

    def prepare_in_background(self) -> threading.Thread:
        """`warm_up` on another thread, started now; `detect` waits for it (the lock).

        MediaPipe's import and start-up then overlap the caller's own loading (`Analyzer`
        loads the detector meanwhile, C++ that releases the interpreter lock). A failure is
        left for `detect` to report. Not a daemon: native start-up cut short by the
        interpreter's exit can abort the process."""
        thread = threading.Thread(target=self._warm_up_quietly, name="opendfa-face-graphs")
        thread.start()
        return thread

    def _warm_up_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.warm_up()

    def close(self) -> None:
        with self._lock:
            for graph in (self._full, self._short, self._mesh):
                if graph is not None:
                    graph.close()
            self._full = self._short = self._mesh = None
            self._started = self._served = False

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _detect_upright(self, image: np.ndarray) -> list[Face]:
        faces: list[Face] = []
        for box, score, roll in self._boxes(image):
            landmarks = self._landmarks(image, box, roll)
            if landmarks is None:
                continue
            face = Face(box=box, score=score, landmarks=landmarks)
            if all(
                box_iou(_landmark_box(face.landmarks), _landmark_box(f.landmarks)) < 0.5
                for f in faces
            ):
                faces.append(face)
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces[: self.config.max_faces]

    def _boxes(self, image: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        height, width = image.shape[:2]
        found = []
        if self._short is not None:
            # Short-range keypoints on faces turned far from upright are unreliable; such
            # faces are found by the quarter-turn retries instead.
            close = self._run_detector(self._short, image, 0, 0)
            found.extend(
                d
                for d in close
                if abs(d[2]) <= _MAX_SHORT_RANGE_ROLL and d[1] >= _SHORT_RANGE_SCORE
            )
        if self._full is not None:
            found.extend(self._run_detector(self._full, image, 0, 0))
            tile = max(_MIN_TILE, round(self.config.min_face_px / _DETECTABLE_FRACTION))
            if self.config.tiles and tile < 0.75 * max(height, width):
                for x0, y0, x1, y1 in _tiles(width, height, tile):
                    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
                    found.extend(self._run_detector(self._full, crop, x0, y0))
        return _nms(found, self.config.nms_iou)

    def _run_detector(
        self, model, image: np.ndarray, dx: int, dy: int
    ) -> list[tuple[tuple[float, ...], float, float]]:
        """(box, score, roll in degrees from the two eye keypoints) per detection."""
        height, width = image.shape[:2]
        # The model sees 192 px; shrinking first makes MediaPipe's own copy and resize cheap.
        shrink = _DETECTOR_FEED / max(height, width)
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        result = self._process(model, image)
        boxes = []
        for detection in result.detections or []:
            rel = detection.location_data.relative_bounding_box
            x0 = max(0.0, rel.xmin * width)
            y0 = max(0.0, rel.ymin * height)
            x1 = min(float(width), (rel.xmin + rel.width) * width)
            y1 = min(float(height), (rel.ymin + rel.height) * height)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            right, left = detection.location_data.relative_keypoints[:2]
            roll = float(
                np.degrees(np.arctan2((left.y - right.y) * height, (left.x - right.x) * width))
            )
            boxes.append(((x0 + dx, y0 + dy, x1 + dx, y1 + dy), float(detection.score[0]), roll))
        return boxes

    def _landmarks(
        self, image: np.ndarray, box: tuple[float, ...], roll: float
    ) -> np.ndarray | None:
        for context in _MESH_CONTEXTS:
            points = self._landmarks_in_crop(image, box, context, roll)
            if points is not None:
                return points
        return None

    def _landmarks_in_crop(
        self, image: np.ndarray, box: tuple[float, ...], context: float, roll: float
    ) -> np.ndarray | None:
        """Mesh on a square crop around the box, turned so the eyes are level (the mesh is
        unreliable on faces rolled far from upright), mapped back to image pixels."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = context * max(box[2] - box[0], box[3] - box[1])
        scale = _MESH_INPUT / side
        to_crop = cv2.getRotationMatrix2D((cx, cy), roll, scale)
        to_crop[:, 2] += (_MESH_INPUT / 2 - cx, _MESH_INPUT / 2 - cy)
        to_image = cv2.invertAffineTransform(to_crop)
        crop = cv2.warpAffine(
            image,
            to_crop,
            (_MESH_INPUT, _MESH_INPUT),
            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        result = self._process(self._mesh, crop)
        if not result.multi_face_landmarks:
            return None
        self._served = True  # the mesh's landmark model has started: later calls may speak
        best, best_iou = None, 0.0
        for candidate in result.multi_face_landmarks:
            points = np.array([(p.x, p.y, p.z) for p in candidate.landmark], dtype=np.float64)
            points *= _MESH_INPUT
            # MediaPipe's coordinates put pixel i at [i, i+1) while warpAffine's matrix maps
            # pixel centres: shift by half a pixel on each side of the inverse mapping.
            centred = points[:, :2] - 0.5
            points[:, :2] = centred @ to_image[:, :2].T + to_image[:, 2] + 0.5
            points[:, 2] /= scale
            iou = box_iou(_landmark_box(points), box)
            if iou > best_iou:
                best, best_iou = points, iou
        if best is None or best_iou < 0.25 or best.shape[0] != mesh.NUM_LANDMARKS:
            return None
        return best.astype(np.float32)


@contextmanager
def _quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Silence MediaPipe's C++ log lines, which bypass Python logging, while models start up."""
    if not enabled or os.environ.get("OPENDFA_VERBOSE_NATIVE"):
        yield
        return
    with STDERR_LOCK:  # `cli_error` on another thread waits rather than print into /dev/null
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real stderr (some embedded interpreters)
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    image = np.asarray(rgb)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def _landmark_box(points: np.ndarray) -> tuple[float, float, float, float]:
    return (
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
    )


def _tiles(width: int, height: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Square tiles of side `tile` covering the image with at least 25 % overlap."""
    tw, th = min(tile, width), min(tile, height)
    return [(x, y, x + tw, y + th) for y in _starts(height, th) for x in _starts(width, tw)]


def _starts(length: int, tile: int) -> list[int]:
    if tile >= length:
        return [0]
    count = int(np.ceil((length - tile) / (0.75 * tile))) + 1
    return sorted({round(v) for v in np.linspace(0, length - tile, count)})


def _nms(boxes: list[tuple], threshold: float) -> list[tuple]:
    """Highest-scoring first; drop boxes overlapping or mostly inside a kept one."""
    kept: list[tuple] = []
    for item in sorted(boxes, key=lambda entry: entry[1], reverse=True):
        box = item[0]
        if all(
            box_iou(box, other[0]) < threshold and not _contains(other[0], box) for other in kept
        ):
            kept.append(item)
    return kept


def _contains(outer: tuple[float, ...], inner: tuple[float, ...]) -> bool:
    """True if most of `inner` lies inside `outer` (a tile's partial face inside a full one)."""
    ix = max(0.0, min(outer[2], inner[2]) - max(outer[0], inner[0]))
    iy = max(0.0, min(outer[3], inner[3]) - max(outer[1], inner[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return area > 0 and ix * iy / area > 0.7


def _unrotate(face: Face, quarter_turns: int, shape: tuple[int, ...]) -> Face:
    """Map a face found in the image turned clockwise by 90*k degrees back to the original."""
    height, width = shape[:2]
    points = face.landmarks.astype(np.float64).copy()
    points[:, :2] = _unrotate_points(points[:, :2], quarter_turns, width, height)
    corners = _unrotate_points(
        np.array([[face.box[0], face.box[1]], [face.box[2], face.box[3]]]),
        quarter_turns,
        width,
        height,
    )
    box = (
        float(corners[:, 0].min()),
        float(corners[:, 1].min()),
        float(corners[:, 0].max()),
        float(corners[:, 1].max()),
    )
    return Face(
        box=box, score=face.score, landmarks=points.astype(np.float32), rotation=90 * quarter_turns
    )


def _unrotate_points(points: np.ndarray, quarter_turns: int, width: int, height: int) -> np.ndarray:
    """Inverse of `np.rot90(image, k=-quarter_turns)` for continuous pixel coordinates."""
    x, y = points[:, 0], points[:, 1]
    if quarter_turns % 4 == 1:  # turned clockwise: (x, y) came from (y, H - x)
        return np.stack([y, height - x], axis=1)
    if quarter_turns % 4 == 2:
        return np.stack([width - x, height - y], axis=1)
    if quarter_turns % 4 == 3:  # turned anticlockwise: (x, y) came from (W - y, x)
        return np.stack([width - y, x], axis=1)
    return points.copy()
