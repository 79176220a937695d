"""The forensic toolbox inside the analysis report: JSON (schema version 2), the upgrade of
version 1 documents, and the HTML section with the ELA and noise maps."""

from __future__ import annotations

import copy
import json

import pytest

from opendfa.evidence import Analyzer, Report, validate_report
from opendfa.evidence.html import render_html
from opendfa.evidence.report import SCHEMA, upgrade_report


@pytest.fixture(scope="module")
def report(tiny_detector, face_detector, scripted, hopper_path) -> Report:
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.9)) as analyzer:
        return analyzer.analyze_image(hopper_path)


def test_image_reports_carry_the_forensic_record_and_validate(report):
    data = report.to_json()
    validate_report(data)
    validate_report(json.loads(json.dumps(data)))
    forensics = data["forensics"]
    assert forensics["jpeg"]["quality"] == 80 and forensics["jpeg"]["double_compressed"] is False
    assert forensics["provenance"]["state"] == "absent"
    assert "no Content Credentials (provenance unknown)" in forensics["findings"]
    assert set(forensics["maps"]) == {"width", "height", "scale", "ela_quality", "ela", "noise"}
    assert report.forensic_maps.ela.shape == report.preview.shape[:2]
    assert "forensics" in report.timings_ms
    assert len(json.dumps(forensics)) < 6000  # summaries, not maps


def test_the_option_turns_the_toolbox_off(tiny_detector, face_detector, scripted, hopper_path):
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.9), forensics=False) as analyzer:
        quiet = analyzer.analyze_image(hopper_path)
    assert quiet.forensics is None and quiet.forensic_maps is None
    assert quiet.to_json()["forensics"] is None
    validate_report(quiet.to_json())


def test_a_version_1_document_is_read_as_version_2_without_forensics(report):
    old = copy.deepcopy(report.to_json())
    old["schema"] = "opendfa.report/1"
    del old["forensics"]
    frozen = copy.deepcopy(old)
    upgraded = upgrade_report(old)
    assert old == frozen  # the caller's document is left alone
    assert upgraded["schema"] == SCHEMA == "opendfa.report/2"
    assert upgraded["forensics"] is None
    validate_report(upgraded)
    again = Report.from_json(old)
    assert again.forensics is None and again.to_json()["schema"] == SCHEMA
    assert again.faces[0].fake_probability == report.faces[0].fake_probability


def test_html_shows_the_forensic_section_and_both_maps(report):
    page = render_html(report)
    assert "Provenance and file forensics" in page
    assert "no Content Credentials (provenance unknown)" in page
    assert 'alt="error level analysis"' in page and 'alt="noise residual"' in page
    assert page.count("data:image/png;base64,") == 4  # faces, heatmap, ELA, noise


def test_html_of_a_report_read_back_from_json_keeps_the_facts_but_not_the_maps(report):
    again = Report.from_json(report.to_json())
    again.preview = report.preview
    page = render_html(again)
    assert "Provenance and file forensics" in page
    assert 'alt="error level analysis"' not in page
    assert "drawn only by the analysis of the original file" in page
    assert "Provenance and file forensics" not in render_html(
        Report.from_json({**report.to_json(), "forensics": None})
    )


@pytest.fixture(scope="module")
def cloned_jpeg(tmp_path_factory):
    """scikit-image's cat photo with an 80 px patch copied 280 px right and 180 px down."""
    import cv2
    from skimage import data

    rgb = data.chelsea().copy()
    rgb[200:280, 300:380] = rgb[20:100, 20:100]
    path = tmp_path_factory.mktemp("clone") / "cloned.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return path


def test_copy_move_is_opt_in(report):
    assert report.forensics["copy_move"] is None
    assert "not run (opt-in: opendfa analyze --copy-move" in render_html(report)


def test_the_copy_move_option_finds_the_clone_in_json_and_html(
    tiny_detector, face_detector, scripted, cloned_jpeg
):
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.9), copy_move=True) as analyzer:
        found = analyzer.analyze_image(cloned_jpeg)
    validate_report(found.to_json())
    record = found.forensics["copy_move"]
    assert record["detected"]
    region = max(record["regions"], key=lambda r: r["pairs"])
    assert abs(region["offset"][0] - 280) <= 3 and abs(region["offset"][1] - 180) <= 3
    findings = found.forensics["findings"]
    assert any(f.startswith("copy-move: a region appears twice") for f in findings)
    assert "copy_move" in found.forensics["timings_ms"]
    page = render_html(found)
    assert 'alt="copy-move regions"' in page and "region(s) appear twice: offset 2" in page
    again = Report.from_json(found.to_json())  # a stored case keeps the record, not the picture
    assert again.forensics["copy_move"]["detected"]
    assert 'alt="copy-move regions"' not in render_html(again)
