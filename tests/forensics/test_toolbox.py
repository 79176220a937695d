"""`run_forensics`: all checks on one file, its JSON and its plain-language findings."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import piexif
import pytest
from forensic_fixtures import SAMPLES, decode, jpeg_bytes, tamper_pixels

from opendfa.forensics import ForensicsReport, run_forensics
from opendfa.media import MediaError


def test_a_signed_ai_image_reports_every_check(signed_jpeg):
    report = run_forensics(signed_jpeg)
    assert isinstance(report, ForensicsReport)
    assert report.provenance.state == "valid_untrusted"
    assert report.jpeg.quality == 90 and report.maps is not None and report.copy_move is None
    findings = report.signals()
    assert (
        "Content Credentials intact (signed by OpenDFA Test Signer, issuer OpenDFA Test CA), "
        "but the signer is not on a trust list"
    ) in findings
    assert (
        "Content Credentials declare AI-generated content (c2pa.created: trainedAlgorithmicMedia)"
    ) in findings
    assert "JPEG quality ≈ 90 (standard libjpeg tables)" in findings
    assert set(report.timings_ms) == {"metadata", "provenance", "jpeg", "maps", "total"}


def test_findings_for_camera_exif_xmp_and_re_compression(photos):
    exif = piexif.dump(
        {"0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Model: b"Canon EOS 5D"}}
    )
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
        b'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
    )
    twice = jpeg_bytes(decode(jpeg_bytes(photos["grace_hopper"], 60)), 90, exif=exif, xmp=xmp)
    findings = run_forensics(twice, maps=False).signals()
    assert findings[:2] == [
        "XMP declares AI-generated media (trainedAlgorithmicMedia)",
        "camera EXIF: Canon EOS 5D",
    ]
    assert "no Content Credentials (provenance unknown)" in findings
    assert "JPEG re-compressed (estimated first quality ≈ 60)" in findings


def test_json_holds_map_summaries_not_maps(plain_jpeg):
    data = run_forensics(plain_jpeg, copy_move=True).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert len(text) < 8000
    assert set(data) == {
        "metadata",
        "provenance",
        "jpeg",
        "maps",
        "copy_move",
        "findings",
        "timings_ms",
        "warnings",
    }
    assert set(data["maps"]["ela"]) == {"mean", "p99", "max", "fraction_above", "threshold"}
    assert data["copy_move"]["detected"] is False


def test_a_path_and_given_pixels_are_used(tmp_path, photos):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes(photos["chelsea"], 85))
    rgb = np.zeros((10, 12, 3), np.uint8)
    report = run_forensics(path, rgb)
    assert report.jpeg.quality == 85
    assert report.maps.ela.shape == (10, 12)  # the caller's pixels, not the file's


def test_unreadable_sources(tmp_path):
    with pytest.raises(MediaError):
        run_forensics(tmp_path / "missing.jpg")
    with pytest.raises(MediaError):
        run_forensics(tmp_path)
    report = run_forensics(b"\x00 not an image")
    assert report.maps is None and report.warnings
    assert report.metadata.warnings and report.provenance.state == "absent"
    assert not report.jpeg.is_jpeg


def test_malformed_files_give_records_with_warnings(photos):
    good = jpeg_bytes(photos["chelsea"], 90)
    truncated = run_forensics(good[: len(good) // 2])
    assert truncated.jpeg.quality == 90  # the tables come before the picture
    assert truncated.maps is None
    assert truncated.warnings == ("pixel checks skipped: truncated image data",)
    one_pixel = run_forensics(jpeg_bytes(np.zeros((1, 1, 3), np.uint8), 75))
    assert one_pixel.jpeg.warnings and one_pixel.maps.ela.shape == (1, 1)
    no_maps = run_forensics((SAMPLES / "astronaut.jpg").read_bytes(), maps=False)
    assert no_maps.maps is None and "maps" not in no_maps.timings_ms


def test_importing_the_package_loads_no_image_library():
    code = (
        "import sys, opendfa.forensics as f\n"
        "assert not {'cv2', 'PIL', 'c2pa'} & set(sys.modules), sorted(sys.modules)\n"
        "assert callable(f.run_forensics)\n"
        "assert 'c2pa' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_record_matches_the_report_schema(signed_jpeg, signing_chain, photos):
    """The dictionaries are what `opendfa.report/2` carries under `forensics`."""
    import jsonschema

    from opendfa.evidence.report import report_schema

    schema = report_schema()
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": "#/$defs/forensics"}
    )
    copied = photos["chelsea"].copy()
    copied[150:210, 240:300] = copied[20:80, 20:80]
    cases = [
        run_forensics(signed_jpeg, copy_move=True),
        run_forensics(tamper_pixels(signed_jpeg), maps=False),
        run_forensics(signed_jpeg, trust_anchors=signing_chain.root_pem.decode()),
        run_forensics(jpeg_bytes(copied, 80), copy_move=True),
        run_forensics(b"\x00 not an image"),
    ]
    assert cases[3].copy_move.detected
    for report in cases:
        errors = [e.message for e in validator.iter_errors(report.to_dict())]
        assert not errors, errors
