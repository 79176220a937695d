"""A model's reply is checked against the report before it is shown.

The check is `opendfa.metrics.grounding` (the same one DFA-Bench counts with) on the report's
verdict, forgery type and the decisive face's region scores: a reply that states the other
verdict, names another forgery type, or (where asked) names a face region scoring below
`REGION_EVIDENCE` is replaced by the grounded answer to the same question. The rejected text
and the reason go into the answer's `facts`, with `replaced: True` so a client that showed the
reply while it streamed knows to show the final text instead.

`review_for` is the same check for grounded decoding (`opendfa.explain.decoding`): DFA-GPT's
reply is cut back and written again where it breaks the check, so the guard rarely has to
throw a whole reply away.
"""

from __future__ import annotations

from collections.abc import Sequence

from opendfa.evidence.abstain import decisive_face
from opendfa.evidence.facts import claim_facts
from opendfa.evidence.report import Report
from opendfa.evidence.words import REGION_EVIDENCE
from opendfa.explain.decoding import CLAIM_KINDS, GroundedReview
from opendfa.explain.grounded import Answer, answer
from opendfa.explain.intents import Question
from opendfa.metrics.claims import check_claims, self_contradictions
from opendfa.metrics.grounding import GroundingCheck, check_answer


def _judgement(report: Report) -> tuple[str | None, dict[str, float]] | None:
    """The report's forgery type and the decisive face's region scores, or None for a report
    without a verdict (nothing to check against)."""
    if report.verdict not in ("fake", "real", "inconclusive") or not report.faces:
        return None
    label = report.forgery_type.label if report.forgery_type else None
    return label, {r.name: r.score for r in decisive_face(report).regions}


def check_reply(
    text: str,
    report: Report,
    question: str | None = None,
    *,
    regions: bool = True,
    earlier: Sequence[str] = (),
) -> GroundingCheck:
    """What in `text` the report does not support (nothing for a report without a verdict):
    the verdict, type and regions (`check_answer`), every other claim the claim checker reads
    (a cue the wrong way, an absent original, a sub-technique, a confidence the margin does
    not give), a verdict committed to under an abstaining report (`commits_past_abstention`),
    and a claim that contradicts one of the `earlier` replies of the conversation."""
    judged = _judgement(report)
    if judged is None:
        return GroundingCheck()
    label, scores = judged
    check = check_answer(
        text, report.verdict, label, scores if regions else {}, REGION_EVIDENCE, question
    )
    if not regions:
        check.unsupported = []
    facts = claim_facts(report)
    if check.contradiction is None and facts is not None:
        broken = [
            c
            for c in check_claims(text, facts, question)
            if c.claim.kind in CLAIM_KINDS and not c.holds
        ]
        if broken:
            check.contradiction = broken[0].reason
    if check.contradiction is None:
        check.contradiction = commits_past_abstention(text, report, question)
    if check.contradiction is None and earlier:
        conflicts = self_contradictions([*earlier, text])
        if conflicts:
            check.contradiction = "contradicts an earlier answer: " + conflicts[0].reason
    return check


def commits_past_abstention(text: str, report: Report, question: str | None) -> str | None:
    """Why a reply commits to real or fake on a report that abstains, or None.

    A language model asked about a face answers real or fake, or describes it as forged ("the
    manipulated area covers ...") or untouched ("as in an unaltered photograph"), even when
    the report is inconclusive (DFA-Instruct has no abstaining answer to learn from), often
    in words the strict verdict reader of `check_answer` does not take as a verdict.
    DFA-Bench's DF-D parser does; under an abstaining report every reply is read with it.
    """
    from opendfa.metrics.answers import FAKE, REAL_LABEL, parse_detection

    if report.verdict != "inconclusive":
        return None
    committed = parse_detection(text, question)
    if committed not in (FAKE, REAL_LABEL):
        return None
    return f"says {committed}, the report says inconclusive"


def review_for(report: Report, question: str | None = None) -> GroundedReview | None:
    """The sentence-by-sentence check that grounded decoding applies while a reply is written
    (the same check as `check_reply`), or None for a report without a verdict."""
    judged = _judgement(report)
    if judged is None:
        return None
    label, scores = judged
    return GroundedReview(
        report.verdict, label, scores, REGION_EVIDENCE, question, facts=claim_facts(report)
    )


def replaced(question: Question, report: Report, text: str, reason: str, key: str) -> Answer:
    """The grounded answer in place of a rejected reply, recorded under `facts[key]`."""
    grounded = answer(question, report)
    grounded.facts[key] = {"reason": reason, "text": text[:500]}
    grounded.facts["replaced"] = True
    return grounded
