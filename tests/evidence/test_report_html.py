"""The HTML report: self-contained, and every outside string escaped."""

from __future__ import annotations

import re
import shutil
from html import escape

import pytest

from opendfa.evidence import Analyzer
from opendfa.evidence.html import render_html, write_html

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_report(tiny_detector, face_detector, scripted, astronaut_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / f"{HOSTILE}.jpg"
    shutil.copy(astronaut_path, path)
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.9)) as analyzer:
        report = analyzer.analyze_image(path)
    report.warnings.append("<script>alert('warning')</script>")
    return report


def test_html_escapes_a_malicious_file_name_and_warnings(hostile_report):
    page = render_html(hostile_report)
    assert HOSTILE not in page and "<script" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in page
    assert "&lt;script&gt;" in page


def test_html_is_one_self_contained_file(hostile_report, tmp_path):
    target = write_html(hostile_report, tmp_path / "deep" / "report.html")
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert page.count("data:image/png;base64,") == 4  # the image, heatmap, ELA and noise maps
    assert ">fake</div>" in page and "0.90" in page and "face swap" in page
    assert "<th>Region</th>" in page and "nose" in page and "blur ratio" in page
    assert "<svg" not in page  # timelines are for videos


def test_html_of_reports_without_faces_or_pixels():
    from opendfa.evidence import InputInfo, ModelInfo, Report, explain

    for verdict, error in (("no_face", None), ("error", "truncated image data")):
        report = Report(
            input=InputInfo("x.jpg"), model=ModelInfo("m@1", None), verdict=verdict, error=error
        )
        report.explanation = explain(report)
        page = render_html(report)
        assert f'<div class="verdict {verdict}">' in page and "<img" not in page
        assert escape(report.explanation) in page
