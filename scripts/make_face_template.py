"""Write the mean 478-point face template used to judge a face crop in which no face was found.

    .venv/bin/python scripts/make_face_template.py

The landmarks of the two bundled public-domain portraits are mapped into the canonical
aligned frame (`align_face`'s ArcFace similarity, margin 0, unit square) and averaged;
the result (478 x 3 float32, x/y in [0, 1] of a tight aligned crop, z on the same scale)
goes to `src/opendfa/assets/faces/template_478.npy`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from opendfa.faces import FaceDetector
from opendfa.faces.align import canonical_keypoints, estimate_similarity
from opendfa.media import load_image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "opendfa" / "assets" / "samples"
OUT = ROOT / "src" / "opendfa" / "assets" / "faces" / "template_478.npy"


def main() -> int:
    canonical = canonical_keypoints(1000, 0.0) / 1000.0
    templates = []
    with FaceDetector() as detector:
        for name in ("astronaut.jpg", "grace_hopper.jpg"):
            face = detector.detect(load_image(SAMPLES / name).rgb)[0]
            matrix = estimate_similarity(face.keypoints, canonical)
            points = face.landmarks[:, :2] @ matrix[:, :2].T + matrix[:, 2]
            depth = face.landmarks[:, 2:3] * np.sqrt(abs(np.linalg.det(matrix[:, :2])))
            templates.append(np.hstack([points, depth]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.save(OUT, np.mean(templates, axis=0).astype(np.float32))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
