"""Chat over an inconclusive report: it says it cannot tell, why, and what would settle it."""

from __future__ import annotations

from opendfa.evidence.report import Abstention
from opendfa.explain import Conversation
from opendfa.explain.reply_check import check_reply
from opendfa.metrics.grounding import stated_verdict

REASON = "the face is only 30 px wide, below the 48 px the detector needs to stay reliable"
SETTLE = "a larger or less compressed copy of the image (ideally the original file)"


def _inconclusive(make_report, probability: float = 0.91):
    report = make_report(probability, region_scores={"mouth": 0.83})
    report.verdict = "inconclusive"
    report.abstention = Abstention([REASON], SETTLE)
    return report


def test_verdict_question_says_it_cannot_tell_why_and_what_would_settle_it(make_report):
    reply = Conversation(_inconclusive(make_report)).ask("is it fake?")
    assert reply.text.startswith("I cannot tell: " + REASON)
    assert SETTLE in reply.text and "0.91" in reply.text
    assert stated_verdict(reply.text) is None  # never a plain real/fake
    assert reply.facts["reasons"] == [REASON] and reply.facts["would_settle"] == SETTLE


def test_other_questions_do_not_turn_the_score_into_a_verdict(make_report):
    conversation = Conversation(_inconclusive(make_report))
    for question in ("how sure are you?", "why?", "explain it simply", "what kind of fake?"):
        text = conversation.ask(question).text
        assert stated_verdict(text) is None, (question, text)
        assert "judged fake" not in text and "judged real" not in text
    assert "mouth (0.83)" in conversation.ask("why?").text
    assert SETTLE in conversation.ask("what should I do next?").text


def test_a_reply_stating_a_verdict_contradicts_an_inconclusive_report(make_report):
    report = _inconclusive(make_report)
    check = check_reply("This face is fake.", report)
    assert check.contradiction == "says fake, the report says inconclusive"
    assert check_reply("I cannot tell from this copy.", report).contradiction is None
