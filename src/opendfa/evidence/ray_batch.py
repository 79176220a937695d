"""`opendfa analyze DIR --out results.jsonl --ray`: the batch pipeline on Ray Data.

The driver plans the batch exactly as the single-process mode does (`plan_batch`: repair the
JSONL, skip inputs already analysed, retry errors), then streams the remaining paths through a
pool of actors, each holding one `Analyzer` (models load once per actor). Reports come back as
JSON lines and the driver appends each one as it arrives, flushed and synced, so a crash or a
kill loses only the inputs in flight and a rerun completes the file without duplicates.
Without `address`, Ray starts locally (tests run this way); with `address="auto"` or a
`ray://` URL it uses an existing cluster, whose workers must see the same input paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from opendfa.evidence.batch import BatchSummary, analyze_or_error, append_report, plan_batch
from opendfa.evidence.report import Report
from opendfa.models.configs import DEFAULT_MODEL


class _AnalyzeActor:
    """One Analyzer per Ray actor; maps a batch of paths to report JSON lines."""

    def __init__(
        self,
        model: str,
        num_frames: int | None,
        fps: float | None,
        threshold: float | None,
        limits: dict[str, Any] | None = None,
    ):
        import torch

        from opendfa.evidence.pipeline import Analyzer

        torch.set_num_threads(1)  # actors share the machine's cores
        self.analyzer = Analyzer(model, threshold=threshold, **(limits or {}))
        self.num_frames, self.fps = num_frames, fps

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        lines = []
        for path, sha256 in zip(batch["path"], batch["sha256"], strict=True):
            report = analyze_or_error(
                self.analyzer, Path(path), sha256 or None, self.num_frames, self.fps
            )
            lines.append(report.to_json_line())
        return {"path": list(batch["path"]), "line": lines}


def analyze_with_ray(
    paths: Iterable[str | Path],
    out_jsonl: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    resume: bool = True,
    num_frames: int | None = 16,
    fps: float | None = None,
    threshold: float | None = None,
    max_seconds: float | None = None,
    max_decoded_frames: int | None = None,
    actors: int = 2,
    address: str | None = None,
    on_report: Callable[[Path, Report | None], None] | None = None,
) -> BatchSummary:
    """Analyse files and folders into `out_jsonl` with `actors` Ray actors (`threshold` None:
    the detector's operating point, as `Analyzer`)."""
    import ray

    plan = plan_batch(paths, out_jsonl, resume=resume)
    summary = plan.start(on_report)
    if not plan.todo:
        return summary
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else max(actors, 1),
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    try:
        items = [{"path": str(path), "sha256": sha or ""} for path, sha in plan.todo]
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 64 * actors))
        results = dataset.map_batches(
            _AnalyzeActor,
            fn_constructor_kwargs={
                "model": model,
                "num_frames": num_frames,
                "fps": fps,
                "threshold": threshold,
                "limits": {"max_seconds": max_seconds, "max_decoded_frames": max_decoded_frames},
            },
            batch_size=1,
            concurrency=actors,
            num_cpus=1,
        )
        with plan.out.open("a", encoding="utf-8") as handle:
            for row in results.iter_rows():
                report = Report.from_json(json.loads(row["line"]))
                append_report(handle, row["line"])  # as the actor wrote it
                summary.count(report)
                if on_report is not None:
                    on_report(Path(row["path"]), report)
    finally:
        if started_here:
            ray.shutdown()
    return summary
