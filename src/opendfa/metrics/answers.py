"""Turn a model's free-text answer into a label, or say it cannot.

DF-D answers become `real`, `fake`, `inconclusive` (an answer that opens by abstaining:
"Inconclusive: ...", "I cannot tell ...") or `unparseable`; DF-C answers become one of the five
categories or `unparseable`. The parser never guesses: an answer that supports both labels
("it could be real or fake"), or neither, is unparseable and is counted as such by the
benchmark, not assigned to the majority class.

Rules, in order:
1. Lower-case, strip punctuation except apostrophes and hyphens.
2. Negations flip the word they govern within three tokens of the same clause ("not fake" ->
   real, "isn't real" -> fake, "no signs of manipulation" -> real, but "No, it is fake" -> fake).
3. DF-D: a leading "yes"/"no" answers the question's polarity when the question is given
   ("Is this image fake?" + "Yes." -> fake). A short first clause (up to four words, no hedge
   such as "may" or "either") that takes one side decides ("Real. I see no evidence that it
   was manipulated." -> real). Otherwise real-side and fake-side cue words (after negation)
   are counted in the whole answer: one side only -> that label; both or none -> unparseable.
4. DF-C: category synonyms (face swap / identity swap / swapped face, reenactment / puppet /
   expression transfer, editing / attribute / retouched, synthesis / generated / GAN /
   diffusion / synthetic, real / authentic / genuine / pristine). Exactly one category named
   -> that one; several -> the first named if it is asserted and the others negated,
   otherwise unparseable.
"""

from __future__ import annotations

import re

from opendfa.taxonomy import (
    ENTIRE_FACE_SYNTHESIS,
    FACE_EDITING,
    FACE_REENACTMENT,
    FACE_SWAP,
    REAL,
)

UNPARSEABLE = "unparseable"
INCONCLUSIVE = "inconclusive"
_ABSTAINS = re.compile(r"\s*(inconclusive|undecided|i cannot tell|i can't tell|cannot tell)\b")
FAKE, REAL_LABEL = "fake", REAL

_NEGATIONS = {"not", "no", "never", "isn't", "isnt", "wasn't", "without", "nor", "lacks", "n't"}
_FAKE_WORDS = {
    "fake",
    "faked",
    "manipulated",
    "manipulation",
    "forged",
    "forgery",
    "deepfake",
    "deepfaked",
    "tampered",
    "altered",
    "doctored",
    "synthetic",
    "generated",
    "counterfeit",
    "edited",
    "swapped",
    "artificial",
}
_HEDGES = {"may", "might", "could", "possibly", "perhaps", "maybe", "either", "or", "unsure"}
_REAL_WORDS = {
    "real",
    "authentic",
    "genuine",
    "pristine",
    "unaltered",
    "untouched",
    "original",
    "unmanipulated",
    "bona",
    "natural",
}
_CATEGORY_PATTERNS: dict[str, tuple[str, ...]] = {
    FACE_SWAP: (
        r"face[- ]?swap",
        r"identity[- ]swap",
        r"swapped face",
        r"swap(ped|ping)?\b",
        r"face replacement",
        r"replaced face",
    ),
    FACE_REENACTMENT: (
        r"reenact",
        r"re-enact",
        r"puppet",
        r"expression transfer",
        r"lip[- ]?sync",
        r"talking[- ]head",
        r"motion transfer",
    ),
    FACE_EDITING: (
        r"edit(ing|ed)?\b",
        r"attribute",
        r"retouch",
        r"face manipulation of attributes",
        r"makeup",
        r"aging",
        r"age change",
    ),
    ENTIRE_FACE_SYNTHESIS: (
        r"entire[- ]face",
        r"synthes",
        r"fully generated",
        r"generated face",
        r"\bgan\b",
        r"diffusion",
        r"stylegan",
        r"synthetic face",
        r"ai[- ]generated",
        r"computer[- ]generated",
    ),
    REAL: (
        r"\breal\b",
        r"authentic",
        r"genuine",
        r"pristine",
        r"not (a )?fake",
        r"no manipulation",
        r"unaltered",
    ),
}


def tokens(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    text = re.sub(r"n't\b", " n't", text)
    return re.findall(r"[a-z0-9'-]+", text)


def _polarity(text: str) -> tuple[int, int]:
    """(fake votes, real votes) with each cue word flipped by a negation up to 3 words before
    it in the same clause ("No, it is fake": the "no" ends at the comma)."""
    fake = real = 0
    for clause in re.split(r"[,.;:!?()]", text):
        words = tokens(clause)
        for k, word in enumerate(words):
            if word not in _FAKE_WORDS and word not in _REAL_WORDS:
                continue
            negated = any(w in _NEGATIONS for w in words[max(0, k - 3) : k])
            is_fake = (word in _FAKE_WORDS) != negated
            fake += is_fake
            real += not is_fake
    return fake, real


def parse_detection(answer: str, question: str | None = None) -> str:
    """`fake`, `real`, `inconclusive` or `unparseable` from a DF-D answer (module rules)."""
    words = tokens(answer)
    if not words:
        return UNPARSEABLE
    if _ABSTAINS.match(answer.lower().replace("’", "'")):
        return INCONCLUSIVE
    # "No." / "Yes, ..." answer the question; "No face was found" does not.
    if question is not None and re.match(r"\s*(yes|no)\s*([,.;:!]|$)", answer.lower()):
        asked_fake, asked_real = _polarity(question)
        if asked_fake != asked_real and (asked_fake == 0 or asked_real == 0):
            asks_fake = asked_fake > 0
            return FAKE if (words[0] == "yes") == asks_fake else REAL_LABEL
    first = next((c for c in re.split(r"[,.;:!?()]", answer) if c.strip()), "")
    head = tokens(first)
    if len(head) <= 4 and not set(head) & _HEDGES:  # "Real. I see no evidence ..."
        fake, real = _polarity(first)
        if bool(fake) != bool(real):
            return FAKE if fake else REAL_LABEL
    fake, real = _polarity(answer)
    if fake and not real:
        return FAKE
    if real and not fake:
        return REAL_LABEL
    return UNPARSEABLE


def parse_category(answer: str) -> str:
    """One of the five categories, or `unparseable` (see the module rules)."""
    text = " ".join(tokens(answer))
    found: list[tuple[int, str, bool]] = []  # (position, category, negated)
    for category, patterns in _CATEGORY_PATTERNS.items():
        for pattern in patterns:
            for match in re.finditer(pattern, text):
                before = text[: match.start()].split()[-3:]
                negated = any(w in _NEGATIONS for w in before)
                found.append((match.start(), category, negated))
    if not found:
        return UNPARSEABLE
    asserted = {c for _, c, negated in found if not negated}
    if len(asserted) == 1:
        return asserted.pop()
    if not asserted:
        return UNPARSEABLE
    # Several categories asserted: "face swap" also contains "swap" -> same category.
    first = min((p, c) for p, c, negated in found if not negated)[1]
    others = asserted - {first}
    if FACE_EDITING in others and first != FACE_EDITING and "edited" not in text:
        others.discard(FACE_EDITING)
    return first if not others else UNPARSEABLE
