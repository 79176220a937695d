"""The grounding check: region mentions read from real sentences, verdict and type claims."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.evidence.report import RegionEvidence
from opendfa.evidence.words import REGION_EVIDENCE, describe_face, region_label
from opendfa.metrics.grounding import (
    check_answer,
    contradiction,
    named_categories,
    region_mentions,
    stated_verdict,
    unsupported_regions,
)
from opendfa.taxonomy import CATEGORIES, REGION_NAMES


def _regions(text: str) -> list[tuple[str, ...]]:
    return [m.regions for m in region_mentions(text)]


@pytest.mark.parametrize("name", REGION_NAMES)
def test_every_region_is_read_from_its_own_label(name):
    assert _regions(f"The {region_label(name)} is blurry.") == [(name,)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The lips are blurry.", [("mouth",)]),
        ("The teeth look smeared.", [("mouth",)]),
        ("The jawline shows a seam.", [("chin", "face_boundary")]),
        ("Both eyes were resized.", [("left_eye", "right_eye")]),
        ("The left and right eyes differ in colour.", [("left_eye", "right_eye")]),
        ("The left eye is sharper than the right one.", [("left_eye",)]),
        ("The cheeks look smoothed.", [("left_cheek", "right_cheek")]),
        ("The eyebrows were reshaped.", [("left_eyebrow", "right_eyebrow")]),
        ("A seam runs along the outline of the face.", [("face_boundary",)]),
        ("The face edges are soft.", [("face_boundary",)]),
        ("The skin was smoothed, removing pores.", [("skin",)]),
        ("The nostrils look odd, and the forehead too.", [("nose",), ("forehead",)]),
    ],
)
def test_synonyms_and_sides(text, expected):
    assert _regions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # The references of comparisons and colours claim nothing about those regions.
        "The mouth is blurrier than the surrounding skin and lacks fine detail.",
        "Along the edge of the mouth the skin colour changes abruptly.",
        "The mouth shows blurrier than its untouched surroundings (blur 2.10).",
        # Negated or unchanged regions are not claims.
        "Compared with the original photo, the mouth changed most, while the nose and "
        "forehead stayed the same.",
        "The nose shows no sign of blending. The mouth is smeared.",
        "It is a lip-sync reenactment of the mouth.",
    ],
)
def test_only_the_mouth_is_claimed(text):
    assert _regions(text) == [("mouth",)]


def test_unsupported_mentions_are_those_below_the_threshold():
    scores = {"mouth": 0.83, "chin": 0.64, "nose": 0.3, "left_eye": 0.2, "right_eye": 0.7}
    text = "The lips and nose are blurry; the eyes were resized and the left eye is darker."
    assert unsupported_regions(text, scores) == ["nose", "left eye"]
    assert unsupported_regions("The jawline shows a seam.", {"face_boundary": 0.6}) == []
    assert unsupported_regions("The nose is blurry.", {}) == ["nose"]


@pytest.mark.parametrize("seed", range(20))
def test_the_grounded_description_never_violates_its_own_report(seed):
    rng = np.random.default_rng(seed)
    cues = [{}, {"blur_ratio": 2.1}, {"edge_discontinuity": 1.9}, {"noise_residual_ratio": 0.4}]
    regions = [
        RegionEvidence(n, float(rng.random()), cues[rng.integers(len(cues))]) for n in REGION_NAMES
    ]
    category = CATEGORIES[seed % len(CATEGORIES)]
    text = describe_face(category, regions)
    scores = {r.name: r.score for r in regions}
    verdict = "real" if category == "real" else "fake"
    check = check_answer(text, verdict, category, scores, REGION_EVIDENCE)
    assert not check.violated, (text, check)
    named = {r.name for r in regions if r.score >= REGION_EVIDENCE and r.name != "skin"}
    if named:  # and the parser does read the regions it names
        found = {r for m in region_mentions(text) for r in m.regions}
        assert found & named


@pytest.mark.parametrize(
    ("text", "question", "verdict"),
    [
        ("Real.", None, "real"),
        ("Fake. The mouth is blurry.", None, "fake"),
        ("This image is real and untouched.", None, "real"),
        ("It doesn't look fake to me.", None, "real"),
        ("It isn't real.", None, "fake"),
        ("This face looks like a deepfake.", None, "fake"),
        ("Yes.", "Is this face fake?", "fake"),
        ("No.", "Is this face fake?", "real"),
        ("This face looks like a face swap. The manipulated area covers the mouth.", None, None),
        ("It could be real or fake.", None, None),
    ],
)
def test_stated_verdict(text, question, verdict):
    assert stated_verdict(text, question) == verdict


def test_contradictions_of_verdict_and_type():
    assert contradiction("Real.", "fake", "face_swap") == "says real, the report says fake"
    assert contradiction("It looks fake.", "real", "real") == "says fake, the report says real"
    assert (
        contradiction("It is fake: a face reenactment.", "fake", "face_swap")
        == "names face_reenactment, the report says face_swap"
    )
    assert contradiction("This face looks like a face swap.", "real", "real") == (
        "names face_swap, the report says real"
    )
    assert contradiction("A face swap, not a face reenactment.", "fake", "face_swap") is None
    assert contradiction("This face looks like a face swap.", "fake", "face_swap") is None
    assert contradiction("Fake.", "no_face", None) is None
    assert named_categories("Not a face swap; a face reenactment.") == ["face_reenactment"]


def test_check_reports_a_reason_for_either_violation():
    scores = {"mouth": 0.9}
    assert check_answer("Fake. The mouth is smeared.", "fake", "face_swap", scores).reason() is None
    nose = check_answer("Fake. The nose is smeared.", "fake", "face_swap", scores)
    assert nose.hallucinated_region and nose.contradiction is None
    assert nose.reason() == "names the nose, which the report does not support"
    real = check_answer("Real. The mouth is fine.", "fake", "face_swap", scores)
    assert real.violated and not real.hallucinated_region


def test_the_instruct_answers_state_their_own_verdict_and_type():
    """DFA-GPT learns these sentences: each agrees with its own label and no other."""
    import json
    from pathlib import Path

    import opendfa.instruct

    templates = Path(opendfa.instruct.__file__).parent / "templates.json"
    answers = json.loads(templates.read_text())["answers"]
    for label, texts in answers["DF-D"].items():
        assert all(stated_verdict(t) == label for t in texts), label
    for category, texts in answers["DF-C"].items():
        verdict = "real" if category == "real" else "fake"
        assert all(contradiction(t, verdict, category) is None for t in texts), category
    for category, texts in answers["AD_intro"].items():
        for text in texts:
            assert contradiction(text, "fake", category) is None, text
            assert contradiction(text, "real", "real") is not None, text


def test_paraphrases_found_while_decoding_count_as_claims():
    from opendfa.metrics.grounding import named_categories, stated_verdict

    assert stated_verdict("This is not an original photo.") == "fake"
    assert stated_verdict("The original face was blended in.") is None
    assert named_categories("It was reshaped by a generative method.") == ["entire_face_synthesis"]


def test_a_replaced_identity_names_a_face_swap_unless_negated():
    from opendfa.metrics.grounding import contradiction, named_categories

    said = "The identity in this image was replaced. The edge around the nose is blurred."
    assert named_categories(said) == ["face_swap"]
    assert named_categories("The identity was not replaced.") == []
    assert contradiction(said, "inconclusive") == "names face_swap, the report says inconclusive"
    assert contradiction(said, "fake", "face_swap") is None
