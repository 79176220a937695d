"""The forensic toolbox: time per check on a 1 MP JPEG, and the double-compression test's
hit and false-alarm rates on real photos.

    .venv/bin/python benchmarks/forensics.py [--repeat 20] [--write benchmarks/RESULTS.md]

Photos: scikit-image's colour photos (astronaut, chelsea, coffee, rocket, motorcycle_left,
ihc, retina), matplotlib's grace_hopper.jpg and, when fetched, the six camera photos of
`scripts/fetch_test_photos.sh` (downscaled to about 1 MP). Every photo is first downscaled
by 3/4 (area), which removes the 8x8 grid of any JPEG compression it went through before,
so "single" really is compressed once. A single case is the photo saved at q2; a double case
is the photo saved at q1, decoded, and saved at q2 (aligned grids, as when a JPEG is opened,
edited and saved again). The toolbox is timed as `Analyzer` calls it: on the file's bytes
with the decoded pixels given.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from results_section import write_section  # noqa: E402

from opendfa.forensics import run_forensics  # noqa: E402
from opendfa.forensics.copy_move import detect_copy_move  # noqa: E402
from opendfa.forensics.jpeg import analyze_jpeg  # noqa: E402

FIRST = (50, 60, 70, 75, 80, 85, 90, 95)
SECOND = (70, 75, 80, 85, 90, 95)
SINGLE = (50, 60, 70, 75, 80, 85, 90, 95)
TEST_PHOTOS = ROOT / ".cache" / "test-photos"


def jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def photos() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    from skimage import data

    found = {name: getattr(data, name)() for name in ("astronaut", "chelsea", "coffee", "rocket")}
    found["motorcycle_left"] = data.stereo_motorcycle()[0]
    found["ihc"] = data.immunohistochemistry()
    found["retina"] = data.retina()
    hopper = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    found["grace_hopper"] = np.asarray(Image.open(hopper).convert("RGB"))
    for path in sorted(TEST_PHOTOS.glob("sample*.jpg")):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        scale = (1_000_000 / (rgb.shape[0] * rgb.shape[1])) ** 0.5
        found[path.stem] = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return {
        name: cv2.resize(rgb, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
        for name, rgb in found.items()
    }


def hit_rates(images: dict[str, np.ndarray]) -> dict:
    singles = {q: [] for q in SINGLE}
    doubles: dict[tuple[int, int], list[tuple[bool, int | None]]] = {}
    for rgb in images.values():
        once = {q: jpeg(rgb, q) for q in set(FIRST) | set(SINGLE)}
        for q in SINGLE:
            singles[q].append(bool(analyze_jpeg(once[q]).double_compressed))
        for q1 in FIRST:
            decoded = decode(once[q1])
            for q2 in SECOND:
                if q1 == q2:
                    continue
                record = analyze_jpeg(jpeg(decoded, q2))
                doubles.setdefault((q1, q2), []).append(
                    (bool(record.double_compressed), record.first_quality)
                )
    return {"singles": singles, "doubles": doubles, "photos": len(images)}


def timings(repeat: int) -> tuple[str, dict[str, list[float]], dict[str, list[float]]]:
    sample = TEST_PHOTOS / "sample1.jpg"
    if sample.exists():
        rgb = np.asarray(Image.open(sample).convert("RGB"))
        source = "sample1.jpg (camera photo, area-downscaled)"
    else:
        from skimage import data

        rgb = data.chelsea()
        source = "scikit-image chelsea (upscaled)"
    scale = (1_000_000 / (rgb.shape[0] * rgb.shape[1])) ** 0.5
    rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    data = jpeg(rgb, 90)
    label = f"{source}, {rgb.shape[1]}x{rgb.shape[0]} JPEG q90"
    run_forensics(data, rgb)  # imports, c2pa's context, caches
    runs: dict[str, list[float]] = {}
    for _ in range(repeat):
        report = run_forensics(data, rgb)
        for key, value in report.timings_ms.items():
            runs.setdefault(key, []).append(value)
    extra: dict[str, list[float]] = {"copy_move (opt-in)": [], "load + all (no rgb given)": []}
    for _ in range(max(3, repeat // 4)):
        start = time.perf_counter()
        detect_copy_move(rgb)
        extra["copy_move (opt-in)"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        run_forensics(data)
        extra["load + all (no rgb given)"].append((time.perf_counter() - start) * 1000)
    return label, runs, extra


def section(label, runs, extra, rates, repeat, load_before, load_after) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        "## Forensic toolbox (benchmarks/forensics.py)",
        "",
        f"Run {today} on {_cpu()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, `python benchmarks/forensics.py --repeat {repeat}` at "
        f"niceness {os.nice(0)}; 1-minute load average {load_before:.1f} before and "
        f"{load_after:.1f} after (other jobs shared the CPU: medians are pessimistic, the "
        "minimum is nearest the unloaded cost). The rows are the checks of one `run_forensics` "
        "call made as `Analyzer` makes it for each image (file bytes and decoded pixels "
        f"given), over {repeat} calls after an untimed first one (imports, C2PA context).",
        "",
        f"### Time per check (ms), {label}; goal: default toolbox ≤ 80 ms",
        "",
        "| check | median | min |",
        "| --- | --- | --- |",
    ]
    for key, values in [*runs.items(), *extra.items()]:
        lines.append(f"| {key} | {statistics.median(values):.1f} | {min(values):.1f} |")
    singles, doubles = rates["singles"], rates["doubles"]
    n = rates["photos"]
    held_out = rates.get("held_out")
    false_alarms = sum(sum(v) for v in singles.values())
    total_singles = sum(len(v) for v in singles.values())
    coarse = [hit for (q1, q2), v in doubles.items() if q1 < q2 for hit, _ in v]
    fine = [hit for (q1, q2), v in doubles.items() if q1 > q2 for hit, _ in v]
    estimates = [
        (q1, first)
        for (q1, q2), v in doubles.items()
        if q1 < q2
        for hit, first in v
        if hit and first is not None
    ]
    close = sum(abs(first - q1) <= 3 for q1, first in estimates)
    lines += [
        "",
        f"### Double JPEG compression on {n} photos",
        "",
        "| case | images | flagged | rate |",
        "| --- | --- | --- | --- |",
        f"| saved once (q {SINGLE[0]}-{SINGLE[-1]}) | {total_singles} | {false_alarms} | "
        f"{false_alarms / total_singles:.1%} (false alarms) |",
        f"| saved twice, first quality lower (q1 < q2) | {len(coarse)} | {sum(coarse)} | "
        f"{sum(coarse) / len(coarse):.1%} |",
        f"| saved twice, first quality higher (q1 > q2) | {len(fine)} | {sum(fine)} | "
        f"{sum(fine) / len(fine):.1%} |",
        "",
        f"First quality estimated within ±3 for {close} of {len(estimates)} flagged q1 < q2 "
        f"cases ({close / max(1, len(estimates)):.1%}).",
        *(_held_out_lines(held_out) if held_out else []),
        "",
        "Hit rate by first (rows) and second (columns) quality; the single-save row is the "
        "false-alarm rate at that quality:",
        "",
        "| q1 \\ q2 | " + " | ".join(str(q) for q in SECOND) + " |",
        "| --- | " + " | ".join("---" for _ in SECOND) + " |",
        "| once | " + " | ".join(f"{sum(singles[q]) / len(singles[q]):.0%}" for q in SECOND) + " |",
    ]
    for q1 in FIRST:
        cells = []
        for q2 in SECOND:
            hits = doubles.get((q1, q2))
            cells.append("—" if hits is None else f"{sum(h for h, _ in hits) / len(hits):.0%}")
        lines.append(f"| {q1} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The test looks for the periodic histogram a second quantization leaves on the first "
        "one's grid (aligned double compression). It does not see a first compression whose "
        "grid was moved (cropping by a non-multiple of 8, resizing), and when the first "
        "quality is higher than the second the traces are weak; both are limits, not bugs.",
    ]
    return "\n".join(lines)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _held_out_lines(rates: dict) -> list[str]:
    """The same rates on the camera photos alone: the test's thresholds (vote ratio, gain,
    noise) were chosen on the other photos, so these are the unbiased numbers."""
    singles, doubles = rates["singles"], rates["doubles"]
    alarms = sum(sum(v) for v in singles.values())
    total = sum(len(v) for v in singles.values())
    coarse = [hit for (q1, q2), v in doubles.items() if q1 < q2 for hit, _ in v]
    fine = [hit for (q1, q2), v in doubles.items() if q1 > q2 for hit, _ in v]
    return [
        "",
        f"Held out ({rates['photos']} camera photos, not used while choosing the test's "
        f"thresholds): false alarms {alarms}/{total}, q1 < q2 hits "
        f"{sum(coarse)}/{len(coarse)} ({sum(coarse) / max(1, len(coarse)):.1%}), q1 > q2 hits "
        f"{sum(fine)}/{len(fine)} ({sum(fine) / max(1, len(fine)):.1%}).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", type=Path, help="RESULTS.md to update")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    label, runs, extra = timings(args.repeat)
    images = photos()
    rates = hit_rates(images)
    camera = {k: v for k, v in images.items() if k.startswith("sample")}
    if camera:
        rates["held_out"] = hit_rates(camera)
    text = section(label, runs, extra, rates, args.repeat, load_before, os.getloadavg()[0])
    print(text)
    if args.write:
        write_section(args.write, "forensics", text)


if __name__ == "__main__":
    main()
