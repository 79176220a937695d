"""C2PA states on manifests signed here with a certificate chain made here."""

from __future__ import annotations

import sys

import pytest
from forensic_fixtures import decode, jpeg_bytes, sign_jpeg, tamper_pixels

from opendfa.forensics.provenance import ProvenanceRecord, read_provenance

pytest.importorskip("c2pa")


def test_a_signed_jpeg_is_valid_but_untrusted_without_its_root_on_a_trust_list(signed_jpeg):
    record = read_provenance(signed_jpeg)
    assert record.state == "valid_untrusted"
    assert record.validation_state == "Valid"  # the library's word
    assert record.failures == ("signingCredential.untrusted",)
    assert record.manifest_present and record.signature_valid
    assert record.signer == "OpenDFA Test Signer"
    assert record.issuer == "OpenDFA Test CA"
    assert record.claim_generator == "opendfa-tests 1.0"
    assert record.title == "fixture.jpg"


def test_the_action_and_its_ai_source_type_are_read(signed_jpeg):
    record = read_provenance(signed_jpeg)
    assert [a.action for a in record.actions] == ["c2pa.created"]
    created = record.actions[0]
    assert created.digital_source_type == "trainedAlgorithmicMedia"
    assert created.software_agent == "Test Generator 2"
    assert created.ai_source and record.ai_declared
    assert record.to_dict()["actions"][0]["ai_source"] is True


def test_the_same_manifest_is_trusted_once_its_root_is_a_trust_anchor(signed_jpeg, signing_chain):
    record = read_provenance(signed_jpeg, trust_anchors=signing_chain.root_pem.decode())
    assert record.state == "trusted"
    assert record.validation_state == "Trusted"
    assert record.failures == ()


def test_pixels_changed_after_signing_make_the_manifest_invalid(signed_jpeg):
    record = read_provenance(tamper_pixels(signed_jpeg))
    assert record.state == "invalid"
    assert record.validation_state == "Invalid"
    assert "assertion.dataHash.mismatch" in record.failures
    assert record.reason == "assertion.dataHash.mismatch"
    assert record.signature_valid  # the claim itself still verifies: the picture changed


def test_an_unsigned_file_is_absent_meaning_unknown_not_fake(plain_jpeg):
    record = read_provenance(plain_jpeg)
    assert record.state == "absent"
    assert not record.manifest_present and record.signature_valid is None
    assert not record.ai_declared


def test_edits_and_ingredients_are_listed(plain_jpeg, signing_chain, tmp_path):
    actions = [
        {
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
        },
        {
            "action": "c2pa.edited",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/"
            "compositeWithTrainedAlgorithmicMedia",
        },
    ]
    ingredient = {"title": "overlay.png", "relationship": "componentOf", "format": "image/png"}
    signed = sign_jpeg(plain_jpeg, signing_chain, actions, ingredients=[ingredient])
    record = read_provenance(signed)
    assert record.state == "valid_untrusted", record.failures
    assert [a.action for a in record.actions] == ["c2pa.created", "c2pa.edited"]
    assert record.actions[0].digital_source_type == "digitalCapture"
    assert [a.ai_source for a in record.actions] == [False, True]
    assert record.ingredients == ("overlay.png",)


def test_a_truncated_signed_file_is_invalid_and_a_png_without_manifest_absent(signed_jpeg, photos):
    cut = read_provenance(signed_jpeg[: len(signed_jpeg) // 4])
    assert cut.state in ("invalid", "absent")  # whichever, never an exception
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(photos["chelsea"]).save(png, "PNG")
    assert read_provenance(png.getvalue()).state == "absent"
    assert read_provenance(b"\xff\xd8\xff garbage").state == "absent"
    assert read_provenance(b"not an image at all").state == "absent"


def test_without_the_c2pa_package_a_manifest_is_unavailable(monkeypatch, signed_jpeg):
    monkeypatch.setitem(sys.modules, "c2pa", None)  # makes `import c2pa` raise ImportError
    record = read_provenance(signed_jpeg)
    assert record.state == "unavailable"
    assert record.reason and "c2pa" in record.reason


def test_a_file_without_a_manifest_box_is_absent_without_loading_the_library(
    monkeypatch, plain_jpeg
):
    # No JUMBF "c2pa" box: no embedded manifest, whether or not the library could load.
    monkeypatch.setitem(sys.modules, "c2pa", None)
    assert read_provenance(plain_jpeg).state == "absent"


def test_states_outside_the_vocabulary_are_refused():
    with pytest.raises(ValueError):
        ProvenanceRecord(state="fake")


def test_signing_a_real_photo_keeps_its_pixels_readable(photos, signing_chain):
    created = {
        "action": "c2pa.created",
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
    }
    signed = sign_jpeg(jpeg_bytes(photos["astronaut"], 85), signing_chain, [created])
    assert read_provenance(signed).ai_declared is False

    assert decode(signed).shape == photos["astronaut"].shape
