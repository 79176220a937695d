"""The claim checker reads the claims the issue's audit found DFA-GPT making, and holds each
against measured facts the way a careful reader would."""

from __future__ import annotations

import pytest

from opendfa.metrics.claims import (
    AREA,
    CONTRADICTED,
    SUPPORTED,
    UNSUPPORTED,
    ClaimFacts,
    ClaimTally,
    check_claims,
    confidence_band,
    extract_claims,
    self_contradictions,
)

# A swap whose eyes, eyebrows and nose are evidence; signed cue strengths as `claim_facts`
# makes them (+1 is the notable value in the "more" direction).
SWAP = ClaimFacts(
    verdict="fake",
    category="face_swap",
    region_scores={
        "left_eye": 0.87,
        "right_eye": 0.86,
        "nose": 0.87,
        "right_eyebrow": 0.8,
        "mouth": 0.2,
        "chin": 0.1,
    },
    cues={
        "left_eye": {"blur_ratio": -3.0, "noise_residual_ratio": 1.2},
        "right_eyebrow": {"illumination_mismatch": -2.0},
        "nose": {"blur_ratio": 0.1},
        AREA: {"boundary_colour_mismatch": 2.0, "edge_discontinuity": 0.05},
    },
    margin=0.19,
    fake_probability=0.69,
)


def _statuses(text: str, facts: ClaimFacts = SWAP) -> list[tuple[str, str]]:
    return [(c.claim.kind, c.status) for c in check_claims(text, facts)]


def test_an_appeal_to_an_absent_original_is_unsupported_and_its_kept_regions_contradicted():
    text = (
        "Compared with the original photo, the left eye, right eye and nose changed most, "
        "while the mouth, right eye and left eye stayed the same."
    )
    checked = check_claims(text, SWAP)
    originals = [c for c in checked if c.claim.kind == "original"]
    assert originals and all(c.status == UNSUPPORTED for c in originals)
    untouched = {c.claim.phrase: c.status for c in checked if c.claim.kind == "untouched"}
    assert untouched["right eye"] == CONTRADICTED and untouched["left eye"] == CONTRADICTED
    assert untouched["mouth"] == SUPPORTED  # it scores 0.2: calling it untouched is fair
    with_original = ClaimFacts(**{**SWAP.__dict__, "has_original": True})
    assert all(
        c.status == SUPPORTED
        for c in check_claims(text, with_original)
        if c.claim.kind == "original"
    )


def test_a_cue_is_held_to_its_measured_direction_and_strength():
    assert ("attribute", SUPPORTED) in _statuses("The left eye is sharper than its surroundings.")
    assert ("attribute", CONTRADICTED) in _statuses(
        "The left eye is blurrier than the surrounding skin and lacks fine detail."
    )
    assert ("attribute", CONTRADICTED) in _statuses("The right eyebrow is brighter than the skin.")
    assert ("attribute", UNSUPPORTED) in _statuses("The nose is blurrier than the cheeks.")
    assert ("attribute", UNSUPPORTED) in _statuses("The mouth carries more noise.")  # unmeasured


def test_the_subject_of_a_cue_is_the_region_before_it_not_the_reference_after_it():
    claims = extract_claims("The nose (0.87), blurrier than the left eye; left eye, sharper.")
    subjects = [(c.regions, c.value) for c in claims if c.kind == "attribute"]
    assert subjects == [(("nose",), "blur+1"), (("left_eye",), "blur-1")]
    area = extract_claims(
        "Along the edge of the manipulated area the skin colour changes abruptly."
    )
    assert [(c.regions, c.value) for c in area if c.kind == "attribute"] == [
        ((AREA,), "colour_step+0")
    ]


def test_a_seam_that_was_measured_absent_is_contradicted():
    assert ("attribute", CONTRADICTED) in _statuses("A visible seam runs along the border.")
    assert ("attribute", SUPPORTED) in _statuses("The skin colour changes abruptly at the edge.")


def test_a_sub_technique_the_report_does_not_name_is_unsupported():
    text = "This face is a self-blended image, a blending forgery of the face swap family."
    kinds = _statuses(text)
    assert ("type", SUPPORTED) in kinds and ("technique", UNSUPPORTED) in kinds
    named = ClaimFacts(**{**SWAP.__dict__, "techniques": ("self-blend",)})
    assert ("technique", SUPPORTED) in _statuses(text, named)


@pytest.mark.parametrize(
    ("margin", "status"),
    [(0.005, CONTRADICTED), (0.2, UNSUPPORTED), (0.41, SUPPORTED)],
)
def test_confidence_words_follow_the_margin(margin, status):
    facts = ClaimFacts(**{**SWAP.__dict__, "margin": margin})
    assert ("confidence", status) in _statuses("Quite sure: the measured traces are clear.", facts)


def test_confidence_bands():
    assert [confidence_band(m) for m in (0.01, 0.15, 0.3, None)] == [
        "low",
        "moderate",
        "high",
        None,
    ]
    low = ClaimFacts(**{**SWAP.__dict__, "margin": 0.02})
    assert ("confidence", SUPPORTED) in _statuses("It is a weak call, close to the threshold.", low)
    clear = ClaimFacts(**{**SWAP.__dict__, "margin": 0.41})
    assert ("confidence", CONTRADICTED) in _statuses("Less sure than usual: it blends in.", clear)


def test_the_other_verdict_and_type_are_contradicted_and_numbers_do_not_split_sentences():
    checked = check_claims("P(fake) is 0.69, above 0.50. This face looks real.", SWAP)
    assert [(c.claim.kind, c.status) for c in checked] == [
        ("probability", SUPPORTED),
        ("verdict", CONTRADICTED),
    ]
    assert ("probability", CONTRADICTED) in _statuses("P(fake) = 0.99.")
    assert ("type", CONTRADICTED) in _statuses("It is a face reenactment.")


def test_a_conversation_that_says_sharper_then_blurrier_contradicts_itself():
    replies = [
        "The left eyebrow is sharper than its surroundings, as if taken from another image.",
        "The left eyebrow is blurrier than the surrounding skin and lacks fine detail.",
    ]
    conflicts = self_contradictions(replies)
    assert len(conflicts) == 1 and "sharper" in conflicts[0].reason
    assert not self_contradictions([replies[0], "The right eyebrow is blurrier."])


def test_the_tally_gives_precision_and_contradiction_rate():
    tally = ClaimTally()
    tally.add(check_claims("Fake. The left eye is blurrier. It is a face swap.", SWAP))
    assert tally.total() == 4  # verdict, region, attribute, type
    assert tally.precision == pytest.approx(3 / 4)
    assert tally.contradiction_rate == pytest.approx(1 / 4)
    assert ClaimTally().precision is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # Wordings DFA-GPT found after its first choice was cut while decoding.
        ("Compared with the face in the photo, the nose changed most.", "original"),
        ("The left eye changed the colour of the manipulated area most.", "original"),
        (
            "The new face was merged with a slightly transformed copy of the self image.",
            "technique",
        ),
        ("Quite strong: a strong forgery.", "confidence"),
    ],
)
def test_rewordings_of_an_unsupported_claim_are_still_read(text, kind):
    weak = ClaimFacts(**{**SWAP.__dict__, "margin": 0.02})
    assert (kind, UNSUPPORTED) in _statuses(text, weak) or (kind, CONTRADICTED) in _statuses(
        text, weak
    )


def test_abstaining_and_whole_face_claims_are_read():
    assert ("verdict", CONTRADICTED) in _statuses(
        "I cannot tell whether this face is real or fake."
    )
    clean = _statuses("It is a real face; I find no manipulation traces.")
    assert ("untouched", CONTRADICTED) in clean  # the eyes and nose are evidence here
    quiet = ClaimFacts(verdict="real", region_scores={"nose": 0.2, "mouth": 0.1}, margin=0.4)
    assert ("untouched", SUPPORTED) in _statuses("No region reaches 0.50.", quiet)


def test_a_quoted_region_score_in_brackets_is_checked_and_repeats_count_once():
    assert ("region", CONTRADICTED) in _statuses("Traces in the nose (0.13).")
    assert ("region", SUPPORTED) in _statuses("Traces in the nose (0.87).")
    twice = [
        c for c in extract_claims("The left eye is odd. The left eye again.") if c.kind == "region"
    ]
    assert len(twice) == 1
