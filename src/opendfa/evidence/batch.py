"""Batch analysis: files and folders into one JSONL file of reports, one per input, resumable.

A bad input never ends a batch: it gets a report with verdict "error" and the reason. Every
line is flushed and synced as soon as it is written, so a crash loses at most the input in
progress; a rerun repairs the file (half-written lines, error reports and duplicates are
dropped) and skips the inputs whose path and SHA-256 already have a report. The analysis of
one input is `opendfa.evidence.pipeline.Analyzer`'s; `opendfa.evidence.ray_batch` runs the
same plan on Ray Data.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from opendfa.evidence.report import InputInfo, ModelInfo, Report
from opendfa.evidence.words import explain
from opendfa.media import MediaError, iter_media_files, media_kind
from opendfa.media.files import file_sha256


class Analyses(Protocol):
    """What a batch needs of an analyzer (`opendfa.evidence.pipeline.Analyzer` is one): a
    report per input and the model's record for the error reports. A protocol, so that this
    module does not import the pipeline that calls it."""

    @property
    def model_info(self) -> ModelInfo: ...

    def analyze(self, source: Any, *, num_frames: int | None, fps: float | None) -> Report: ...


OnReport = Callable[[Path, Report | None], None]


@dataclass
class BatchSummary:
    """What a batch run did: counts per outcome and per verdict."""

    out_path: Path
    total: int = 0
    analyzed: int = 0
    skipped: int = 0
    errors: int = 0
    verdicts: Counter = field(default_factory=Counter)

    def count(self, report: Report) -> None:
        self.analyzed += 1
        self.errors += report.verdict == "error"
        self.verdicts[report.verdict] += 1


@dataclass
class BatchPlan:
    """What a batch run still has to do: inputs (with SHA-256) not yet in `out`."""

    out: Path
    todo: list[tuple[Path, str | None]]
    skipped: list[Path]

    def start(self, on_report: OnReport | None) -> BatchSummary:
        """The run's summary with the skipped inputs counted (and reported as None)."""
        summary = BatchSummary(out_path=self.out, total=len(self.todo) + len(self.skipped))
        summary.skipped = len(self.skipped)
        for path in self.skipped if on_report is not None else ():
            on_report(path, None)
        return summary


def analyze_paths(
    analyzer: Analyses,
    paths: Iterable[str | Path],
    out_jsonl: str | Path,
    *,
    resume: bool = True,
    num_frames: int | None = 16,
    fps: float | None = None,
    on_report: OnReport | None = None,
) -> BatchSummary:
    """`Analyzer.analyze_paths`: each input planned, analysed (or its error reported) and
    appended to `out_jsonl` in order; `on_report` sees each report as it is written."""
    plan = plan_batch(paths, out_jsonl, resume=resume)
    summary = plan.start(on_report)
    with plan.out.open("a", encoding="utf-8") as handle:
        for path, sha256 in plan.todo:
            report = analyze_or_error(analyzer, path, sha256, num_frames, fps)
            append_report(handle, report)
            summary.count(report)
            if on_report is not None:
                on_report(path, report)
            report.preview = None  # a batch of thousands keeps no images
    return summary


def analyze_or_error(
    analyzer: Analyses,
    path: Path,
    sha256: str | None = None,
    num_frames: int | None = 16,
    fps: float | None = None,
) -> Report:
    """The report of one file, or its error report: never raises for a bad input."""
    try:
        return analyzer.analyze(path, num_frames=num_frames, fps=fps)
    except MediaError as err:
        return error_report(analyzer.model_info, path, err.reason, sha256)
    except Exception as err:  # one bad input must not end a batch of thousands
        message = f"internal error: {type(err).__name__}: {err}"
        return error_report(analyzer.model_info, path, message, sha256)


def error_report(
    model: ModelInfo, path: str | Path, message: str, sha256: str | None = None
) -> Report:
    """The report of an input that could not be analysed."""
    kind = "video" if media_kind(str(path)) == "video" else "image"
    report = Report(
        input=InputInfo(str(path), sha256, kind),
        model=model,
        verdict="error",
        error=" ".join(str(message).split()) or "unknown error",
    )
    report.explanation = explain(report)
    return report


def plan_batch(
    paths: Iterable[str | Path], out_jsonl: str | Path, *, resume: bool = True
) -> BatchPlan:
    """Repair `out_jsonl` (resume) or empty it, and list the inputs left to analyse.

    An input is done when its path and SHA-256 already have a complete, non-error report in
    the file; half-written lines, error reports (they are retried) and duplicates are dropped.
    """
    out = Path(out_jsonl)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _repair_jsonl(out) if resume else set()
    if not resume:
        out.write_text("")
    todo, skipped = [], []
    for path in iter_inputs(paths):
        sha256 = _sha256_or_none(path)
        if sha256 is not None and (str(path), sha256) in done:
            skipped.append(path)
        else:
            todo.append((path, sha256))
            done.add((str(path), sha256 or ""))  # the same file named twice: once
    return BatchPlan(out=out, todo=todo, skipped=skipped)


def append_report(handle, report: Report | str) -> None:
    """One JSON line, flushed and synced: a crash loses at most the input in progress."""
    handle.write((report if isinstance(report, str) else report.to_json_line()) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def iter_inputs(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders expanded to their image and video files (see media)."""
    return iter_media_files(paths)


def _repair_jsonl(out: Path) -> set[tuple[str, str]]:
    """Keep the complete, non-error, first-of-their-input reports; return their keys."""
    if not out.exists():
        return set()
    done: set[tuple[str, str]] = set()
    kept: list[str] = []
    changed = False
    with out.open("rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw.decode("utf-8"))
                key = (str(record["input"]["path"]), str(record["input"]["sha256"]))
                complete = raw.endswith(b"\n") and record["verdict"] != "error"
            except (ValueError, KeyError, TypeError):
                complete, key = False, ("", "")
            if not complete or key in done:
                changed = True
                continue
            done.add(key)
            kept.append(raw.decode("utf-8"))
    if changed:
        temporary = out.with_name(out.name + ".tmp")
        temporary.write_text("".join(kept), encoding="utf-8")
        os.replace(temporary, out)
    return done


def _sha256_or_none(path: Path) -> str | None:
    """The file's SHA-256, or None for what is not a readable regular file (a FIFO, a
    dangling link, a name the OS refuses): such an input is analysed into its error report."""
    try:
        return file_sha256(path) if path.is_file() else None
    except (OSError, ValueError):
        return None
