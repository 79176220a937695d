"""Speed of `opendfa analyze`: single-face images end to end, and 720p video with sampling.

    .venv/bin/python benchmarks/analyze.py [--repeat 5] [--write benchmarks/RESULTS.md]

Uses the bundled `opendfa-lite0` (or a random-weight detector of the same shape when it is
not installed: speed does not depend on the weights), on ONNX Runtime (what `analyze` runs on
the CPU) and on torch for the images, on `--backend` for the video. Images: the bundled
samples, analysed from the file (load, face detection, mesh, alignment, detector, mask, cues;
no HTML). Video: a 10 s, 25 fps, 1280x720 clip made here from the bundled portrait moving
across the frame, analysed at 5, 10 and all-frames sampling rates; "analysed frames/s" counts
the sampled frames over the whole wall time, decoding included.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from results_section import write_section

from opendfa.evidence.pipeline import Analyzer
from opendfa.media import load_image
from opendfa.models.detector_base import DetectorNotFoundError
from opendfa.models.runtime import load_for_inference

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "opendfa" / "assets" / "samples"


def detector(backend: str):
    """The bundled detector on `backend` (onnx or torch), or a random-weight one of its shape."""
    try:
        return load_for_inference(backend=backend), "opendfa-lite0 (bundled)"
    except DetectorNotFoundError:
        from opendfa.models.detector import (
            DetectorConfig,
            MultiTaskDetector,
            export_onnx,
            save_detector,
        )

        folder = Path(tempfile.mkdtemp()) / "random"
        config = DetectorConfig(input_size=160, mask_size=20)
        save_detector(MultiTaskDetector(config, pretrained=False), folder)
        export_onnx(folder)
        return load_for_inference(folder, backend=backend), "random weights, opendfa-lite0's shape"


def make_video(path: Path, seconds: float = 10.0, fps: float = 25.0) -> Path:
    face = cv2.cvtColor(load_image(SAMPLES / "astronaut.jpg").rgb, cv2.COLOR_RGB2BGR)
    face = cv2.resize(face, (400, 400), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for k in range(int(seconds * fps)):
        frame = np.full((720, 1280, 3), 60, np.uint8)
        x = int(100 + 700 * k / (seconds * fps))
        frame[160:560, x : x + 400] = face
        writer.write(frame)
    writer.release()
    return path


def time_images(analyzer: Analyzer, repeat: int) -> list[tuple[str, int, float, dict]]:
    rows = []
    for name in ("astronaut.jpg", "grace_hopper.jpg", "swap_collins_on_hopper.jpg"):
        analyzer.analyze_image(SAMPLES / name)  # warm-up
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            report = analyzer.analyze_image(SAMPLES / name)
            runs.append(1000 * (time.perf_counter() - start))
        rows.append((name, len(report.faces), statistics.median(runs), report.timings_ms))
    return rows


def time_video(analyzer: Analyzer, video: Path) -> list[tuple[str, int, float]]:
    rows = []
    for label, kwargs in (
        ("5 fps", {"fps": 5.0}),
        ("10 fps", {"fps": 10.0}),
        ("16 frames (default)", {"num_frames": 16}),
    ):
        start = time.perf_counter()
        report = analyzer.analyze_video(video, **kwargs)
        seconds = time.perf_counter() - start
        rows.append((label, report.input.frames_analyzed, seconds))
    return rows


def render(images, video, model: str, repeat: int, backend: str) -> str:
    lines = [
        "## Analysis speed (benchmarks/analyze.py)",
        "",
        f"Run {datetime.date.today().isoformat()} on {platform.machine()} "
        f"({torch.get_num_threads()} torch threads; ONNX Runtime with its default threads), "
        f"detector: {model}, on ONNX Runtime (the default on the CPU) and on torch.",
        "",
        f"### Single images (median of {repeat} after a warm-up; goal ≤ 150 ms, one face)",
        "",
        "| image | runtime | faces | total ms | load | faces | align | detector | cues |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for runtime, rows in sorted(images.items(), key=lambda item: item[0] != "onnx"):
        for name, faces, total, t in rows:
            parts = " | ".join(
                f"{t.get(k, 0):.0f}" for k in ("load", "faces", "align", "detector", "cues")
            )
            lines.append(f"| {name} | {runtime} | {faces} | {total:.0f} | {parts} |")
    lines += [
        "",
        f"### 720p video on {backend} (10 s, 25 fps, one moving face; goal ≥ 15 analysed frames/s)",
        "",
        "| sampling | frames analysed | seconds | analysed frames/s |",
        "| --- | --- | --- | --- |",
    ]
    for label, frames, seconds in video:
        lines.append(f"| {label} | {frames} | {seconds:.2f} | {frames / seconds:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", type=Path, help="update this RESULTS.md's section")
    parser.add_argument(
        "--backend", choices=("onnx", "torch"), default="onnx", help="the video's runtime"
    )
    args = parser.parse_args(argv)
    images, video = {}, []
    for backend in ("torch", "onnx"):  # torch first: after ONNX Runtime it ran 5x slower here
        loaded, model = detector(backend)
        with tempfile.TemporaryDirectory() as tmp, Analyzer(loaded) as analyzer:
            images[backend] = time_images(analyzer, args.repeat)
            if backend == args.backend:
                video = time_video(analyzer, make_video(Path(tmp) / "clip.mp4"))
    body = render(images, video, model, args.repeat, args.backend)
    print(body)
    if args.write:
        write_section(args.write, "analyze", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
