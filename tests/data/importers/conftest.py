"""Helpers that build tiny fake dataset trees: 8x8 images and 3-frame mp4 files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest


def _image(path: Path, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8, 3), value, np.uint8))
    return path


def _video(path: Path, frames: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (16, 16))
    for index in range(frames):
        writer.write(np.full((16, 16, 3), 40 * index, np.uint8))
    writer.release()
    assert path.stat().st_size > 0
    return path


def _json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def image():
    return _image


@pytest.fixture
def video():
    return _video


@pytest.fixture
def write_json():
    return _json
