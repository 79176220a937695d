"""`opendfa data synth`: real face photos in, a labelled manifest of reals and forgeries out.

Identities come from folders (`DIR/<identity>/*.jpg`; a photo directly in DIR is its own
identity). Splits are fixed per identity before anything is forged, and a swap's source is
always drawn from the target's split, so no face crosses from train to test. Every sample
is written as it is made (PNG image, PNG mask, landmarks .npy, and for a forgery that moved
the face's own pixels its backward flow, `flow/<id>.npz`, see `write_flow`) and appended to
the manifest, so an interrupted run resumes where it stopped.

Degradations keep the image's size and geometry (`resize` shrinks and enlarges back), so a
flow is written as the forge made it, whatever the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from opendfa.data.manifest import append_samples, read_manifest
from opendfa.data.sample import Sample
from opendfa.data.splits import SplitConfig, identity_split
from opendfa.faces import Face, FaceDetector, mesh
from opendfa.forge import (
    FORGERY_METHODS,
    METHOD_CATEGORIES,
    FaceImage,
    ForgeryError,
    create_forgery,
)
from opendfa.forge.core import NEEDS_SOURCE
from opendfa.forge.degrade import apply_degradations
from opendfa.forge.geometry import FaceFrame
from opendfa.media import IMAGE_SUFFIXES, MediaError, load_image
from opendfa.taxonomy import ENTIRE_FACE_SYNTHESIS, REAL

DEFAULT_METHODS = (
    "face_swap",
    "face_reenactment",
    "face_editing",
    "entire_face_synthesis",
    "self_blend",
)
MAX_SIDE = 1024  # photos are shrunk to this before detection
CROP_CONTEXT = 2.2  # forging works on a square this many face sizes wide around the face
CROP_SIDE = 512  # ... resized to at most this many pixels: faces stay large, work stays fast


@dataclass
class SynthConfig:
    methods: tuple[str, ...] = DEFAULT_METHODS
    per_face: int = 1
    seed: int = 0
    degrade_probability: float = 0.5
    splits: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class SynthReport:
    written: int = 0
    skipped_existing: int = 0
    problems: list[str] = field(default_factory=list)
    per_method: dict[str, int] = field(default_factory=dict)


def find_face_photos(root: Path) -> list[tuple[str, Path]]:
    """(identity, path) for every image under root: subfolder name or file stem as identity."""
    photos = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        relative = path.relative_to(root)
        identity = relative.parts[0] if len(relative.parts) > 1 else path.stem
        photos.append((identity, path))
    return photos


def synthesize(
    faces_dir: str | Path,
    out_dir: str | Path,
    config: SynthConfig | None = None,
    *,
    detector: FaceDetector | None = None,
    progress: Callable[[Iterator], Iterator] | None = None,
) -> SynthReport:
    """Make reals and forgeries from the photos in `faces_dir` into `out_dir/manifest.jsonl`."""
    config = config or SynthConfig()
    unknown = [m for m in config.methods if m not in FORGERY_METHODS]
    if unknown:
        raise ValueError(
            f"unknown method(s) {', '.join(unknown)}; known: {', '.join(sorted(FORGERY_METHODS))}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.jsonl"
    done = {s.id for s in read_manifest(manifest_path).samples} if manifest_path.exists() else set()
    report = SynthReport()
    # Forging is many small array operations: BLAS threads only spin and steal the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        _run_jobs(Path(faces_dir), out, config, detector, progress, done, report)
    return report


def _run_jobs(
    faces_dir: Path,
    out: Path,
    config: SynthConfig,
    detector: FaceDetector | None,
    progress: Callable[[Iterator], Iterator] | None,
    done: set[str],
    report: SynthReport,
) -> None:
    manifest_path = out / "manifest.jsonl"
    owns_detector = detector is None
    detector = detector or FaceDetector()
    try:
        faces = _load_faces(faces_dir, detector, report)
    finally:
        if owns_detector:
            detector.close()
    by_split: dict[str, list[FaceImage]] = {}
    for face in faces:
        by_split.setdefault(identity_split(face.identity, config.splits), []).append(face)
    jobs = [
        (face, method, k)
        for face in faces
        for method in ("real", *config.methods)
        for k in range(1 if method == "real" else config.per_face)
    ]
    iterator = progress(iter(jobs)) if progress else iter(jobs)
    for face, method, k in iterator:
        sample_id = _sample_id(face, method, k, faces_dir)
        if sample_id in done:
            report.skipped_existing += 1
            continue
        split = identity_split(face.identity, config.splits)
        try:
            sample = _make_sample(face, method, k, sample_id, split, by_split[split], out, config)
        except ForgeryError as err:
            report.problems.append(f"{method} on {face.path}: {err}")
            continue
        append_samples(manifest_path, [sample])
        done.add(sample_id)
        report.written += 1
        report.per_method[method] = report.per_method.get(method, 0) + 1


def _load_faces(root: Path, detector: FaceDetector, report: SynthReport) -> list[FaceImage]:
    faces = []
    for identity, path in find_face_photos(root):
        try:
            rgb = load_image(path).rgb
        except MediaError as err:
            report.problems.append(f"{path}: {err.reason}")
            continue
        scale = MAX_SIDE / max(rgb.shape[:2])
        if scale < 1:
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        found = detector.detect(rgb)
        if not found:
            report.problems.append(f"{path}: no face found")
            continue
        crop, face = face_crop(rgb, found[0])
        faces.append(FaceImage(rgb=crop, face=face, identity=identity, path=str(path)))
    return faces


def face_crop(rgb: np.ndarray, face: Face) -> tuple[np.ndarray, Face]:
    """A square, face-centred crop inside the photo and the face moved into its coordinates.

    The square shrinks and shifts to stay inside the image rather than padding: mirrored or
    smeared borders around tight face crops would be artefacts no real photo has.
    """
    height, width = rgb.shape[:2]
    side = min(CROP_CONTEXT * max(face.width, face.height), width, height)
    cx = float(np.clip((face.box[0] + face.box[2]) / 2, side / 2, width - side / 2))
    cy = float(np.clip((face.box[1] + face.box[3]) / 2, side / 2, height - side / 2))
    scale = min(1.0, CROP_SIDE / side)
    size = max(1, round(side * scale))
    matrix = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]])
    crop = cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    landmarks = face.landmarks.astype(np.float64).copy()
    # Points use the pixel-edge convention, the matrix OpenCV's pixel centres.
    landmarks[:, :2] = (landmarks[:, :2] - 0.5) * scale + matrix[:, 2] + 0.5
    landmarks[:, 2] *= scale
    corners = (
        (np.array(face.box, dtype=np.float64).reshape(2, 2) - 0.5) * scale + matrix[:, 2] + 0.5
    )
    box = tuple(float(v) for v in corners.ravel())
    moved = Face(
        box=box, score=face.score, landmarks=landmarks.astype(np.float32), rotation=face.rotation
    )
    return crop, moved


def _sample_id(face: FaceImage, method: str, k: int, root: Path) -> str:
    """Stable across runs: hashes the photo's path inside the faces folder, however the folder
    was named (relative, absolute), so a resumed run recognises its samples and seeds agree."""
    relative = Path(face.path).resolve().relative_to(root.resolve()).as_posix()
    stem = hashlib.sha1(relative.encode()).hexdigest()[:8]
    return f"{method}-{face.identity}-{stem}-{k}"


def _seed(config: SynthConfig, sample_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{config.seed}:{sample_id}".encode()).digest()[:4], "big")


def _make_sample(
    face: FaceImage,
    method: str,
    k: int,
    sample_id: str,
    split: str,
    pool: list[FaceImage],
    out: Path,
    config: SynthConfig,
) -> Sample:
    seed = _seed(config, sample_id)
    rng = np.random.default_rng(seed)
    flow = None
    if method == "real":
        image, mask, params, regions, source = face.rgb, None, {}, [], None
        category, technique = REAL, "real"
    else:
        source = _pick_source(face, pool, rng) if method in NEEDS_SOURCE else None
        forgery = create_forgery(method, face, source, seed=seed)
        image, mask, params, regions = forgery.image, forgery.mask, forgery.params, forgery.regions
        category, technique, flow = METHOD_CATEGORIES[method], forgery.technique, forgery.flow
    chain: list[dict] = []
    if rng.random() < config.degrade_probability:
        image, chain = apply_degradations(image, rng, probability=1.0)
    folder = out / ("real" if method == "real" else f"fake/{method}")
    folder.mkdir(parents=True, exist_ok=True)
    image_path = folder / f"{sample_id}.png"
    cv2.imwrite(str(image_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    mask_path = None
    if mask is not None:
        mask_path = out / "masks" / f"{sample_id}.png"
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(mask_path), np.round(mask * 255).astype(np.uint8))
    shows = source.identity if (source is not None and category == "face_swap") else face.identity
    meta: dict = {"origin": face.path, "method": method, "params": params}
    if flow is not None:
        meta["flow_path"] = write_flow(out, sample_id, flow)
    if category == ENTIRE_FACE_SYNTHESIS:
        # A generated face is its own aligned crop: no landmarks of the target apply to it.
        # It keeps the target's identity for splitting (encode mode starts from that face).
        meta.update(aligned=True, crop_margin=params.get("crop_margin", 0.25), synthetic=True)
    else:
        landmarks_path = (
            out
            / "landmarks"
            / f"{face.identity}-{hashlib.sha1(face.path.encode()).hexdigest()[:8]}.npy"
        )
        landmarks_path.parent.mkdir(parents=True, exist_ok=True)
        if not landmarks_path.exists():
            np.save(landmarks_path, face.face.landmarks.astype(np.float32))
        meta.update(
            face_box=[round(float(v), 1) for v in face.face.box],
            landmarks_path=str(landmarks_path.relative_to(out)),
        )
    return Sample(
        id=sample_id,
        path=str(image_path.relative_to(out)),
        label="real" if method == "real" else "fake",
        category=category,
        technique=technique,
        identity=shows,
        source_identity=source.identity if source is not None else None,
        target_identity=face.identity,
        split=split,
        mask_path=str(mask_path.relative_to(out)) if mask_path else None,
        regions=regions,
        dataset="opendfa-synth",
        degradations=chain,
        meta=meta,
    )


def write_flow(out: Path, sample_id: str, flow: np.ndarray) -> str:
    """Save a backward flow as `flow/<id>.npz` (key `flow`, (H, W, 2) float16, compressed:
    mostly zeros) and return its path relative to `out`. float16 keeps 1/64 px up to 32 px."""
    path = out / "flow" / f"{sample_id}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, flow=flow.astype(np.float16))
    return str(path.relative_to(out))


def _pick_source(face: FaceImage, pool: list[FaceImage], rng: np.random.Generator) -> FaceImage:
    """A different identity from the same split, among the three closest in head pose.

    Swapping between very different poses smears features; real swap datasets pair faces
    of similar pose for the same reason.
    """
    others = [candidate for candidate in pool if candidate.identity != face.identity]
    if not others:
        raise ForgeryError(f"no other identity in the {face.identity!r} split to swap with")
    pose = head_pose(face.face)
    distances = [float(np.abs(head_pose(other.face) - pose).sum()) for other in others]
    closest = np.argsort(distances)[:3]
    return others[int(rng.choice(closest))]


def head_pose(face: Face) -> np.ndarray:
    """(yaw, pitch) proxies: the nose tip's offset from the eyes' midpoint, in eye distances."""
    frame = FaceFrame.of(face.landmarks)
    nose = frame.to_local(face.landmarks[[mesh.NOSE_TIP]])[0]
    return np.array([nose[0], nose[1] - 0.75])
