"""Forgery synthesis speed: samples/s per method and for the whole `data synth` job.

    .venv/bin/python benchmarks/forge.py [--repeat 3] [--write benchmarks/RESULTS.md]

Runs on the bundled portraits and the group-photo faces (scripts/fetch_test_photos.sh),
cropped as `opendfa data synth` crops them (face-centred, at most 512 px).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from results_section import write_section
from threadpoolctl import threadpool_limits

from opendfa.data.synth import SynthConfig, face_crop, synthesize
from opendfa.faces import FaceDetector
from opendfa.forge import FORGERY_METHODS, FaceImage, create_forgery
from opendfa.media import load_image

ROOT = Path(__file__).resolve().parent.parent


def gather_faces(detector: FaceDetector) -> list[FaceImage]:
    paths = [
        ROOT / "src/opendfa/assets/samples/astronaut.jpg",
        ROOT / "src/opendfa/assets/samples/grace_hopper.jpg",
    ]
    paths += sorted((ROOT / ".cache/test-photos").glob("sample*.jpg"))
    faces = []
    for path in paths:
        rgb = load_image(path).rgb
        for number, face in enumerate(detector.detect(rgb)):
            crop, moved = face_crop(rgb, face)
            faces.append(FaceImage(crop, moved, identity=f"{path.stem}-{number}", path=str(path)))
    return faces


def time_methods(faces: list[FaceImage], repeat: int) -> dict[str, list[float]]:
    methods = [
        m
        for m in (
            "face_swap",
            "face_reenactment",
            "face_editing",
            "entire_face_synthesis",
            "self_blend",
        )
        if m in FORGERY_METHODS
    ]
    times: dict[str, list[float]] = {m: [] for m in methods}
    with threadpool_limits(limits=1, user_api="blas"):
        for method in methods:
            create_forgery(method, faces[0], faces[1], seed=0)  # warm-up (model loads)
            for round_ in range(repeat):
                for number, face in enumerate(faces):
                    source = faces[(number + 1) % len(faces)]
                    start = time.perf_counter()
                    create_forgery(method, face, source, seed=round_ * 1000 + number)
                    times[method].append(time.perf_counter() - start)
    return times


def time_job(detector: FaceDetector, faces: list[FaceImage]) -> tuple[int, float]:
    """The whole job (detection, forging, degradations, PNG writing) on one folder per face."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "faces"
        for face in faces:
            (source / face.identity).mkdir(parents=True)
            cv2.imwrite(
                str(source / face.identity / "photo.png"), cv2.cvtColor(face.rgb, cv2.COLOR_RGB2BGR)
            )
        start = time.perf_counter()
        report = synthesize(source, Path(tmp) / "out", SynthConfig(), detector=detector)
        elapsed = time.perf_counter() - start
        shutil.rmtree(source)
    return report.written, elapsed


def table(times: dict[str, list[float]], job: tuple[int, float], faces: int) -> str:
    rows = [
        "| method | samples | median ms | mean ms | samples/s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for method, values in times.items():
        mean = statistics.fmean(values)
        median = 1e3 * statistics.median(values)
        rows.append(
            f"| {method} | {len(values)} | {median:.0f} | {1e3 * mean:.0f} | {1 / mean:.1f} |"
        )
    mix = statistics.fmean([statistics.fmean(v) for v in times.values()])
    rows.append(f"| **mix (equal share)** | | | {1e3 * mix:.0f} | **{1 / mix:.1f}** |")
    written, elapsed = job
    header = (
        f"Machine: {platform.machine()}, 2 CPU cores, Python {platform.python_version()}, "
        f"{date.today().isoformat()}. {faces} real faces (bundled portraits + face-api group "
        "photos), face-centred crops of at most 512 px, one process, BLAS limited to one thread."
    )
    job_line = (
        "Whole `opendfa data synth` job (detect, forge all families, random degradations, "
        f"write PNG image + mask + landmarks, append manifest): {written} samples in "
        f"{elapsed:.1f} s = **{written / elapsed:.1f} samples/s**."
    )
    return "\n".join([header, "", *rows, "", job_line])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args()
    with FaceDetector() as detector:
        faces = gather_faces(detector)
        times = time_methods(faces, args.repeat)
        job = time_job(detector, faces)
    body = table(times, job, len(faces))
    print(body)
    if args.write:
        block = f"## Forgery synthesis (benchmarks/forge.py)\n\n{body}"
        write_section(args.write, "forge", block)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
