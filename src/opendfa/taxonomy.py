"""The DF40 / DFA-Instruct forgery taxonomy and the face-region names shared by every stage."""

from __future__ import annotations

REAL = "real"
FACE_SWAP = "face_swap"
FACE_REENACTMENT = "face_reenactment"
FACE_EDITING = "face_editing"
ENTIRE_FACE_SYNTHESIS = "entire_face_synthesis"

CATEGORIES = (REAL, FACE_SWAP, FACE_REENACTMENT, FACE_EDITING, ENTIRE_FACE_SYNTHESIS)
FAKE_CATEGORIES = CATEGORIES[1:]
CATEGORY_ABBREVIATIONS = {
    REAL: "RL",
    FACE_SWAP: "FS",
    FACE_REENACTMENT: "FR",
    FACE_EDITING: "FE",
    ENTIRE_FACE_SYNTHESIS: "EFS",
}


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    return category


# The twelve semantic face regions (masks in `opendfa.faces.regions`, scores in the detector's
# region head); the subject's left and right.
REGION_NAMES = (
    "forehead",
    "left_eyebrow",
    "right_eyebrow",
    "left_eye",
    "right_eye",
    "nose",
    "mouth",
    "left_cheek",
    "right_cheek",
    "chin",
    "face_boundary",
    "skin",
)
