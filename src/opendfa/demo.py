"""`opendfa demo`: the whole analysis on the bundled samples, with the bundled detector.

Two public-domain photos: Grace Hopper's US Navy portrait as it is, and the same portrait with
Eileen Collins' face swapped in by OpenDFA's forgery engine (`scripts/make_demo_fake.py`).
Each gets a printed verdict, an HTML report with the heatmap and region table, and one
`opendfa.report/2` line in `reports.jsonl`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opendfa.evidence.html import write_html
from opendfa.evidence.pipeline import Analyzer
from opendfa.evidence.report import Report
from opendfa.models.configs import DEFAULT_MODEL

SAMPLES = Path(__file__).resolve().parent / "assets" / "samples"
DEMO_INPUTS = (
    ("real: Grace Hopper, US Navy portrait", SAMPLES / "grace_hopper.jpg"),
    ("fake: Eileen Collins' face swapped onto it", SAMPLES / "swap_collins_on_hopper.jpg"),
)


@dataclass
class DemoResult:
    reports: list[Report]
    html: list[Path]
    jsonl: Path


def run_demo(
    out_dir: str | Path, *, model: str = DEFAULT_MODEL, echo: Callable[[str], None] = print
) -> DemoResult:
    """Analyse the bundled samples into `out_dir`; `echo` receives one summary line each."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reports, pages = [], []
    jsonl = out / "reports.jsonl"
    with Analyzer(model) as analyzer, jsonl.open("w", encoding="utf-8") as handle:
        for caption, path in DEMO_INPUTS:
            report = analyzer.analyze_image(path)
            page = write_html(report, out / f"{path.stem}.html")
            handle.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
            reports.append(report)
            pages.append(page)
            echo(_summary(caption, report, page))
    return DemoResult(reports=reports, html=pages, jsonl=jsonl)


def _summary(caption: str, report: Report, page: Path) -> str:
    kind = report.forgery_type.label.replace("_", " ") if report.forgery_type else ""
    verdict = report.verdict.upper() + (f" ({kind})" if report.verdict == "fake" else "")
    probability = report.fake_probability
    shown = f"P(fake) {probability:.2f}" if probability is not None else "no score"
    return f"{caption}\n  -> {verdict}, {shown}; {report.explanation}\n  report: {page}"
