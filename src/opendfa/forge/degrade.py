"""Degradations as composable, recorded transforms (the c23/c40 world of real fakes).

Each transform takes (image, rng) and returns (image, record); `apply_degradations` runs a
chain and returns the records, which go into `Sample.degradations`, so the exact chain can
be replayed with `replay_degradations`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

Record = dict[str, Any]


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def resize(image: np.ndarray, scale: float) -> np.ndarray:
    """Down- and back up-scale: the detail loss of a resized upload."""
    height, width = image.shape[:2]
    small = cv2.resize(
        image,
        (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), float(sigma))


def noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = image.astype(np.float32) + rng.normal(0, sigma, size=image.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def colour_jitter(
    image: np.ndarray, brightness: float, contrast: float, saturation: float
) -> np.ndarray:
    out = image.astype(np.float32)
    out = (out - 127.5) * contrast + 127.5 + brightness
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * saturation
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def video_codec(image: np.ndarray, quality: int) -> np.ndarray:
    """One frame through a real video codec (MPEG-4 part 2), like a re-encoded upload.

    Falls back to 4:2:0 chroma subsampling plus JPEG when no encoder is available.
    """
    height, width = image.shape[:2]
    even = (width - width % 2, height - height % 2)
    frame = cv2.cvtColor(
        cv2.resize(image, even) if even != (width, height) else image, cv2.COLOR_RGB2BGR
    )
    fd, path = tempfile.mkstemp(suffix=".avi")
    os.close(fd)
    try:
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"XVID"), 25.0, even)
        if writer.isOpened():
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, float(quality))
            writer.write(frame)
            writer.release()
            capture = cv2.VideoCapture(path)
            ok, decoded = capture.read()
            capture.release()
            if ok and decoded is not None:
                return cv2.resize(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), (width, height))
        else:
            writer.release()
    finally:
        os.unlink(path)
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    chroma = cv2.resize(
        cv2.resize(ycrcb[..., 1:], (max(1, width // 2), max(1, height // 2))), (width, height)
    )
    ycrcb[..., 1:] = chroma
    return jpeg(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB), quality)


def _random_params(name: str, rng: np.random.Generator) -> Record:
    if name == "jpeg":
        return {"quality": int(rng.integers(35, 96))}
    if name == "resize":
        return {"scale": round(float(rng.uniform(0.4, 0.9)), 3)}
    if name == "blur":
        return {"sigma": round(float(rng.uniform(0.4, 1.6)), 3)}
    if name == "noise":
        return {"sigma": round(float(rng.uniform(2, 8)), 3), "seed": int(rng.integers(0, 2**31))}
    if name == "colour_jitter":
        return {
            "brightness": round(float(rng.uniform(-20, 20)), 2),
            "contrast": round(float(rng.uniform(0.85, 1.15)), 3),
            "saturation": round(float(rng.uniform(0.8, 1.2)), 3),
        }
    if name == "video_codec":
        return {"quality": int(rng.integers(20, 80))}
    raise ValueError(f"unknown degradation {name!r}")


DEGRADATIONS: dict[str, Callable[..., np.ndarray]] = {
    "jpeg": jpeg,
    "resize": resize,
    "blur": blur,
    "noise": noise,
    "colour_jitter": colour_jitter,
    "video_codec": video_codec,
}


def random_chain(
    rng: np.random.Generator, max_steps: int = 2, probability: float = 0.7
) -> list[Record]:
    """A random chain of up to `max_steps` degradations (empty with probability 1 - p)."""
    if rng.random() >= probability:
        return []
    count = int(rng.integers(1, max_steps + 1))
    names = rng.choice(sorted(DEGRADATIONS), size=count, replace=False)
    return [{"name": str(name), **_random_params(str(name), rng)} for name in names]


def replay_degradations(image: np.ndarray, chain: list[Record]) -> np.ndarray:
    """Apply a recorded chain exactly."""
    for step in chain:
        params = {k: v for k, v in step.items() if k != "name"}
        try:
            transform = DEGRADATIONS[step["name"]]
        except KeyError:
            raise ValueError(f"unknown degradation {step.get('name')!r}") from None
        image = transform(image, **params)
    return image


def apply_degradations(
    image: np.ndarray, rng: np.random.Generator, **chain_options: Any
) -> tuple[np.ndarray, list[Record]]:
    chain = random_chain(rng, **chain_options)
    return replay_degradations(image, chain), chain
