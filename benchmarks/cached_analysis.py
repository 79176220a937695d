"""What the analysis benchmarks share: a resumable loop of whole-`Analyzer` runs over samples
and conditions, cached per detector, and the command line around it.

`benign_false_positives.py`, `abstention.py` and `edit_strength.py` each analyse many images
(an hour or more on the 2-core machine) and must survive an interrupted session. Their rows
are appended as they come to `runs/<bench>/<model label>-<weights sha>/rows.jsonl`, keyed by
sample and condition; a rerun analyses only what is missing. The cache is per set of weights,
so scoring a new model never reuses an older model's rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from opendfa.safe_files import append_jsonl, resume_jsonl

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "opendfa-lite0"

# (sample, condition, the sample's image loaded once) -> the file handed to `analyze_image`
MakeInput = Callable[[Any, str, np.ndarray], bytes | str | Path]
# (sample, condition, report) -> the row to keep
MakeRow = Callable[[Any, str, Any], dict]


def model_label(model: str) -> str:
    """The detector's name and version as its reports give it (`opendfa-lite0@3`)."""
    from opendfa.models import detector_base

    folder = detector_base.resolve_detector(model)
    return detector_base.model_label(detector_base.read_detector_info(folder), folder)


def decision_threshold(model: str) -> float:
    """The P(fake) at which the analysis calls a face of `model` fake: its folder's operating
    point (`opendfa.models.operating_point`), else 0.5."""
    from opendfa.models import detector_base
    from opendfa.models.operating_point import DEFAULT_THRESHOLD, load_operating_point

    folder = detector_base.resolve_detector(model)
    sha = detector_base.read_detector_info(folder).get("weights_sha256")
    point = load_operating_point(folder, sha)
    return point.threshold if point is not None else DEFAULT_THRESHOLD


def cache_path(bench: str, model: str, *, per_threshold: bool = True) -> Path:
    """`runs/<bench>/<model label>-<weights sha256, 12 digits>[-t<threshold>]/rows.jsonl`: one
    cache per set of weights and operating point (two candidates published under one name and
    version never share rows, nor one model judged at two thresholds). `per_threshold` False:
    the rows keep nothing the threshold decides (P(fake), sizes), one cache serves every one."""
    from opendfa.models import detector_base
    from opendfa.models.operating_point import DEFAULT_THRESHOLD

    folder = detector_base.resolve_detector(model)
    sha = str(detector_base.read_detector_info(folder).get("weights_sha256") or "unknown")
    threshold = decision_threshold(model)
    # Verdicts move with the operating point: each threshold gets its own cache.
    line = f"-t{threshold:.4f}" if per_threshold and threshold != DEFAULT_THRESHOLD else ""
    return ROOT / "runs" / bench / f"{model_label(model)}-{sha[:12]}{line}" / "rows.jsonl"


def analyse_all(
    samples: Sequence[Any],
    conditions: Iterable[str],
    *,
    cache: Path,
    load: Callable[[Any], np.ndarray],
    make_input: MakeInput,
    make_row: MakeRow,
    model: str = DEFAULT_MODEL,
    every: int = 25,
) -> list[dict]:
    """Rows of every (sample, condition), analysed by `Analyzer(model, forensics=False)` or
    read from `cache`; rows carry `id` and `condition`. Returns the rows of `samples` only."""
    from opendfa.evidence.pipeline import Analyzer

    conditions = tuple(conditions)
    rows = resume_jsonl(cache, key=lambda row: (row["id"], row["condition"]))
    cache.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with Analyzer(model, forensics=False) as analyzer, cache.open("a", encoding="utf-8") as out:
        for number, sample in enumerate(samples, start=1):
            image = None
            for condition in conditions:
                if (sample.id, condition) in rows:
                    continue
                if image is None:
                    image = load(sample)
                report = analyzer.analyze_image(make_input(sample, condition, image))
                row = {
                    "id": sample.id,
                    "condition": condition,
                    **make_row(sample, condition, report),
                }
                rows[(sample.id, condition)] = row
                append_jsonl(out, row)
            if number % every == 0:
                print(f"{number}/{len(samples)} {time.perf_counter() - start:.0f} s", flush=True)
    wanted = {s.id for s in samples}
    return [row for row in rows.values() if row["id"] in wanted]


def parser_for(doc: str, default_manifest: str) -> argparse.ArgumentParser:
    """--manifest, --model and --markdown, as every analysis benchmark takes them."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=ROOT / default_manifest)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="detector name or folder")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    return parser


def publish(text: str, markdown: Path | None) -> None:
    """Print the tables and write them where asked."""
    print(text)
    if markdown:
        markdown.write_text(text, encoding="utf-8")
