"""The `Face` record every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opendfa.faces import mesh


@dataclass
class Face:
    """One detected face in image pixel coordinates.

    `landmarks` is (478, 3): x and y in pixels, z a relative depth on the same scale.
    Coordinates are continuous with pixel i spanning [i, i+1) (MediaPipe's convention);
    OpenCV calls that take pixel centres get the points shifted by -0.5.
    `rotation` is the clockwise angle (0, 90, 180, 270) the image had to be turned for the
    detector to find the face; coordinates are always in the original, unrotated image.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    rotation: int = 0

    @property
    def keypoints(self) -> np.ndarray:
        """(5, 2) eye centres, nose tip and mouth corners, in `mesh.KEYPOINT_NAMES` order."""
        return self.landmarks[list(mesh.KEYPOINT_INDICES), :2].astype(np.float64)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def interocular(self) -> float:
        right, left = self.keypoints[0], self.keypoints[1]
        return float(np.linalg.norm(left - right))

    def keypoint_dict(self) -> dict[str, list[float]]:
        return {
            name: [round(float(x), 2), round(float(y), 2)]
            for name, (x, y) in zip(mesh.KEYPOINT_NAMES, self.keypoints, strict=True)
        }


def box_iou(a: tuple[float, ...] | np.ndarray, b: tuple[float, ...] | np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
