"""Chat's reply guard and grounded decoding hold every claim to the report: cues and their
direction, appeals to an absent original, sub-techniques, confidence, and earlier replies.
The grounded backend's own answers pass the same checker."""

from __future__ import annotations

import pytest

from opendfa.evidence.facts import claim_facts, signed_strength
from opendfa.explain.decoding import GroundedReview
from opendfa.explain.grounded import answer
from opendfa.explain.intents import classify
from opendfa.explain.reply_check import check_reply, review_for
from opendfa.metrics.claims import AREA, ClaimTally, check_claims

QUESTIONS = (
    "Is this real or fake?",
    "Why?",
    "Which regions, and what do you see there?",
    "What kind of forgery?",
    "How sure are you?",
    "Where are the traces?",
    "Explain it simply.",
    "What should I do next?",
    "Show me the mask",
    "What about the mouth?",
    "Is the nose manipulated?",
    "Tell me about the eyes",
)


def test_facts_carry_signed_cue_strengths_and_the_margin(fake_report):
    facts = claim_facts(fake_report)
    assert facts.verdict == "fake" and facts.category == "face_swap"
    assert facts.cues["mouth"]["blur_ratio"] == pytest.approx(signed_strength("blur_ratio", 2.1))
    assert facts.cues["mouth"]["blur_ratio"] > 1  # 2.1 is past the notable 1.5: blurrier
    assert signed_strength("blur_ratio", 0.5) < 0 < signed_strength("illumination_mismatch", 3)
    assert AREA in facts.cues and facts.band == "high"  # margin 0.41


@pytest.mark.parametrize("kind", ["fake", "real", "weak"])
def test_every_grounded_answer_passes_the_claim_checker(
    kind, fake_report, real_report, make_report
):
    report = {
        "fake": fake_report,
        "real": real_report,
        "weak": make_report(
            0.55, region_scores={"left_eye": 0.7}, region_cues={"left_eye": {"blur_ratio": 0.4}}
        ),
    }[kind]
    facts = claim_facts(report)
    tally = ClaimTally()
    for question in QUESTIONS:
        text = answer(classify(question), report).text
        broken = [c for c in check_claims(text, facts, question) if not c.holds]
        assert not broken, (question, text, broken)
        tally.add(check_claims(text, facts, question))
    assert tally.total() >= 10  # the answers do make claims, and all of them hold


def test_the_guard_rejects_a_cue_the_wrong_way_an_absent_original_and_false_confidence(
    fake_report, make_report
):
    assert not check_reply("The mouth is blurrier than its surroundings.", fake_report).violated
    wrong_way = check_reply("The mouth is sharper than its surroundings.", fake_report)
    assert wrong_way.violated and "other way" in wrong_way.reason()
    original = check_reply("Compared with the original photo, the mouth changed most.", fake_report)
    assert original.violated and "original" in original.reason()
    weak = make_report(0.52, region_scores={"mouth": 0.8})
    assert check_reply("Quite sure: the measured traces are clear.", weak).violated
    assert not check_reply("A weak call: it is close to the threshold.", weak).violated


def test_the_guard_catches_a_reply_that_contradicts_an_earlier_one(fake_report):
    first = "The mouth is blurrier than the surrounding skin."
    later = "The mouth is sharper than its surroundings."
    check = check_reply(later, fake_report, earlier=[first])
    assert check.violated
    assert not check_reply(first, fake_report, earlier=[first]).violated


def test_decoding_cuts_an_appeal_to_the_original_back_to_its_sentence(fake_report):
    review = review_for(fake_report)
    text = (
        "The mouth is blurrier than its surroundings. Compared with the original photo, it changed."
    )
    first = text.index("Compared")
    assert review(text[:first], final=False) is None and review.settled == first - 1
    cut = review(text, final=False)
    # Cut at the word, the model only reworded it ("compared with the face in the other
    # face"): the whole sentence goes, and its first word is banned there.
    assert cut == first


def test_decoding_cuts_a_cue_stated_the_wrong_way_at_the_cue_word(fake_report):
    review = review_for(fake_report)
    text = "The mouth is sharper than its surroundings."
    assert review(text, final=False) == text.index("sharper")


def test_decoding_without_facts_keeps_the_old_checks_only():
    review = GroundedReview("fake", "face_swap", {"mouth": 0.9})
    text = "The mouth is sharper than the original photo."
    assert review(text, final=False) is None
