"""Is a free-text answer grounded in the detector's report? Region mentions, verdict, type.

Used by DFA-Bench (how often an answerer names what the report does not hold) and by the chat
backends (a reply that does is not shown as is). Three checks:

- region mentions: the face regions an answer *claims* something about, read from its words
  ("lips" -> mouth, "jawline" -> chin or face boundary, "eyes" -> either eye, "left cheek" ->
  left cheek only). A mention is supported when one of its regions scores at least the
  threshold in the report. Mentions that claim nothing are left out: in a clause with a
  negation or a "no change" word ("the nose shows no blur", "the chin stayed the same"), and
  the reference side of a comparison ("blurrier than the surrounding skin");
- the verdict: an explicit statement ("this face looks real", "it is not fake") or a short
  first clause ("Fake.", "Yes." to "Is it fake?") against the report's verdict;
- the forgery type: a type named and not negated ("a face reenactment") other than the
  report's, or any type when the report says real.

The parser prefers missing a claim to inventing one: a grounded description made from the
report (`opendfa.evidence.words.describe_face`) has no violation against that report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from opendfa.metrics.answers import parse_detection, tokens
from opendfa.taxonomy import (
    ENTIRE_FACE_SYNTHESIS,
    FACE_EDITING,
    FACE_REENACTMENT,
    FACE_SWAP,
    FAKE_CATEGORIES,
    REAL,
    REGION_NAMES,
)

EYES = ("left_eye", "right_eye")
EYEBROWS = ("left_eyebrow", "right_eyebrow")
CHEEKS = ("left_cheek", "right_cheek")

# (pattern, regions any of which supports the mention); sided patterns come first and take
# their words, so "left eye" is not read again as "eye".
_FACE = r"(?:face|facial)"
REGION_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\bleft (?:eye|eyelid)\b", ("left_eye",)),
    (r"\bright (?:eye|eyelid)\b", ("right_eye",)),
    (r"\bleft (?:eye)?brow\b", ("left_eyebrow",)),
    (r"\bright (?:eye)?brow\b", ("right_eyebrow",)),
    (r"\bleft cheek(?:bone)?\b", ("left_cheek",)),
    (r"\bright cheek(?:bone)?\b", ("right_cheek",)),
    (
        rf"\b{_FACE} (?:boundary|boundaries|outline|contour|edges?|borders?|border line)\b",
        ("face_boundary",),
    ),
    (r"\b(?:boundary|outline|contour|edges?|border) of the face\b", ("face_boundary",)),
    (r"\bhairline\b", ("face_boundary", "forehead")),
    (r"\bjaw(?:line|s)?\b", ("chin", "face_boundary")),
    (r"\bforeheads?\b", ("forehead",)),
    (r"\b(?:eye)?brows?\b", EYEBROWS),
    (r"\beye(?:s|lids?|lashes|balls?| sockets?)?\b|\bir(?:is|ises)\b|\bpupils?\b", EYES),
    (r"\bnoses?\b|\bnostrils?\b|\bnasal\b", ("nose",)),
    (r"\bmouths?\b|\blips?\b(?![- ]?sync)|\bteeth\b|\btooth\b", ("mouth",)),
    (r"\bcheek(?:s|bones?)?\b", CHEEKS),
    (r"\bchins?\b", ("chin",)),
    (r"\bskin\b", ("skin",)),
)
# Words that make a clause claim nothing about the regions it names.
NEGATIONS = frozenset(
    [
        "no",
        "not",
        "never",
        "none",
        "nothing",
        "without",
        "neither",
        "nor",
        "untouched",
        "unchanged",
        "unaltered",
        "unedited",
        "intact",
        "unaffected",
        "natural",
        "normal",
        "clean",
        "consistent",
        "same",
        "below",
        "real",
        "authentic",
        "genuine",
    ]
)
# Phrases that name a region only as the reference of a comparison or a colour.
REFERENCES = (
    r"\b(?:than|compared (?:with|to)|relative to|unlike)\b[^,]*",
    r"\b(?:the )?(?:surrounding|neighbou?ring|nearby|adjacent|other) skin\b",
    r"\bskin (?:around|surrounding|nearby|colou?rs?|tones?)\b",
    r"\b(?:the )?rest of the (?:face|skin|image)\b",
)
_CLAUSES = (
    r"[.;:!?()\n]|,\s*(?=(?:and |or )?(?:but|while|whereas|although|though|yet|however)\b)"
    r"|\b(?:but|while|whereas|although|though|yet)\b"
)

CATEGORY_PATTERNS: dict[str, tuple[str, ...]] = {
    FACE_SWAP: (
        r"face[- ]?swap",
        r"\bswap(?:ped|ping|s)?\b",
        r"face replacement",
        r"another person's face",
        r"identity [a-z ]{0,30}(?:was|were|has been|is) (?:replaced|swapped)",
    ),
    FACE_REENACTMENT: (
        r"re-?enact",
        r"puppet",
        r"expression transfer",
        r"lip[- ]?sync",
        r"talking[- ]head",
        r"motion transfer",
        r"(?:expression|pose)[a-z ]{0,30}(?:was|were) driven",
    ),
    FACE_EDITING: (r"face[- ]edit", r"attribute[- ]edit", r"facial attribute", r"retouch"),
    ENTIRE_FACE_SYNTHESIS: (
        r"entire[- ]face",
        r"face synthesis",
        r"fully (?:generated|synthesi[sz]ed)",
        r"(?:generated|synthesi[sz]ed|synthetic) face",
        r"generative (?:model|method|network)",
        r"\bgan\b",
        r"stylegan",
        r"diffusion",
        r"ai[- ]generated",
    ),
}
_VERBS = r"(?:is|are|was|were|been|looks?|appears?|seems?|judged|judges it)"
_FAKE = (
    r"(?:fake|manipulated|forged|a forgery|a deepfake|deepfaked|doctored|tampered|edited|altered"
    r"|swapped|reenacted|synthetic|synthesi[sz]ed|(?:entirely )?generated(?: entirely)?)"
)
_REAL = r"(?:real|authentic|genuine|original|unaltered|untouched|pristine|unmanipulated)"
_HEDGES = {"may", "might", "could", "possibly", "perhaps", "maybe", "either", "or", "unsure"}
_NEGATIONS = {"no", "not", "never", "nothing", "without", "nor", "neither"}


@dataclass(frozen=True)
class RegionMention:
    phrase: str  # the words as written ("lips", "left eye")
    regions: tuple[str, ...]  # region names, any of which supports the mention


@dataclass
class GroundingCheck:
    unsupported: list[str] = field(default_factory=list)  # phrases of unsupported mentions
    contradiction: str | None = None  # "says real, the report says fake", ...

    @property
    def hallucinated_region(self) -> bool:
        return bool(self.unsupported)

    @property
    def violated(self) -> bool:
        return bool(self.unsupported) or self.contradiction is not None

    def reason(self) -> str | None:
        """One phrase for a user ("says real, ...", "names the nose, which ..."), or None."""
        if self.contradiction:
            return self.contradiction
        if self.unsupported:
            names = " and ".join(f"the {p}" for p in self.unsupported[:3])
            return f"names {names}, which the report does not support"
        return None


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("n't", " not").replace("cannot", "can not")
    return re.sub(r"[-_]", " ", text)


def region_mentions(text: str) -> list[RegionMention]:
    """The region mentions that claim something, in order (see the module rules)."""
    found: list[RegionMention] = []
    for clause in re.split(_CLAUSES, _normalise(text)):
        for pattern in REFERENCES:
            clause = re.sub(pattern, _blank, clause)
        if set(tokens(clause)) & NEGATIONS:
            continue
        here: list[tuple[int, RegionMention]] = []
        for pattern, regions in REGION_PATTERNS:
            here += [
                (m.start(), RegionMention(m.group(), regions)) for m in re.finditer(pattern, clause)
            ]
            clause = re.sub(pattern, _blank, clause)
        found += [mention for _, mention in sorted(here, key=lambda item: item[0])]
    return found


def _blank(match: re.Match) -> str:
    return " " * len(match.group())


def unsupported_regions(
    text: str, region_scores: dict[str, float], threshold: float = 0.5
) -> list[str]:
    """Phrases of the mentions none of whose regions scores `threshold` or more (once each)."""
    phrases: list[str] = []
    for mention in region_mentions(text):
        supported = any(region_scores.get(r, 0.0) >= threshold for r in mention.regions)
        if not supported and mention.phrase not in phrases:
            phrases.append(mention.phrase)
    return phrases


def stated_verdict(text: str, question: str | None = None) -> str | None:
    """`fake` or `real` when the answer states one, as its short first clause ("Real. I see no
    evidence that ...") or explicitly ("this face looks real", "no sign that it was
    manipulated"); None when it states none or both."""
    first = next((c for c in re.split(r"[,.;:!?()]", text) if c.strip()), "")
    head = tokens(first)
    if 0 < len(head) <= 4 and not set(head) & _HEDGES:
        label = parse_detection(first, question)
        if label in ("fake", "real"):
            return label
    lowered = _normalise(text)
    says = set()
    for verdict, words, opposite in (("fake", _FAKE, "real"), ("real", _REAL, "fake")):
        pattern = rf"\b(not )?{_VERBS}(?: to be| like)?( not)? (?:a |an )?{words}\b"
        for match in re.finditer(pattern, lowered):
            clause = re.split(r"[,.;:!?()]", lowered[: match.start()])[-1].split()[-5:]
            negated = bool(match.group(1)) != bool(match.group(2))
            negated ^= any(w in _NEGATIONS for w in clause)
            says.add(opposite if negated else verdict)
    return says.pop() if len(says) == 1 else None


def named_categories(text: str) -> list[str]:
    """The forgery types an answer names and does not negate, in order of first mention."""
    lowered = " ".join(tokens(text))
    found: list[tuple[int, str]] = []
    for category, patterns in CATEGORY_PATTERNS.items():
        for pattern in patterns:
            for match in re.finditer(pattern, lowered):
                before = lowered[: match.start()].split()[-3:]
                if not any(w in _NEGATIONS or w == "n't" for w in before):
                    found.append((match.start(), category))
    ordered: list[str] = []
    for _, category in sorted(found):
        if category not in ordered:
            ordered.append(category)
    return ordered


def contradiction(
    text: str, verdict: str, category: str | None = None, question: str | None = None
) -> str | None:
    """Why the answer contradicts a report of `verdict` (fake/real) and forgery `category`,
    or None: the opposite verdict, or a forgery type other than the report's. Under an
    `inconclusive` report, stating either verdict or naming a forgery type contradicts it."""
    if verdict == "inconclusive":
        said = stated_verdict(text, question)
        named = [c for c in named_categories(text) if c in FAKE_CATEGORIES]
        claim = said or (named[0] if named else None)
        verb = "says" if said else "names"
        return None if claim is None else f"{verb} {claim}, the report says inconclusive"
    if verdict not in ("fake", "real"):
        return None
    said = stated_verdict(text, question)
    if said is not None and said != verdict:
        return f"says {said}, the report says {verdict}"
    named = [c for c in named_categories(text) if c in FAKE_CATEGORIES]
    if named and verdict == "real":
        return f"names {named[0]}, the report says {REAL}"
    if named and category in FAKE_CATEGORIES and category not in named:
        return f"names {named[0]}, the report says {category}"
    return None


def check_answer(
    text: str,
    verdict: str,
    category: str | None,
    region_scores: dict[str, float],
    threshold: float = 0.5,
    question: str | None = None,
) -> GroundingCheck:
    """Both checks of one answer against one report's verdict, type and region scores."""
    return GroundingCheck(
        unsupported=unsupported_regions(text, region_scores, threshold),
        contradiction=contradiction(text, verdict, category, question),
    )


def _check_vocabulary() -> None:
    known = {r for _, regions in REGION_PATTERNS for r in regions}
    if known != set(REGION_NAMES):
        raise AssertionError(
            f"region patterns and REGION_NAMES differ: {known ^ set(REGION_NAMES)}"
        )


_check_vocabulary()
