"""Claims an answer makes about one image, and whether that image's report supports them.

One vocabulary for every place that checks words against evidence: chat's reply guard,
grounded decoding (`opendfa.explain.decoding`), DFA-Bench's claim precision and the
DFA-Instruct filter. An answer is read into atomic claims of these kinds:

| kind | example | supported when |
| --- | --- | --- |
| `verdict` | "Fake." / "this face looks real" | the report's verdict says the same |
| `type` | "a face reenactment" | the report's forgery type (under a fake verdict) |
| `technique` | "a self-blended image", "the eyes were resized" | the report names it |
| `region` | "the nose" (named as manipulated) | the region scores at least the evidence level |
| `untouched` | "the mouth stayed the same" | the region scores below the evidence level |
| `attribute` | "the left eye is sharper than ..." | its cue is measured there, notable, that way |
| `original` | "compared with the original photo" | the user gave an original to compare with |
| `confidence` | "quite sure", "a weak call" | the band of the detector's margin |

A claim is `supported`, `contradicted` (the evidence says otherwise: the other verdict, a
region that is evidence called untouched, a cue measured the other way) or `unsupported`
(nothing in the evidence says so). The reader prefers missing a claim to inventing one.

The checker takes plain `ClaimFacts`, not a report: `metrics` sits below `evidence`, and a
benchmark can build facts from stored records. `opendfa.explain.reply_check.claim_facts` builds
them from a `Report`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from opendfa.metrics.confidence import BANDS, confidence_band
from opendfa.metrics.grounding import (
    NEGATIONS,
    REFERENCES,
    REGION_PATTERNS,
    named_categories,
    region_mentions,
    stated_verdict,
)
from opendfa.taxonomy import FAKE_CATEGORIES, REGION_NAMES

SUPPORTED, CONTRADICTED, UNSUPPORTED = "supported", "contradicted", "unsupported"
REGION_EVIDENCE = 0.5  # a region counts as evidence from this score (as the report's words)
CUE_EVIDENCE = 0.5  # a cue supports a claim from this strength (1 = its notable value)
CUE_ABSENT = 0.25  # below this strength a "there is a seam / colour step" claim is contradicted
AREA = "area"  # the manipulated area as a whole (the face-level cues)
WHOLE_FACE = tuple(REGION_NAMES)  # "no traces": a claim about every region


# Attribute -> (cue name in the report, whether the cue has a direction). A directed cue's
# signed strength is positive for "more" (blurrier, noisier, brighter).
ATTRIBUTE_CUES: dict[str, tuple[str, bool]] = {
    "blur": ("blur_ratio", True),
    "noise": ("noise_residual_ratio", True),
    "brightness": ("illumination_mismatch", True),
    "colour_step": ("boundary_colour_mismatch", False),
    "seam": ("edge_discontinuity", True),
    "asymmetry": ("left_right_asymmetry", False),
}
# (pattern, attribute, direction): +1 more, -1 less, 0 present.
ATTRIBUTE_PATTERNS: tuple[tuple[str, str, int], ...] = (
    (r"\bblurr(?:ier|ed|y)\b|\blacks? fine detail\b|\bless (?:sharp|detailed)\b", "blur", 1),
    (r"\bsharper\b|\bcrisper\b|\bmore detail(?:ed)?\b", "blur", -1),
    (r"\bnoisier\b|\bmore noise\b|\bgrainier\b", "noise", 1),
    (r"\bless noise\b|\bless noisy\b|\bunnaturally smooth\b|\bsmoother\b", "noise", -1),
    (r"\bbrighter\b|\blighter\b", "brightness", 1),
    (r"\bdarker\b|\bdimmer\b", "brightness", -1),
    (
        r"\b(?:skin )?colou?r (?:changes|shifts|jumps) abruptly\b"
        r"|\b(?:skin )?colou?r (?:step|mismatch|jump)\b"
        r"|\bskin tones? (?:do not|does not) match\b",
        "colour_step",
        0,
    ),
    (r"\bseams?\b|\bvisible (?:edge|border|boundary)\b", "seam", 1),
    (r"\b(?:mask )?edge softer than\b", "seam", -1),
    (
        r"\bdiffer in colou?r\b|\bdifferent colou?rs?\b|\basymmetr(?:y|ic)\b"
        r"|\bleft/right colou?r difference\b",
        "asymmetry",
        0,
    ),
)
_AREA_SUBJECT = r"\b(?:manipulated|suspected|edited|swapped|masked) (?:area|region)\b|\bmask\b"

TECHNIQUE_PATTERNS: tuple[str, ...] = (
    r"\bself[- ]?blend(?:ed|ing)?\b",
    r"\bsbi\b",
    r"\bblending forgery\b",
    r"\bpoisson\b",
    r"\blaplacian\b",
    r"\balpha[- ]blend(?:ed|ing)?\b",
    r"\bfeathered\b",
    r"\bmulti[- ]band\b",
    r"\bdeepfacelab\b|\bfaceswap\b|\bfaceshifter\b|\bsimswap\b|\bface2face\b"
    r"|\bneural ?textures\b|\bfirst[- ]order motion\b|\bmorph(?:ed|ing)?\b",
    r"\b(?:eyes|eye) (?:were|was) (?:resized|enlarged|shrunk)\b",
    r"\bmouth corners were moved\b",
    r"\blip colou?r was changed\b",
    r"\bskin was smoothed\b",
    r"\bwrinkle texture was added\b",
    r"\beyebrows were reshaped\b",
    r"\bwidth of the nose was changed\b",
    r"\bmouth was opened artificially\b",
    r"\beyelids were closed artificially\b",
    r"\bwarped to turn the head\b",
    r"\bblend(?:ed|ing)\b",
    r"\bmixed[- ]gradient\b",
    r"\btransformed copy\b",
    r"\b(?:new|swapped|pasted) face was (?:merged|blended|pasted|placed|put)\b",
    r"\bcopy of itself\b",
)
ORIGINAL_PATTERNS: tuple[str, ...] = (
    r"\b(?:the|an|its|their) original\b",
    r"\boriginal (?:photo|photograph|image|picture|face|version|frame|file|colou?r)s?\b",
    r"\b(?:compared (?:with|to)|than (?:in )?|unlike|from) the (?:original|source|real)\b",
    # "compared with the face in the photo": anything compared with a picture is another one
    r"\bcompared (?:with|to) (?:the |its |an? )?[a-z' ]{0,30}?"
    r"\b(?:photo|photograph|image|picture|frame|file|version|source)s?\b",
    r"\bchanged\b[^.;]{0,60}\bmost\b",
    r"\bcompared (?:with|to) the (?:face|person)(?:'s)? (?:in|of) (?:the|a|another)\b",
    r"\bcompared (?:with|to) the person's\b",
)
_UNTOUCHED = (
    r"\b(?:stayed|stays|remained|remains|looks?|is|are|was|were|appears?) "
    r"(?:the same|untouched|unchanged|unaltered|unedited|intact|natural|clean|real|genuine"
    r"|fine|normal|consistent)\b"
    r"|\bno (?:sign|signs|trace|traces|evidence) of (?:manipulation|editing|tampering)\b"
    r"|\bnot (?:manipulated|edited|altered|touched|changed)\b"
)
CONFIDENCE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bnot (?:very |quite |entirely )?(?:sure|certain|confident)\b", "low"),
    (
        r"\b(?:i am|i'm|we are|it is|this is|the call is|the verdict is) "
        r"(?:unsure|uncertain|borderline|inconclusive)\b|\ba borderline (?:call|case)\b",
        "low",
    ),
    (r"\b(?:a )?weak (?:call|margin|signal|evidence)\b|\blow confidence\b", "low"),
    (r"\bclose to the threshold\b|\bhard to tell\b|\bcannot (?:be )?sure\b", "low"),
    (r"\bless sure than usual\b", "low"),
    (r"\b(?:a )?moderate (?:call|margin|confidence)\b|\bsomewhat (?:sure|confident)\b", "moderate"),
    (r"\bfairly (?:sure|confident|certain)\b", "moderate"),
    (r"\b(?:quite|very|highly|completely|absolutely) (?:sure|confident|certain)\b", "high"),
    (r"\b(?:i am|i'm|we are) (?:sure|confident|certain)\b|^\s*(?:confident|certain)\b", "high"),
    (r"\bclear(?:ly)? (?:call|margin|traces?|evidence|signs?)\b", "high"),
    (r"\b(?:traces|evidence) (?:are|is) clear\b|\bstrong evidence\b|\bwithout doubt\b", "high"),
    (r"\b(?:quite|very|perfectly) clear\b|\btraces\b[^.]{0,80}\bare clear\b", "high"),
    (r"\b(?:quite|very) strong\b|\ba strong (?:forgery|fake|case|call)\b", "high"),
)
# A sentence ends at . ! ? before a space or the end (so "0.69" and "P(fake)" stay whole).
# Sentences that make no claim about this image: general knowledge, a hypothesis, advice,
# what would settle an open case, where an undecided category head leans.
_NOT_ABOUT_THIS_IMAGE = re.compile(
    r"\bgeneral knowledge\b|\btypically\b|\bsuch forgeries\b|\bif it were\b"
    r"|\bwould settle\b|\bsecond opinion\b|\bleans? to\b"
    r"|^\s*(?:\d+\.\s*)?(?:find|check|inspect|compare|treat|look|ask|use|open|save|try)\b"
)
# A sentence about proof ("that does not prove it is genuine") states no verdict.
_ABOUT_PROOF = re.compile(r"\bprov(?:e|es|en|ing)\b|\bproof\b")
# A region followed by a number is a score being quoted ("forehead 0.31", "nose (0.87)").
_SCORE_AFTER = re.compile(r"\s*(?:\(|scores?\s+|:\s*)?(\d?\.\d+)")
_SENTENCES = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+[.!?]*")
# Clauses that keep a list of regions whole ("the mouth, right eye and left eye stayed ...").
_LIST_CLAUSE = re.compile(
    r"[;:()]|,\s*(?=and |which |as |so )|\b(?:but|while|whereas|although|though|yet)\b"
)
_CLAUSE = re.compile(r"[,;:()]|\b(?:but|while|whereas|although|though|yet)\b")


@dataclass(frozen=True)
class ClaimFacts:
    """What one image's evidence holds, in the checker's terms."""

    verdict: str  # "fake", "real" or "inconclusive"
    category: str | None = None  # the report's forgery type under a fake verdict
    region_scores: dict[str, float] = field(default_factory=dict)
    # region (or `AREA`) -> cue name -> signed strength (see `signed_strength`)
    cues: dict[str, dict[str, float]] = field(default_factory=dict)
    margin: float | None = None  # |P(fake) - threshold| of the decisive face
    fake_probability: float | None = None  # the report's, for a quoted probability
    techniques: tuple[str, ...] = ()  # sub-techniques the report names (none today)
    has_original: bool = False  # an original was given to compare with (`/compare`)
    threshold: float = REGION_EVIDENCE

    @property
    def band(self) -> str | None:
        return confidence_band(self.margin)


@dataclass(frozen=True)
class Claim:
    kind: str  # verdict, type, technique, region, untouched, attribute, original, confidence
    phrase: str  # the words as written (lower case)
    value: str = ""  # verdict/type/band; for attributes "blur+1"; for regions ""
    regions: tuple[str, ...] = ()  # any of which the claim is about (AREA for the whole)
    start: int = 0  # character offset of the phrase in the answer


@dataclass(frozen=True)
class CheckedClaim:
    claim: Claim
    status: str  # SUPPORTED, CONTRADICTED or UNSUPPORTED
    reason: str = ""

    @property
    def holds(self) -> bool:
        return self.status == SUPPORTED

    def key(self) -> tuple[str, str]:
        """What a claim says, for counting breaks while decoding: its kind, value and regions,
        not its wording, so that a shorter wording of the same claim ("compared with the
        original" for "... original photo") is not taken for a cure."""
        claim = self.claim
        if claim.kind == "region":
            return claim.kind, claim.phrase
        return claim.kind, f"{claim.value} {' '.join(claim.regions)}".strip()


def _normalise(text: str) -> str:
    return text.lower().replace("’", "'").replace("n't", " not").replace("cannot", "can not")


def _clauses(sentence: str, offset: int, marks: re.Pattern = _CLAUSE) -> Iterable[tuple[str, int]]:
    start = 0
    for match in marks.finditer(sentence):
        yield sentence[start : match.start()], offset + start
        start = match.end()
    yield sentence[start:], offset + start


def _subject_regions(clause: str, before: int) -> tuple[tuple[str, ...], str]:
    """The regions a clause's attribute word is about: region words before it (outside the
    reference side of a comparison), else the manipulated area."""
    head = clause[:before]
    head = re.sub(
        r"\b(?:than|compared (?:with|to)|relative to|unlike)\b[^,;:]*",
        lambda m: " " * len(m.group()),
        head,
    )
    for pattern in REFERENCES:
        head = re.sub(pattern, lambda m: " " * len(m.group()), head)
    found: list[tuple[int, tuple[str, ...], str]] = [
        (m.start(), (AREA,), "manipulated area") for m in re.finditer(_AREA_SUBJECT, head)
    ]
    for pattern, regions in REGION_PATTERNS:
        for match in re.finditer(pattern, head):
            found.append((match.start(), regions, match.group()))
        head = re.sub(pattern, lambda m: " " * len(m.group()), head)
    if found:
        _, regions, phrase = max(found, key=lambda item: item[0])
        return regions, phrase
    return (AREA,), "manipulated area"


def _attribute_claims(sentence: str, offset: int) -> list[Claim]:
    """Attribute words of a sentence, each about the last region (or "manipulated area")
    named before it in the sentence ("nose (0.87), blurrier than ...; left eye, sharper";
    "the mouth scores 0.83: ...; measured there: blurrier")."""
    claims = []
    for pattern, attribute, direction in ATTRIBUTE_PATTERNS:
        for match in re.finditer(pattern, sentence):
            words = sentence[max(0, match.start() - 12) : match.start()].split()
            if any(w in ("no", "not", "without", "nor") for w in words[-2:]):
                continue
            regions, subject = _subject_regions(sentence, match.start())
            claims.append(
                Claim(
                    "attribute",
                    f"{subject}: {match.group()}",
                    f"{attribute}{direction:+d}",
                    regions,
                    offset + match.start(),
                )
            )
    return claims


def _untouched_claims(clause: str, offset: int) -> list[Claim]:
    if not re.search(_UNTOUCHED, clause):
        return []
    claims = []
    for pattern, regions in REGION_PATTERNS:
        for match in re.finditer(pattern, clause):
            claims.append(Claim("untouched", match.group(), "", regions, offset + match.start()))
        clause = re.sub(pattern, lambda m: " " * len(m.group()), clause)
    return claims


def _found(patterns: Iterable[str], kind: str, sentence: str, offset: int) -> list[Claim]:
    claims = []
    for pattern in patterns:
        for match in re.finditer(pattern, sentence):
            claims.append(Claim(kind, match.group(), "", (), offset + match.start()))
    return claims


def extract_claims(text: str, question: str | None = None) -> list[Claim]:
    """The atomic claims of one answer, in order of where they start."""
    lowered = _normalise(text)
    found: list[Claim] = []
    for number, match in enumerate(_SENTENCES.finditer(lowered)):
        sentence, offset = match.group(), match.start()
        if _NOT_ABOUT_THIS_IMAGE.search(sentence):
            continue
        claims: list[Claim] = []
        undecided = _UNDECIDED.search(sentence)
        said = (
            "inconclusive"
            if undecided
            else stated_verdict(sentence, question if number == 0 else None)
        )
        if said is not None and not _ABOUT_PROOF.search(sentence):
            claims.append(Claim("verdict", said, said, (), offset))
        for hit in _NO_TRACES.finditer(sentence):
            claims.append(Claim("untouched", hit.group(), "", WHOLE_FACE, offset + hit.start()))
        for hit in _PROBABILITY.finditer(sentence):
            claims.append(
                Claim(
                    "probability",
                    hit.group(),
                    hit.group(1) or hit.group(2),
                    (),
                    offset + hit.start(),
                )
            )
        for category in named_categories(_LISTED_SCORES.sub(_blank, sentence)):
            if category in FAKE_CATEGORIES:
                claims.append(Claim("type", category, category, (), offset))
        claims += _attribute_claims(sentence, offset)
        claims += _found(TECHNIQUE_PATTERNS, "technique", sentence, offset)
        claims += _found(ORIGINAL_PATTERNS, "original", sentence, offset)
        for pattern, band in CONFIDENCE_PATTERNS:
            for hit in re.finditer(pattern, sentence):
                if band != "low" and _negated(sentence, hit.start()):
                    continue
                claims.append(Claim("confidence", hit.group(), band, (), offset + hit.start()))
        untouched: list[Claim] = []
        for clause, start in _clauses(sentence, offset, _LIST_CLAUSE):
            untouched += _untouched_claims(clause, start)
        claims += untouched
        kept_back = {c.start for c in untouched}
        for clause, start in _clauses(_DEFINITIONS.sub(_blank, sentence), offset):
            if set(clause.split()) & NEGATIONS:
                continue
            for mention in region_mentions(clause):
                at = max(clause.find(mention.phrase), 0)
                if start + at in kept_back:
                    continue
                # the score may sit in brackets, which end the clause: read the sentence
                score = _SCORE_AFTER.match(sentence, start - offset + at + len(mention.phrase))
                value = score.group(1) if score else ""
                claims.append(Claim("region", mention.phrase, value, mention.regions, start + at))
        found += _dedupe(claims, offset)
    return _once_per_answer(sorted(found, key=lambda c: c.start))


def _once_per_answer(claims: list[Claim]) -> list[Claim]:
    """A verdict, a type or a region named again later in the same answer is one claim
    ("the left eye ... the left eye"); a quoted score stays a claim of its own."""
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    kept = []
    for claim in claims:
        repeatable = claim.kind in ("verdict", "type") or (
            claim.kind == "region" and not claim.value
        )
        key = (claim.kind, claim.value, claim.regions)
        if repeatable and key in seen:
            continue
        seen.add(key)
        kept.append(claim)
    return kept


# "I cannot tell", "not a verdict": the answer abstains, which is a verdict of its own.
_UNDECIDED = re.compile(r"\b(?:i )?can not tell\b|\bnot a verdict\b|\binconclusive\b")
# The whole face claimed clean: every region must score below the evidence level.
_NO_TRACES = re.compile(
    r"\bno region (?:reaches|scores|is above|stands out|shows)\b|\bno (?:manipulation )?traces?\b"
    r"|\bnothing in this face (?:shows|stands out)\b|\bno region of this face was manipulated\b"
)
# A quoted probability ("P(fake) = 0.69", "fake probability 0.69", "91 out of 100").
_PROBABILITY = re.compile(
    r"\bp\(fake\)(?: is| =|:)? ?(\d?\.\d+)|\bfake probability (?:is |of )?(\d?\.\d+)"
)


# A parenthesis without a number defines or gives examples ("attributes of the same face
# changed (age, smile, eyes, skin)"); one with a number quotes a score ("nose (0.85)").
_DEFINITIONS = re.compile(r"\([^()0-9]*\)")
# "face swap 0.80, face reenactment 0.05, ...": probabilities listed, not types claimed.
_LISTED_SCORES = re.compile(r"[a-z ]+ \d?\.\d+(?:, [a-z ]+ \d?\.\d+)+")


def _blank(match: re.Match) -> str:
    return " " * len(match.group())


def _negated(sentence: str, at: int) -> bool:
    return bool({"no", "not", "never", "without"} & set(sentence[max(0, at - 12) : at].split()))


def _dedupe(claims: list[Claim], sentence_start: int) -> list[Claim]:
    """One claim per sentence for each thing said: "compared with the original photo" is
    one appeal to an original, "blurrier ... lacks fine detail" one blur claim."""
    seen: set[tuple[str, str, tuple[str, ...], int]] = set()
    kept = []
    for claim in sorted(claims, key=lambda c: (c.start, -len(c.phrase))):
        where = claim.start if claim.kind in ("region", "untouched", "verdict") else sentence_start
        key = (claim.kind, claim.value, claim.regions, where)
        if key in seen:
            continue
        seen.add(key)
        kept.append(claim)
    return kept


def check_claim(claim: Claim, facts: ClaimFacts) -> CheckedClaim:
    """One claim held against one image's facts."""
    check = _CHECKS[claim.kind]
    status, reason = check(claim, facts)
    return CheckedClaim(claim, status, reason)


def _verdict(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    if claim.value == facts.verdict:
        return SUPPORTED, ""
    return CONTRADICTED, f"says {claim.value}, the report says {facts.verdict}"


def _type(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    if facts.verdict == "fake" and claim.value == facts.category:
        return SUPPORTED, ""
    said = facts.category if facts.verdict == "fake" else facts.verdict
    return CONTRADICTED, f"names {claim.value}, the report says {said}"


def _technique(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    if any(t in claim.phrase for t in facts.techniques):
        return SUPPORTED, ""
    return UNSUPPORTED, f"names how it was made ({claim.phrase}), which the report does not"


def _region(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    if claim.value:  # a quoted score ("the nose scores 0.30"): it must be the report's
        quoted = float(claim.value)
        if any(abs(facts.region_scores.get(r, -1.0) - quoted) <= 0.011 for r in claim.regions):
            return SUPPORTED, ""
        return CONTRADICTED, f"quotes the {claim.phrase} at {quoted:.2f}, not the report's score"
    if any(facts.region_scores.get(r, 0.0) >= facts.threshold for r in claim.regions):
        return SUPPORTED, ""
    return UNSUPPORTED, f"names the {claim.phrase}, which the report does not support"


def _untouched(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    scores = [facts.region_scores.get(r) for r in claim.regions]
    known = [s for s in scores if s is not None]
    if any(s >= facts.threshold for s in known):
        return CONTRADICTED, f"calls the {claim.phrase} untouched; the report names it"
    if known:
        return SUPPORTED, ""
    return UNSUPPORTED, f"says the {claim.phrase} is untouched; the report has no score"


def _attribute(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    attribute, direction = claim.value[:-2], int(claim.value[-2:])
    cue, directed = ATTRIBUTE_CUES[attribute]
    measured = [facts.cues.get(r, {}).get(cue) for r in claim.regions]
    values = [v for v in measured if v is not None]
    if not values:
        return UNSUPPORTED, f"{claim.phrase}: not measured there"
    value = max(values, key=abs)
    if directed:
        signed = value * direction
        if signed >= CUE_EVIDENCE:
            return SUPPORTED, ""
        if signed <= -CUE_ABSENT:
            return CONTRADICTED, f"{claim.phrase}: measured the other way"
        if attribute == "seam" and direction > 0 and signed < CUE_ABSENT:
            return CONTRADICTED, f"{claim.phrase}: measured, and not there"
        return UNSUPPORTED, f"{claim.phrase}: too weak to say"
    if value >= CUE_EVIDENCE:  # a seam is a sharper edge: a softer one (negative) is none
        return SUPPORTED, ""
    if value < CUE_ABSENT:
        return CONTRADICTED, f"{claim.phrase}: measured, and not there"
    return UNSUPPORTED, f"{claim.phrase}: too weak to say"


def _original(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    if facts.has_original:
        return SUPPORTED, ""
    return UNSUPPORTED, "compares with an original photo that was never given"


def _confidence(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    band = facts.band
    if band is None:
        return UNSUPPORTED, "states a confidence the report has no margin for"
    if claim.value == band:
        return SUPPORTED, ""
    gap = abs(BANDS.index(claim.value) - BANDS.index(band))
    status = CONTRADICTED if gap == 2 or facts.verdict == "inconclusive" else UNSUPPORTED
    return status, f"sounds {claim.value}ly sure; the margin {facts.margin:.2f} is {band}"


def _probability(claim: Claim, facts: ClaimFacts) -> tuple[str, str]:
    if facts.fake_probability is None:
        return UNSUPPORTED, "quotes a probability the report does not give"
    if abs(float(claim.value) - facts.fake_probability) <= 0.011:
        return SUPPORTED, ""
    return (
        CONTRADICTED,
        f"quotes P(fake) {claim.value}; the report says {facts.fake_probability:.2f}",
    )


_CHECKS = {
    "probability": _probability,
    "verdict": _verdict,
    "type": _type,
    "technique": _technique,
    "region": _region,
    "untouched": _untouched,
    "attribute": _attribute,
    "original": _original,
    "confidence": _confidence,
}


def check_claims(text: str, facts: ClaimFacts, question: str | None = None) -> list[CheckedClaim]:
    """Every claim of `text`, checked against `facts`."""
    return [check_claim(c, facts) for c in extract_claims(text, question)]


@dataclass(frozen=True)
class Conflict:
    """Two claims of one conversation that cannot both hold."""

    first: Claim
    second: Claim
    reason: str


def self_contradictions(replies: Iterable[str]) -> list[Conflict]:
    """Claims of a conversation (its replies in order) that contradict each other: a region
    called sharper then blurrier, both verdicts, two forgery types, a region named as
    manipulated then untouched."""
    seen: dict[tuple[str, tuple[str, ...]], Claim] = {}
    conflicts: list[Conflict] = []
    for reply in replies:
        for claim in extract_claims(reply):
            for key, opposite in _opposites(claim):
                earlier = seen.get(opposite)
                if earlier is not None:
                    conflicts.append(Conflict(earlier, claim, _conflict_reason(earlier, claim)))
                seen.setdefault(key, claim)
    return conflicts


def _opposites(
    claim: Claim,
) -> list[tuple[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]]]:
    """(this claim's key, the key a contradicting claim would have)."""
    if claim.kind == "verdict":
        other = "real" if claim.value == "fake" else "fake"
        return [(("verdict:" + claim.value, ()), ("verdict:" + other, ()))]
    if claim.kind == "type":
        return [
            (("type:" + claim.value, ()), ("type:" + other, ()))
            for other in FAKE_CATEGORIES
            if other != claim.value
        ]
    if claim.kind == "attribute" and claim.value[-2:] in ("+1", "-1"):
        flipped = claim.value[:-2] + ("-1" if claim.value.endswith("+1") else "+1")
        return [(("attr:" + claim.value, claim.regions), ("attr:" + flipped, claim.regions))]
    if claim.kind in ("region", "untouched"):
        other = "untouched" if claim.kind == "region" else "region"
        return [((claim.kind, claim.regions), (other, claim.regions))]
    return []


def _conflict_reason(first: Claim, second: Claim) -> str:
    return f'"{first.phrase}" and later "{second.phrase}" cannot both hold'


@dataclass
class ClaimTally:
    """Counts of checked claims, by status and kind (DFA-Bench's claim columns)."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, checked: Iterable[CheckedClaim]) -> None:
        for item in checked:
            kind = self.counts.setdefault(item.claim.kind, {})
            kind[item.status] = kind.get(item.status, 0) + 1

    def total(self, status: str | None = None) -> int:
        return sum(
            n for kind in self.counts.values() for s, n in kind.items() if status in (None, s)
        )

    @property
    def precision(self) -> float | None:
        """Supported claims over all claims (None without claims)."""
        total = self.total()
        return self.total(SUPPORTED) / total if total else None

    @property
    def contradiction_rate(self) -> float | None:
        total = self.total()
        return self.total(CONTRADICTED) / total if total else None
