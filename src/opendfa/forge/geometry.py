"""Face-local coordinates for landmark edits: x along the eyes, y down the face.

The unit is the distance between the eye centres.

Working in this frame makes an edit such as "open the mouth by 0.2" mean the same on any
face, whatever its size or roll.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opendfa.faces import mesh


@dataclass(frozen=True)
class FaceFrame:
    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    unit: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FaceFrame:
        right = landmarks[mesh.RIGHT_IRIS_CENTER, :2].astype(np.float64)
        left = landmarks[mesh.LEFT_IRIS_CENTER, :2].astype(np.float64)
        unit = float(np.linalg.norm(left - right))
        if unit < 1e-6:
            raise ValueError("degenerate landmarks: the eyes coincide")
        x_axis = (left - right) / unit
        y_axis = np.array([-x_axis[1], x_axis[0]])
        return cls(origin=(left + right) / 2, x_axis=x_axis, y_axis=y_axis, unit=unit)

    def to_local(self, points: np.ndarray) -> np.ndarray:
        centred = np.asarray(points, dtype=np.float64)[:, :2] - self.origin
        return np.stack([centred @ self.x_axis, centred @ self.y_axis], axis=1) / self.unit

    def to_image(self, local: np.ndarray) -> np.ndarray:
        local = np.asarray(local, dtype=np.float64) * self.unit
        return self.origin + local[:, :1] * self.x_axis + local[:, 1:2] * self.y_axis

    def shift(self, dx: np.ndarray | float, dy: np.ndarray | float) -> np.ndarray:
        """Image-space displacement for local displacements (dx, dy) in eye-distance units."""
        dx = np.atleast_1d(np.asarray(dx, dtype=np.float64))[:, None]
        dy = np.atleast_1d(np.asarray(dy, dtype=np.float64))[:, None]
        return (dx * self.x_axis + dy * self.y_axis) * self.unit


def gaussian_weights(local: np.ndarray, centre: tuple[float, float], sigma: float) -> np.ndarray:
    """Weight of each local point by its distance to `centre` (eye-distance units)."""
    distance = np.linalg.norm(local - np.asarray(centre), axis=1)
    return np.exp(-0.5 * (distance / sigma) ** 2)


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A strength between `low` and `high`, as many faint as strong (barely visible to bold)."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))
