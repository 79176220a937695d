"""Grounded answers say what the report holds, and never name what it lacks."""

from __future__ import annotations

import pytest

from opendfa.evidence.report import Report
from opendfa.explain import Conversation, classify
from opendfa.explain.grounded import compare_reports


@pytest.mark.parametrize(
    ("text", "intent", "regions"),
    [
        ("Is this fake?", "verdict", ()),
        ("Is it a deepfake or real?", "verdict", ()),
        ("how sure are you", "confidence", ()),
        ("Why?", "why", ()),
        ("where are the traces", "where", ()),
        ("what kind of forgery is it", "type", ()),
        ("show me the mask", "mask", ()),
        ("what should I check next", "next", ()),
        ("explain it for a non-expert", "simple", ()),
        ("what about the lips?", "where", ("mouth",)),
        ("why the eyes", "why", ("left_eye", "right_eye")),
        ("is the left eye fake?", "where", ("left_eye",)),
        ("which frame is worst in the video", "when", ()),
        ("hello", "unknown", ()),
    ],
)
def test_questions_are_classified(text, intent, regions):
    question = classify(text)
    assert (question.intent, question.regions) == (intent, regions)


@pytest.mark.parametrize(
    ("text", "describe"),
    [
        ("Why?", True),
        ("Where exactly did it go wrong?", True),
        ("Can you explain what you see around the eyes?", True),
        ("Please describe the traces.", True),
        ("What gives it away?", True),
        ("Which features look off to you?", True),
        ("Is it fake? Describe the artifacts.", True),
        ("Are there traces of forgery on this face?", False),
        ("Is there any sign that this face was manipulated?", False),
        ("What category would you assign to this face?", False),  # "sign" inside a word
        ("Which of these describes the face best: real or swap?", False),
        ("What kind of forgery is this?", False),
        ("How sure are you?", False),
    ],
)
def test_questions_asking_for_a_description_are_told_apart(text, describe):
    from opendfa.explain.intents import asks_for_description

    assert asks_for_description(text) is describe


def test_verdict_states_probability_threshold_and_type(fake_report, real_report):
    fake = Conversation(fake_report).ask("is it fake?").text
    assert "fake" in fake and "0.91" in fake and "0.50" in fake and "face swap" in fake
    real = Conversation(real_report).ask("is it real?").text
    assert "real" in real and "0.12" in real and "not proof" in real


def test_why_names_only_supported_regions_and_cues(fake_report):
    text = Conversation(fake_report).ask("why do you think so?").text
    assert "mouth (0.83)" in text and "chin (0.64)" in text
    assert "blurrier" in text  # the mouth's blur ratio 2.1 is notable
    assert "nose" not in text  # 0.30: below the evidence bar, despite its strong cue
    assert "forehead" not in text
    assert "colour step" in text  # the whole-mask boundary cue 7.5 is notable
    assert "brightness" not in text  # illumination 0.5 L* is not


def test_real_verdict_why_says_no_region_reaches_the_bar(real_report):
    text = Conversation(real_report).ask("why").text
    assert "below" in text and "forehead 0.31" in text and "no region reaches" in text


def test_region_questions_report_score_rank_and_absence(fake_report):
    convo = Conversation(fake_report)
    mouth = convo.ask("what about the mouth?").text
    assert "0.83" in mouth and "rank 1 of 12" in mouth and "traces" in mouth
    eyes = convo.ask("and the eyes?").text
    assert "left eye scores 0.10" in eyes and "no clear trace" in eyes


def test_mask_answer_gives_coverage_and_extent(fake_report):
    reply = Conversation(fake_report).ask("show me the mask")
    # 40 x 40 of the 100 x 100 face box is above 0.5.
    assert "16 %" in reply.text and "x 130-169" in reply.text and reply.attachments == ["mask"]


def test_confidence_mentions_margin_warnings_and_frames(make_report):
    report = make_report(
        0.62, warnings=["face smaller than 64 px"], timeline=[0.2, 0.7, None, 0.9, 0.4]
    )
    text = Conversation(report).ask("how confident are you?").text
    assert "a weak call" in text and "margin 0.12" in text
    assert "face smaller than 64 px" in text
    assert "Across 4 sampled frames with a face, 2 score at or above" in text


def test_when_lists_peak_frames_only_above_threshold(make_report):
    report = make_report(0.9, timeline=[0.2, 0.7, None, 0.9, 0.4])
    text = Conversation(report).ask("when does it happen?").text
    assert "frame 30 at 1.2 s (0.90)" in text and "frame 10" in text and "frame 40" not in text


def test_type_for_real_does_not_claim_a_forgery(real_report, fake_report):
    assert "no forgery type applies" in Conversation(real_report).ask("what type?").text
    text = Conversation(fake_report).ask("what kind of manipulation?").text
    assert text.startswith("Most likely face swap (0.80)") and "general knowledge" in text


def test_simple_explanation_avoids_jargon(fake_report):
    text = Conversation(fake_report).ask("explain it simply").text
    assert "91 out of 100" in text and "mouth and chin" in text
    assert "P(fake)" not in text and "threshold" not in text


def test_next_steps_point_to_evidence(fake_report):
    text = Conversation(fake_report).ask("what should I check next?").text
    assert "mouth, chin" in text and "reverse image search" in text


def test_no_face_report_has_nothing_to_discuss():
    from opendfa.evidence.report import InputInfo, ModelInfo

    report = Report(InputInfo("x.jpg"), ModelInfo("m", None), "no_face")
    for question in ("is it fake?", "why?", "where?", "show me the mask"):
        assert "No face was found" in Conversation(report).ask(question).text


def test_history_comparison_and_saving(fake_report, real_report, tmp_path):
    convo = Conversation(fake_report)
    convo.ask("is it fake?")
    convo.ask("why?")
    reply = convo.compare(real_report)
    assert "looks more manipulated (difference 0.79)" in reply.text
    assert [t.role for t in convo.history] == ["user", "assistant"] * 3
    saved = convo.save(tmp_path / "c.json").read_text()
    assert '"opendfa.conversation/1"' in saved and "is it fake?" in saved
    assert compare_reports(real_report, fake_report).facts["fake_probability"] == [0.12, 0.91]


def test_empty_question_is_refused(fake_report):
    with pytest.raises(ValueError):
        Conversation(fake_report).ask("   ")


def test_mask_coverage_is_a_share_of_the_face_box_not_of_the_crop_window(fake_report):
    # Issue 24: "covers 21 % of the face box" where the mask covered 61 % of the box: the
    # share was taken over the (wider) crop window the mask is stored on.
    import copy

    import numpy as np

    from opendfa.evidence.report import MaskImage

    report = copy.deepcopy(fake_report)
    face = report.faces[0]
    face.box = (100.0, 100.0, 200.0, 200.0)
    window = np.zeros((200, 200), np.float32)  # mask stored over x, y 50-250
    window[50:110, 50:150] = 1.0  # the top 60 % of the face box
    face.mask = MaskImage.from_array(window, (50, 50, 250, 250))
    reply = Conversation(report).ask("where?")
    assert reply.facts["mask_coverage"] == pytest.approx(0.60)
    assert "covers 60 % of the face box" in reply.text
