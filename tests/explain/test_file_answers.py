"""Chat answers about the file itself (metadata, Content Credentials, JPEG compression, ELA
and noise maps) say only what `report.forensics` holds, on real analyses of the bundled
samples and on hand-built records for the AI-declared and C2PA cases."""

from __future__ import annotations

import copy
import re

import pytest

from opendfa.evidence.report import InputInfo, ModelInfo, Report
from opendfa.explain import Conversation, classify
from opendfa.forensics.metadata import MetadataRecord
from opendfa.forensics.provenance import C2paAction, ProvenanceRecord

SAMPLES = ("astronaut", "grace_hopper", "swap_collins_on_hopper")


@pytest.fixture(scope="module")
def analysed(tiny_model, face_detector, astronaut_path) -> dict[str, Report]:
    """The three bundled JPEGs analysed as `opendfa chat` does (maps kept on the report)."""
    from opendfa.evidence.pipeline import Analyzer

    analyzer = Analyzer(tiny_model, face_detector=face_detector)
    folder = astronaut_path.parent
    return {name: analyzer.analyze_image(folder / f"{name}.jpg") for name in SAMPLES}


def _ask(report: Report, question: str):
    return Conversation(report).ask(question)


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", text))


def _with(report: Report, **changes) -> Report:
    """A copy of `report` whose forensics record has some parts replaced."""
    record = copy.deepcopy(report.forensics)
    record.update(changes)
    return Report(report.input, report.model, report.verdict, forensics=record)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("What does the metadata say?", "metadata"),
        ("Which camera took it?", "metadata"),
        ("Is there GPS data in the EXIF?", "metadata"),
        ("When was the photo taken?", "metadata"),
        ("Is there a content credential?", "provenance"),
        ("C2PA?", "provenance"),
        ("provenance?", "provenance"),
        ("Is it signed?", "provenance"),
        ("Where does it come from?", "provenance"),
        ("Was it recompressed?", "compression"),
        ("What is the JPEG quality?", "compression"),
        ("Was it saved twice?", "compression"),
        ("Show me the ELA", "maps"),
        ("show me the noise map", "maps"),
        ("error level analysis?", "maps"),
        ("Is any part of it cloned?", "copy_move"),
        ("was something copy-pasted inside the picture?", "copy_move"),
        ("run a clone check", "copy_move"),
        # The face intents keep their words: "ela" inside a word is not ELA.
        ("show me the mask", "mask"),
        ("is it related to the mouth?", "where"),
        ("Is this fake?", "verdict"),
        ("which model is this?", "model"),
        ("was it edited?", "type"),
        ("what is the noise level of the mouth?", "where"),
    ],
)
def test_file_questions_are_classified(text, intent):
    assert classify(text).intent == intent


def test_metadata_answer_on_a_real_jpeg_says_what_is_missing(analysed):
    report = analysed["astronaut"]
    metadata = report.forensics["metadata"]
    assert not (metadata["has_exif"] or metadata["has_xmp"] or metadata["has_iptc"])
    reply = _ask(report, "What does the metadata say?")
    assert reply.intent == "metadata"
    assert "carries no EXIF, XMP or IPTC metadata" in reply.text
    assert "no AI declaration" in reply.text and "neither proves nor rules out" in reply.text
    assert "Camera:" not in reply.text and "GPS location: present" not in reply.text
    assert reply.facts["metadata"]["ai_declared"] is False


def test_compression_answers_follow_each_sample_record(analysed):
    once = _ask(analysed["astronaut"], "Was it recompressed?").text
    jpeg = analysed["astronaut"].forensics["jpeg"]
    assert jpeg["quality"] == 95 and jpeg["double_compressed"] is False
    assert "JPEG quality ≈ 95" in once and "No re-compression pattern found" in once
    assert "does not prove the file was saved only once" in once
    twice_report = analysed["swap_collins_on_hopper"]
    jpeg = twice_report.forensics["jpeg"]
    assert jpeg["double_compressed"] is True and jpeg["first_quality"] == 80
    twice = _ask(twice_report, "Was it recompressed?")
    assert "JPEG quality ≈ 92" in twice.text and "Re-compression: yes" in twice.text
    assert "about quality 80" in twice.text and "not that its content was changed" in twice.text
    assert twice.facts["first_quality"] == 80
    # Every number said is one of the record's (quality, votes, score, first quality, 8 px
    # blocks, the 4:2:0 subsampling).
    said = _numbers(twice.text)
    allowed = {"92", "80", "8", "4", "2", "0", str(jpeg["double_votes"])}
    allowed.add(f"{jpeg['double_score']:.2f}")
    assert said <= allowed, said - allowed


def test_provenance_absent_is_unknown_not_evidence(analysed):
    report = analysed["grace_hopper"]
    assert report.forensics["provenance"]["state"] == "absent"
    reply = _ask(report, "Is there a content credential?")
    assert "provenance is unknown, which is not evidence of manipulation" in reply.text
    assert reply.facts["c2pa_state"] == "absent"


def test_maps_answer_gives_the_summaries_and_where_the_images_are(analysed):
    report = analysed["grace_hopper"]
    summary = report.forensics["maps"]
    reply = _ask(report, "show me the ELA")
    assert reply.intent == "maps" and reply.attachments == ["ela", "noise"]
    for part in ("ela", "noise"):
        values = summary[part]
        assert f"mean {values['mean']:.2f}" in reply.text
        assert f"{100 * values['fraction_above']:.1f} % of pixels above" in reply.text
    assert f"{summary['width']}x{summary['height']}" in reply.text
    assert "`/report FILE.html`" in reply.text  # the fresh report still holds the maps
    assert "not a one-button answer" in reply.text and "not proof" in reply.text
    # Read back from JSON (a stored case), the maps are gone and the answer says so.
    stored = Report.from_json(report.to_json())
    again = _ask(stored, "show me the ELA")
    assert "keeps only these numbers, not the map images" in again.text
    assert "`/report FILE.html`" not in again.text and again.facts["images"] is False


def test_a_png_has_no_jpeg_quality(tmp_path, astronaut_rgb):
    import cv2

    from opendfa.forensics import run_forensics

    _, png = cv2.imencode(".png", cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    record = run_forensics(png.tobytes(), maps=False).to_dict()
    report = Report(InputInfo("x.png"), ModelInfo("m", None), "real", forensics=record)
    text = _ask(report, "what is the JPEG quality?").text
    assert text.startswith("This file is not a JPEG (PNG)") and "≈" not in text
    maps = _ask(report, "show me the ELA")
    assert maps.text.startswith("No ELA or noise map") and maps.attachments == []


def test_ai_declaration_camera_gps_and_thumbnail_come_from_the_metadata(analysed):
    metadata = MetadataRecord(
        format="JPEG",
        has_exif=True,
        has_xmp=True,
        camera_make="Canon",
        camera_model="Canon EOS R5",
        software="Adobe Firefly 3",
        software_kind="generator",
        date_original="2024:05:01 10:00:00",
        digital_source_type="trainedAlgorithmicMedia",
        ai_declared=True,
        gps_present=True,
        thumbnail=True,
        thumbnail_difference=0.42,
        thumbnail_mismatch=True,
    ).to_dict()
    report = _with(analysed["astronaut"], metadata=metadata)
    text = _ask(report, "What does the metadata say?").text
    assert "carries EXIF and XMP metadata" in text and "Camera: Canon Canon EOS R5" in text
    assert "Written with: software tag 'Adobe Firefly 3' (an image generator's name)" in text
    assert "taken 2024:05:01 10:00:00" in text and "modified" not in text
    assert "declares AI-generated media (IPTC digital source type trainedAlgorithmicMedia)" in text
    assert "GPS location: present (the coordinates are not read or shown)" in text
    assert "thumbnail shows a different picture (difference 0.42)" in text
    # The metadata's AI claim is mentioned beside the (absent) Content Credentials.
    provenance = _ask(report, "C2PA?").text
    assert "not evidence of manipulation" in provenance
    assert "the XMP metadata declares trainedAlgorithmicMedia" in provenance


@pytest.mark.parametrize(
    ("term", "words"),
    [
        ("algorithmicMedia", "declares algorithmic or synthetic media"),
        ("digitalCapture", "declares the source as digitalCapture, which is not an AI"),
    ],
)
def test_other_source_types_are_named_for_what_they_are(analysed, term, words):
    metadata = MetadataRecord(
        format="JPEG",
        has_xmp=True,
        digital_source_type=term,
        ai_declared=term == "algorithmicMedia",
    ).to_dict()
    text = _ask(_with(analysed["astronaut"], metadata=metadata), "metadata?").text
    assert words in text and "GPS" not in text  # no EXIF: nothing said about GPS


def _c2pa(**fields) -> dict:
    return ProvenanceRecord(**fields).to_dict()


AI_CREATED = C2paAction("c2pa.created", "trainedAlgorithmicMedia", "Image Creator")


@pytest.mark.parametrize(
    ("record", "present", "absent"),
    [
        (
            _c2pa(
                state="valid_untrusted",
                manifest_present=True,
                signature_valid=True,
                validation_state="Valid",
                claim_generator="Image Creator 1.0",
                signer="Example Signer",
                issuer="Example CA",
                actions=(AI_CREATED,),
            ),
            [
                "intact Content Credentials (C2PA) (signed by Example Signer, issued by "
                "Example CA)",
                "the signer is not on a trust list",
                "made with Image Creator 1.0",
                "the content is AI-generated: c2pa.created (trainedAlgorithmicMedia)",
            ],
            ["trusted signer", "changed after"],
        ),
        (
            _c2pa(
                state="trusted",
                manifest_present=True,
                signature_valid=True,
                validation_state="Trusted",
                signer="Camera Maker",
                actions=(C2paAction("c2pa.created", "digitalCapture"),),
            ),
            [
                "valid Content Credentials (C2PA) from a trusted signer (signed by Camera Maker)",
                "chains to a trust anchor",
                "Actions recorded: c2pa.created; none declares an AI or synthetic source",
            ],
            ["not on a trust list", "AI-generated"],
        ),
        (
            _c2pa(
                state="invalid",
                reason="assertion.dataHash.mismatch",
                manifest_present=True,
                signature_valid=True,
                validation_state="Invalid",
                signer="Example Signer",
                actions=(AI_CREATED,),
            ),
            [
                "do not validate",
                "signature verifies but the file no longer matches it "
                "(assertion.dataHash.mismatch): the file was changed after it was signed",
                "vouch for nothing",
                "As the invalid manifest claims, the content is AI-generated",
            ],
            ["trusted signer"],
        ),
        (
            _c2pa(
                state="invalid",
                reason="claimSignature.mismatch",
                manifest_present=True,
                signature_valid=False,
            ),
            ["manifest or its signature is broken (claimSignature.mismatch)", "(signer not"],
            ["records no actions"],
        ),
        (
            _c2pa(state="unavailable", reason="c2pa not available: no module named c2pa"),
            ["were not checked: c2pa not available: no module named c2pa"],
            ["not evidence", "signed"],
        ),
    ],
)
def test_content_credentials_states(analysed, record, present, absent):
    reply = _ask(_with(analysed["astronaut"], provenance=record), "Is there a content credential?")
    for words in present:
        assert words in reply.text, (words, reply.text)
    for words in absent:
        assert words not in reply.text, (words, reply.text)
    assert reply.facts["c2pa_state"] == record["state"]


@pytest.mark.parametrize(
    "question",
    ["what does the metadata say?", "C2PA?", "was it recompressed?", "show me the ELA"],
)
def test_without_a_forensics_record_the_checks_were_not_run(make_report, question):
    video = make_report(0.8, timeline=[0.8, 0.7])
    reply = _ask(video, question)
    assert "were not run for this input" in reply.text and "this is a video" in reply.text
    assert reply.attachments == [] and reply.facts["forensics"] is None
    image = make_report(0.8)  # an image report read from an older document
    assert "were not run for this input" in _ask(image, question).text
    failed = make_report(0.8, warnings=["file forensics could not run: disk error"])
    assert "(file forensics could not run: disk error)" in _ask(failed, question).text


def test_file_questions_are_answered_when_no_face_was_found(analysed):
    report = _with(analysed["astronaut"])
    report.verdict = "no_face"
    text = _ask(report, "was it recompressed?").text
    assert "JPEG quality ≈ 95" in text and "No face was found" not in text
    assert "No face was found" in _ask(report, "why?").text


def test_copy_move_answers_say_not_run_none_found_or_where(analysed, photos_for_clone):
    report = analysed["astronaut"]
    not_run = _ask(report, "Is any part of it cloned?")
    assert not_run.intent == "copy_move" and "was not run" in not_run.text
    assert "--copy-move" in not_run.text and not_run.facts["copy_move"] is None
    untouched, cloned = photos_for_clone
    quiet = _ask(_with(report, copy_move=untouched), "Is any part of it cloned?")
    assert "found no region that appears twice" in quiet.text
    assert "not pasting from another one" in quiet.text
    assert str(untouched["keypoints"]) in quiet.text
    found = _ask(_with(report, copy_move=cloned), "any clone?")
    assert found.facts["copy_move"] == {
        "detected": True,
        "regions": len(cloned["regions"]),
        "keypoints": cloned["keypoints"],
    }
    region = cloned["regions"][0]
    assert f"shifted by {region['offset'][0]}, {region['offset'][1]} px" in found.text
    assert "a place to look, not proof" in found.text


@pytest.fixture(scope="module")
def photos_for_clone() -> tuple[dict, dict]:
    """Copy-move records of scikit-image's cat photo as it is and with a patch cloned."""
    from skimage import data

    from opendfa.forensics.copy_move import detect_copy_move

    rgb = data.chelsea().copy()
    untouched = detect_copy_move(rgb).to_dict()
    rgb[200:280, 300:380] = rgb[20:100, 20:100]
    return untouched, detect_copy_move(rgb).to_dict()
