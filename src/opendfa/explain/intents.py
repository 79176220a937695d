"""What an analyst's free-text question asks about an analysis.

Deterministic and inspectable: each intent has cue phrases; the intent whose phrases match
most (longer phrases weigh more) wins, ties going to the earlier intent in `INTENTS`. Face
regions named in the question ("the mouth", "left eye", "lips") are picked out separately, so
"why the mouth?" is a `why` question about one region.

The file-check intents (`FILE_INTENTS`: metadata, provenance, compression, maps, copy-move)
are about the file rather than the face; besides their phrases they have `TERMS`, technical words
matched as whole words ("ela" is not the one in "related"), each weighing `TERM_WEIGHT`, so
"show me the ELA" is about the maps, not the mask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from opendfa.faces import REGION_NAMES

# Order matters only for ties: more specific intents first.
INTENTS: dict[str, tuple[str, ...]] = {
    "help": ("help", "what can you do", "what can i ask", "commands", "options"),
    "compare": ("compare", "comparison", "versus", " vs ", "other image", "difference between"),
    "copy_move": (
        "copy-move",
        "copy move",
        "copy-paste",
        "copy paste",
        "clone stamp",
        "cloned",
        "cloning",
        "duplicated region",
        "appears twice",
        "copied within",
        "repeated region",
    ),
    "maps": (
        "error level",
        "error-level",
        "noise map",
        "noise residual",
        "noise level",
        "noise analysis",
        "noise pattern",
        "residual",
    ),
    "provenance": (
        "provenance",
        "content credential",
        "credentials",
        "manifest",
        "signature",
        "signed by",
        "is it signed",
        "was it signed",
        "who signed",
        "signer",
        "come from",
        "comes from",
        "came from",
        "origin of",
    ),
    "metadata": (
        "metadata",
        "meta data",
        "camera",
        "software",
        "editor",
        "edited with",
        "date taken",
        "was it taken",
        "photo taken",
        "picture taken",
        "capture date",
        "creation date",
        "thumbnail",
        "source type",
        "gps location",
        "geotag",
        "geolocation",
    ),
    "compression": (
        "compression",
        "compressed",
        "recompress",
        "re-compress",
        "saved twice",
        "re-saved",
        "resaved",
        "re-encoded",
        "quantization",
        "quantisation",
        "quality",
    ),
    "mask": ("mask", "heatmap", "heat map", "overlay", "show me"),
    "when": ("when", "which frame", "what frame", "timeline", "time", "second", "moment"),
    "model": ("which model", "what model", "detector", "weights", "hash", "version", "trained"),
    "next": (
        " next ",
        "what should i",
        "check next",
        "verify",
        "next step",
        "what now",
        "how can i confirm",
        "how do i check",
        "what else",
        "recommend",
        "double check",
        "double-check",
    ),
    "simple": (
        "non-expert",
        "non expert",
        "layman",
        "simple",
        "plain",
        "eli5",
        "in short",
        "summary",
        "summarize",
        "summarise",
        "explain it",
        "grandmother",
        "for a journalist",
    ),
    "confidence": (
        "how sure",
        "confident",
        "confidence",
        "certain",
        "probability",
        "likely",
        "score",
        "how much",
        "percent",
        "%",
        "trust",
        "reliable",
        "false positive",
        "chance",
    ),
    "type": (
        "what kind",
        "which kind",
        "what type",
        "which type",
        "category",
        "method",
        "technique",
        "how was it made",
        "how was it faked",
        "swap",
        "reenact",
        "edit",
        "synthes",
        "generated",
        "gan",
        "diffusion",
        "manipulation type",
        "forgery type",
    ),
    "where": ("where", "which part", "which region", "regions", "location", "locate", "area"),
    "why": (
        "why",
        "reason",
        "evidence",
        "explain",
        "how do you know",
        "what makes",
        "because",
        "artifact",
        "artefact",
        "trace",
        "clue",
        "sign",
    ),
    "verdict": (
        "fake",
        "real",
        "deepfake",
        "manipulated",
        "authentic",
        "genuine",
        "forged",
        "tampered",
        "is it",
        "is this",
        "verdict",
        "result",
        "altered",
        "doctored",
    ),
}

# Whole words that name a file check outright (not inside other words); each weighs TERM_WEIGHT.
TERMS: dict[str, tuple[str, ...]] = {
    "copy_move": ("clone", "cloned", "cloning"),
    "maps": ("ela",),
    "provenance": ("c2pa", "credential"),
    "metadata": ("exif", "xmp", "iptc", "gps"),
    "compression": ("jpeg", "jpg", "jpegs"),
}
TERM_WEIGHT = 3.0
FILE_INTENTS = ("maps", "provenance", "metadata", "compression", "copy_move")
assert set(TERMS) == set(FILE_INTENTS) <= set(INTENTS)

REGION_WORDS: dict[str, tuple[str, ...]] = {
    "forehead": ("forehead", "brow ridge", "temple"),
    "left_eyebrow": ("left eyebrow", "left brow"),
    "right_eyebrow": ("right eyebrow", "right brow"),
    "left_eye": ("left eye",),
    "right_eye": ("right eye",),
    "nose": ("nose", "nostril"),
    "mouth": ("mouth", "lip", "teeth", "tooth", "smile"),
    "left_cheek": ("left cheek",),
    "right_cheek": ("right cheek",),
    "chin": ("chin", "jaw"),
    "face_boundary": ("boundary", "outline", "contour", "edge of the face", "hairline", "border"),
    "skin": ("skin", "complexion", "wrinkle", "texture"),
}
PAIRS = {  # an unqualified word means both sides
    "eyebrow": ("left_eyebrow", "right_eyebrow"),
    "brow": ("left_eyebrow", "right_eyebrow"),
    "eye": ("left_eye", "right_eye"),
    "cheek": ("left_cheek", "right_cheek"),
}
assert set(REGION_WORDS) == set(REGION_NAMES)


@dataclass(frozen=True)
class Question:
    text: str
    intent: str
    regions: tuple[str, ...] = field(default_factory=tuple)
    scores: dict[str, float] = field(default_factory=dict)


def normalise(text: str) -> str:
    return " " + re.sub(r"\s+", " ", text.lower().replace("’", "'")).strip() + " "


def find_regions(text: str) -> tuple[str, ...]:
    """Regions named in `text`, in `REGION_NAMES` order; 'eyes' means both eyes."""
    lowered = normalise(text)
    found: set[str] = set()
    for region, words in REGION_WORDS.items():
        if any(word in lowered for word in words):
            found.add(region)
    for word, regions in PAIRS.items():
        sided = any(f"{side} {word}" in lowered for side in ("left", "right"))
        if re.search(rf"\b{word}(s|es)?\b", lowered) and not sided:
            found.update(regions)
    return tuple(name for name in REGION_NAMES if name in found)


def classify(text: str) -> Question:
    """The intent of a question (`unknown` when nothing matches) and the regions it names."""
    lowered = normalise(text)
    words = " " + " ".join(re.findall(r"[a-z0-9]+", lowered)) + " "
    scores: dict[str, float] = {}
    for intent, phrases in INTENTS.items():
        score = sum(len(phrase.strip().split()) for phrase in phrases if phrase in lowered)
        score += TERM_WEIGHT * sum(f" {term} " in words for term in TERMS.get(intent, ()))
        if score:
            scores[intent] = float(score)
    regions = find_regions(text)
    if not scores:
        intent = "where" if regions else "unknown"
    else:
        best = max(scores.values())
        intent = next(name for name in INTENTS if scores.get(name) == best)
        # "why is the mouth fake?": verdict words are weaker than a named region's why/where;
        # "the noise level of the mouth" asks about the region (the maps' numbers are of the
        # whole image and cannot answer for one region).
        if intent in ("verdict", "maps") and regions:
            intent = "why" if "why" in scores else "where"
    return Question(text=text, intent=intent, regions=regions, scores=scores)


# A question asks for a description (what the artifacts are, where, why) rather than for a
# verdict or a type: DFA-GPT tends to answer those with a one-line type when the report is fake.
_DESCRIBE_VERBS = re.compile(
    r"\b(describe|explain|list|point out|summari[sz]e|elaborate|walk me through|description)\b"
)
_WH_START = re.compile(r"^(what|which|how)\b")
_YES_NO_START = re.compile(
    r"^(is|are|was|were|has|have|had|does|do|did|can|could|would|will|should|may|might)\b"
)
_DESCRIBE_CUES = re.compile(  # at a word start: "sign" but not "assign"
    r"\b(artifact|artefact|anomal|sign|clue|evidence|inconsisten|trace|wrong|unnatural"
    r"|suspicious|look|region|part|area|feature|betray|give|tell)"
)


def asks_for_description(text: str) -> bool:
    """True when some sentence of `text` asks what the traces are, where or why ("Describe
    the artifacts.", "Where are the traces?", "What looks wrong with this face?"); False for a
    yes/no verdict question ("Are there traces of forgery?") or a type question."""
    for sentence in re.split(r"(?<=[.?!])\s+", normalise(text).replace("<image>", " ").strip()):
        sentence = sentence.strip(" .?!")
        if _DESCRIBE_VERBS.search(sentence) or sentence.startswith(("why", "where")):
            return True
        if _YES_NO_START.match(sentence):
            continue
        if _WH_START.match(sentence) and _DESCRIBE_CUES.search(sentence):
            return True
    return False
